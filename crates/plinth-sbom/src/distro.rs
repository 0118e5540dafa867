//! An OS release named by the user (`debian:12`, `alpine:3.20`, `debian:bookworm`) for
//! images that do not say theirs (no `/etc/os-release`).

use crate::Distro;

/// A release name that is not `ID:VERSION`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected ID:VERSION, e.g. debian:12 or alpine:3.20")]
pub struct ParseDistroError;

/// Parses `ID:VERSION`. A Debian codename gets its release number; `source` records
/// where the name came from (e.g. `--distro`).
pub fn parse(s: &str, source: &str) -> Result<Distro, ParseDistroError> {
    let (id, version) = s.split_once(':').ok_or(ParseDistroError)?;
    let (id, version) = (id.trim().to_ascii_lowercase(), version.trim());
    if id.is_empty() || version.is_empty() {
        return Err(ParseDistroError);
    }
    let numeric = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let (version_id, codename) = if numeric {
        (Some(version.to_string()), None)
    } else {
        let number = (id == "debian")
            .then(|| plinth_dpkg::releases::codename_number(version))
            .flatten();
        (
            number.map(str::to_string),
            Some(version.to_ascii_lowercase()),
        )
    };
    Ok(Distro {
        id,
        version_id,
        codename,
        pretty_name: None,
        id_like: Vec::new(),
        source: source.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_and_codename() {
        let d = parse("debian:12", "--distro").unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref(), d.codename),
            ("debian", Some("12"), None)
        );
        let d = parse(" Debian : bookworm ", "x").unwrap();
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.codename.as_deref(), Some("bookworm"));
        assert_eq!(d.source, "x");
        let d = parse("alpine:3.20", "x").unwrap();
        assert_eq!(d.version_id.as_deref(), Some("3.20"));
    }

    #[test]
    fn codename_of_another_distro_has_no_number() {
        let d = parse("ubuntu:noble", "x").unwrap();
        assert_eq!((d.version_id, d.codename.as_deref()), (None, Some("noble")));
    }

    #[test]
    fn not_id_version() {
        for bad in ["debian", "debian:", ":12", " : "] {
            assert_eq!(parse(bad, "x"), Err(ParseDistroError), "{bad}");
        }
    }
}
