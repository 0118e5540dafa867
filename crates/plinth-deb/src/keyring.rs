//! OpenPGP keyrings that Release files are checked against: binary keyrings such as
//! [`DEFAULT_KEYRING`], ASCII-armoured key files, and keys written inline in apt sources.

use std::path::{Path, PathBuf};

use pgp::composed::SignedPublicKey;
use pgp::packet::Signature;
use pgp::types::KeyDetails;

use crate::sources::{SignedBy, SourceEntry};

/// The keyring Debian's archive signs with, as installed by `debian-archive-keyring`.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Largest keyring file read, in bytes.
const MAX_KEYRING: u64 = 16 << 20;

#[cfg(test)]
const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/// Failure while loading a keyring.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// Reading the keyring file failed (the error names the path).
    #[error("cannot read keyring")]
    Io(#[from] std::io::Error),
    /// The keyring file is larger than 16 MiB.
    #[error("keyring {path} is larger than {MAX_KEYRING} bytes")]
    TooLarge {
        /// The keyring file.
        path: PathBuf,
    },
    /// The data is neither a binary keyring nor ASCII-armoured key blocks.
    #[error("cannot parse keyring {origin}")]
    Parse {
        /// Names the keyring: its path, or where an inline key came from.
        origin: String,
        /// What the OpenPGP parser reported.
        #[source]
        source: pgp::errors::Error,
    },
    /// The keyring parses but holds no key in a known algorithm.
    #[error("keyring {origin} holds no usable public key")]
    Empty {
        /// Names the keyring: its path, or where an inline key came from.
        origin: String,
    },
}

/// A set of trusted public keys (primary keys with their subkeys).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Parses a binary keyring or one or more ASCII-armoured key blocks. `origin` names
    /// the data in errors.
    pub fn from_bytes(data: &[u8], origin: &str) -> Result<Self, KeyringError> {
        let parse_err = |source| KeyringError::Parse {
            origin: origin.to_string(),
            source,
        };
        let keys = plinth_core::openpgp::public_keys(data).map_err(parse_err)?;
        if keys.is_empty() {
            return Err(KeyringError::Empty {
                origin: origin.to_string(),
            });
        }
        Ok(Self { keys })
    }

    /// Loads one keyring file.
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        let meta = fs_err::metadata(path)?;
        if meta.len() > MAX_KEYRING {
            return Err(KeyringError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Self::from_bytes(&fs_err::read(path)?, &path.display().to_string())
    }

    /// The keyring an apt source trusts: its `Signed-By` keyrings (resolved under `root`)
    /// or inline key, restricted to its fingerprints if any, else [`DEFAULT_KEYRING`].
    pub fn for_source(entry: &SourceEntry, root: &Path) -> Result<Self, KeyringError> {
        let under_root = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
        match &entry.signed_by {
            Some(SignedBy::Inline(text)) => Self::from_bytes(text.as_bytes(), "inline Signed-By"),
            Some(SignedBy::Keys {
                keyrings,
                fingerprints,
            }) => {
                let mut ring = Self::default();
                if keyrings.is_empty() {
                    ring.merge(Self::load(&under_root(Path::new(DEFAULT_KEYRING)))?);
                }
                for path in keyrings {
                    ring.merge(Self::load(&under_root(path))?);
                }
                if !fingerprints.is_empty() {
                    ring.retain_fingerprints(fingerprints);
                }
                if ring.keys.is_empty() {
                    return Err(KeyringError::Empty {
                        origin: format!("Signed-By of {}", entry.uri),
                    });
                }
                Ok(ring)
            }
            None => Self::load(&under_root(Path::new(DEFAULT_KEYRING))),
        }
    }

    /// Adds the keys of `other`.
    pub fn merge(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }

    /// Keeps only keys whose primary or subkey fingerprint is listed (hex, any case, an
    /// optional trailing `!` as apt writes it).
    pub fn retain_fingerprints(&mut self, fingerprints: &[String]) {
        let wanted: Vec<String> = fingerprints
            .iter()
            .map(|f| f.trim_end_matches('!').to_ascii_uppercase())
            .collect();
        self.keys.retain(|k| {
            std::iter::once(format!("{:X}", k.fingerprint()))
                .chain(
                    k.public_subkeys
                        .iter()
                        .map(|s| format!("{:X}", s.key.fingerprint())),
                )
                .any(|f| wanted.contains(&f))
        });
    }

    /// Upper-case hex fingerprints of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.fingerprint()))
            .collect()
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Finds a key, usable at `now` (unix seconds), that made `signature` over `data`;
    /// returns the fingerprint of the primary key.
    pub(crate) fn verify(&self, signature: &Signature, data: &[u8], now: i64) -> Option<String> {
        for key in &self.keys {
            if !key.details.revocation_signatures.is_empty() {
                continue;
            }
            let primary_expiry = expiry(
                key.created_at().as_secs(),
                key.details.users.iter().flat_map(|u| &u.signatures),
            );
            if primary_expiry.is_some_and(|e| e <= now) {
                continue;
            }
            if signature.verify(&key.primary_key, data).is_ok() {
                return Some(format!("{:X}", key.fingerprint()));
            }
            for sub in &key.public_subkeys {
                // A subkey counts only with a valid binding from its primary key.
                if sub.verify_bindings(&key.primary_key).is_err() {
                    continue;
                }
                let sub_expiry = expiry(sub.key.created_at().as_secs(), &sub.signatures);
                if sub_expiry.is_some_and(|e| e <= now) {
                    continue;
                }
                if signature.verify(&sub.key, data).is_ok() {
                    return Some(format!("{:X}", key.fingerprint()));
                }
            }
        }
        None
    }
}

/// Expiry (unix seconds) from the newest self-signature carrying a key expiration time.
fn expiry<'a>(created: u32, sigs: impl IntoIterator<Item = &'a Signature>) -> Option<i64> {
    let newest = sigs
        .into_iter()
        .filter(|s| s.created().is_some())
        .max_by_key(|s| s.created().map(|t| t.as_secs()))?;
    let secs = newest.key_expiration_time()?.as_secs();
    (secs > 0).then(|| i64::from(created) + i64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_system_debian_keyring_when_present() {
        let path = Path::new(DEFAULT_KEYRING);
        if !path.exists() {
            eprintln!("notice: {DEFAULT_KEYRING} absent, skipping");
            return;
        }
        let ring = Keyring::load(path).unwrap();
        assert!(ring.len() >= 2, "{} keys", ring.len());
        assert!(ring.fingerprints().iter().all(|f| f.len() == 40));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            Keyring::from_bytes(b"\x99\x01\xffnot a key", "junk"),
            Err(KeyringError::Empty { .. } | KeyringError::Parse { .. })
        ));
        let armored =
            format!("{ARMOR_BEGIN}\n\nnot base64!!\n-----END PGP PUBLIC KEY BLOCK-----\n");
        assert!(Keyring::from_bytes(armored.as_bytes(), "junk").is_err());
        let err = Keyring::load(Path::new("/nonexistent/keyring.gpg")).unwrap_err();
        assert!(err.to_string().contains("cannot read keyring"));
    }
}
