//! Content discovery: tag lists (sorted, `n`, `last`, `Link`) and the referrers API.

use serde_json::{Value, json};

use super::client::*;
use crate::support::serve::Serve;

fn tags(r: &Resp) -> Vec<String> {
    r.json()["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tag_list_is_sorted_and_paginates_with_n_last_and_link() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "list", "b");
    let names = ["c", "a", "B", "a-2", "z", "m"];
    for t in names {
        api.put_manifest("list", t, OCI_MANIFEST, &img.manifest)
            .expect(201);
    }
    let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    all.push("b".into());
    all.sort();
    let r = api.get("/v2/list/tags/list");
    r.expect(200);
    assert_eq!(r.json()["name"], json!("list"));
    assert_eq!(tags(&r), all);
    assert!(r.header("link").is_none());
    // `last`: what sorts after it.
    let r = api.get("/v2/list/tags/list?last=b");
    assert_eq!(
        tags(&r),
        all.iter()
            .filter(|t| t.as_str() > "b")
            .cloned()
            .collect::<Vec<_>>()
    );
    // `n`: pages, each with a Link to the next, until the last page has none.
    let mut seen = Vec::new();
    let mut next = Some("/v2/list/tags/list?n=3".to_string());
    while let Some(path) = next {
        let r = api.get(&path);
        r.expect(200);
        let page = tags(&r);
        assert!(page.len() <= 3);
        seen.extend(page);
        next = r.header("link").map(|l| {
            assert!(l.ends_with("rel=\"next\""), "{l}");
            l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_string()
        });
    }
    assert_eq!(seen, all);
    // `n` with `last`, and `n=0`.
    let r = api.get("/v2/list/tags/list?n=2&last=a");
    assert_eq!(
        tags(&r),
        all.iter()
            .filter(|t| t.as_str() > "a")
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
    );
    let r = api.get("/v2/list/tags/list?n=0");
    r.expect(200);
    assert!(tags(&r).is_empty());
}

#[test]
fn tag_list_of_an_unknown_repository_is_404_name_unknown() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    api.get("/v2/nothing/here/tags/list")
        .expect_error(404, "NAME_UNKNOWN");
}

/// The referrers of `subject`, checked to be an OCI index.
fn referrers(api: &Api, repo: &str, subject: &str, query: &str) -> (Resp, Vec<Value>) {
    let r = api.get(&format!("/v2/{repo}/referrers/{subject}{query}"));
    r.expect(200);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    let v = r.json();
    assert_eq!(v["schemaVersion"], json!(2));
    assert_eq!(v["mediaType"], json!(OCI_INDEX));
    let list = v["manifests"].as_array().unwrap().clone();
    (r, list)
}

fn artifact(api: &Api, repo: &str, at: &str, subject: &Image, note: &str) -> Image {
    image(
        api,
        repo,
        ImageSpec {
            layers: 1,
            artifact_type: Some(at),
            config_media_type: Some(OCI_EMPTY),
            config_bytes: Some(b"{}"),
            layer_media_type: Some(at),
            subject: Some(
                json!({ "mediaType": subject.media_type, "digest": subject.digest, "size": subject.manifest.len() }),
            ),
            annotations: Some(
                json!({ "org.opencontainers.conformance": "hello conformance test", "note": note }),
            ),
            ..Default::default()
        },
    )
}

#[test]
fn referrers_list_the_descriptors_of_manifests_with_that_subject() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let subject = push_image(&api, "refs", "image");
    let a1 = artifact(&api, "refs", ARTIFACT_1, &subject, "one");
    let a2 = artifact(&api, "refs", ARTIFACT_2, &subject, "two");
    api.put_manifest("refs", "tagged-artifact1", OCI_MANIFEST, &a1.manifest)
        .expect(201);
    api.put_manifest("refs", &a2.digest, OCI_MANIFEST, &a2.manifest)
        .expect(201);
    // An image manifest without artifactType: its config's media type stands in.
    let plain = image(
        &api,
        "refs",
        ImageSpec {
            layers: 1,
            subject: Some(
                json!({ "mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.manifest.len() }),
            ),
            ..Default::default()
        },
    );
    api.put_manifest("refs", &plain.digest, OCI_MANIFEST, &plain.manifest)
        .expect(201);
    let (r, list) = referrers(&api, "refs", &subject.digest, "");
    assert!(r.header("oci-filters-applied").is_none());
    assert_eq!(list.len(), 3);
    for (img, at, note) in [
        (&a1, ARTIFACT_1, Some("one")),
        (&a2, ARTIFACT_2, Some("two")),
        (&plain, OCI_CONFIG, None),
    ] {
        let d = list
            .iter()
            .find(|d| d["digest"] == json!(img.digest))
            .unwrap_or_else(|| panic!("{} missing from {list:?}", img.digest));
        assert_eq!(d["mediaType"], json!(OCI_MANIFEST));
        assert_eq!(d["size"], json!(img.manifest.len()));
        assert_eq!(d["artifactType"], json!(at));
        if let Some(n) = note {
            assert_eq!(d["annotations"]["note"], json!(n));
            assert_eq!(
                d["annotations"]["org.opencontainers.conformance"],
                json!("hello conformance test")
            );
        }
    }
}

#[test]
fn referrers_filtered_by_artifact_type_set_oci_filters_applied() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let subject = push_image(&api, "filter", "image");
    let a1 = artifact(&api, "filter", ARTIFACT_1, &subject, "one");
    let a2 = artifact(&api, "filter", ARTIFACT_2, &subject, "two");
    for a in [&a1, &a2] {
        api.put_manifest("filter", &a.digest, OCI_MANIFEST, &a.manifest)
            .expect(201);
    }
    for (at, want) in [(ARTIFACT_1, &a1), (ARTIFACT_2, &a2)] {
        let (r, list) = referrers(
            &api,
            "filter",
            &subject.digest,
            &format!("?artifactType={at}"),
        );
        assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0]["digest"], json!(want.digest));
        assert_eq!(list[0]["artifactType"], json!(at));
    }
    let (_, list) = referrers(
        &api,
        "filter",
        &subject.digest,
        "?artifactType=application%2Fnone",
    );
    assert!(list.is_empty());
}

#[test]
fn referrers_of_an_index_subject_list_artifact_indexes() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "idxref", "image");
    let idx = index(
        OCI_INDEX,
        &[(OCI_MANIFEST, &img.manifest, platform("amd64"))],
        json!({}),
    );
    let idx_digest = sha256(&idx);
    api.put_manifest("idxref", "index", OCI_INDEX, &idx)
        .expect(201);
    let art = artifact(&api, "idxref", ARTIFACT_1, &img, "child");
    api.put_manifest("idxref", &art.digest, OCI_MANIFEST, &art.manifest)
        .expect(201);
    let art_index = index(
        OCI_INDEX,
        &[(OCI_MANIFEST, &art.manifest, None)],
        json!({
            "artifactType": ARTIFACT_2,
            "subject": { "mediaType": OCI_INDEX, "digest": idx_digest, "size": idx.len() },
            "annotations": { "org.opencontainers.conformance": "hello conformance test" },
        }),
    );
    let r = api.put_manifest("idxref", "tagged-artifact", OCI_INDEX, &art_index);
    r.expect(201);
    assert_eq!(r.header("oci-subject"), Some(&*idx_digest));
    let (_, list) = referrers(&api, "idxref", &idx_digest, "");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], json!(sha256(&art_index)));
    assert_eq!(list[0]["mediaType"], json!(OCI_INDEX));
    assert_eq!(list[0]["artifactType"], json!(ARTIFACT_2));
    assert_eq!(list[0]["size"], json!(art_index.len()));
}

#[test]
fn referrers_of_an_unknown_subject_is_an_empty_index() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let (_, list) = referrers(&api, "empty", &sha256(b"no such subject"), "");
    assert!(list.is_empty());
    api.get("/v2/empty/referrers/sha256:bad")
        .expect_error(400, "DIGEST_INVALID");
}
