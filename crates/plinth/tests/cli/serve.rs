//! `plinth serve` with real clients: what a user does first.

use crate::common::*;
use crate::support::serve::Serve;
use crate::support::{hello_image, layout_digest, skopeo_copy};

/// The README's walk-through: an image built by `plinth build` goes into `plinth serve`
/// with skopeo and comes back, digest for digest, with skopeo and with `plinth pull`.
#[test]
fn an_image_built_by_plinth_goes_into_plinth_serve_with_skopeo_and_comes_back() {
    if !have_tool("skopeo") {
        return;
    }
    let serve = Serve::start();
    let image = hello_image();
    let digest = layout_digest(image);
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("hello:latest"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    skopeo_copy(&[
        &serve.docker("hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]);
    let pulled = tmp.path().join("pulled");
    ok(plinth()
        .arg("pull")
        .arg(serve.reference("hello:latest"))
        .arg("-o")
        .arg(&pulled));
    assert_eq!(layout_digest(&pulled), digest, "{}", serve.log_text());
    validate_image(&pulled);
    let log = serve.log_text();
    assert!(
        log.contains("route=\"manifest\" status=201"),
        "the request log has a line per request:\n{log}"
    );
    let mut serve = serve;
    let status = serve.terminate();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}
