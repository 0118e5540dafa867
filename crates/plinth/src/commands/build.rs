//! `plinth build SPEC`: build an image and write it as a layout or an archive.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use plinth_build::{BuildOptions, Platform, Spec};
use plinth_oci::write::WriteOptions;
use plinth_oci::{OutputFormat, write_image};

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
    /// Build only this platform (repeatable), e.g. linux/arm64
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]")]
    platforms: Vec<String>,
    /// Seconds since the epoch used for every timestamp in the image
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    source_date_epoch: u64,
    /// Print nothing on stderr
    #[arg(short, long)]
    quiet: bool,
    /// The SBOM written beside the image and attached to it in the layout
    #[arg(long, value_enum, default_value_t = SbomFormat::SpdxJson)]
    sbom: SbomFormat,
    #[command(flatten)]
    debian: DebianArgs,
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
    let spec = Spec::load(&args.spec)?;
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
            cache: args.debian.cache_dir.clone(),
            reporter: crate::progress::reporter(args.quiet),
            ..Default::default()
        },
    )?;
    if !args.quiet
        && let Some((_, outcome)) = &built.lock
    {
        crate::render::lock_outcome(&plinth_build::lock_path(&spec), outcome);
    }
    let is_tar = args
        .output
        .as_ref()
        .is_some_and(|o| o.extension().is_some_and(|e| e == "tar"));
    let format = match args.format {
        Some(Format::Oci) => OutputFormat::Layout,
        Some(Format::OciArchive) => OutputFormat::OciArchive,
        Some(Format::DockerArchive) => OutputFormat::DockerArchive,
        None if is_tar => OutputFormat::OciArchive,
        None => OutputFormat::Layout,
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let base = PathBuf::from("out").join(&spec.name);
        match format {
            OutputFormat::Layout => base,
            _ => base.with_extension("tar"),
        }
    });
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
            f,
            args.source_date_epoch,
            format == OutputFormat::Layout,
        )?,
    };
    // The SBOM files first and the image last: the image's rename is the build's
    // commit point, so a build killed before it leaves no image at the target.
    let many = sboms.len() > 1;
    for (platform, ext, bytes) in &sboms {
        let stem = output
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_string())
            .unwrap_or_default();
        let name = if many {
            format!("{stem}.{}.{ext}", platform.replace('/', "-"))
        } else {
            format!("{stem}.{ext}")
        };
        crate::render::write_atomically(&output.with_file_name(name), bytes)?;
    }
    write_image(
        &artifact,
        &output,
        &WriteOptions {
            format,
            name: &spec.name,
            tag: &spec.tag,
            mtime: args.source_date_epoch,
        },
    )?;
    if !args.quiet {
        let bytes: u64 = artifact.blobs.values().map(|b| b.len() as u64).sum();
        let plats: Vec<String> = built.platforms.iter().map(|p| p.to_string()).collect();
        eprintln!(
            "Built {}:{} ({}) into {} [{}] in {:.2}s",
            spec.name,
            spec.tag,
            plats.join(", "),
            output.display(),
            size(bytes),
            start.elapsed().as_secs_f64()
        );
    }
    stdout(&format!("{}\n", artifact.root.digest()))
}

/// An SBOM to write beside the output: platform, file extension, bytes.
type SbomFile = (String, &'static str, Vec<u8>);

/// Catalogues each platform's image, attaches the SBOM to it as an OCI artifact and
/// returns (platform, file extension, bytes) for the copies written beside the output.
fn attach_sboms(
    artifact: &mut plinth_oci::ImageArtifact,
    spec: &Spec,
    format: SbomFormat,
    epoch: u64,
    attach: bool,
) -> Result<Vec<SbomFile>, CliError> {
    use plinth_sbom::format::{Format as F, WriteOptions, write};
    let (f, media_type, ext) = match format {
        SbomFormat::CyclonedxJson => (
            F::CycloneDxJson,
            "application/vnd.cyclonedx+json",
            "cdx.json",
        ),
        _ => (F::SpdxJson, "application/spdx+json", "spdx.json"),
    };
    let reference = format!("{}:{}", spec.name, spec.tag);
    let images = {
        let src = plinth_oci::ArtifactSource::new(artifact, &spec.tag);
        let src: &dyn plinth_oci::ImageSource = &src;
        let mut out = Vec::new();
        for image in src.images(None)? {
            let subject = plinth_sbom::subject::from_image(
                src,
                image,
                &reference,
                plinth_sbom::SubjectKind::OciLayout,
            )?;
            let sbom = plinth_sbom::catalog(&subject);
            let bytes = write(
                &sbom,
                f,
                &WriteOptions {
                    created: Some(epoch as i64),
                    tool_version: env!("CARGO_PKG_VERSION").to_string(),
                },
            );
            let image = subject.image.expect("an image subject");
            out.push((image.descriptor.clone(), image.platform_string(), bytes));
        }
        out
    };
    let mut files = Vec::new();
    for (subject, platform, bytes) in images {
        if attach {
            artifact.attach(&subject, media_type, bytes.clone(), Default::default())?;
        }
        files.push((platform, ext, bytes));
    }
    Ok(files)
}
