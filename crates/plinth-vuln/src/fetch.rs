//! `plinth db update`: download the feeds into temporary files (bounded, with
//! progress), then import them all in one atomic [`import`].
//!
//! A feed that cannot be downloaded (404, network error, too large) is reported and
//! left out; the others are still imported. A feed that downloads but does not parse
//! fails the whole import, leaving the database as it was.

use std::io::{Read, Write};
use std::path::Path;

use plinth_core::http::{self, FetchError};
use plinth_core::progress::Reporter;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::import::{self, Format, ImportReport, Input};

/// The Debian Security Tracker's JSON export.
pub const DEBIAN_TRACKER_URL: &str = "https://security-tracker.debian.org/tracker/data/json";
/// OSV's per-ecosystem dumps: `<base>/<Ecosystem>/all.zip`.
pub const OSV_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// Alpine's secdb: `<base>/<release>/<repo>.json`.
pub const ALPINE_SECDB_BASE_URL: &str = "https://secdb.alpinelinux.org";

/// OSV ecosystems fetched by default.
pub const OSV_ECOSYSTEMS: [&str; 4] = ["Go", "crates.io", "PyPI", "npm"];
/// Alpine releases fetched by default (main and community each).
pub const ALPINE_RELEASES: [&str; 5] = ["v3.18", "v3.19", "v3.20", "v3.21", "v3.22"];

/// The most one feed download may be.
pub const MAX_FEED_BYTES: u64 = 2 << 30;

/// One feed to download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Feed {
    /// The source name it is recorded under (`debian-tracker`, `osv:Go`, …).
    pub name: String,
    /// Where it is downloaded from.
    pub url: String,
    /// The format the importer reads it as.
    pub format: Format,
    /// The file name of the download (its extension tells the importer the format).
    pub file_name: String,
}

impl Feed {
    /// A feed recorded as `name`, downloaded from `url` into `file_name`.
    pub fn new(name: &str, url: &str, format: Format, file_name: &str) -> Feed {
        Feed {
            name: name.into(),
            url: url.into(),
            format,
            file_name: file_name.into(),
        }
    }
}

/// The default feeds, with their hosts replaced by `base` URLs (for mirrors and tests):
/// `debian` for the tracker's JSON, `osv` and `alpine` as base URLs.
pub fn feeds(debian: &str, osv: &str, alpine: &str) -> Vec<Feed> {
    let mut out = vec![Feed::new(
        "debian-tracker",
        debian,
        Format::DebianTracker,
        "debian-tracker.json",
    )];
    let osv = osv.trim_end_matches('/');
    for eco in OSV_ECOSYSTEMS {
        out.push(Feed::new(
            &format!("osv:{eco}"),
            &format!("{osv}/{eco}/all.zip"),
            Format::Osv,
            &format!("{eco}-all.zip"),
        ));
    }
    let alpine = alpine.trim_end_matches('/');
    for release in ALPINE_RELEASES {
        for repo in ["main", "community"] {
            out.push(Feed::new(
                &format!("alpine-secdb:{release}-{repo}"),
                &format!("{alpine}/{release}/{repo}.json"),
                Format::AlpineSecdb,
                &format!("alpine-{release}-{repo}.json"),
            ));
        }
    }
    out
}

/// The feeds `plinth db update` fetches.
pub fn default_feeds() -> Vec<Feed> {
    feeds(DEBIAN_TRACKER_URL, OSV_BASE_URL, ALPINE_SECDB_BASE_URL)
}

/// A feed left out of an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedFailure {
    /// The feed's source name.
    pub name: String,
    /// The URL that failed.
    pub url: String,
    /// The error and its causes, as one message.
    pub error: String,
}

/// What an update did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// What importing the downloaded feeds did.
    pub import: ImportReport,
    /// Feeds that could not be downloaded (their old data, if any, is kept).
    pub failed: Vec<FeedFailure>,
}

/// The full message of an error and its causes.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Downloads `url` into `dest`, refusing more than `limit` bytes; progress goes to
/// `reporter` under `task`. Returns the size.
pub fn download(
    url: &str,
    dest: &Path,
    limit: u64,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<u64> {
    let fetch = |source: FetchError| Error::Fetch {
        url: url.to_string(),
        source,
    };
    let mut reader = http::open(url, limit).map_err(fetch)?;
    let mut file = fs_err::File::create(dest).map_err(Error::write(dest))?;
    let mut buf = vec![0u8; 256 << 10];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(fetch(FetchError::Io {
                    url: url.to_string(),
                    source,
                }));
            }
        };
        total += n as u64;
        if total > limit {
            return Err(fetch(FetchError::TooLarge {
                url: url.to_string(),
                limit,
            }));
        }
        file.write_all(&buf[..n]).map_err(Error::write(dest))?;
        reporter.advance(task, n as u64);
    }
    file.sync_all().map_err(Error::write(dest))?;
    Ok(total)
}

/// Downloads `feeds` and imports them into the database at `db_path` in one atomic
/// import. Fails only if no feed could be downloaded, or the import fails.
pub fn update(db_path: &Path, feeds: &[Feed], reporter: &dyn Reporter) -> Result<UpdateReport> {
    // One writer at a time, from the first download to the rename of the database (the
    // lock also creates the database's directory).
    let _lock = crate::db::lock_for_writing(db_path)?;
    let dir = plinth_core::dirs::parent_dir(db_path);
    // Beside the database rather than in /tmp (often a small tmpfs): feeds are large.
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}.download-", crate::db::temp_stem(db_path)))
        .tempdir_in(&dir)
        .map_err(Error::write(&dir))?;
    let mut inputs = Vec::new();
    let mut failed = Vec::new();
    reporter.plan("feeds", feeds.len() as u64);
    for feed in feeds {
        let dest = tmp.path().join(&feed.file_name);
        let task = format!("{} ({})", feed.name, feed.url);
        reporter.start(&task, None);
        let result = download(&feed.url, &dest, MAX_FEED_BYTES, reporter, &task);
        reporter.finish(&task);
        match result {
            Ok(_) => inputs.push(
                Input::new(dest)
                    .with_format(feed.format)
                    .with_name(feed.name.clone())
                    .with_origin(feed.url.clone()),
            ),
            Err(e) => {
                let error = chain(&e);
                reporter.warn(&format!("feed {} left out: {error}", feed.name));
                failed.push(FeedFailure {
                    name: feed.name.clone(),
                    url: feed.url.clone(),
                    error,
                });
            }
        }
    }
    if inputs.is_empty() {
        return Err(Error::UpdateFailed {
            failures: failed
                .iter()
                .map(|f| format!("{}: {}", f.name, f.error))
                .collect(),
        });
    }
    let report = import::import_locked(db_path, &inputs, reporter)?;
    Ok(UpdateReport {
        import: report,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::model::Status;
    use plinth_core::progress::NoReporter;
    use std::collections::HashMap;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    #[derive(Clone)]
    enum Reply {
        Ok(Vec<u8>),
        NotFound,
        /// Announces `declared` bytes, sends `body`, closes.
        Truncated {
            body: Vec<u8>,
            declared: usize,
        },
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 serving `routes`; it stops by itself after
    /// `max_requests` requests or 60 s.
    fn serve(routes: HashMap<String, Reply>, max_requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let routes = Arc::new(Mutex::new(routes));
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut served = 0;
            while served < max_requests && Instant::now() < deadline {
                let (stream, _) = match listener.accept() {
                    Ok(s) => s,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                served += 1;
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let reply = routes.lock().unwrap().get(&path).cloned();
                let mut out = stream;
                let _ = match reply {
                    Some(Reply::Ok(body)) => out
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| out.write_all(&body)),
                    Some(Reply::Truncated { body, declared }) => out
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
                            )
                            .as_bytes(),
                        )
                        .and_then(|_| out.write_all(&body)),
                    Some(Reply::NotFound) | None => out.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
                let _ = out.flush();
            }
        });
        format!("http://{addr}")
    }

    const TRACKER: &str = r#"{"zlib": {"CVE-2023-45853": {"description": "minizip",
        "releases": {"bookworm": {"status": "open", "repositories": {"bookworm": "1:1.2.13.dfsg-1"},
        "urgency": "unimportant", "nodsa": "yes", "nodsa_reason": "ignored"}}}}}"#;

    const SECDB: &str = r#"{"distroversion": "v3.20", "reponame": "main", "packages": [
        {"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-2022-37434"]}}}]}"#;

    fn go_zip() -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("GO-2024-0001.json", opts).unwrap();
        w.write_all(
            br#"{"id": "GO-2024-0001", "affected": [{"package": {"ecosystem": "Go", "name": "example.com/m"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]}]}]}"#,
        )
        .unwrap();
        w.finish().unwrap();
        out.into_inner()
    }

    fn test_feeds(base: &str) -> Vec<Feed> {
        vec![
            Feed::new(
                "debian-tracker",
                &format!("{base}/tracker/data/json"),
                Format::DebianTracker,
                "debian-tracker.json",
            ),
            Feed::new(
                "osv:Go",
                &format!("{base}/osv/Go/all.zip"),
                Format::Osv,
                "Go-all.zip",
            ),
            Feed::new(
                "alpine-secdb:v3.20-main",
                &format!("{base}/alpine/v3.20/main.json"),
                Format::AlpineSecdb,
                "alpine-v3.20-main.json",
            ),
        ]
    }

    #[test]
    fn default_feed_urls() {
        let feeds = default_feeds();
        assert_eq!(feeds[0].url, DEBIAN_TRACKER_URL);
        assert!(feeds.iter().any(|f| f.url
            == "https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip"
            && f.name == "osv:Go"));
        assert!(
            feeds
                .iter()
                .any(|f| f.url == "https://secdb.alpinelinux.org/v3.20/main.json"
                    && f.name == "alpine-secdb:v3.20-main")
        );
        assert_eq!(
            feeds.len(),
            1 + OSV_ECOSYSTEMS.len() + 2 * ALPINE_RELEASES.len()
        );
    }

    #[test]
    fn update_downloads_and_imports_and_survives_a_404() {
        let routes = HashMap::from([
            ("/tracker/data/json".to_string(), Reply::Ok(TRACKER.into())),
            ("/osv/Go/all.zip".to_string(), Reply::Ok(go_zip())),
            ("/alpine/v3.20/main.json".to_string(), Reply::NotFound),
        ]);
        let base = serve(routes, 3);
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("cache/vuln.db");
        let report = update(&db_path, &test_feeds(&base), &NoReporter).unwrap();
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].name, "alpine-secdb:v3.20-main");
        assert!(
            report.failed[0].error.contains("not found"),
            "{:?}",
            report.failed
        );
        assert_eq!(report.import.source("debian-tracker").unwrap().records, 1);
        assert_eq!(report.import.source("osv:Go").unwrap().records, 1);
        let db = Db::open(&db_path).unwrap();
        let zlib = db.advisories("debian:12", "zlib").unwrap();
        assert_eq!(zlib.len(), 1);
        assert_eq!(zlib[0].status, Status::WontFix);
        let go = db.advisories("go", "example.com/m").unwrap();
        assert_eq!(go[0].ranges[0].fixed.as_deref(), Some("1.2.3"));
        let sources = db.sources().unwrap();
        assert_eq!(sources.len(), 2);
        assert!(
            sources
                .iter()
                .any(|s| s.origin == format!("{base}/osv/Go/all.zip"))
        );
        // No temporary files are left beside the database (the writers' lock file stays:
        // removing it would let a waiter and a newcomer both hold "the" lock).
        let mut names: Vec<String> = fs_err::read_dir(db_path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![".vuln.db.lock", "vuln.db"]);
    }

    #[test]
    fn truncated_download_leaves_the_database_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("vuln.db");
        // A first, good update.
        let base = serve(
            HashMap::from([
                ("/tracker/data/json".to_string(), Reply::Ok(TRACKER.into())),
                ("/osv/Go/all.zip".to_string(), Reply::Ok(go_zip())),
                (
                    "/alpine/v3.20/main.json".to_string(),
                    Reply::Ok(SECDB.into()),
                ),
            ]),
            3,
        );
        let first = update(&db_path, &test_feeds(&base), &NoReporter).unwrap();
        assert!(first.failed.is_empty());
        let before = fs_err::read(&db_path).unwrap();

        // Then every body is cut short.
        let cut = |b: Vec<u8>| Reply::Truncated {
            declared: b.len(),
            body: b[..b.len() / 2].to_vec(),
        };
        let base = serve(
            HashMap::from([
                ("/tracker/data/json".to_string(), cut(TRACKER.into())),
                ("/osv/Go/all.zip".to_string(), cut(go_zip())),
                ("/alpine/v3.20/main.json".to_string(), cut(SECDB.into())),
            ]),
            3,
        );
        let result = update(&db_path, &test_feeds(&base), &NoReporter);
        match &result {
            Err(Error::UpdateFailed { failures }) => assert_eq!(failures.len(), 3),
            Err(Error::Parse { .. }) => {}
            other => panic!("a truncated download must not import: {other:?}"),
        }
        assert_eq!(fs_err::read(&db_path).unwrap(), before);
        let db = Db::open(&db_path).unwrap();
        assert_eq!(db.count().unwrap(), 3);
    }

    #[test]
    fn download_is_bounded() {
        let base = serve(
            HashMap::from([("/big".to_string(), Reply::Ok(vec![b'x'; 4096]))]),
            1,
        );
        let dir = tempfile::tempdir().unwrap();
        let err = download(
            &format!("{base}/big"),
            &dir.path().join("f"),
            100,
            &NoReporter,
            "t",
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Fetch {
                    source: FetchError::TooLarge { .. },
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
