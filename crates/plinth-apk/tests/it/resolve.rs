//! Resolution on the real Alpine 3.16 x86_64 index and on small hand-made indexes.

use plinth_apk::index::{PackageInfo, read_index};
use plinth_apk::resolve::{Dependency, Repository, ResolveError};

use crate::support::*;

fn real() -> Vec<PackageInfo> {
    read_index(&data("APKINDEX-v3.16-main-x86_64.tar.gz"), &alpine_keys())
        .unwrap()
        .packages
}

/// Chainguard-style `static`. Derived by reading the index (`tar -xzOf ... APKINDEX`):
/// alpine-baselayout-data and ca-certificates-bundle have no `D:`; tzdata has
/// `D:so:libc.musl-x86_64.so.1`, which only musl provides (`p:so:libc.musl-x86_64.so.1=1`);
/// musl has no `D:`. No package's `i:` conditions all hold within these four.
#[test]
fn real_static_closure() {
    let pkgs = real();
    let repo = Repository::new(&pkgs);
    let res = repo
        .resolve(&["alpine-baselayout-data", "ca-certificates-bundle", "tzdata"])
        .unwrap();
    assert_eq!(
        res.names(),
        [
            "alpine-baselayout-data",
            "ca-certificates-bundle",
            "musl",
            "tzdata"
        ]
    );
    let musl = res.packages.iter().find(|(p, _)| p.name == "musl").unwrap();
    assert_eq!(musl.0.version, "1.2.3-r2");
    assert_eq!(musl.1, "world → tzdata-2022f-r1");
}

/// A minimal `base`. Derived by hand from the index: busybox `D:so:libc.musl-x86_64.so.1`
/// (musl); apk-tools `D:musl>=1.2 ca-certificates-bundle so:libc.musl-x86_64.so.1
/// so:libcrypto.so.1.1 so:libssl.so.1.1 so:libz.so.1` — so:libcrypto.so.1.1 is provided
/// only by libcrypto1.1, so:libssl.so.1.1 only by libssl1.1 (which needs libcrypto), and
/// so:libz.so.1 only by zlib; then install_if: ssl_client has `i:busybox=1.35.0-r17
/// libssl1.1`, both chosen, so it joins (its own `D:` is musl and libssl, chosen).
#[test]
fn real_base_closure() {
    let pkgs = real();
    let repo = Repository::new(&pkgs);
    let res = repo.resolve(&["busybox", "musl", "apk-tools"]).unwrap();
    assert_eq!(
        res.names(),
        [
            "apk-tools",
            "busybox",
            "ca-certificates-bundle",
            "libcrypto1.1",
            "libssl1.1",
            "musl",
            "ssl_client",
            "zlib"
        ]
    );
    let why = |n: &str| {
        res.packages
            .iter()
            .find(|(p, _)| p.name == n)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(why("ssl_client"), "install_if busybox=1.35.0-r17 libssl1.1");
    assert_eq!(why("zlib"), "world → apk-tools-2.12.9-r3");
}

/// alpine-baselayout needs `/bin/sh`, which only busybox provides, unversioned.
#[test]
fn real_sole_unversioned_provider_is_chosen() {
    let pkgs = real();
    let res = Repository::new(&pkgs)
        .resolve(&["alpine-baselayout"])
        .unwrap();
    assert_eq!(
        res.names(),
        [
            "alpine-baselayout",
            "alpine-baselayout-data",
            "busybox",
            "musl"
        ]
    );
}

#[test]
fn real_missing_dependency_names_the_chain() {
    let mut pkgs = real();
    pkgs.retain(|p| p.name != "zlib");
    let err = Repository::new(&pkgs).resolve(&["apk-tools"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no package provides so:libz.so.1 (needed by world → apk-tools-2.12.9-r3)"
    );
    let err = Repository::new(&pkgs)
        .resolve(&["no-such-package"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no package provides no-such-package (needed by world)"
    );
}

fn pkg(name: &str, version: &str, depends: &[&str], provides: &[&str]) -> PackageInfo {
    PackageInfo {
        checksum: "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        name: name.into(),
        version: version.into(),
        arch: "x86_64".into(),
        depends: depends.iter().map(|s| s.to_string()).collect(),
        provides: provides.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn highest_version_and_constraints() {
    let pkgs = [
        pkg("a", "1.0-r0", &[], &[]),
        pkg("a", "1.2-r0", &[], &[]),
        pkg("a", "2.0-r0", &[], &[]),
        pkg("lib", "1.0-r0", &[], &["so:libx.so.1=1.0", "pc:x=1.0"]),
        pkg("tool", "3.1-r0", &["so:libx.so.1"], &["cmd:tool=3.1-r0"]),
    ];
    let repo = Repository::new(&pkgs);
    let v = |w: &str| {
        let r = repo.resolve(&[w]).unwrap();
        r.packages
            .iter()
            .find(|(p, _)| p.name == "a")
            .map(|(p, _)| p.version.clone())
    };
    assert_eq!(v("a").as_deref(), Some("2.0-r0"));
    assert_eq!(v("a<2").as_deref(), Some("1.2-r0"));
    assert_eq!(v("a<=1.2-r0").as_deref(), Some("1.2-r0"));
    assert_eq!(v("a=1.0-r0").as_deref(), Some("1.0-r0"));
    assert_eq!(v("a~1").as_deref(), Some("1.2-r0"));
    assert_eq!(v("a>=1.1").as_deref(), Some("2.0-r0"));
    assert!(matches!(
        repo.resolve(&["a>3"]),
        Err(ResolveError::Missing { .. })
    ));
    // cmd: and pc: provides, versioned.
    assert_eq!(
        repo.resolve(&["cmd:tool"]).unwrap().names(),
        ["lib", "tool"]
    );
    assert_eq!(repo.resolve(&["pc:x>=1.0"]).unwrap().names(), ["lib"]);
    assert!(matches!(
        repo.resolve(&["pc:x>=2"]),
        Err(ResolveError::Missing { .. })
    ));
    // A clash: world pins a=1.0, then something needs a>=2.
    let pkgs2 = [
        pkgs.to_vec(),
        vec![pkg("needs-new-a", "1-r0", &["a>=2"], &[])],
    ]
    .concat();
    let err = Repository::new(&pkgs2)
        .resolve(&["a=1.0-r0", "needs-new-a"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a>=2 (needed by world → needs-new-a-1-r0) is not satisfied by a-1.0-r0, already chosen for world"
    );
}

#[test]
fn conflicts_are_refused_both_ways() {
    let pkgs = [
        pkg("busybox", "1-r0", &[], &[]),
        pkg("toybox", "1-r0", &["!busybox"], &[]),
        pkg("app", "1-r0", &["busybox"], &[]),
    ];
    let repo = Repository::new(&pkgs);
    let err = repo.resolve(&["toybox", "app"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "busybox-1-r0 (needed by world → app-1-r0) conflicts with !busybox (declared by world → toybox-1-r0)"
    );
    let err = repo.resolve(&["app", "toybox"]).unwrap_err();
    assert!(matches!(err, ResolveError::Conflict { .. }), "{err}");
    // A versioned conflict that does not hit.
    let pkgs = [pkg("a", "2-r0", &[], &[]), pkg("b", "1-r0", &["!a<2"], &[])];
    assert_eq!(
        Repository::new(&pkgs).resolve(&["a", "b"]).unwrap().names(),
        ["a", "b"]
    );
}

#[test]
fn provider_priority_and_virtual_packages() {
    let mut hi = pkg("ifupdown-ng", "1-r0", &[], &["ifupdown-any"]);
    hi.provider_priority = Some(200);
    let mut lo = pkg("busybox-ifupdown", "1-r0", &[], &["ifupdown-any"]);
    lo.provider_priority = Some(100);
    let pkgs = [hi, lo];
    assert_eq!(
        Repository::new(&pkgs)
            .resolve(&["ifupdown-any"])
            .unwrap()
            .names(),
        ["ifupdown-ng"]
    );
    // Two unversioned providers, no priority: apk asks the user to choose.
    let pkgs = [
        pkg("mawk", "1-r0", &[], &["awk"]),
        pkg("gawk", "5-r0", &[], &["awk"]),
    ];
    let err = Repository::new(&pkgs).resolve(&["awk"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "awk is a virtual package provided by gawk-5-r0, mawk-1-r0: name one of them (needed by world)"
    );
    // Versioned so: providers: the highest provided version wins.
    let pkgs = [
        pkg("libfoo1", "1.0-r0", &[], &["so:libfoo.so.1=1.0"]),
        pkg("libfoo1-compat", "9.0-r0", &[], &["so:libfoo.so.1=1.5"]),
    ];
    assert_eq!(
        Repository::new(&pkgs)
            .resolve(&["so:libfoo.so.1"])
            .unwrap()
            .names(),
        ["libfoo1-compat"]
    );
}

#[test]
fn dependency_syntax() {
    for (text, shown) in [
        ("so:libc.musl-x86_64.so.1", "so:libc.musl-x86_64.so.1"),
        ("musl>=1.2", "musl>=1.2"),
        ("!busybox<1.3", "!busybox<1.3"),
        ("a~1.2", "a~1.2"),
        ("/bin/sh", "/bin/sh"),
    ] {
        assert_eq!(Dependency::parse(text).unwrap().to_string(), shown);
    }
    for bad in ["", "!", ">=1", "a>=", "a>=x y", "a@edge", "a><Q1abc"] {
        assert!(Dependency::parse(bad).is_err(), "{bad:?}");
    }
}
