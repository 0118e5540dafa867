//! The keys apk trusts: RSA public keys in PEM files named `<keyname>` (by convention
//! `<signer>-<8 hex digits>.rsa.pub`), looked up by the name a signature file carries
//! (`.SIGN.RSA.<keyname>` or `.SIGN.RSA256.<keyname>`), as apk looks them up in
//! `/etc/apk/keys`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2_v010::Sha256;

/// A key file or directory that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file or directory could not be read.
    #[error("cannot read apk key {path}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a PEM RSA public key.
    #[error("{path} is not a PEM RSA public key")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the PEM or DER decoder said.
        #[source]
        source: rsa::pkcs8::spki::Error,
    },
    /// The file name is not usable as a key name.
    #[error("apk key {path} has no usable file name")]
    Name {
        /// The file.
        path: PathBuf,
    },
}

/// The hash an apk signature was made over, from the signature file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureHash {
    /// `.SIGN.RSA.<keyname>`: RSA PKCS#1 v1.5 over SHA-1 (every Alpine release so far).
    Sha1,
    /// `.SIGN.RSA256.<keyname>`: RSA PKCS#1 v1.5 over SHA-256.
    Sha256,
}

impl SignatureHash {
    /// Splits a signature member's file name into its hash and key name, or `None` if
    /// the name is not an apk RSA signature.
    pub fn from_file_name(name: &str) -> Option<(SignatureHash, &str)> {
        if let Some(key) = name.strip_prefix(".SIGN.RSA256.") {
            Some((SignatureHash::Sha256, key))
        } else {
            let key = name.strip_prefix(".SIGN.RSA.")?;
            Some((SignatureHash::Sha1, key))
        }
        .filter(|(_, key)| !key.is_empty())
    }

    /// The signature file's name prefix (`.SIGN.RSA.` or `.SIGN.RSA256.`).
    pub fn prefix(self) -> &'static str {
        match self {
            SignatureHash::Sha1 => ".SIGN.RSA.",
            SignatureHash::Sha256 => ".SIGN.RSA256.",
        }
    }

    /// The PKCS#1 v1.5 scheme and the digest of `data` under this hash.
    pub(crate) fn scheme_and_digest(self, data: &[u8]) -> (Pkcs1v15Sign, Vec<u8>) {
        match self {
            SignatureHash::Sha1 => (Pkcs1v15Sign::new::<Sha1>(), Sha1::digest(data).to_vec()),
            SignatureHash::Sha256 => (Pkcs1v15Sign::new::<Sha256>(), Sha256::digest(data).to_vec()),
        }
    }
}

/// A set of trusted RSA public keys, by key name.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<String, (PathBuf, RsaPublicKey)>,
}

impl Keyring {
    /// An empty keyring (trusts nothing).
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Loads keys from paths: a directory contributes every `*.rsa.pub` file in it (as
    /// apk reads `/etc/apk/keys`), a file is loaded whatever its name. The key name is
    /// the file name.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Keyring, KeyError> {
        let mut ring = Keyring::new();
        for path in paths {
            let path = path.as_ref();
            let meta = fs_err::metadata(path).map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            if meta.is_dir() {
                let read = |source| KeyError::Read {
                    path: path.to_path_buf(),
                    source,
                };
                let mut files = Vec::new();
                for entry in fs_err::read_dir(path).map_err(read)? {
                    let entry = entry.map_err(read)?;
                    let name = entry.file_name();
                    if name.to_str().is_some_and(|n| n.ends_with(".rsa.pub")) {
                        files.push(entry.path());
                    }
                }
                files.sort();
                for file in files {
                    ring.add_file(&file)?;
                }
            } else {
                ring.add_file(path)?;
            }
        }
        Ok(ring)
    }

    /// Adds one PEM key file under its file name.
    pub fn add_file(&mut self, path: &Path) -> Result<(), KeyError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| KeyError::Name {
                path: path.to_path_buf(),
            })?
            .to_string();
        let pem = fs_err::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let key = parse_public_pem(&pem).map_err(|source| KeyError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        self.keys.insert(name, (path.to_path_buf(), key));
        Ok(())
    }

    /// Adds a key under a name (keys that are not files, such as a test's).
    pub fn add(&mut self, name: &str, key: RsaPublicKey) {
        self.keys
            .insert(name.to_string(), (PathBuf::from(name), key));
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Option<&RsaPublicKey> {
        self.keys.get(name).map(|(_, k)| k)
    }

    /// The key names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Parses a PEM public key as abuild writes it (`BEGIN PUBLIC KEY`, SubjectPublicKeyInfo)
/// or in PKCS#1 form (`BEGIN RSA PUBLIC KEY`).
pub fn parse_public_pem(pem: &str) -> Result<RsaPublicKey, rsa::pkcs8::spki::Error> {
    if pem.contains("BEGIN RSA PUBLIC KEY") {
        RsaPublicKey::from_pkcs1_pem(pem).map_err(|_| rsa::pkcs8::spki::Error::KeyMalformed)
    } else {
        RsaPublicKey::from_public_key_pem(pem)
    }
}
