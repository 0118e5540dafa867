//! The RPM header structure (used twice in a package: the signature header and the main
//! header), as rpm's `lib/header.c` and the format docs (`docs/manual/format_header.md`)
//! describe it: an 8-byte magic and reserved word, two big-endian counts (index entries,
//! data bytes), the index entries (tag, type, offset, count: 16 bytes each), the data store.
//!
//! Written by hand: the format is small and every offset must be bounds-checked; the Rust
//! crates that read rpms (`rpm`) also build and sign them and pull in far more than this.

use std::collections::BTreeMap;

/// Header magic: `8e ad e8` then version 1.
pub const MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// Most index entries a header may have (rpm's own limit is 0xffff).
pub const MAX_ENTRIES: u32 = 0xffff;
/// Largest data store accepted, in bytes (rpm's limit is 256 MiB).
pub const MAX_DATA: u32 = 256 << 20;

/// Tags of the main header used here (rpm's `rpmtag.h`).
#[allow(missing_docs)]
pub mod tag {
    pub const HEADERIMMUTABLE: u32 = 63;
    pub const SIGMD5: u32 = 261;
    pub const SHA1HEADER: u32 = 269;
    pub const SHA256HEADER: u32 = 273;
    pub const RSAHEADER: u32 = 268;
    pub const DSAHEADER: u32 = 267;
    pub const SIGSIZE: u32 = 257;
    pub const SIGPGP: u32 = 259;
    pub const SIGGPG: u32 = 262;
    pub const LONGSIGSIZE: u32 = 270;
    pub const LONGARCHIVESIZE: u32 = 271;
    pub const ARCHIVESIZE: u32 = 1046;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SUMMARY: u32 = 1004;
    pub const INSTALLTIME: u32 = 1008;
    pub const SIZE: u32 = 1009;
    pub const LICENSE: u32 = 1014;
    pub const GROUP: u32 = 1016;
    pub const ARCH: u32 = 1022;
    pub const FILESIZES: u32 = 1028;
    pub const FILESTATES: u32 = 1029;
    pub const FILEMODES: u32 = 1030;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const SOURCERPM: u32 = 1044;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const REQUIREVERSION: u32 = 1050;
    pub const CONFLICTFLAGS: u32 = 1053;
    pub const CONFLICTNAME: u32 = 1054;
    pub const CONFLICTVERSION: u32 = 1055;
    pub const TRIGGERNAME: u32 = 1066;
    pub const OBSOLETENAME: u32 = 1090;
    pub const PROVIDEFLAGS: u32 = 1112;
    pub const PROVIDEVERSION: u32 = 1113;
    pub const OBSOLETEFLAGS: u32 = 1114;
    pub const OBSOLETEVERSION: u32 = 1115;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const PAYLOADFORMAT: u32 = 1124;
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
    pub const INSTALLCOLOR: u32 = 1127;
    pub const INSTALLTID: u32 = 1128;
    pub const RECOMMENDNAME: u32 = 5046;
    pub const SUGGESTNAME: u32 = 5049;
    pub const SUPPLEMENTNAME: u32 = 5052;
    pub const ENHANCENAME: u32 = 5055;
    pub const FILETRIGGERNAME: u32 = 5069;
    pub const TRANSFILETRIGGERNAME: u32 = 5079;
    pub const PAYLOADDIGEST: u32 = 5092;
    pub const PAYLOADDIGESTALGO: u32 = 5093;
}

/// Tags of the signature header (rpm's `rpmtag.h`, `RPMSIGTAG_*`).
#[allow(missing_docs)]
pub mod sigtag {
    pub const DSA: u32 = 267;
    pub const RSA: u32 = 268;
    pub const SHA1: u32 = 269;
    pub const SHA256: u32 = 273;
    pub const SIZE: u32 = 1000;
    pub const MD5: u32 = 1004;
    pub const PGP: u32 = 1002;
    pub const GPG: u32 = 1005;
    pub const PAYLOADSIZE: u32 = 1007;
    pub const LONGSIZE: u32 = 270;
    pub const LONGARCHIVESIZE: u32 = 271;
}

/// Data types of index entries.
#[allow(missing_docs)]
pub mod ty {
    pub const CHAR: u32 = 1;
    pub const INT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const INT32: u32 = 4;
    pub const INT64: u32 = 5;
    pub const STRING: u32 = 6;
    pub const BIN: u32 = 7;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// A malformed header.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The bytes end before the header does.
    #[error("header is truncated")]
    Truncated,
    /// No header magic.
    #[error("bad header magic {0:02x?}")]
    Magic([u8; 4]),
    /// The counts exceed the limits.
    #[error("header claims {entries} entries and {data} data bytes, over the limits")]
    TooLarge {
        /// Index entry count.
        entries: u32,
        /// Data store size.
        data: u32,
    },
    /// An entry points outside the data store or has an unknown type.
    #[error("header entry for tag {tag} is malformed")]
    BadEntry {
        /// The tag.
        tag: u32,
    },
}

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Tag number.
    pub tag: u32,
    /// Data type.
    pub ty: u32,
    /// Offset into the data store.
    pub offset: u32,
    /// Element count.
    pub count: u32,
}

/// A parsed header: its raw bytes (magic included) and its entries by tag.
#[derive(Debug, Clone)]
pub struct Header {
    raw: Vec<u8>,
    entries: Vec<Entry>,
    by_tag: BTreeMap<u32, usize>,
}

/// Size of the fixed preamble: magic, reserved, entry count, data size.
pub const PREAMBLE: usize = 16;

impl Header {
    /// Reads the 16-byte preamble and returns (entries, data bytes): the header's total
    /// size is `16 + 16 * entries + data`.
    pub fn sizes(preamble: &[u8]) -> Result<(u32, u32), HeaderError> {
        let pre: &[u8; PREAMBLE] = preamble
            .get(..PREAMBLE)
            .and_then(|s| s.try_into().ok())
            .ok_or(HeaderError::Truncated)?;
        let magic = [pre[0], pre[1], pre[2], pre[3]];
        if magic != MAGIC {
            return Err(HeaderError::Magic(magic));
        }
        let il = u32::from_be_bytes([pre[8], pre[9], pre[10], pre[11]]);
        let dl = u32::from_be_bytes([pre[12], pre[13], pre[14], pre[15]]);
        if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA {
            return Err(HeaderError::TooLarge {
                entries: il,
                data: dl,
            });
        }
        Ok((il, dl))
    }

    /// Parses a header from exactly its bytes (magic included).
    pub fn parse(raw: Vec<u8>) -> Result<Self, HeaderError> {
        let (il, dl) = Self::sizes(&raw)?;
        let index_end = PREAMBLE + 16 * il as usize;
        if raw.len() != index_end + dl as usize {
            return Err(HeaderError::Truncated);
        }
        let mut entries = Vec::with_capacity(il as usize);
        let mut by_tag = BTreeMap::new();
        for i in 0..il as usize {
            let e = &raw[PREAMBLE + 16 * i..PREAMBLE + 16 * i + 16];
            let w = |k: usize| u32::from_be_bytes([e[k], e[k + 1], e[k + 2], e[k + 3]]);
            let entry = Entry {
                tag: w(0),
                ty: w(4),
                offset: w(8),
                count: w(12),
            };
            if entry.ty > ty::I18NSTRING || entry.offset > dl {
                return Err(HeaderError::BadEntry { tag: entry.tag });
            }
            by_tag.entry(entry.tag).or_insert(entries.len());
            entries.push(entry);
        }
        Ok(Self {
            raw,
            entries,
            by_tag,
        })
    }

    /// The header's bytes, magic included (what header signatures and digests cover).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The index entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The data store.
    pub fn data(&self) -> &[u8] {
        &self.raw[PREAMBLE + 16 * self.entries.len()..]
    }

    /// The entry of `tag`, if present.
    pub fn entry(&self, tag: u32) -> Option<Entry> {
        self.by_tag.get(&tag).map(|&i| self.entries[i])
    }

    /// The bytes of `tag` (a BIN entry).
    pub fn bin(&self, tag: u32) -> Option<&[u8]> {
        let e = self.entry(tag)?;
        if e.ty != ty::BIN {
            return None;
        }
        self.data()
            .get(e.offset as usize..(e.offset as usize).checked_add(e.count as usize)?)
    }

    /// The strings of `tag` (STRING, STRING_ARRAY or I18NSTRING: its first string only).
    pub fn strings(&self, tag: u32) -> Option<Vec<String>> {
        let e = self.entry(tag)?;
        let n = match e.ty {
            ty::STRING | ty::I18NSTRING => 1,
            ty::STRING_ARRAY => e.count as usize,
            _ => return None,
        };
        let mut rest = self.data().get(e.offset as usize..)?;
        let mut out = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let end = rest.iter().position(|&b| b == 0)?;
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            rest = &rest[end + 1..];
        }
        Some(out)
    }

    /// The first string of `tag`.
    pub fn string(&self, tag: u32) -> Option<String> {
        self.strings(tag)?.into_iter().next()
    }

    /// The integers of `tag` (INT8/16/32/64 and CHAR, widened).
    pub fn ints(&self, tag: u32) -> Option<Vec<u64>> {
        let e = self.entry(tag)?;
        let width = match e.ty {
            ty::CHAR | ty::INT8 => 1,
            ty::INT16 => 2,
            ty::INT32 => 4,
            ty::INT64 => 8,
            _ => return None,
        };
        let len = (e.count as usize).checked_mul(width)?;
        let bytes = self
            .data()
            .get(e.offset as usize..(e.offset as usize).checked_add(len)?)?;
        Some(
            bytes
                .chunks_exact(width)
                .map(|c| c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
                .collect(),
        )
    }

    /// The first integer of `tag`.
    pub fn int(&self, tag: u32) -> Option<u64> {
        self.ints(tag)?.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_hostile_headers_are_errors() {
        assert!(matches!(
            Header::sizes(&[0; 3]),
            Err(HeaderError::Truncated)
        ));
        assert!(matches!(
            Header::sizes(&[0; 16]),
            Err(HeaderError::Magic(_))
        ));
        let mut h = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        h.extend(u32::MAX.to_be_bytes());
        h.extend(0u32.to_be_bytes());
        assert!(matches!(
            Header::sizes(&h),
            Err(HeaderError::TooLarge { .. })
        ));
        // One entry pointing past the data store.
        let mut h = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4];
        h.extend([0, 0, 3, 232, 0, 0, 0, 6, 0, 0, 0, 9, 0, 0, 0, 1]);
        h.extend(b"abcd");
        assert!(matches!(
            Header::parse(h.clone()),
            Err(HeaderError::BadEntry { .. })
        ));
        // A string without its terminating NUL reads as absent, not as a panic.
        h[16 + 11] = 0;
        let hdr = Header::parse(h).unwrap();
        assert_eq!(hdr.string(1000), None);
        assert_eq!(hdr.ints(1000), None);
    }
}
