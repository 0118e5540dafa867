//! The Go and cargo-auditable catalogers on binaries built here by the real toolchains.
//!
//! Needs `go` (Debian: `apt-get install -y golang-go`) and `cargo auditable`
//! (`cargo install cargo-auditable --locked`). Without them the tests are skipped with a
//! notice, unless `CI=true`, where they fail. Nothing is fetched: the Go module has only a
//! local `replace`d dependency, and the Rust crate's one dependency (`itoa`, which the
//! workspace already uses) comes from the local registry cache (`--offline`).

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use plinth_oci::ImageFs;
use plinth_sbom::Package;
use plinth_sbom::catalog::{self, Cataloger, Context, Findings};

/// Whether to go on without `tool`: false (after a notice) outside CI, a panic in CI.
fn missing(tool: &str, install: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is needed by this test in CI; install it with: {install}");
    }
    eprintln!("SKIPPED: {tool} is not available (install it with: {install})");
    false
}

fn write(path: &Path, data: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, data).unwrap();
}

fn check(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `c` over a root filesystem holding `binary` at `at` (mode 0755).
fn catalog_binary(binary: &Path, at: &str, c: &dyn Cataloger) -> Findings {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join(at);
    fs_err::create_dir_all(dest.parent().unwrap()).unwrap();
    fs_err::copy(binary, &dest).unwrap();
    fs_err::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fs = ImageFs::from_dir(root.path(), &plinth_sbom::subject::fs_options()).unwrap();
    let owned = HashSet::new();
    let cx = Context {
        fs: &fs,
        distro: None,
        owned: &owned,
    };
    let mut out = Findings::default();
    c.catalog(&cx, &mut out);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    for p in &out.packages {
        assert_eq!(p.locations, [at]);
        assert_eq!(p.layer, Some(0));
    }
    out
}

fn find<'a>(pkgs: &'a [Package], name: &str) -> &'a Package {
    pkgs.iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {pkgs:#?}"))
}

#[test]
fn go_binary_with_a_local_replacement() {
    if Command::new("go").arg("version").output().is_err()
        && !missing("go", "apt-get install -y golang-go")
    {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = &t.path();
    write(
        &d.join("greet/go.mod"),
        "module example.com/greet\n\ngo 1.18\n",
    );
    write(
        &d.join("greet/greet.go"),
        "package greet\n\nfunc Hello() string { return \"hello\" }\n",
    );
    write(
        &d.join("hello/go.mod"),
        "module example.com/hello\n\ngo 1.18\n\n\
         require example.com/greet v0.0.0-00010101000000-000000000000\n\n\
         replace example.com/greet => ../greet\n",
    );
    write(
        &d.join("hello/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\n\
         func main() { fmt.Println(greet.Hello()) }\n",
    );
    let go = |args: &[&str]| {
        let mut c = Command::new("go");
        c.args(args)
            .current_dir(d.join("hello"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod -buildvcs=false")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .env("GOPATH", d.join("gopath"));
        if std::env::var_os("HOME").is_none() && std::env::var_os("GOCACHE").is_none() {
            c.env("GOCACHE", d.join("gocache"));
        }
        c
    };
    let version = check(&mut go(&["env", "GOVERSION"])).trim().to_string();
    let bin = d.join("hello-bin");
    check(&mut go(&[
        "build",
        "-ldflags=-s -w",
        "-o",
        bin.to_str().unwrap(),
        ".",
    ]));

    let out = catalog_binary(&bin, "usr/local/bin/hello", &catalog::golang::GoBinaries);
    let pkgs = &out.packages;
    assert_eq!(pkgs.len(), 3, "{pkgs:#?}");
    let main = find(pkgs, "example.com/hello");
    assert_eq!(main.version, "(devel)");
    assert_eq!(main.purl, "pkg:golang/example.com/hello@%28devel%29");
    // A replaced dependency is reported under its replacement, as syft does.
    let greet = find(pkgs, "../greet");
    assert_eq!(greet.version, "(devel)");
    assert_eq!(greet.purl, "pkg:golang/../greet@%28devel%29");
    let std = find(pkgs, "stdlib");
    assert_eq!(std.version, version);
    assert_eq!(
        std.purl,
        format!("pkg:golang/stdlib@{}", version.trim_start_matches("go"))
    );
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(main.arch.as_deref(), Some(arch));
    assert_eq!(main.metadata["go.main"], "example.com/hello");

    // The same binary with its section headers gone (as `sstrip` leaves it): the build
    // information is found by scanning the first writable segment.
    let mut bytes = fs_err::read(&bin).unwrap();
    if bytes[4] == 2 && bytes[5] == 1 {
        bytes[0x28..0x30].fill(0); // e_shoff
        bytes[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
        let stripped = d.join("hello-sstripped");
        fs_err::write(&stripped, &bytes).unwrap();
        let again = catalog_binary(&stripped, "bin/hello", &catalog::golang::GoBinaries);
        let names = |ps: &[Package]| ps.iter().map(|p| p.purl.clone()).collect::<Vec<_>>();
        assert_eq!(names(&again.packages), names(pkgs));
    }
}

#[test]
fn cargo_auditable_binary() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let available = Command::new(&cargo)
        .args(["auditable", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available && !missing("cargo auditable", "cargo install cargo-auditable --locked") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = &t.path();
    write(
        &d.join("Cargo.toml"),
        "[package]\nname = \"plinth-lang-probe\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"1\"\n\n[workspace]\n",
    );
    write(
        &d.join("src/main.rs"),
        "fn main() {\n    let mut b = itoa::Buffer::new();\n    println!(\"{}\", b.format(42u8));\n}\n",
    );
    check(
        Command::new(&cargo)
            .args(["auditable", "build", "--offline", "--quiet"])
            .current_dir(d)
            .env("CARGO_TARGET_DIR", d.join("target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET"),
    );
    let lock = fs_err::read_to_string(d.join("Cargo.lock")).unwrap();
    let itoa_version = lock
        .split("[[package]]")
        .find(|b| b.contains("name = \"itoa\""))
        .and_then(|b| b.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("itoa in Cargo.lock");

    let bin = d.join("target/debug/plinth-lang-probe");
    let out = catalog_binary(&bin, "usr/bin/probe", &catalog::rust::CargoAuditable);
    let pkgs = &out.packages;
    assert_eq!(pkgs.len(), 2, "{pkgs:#?}");
    let root = find(pkgs, "plinth-lang-probe");
    assert_eq!(root.purl, "pkg:cargo/plinth-lang-probe@0.3.1");
    assert_eq!(root.metadata["cargo.root"], "true");
    assert_eq!(root.metadata["cargo.source"], "local");
    let itoa = find(pkgs, "itoa");
    assert_eq!(itoa.purl, format!("pkg:cargo/itoa@{itoa_version}"));
    assert_eq!(itoa.metadata["cargo.source"], "crates.io");

    // Not a Go binary.
    let go = catalog_binary(&bin, "usr/bin/probe", &catalog::golang::GoBinaries);
    assert!(go.packages.is_empty());
}
