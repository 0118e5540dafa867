//! The layer cache as a user meets it (issue 13, point 8): `sbom`, `check` and `scan`
//! give byte-identical output (stdout, stderr, exit code) with no cache, a cold one and
//! a warm one, for every kind of image the tests have, hostile and tampered ones
//! included; `--no-cache` and `PLINTH_NO_CACHE=1` write no entry.

use std::path::Path;
use std::process::Output;

use plinth_oci::testing::{Layout, hostile};

use crate::common::*;
use crate::support::{base_image, hello_image};
use crate::tampered::copy_dir;

/// Breaks an image; returns what the error must name.
type Tamper = fn(&Layout) -> Vec<String>;

/// The entries in the layer cache under `cache`.
fn entries(cache: &Path) -> usize {
    fs_err::read_dir(cache.join("layers")).map_or(0, |rd| rd.count())
}

fn plinth_in(cache: &Path, args: &[&str]) -> Output {
    run(plinth().env("PLINTH_CACHE", cache).args(args))
}

/// What a user sees of one command.
fn seen(o: &Output) -> (Option<i32>, String, String) {
    (o.status.code(), stdout(o), stderr(o))
}

/// Runs each reading command on `target` without the cache, then with a cold cache and
/// a warm one; all three must agree. Returns how many entries the cold runs wrote.
fn same_with_and_without_the_cache(case: &str, target: &str, tmp: &Path) -> usize {
    let cache = tmp.join(format!("cache-{}", case.replace(' ', "-")));
    let commands: [&[&str]; 4] = [
        &["sbom", "-f", "spdx-json"],
        &["sbom", "-f", "json"],
        &["sbom", "-f", "cyclonedx-json"],
        &["check", "-f", "json"],
    ];
    let mut written = 0;
    for args in commands {
        let with = |extra: &[&'static str]| -> Vec<&str> {
            let mut a = args.to_vec();
            a.extend_from_slice(extra);
            a.push(target);
            a
        };
        let none = plinth_in(&cache, &with(&["--no-cache"]));
        assert_eq!(entries(&cache), written, "{case}: --no-cache wrote entries");
        let none_env = run(plinth()
            .env("PLINTH_CACHE", &cache)
            .env("PLINTH_NO_CACHE", "1")
            .args(with(&[])));
        assert_eq!(
            entries(&cache),
            written,
            "{case}: PLINTH_NO_CACHE wrote entries"
        );
        assert_eq!(
            seen(&none_env),
            seen(&none),
            "{case}: {args:?} PLINTH_NO_CACHE"
        );
        let cold = plinth_in(&cache, &with(&[]));
        written = entries(&cache);
        let warm = plinth_in(&cache, &with(&[]));
        assert_eq!(seen(&cold), seen(&none), "{case}: {args:?} cold cache");
        assert_eq!(seen(&warm), seen(&none), "{case}: {args:?} warm cache");
        assert_eq!(
            entries(&cache),
            written,
            "{case}: a warm read wrote entries"
        );
    }
    written
}

#[test]
fn sbom_and_check_are_byte_identical_with_a_warm_layer_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let hello = t.join("hello");
    copy_dir(hello_image(), &hello);
    let layers = Layout(hello.clone()).manifest()["layers"]
        .as_array()
        .unwrap()
        .len();
    let n = same_with_and_without_the_cache("hello", hello.to_str().unwrap(), t);
    assert_eq!(n, layers, "one entry per layer of hello");

    let l = Layout(hello);
    let oci = t.join("hello-oci.tar");
    l.to_oci_archive(&oci);
    same_with_and_without_the_cache("oci-archive", oci.to_str().unwrap(), t);
    let docker = t.join("hello-docker.tar");
    l.to_docker_archive(&docker);
    same_with_and_without_the_cache("docker-archive", docker.to_str().unwrap(), t);

    // A root filesystem has no digest to key by: nothing is cached, nothing changes.
    let alpine = test_data("images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let n = same_with_and_without_the_cache("alpine rootfs", alpine.to_str().unwrap(), t);
    assert_eq!(n, 0);

    // Entries skipped with a warning: the warnings are replayed too.
    let skipped = Layout(t.join("skipped"));
    copy_dir(hello_image(), &skipped.0);
    hostile::layer_entry_escaping_with_dotdot(&skipped);
    same_with_and_without_the_cache("skipped entries", skipped.0.to_str().unwrap(), t);

    match base_image() {
        Some(base) => {
            let n = same_with_and_without_the_cache("base", base.to_str().unwrap(), t);
            assert!(n >= 10, "{n} entries for base");
        }
        None => eprintln!("SKIPPED the base image: the Debian mirror cannot be reached"),
    }
}

/// A layer changed on disk after its entry was written is refused as without the
/// cache: a hit still checks the stored bytes against the manifest's digest.
#[test]
fn tampered_layers_are_refused_with_a_warm_layer_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Tamper); 3] = [
        ("flipped byte", hostile::layer_with_a_flipped_byte),
        ("diff_id", hostile::diff_id_not_matching_the_layer),
        (
            "bytes after the tar",
            hostile::bytes_after_the_end_of_the_layers_tar,
        ),
    ];
    for (case, tamper) in cases {
        let l = Layout(tmp.path().join(case.replace(' ', "-")));
        copy_dir(hello_image(), &l.0);
        let cache = tmp.path().join("cache");
        // Warm the cache with the honest image, then tamper with it.
        ok(plinth().env("PLINTH_CACHE", &cache).arg("sbom").arg(&l.0));
        assert!(entries(&cache) > 0);
        tamper(&l);
        let target = l.0.to_str().unwrap();
        let none = plinth_in(&cache, &["sbom", "--no-cache", target]);
        assert_eq!(none.status.code(), Some(2), "{case}: {}", stderr(&none));
        let warm = plinth_in(&cache, &["sbom", target]);
        assert_eq!(seen(&warm), seen(&none), "{case}");
    }
}
