//! Plinth against a real registry (CNCF distribution on 127.0.0.1) and the real clients
//! (skopeo, podman): what Plinth pushes they read, what they push Plinth reads, digests
//! equal; anonymous, htpasswd and token auth; credential helpers; referrers.

use std::process::Command;

use crate::common::*;
use crate::support::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::support::*;

/// The harness itself: skopeo, a client that is not ours, gets in with the password and
/// not without, on both kinds of auth. A failure here is the harness's, not Plinth's.
#[test]
fn harness_registries_accept_skopeo_with_credentials_only() {
    if !have_tool("skopeo") {
        return;
    }
    let hello = hello_image();
    for auth in [Auth::Htpasswd, Auth::Token] {
        let Some(reg) = Registry::start(auth) else {
            return;
        };
        let dst = reg.docker("harness/hello:latest");
        let creds = format!("--dest-creds={USER}:{PASSWORD}");
        skopeo_copy(&[&creds, &format!("oci:{}:latest", hello.display()), &dst]);
        let (_, digest) = skopeo_raw(
            &reg.reference("harness/hello:latest"),
            &[&format!("--creds={USER}:{PASSWORD}")],
        );
        assert_eq!(digest, layout_digest(hello), "{auth:?}");
        let o = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &dst]));
        assert!(!o.status.success(), "{auth:?}: anonymous read was let in");
        if let Some(issuer) = &reg.issuer {
            let grants = issuer.grants();
            assert!(grants.iter().any(|g| g == "GET basic"), "{grants:?}");
        }
    }
}

/// The shared registry is one process while tests hold it, and gone after.
#[test]
fn harness_shared_registry_is_stopped_when_the_last_user_drops_it() {
    let Some(a) = registry::shared() else {
        return;
    };
    let b = registry::shared().unwrap();
    assert_eq!(a.host, b.host);
    let host = a.host.clone();
    drop((a, b));
    // Another test may hold it still; only when nobody does must the port be closed.
    if registry::shared().is_some_and(|r| r.host == host) {
        return;
    }
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "{host} still answers"
    );
}
