//! A throwaway signed apt repository for tests: an Ed25519 key generated from a fixed
//! seed, tiny `.deb`s built in memory, `Packages` (+ `.xz` / `.gz`), a `Release` with
//! SHA256 lines and a clearsigned `InRelease`, laid out as a Debian mirror in a temp dir
//! and served over HTTP from 127.0.0.1 by a minimal server that counts requests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::Password;
use plinth_core::progress::Reporter;
use plinth_deb::keyring::Keyring;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

/// `Date` of every generated release, and `Valid-Until` a week later.
pub const DATE: &str = "Sat, 21 Nov 2026 00:53:02 UTC";
pub const DATE_SECS: u64 = 1_795_222_382;
pub const VALID_UNTIL: &str = "Sat, 28 Nov 2026 00:53:02 UTC";

/// A moment inside the validity window of the generated releases.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(DATE_SECS + 3600)
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// ---- keys -------------------------------------------------------------------------

pub fn key(seed: u64) -> SignedSecretKey {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("Plinth Test Archive <archive@plinth.example>".into());
    params.build().unwrap().generate(&mut rng).unwrap()
}

pub fn keyring(key: &SignedSecretKey) -> Keyring {
    let public = SignedPublicKey::from(key.clone());
    Keyring::from_bytes(&public.to_bytes().unwrap(), "test key").unwrap()
}

pub fn fingerprint(key: &SignedSecretKey) -> String {
    use pgp::types::KeyDetails;
    format!("{:X}", key.fingerprint())
}

pub fn clearsign(key: &SignedSecretKey, text: &str) -> String {
    let rng = ChaCha8Rng::seed_from_u64(7);
    CleartextSignedMessage::sign(rng, text, &key.primary_key, &Password::empty())
        .unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap()
}

pub fn detached_sign(key: &SignedSecretKey, data: &[u8]) -> String {
    let rng = ChaCha8Rng::seed_from_u64(7);
    DetachedSignature::sign_binary_data(
        rng,
        &key.primary_key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        data,
    )
    .unwrap()
    .to_armored_string(ArmorOptions::default())
    .unwrap()
}

// ---- .deb -------------------------------------------------------------------------

/// An `ar` archive (the `.deb` container).
pub fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    plinth_deb::debfile::ar_archive(members)
}

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut x = liblzma::write::XzEncoder::new(Vec::new(), 6);
    x.write_all(data).unwrap();
    x.finish().unwrap()
}

/// A package of the test repository.
#[derive(Debug, Clone)]
pub struct TestDeb {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub depends: Option<String>,
    pub bytes: Vec<u8>,
}

impl TestDeb {
    /// A minimal valid `.deb` holding `usr/share/doc/<name>/README`.
    pub fn new(name: &str, version: &str, arch: &str) -> TestDeb {
        let control = format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
             Maintainer: Plinth Test <test@plinth.example>\nDescription: test package {name}\n"
        );
        let control_tar = gzip(&tar(&[("./control", control.as_bytes())]));
        let readme = format!("{name} {version}\n");
        let data_tar = gzip(&tar(&[(
            &format!("./usr/share/doc/{name}/README"),
            readme.as_bytes(),
        )]));
        let bytes = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", &control_tar),
            ("data.tar.gz", &data_tar),
        ]);
        TestDeb {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            depends: None,
            bytes,
        }
    }

    pub fn file_name(&self) -> String {
        format!("{}_{}_{}.deb", self.name, self.version, self.arch)
    }

    /// `pool/main/<first letter>/<name>/<file>`.
    pub fn pool_path(&self) -> String {
        format!(
            "pool/main/{}/{}/{}",
            &self.name[..1],
            self.name,
            self.file_name()
        )
    }

    fn paragraph(&self) -> String {
        let mut p = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\n",
            self.name, self.version, self.arch
        );
        if let Some(d) = &self.depends {
            p.push_str(&format!("Depends: {d}\n"));
        }
        p.push_str(&format!(
            "Priority: optional\nFilename: {}\nSize: {}\nSHA256: {}\nDescription: test package {}\n",
            self.pool_path(),
            self.bytes.len(),
            sha256(&self.bytes),
            self.name
        ));
        p
    }
}

// ---- repository -------------------------------------------------------------------

/// How a suite is written.
#[derive(Debug, Clone)]
pub struct SuiteSpec {
    pub suite: String,
    pub debs: Vec<TestDeb>,
    /// Packages of `binary-all` written as a separate index (none: no binary-all index).
    pub all_debs: Vec<TestDeb>,
    /// Writes `No-Support-for-Architecture-all: Packages`.
    pub no_support_all: bool,
    pub valid_until: Option<String>,
    /// `xz` or `gz`: the compressed index written (the plain one is always listed).
    pub compression: &'static str,
    /// Sign with a detached `Release.gpg` and write no `InRelease`.
    pub detached: bool,
    /// `Architectures` to write instead of the ones that have packages.
    pub architectures: Option<&'static str>,
}

impl SuiteSpec {
    pub fn new(suite: &str, debs: Vec<TestDeb>) -> SuiteSpec {
        SuiteSpec {
            suite: suite.into(),
            debs,
            all_debs: Vec::new(),
            no_support_all: false,
            valid_until: Some(VALID_UNTIL.into()),
            compression: "xz",
            detached: false,
            architectures: None,
        }
    }
}

/// Writes `spec` under `root` as a Debian mirror, signed with `key`. Returns the bytes of
/// the file whose hash identifies the suite (`InRelease`, or `Release` when detached).
pub fn write_suite(root: &Path, key: &SignedSecretKey, spec: &SuiteSpec) -> Vec<u8> {
    let dist = root.join("dists").join(&spec.suite);
    let mut hashes = String::new();
    let mut indexes = vec![("amd64", &spec.debs)];
    if !spec.all_debs.is_empty() {
        indexes.push(("all", &spec.all_debs));
    }
    for (arch, debs) in indexes {
        let mut packages = String::new();
        for deb in debs.iter() {
            if !packages.is_empty() {
                packages.push('\n');
            }
            packages.push_str(&deb.paragraph());
            let pool = root.join(deb.pool_path());
            fs_err::create_dir_all(pool.parent().unwrap()).unwrap();
            fs_err::write(pool, &deb.bytes).unwrap();
        }
        let dir = format!("main/binary-{arch}");
        let compressed = match spec.compression {
            "gz" => gzip(packages.as_bytes()),
            _ => xz(packages.as_bytes()),
        };
        let files = [
            ("Packages".to_string(), packages.into_bytes(), false),
            (format!("Packages.{}", spec.compression), compressed, true),
        ];
        fs_err::create_dir_all(dist.join(&dir)).unwrap();
        for (name, data, write) in files {
            // Like Debian: the plain index is listed but not published.
            if write {
                fs_err::write(dist.join(&dir).join(&name), &data).unwrap();
            }
            hashes.push_str(&format!(" {} {} {dir}/{name}\n", sha256(&data), data.len()));
        }
    }
    let mut release = format!(
        "Origin: Plinth Test\nLabel: Plinth Test\nSuite: {0}\nCodename: {0}\nDate: {DATE}\n",
        spec.suite
    );
    if let Some(v) = &spec.valid_until {
        release.push_str(&format!("Valid-Until: {v}\n"));
    }
    if spec.no_support_all {
        release.push_str("No-Support-for-Architecture-all: Packages\n");
    }
    let archs = match spec.architectures {
        Some(a) => a,
        None if spec.all_debs.is_empty() => "amd64",
        None => "all amd64",
    };
    release.push_str(&format!(
        "Architectures: {archs}\nComponents: main\nDescription: plinth test\nSHA256:\n{hashes}"
    ));
    if spec.detached {
        fs_err::write(dist.join("Release"), &release).unwrap();
        fs_err::write(
            dist.join("Release.gpg"),
            detached_sign(key, release.as_bytes()),
        )
        .unwrap();
        release.into_bytes()
    } else {
        let signed = clearsign(key, &release);
        fs_err::write(dist.join("InRelease"), &signed).unwrap();
        signed.into_bytes()
    }
}

// ---- server -----------------------------------------------------------------------

/// What the server answers for a path instead of the file.
#[derive(Debug, Clone, Copy)]
pub enum Override {
    /// An endless body announced by a huge `Content-Length`.
    HugeWithLength,
    /// An endless chunked body, size not announced.
    HugeChunked,
    Status(u16),
}

/// A minimal HTTP/1.1 GET server over a directory, on 127.0.0.1 and an ephemeral port.
/// Runs until the test process ends.
pub struct Server {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    overrides: Arc<Mutex<HashMap<String, Override>>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let overrides = Arc::new(Mutex::new(HashMap::new()));
        let (root, reqs, ovr) = (root.to_path_buf(), requests.clone(), overrides.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (root, reqs, ovr) = (root.clone(), reqs.clone(), ovr.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &reqs, &ovr);
                });
            }
        });
        Server {
            port,
            requests,
            overrides,
        }
    }

    /// Base URL of the served directory.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn set(&self, path: &str, behaviour: Override) {
        self.overrides
            .lock()
            .unwrap()
            .insert(path.to_string(), behaviour);
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    requests: &Mutex<Vec<String>>,
    overrides: &Mutex<HashMap<String, Override>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    requests.lock().unwrap().push(path.to_string());
    let mut out = stream;
    let behaviour = overrides.lock().unwrap().get(path).copied();
    let chunk = vec![b'x'; 64 * 1024];
    // Stop after this much even if the client keeps reading: the test then fails on
    // its assertions rather than hanging.
    let cap: usize = 256 << 20;
    match behaviour {
        Some(Override::HugeWithLength) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                1u64 << 40
            )?;
            let mut sent = 0;
            while sent < cap {
                out.write_all(&chunk)?;
                sent += chunk.len();
            }
        }
        Some(Override::HugeChunked) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )?;
            let mut sent = 0;
            while sent < cap {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(&chunk)?;
                out.write_all(b"\r\n")?;
                sent += chunk.len();
            }
        }
        Some(Override::Status(code)) => {
            write!(
                out,
                "HTTP/1.1 {code} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        None => {
            let rel = path.trim_start_matches('/');
            let file = (method == "GET" && !rel.split('/').any(|c| c == ".."))
                .then(|| root.join(rel))
                .filter(|p| p.is_file())
                .and_then(|p| fs_err::read(p).ok());
            match file {
                Some(data) => {
                    write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        data.len()
                    )?;
                    out.write_all(&data)?;
                }
                None => write!(
                    out,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?,
            }
        }
    }
    out.flush()
}

// ---- reporter and file helpers ----------------------------------------------------

/// A reporter that remembers warnings and counts transferred bytes.
#[derive(Debug, Default)]
pub struct Recorder {
    pub warnings: Mutex<Vec<String>>,
    pub started: Mutex<Vec<String>>,
    pub bytes: std::sync::atomic::AtomicU64,
}

impl Reporter for Recorder {
    fn start(&self, task: &str, _total: Option<u64>) {
        self.started.lock().unwrap().push(task.to_string());
    }
    fn advance(&self, _task: &str, bytes: u64) {
        self.bytes
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

impl Recorder {
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().unwrap().clone()
    }
}

/// Every regular file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = fs_err::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Skips a test with a notice when its input (a mirror, an apt list, a keyring) is
/// missing; under `CI=true` that fails the test instead.
pub fn skip(what: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {what}"
    );
    eprintln!("notice: skipping: {what}");
}

/// The whole error chain, `: `-joined, for assertions on what a user would read.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
