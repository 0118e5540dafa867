//! Where Plinth keeps its files.

use std::path::PathBuf;

/// Plinth's cache directory: `$PLINTH_CACHE`, else `$XDG_CACHE_HOME/plinth` (when
/// absolute, as the XDG spec requires), else `~/.cache/plinth`, else a directory under
/// the system's temporary directory. The package cache, the vulnerability database and
/// `plinth serve`'s default storage live under it.
pub fn cache_root() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("PLINTH_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir.join("plinth");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/plinth"),
        None => std::env::temp_dir().join("plinth-cache"),
    }
}
