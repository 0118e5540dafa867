//! `plinth build`: golden digests, reproducibility, outputs, multi-platform.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// sha256 of `examples/hello/hello` as built by its Makefile with this machine's gcc.
const HELLO_BINARY_SHA256: &str =
    "f25c7959bcf813034c99d08ac064877054465b972b278720596ce574f671e82c";
/// The example's manifest digest. Changing it means every user's image changes: do so
/// only on purpose, and say why in the commit. It also pins the deflate implementation:
/// when the workspace's pgp dependency switched flate2 to zlib-rs, this digest moved,
/// which is why layers are compressed by a pinned libdeflate (plinth-oci's pgzip.rs).
const HELLO_DIGEST: &str =
    "sha256:ecab14101628060c5c7584df5dc884a269e39b2c37ff02d5a50390f9bab2466f";

fn sha256_file(p: &Path) -> String {
    use plinth_oci::testing::{hex_of, read, sha256};
    hex_of(&sha256(&read(p))).to_string()
}

#[test]
fn example_digest_is_pinned() {
    let dir = hello_example();
    let bin = sha256_file(&dir.join("hello"));
    assert_eq!(
        bin, HELLO_BINARY_SHA256,
        "examples/hello/hello differs from the pinned build (another gcc or libc?); \
         the image digest below can only match with the same binary"
    );
    let tmp = tempfile::tempdir().unwrap();
    let digest = build(&dir.join("plinth.toml"), &tmp.path().join("hello"), &[]);
    assert_eq!(digest, HELLO_DIGEST);
}

/// Pins a multi-platform, zstd-compressed image made only of bytes this test writes, so
/// the layer writer, canonical JSON and index are pinned whatever the C toolchain.
#[test]
fn synthetic_index_digest_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        r#"
[image]
name = "golden"
platforms = ["linux/amd64", "linux/arm64/v8"]
compression = "zstd"
run-as = "app"

[[accounts.users]]
name = "app"
uid = 1000

[[files]]
src = "bin-amd64"
dst = "/app/run"
mode = "0755"
platforms = ["linux/amd64"]

[[files]]
src = "bin-arm64"
dst = "/app/run"
mode = "0755"
platforms = ["linux/arm64/v8"]

[[files]]
src = "etc"
dst = "/etc/app"
owner = "app"

[[dirs]]
path = "/var/lib/app"
mode = "0o750"
owner = "app:app"

[[symlinks]]
path = "/usr/bin/run"
target = "/app/run"

[config]
entrypoint = ["/app/run"]
cmd = ["--serve"]
env = { LANG = "C.UTF-8", APP_MODE = "prod" }
ports = ["8080", "53/udp"]
volumes = ["/var/lib/app"]

[annotations]
"org.opencontainers.image.source" = "https://example.invalid/golden"
"#,
        &[
            ("bin-amd64", b"\x7fELF amd64"),
            ("bin-arm64", b"\x7fELF arm64"),
            ("etc/app.conf", b"listen = 8080\n"),
            ("etc/conf.d/extra.conf", b"debug = false\n"),
        ],
    );
    let digest = build(&spec, &tmp.path().join("out"), &[]);
    assert_eq!(
        digest,
        "sha256:6aa0d378c2853db1bb8a94b0a8ae3e13162a6ed5528fea5ed500760dc5ce3c82"
    );
}

/// Builds the example in two places that differ in everything a build must ignore.
#[test]
fn digest_ignores_umask_tz_locale_directory_and_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = copy_example(&tmp.path().join("a"));
    let b_dir = tmp.path().join("elsewhere/deeper/b");
    copy_example(&b_dir);
    // Other mtimes and permission bits on the inputs (the exec bit stays).
    for (f, mode) in [("hello", 0o700), ("hello.c", 0o600)] {
        let p = b_dir.join(f);
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(&p)
            .status()
            .unwrap();
        fs_err::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let da = build(&a, &tmp.path().join("out-a"), &[]);
    let out_b = tmp.path().join("out-b");
    let o = ok(Command::new("sh")
        .arg("-c")
        .arg(r#"umask 077; cd "$1" && exec "$2" build plinth.toml -q -o "$3""#)
        .arg("sh")
        .arg(&b_dir)
        .arg(env!("CARGO_BIN_EXE_plinth"))
        .arg(&out_b)
        .env("TZ", "Pacific/Kiritimati")
        .env("LC_ALL", "tr_TR.UTF-8")
        .env("LANG", "tr_TR.UTF-8"));
    validate_image(&out_b);
    assert_eq!(da, o.trim());
    assert_eq!(
        da,
        HELLO_DIGEST.to_string(),
        "and equal to the pinned digest"
    );
}

/// Directory sources are walked in sorted order, whatever order the files were created in.
#[test]
fn directory_sources_ignore_creation_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for (i, order) in [["a", "b", "c", "d"], ["d", "c", "b", "a"]]
        .iter()
        .enumerate()
    {
        let dir = tmp.path().join(format!("s{i}"));
        for name in order {
            let p = dir.join("tree").join(name);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, name.as_bytes()).unwrap();
        }
        let spec = write_spec(
            &dir,
            "[image]\nname = \"t\"\n[[files]]\nsrc = \"tree\"\ndst = \"/data\"\n",
            &[],
        );
        digests.push(build(&spec, &dir.join("out"), &[]));
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn source_date_epoch_sets_every_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let out = tmp.path().join("img");
    let d = ok(plinth()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "1700000000"));
    validate_image(&out);
    assert_ne!(d.trim(), HELLO_DIGEST);
    let j = inspect_json(&out);
    assert_eq!(j["images"][0]["created"], "2023-11-14T22:13:20Z");
    let d2 = build(
        &spec,
        &tmp.path().join("img2"),
        &["--source-date-epoch", "1700000000"],
    );
    assert_eq!(d.trim(), d2);
}

#[test]
fn every_output_format_holds_the_same_image() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let layout = tmp.path().join("layout");
    let oci_tar = tmp.path().join("img.tar");
    let docker_tar = tmp.path().join("docker.tar");
    let d1 = build(&spec, &layout, &[]);
    let d2 = build(&spec, &oci_tar, &[]); // .tar means oci-archive
    build(&spec, &docker_tar, &["--format", "docker-archive"]);
    assert_eq!(d1, d2);
    for img in [&layout, &oci_tar, &docker_tar] {
        let j = inspect_json(img);
        let i = &j["images"][0];
        assert_eq!(i["config"]["config"]["User"], "65532:65532", "{img:?}");
        assert_eq!(
            i["config"]["config"]["Entrypoint"][0],
            "/usr/local/bin/hello"
        );
        assert_eq!(i["platform"], "linux/amd64");
        let files: Vec<&str> = i["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert!(
            files.contains(&"/usr/local/bin/hello") && files.contains(&"/etc/passwd"),
            "{files:?}"
        );
    }
    // The docker-archive carries the same layers (diff_ids) and config.
    let a = inspect_json(&layout);
    let b = inspect_json(&docker_tar);
    assert_eq!(
        a["images"][0]["config_digest"],
        b["images"][0]["config_digest"]
    );
    assert_eq!(b["images"][0]["tag"], "hello:latest");
}

#[test]
fn multi_platform_spec_builds_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"multi\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\
         [[files]]\nsrc = \"a\"\ndst = \"/app\"\nplatforms = [\"linux/amd64\"]\n\
         [[files]]\nsrc = \"b\"\ndst = \"/app\"\nplatforms = [\"linux/arm64\"]\n",
        &[("a", b"amd64 build"), ("b", b"arm64 build")],
    );
    let out = tmp.path().join("out");
    build(&spec, &out, &[]);
    let j = inspect_json(&out);
    let plats = platforms(&j);
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );

    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(tmp.path().join("d.tar"))
            .args(["-f", "docker-archive"]),
        2,
    );
    assert!(
        err.contains("one platform") && err.contains("hint: add --platform"),
        "{err}"
    );
    assert!(!tmp.path().join("d.tar").exists());
    build(
        &spec,
        &tmp.path().join("d.tar"),
        &["-f", "docker-archive", "--platform", "linux/arm64"],
    );
    let j = inspect_json(&tmp.path().join("d.tar"));
    assert_eq!(j["images"][0]["platform"], "linux/arm64");
}

#[test]
fn failed_build_keeps_the_previous_output_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let outdir = tmp.path().join("out");
    fs_err::create_dir(&outdir).unwrap();
    let out = outdir.join("hello");
    let good = build(&spec, &out, &[]);
    // Same spec, now pointing at a file that is gone.
    fs_err::remove_file(tmp.path().join("src/hello")).unwrap();
    fails(plinth().arg("build").arg(&spec).arg("-o").arg(&out), 2);
    let j = inspect_json(&out);
    assert_eq!(j["images"][0]["digest"], good.as_str());
    assert!(leftovers(&outdir).is_empty(), "{:?}", leftovers(&outdir));
    // Rebuilding over an existing layout replaces it atomically.
    fs_err::copy(hello_example().join("hello"), tmp.path().join("src/hello")).unwrap();
    assert_eq!(build(&spec, &out, &[]), good);
    assert!(leftovers(&outdir).is_empty());
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let precious = tmp.path().join("home");
    fs_err::create_dir(&precious).unwrap();
    fs_err::write(precious.join("thesis.txt"), "years of work").unwrap();
    let err = fails(plinth().arg("build").arg(&spec).arg("-o").arg(&precious), 2);
    assert!(err.contains("refusing to replace"), "{err}");
    assert_eq!(
        fs_err::read_to_string(precious.join("thesis.txt")).unwrap(),
        "years of work"
    );
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn default_output_is_out_slash_name_in_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let d = ok(plinth().current_dir(tmp.path()).arg("build").arg(&spec));
    assert!(tmp.path().join("out/hello/oci-layout").is_file());
    validate_image(&tmp.path().join("out/hello"));
    assert_eq!(d.trim(), HELLO_DIGEST);
}

/// A build killed at any moment never leaves a partial image at the target, and the next
/// build sweeps away what the killed one left beside it.
#[test]
fn killed_build_leaves_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough incompressible data that writing takes a while.
    let mut data = vec![0u8; 24 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"big\"\n[[files]]\nsrc = \"blob\"\ndst = \"/blob\"\n",
        &[("blob", &data)],
    );
    let outdir = tmp.path().join("out");
    let start = std::time::Instant::now();
    build(&spec, &outdir.join("timing"), &[]);
    let full = start.elapsed().as_millis() as u64;
    // Writing happens at the end of a build: kill mostly there.
    for pct in [30u64, 80, 90, 95, 98, 100] {
        let delay_ms = full * pct / 100;
        let target = outdir.join(format!("img-{pct}"));
        let mut child = plinth()
            .arg("build")
            .arg(&spec)
            .arg("-q")
            .arg("-o")
            .arg(&target)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        // The kill can land after the final rename (while the process prints the
        // digest and exits): then the image must be whole, never partial.
        if target.exists() {
            assert!(
                target.join("index.json").is_file() && target.join("oci-layout").is_file(),
                "killed after {delay_ms} ms ({status}), {target:?} is partial"
            );
            validate_image(&target);
            ok(plinth().args(["sbom", "-f", "table"]).arg(&target));
        } else {
            assert!(!status.success(), "a successful build wrote nothing");
        }
    }
    // The next build cleans up after the killed ones.
    build(&spec, &outdir.join("final"), &[]);
    assert!(leftovers(&outdir).is_empty(), "{:?}", leftovers(&outdir));
}

/// A build killed while it replaced an earlier image could leave the new SBOM beside the
/// old image (the SBOMs were written first): whatever moment the kill lands, an SBOM
/// beside the output names the manifest of the image that is there, and the next build
/// removes what the killed ones left (`.plinth-old-*` directories were never removed).
#[test]
fn killed_rebuild_never_leaves_an_sbom_naming_another_image() {
    let tmp = tempfile::tempdir().unwrap();
    let noise = |seed: u64| {
        let mut data = vec![0u8; 24 << 20];
        let mut x = seed;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        data
    };
    let spec_text = "[image]\nname = \"big\"\n[[files]]\nsrc = \"blob\"\ndst = \"/blob\"\n";
    let specs: Vec<PathBuf> = [1u64, 2]
        .iter()
        .map(|&seed| {
            let dir = tmp.path().join(format!("spec{seed}"));
            fs_err::create_dir_all(&dir).unwrap();
            write_spec(
                &dir,
                spec_text,
                &[("blob", &noise(0x9e3779b97f4a7c15 ^ seed))],
            )
        })
        .collect();
    let outdir = tmp.path().join("out");
    let target = outdir.join("img");
    let sbom = outdir.join("img.spdx.json");
    let start = std::time::Instant::now();
    build(&specs[0], &target, &[]);
    let full = start.elapsed().as_millis() as u64;
    for (i, pct) in [50u64, 75, 85, 90, 95, 100, 110].into_iter().enumerate() {
        let mut child = plinth()
            .arg("build")
            .arg(&specs[(i + 1) % 2])
            .arg("-q")
            .arg("-o")
            .arg(&target)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(full * pct / 100));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            target.join("index.json").is_file(),
            "the output is gone after a kill"
        );
        validate_image(&target);
        if sbom.exists() {
            let digest = inspect_json(&target)["images"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string();
            let text = fs_err::read_to_string(&sbom).unwrap();
            assert!(
                text.contains(&digest),
                "killed at {pct}%: {} does not name the image there ({digest})",
                sbom.display()
            );
        }
    }
    build(&specs[0], &target, &[]);
    assert!(leftovers(&outdir).is_empty(), "{:?}", leftovers(&outdir));
}

/// Regression: a `src` directory copied onto a path that `[[dirs]]` also names used to
/// override the explicit mode and owner with 0755 root.
#[test]
fn explicit_dirs_keep_their_mode_under_a_copied_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\n[[dirs]]\npath = \"/etc/app\"\nmode = \"0750\"\nowner = \"nonroot\"\n\
         [[files]]\nsrc = \"conf\"\ndst = \"/etc/app\"\n",
        &[("conf/app.toml", b"x = 1\n")],
    );
    let out = tmp.path().join("out");
    build(&spec, &out, &[]);
    let j = inspect_json(&out);
    let dir = j["images"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/etc/app")
        .unwrap()
        .clone();
    assert_eq!(
        (dir["mode"].as_str(), dir["uid"].as_u64()),
        (Some("0750"), Some(65532))
    );
}

/// A layer larger than what is kept in memory (4 MiB) is spooled to a file in the
/// cache's `tmp/` and streamed into every output: the three formats hold the same image,
/// the layout's blob has the digest its manifest names (checked by `build`'s validation),
/// the files layer reads back byte for byte, and no spooled file is left in the cache.
#[test]
fn a_large_layer_is_streamed_into_every_format_and_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    // 9 MiB and a bit: several gzip members, not a multiple of the chunk size.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let big: Vec<u8> = (0..(9 << 20) + 12345)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Half noise, half text: some members compress, some do not.
            if (i >> 20) % 2 == 0 {
                x as u8
            } else {
                b"plinth "[i % 7]
            }
        })
        .collect();
    let spec = write_spec(
        tmp.path(),
        r#"
[image]
name = "big"

[[files]]
src = "big.bin"
dst = "/data/big.bin"
"#,
        &[("big.bin", &big)],
    );
    let cache = tmp.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    let layout = tmp.path().join("layout");
    let oci_tar = tmp.path().join("img.tar");
    let docker_tar = tmp.path().join("docker.tar");
    let args = ["--sbom", "none", "--cache-dir", cache_arg];
    let d1 = build(&spec, &layout, &args);
    let d2 = build(&spec, &oci_tar, &args);
    let mut docker_args = args.to_vec();
    docker_args.extend(["--format", "docker-archive"]);
    build(&spec, &docker_tar, &docker_args);
    assert_eq!(d1, d2);
    let a = inspect_json(&layout);
    let b = inspect_json(&docker_tar);
    assert_eq!(
        a["images"][0]["config_digest"],
        b["images"][0]["config_digest"]
    );
    let left: Vec<_> = fs_err::read_dir(cache.join("tmp"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the cache's tmp/: {left:?}");
    // The file comes back whole from the layout (umoci checks every digest and size).
    if have_tool("umoci") {
        let bundle = tmp.path().join("bundle");
        ok(Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle));
        assert!(fs_err::read(bundle.join("rootfs/data/big.bin")).unwrap() == big);
    }
}
