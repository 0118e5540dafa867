//! What a build writes besides the image: where the output goes by default, which
//! format a path asks for, and the SBOM of each platform, attached to the image as an
//! OCI artifact and written beside it.

use std::path::{Path, PathBuf};

use plinth_oci::{ImageArtifact, ImageSource, OutputFormat};
use plinth_sbom::format::{Format, WriteOptions, write};

use crate::{BuildError, Spec};

/// The SBOM written beside the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomKind {
    /// SPDX 2.3 JSON (`.spdx.json`).
    SpdxJson,
    /// CycloneDX 1.6 JSON (`.cdx.json`).
    CycloneDxJson,
}

impl SbomKind {
    /// The media type of the SBOM when attached to the image as an OCI artifact.
    pub fn media_type(self) -> &'static str {
        match self {
            SbomKind::SpdxJson => "application/spdx+json",
            SbomKind::CycloneDxJson => "application/vnd.cyclonedx+json",
        }
    }

    /// The file extension of the copy beside the output.
    pub fn extension(self) -> &'static str {
        match self {
            SbomKind::SpdxJson => "spdx.json",
            SbomKind::CycloneDxJson => "cdx.json",
        }
    }

    fn format(self) -> Format {
        match self {
            SbomKind::SpdxJson => Format::SpdxJson,
            SbomKind::CycloneDxJson => Format::CycloneDxJson,
        }
    }
}

/// One platform's SBOM.
#[derive(Clone, Debug)]
pub struct SbomFile {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The format `bytes` are in.
    pub kind: SbomKind,
    /// The SBOM document as written to disk and attached.
    pub bytes: Vec<u8>,
}

/// The format `output` asks for when none is named: an archive for `.tar`, else a layout.
pub fn output_format(format: Option<OutputFormat>, output: Option<&Path>) -> OutputFormat {
    let is_tar = output.is_some_and(|o| o.extension().is_some_and(|e| e == "tar"));
    match format {
        Some(f) => f,
        None if is_tar => OutputFormat::OciArchive,
        None => OutputFormat::Layout,
    }
}

/// `out/NAME` for a layout, `out/NAME.tar` for an archive (relative to the working
/// directory).
pub fn default_output(spec: &Spec, format: OutputFormat) -> PathBuf {
    let base = PathBuf::from("out").join(&spec.name);
    match format {
        OutputFormat::Layout => base,
        _ => base.with_extension("tar"),
    }
}

/// Where the SBOM of `platform` goes beside `output`: `NAME.spdx.json`, or
/// `NAME.OS-ARCH.spdx.json` when the build has several platforms (`many`).
pub fn sbom_path(output: &Path, file: &SbomFile, many: bool) -> PathBuf {
    let stem = output
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_string())
        .unwrap_or_default();
    let ext = file.kind.extension();
    let name = if many {
        format!("{stem}.{}.{ext}", file.platform.replace('/', "-"))
    } else {
        format!("{stem}.{ext}")
    };
    output.with_file_name(name)
}

/// Writes the SBOM files beside `output`, then the image (named and tagged as `spec`
/// says, archive entries dated `mtime`). The image's rename is the build's commit point:
/// a build killed before it leaves no image at the target. An output that would be
/// refused is refused before the SBOM files are written; a device or FIFO output gets
/// no SBOM file beside it.
pub fn write_outputs(
    artifact: &ImageArtifact,
    spec: &Spec,
    sboms: &[SbomFile],
    output: &Path,
    format: OutputFormat,
    mtime: u64,
) -> Result<(), BuildError> {
    use std::io::Write as _;
    // A refused output writes nothing, not even the SBOM files beside it.
    plinth_oci::write::check_output(output, format)?;
    // A device or FIFO output (`-o /dev/null`) has nothing beside it to write SBOMs to;
    // the SBOMs attached inside a layout are unaffected.
    let sboms = if plinth_oci::write::is_special_output(output) {
        &[][..]
    } else {
        sboms
    };
    let many = sboms.len() > 1;
    // Everything is written in full under temporary names first; then the old SBOMs are
    // removed, the image is put in place, and the new SBOMs after it. A build killed at
    // any moment leaves the old image with its SBOMs, or either image with no SBOM, or
    // the new image with (some of) its own: never an SBOM naming a manifest that is not
    // the output's.
    let mut staged = Vec::new();
    for file in sboms {
        let path = sbom_path(output, file, many);
        staged.push(plinth_oci::write::prepare_file(&path, |w| {
            w.write_all(&file.bytes)
                .map_err(|e| plinth_oci::Error::write(&path, e))
        })?);
    }
    let image = plinth_oci::write::prepare_image(
        artifact,
        output,
        &plinth_oci::write::WriteOptions {
            format,
            name: &spec.name,
            tag: &spec.tag,
            mtime,
        },
    )?;
    for f in &staged {
        if fs_err::symlink_metadata(f.path()).is_ok_and(|m| m.is_file()) {
            fs_err::remove_file(f.path()).map_err(|e| plinth_oci::Error::write(f.path(), e))?;
        }
    }
    image.commit()?;
    for f in staged {
        f.commit()?;
    }
    Ok(())
}

/// Catalogues each platform's image of `artifact` and returns its SBOM; with `attach`,
/// also attaches it to the image as an OCI artifact (`subject`). `epoch` is the SBOM's
/// creation time, `tool_version` the version it names.
pub fn attach_sboms(
    artifact: &mut ImageArtifact,
    spec: &Spec,
    kind: SbomKind,
    epoch: u64,
    attach: bool,
    tool_version: &str,
) -> Result<Vec<SbomFile>, BuildError> {
    let reference = format!("{}:{}", spec.name, spec.tag);
    let images = {
        let src = plinth_oci::ArtifactSource::new(artifact, &spec.tag);
        let src: &dyn ImageSource = &src;
        let mut out = Vec::new();
        for image in src.images(None)? {
            // Through the layer cache: a warm build's layers were read before.
            let subject = plinth_sbom::subject::from_image_with(
                src,
                image,
                &reference,
                plinth_sbom::SubjectKind::OciLayout,
                &plinth_sbom::subject::fs_options_cached(true),
            )?;
            let sbom = plinth_sbom::catalog(&subject);
            let bytes = write(
                &sbom,
                kind.format(),
                &WriteOptions {
                    created: Some(epoch as i64),
                    tool_version: tool_version.to_string(),
                },
            );
            let Some(image) = subject.image else {
                continue;
            };
            out.push((image.descriptor.clone(), image.platform_string(), bytes));
        }
        out
    };
    let mut files = Vec::new();
    for (subject, platform, bytes) in images {
        if attach {
            artifact.attach(
                &subject,
                kind.media_type(),
                bytes.clone(),
                Default::default(),
            )?;
        }
        files.push(SbomFile {
            platform,
            kind,
            bytes,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(platform: &str) -> SbomFile {
        SbomFile {
            platform: platform.into(),
            kind: SbomKind::SpdxJson,
            bytes: Vec::new(),
        }
    }

    #[test]
    fn tar_outputs_are_archives_unless_told() {
        let tar = Path::new("x/img.tar");
        assert_eq!(output_format(None, Some(tar)), OutputFormat::OciArchive);
        assert_eq!(
            output_format(None, Some(Path::new("x/img"))),
            OutputFormat::Layout
        );
        assert_eq!(output_format(None, None), OutputFormat::Layout);
        assert_eq!(
            output_format(Some(OutputFormat::DockerArchive), Some(tar)),
            OutputFormat::DockerArchive
        );
    }

    #[test]
    fn sboms_sit_beside_the_output() {
        let out = Path::new("out/app.tar");
        assert_eq!(
            sbom_path(out, &file("linux/amd64"), false),
            Path::new("out/app.spdx.json")
        );
        assert_eq!(
            sbom_path(out, &file("linux/arm/v7"), true),
            Path::new("out/app.linux-arm-v7.spdx.json")
        );
        let cdx = SbomFile {
            kind: SbomKind::CycloneDxJson,
            ..file("linux/amd64")
        };
        assert_eq!(
            sbom_path(Path::new("out/app"), &cdx, false),
            Path::new("out/app.cdx.json")
        );
    }

    #[test]
    fn sboms_then_the_image_are_written() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = Spec::parse(&tmp.path().join("plinth.toml"), "[image]\nname = \"x\"\n").unwrap();
        let mut built = crate::build(&spec, &crate::BuildOptions::default()).unwrap();
        let sboms =
            attach_sboms(&mut built.artifact, &spec, SbomKind::SpdxJson, 0, true, "0").unwrap();
        assert_eq!(sboms.len(), 1);
        assert_eq!(built.artifact.referrers.len(), 1, "attached");
        let out = tmp.path().join("out/x");
        write_outputs(
            &built.artifact,
            &spec,
            &sboms,
            &out,
            OutputFormat::Layout,
            0,
        )
        .unwrap();
        assert!(out.join("index.json").is_file());
        let sbom = fs_err::read(tmp.path().join("out/x.spdx.json")).unwrap();
        assert_eq!(sbom, sboms[0].bytes);
    }
}
