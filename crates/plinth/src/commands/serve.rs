//! `plinth serve`: an OCI registry on local disk (see docs/serve.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use plinth_serve::{Config, StorageConfig};

use crate::render::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:5000; port 0 picks a free one]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Directory that holds the registry's blobs and repositories
    /// [default: the `registry` directory under Plinth's cache]
    #[arg(long, value_name = "DIR")]
    storage: Option<PathBuf>,
    /// A TOML configuration file (every key is in docs/serve.md); --listen and --storage
    /// override its values
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level of the request log on stderr: error, warn, info (one line per request)
    /// or debug
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: tracing_subscriber::filter::LevelFilter,
    /// Run one garbage collection on the storage (with the config's [gc] grace_secs and
    /// untagged), print what it removed on stdout, and exit instead of serving
    #[arg(long)]
    gc_once: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| CliError::input(e, None))?,
        None => Config::with_storage(&plinth_core::dirs::cache_root().join("registry")),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(dir) = args.storage {
        config.storage = StorageConfig::Fs { path: dir };
    }
    if args.gc_once {
        let report = plinth_serve::collect_once(config).map_err(|e| match e {
            plinth_serve::ServeError::Gc(_) => CliError::internal(e, None),
            _ => CliError::input(e, None),
        })?;
        let mut out = String::new();
        for (repo, d) in &report.manifests {
            out.push_str(&format!("manifest {repo}@{d}\n"));
        }
        for (repo, d) in &report.links {
            out.push_str(&format!("link {repo}@{d}\n"));
        }
        for (d, size) in &report.blobs {
            out.push_str(&format!("blob {d} {size}\n"));
        }
        print!("{out}");
        eprintln!(
            "plinth serve: garbage collection removed {} manifests, {} links and {} blobs ({} bytes) in {} ms",
            report.manifests.len(),
            report.links.len(),
            report.blobs.len(),
            report.bytes,
            report.duration.as_millis()
        );
        return Ok(ExitCode::SUCCESS);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(crate::render::color())
        .with_max_level(args.log_level)
        .init();
    let storage = match &config.storage {
        StorageConfig::Fs { path } => path.display().to_string(),
        StorageConfig::S3(s3) => s3.describe(),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    plinth_serve::run(config, |addr| {
        eprintln!("plinth serve: listening on {scheme}://{addr} (storage {storage})");
    })
    .map_err(|e| CliError::input(e, None))?;
    Ok(ExitCode::SUCCESS)
}
