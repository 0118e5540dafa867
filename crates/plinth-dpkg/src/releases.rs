//! The one table of Debian releases: codename and number.

/// A Debian release: its codename and its major version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebianRelease {
    /// `bookworm`.
    pub codename: &'static str,
    /// `12`.
    pub number: &'static str,
}

/// Every release with a number, oldest first. Extend it when Debian names the next one.
pub const RELEASES: &[DebianRelease] = &[
    DebianRelease {
        codename: "wheezy",
        number: "7",
    },
    DebianRelease {
        codename: "jessie",
        number: "8",
    },
    DebianRelease {
        codename: "stretch",
        number: "9",
    },
    DebianRelease {
        codename: "buster",
        number: "10",
    },
    DebianRelease {
        codename: "bullseye",
        number: "11",
    },
    DebianRelease {
        codename: "bookworm",
        number: "12",
    },
    DebianRelease {
        codename: "trixie",
        number: "13",
    },
    DebianRelease {
        codename: "forky",
        number: "14",
    },
    DebianRelease {
        codename: "duke",
        number: "15",
    },
];

/// The release named `codename` (lower case), if Debian numbered it.
pub fn by_codename(codename: &str) -> Option<&'static DebianRelease> {
    RELEASES.iter().find(|r| r.codename == codename)
}

/// The release numbered `number` (`12`; not `12.5`).
pub fn by_number(number: &str) -> Option<&'static DebianRelease> {
    RELEASES.iter().find(|r| r.number == number)
}

/// Debian's release number for a codename, as vulnerability feeds key releases: `12` for
/// `bookworm`, and `sid` for `sid` and `unstable`, which have no number.
pub fn codename_number(codename: &str) -> Option<&'static str> {
    match codename {
        "sid" | "unstable" => Some("sid"),
        c => by_codename(c).map(|r| r.number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        assert_eq!(by_codename("bookworm").map(|r| r.number), Some("12"));
        assert_eq!(by_number("13").map(|r| r.codename), Some("trixie"));
        assert_eq!(codename_number("unstable"), Some("sid"));
        assert_eq!(codename_number("hamm"), None);
        assert_eq!(by_number("12.5"), None);
        for pair in RELEASES.windows(2) {
            let n = |r: &DebianRelease| r.number.parse::<u32>().unwrap();
            assert_eq!(n(&pair[0]) + 1, n(&pair[1]), "{pair:?}");
        }
    }
}
