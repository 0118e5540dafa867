//! The one canonical JSON encoder used for everything that is hashed.
//!
//! Object keys are sorted by their UTF-8 bytes, there is no insignificant whitespace,
//! and strings and numbers are written by `serde_json`. Written by hand (a short walk
//! over `serde_json::Value`) because key order must not depend on whether some other
//! crate in the build turned on serde_json's `preserve_order` feature, and because
//! `oci-spec` keeps annotations and labels in `HashMap`s.

use serde::Serialize;
use serde_json::Value;

/// Canonical JSON bytes of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let v = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_value(&v, &mut out)?;
    Ok(out)
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_value(&map[k], out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn sorts_keys_at_every_depth_and_drops_whitespace() {
        let v: Value = serde_json::from_str(
            r#"{ "b": 1, "a": { "z": [ {"y": 2, "x": 1} ], "c": "\u00e9\n" } }"#,
        )
        .unwrap();
        let out = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(out, r#"{"a":{"c":"é\n","z":[{"x":1,"y":2}]},"b":1}"#);
    }

    proptest! {
        #[test]
        fn hashmap_insertion_order_never_changes_bytes(pairs in proptest::collection::vec(("[a-z]{1,6}", "[ -~]{0,8}"), 0..20)) {
            let a: HashMap<String, String> = pairs.iter().cloned().collect();
            let mut b: HashMap<String, String> = HashMap::new();
            for (k, _) in pairs.iter().rev() {
                b.entry(k.clone()).or_insert_with(|| a[k].clone());
            }
            prop_assert_eq!(to_vec(&a).unwrap(), to_vec(&b).unwrap());
            let back: HashMap<String, String> = serde_json::from_slice(&to_vec(&a).unwrap()).unwrap();
            prop_assert_eq!(back, a);
        }
    }
}
