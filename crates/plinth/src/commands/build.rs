//! `plinth build SPEC`: build an image and write it as a layout or an archive.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use plinth_build::output::{SbomKind, attach_sboms, write_outputs};
use plinth_build::{BuildOptions, Platform, Spec};
use plinth_oci::OutputFormat;
use plinth_sandbox::userns;

use crate::args::DebianArgs;
use crate::render::{CliError, size, stdout};

#[derive(clap::Args)]
pub struct Args {
    /// The image spec (plinth.toml)
    spec: PathBuf,
    /// Where to write the image [default: out/NAME, or out/NAME.tar for archives]
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format [default: oci, or oci-archive when --output ends in .tar]
    #[arg(short, long, value_enum)]
    format: Option<Format>,
    /// Build only this platform (repeatable), e.g. linux/arm64 [default: every platform of
    /// the spec]
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    platforms: Vec<String>,
    /// Seconds since the epoch used for every timestamp in the image
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    source_date_epoch: u64,
    #[arg(short, long, help = crate::args::QUIET)]
    quiet: bool,
    /// The SBOM written beside the image and attached to it in the layout
    #[arg(long, value_enum, default_value_t = SbomFormat::SpdxJson)]
    sbom: SbomFormat,
    #[command(flatten)]
    debian: DebianArgs,
    /// After writing the image, push it (with its SBOM referrers) to this registry
    /// reference, e.g. registry.example/base:bookworm
    #[arg(long, value_name = "REF")]
    push: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SbomFormat {
    SpdxJson,
    CyclonedxJson,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// OCI image layout directory
    Oci,
    /// OCI image layout in a tar file
    OciArchive,
    /// `docker save` format (for docker load / podman load)
    DockerArchive,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let start = Instant::now();
    // A bad --push reference is refused before anything is built.
    let push = args
        .push
        .as_deref()
        .map(|r| plinth_registry::Reference::parse(r.trim_start_matches("docker://")))
        .transpose()?;
    let spec = Spec::load(&args.spec)?;
    let system = spec
        .debian
        .as_ref()
        .and_then(|d| d.profile)
        .is_some_and(|p| p.is_system());
    if system && !userns::is_root() {
        // dpkg and the maintainer scripts need root: this same command runs again as
        // root of a user namespace, and its status is ours.
        if !args.quiet {
            eprintln!(
                "Not root: building {} as root of a user namespace",
                args.spec.display()
            );
        }
        let status = userns::rerun_as_namespace_root()?;
        return Ok(ExitCode::from(userns::exit_code(status)));
    }
    let only_platforms = if args.platforms.is_empty() {
        None
    } else {
        Some(
            args.platforms
                .iter()
                .map(|p| Platform::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| CliError::input(format!("invalid --platform: {m}"), None))?,
        )
    };
    let built = plinth_build::build(
        &spec,
        &BuildOptions {
            source_date_epoch: args.source_date_epoch,
            only_platforms,
            mirror: args.debian.mirror.clone(),
            security_mirror: args.debian.security_mirror.clone(),
            no_security: args.debian.no_security,
            cache: args.debian.cache_dir.clone(),
            reporter: crate::progress::reporter(args.quiet),
            ..Default::default()
        },
    )?;
    if !args.quiet
        && let Some(outcome) = built
            .lock
            .as_ref()
            .map(|l| &l.1)
            .or(built.alpine_lock.as_ref().map(|l| &l.1))
            .or(built.rpm_lock.as_ref().map(|l| &l.1))
    {
        crate::render::lock_outcome(&plinth_build::lock_path(&spec), outcome);
    }
    let format = plinth_build::output::output_format(
        args.format.map(|f| match f {
            Format::Oci => OutputFormat::Layout,
            Format::OciArchive => OutputFormat::OciArchive,
            Format::DockerArchive => OutputFormat::DockerArchive,
        }),
        args.output.as_deref(),
    );
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| plinth_build::output::default_output(&spec, format));
    if format == OutputFormat::DockerArchive && built.artifact.manifests.len() > 1 {
        return Err(CliError::input(
            format!(
                "a docker-archive holds one platform, and {} builds {}",
                args.spec.display(),
                built.platforms.len()
            ),
            Some(
                "add --platform linux/amd64 (or another), or use --format oci / oci-archive".into(),
            ),
        ));
    }
    let mut artifact = built.artifact;
    let sboms = match args.sbom {
        SbomFormat::None => Vec::new(),
        // Only layouts get the artifact: with a second manifest in index.json, skopeo
        // and podman refuse an untagged `oci-archive:FILE` ("more than one image").
        f => attach_sboms(
            &mut artifact,
            &spec,
            if f == SbomFormat::CyclonedxJson {
                SbomKind::CycloneDxJson
            } else {
                SbomKind::SpdxJson
            },
            args.source_date_epoch,
            format == OutputFormat::Layout,
            env!("CARGO_PKG_VERSION"),
        )?,
    };
    write_outputs(
        &artifact,
        &spec,
        &sboms,
        &output,
        format,
        args.source_date_epoch,
    )?;
    if !args.quiet {
        let bytes: u64 = artifact.blobs.values().map(|b| b.len()).sum();
        let plats: Vec<String> = built.platforms.iter().map(|p| p.to_string()).collect();
        eprintln!(
            "Built {}:{} ({}) into {} [{}] {} in {:.2}s",
            spec.name,
            spec.tag,
            plats.join(", "),
            output.display(),
            size(bytes),
            artifact.root.digest(),
            start.elapsed().as_secs_f64()
        );
    }
    if let Some(r) = push {
        let src = plinth_registry::Endpoint::Disk {
            path: output.clone(),
            tag: None,
            format: plinth_registry::DiskFormat::Layout,
            arg: output.display().to_string(),
        };
        let reporter = crate::progress::reporter(args.quiet);
        let report = plinth_registry::copy(
            &crate::registry::client(),
            &src,
            &plinth_registry::Endpoint::Registry(r),
            &plinth_registry::CopyOptions {
                platform: None,
                referrers: true,
            },
            reporter.as_ref(),
        )?;
        if !args.quiet {
            eprintln!(
                "Pushed {} to {}: {} blobs sent, {} already there, {} referrers",
                report.digest,
                report.destination,
                report.blobs_sent,
                report.blobs_skipped + report.blobs_mounted,
                report.referrers
            );
        }
    }
    stdout(&format!("{}\n", artifact.root.digest()))
}
