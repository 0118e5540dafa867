//! Where Plinth keeps its files, and the modes it creates them with.

use std::path::{Path, PathBuf};

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

/// The directory `path` is in: its parent, or `.` for a bare file name (where
/// `Path::parent` gives an empty path, which cannot be created or listed).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Permissions that the kernel narrows by the process's umask when it creates the file
/// or directory: outputs are shared like any other tool's (`0o666` gives `0644` under
/// umask 022), where `tempfile`'s default would leave them `0600`/`0700`.
pub fn umask_mode(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A temporary file made with `umask_mode(0o666)` gets the mode a plain create in
    /// the same directory gets, whatever the umask of the test run.
    #[test]
    fn temporary_outputs_follow_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        fs_err::write(&plain, b"x").unwrap();
        let want = fs_err::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::Builder::new()
            .permissions(umask_mode(0o666))
            .tempfile_in(dir.path())
            .unwrap();
        let got = tmp.as_file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(got, want, "{got:o} != {want:o}");
        let plain_dir = dir.path().join("d");
        fs_err::create_dir(&plain_dir).unwrap();
        let want = fs_err::metadata(&plain_dir).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::Builder::new()
            .permissions(umask_mode(0o777))
            .tempdir_in(dir.path())
            .unwrap();
        let got = fs_err::metadata(tmp.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, want, "{got:o} != {want:o}");
    }
}
