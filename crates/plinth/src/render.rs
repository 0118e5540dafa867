//! Error rendering and terminal helpers: `error: …`, `caused by: …` lines and a `hint:`.

pub mod archive;
pub mod compare;
pub mod db;
pub mod inspect;

use std::error::Error as StdError;
use std::io::IsTerminal;

/// An error on its way to the user, with its exit code and an optional hint.
pub struct CliError {
    pub error: Box<dyn StdError + Send + Sync>,
    pub hint: Option<String>,
    pub code: u8,
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// A usage or input error (exit 2).
    pub fn input(error: impl Into<Box<dyn StdError + Send + Sync>>, hint: Option<String>) -> Self {
        CliError {
            error: error.into(),
            hint,
            code: INPUT,
        }
    }

    /// A failure that is not the input's fault: an output that cannot be written (disk
    /// full, permission denied), or a bug (exit 3).
    pub fn internal(
        error: impl Into<Box<dyn StdError + Send + Sync>>,
        hint: Option<String>,
    ) -> Self {
        CliError {
            error: error.into(),
            hint,
            code: INTERNAL,
        }
    }

    /// Exit 3 when `internal`, else 2.
    fn classify(
        error: impl Into<Box<dyn StdError + Send + Sync>>,
        hint: Option<String>,
        internal: bool,
    ) -> Self {
        if internal {
            CliError::internal(error, hint)
        } else {
            CliError::input(error, hint)
        }
    }
}

/// Exit code of a usage or input error: a bad spec, flag or image, a missing file.
pub const INPUT: u8 = 2;
/// Exit code of a failure that is not the input's fault: I/O on an output, a bug.
pub const INTERNAL: u8 = 3;

impl From<plinth_build::BuildError> for CliError {
    fn from(e: plinth_build::BuildError) -> Self {
        let hint = e.hint();
        let internal = e.is_output_failure();
        CliError::classify(e, hint, internal)
    }
}

impl From<plinth_sandbox::userns::UsernsError> for CliError {
    /// The machine's set-up (no id mapper, no subordinate ids, namespaces disabled)
    /// exits 2 with the fix as hint; a process or pipe that fails exits 3.
    fn from(e: plinth_sandbox::userns::UsernsError) -> Self {
        let hint = e.hint();
        let internal = e.is_internal();
        CliError::classify(e, hint, internal)
    }
}

impl From<plinth_oci::Error> for CliError {
    fn from(e: plinth_oci::Error) -> Self {
        let hint = e.hint();
        let internal = e.is_output_failure();
        CliError::classify(e, hint, internal)
    }
}

impl From<plinth_vuln::Error> for CliError {
    /// Database errors about the user's files (a missing or damaged database, a
    /// malformed feed) exit 2 and their messages carry the hint to re-import; a
    /// database that cannot be written exits 3.
    fn from(e: plinth_vuln::Error) -> Self {
        let hint = match &e {
            plinth_vuln::Error::UpdateFailed { .. } => Some(
                "where the feeds cannot be reached, fetch their files elsewhere and run \
                 `plinth db import FILE...`, or point --debian-tracker-url, --osv-url and \
                 --alpine-secdb-url at a mirror (`plinth db update --list` shows the URLs)"
                    .into(),
            ),
            _ => None,
        };
        let internal = e.is_internal();
        CliError::classify(e, hint, internal)
    }
}

pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn paint(s: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

pub fn error(e: &CliError) {
    eprintln!("{} {}", paint("error:", "1;31"), e.error);
    let mut cause = e.error.source();
    while let Some(c) = cause {
        eprintln!("  {} {c}", paint("caused by:", "1"));
        cause = c.source();
    }
    if let Some(h) = &e.hint {
        eprintln!("{} {h}", paint("hint:", "1;36"));
    }
}

pub fn warn(msg: &str) {
    eprintln!("{}", warning_line(msg));
}

/// `warning: MSG`, the prefix in colour when stderr is a terminal and NO_COLOR is unset.
pub fn warning_line(msg: &str) -> String {
    format!("{} {msg}", paint("warning:", "1;33"))
}

/// Internal failures exit 3 with a short note instead of Rust's default 101.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!(
            "error: internal error in plinth; please report it with the command that caused it"
        );
        std::process::exit(INTERNAL.into());
    }));
}

/// `1.2 MB`-style sizes (decimal units, as registries show them).
pub fn size(n: u64) -> String {
    const U: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Writes `s` to stdout. A closed pipe (`plinth inspect … | head`) is not an error.
pub fn stdout(s: &str) -> Result<std::process::ExitCode, CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(std::process::ExitCode::SUCCESS),
        Err(e) => Err(CliError::internal(
            plinth_oci::Error::Write {
                what: "stdout".into(),
                source: e,
            },
            None,
        )),
    }
}

impl From<plinth_sbom::Error> for CliError {
    fn from(e: plinth_sbom::Error) -> Self {
        let hint = e.hint();
        let internal = matches!(&e, plinth_sbom::Error::Oci(o) if o.is_output_failure());
        CliError::classify(e, hint, internal)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so a reader never sees half a file and a failure keeps the previous one.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    plinth_oci::write::write_file_atomically(path, |w| {
        w.write_all(bytes)
            .map_err(|source| plinth_oci::Error::write(path, source))
    })?;
    Ok(())
}

/// Says on stderr what happened to the lock (`build` and `lock`).
pub fn lock_outcome(path: &std::path::Path, outcome: &plinth_build::LockOutcome) {
    use plinth_build::LockOutcome;
    match outcome {
        LockOutcome::Used => eprintln!("Using {}", path.display()),
        LockOutcome::Created => eprintln!("Wrote {}", path.display()),
        LockOutcome::Updated { changes } if changes.is_empty() => {
            eprintln!("Updated {}: no package changed", path.display())
        }
        LockOutcome::Updated { changes } => {
            eprintln!("Updated {}:", path.display());
            for c in changes {
                eprintln!("  {c}");
            }
        }
    }
}

/// Prints the first warnings and a count of the rest.
pub fn warnings(warnings: &[String]) {
    const MAX: usize = 20;
    for w in warnings.iter().take(MAX) {
        warn(w);
    }
    if warnings.len() > MAX {
        warn(&format!("… and {} more warnings", warnings.len() - MAX));
    }
}

/// Orders names as people count them: runs of digits compare as numbers
/// (`v3.3` < `v3.10`), the rest as text.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        let ord = if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let (na, ra) = split_digits(a);
            let (nb, rb) = split_digits(b);
            a = ra;
            b = rb;
            let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
            // More significant digits is more; then digit by digit; then fewer zeros first.
            ta.len()
                .cmp(&tb.len())
                .then_with(|| ta.cmp(tb))
                .then_with(|| na.len().cmp(&nb.len()))
        } else {
            a = &a[ca.len_utf8()..];
            b = &b[cb.len_utf8()..];
            ca.cmp(&cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// The leading ASCII digits of `s`, and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_counts_numbers() {
        let mut v = vec![
            "osv:Go",
            "alpine-secdb:v3.10-main",
            "alpine-secdb:v3.3-main",
            "alpine-secdb:v3.9-community",
            "alpine-secdb:v3.9-main",
            "debian-tracker",
            "a007",
            "a7",
            "a",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "a7",
                "a007",
                "alpine-secdb:v3.3-main",
                "alpine-secdb:v3.9-community",
                "alpine-secdb:v3.9-main",
                "alpine-secdb:v3.10-main",
                "debian-tracker",
                "osv:Go",
            ]
        );
    }

    fn io() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::StorageFull)
    }

    #[test]
    fn output_write_failures_exit_3_and_input_errors_2() {
        let write = plinth_oci::Error::write("/out/img", io());
        assert_eq!(CliError::from(write).exit_code(), INTERNAL);
        let clobber = plinth_oci::Error::Clobber {
            path: "/out/img".into(),
            reason: "it is a directory",
        };
        assert_eq!(CliError::from(clobber).exit_code(), INPUT);
        let missing = plinth_oci::Error::NotFound("no image".into());
        assert_eq!(CliError::from(missing).exit_code(), INPUT);
    }

    #[test]
    fn wrapped_output_failures_keep_exit_3() {
        let build = plinth_build::BuildError::Oci(plinth_oci::Error::write("/out/img", io()));
        assert_eq!(CliError::from(build).exit_code(), INTERNAL);
        let sbom = plinth_sbom::Error::Oci(plinth_oci::Error::write("/out/x.json", io()));
        assert_eq!(CliError::from(sbom).exit_code(), INTERNAL);
        let db = plinth_vuln::Error::Write {
            path: "/cache/vuln.db".into(),
            source: io(),
        };
        assert_eq!(CliError::from(db).exit_code(), INTERNAL);
        let feed = plinth_vuln::Error::UnknownFormat {
            path: "feed.json".into(),
        };
        let e = CliError::from(feed);
        assert_eq!(e.exit_code(), INPUT);
    }
}
