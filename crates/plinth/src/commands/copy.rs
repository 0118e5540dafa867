//! `plinth copy SRC DST`: an image between any two of a registry, a layout directory,
//! an oci-archive and a docker-archive. `pull` and `push` share its flags and rendering.

use std::process::ExitCode;
use std::time::Instant;

use plinth_registry::copy::{CopyOptions, CopyReport, DiskFormat, Endpoint};

use crate::render::{CliError, size, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// Where from: a registry reference (`docker://` optional), DIR[:TAG], an oci-archive
    /// or a docker-archive
    source: String,
    /// Where to: a registry reference, `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:NAME:TAG]`, a path ending in `.tar` (an oci-archive) or a
    /// directory (a layout)
    destination: String,
    /// Copy every platform of an index (the default; the opposite of --platform)
    #[arg(long, conflicts_with = "platform")]
    all: bool,
    /// Output: the digest (`table`, the default) or the whole result (`json`, as --json)
    #[arg(long, value_enum)]
    format: Option<crate::args::TableOrJson>,
    #[command(flatten)]
    transfer: TransferArgs,
}

/// Flags of every transfer (`pull`, `push`, `copy`).
#[derive(clap::Args)]
pub struct TransferArgs {
    /// Only this platform of a multi-platform index, e.g. linux/arm64 [default: the whole
    /// index]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Leave the image's referrers (signatures, SBOMs) behind
    #[arg(long)]
    pub no_referrers: bool,
    /// Print the result (digest, size, blobs sent, skipped and mounted) as JSON instead
    /// of the digest alone
    #[arg(long)]
    pub json: bool,
    #[arg(short, long, help = crate::args::QUIET)]
    pub quiet: bool,
}

/// The on-disk formats `pull -f` takes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DiskArg {
    /// An OCI image layout directory
    Oci,
    /// An OCI image layout in a tar file
    OciArchive,
    /// `docker save` format (one platform)
    DockerArchive,
}

impl From<DiskArg> for DiskFormat {
    fn from(a: DiskArg) -> Self {
        match a {
            DiskArg::Oci => DiskFormat::Layout,
            DiskArg::OciArchive => DiskFormat::OciArchive,
            DiskArg::DockerArchive => DiskFormat::DockerArchive,
        }
    }
}

pub fn run(mut args: Args) -> Result<ExitCode, CliError> {
    let src = Endpoint::source(&args.source)?;
    let dst = Endpoint::destination(&args.destination)?;
    args.transfer.json |= args.format == Some(crate::args::TableOrJson::Json);
    transfer(&src, &dst, &args.transfer)
}

/// Runs one copy and renders its result: the digest on stdout (or JSON with
/// `--format json`), a summary on stderr.
pub fn transfer(src: &Endpoint, dst: &Endpoint, args: &TransferArgs) -> Result<ExitCode, CliError> {
    let start = Instant::now();
    let reporter = crate::progress::reporter(args.quiet);
    let report = plinth_registry::copy(
        &crate::registry::client(),
        src,
        dst,
        &CopyOptions {
            platform: args.platform.clone(),
            referrers: !args.no_referrers,
        },
        reporter.as_ref(),
    )?;
    if !args.quiet {
        eprintln!("{}", summary(&report, start.elapsed().as_secs_f64()));
    }
    if args.json {
        stdout(&(serde_json::to_string_pretty(&report).expect("serialisable") + "\n"))
    } else {
        stdout(&format!("{}\n", report.digest))
    }
}

fn summary(r: &CopyReport, secs: f64) -> String {
    let mut s = format!(
        "Copied {} to {} [{}] {}: {} blobs sent ({})",
        r.source,
        r.destination,
        size(r.size),
        r.digest,
        r.blobs_sent,
        size(r.bytes_sent)
    );
    if r.blobs_skipped > 0 {
        s.push_str(&format!(", {} already there", r.blobs_skipped));
    }
    if r.blobs_mounted > 0 {
        s.push_str(&format!(", {} mounted", r.blobs_mounted));
    }
    if r.referrers > 0 {
        s.push_str(&format!(", {} referrers", r.referrers));
    }
    s.push_str(&format!(" in {secs:.2}s"));
    s
}
