//! Content management: deletes of tags, manifests and blobs, each visible at once.

use serde_json::json;

use super::client::*;
use crate::support::serve::Serve;

#[test]
fn delete_tag_is_202_and_the_tag_is_gone_but_the_manifest_stays() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "deltag", "one");
    api.put_manifest("deltag", "two", OCI_MANIFEST, &img.manifest)
        .expect(201);
    api.delete("/v2/deltag/manifests/one").expect(202);
    api.head("/v2/deltag/manifests/one").expect(404);
    api.get("/v2/deltag/manifests/one")
        .expect_error(404, "MANIFEST_UNKNOWN");
    api.head("/v2/deltag/manifests/two").expect(200);
    api.head(&format!("/v2/deltag/manifests/{}", img.digest))
        .expect(200);
    let tags = api.get("/v2/deltag/tags/list").json();
    assert_eq!(tags["tags"], json!(["two"]));
    api.delete("/v2/deltag/manifests/one")
        .expect_error(404, "MANIFEST_UNKNOWN");
}

#[test]
fn delete_manifest_by_digest_is_202_and_removes_it_with_its_tags() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "delman", "image");
    api.delete(&format!("/v2/delman/manifests/{}", img.digest))
        .expect(202);
    api.head(&format!("/v2/delman/manifests/{}", img.digest))
        .expect(404);
    api.head("/v2/delman/manifests/image").expect(404);
    api.delete(&format!("/v2/delman/manifests/{}", img.digest))
        .expect_error(404, "MANIFEST_UNKNOWN");
    // The blobs stay until deleted themselves.
    for (d, _) in &img.blobs {
        api.head(&format!("/v2/delman/blobs/{d}")).expect(200);
        api.delete(&format!("/v2/delman/blobs/{d}")).expect(202);
        api.head(&format!("/v2/delman/blobs/{d}")).expect(404);
        api.get(&format!("/v2/delman/blobs/{d}"))
            .expect_error(404, "BLOB_UNKNOWN");
    }
}

#[test]
fn delete_blob_is_202_only_in_that_repository() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    let d = api.push_blob("delblob-a", &bytes);
    api.push_blob("delblob-b", &bytes);
    api.delete(&format!("/v2/delblob-a/blobs/{d}")).expect(202);
    api.head(&format!("/v2/delblob-a/blobs/{d}")).expect(404);
    api.delete(&format!("/v2/delblob-a/blobs/{d}"))
        .expect_error(404, "BLOB_UNKNOWN");
    let r = api.get(&format!("/v2/delblob-b/blobs/{d}"));
    r.expect(200);
    assert_eq!(r.body, bytes);
}

#[test]
fn deleted_referrer_leaves_the_referrers_list() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let subject = push_image(&api, "delref", "image");
    let art = image(
        &api,
        "delref",
        ImageSpec {
            layers: 1,
            artifact_type: Some(ARTIFACT_1),
            subject: Some(
                json!({ "mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.manifest.len() }),
            ),
            ..Default::default()
        },
    );
    api.put_manifest("delref", &art.digest, OCI_MANIFEST, &art.manifest)
        .expect(201);
    let list = api
        .get(&format!("/v2/delref/referrers/{}", subject.digest))
        .json();
    assert_eq!(list["manifests"].as_array().unwrap().len(), 1);
    api.delete(&format!("/v2/delref/manifests/{}", art.digest))
        .expect(202);
    let list = api
        .get(&format!("/v2/delref/referrers/{}", subject.digest))
        .json();
    assert_eq!(list["manifests"], json!([]));
}

#[test]
fn deletes_are_405_unsupported_when_the_config_disables_them() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("registry.toml");
    fs_err::write(
        &config,
        "delete = false\n[storage]\ntype = \"fs\"\npath = \"s\"\n",
    )
    .unwrap();
    let serve = Serve::start_on(
        &tmp.path().join("s"),
        &["--config", config.to_str().unwrap()],
    );
    let api = Api::new(&serve);
    let img = push_image(&api, "nodel", "image");
    api.delete("/v2/nodel/manifests/image")
        .expect_error(405, "UNSUPPORTED");
    api.delete(&format!("/v2/nodel/manifests/{}", img.digest))
        .expect_error(405, "UNSUPPORTED");
    api.delete(&format!("/v2/nodel/blobs/{}", img.blobs[0].0))
        .expect_error(405, "UNSUPPORTED");
    api.head("/v2/nodel/manifests/image").expect(200);
}
