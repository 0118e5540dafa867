//! Property test: no request path maps to a storage key outside its repository's prefix.
//! Paths are built from the segments hostile clients use (`..`, `.`, empty, `%2e%2e`,
//! `_layers`, upper case, digests, upload ids, the API's own words) and from arbitrary
//! text; every route `Route::parse` accepts, with a name `valid_name` accepts, must give
//! keys made only of plain components, under `repositories/<name>/` with the store's
//! `_`-prefixed directory right after the name (or under `blobs/` and `_uploads/` for
//! checked digests and upload ids).

use std::path::{Component, Path};

use proptest::prelude::*;

use super::*;
use crate::http::Route;
use crate::names::valid_name;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just("_layers".to_string()),
        Just("_manifests".to_string()),
        Just("_uploads".to_string()),
        Just("%2e%2e".to_string()),
        Just("%2F".to_string()),
        Just("blobs".to_string()),
        Just("uploads".to_string()),
        Just("manifests".to_string()),
        Just("tags".to_string()),
        Just("list".to_string()),
        Just("referrers".to_string()),
        Just("latest".to_string()),
        Just("UPPER".to_string()),
        Just(format!("sha256:{}", "ab".repeat(32))),
        Just(format!("sha512:{}", "cd".repeat(64))),
        Just("sha256:../../etc".to_string()),
        Just("6f9619ff-8b86-d011-b42d-00cf4fc964ff".to_string()),
        "[a-z0-9]{1,6}",
        "[a-zA-Z0-9._%:/\\\\-]{1,16}",
    ]
}

/// Plain relative components only: no `..`, `.`, root or empty part.
fn plain(key: &str) -> bool {
    !key.split('/').any(str::is_empty)
        && Path::new(key)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The key is plain and lies under the repository's prefix, with the store's own
/// `_` directory as the first component after the name.
fn in_repository(key: &str, name: &str) -> bool {
    let prefix = format!("repositories/{name}/");
    plain(key) && key.starts_with(&prefix) && key[prefix.len()..].starts_with('_')
}

/// Every key the registry would use for a route, and what it must satisfy.
fn check(route: &Route) {
    let Some(name) = route.repository() else {
        return;
    };
    if !valid_name(name) {
        return;
    }
    assert!(
        name.split('/')
            .all(|c| !c.is_empty() && !c.starts_with('_') && c != ".." && c != "."),
        "a name component could collide with the store's keys: {name:?}"
    );
    let mut keys: Vec<(String, bool)> = Vec::new();
    let repo_keys = |d: &Digest| {
        vec![
            (link_key(name, d), true),
            (revision_key(name, d), true),
            (referrers_prefix(name, d), true),
            (referrer_key(name, d, d), true),
            (blob_key(d), false),
        ]
    };
    match route {
        Route::Tags(_) | Route::UploadStart(_) => keys.push((tags_prefix(name), true)),
        Route::Manifest(_, r) => match Reference::parse(r) {
            Ok(Reference::Tag(t)) => {
                assert!(!t.contains('/') && t != ".." && t != ".", "tag {t:?}");
                keys.push((format!("{}/{t}", tags_prefix(name)), true));
            }
            Ok(Reference::Digest(d)) => keys.extend(repo_keys(&d)),
            Err(_) => {}
        },
        Route::Blob(_, d) | Route::Referrers(_, d) => {
            if let Ok(d) = parse_digest(d) {
                keys.extend(repo_keys(&d));
            }
        }
        Route::Upload(_, id) => {
            if valid_upload_id(id) {
                let key = format!("_uploads/{id}/data");
                assert!(plain(&key) && key.split('/').count() == 3, "{key}");
            }
        }
        Route::Base | Route::Catalog => {}
    }
    for (key, under_repo) in keys {
        if under_repo {
            assert!(
                in_repository(&key, name),
                "{key:?} escapes repository {name:?}"
            );
        } else {
            assert!(plain(&key) && key.starts_with("blobs/"), "{key:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn no_path_of_api_segments_maps_outside_its_repository(
        segs in prop::collection::vec(segment(), 0..9),
        trailing in any::<bool>(),
    ) {
        let path = format!("/v2/{}{}", segs.join("/"), if trailing { "/" } else { "" });
        if let Some(route) = Route::parse(&path) {
            check(&route);
        }
    }

    #[test]
    fn no_arbitrary_path_maps_outside_its_repository(path in "/v2/\\PC{0,80}") {
        if let Some(route) = Route::parse(&path) {
            check(&route);
        }
    }
}

#[test]
fn the_hostile_names_of_the_brief_are_all_refused() {
    for path in [
        "/v2/../x/manifests/latest",
        "/v2/%2e%2e/manifests/latest",
        "/v2//etc/manifests/latest",
        "/v2/UP/manifests/latest",
        "/v2/a/_layers/manifests/latest",
        "/v2/a/./b/manifests/latest",
    ] {
        let route = Route::parse(path).unwrap();
        assert!(!valid_name(route.repository().unwrap()), "{path}");
    }
}
