//! OpenPGP public keys as distributions ship them: a binary keyring, or one or more
//! ASCII-armoured key blocks in one file (apt's `Signed-By`, rpm's `RPM-GPG-KEY-*`).

use std::io::Cursor;

use pgp::composed::{Deserializable, SignedPublicKey};

const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/// The public keys (primary keys with their subkeys) in `data`. A key in an algorithm the
/// OpenPGP library does not know is skipped, not fatal; an empty result is the caller's
/// to refuse.
pub fn public_keys(data: &[u8]) -> Result<Vec<SignedPublicKey>, pgp::errors::Error> {
    let mut keys = Vec::new();
    let text = std::str::from_utf8(data)
        .ok()
        .filter(|t| t.contains(ARMOR_BEGIN));
    if let Some(text) = text {
        for block in text.split(ARMOR_BEGIN).skip(1) {
            let block = format!("{ARMOR_BEGIN}{block}");
            let (iter, _) = SignedPublicKey::from_string_many(&block)?;
            keys.extend(iter.filter_map(Result::ok));
        }
    } else {
        let iter = SignedPublicKey::from_bytes_many(Cursor::new(data))?;
        keys.extend(iter.filter_map(Result::ok));
    }
    Ok(keys)
}
