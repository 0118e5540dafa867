//! Debian-based images from the machine's configured mirror: every line of the
//! distroless checklist (`shared/reference/distroless-debian.md`) against each profile,
//! and proof with podman that the images work.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::common::*;
use crate::support::layout_digest as index_digest;

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache")
}

pub struct Built {
    pub tmp: tempfile::TempDir,
    pub out: PathBuf,
    spec: PathBuf,
}

impl Built {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// Unpacks the image with umoci (which checks every digest) and returns the rootfs.
    pub fn rootfs(&self) -> PathBuf {
        let bundle = self.dir().join("bundle");
        if !bundle.exists() {
            ok(Command::new("umoci")
                .arg("unpack")
                .arg("--image")
                .arg(format!("{}:latest", self.out.display()))
                .arg(&bundle));
        }
        bundle.join("rootfs")
    }

    fn inspect(&self) -> serde_json::Value {
        inspect_json(&self.out)
    }

    /// Runs the image, locked down, with podman; returns its stdout.
    fn run(&self) -> String {
        ok(podman(&self.dir().join("podman"))
            .current_dir(self.dir())
            .args(RUN_FLAGS)
            .arg("oci:out:latest"))
    }
}

/// Builds a spec for `profile` (plus `extra` TOML and files). `None` when the Debian
/// mirror cannot be reached and this is not CI.
pub fn build_profile(profile: &str, extra: &str, files: &[(&str, &[u8])]) -> Option<Built> {
    if !have_tool("umoci") {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        &format!("[image]\nname = \"{profile}\"\nprofile = \"{profile}\"\n{extra}"),
        files,
    );
    let out = tmp.path().join("out");
    let o = run(plinth()
        .arg("build")
        .arg(&spec)
        .arg("-q")
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(cache_dir()));
    if !o.status.success() {
        let err = stderr(&o);
        let offline = err.contains("cannot read the package index") || err.contains("cannot fetch");
        if offline && std::env::var("CI").as_deref() != Ok("true") {
            eprintln!("SKIPPED: the Debian mirror of the apt sources cannot be reached:\n{err}");
            return None;
        }
        panic!("plinth build of profile {profile} failed:\n{err}");
    }
    validate_image(&out);
    Some(Built { tmp, out, spec })
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs_err::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

fn owner(p: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = fs_err::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

fn read(root: &Path, p: &str) -> String {
    fs_err::read_to_string(root.join(p.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Every point of the distroless reference, for one profile.
fn checklist(profile: &str, expected: &[&str], forbidden: &[&str]) {
    let Some(b) = build_profile(profile, "", &[]) else {
        return;
    };
    let root = b.rootfs();
    // Packages: each has its status.d entry and md5sums; nothing else stands in for dpkg.
    for pkg in expected {
        let status = read(&root, &format!("var/lib/dpkg/status.d/{pkg}"));
        assert!(
            status.starts_with(&format!("Package: {pkg}\n")),
            "{profile}: {pkg}"
        );
        assert!(
            status.contains("\nVersion: ") && status.contains("\nArchitecture: "),
            "{profile}: {pkg}"
        );
        assert!(
            root.join(format!("var/lib/dpkg/status.d/{pkg}.md5sums"))
                .is_file(),
            "{profile}: {pkg}.md5sums"
        );
    }
    for pkg in forbidden {
        assert!(
            !root.join(format!("var/lib/dpkg/status.d/{pkg}")).exists(),
            "{profile} must not hold {pkg}"
        );
    }
    assert!(!root.join("var/lib/dpkg/status").exists());
    // Accounts, exactly.
    assert_eq!(
        read(&root, "/etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
    );
    assert_eq!(
        read(&root, "/etc/group"),
        "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
    );
    assert_eq!(mode(&root.join("etc/passwd")), 0o644);
    assert_eq!(mode(&root.join("etc/group")), 0o644);
    assert!(!root.join("etc/shadow").exists());
    assert!(!root.join("sbin/nologin").exists());
    // Directories.
    assert_eq!(
        (mode(&root.join("root")), owner(&root.join("root"))),
        (0o700, (0, 0))
    );
    assert_eq!(mode(&root.join("home")), 0o755);
    assert_eq!(
        (
            mode(&root.join("home/nonroot")),
            owner(&root.join("home/nonroot"))
        ),
        (0o700, (65532, 65532))
    );
    assert_eq!(
        (mode(&root.join("tmp")), owner(&root.join("tmp"))),
        (0o1777, (0, 0))
    );
    // nsswitch.conf.
    let ns = read(&root, "/etc/nsswitch.conf");
    for line in [
        "passwd:         compat",
        "group:          compat",
        "shadow:         compat",
        "gshadow:        files",
        "hosts:          files dns",
        "networks:       files",
        "protocols:      db files",
        "services:       db files",
        "ethers:         db files",
        "rpc:            db files",
        "netgroup:       nis",
    ] {
        assert!(
            ns.lines().any(|l| l == line),
            "nsswitch.conf lacks `{line}`"
        );
    }
    // os-release: Debian's identity exactly, Plinth's own name.
    let os = read(&root, "/usr/lib/os-release");
    for line in [
        "ID=\"debian\"",
        "VERSION_ID=\"12\"",
        "VERSION=\"Debian GNU/Linux 12 (bookworm)\"",
        "NAME=\"Debian GNU/Linux\"",
    ] {
        assert!(
            os.lines().any(|l| l == line),
            "os-release lacks `{line}`:\n{os}"
        );
    }
    assert!(os.contains("PRETTY_NAME=\"Plinth"), "{os}");
    assert_eq!(
        fs_err::read_link(root.join("etc/os-release")).unwrap(),
        Path::new("../usr/lib/os-release")
    );
    // The CA bundle is derived, not installed.
    let bundle = root.join("etc/ssl/certs/ca-certificates.crt");
    assert_eq!(mode(&bundle), 0o644);
    let pem = fs_err::read_to_string(&bundle).unwrap();
    assert!(
        pem.matches("-----BEGIN CERTIFICATE-----").count() > 100,
        "bundle holds the Mozilla roots"
    );
    assert_eq!(
        fs_err::read_dir(root.join("etc/ssl/certs"))
            .unwrap()
            .count(),
        1,
        "no per-certificate links"
    );
    assert!(
        root.join("usr/share/doc/ca-certificates/copyright")
            .is_file()
    );
    assert!(!root.join("usr/share/ca-certificates").exists());
    // What upstream's own tests assert.
    for p in [
        "etc/services",
        "usr/share/doc/tzdata/copyright",
        "usr/share/zoneinfo/UTC",
    ] {
        assert!(root.join(p).exists(), "{profile}: /{p}");
    }
    // No shell, no package manager.
    for p in [
        "bin/sh",
        "bin/bash",
        "bin/dash",
        "usr/bin/dpkg",
        "usr/bin/apt",
    ] {
        assert!(!root.join(p).exists(), "{profile} must not have /{p}");
    }
    // Config.
    let j = b.inspect();
    let cfg = &j["images"][0]["config"]["config"];
    assert_eq!(cfg["User"], "65532:65532");
    assert_eq!(
        cfg["WorkingDir"], "/home/nonroot",
        "as distroless's :nonroot variant"
    );
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(env.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    assert!(env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"));
    // One layer per package, plus the system layer.
    let layers = j["images"][0]["layers"].as_array().unwrap().len();
    assert!(
        layers > expected.len(),
        "{layers} layers for {} packages",
        expected.len()
    );
    // The lock pins every package with its hash.
    let lock = fs_err::read_to_string(b.spec.with_file_name("plinth.lock")).unwrap();
    for pkg in expected {
        assert!(
            lock.contains(&format!("name = \"{pkg}\"")),
            "lock lacks {pkg}"
        );
    }
}

const STATIC: &[&str] = &[
    "base-files",
    "netbase",
    "tzdata",
    "media-types",
    "ca-certificates",
];

#[test]
fn profile_static_matches_distroless() {
    checklist(
        "static",
        STATIC,
        &["libc6", "libssl3", "openssl", "debconf", "mawk"],
    );
}

#[test]
fn profile_base_nossl_matches_distroless() {
    checklist(
        "base-nossl",
        &[STATIC, &["libc6"]].concat(),
        &["libssl3", "openssl"],
    );
}

#[test]
fn profile_base_matches_distroless() {
    checklist(
        "base",
        &[STATIC, &["libc6", "libssl3"]].concat(),
        &["openssl", "libstdc++6"],
    );
}

#[test]
fn profile_cc_matches_distroless() {
    checklist(
        "cc",
        &[
            STATIC,
            &[
                "libc6",
                "libssl3",
                "libgcc-s1",
                "libgomp1",
                "libstdc++6",
                "gcc-12-base",
            ],
        ]
        .concat(),
        &["openssl"],
    );
}

/// Runs `openssl s_server` for `localhost` on a free loopback port until dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &str) {
    ok(Command::new("sh")
        .arg("-c")
        .arg(format!("openssl {args}"))
        .current_dir(dir));
}

/// A throwaway CA and a server certificate for `localhost` signed by it.
fn test_ca(dir: &Path) {
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Plinth Test CA' 2>/dev/null",
    );
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' 2>/dev/null",
    );
    fs_err::write(dir.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        "x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext 2>/dev/null",
    );
}

fn tls_server(dir: &Path) -> TlsServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "srv.pem",
            "-key",
            "srv.key",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    TlsServer { child, port }
}

fn compile(dir: &Path, cmd: &str) {
    ok(Command::new("sh").arg("-c").arg(cmd).current_dir(dir));
}

fn fixture(name: &str) -> Vec<u8> {
    fs_err::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/programs")
            .join(name),
    )
    .unwrap()
}

/// A C program linked against glibc and OpenSSL runs in `base`, read-only, with no
/// capabilities, as 65532, and verifies a local TLS server with the image's CA bundle
/// (holding a test CA added through the spec). Without that CA, verification fails.
#[test]
fn base_runs_a_tls_client_verified_by_the_image_ca_bundle() {
    if !have_tool("podman") || !have_tool("openssl") || !have_tool("gcc") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    fs_err::write(work.path().join("tls_client.c"), fixture("tls_client.c")).unwrap();
    compile(
        work.path(),
        "gcc -O2 -o tls_client tls_client.c -lssl -lcrypto",
    );
    test_ca(work.path());
    let client = fs_err::read(work.path().join("tls_client")).unwrap();
    let ca = fs_err::read(work.path().join("ca.pem")).unwrap();
    let server = tls_server(work.path());
    let files = "[[files]]\nsrc = \"tls_client\"\ndst = \"/usr/local/bin/tls_client\"\nmode = \"0755\"\n\
                 [config]\nentrypoint = [\"/usr/local/bin/tls_client\"]\n";
    let run_in = |b: &Built| {
        let store = b.dir().join("podman");
        let mut c = podman(&store);
        c.current_dir(b.dir()).args([
            "run",
            "--rm",
            "--read-only",
            "--cap-drop=ALL",
            "--network",
            "host",
        ]);
        c.args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "oci:out:latest",
        ]);
        run(c.arg(server.port.to_string()))
    };
    let Some(with_ca) = build_profile(
        "base",
        &format!("{files}[debian]\nca-certificates = [\"ca.pem\"]\n"),
        &[("tls_client", &client), ("ca.pem", &ca)],
    ) else {
        return;
    };
    let o = run_in(&with_ca);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("uid=65532 gid=65532\nverified TLSv1.3"),
        "{out}"
    );
    let Some(without) = build_profile("base", files, &[("tls_client", &client)]) else {
        return;
    };
    let o = run_in(&without);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("handshake failed: unable to get local issuer certificate"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn cc_runs_a_cpp_program() {
    if !have_tool("podman") || !have_tool("g++") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    fs_err::write(work.path().join("hello_cc.cpp"), fixture("hello_cc.cpp")).unwrap();
    compile(work.path(), "g++ -O2 -o hello_cc hello_cc.cpp");
    let bin = fs_err::read(work.path().join("hello_cc")).unwrap();
    let files = "[[files]]\nsrc = \"hello_cc\"\ndst = \"/hello_cc\"\nmode = \"0755\"\n[config]\nentrypoint = [\"/hello_cc\"]\n";
    let Some(b) = build_profile("cc", files, &[("hello_cc", &bin)]) else {
        return;
    };
    let out = b.run();
    assert_eq!(out, "hello from c++\nexceptions work\n");
}

#[test]
fn static_runs_a_static_binary_and_has_no_libc() {
    if !have_tool("podman") {
        return;
    }
    let bin = fs_err::read(hello_example().join("hello")).unwrap();
    let files = "[[files]]\nsrc = \"hello\"\ndst = \"/hello\"\nmode = \"0755\"\n[config]\nentrypoint = [\"/hello\"]\n";
    let Some(b) = build_profile("static", files, &[("hello", &bin)]) else {
        return;
    };
    let out = b.run();
    assert_eq!(out, "hello from plinth: uid=65532 gid=65532\n");
    let root = b.rootfs();
    assert!(!root.join("var/lib/dpkg/status.d/libc6").exists());
    let libc = [
        "lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "lib64/ld-linux-x86-64.so.2",
    ];
    assert!(libc.iter().all(|p| !root.join(p).exists()));
}

/// amd64 and arm64 from one spec into one index: packages fetched per architecture,
/// nothing executed. Then `why`, a stale lock, and `lock --update`.
#[test]
fn multi_arch_index_lock_why_and_stale_lock() {
    let Some(b) = build_profile(
        "base-nossl",
        "platforms = [\"linux/amd64\", \"linux/arm64\"]\n",
        &[],
    ) else {
        return;
    };
    let j = b.inspect();
    let plats = platforms(&j);
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    let files = |i: usize| -> Vec<String> {
        j["images"][i]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        files(0)
            .iter()
            .any(|p| p == "/lib/x86_64-linux-gnu/libc.so.6")
    );
    assert!(
        files(1)
            .iter()
            .any(|p| p == "/lib/aarch64-linux-gnu/libc.so.6")
    );
    // Architecture-independent packages give the very same layer on both platforms.
    let layer = |i: usize, name: &str| -> String {
        let ls = j["images"][i]["layers"].as_array().unwrap();
        ls.iter()
            .find(|l| l["comment"].as_str().unwrap().starts_with(name))
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(layer(0, "tzdata "), layer(1, "tzdata "));
    assert_ne!(layer(0, "libc6 "), layer(1, "libc6 "));

    // With the lock and a warm cache, no index and no network are needed: the same image
    // comes out with a mirror that does not answer.
    let offline = b.dir().join("offline");
    let d = ok(plinth()
        .arg("build")
        .arg(&b.spec)
        .arg("-q")
        .arg("-o")
        .arg(&offline)
        .args(["--mirror", "http://127.0.0.1:9/unreachable", "--cache-dir"])
        .arg(cache_dir()));
    validate_image(&offline);
    assert_eq!(d.trim(), index_digest(&b.out));
    assert!(
        !fs_err::read_to_string(b.spec.with_file_name("plinth.lock"))
            .unwrap()
            .contains("mirror")
    );

    let why = ok(plinth().args(["why", "libgcc-s1"]).arg(&b.spec));
    assert!(
        why.contains("linux/amd64: libgcc-s1 ") && why.contains(": libc6 -> libgcc-s1"),
        "{why}"
    );
    let why = ok(plinth().args(["why", "libc6"]).arg(&b.spec));
    assert!(why.contains("requested by the spec"), "{why}");
    let err = fails(plinth().args(["why", "bash"]).arg(&b.spec), 2);
    assert!(err.contains("bash is not in the image"), "{err}");

    // The spec changes: the lock no longer matches, and the build says what to do.
    let text = fs_err::read_to_string(&b.spec).unwrap();
    fs_err::write(
        &b.spec,
        text.replace("profile = \"base-nossl\"", "profile = \"base\""),
    )
    .unwrap();
    let out2 = b.dir().join("out2");
    let err = fails(
        plinth()
            .arg("build")
            .arg(&b.spec)
            .arg("-o")
            .arg(&out2)
            .arg("--cache-dir")
            .arg(cache_dir()),
        2,
    );
    assert!(
        err.contains("was written for another version of the spec")
            && err.contains("plinth lock --update"),
        "{err}"
    );
    assert!(!out2.exists());
    let o = run(plinth()
        .args(["lock", "--update"])
        .arg(&b.spec)
        .arg("--cache-dir")
        .arg(cache_dir()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("linux/amd64: + libssl3"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with("linux/arm64\tlibssl3\t")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_package_that_does_not_exist_is_a_clear_error_and_writes_nothing() {
    if !have_tool("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"x\"\n[debian]\npackages = [\"libc6\", \"plinth-no-such-package\"]\n",
        &[],
    );
    let out = tmp.path().join("out");
    let o = run(plinth()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .arg("--cache-dir")
        .arg(cache_dir()));
    let err = stderr(&o);
    if err.contains("cannot read the package index") && std::env::var("CI").as_deref() != Ok("true")
    {
        eprintln!("SKIPPED: the Debian mirror cannot be reached");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot resolve the packages") && err.contains("plinth-no-such-package"),
        "{err}"
    );
    assert!(!out.exists() && !tmp.path().join("plinth.lock").exists());
}

/// distroless's default (root) variant: `run-as = "root"` gives User 0 and WorkingDir /.
#[test]
fn root_variant_matches_distroless_default() {
    let Some(b) = build_profile("static", "run-as = \"root\"\n", &[]) else {
        return;
    };
    let cfg = b.inspect()["images"][0]["config"]["config"].clone();
    assert_eq!(
        (cfg["User"].as_str(), cfg["WorkingDir"].as_str()),
        (Some("0:0"), Some("/"))
    );
}

#[test]
fn an_armoured_key_in_the_spec_that_is_not_a_key_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[debian]\nkeys = [\"\"\"\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n\"\"\"]\n",
        &[],
    );
    let err = fails(
        plinth()
            .arg("lock")
            .arg(&spec)
            .arg("--cache-dir")
            .arg(cache_dir()),
        2,
    );
    assert!(
        err.contains("cannot read the armoured key written in the spec"),
        "{err}"
    );
    assert!(!tmp.path().join("plinth.lock").exists());
}

/// Copies `examples/NAME` (spec and lock) into `dir`; returns the spec's path.
pub fn copy_debian_example(name: &str, dir: &Path) -> PathBuf {
    let src = repo_root().join("examples").join(name);
    let dst = dir.join(name);
    fs_err::create_dir_all(&dst).unwrap();
    for f in ["plinth.toml", "plinth.lock"] {
        fs_err::copy(src.join(f), dst.join(f)).unwrap();
    }
    dst.join("plinth.toml")
}

/// Runs `plinth build SPEC -o OUT` with the test cache; `None` (skipped) when the mirror
/// of the apt sources cannot be reached and this is not CI.
fn build_example(spec: &Path, out: &Path, extra: &[&str]) -> Option<std::process::Output> {
    let o = run(plinth()
        .arg("build")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--cache-dir")
        .arg(cache_dir()));
    let err = stderr(&o);
    let offline = err.contains("cannot read the package index") && err.contains("cannot fetch")
        || err.contains("cannot fetch the packages");
    if offline && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPED: the Debian mirror of the apt sources cannot be reached:\n{err}");
        return None;
    }
    Some(o)
}

/// Issue 13, point 9: a trixie build on a machine whose apt sources list bookworm went
/// on without trixie-security ("not on the mirror ... skipping it", exit 0). The security
/// archive is found the way apt finds it (any release's `*-security` entry gives its
/// base URI), and a security suite that is nowhere to be found is an error, unless the
/// user says to go without it. Bookworm and trixie, side by side, from their locks.
#[test]
fn trixie_built_without_its_security_updates() {
    let tmp = tempfile::tempdir().unwrap();
    for (example, codename, version) in
        [("base", "bookworm", "12"), ("base-trixie", "trixie", "13")]
    {
        let spec = copy_debian_example(example, tmp.path());
        let lock = fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap();
        assert!(
            lock.contains(&format!("[[suite]]\nname = \"{codename}-security\"\n")),
            "{example}: the lock names the security suite"
        );
        let out = tmp.path().join(format!("out-{example}"));
        let Some(o) = build_example(&spec, &out, &["-q"]) else {
            return;
        };
        assert!(o.status.success(), "{example}: {}", stderr(&o));
        validate_image(&out);
        assert_eq!(
            platforms(&inspect_json(&out)),
            ["linux/amd64", "linux/arm64"]
        );
        for platform in ["linux/amd64", "linux/arm64"] {
            let sbom: serde_json::Value = serde_json::from_str(&ok(plinth()
                .arg("sbom")
                .arg(&out)
                .args(["--platform", platform, "-f", "json"])))
            .unwrap();
            assert_eq!(
                sbom["distro"]["version_id"], version,
                "{example} {platform}"
            );
            assert_eq!(sbom["distro"]["codename"], codename, "{example} {platform}");
        }
    }

    // Resolving trixie again with the security archive where it is not: exit 2, a hint,
    // nothing written.
    let spec = copy_debian_example("base-trixie", &tmp.path().join("again"));
    let lock = spec.with_file_name("plinth.lock");
    fs_err::remove_file(&lock).unwrap();
    let nowhere = format!(
        "file://{}",
        tmp.path().join("no-security-archive").display()
    );
    let out = tmp.path().join("out-nowhere");
    let Some(o) = build_example(&spec, &out, &["--security-mirror", &nowhere]) else {
        return;
    };
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("security suite trixie-security is not at file://")
            && err.contains("hint: ")
            && err.contains("--no-security"),
        "{err}"
    );
    assert!(!out.exists() && !lock.exists());

    // Said explicitly, it builds without: a warning, and a lock without the suite.
    let Some(o) = build_example(&spec, &out, &["--no-security"]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: building without Debian's security updates"),
        "{}",
        stderr(&o)
    );
    let text = fs_err::read_to_string(&lock).unwrap();
    assert!(!text.contains("trixie-security"), "{text}");
    // That lock does not serve the spec without the flag.
    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(tmp.path().join("out-stale"))
            .arg("--cache-dir")
            .arg(cache_dir()),
        2,
    );
    assert!(err.contains("security setting changed"), "{err}");

    // A lock resolved without the security suite by an older plinth (same inputs) is
    // refused, not built from.
    let shipped =
        fs_err::read_to_string(repo_root().join("examples/base-trixie/plinth.lock")).unwrap();
    let start = shipped
        .find("[[suite]]\nname = \"trixie-security\"")
        .unwrap();
    let end = start + shipped[start..].find("\n\n").unwrap() + 2;
    let without = format!("{}{}", &shipped[..start], &shipped[end..]);
    fs_err::write(
        &lock,
        without.replace("suite = \"trixie-security\"", "suite = \"trixie\""),
    )
    .unwrap();
    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(tmp.path().join("out-old-lock"))
            .arg("--cache-dir")
            .arg(cache_dir()),
        2,
    );
    assert!(
        err.contains("was resolved without the security suite trixie-security")
            && err.contains("plinth lock --update"),
        "{err}"
    );
}

/// `plinth build SPEC -o OUT --cache-dir CACHE`; `None` (skipped) when the mirror of the
/// apt sources cannot be reached and this is not CI.
fn build_cached(
    spec: &Path,
    out: &Path,
    cache: &Path,
    extra: &[&str],
) -> Option<std::process::Output> {
    let o = run(plinth()
        .arg("build")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--cache-dir")
        .arg(cache));
    let err = stderr(&o);
    if err.contains("cannot fetch the packages") && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPED: the Debian mirror of the apt sources cannot be reached:\n{err}");
        return None;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    Some(o)
}

/// The digest the README prints for `plinth build examples/base/plinth.toml`.
fn readme_base_digest() -> String {
    let readme = fs_err::read_to_string(repo_root().join("README.md")).unwrap();
    let at = readme
        .find("$ plinth build examples/base/plinth.toml\n")
        .unwrap();
    readme[at..].lines().nth(1).unwrap().to_string()
}

/// The files of `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Issue 13, point 8: a warm build decoded every `.deb` and compressed every layer again
/// (64% of its CPU). Each package's finished layer is now kept in the package cache by
/// its inputs. Proves: the warm build gives the cold build's (the README's) digest
/// without reading a single `.deb`; a corrupted layer blob or record is detected, rebuilt
/// and repaired, never used; a changed input (SOURCE_DATE_EPOCH, `keep-docs`) misses.
#[test]
fn package_layers_are_cached_by_their_inputs_and_a_corrupt_entry_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_debian_example("base", tmp.path());
    let cache = tmp.path().join("cache");
    let Some(o) = build_cached(&spec, &tmp.path().join("cold"), &cache, &["-q"]) else {
        return;
    };
    let golden = readme_base_digest();
    assert_eq!(
        stdout(&o).trim(),
        golden,
        "the cold build gives the README's digest"
    );
    let lock = fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap();
    let mut debs: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("sha256 = \"")?.strip_suffix('"'))
        .collect();
    debs.sort();
    debs.dedup();
    let records = cache.join("derived/package-layer");
    assert_eq!(
        files_in(&records).len(),
        debs.len(),
        "one cached layer per distinct .deb (an `all` package serves both platforms)"
    );

    // Warm, with no .deb in the cache and a mirror that does not answer: every layer
    // comes from the cache, and the image is the same.
    for sha in &debs {
        fs_err::remove_file(cache.join("blobs/sha256").join(sha)).unwrap();
    }
    let warm = tmp.path().join("warm");
    let o = build_cached(
        &spec,
        &warm,
        &cache,
        &["-q", "--mirror", "http://127.0.0.1:9/debian"],
    )
    .unwrap();
    assert_eq!(stdout(&o).trim(), golden);
    validate_image(&warm);

    // A flipped byte in one layer's blob, and a damaged record of another: both are
    // noticed and rebuilt from their .debs (fetched again), with the same digest.
    let entries = files_in(&records);
    let record = fs_err::read_to_string(&entries[0]).unwrap();
    let blob_digest = record.lines().nth(3).unwrap();
    let blob = cache
        .join("blobs/sha256")
        .join(blob_digest.strip_prefix("sha256:").unwrap());
    let mut bytes = fs_err::read(&blob).unwrap();
    bytes[20] ^= 0x55;
    fs_err::write(&blob, &bytes).unwrap();
    let mut bytes = fs_err::read(&entries[1]).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x01;
    fs_err::write(&entries[1], &bytes).unwrap();
    let o = build_cached(&spec, &tmp.path().join("repaired"), &cache, &[]).unwrap();
    assert_eq!(stdout(&o).trim(), golden);
    assert!(
        stderr(&o).contains(&format!("{} is corrupt", blob.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        format!("sha256:{}", sha256_hex(&fs_err::read(&blob).unwrap())),
        blob_digest,
        "the corrupt blob was rebuilt"
    );
    assert_eq!(files_in(&records), entries);

    // A changed input is a different layer: new entries, another digest.
    let o = build_cached(
        &spec,
        &tmp.path().join("epoch"),
        &cache,
        &["-q", "--source-date-epoch", "1"],
    )
    .unwrap();
    let epoch_digest = stdout(&o).trim().to_string();
    assert_ne!(epoch_digest, golden);
    assert_eq!(files_in(&records).len(), 2 * debs.len());
    let text = fs_err::read_to_string(&spec).unwrap();
    fs_err::write(
        &spec,
        text.replace("[debian]\n", "[debian]\nkeep-docs = true\n"),
    )
    .unwrap();
    let o = build_cached(&spec, &tmp.path().join("docs"), &cache, &["-q"]).unwrap();
    let docs_digest = stdout(&o).trim().to_string();
    assert!(docs_digest != golden && docs_digest != epoch_digest);
    assert_eq!(files_in(&records).len(), 3 * debs.len());
}
