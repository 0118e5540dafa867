//! `repodata/repomd.xml`: the signed root of an RPM repository. It is verified against
//! its detached signature `repomd.xml.asc` before a byte of it is parsed; it then names
//! each metadata file (primary, filelists, ...) with its location, size and checksum.

use std::path::{Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::keys::{Keyring, Liveness, SignatureError, Signer};

/// Largest repomd.xml (or signature) read, in bytes.
pub const MAX_REPOMD: usize = 4 << 20;

/// Failure while reading or verifying repomd.xml.
#[derive(Debug, thiserror::Error)]
pub enum RepomdError {
    /// Reading a file failed (the error names the path).
    #[error("cannot read repository metadata")]
    Io(#[from] std::io::Error),
    /// repomd.xml or its signature is larger than [`MAX_REPOMD`].
    #[error("{0} is larger than {MAX_REPOMD} bytes")]
    TooLarge(PathBuf),
    /// The signature was not accepted.
    #[error("signature of repomd.xml not accepted")]
    Signature(#[source] SignatureError),
    /// The XML is malformed.
    #[error("malformed repomd.xml: {0}")]
    Xml(String),
    /// The metadata names no such data type.
    #[error("repomd.xml lists no {0} metadata")]
    Missing(String),
}

/// A checksum as repodata writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `sha256`, `sha1`, `sha512`... (`sha` is SHA-1 in old createrepo output).
    pub algorithm: String,
    /// Hex digest.
    pub value: String,
}

/// One `<data>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// `primary`, `filelists`, `other`, `primary_db`, ...
    pub kind: String,
    /// Location relative to the repository root.
    pub location: String,
    /// Checksum of the file as stored (compressed).
    pub checksum: Checksum,
    /// Checksum after decompression, if given.
    pub open_checksum: Option<Checksum>,
    /// Size as stored.
    pub size: Option<u64>,
    /// Size after decompression.
    pub open_size: Option<u64>,
}

/// Parsed repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repomd {
    /// `<revision>`.
    pub revision: Option<String>,
    /// The `<data>` entries.
    pub data: Vec<DataEntry>,
}

/// A repomd.xml whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRepomd {
    /// The metadata.
    pub repomd: Repomd,
    /// Who signed it.
    pub signer: Signer,
}

impl Repomd {
    /// Parses repomd.xml (unverified: use [`verify`] for anything trusted).
    pub fn parse(xml: &[u8]) -> Result<Self, RepomdError> {
        let err = |e: &dyn std::fmt::Display| RepomdError::Xml(e.to_string());
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().trim_text(true);
        let mut buf = Vec::new();
        let mut out = Repomd {
            revision: None,
            data: Vec::new(),
        };
        let mut cur: Option<DataEntry> = None;
        let mut text_for: Option<(String, Option<String>)> = None;
        loop {
            match reader.read_event_into(&mut buf).map_err(|e| err(&e))? {
                Event::Start(e) | Event::Empty(e) => {
                    let name = e.local_name().as_ref().to_vec();
                    let attr = |k: &str| -> Result<Option<String>, RepomdError> {
                        match e.try_get_attribute(k).map_err(|e| err(&e))? {
                            Some(a) => Ok(Some(
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .map_err(|e| err(&e))?
                                    .into_owned(),
                            )),
                            None => Ok(None),
                        }
                    };
                    match name.as_slice() {
                        b"data" => {
                            cur = Some(DataEntry {
                                kind: attr("type")?.unwrap_or_default(),
                                location: String::new(),
                                checksum: Checksum {
                                    algorithm: String::new(),
                                    value: String::new(),
                                },
                                open_checksum: None,
                                size: None,
                                open_size: None,
                            })
                        }
                        b"location" => {
                            if let Some(c) = cur.as_mut() {
                                c.location = attr("href")?.unwrap_or_default();
                            }
                        }
                        b"checksum" | b"open-checksum" | b"size" | b"open-size" | b"revision" => {
                            text_for =
                                Some((String::from_utf8_lossy(&name).into_owned(), attr("type")?));
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => {
                    if let Some((field, ty)) = text_for.take() {
                        let value = t.decode().map_err(|e| err(&e))?.trim().to_string();
                        let num = || value.parse::<u64>().ok();
                        match (field.as_str(), cur.as_mut()) {
                            ("revision", _) => out.revision = Some(value),
                            ("checksum", Some(c)) => {
                                c.checksum = Checksum {
                                    algorithm: ty.unwrap_or_default(),
                                    value,
                                }
                            }
                            ("open-checksum", Some(c)) => {
                                c.open_checksum = Some(Checksum {
                                    algorithm: ty.unwrap_or_default(),
                                    value,
                                })
                            }
                            ("size", Some(c)) => c.size = num(),
                            ("open-size", Some(c)) => c.open_size = num(),
                            _ => {}
                        }
                    }
                }
                Event::End(e) => {
                    text_for = None;
                    if e.local_name().as_ref() == b"data"
                        && let Some(c) = cur.take()
                    {
                        if c.location.is_empty() || c.checksum.value.is_empty() {
                            return Err(RepomdError::Xml(format!(
                                "data entry {:?} lacks a location or checksum",
                                c.kind
                            )));
                        }
                        out.data.push(c);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        Ok(out)
    }

    /// The entry of `kind` (e.g. `primary`).
    pub fn entry(&self, kind: &str) -> Result<&DataEntry, RepomdError> {
        self.data
            .iter()
            .find(|d| d.kind == kind)
            .ok_or_else(|| RepomdError::Missing(kind.to_string()))
    }
}

/// Verifies `xml` against its detached signature with `keyring` (the key must be alive at
/// signing time and at `now`, unix seconds: see [`crate::keys`]), then parses it.
pub fn verify(
    xml: &[u8],
    signature: &[u8],
    keyring: &Keyring,
    now: i64,
) -> Result<VerifiedRepomd, RepomdError> {
    let signer = keyring
        .verify_detached(signature, xml, Liveness::AtSignatureAndNow(now))
        .map_err(RepomdError::Signature)?;
    Ok(VerifiedRepomd {
        repomd: Repomd::parse(xml)?,
        signer,
    })
}

/// Reads `DIR/repodata/repomd.xml` and `repomd.xml.asc` and verifies them ([`verify`]).
pub fn verify_dir(repo: &Path, keyring: &Keyring, now: i64) -> Result<VerifiedRepomd, RepomdError> {
    let xml = read_bounded(&repo.join("repodata/repomd.xml"))?;
    let sig = read_bounded(&repo.join("repodata/repomd.xml.asc"))?;
    verify(&xml, &sig, keyring, now)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, RepomdError> {
    if fs_err::metadata(path)?.len() > MAX_REPOMD as u64 {
        return Err(RepomdError::TooLarge(path.to_path_buf()));
    }
    Ok(fs_err::read(path)?)
}
