//! `plinth inspect IMAGE`: manifest digest, config, layers and files of any image.

use std::process::ExitCode;

use clap::ValueEnum;
use plinth_oci::{ImageFs, ImageFsOptions, NodeKind, ResolvedImage, open_image, validate};
use serde::Serialize;

use std::fmt::Write as _;

use crate::render::{CliError, size, stdout, warn};

#[derive(clap::Args)]
pub struct Args {
    /// An OCI layout dir (DIR or DIR:TAG), an oci-archive or a docker-archive
    image: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Leave out the file listing
    #[arg(long)]
    no_files: bool,
    /// Show only this platform, e.g. linux/arm64
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Serialize)]
struct Report {
    source: String,
    validated_blobs: usize,
    images: Vec<ImageReport>,
}

#[derive(Serialize)]
struct ImageReport {
    tag: Option<String>,
    digest: String,
    media_type: String,
    platform: String,
    created: Option<String>,
    config_digest: String,
    config: serde_json::Value,
    layers: Vec<LayerReport>,
    compressed_size: u64,
    uncompressed_files_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileReport>>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct LayerReport {
    digest: String,
    diff_id: String,
    media_type: String,
    size: u64,
    comment: Option<String>,
}

#[derive(Serialize)]
struct FileReport {
    path: String,
    #[serde(rename = "type")]
    kind: &'static str,
    mode: String,
    uid: u64,
    gid: u64,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    layer: usize,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let (src, tag) = open_image(&args.image)?;
    let checked = validate(src.as_ref())?;
    let mut images = src.images(tag.as_deref())?;
    if let Some(p) = &args.platform {
        images.retain(|i| &i.platform_string() == p);
        if images.is_empty() {
            return Err(CliError::input(
                format!("{} has no image for platform {p}", src.name()),
                None,
            ));
        }
    }
    let mut reports = Vec::new();
    for img in &images {
        let fs = ImageFs::open(src.as_ref(), img, &ImageFsOptions::default())?;
        for w in fs.warnings() {
            warn(w);
        }
        reports.push(image_report(img, &fs, !args.no_files));
    }
    let report = Report {
        source: src.name(),
        validated_blobs: checked.blobs,
        images: reports,
    };
    match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report).expect("serialisable");
            s.push('\n');
            stdout(&s)
        }
        Format::Table => stdout(&table(&report)),
    }
}

fn image_report(img: &ResolvedImage, fs: &ImageFs, files: bool) -> ImageReport {
    let history: Vec<_> = img
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .collect();
    let layers: Vec<LayerReport> = img
        .manifest
        .layers()
        .iter()
        .zip(img.config.rootfs().diff_ids())
        .enumerate()
        .map(|(i, (d, diff))| LayerReport {
            digest: d.digest().to_string(),
            diff_id: diff.clone(),
            media_type: d.media_type().to_string(),
            size: d.size(),
            comment: history
                .get(i)
                .and_then(|h| h.comment().clone().or(h.created_by().clone())),
        })
        .collect();
    let files = files.then(|| {
        fs.iter()
            .map(|(p, n)| {
                let (kind, link) = match &n.kind {
                    NodeKind::File => ("file", None),
                    NodeKind::Dir => ("dir", None),
                    NodeKind::Symlink(t) => ("symlink", Some(t.clone())),
                    NodeKind::Hardlink(t) => ("hardlink", Some(format!("/{t}"))),
                    NodeKind::CharDevice => ("char-device", None),
                    NodeKind::BlockDevice => ("block-device", None),
                    NodeKind::Fifo => ("fifo", None),
                };
                FileReport {
                    path: format!("/{p}"),
                    kind,
                    mode: format!("{:04o}", n.mode),
                    uid: n.uid,
                    gid: n.gid,
                    size: n.size,
                    link,
                    layer: n.layer,
                }
            })
            .collect()
    });
    ImageReport {
        tag: img.tag.clone(),
        digest: img.descriptor.digest().to_string(),
        media_type: img.descriptor.media_type().to_string(),
        platform: img.platform_string(),
        created: img.config.created().clone(),
        config_digest: img.manifest.config().digest().to_string(),
        config: serde_json::from_slice(&img.config_raw).unwrap_or(serde_json::Value::Null),
        compressed_size: layers.iter().map(|l| l.size).sum(),
        uncompressed_files_size: fs.file_bytes(),
        layers,
        files,
        warnings: fs.warnings().to_vec(),
    }
}

fn table(r: &Report) -> String {
    let mut o = String::new();
    wln!(o, "Source      {}", r.source);
    wln!(
        o,
        "Validated   {} blobs (digests and sizes match)",
        r.validated_blobs
    );
    for img in &r.images {
        wln!(o);
        let row = |o: &mut String, k: &str, v: String| wln!(o, "{k:<11} {v}");
        row(
            &mut o,
            "Image",
            img.tag.clone().unwrap_or_else(|| "(untagged)".into()),
        );
        row(&mut o, "Digest", img.digest.clone());
        row(&mut o, "Platform", img.platform.clone());
        row(&mut o, "Created", img.created.clone().unwrap_or_default());
        row(&mut o, "Config", img.config_digest.clone());
        let cfg = img.config.get("config").cloned().unwrap_or_default();
        let field = |k: &str| cfg.get(k).filter(|v| !v.is_null());
        row(
            &mut o,
            "User",
            field("User")
                .and_then(|v| v.as_str())
                .unwrap_or("(root)")
                .to_string(),
        );
        for k in ["Entrypoint", "Cmd", "WorkingDir", "StopSignal"] {
            if let Some(v) = field(k) {
                row(&mut o, k, v.to_string());
            }
        }
        if let Some(env) = field("Env").and_then(|v| v.as_array()) {
            for (i, e) in env.iter().enumerate() {
                row(
                    &mut o,
                    if i == 0 { "Env" } else { "" },
                    e.as_str().unwrap_or_default().to_string(),
                );
            }
        }
        for (k, label) in [("ExposedPorts", "Ports"), ("Labels", "Labels")] {
            if let Some(obj) = field(k).and_then(|v| v.as_object()) {
                let items: Vec<String> = obj
                    .iter()
                    .map(|(k, v)| {
                        if v.is_string() {
                            format!("{k}={}", v.as_str().unwrap_or_default())
                        } else {
                            k.clone()
                        }
                    })
                    .collect();
                row(&mut o, label, items.join(", "));
            }
        }
        row(
            &mut o,
            "Size",
            format!(
                "{} compressed, {} of files",
                size(img.compressed_size),
                size(img.uncompressed_files_size)
            ),
        );
        wln!(o, "Layers");
        for (i, l) in img.layers.iter().enumerate() {
            wln!(
                o,
                "  {i:>2}  {}  {:>9}  {}",
                short(&l.digest),
                size(l.size),
                l.comment.clone().unwrap_or_default()
            );
        }
        if let Some(files) = &img.files {
            wln!(o, "Files");
            for f in files {
                let link = f
                    .link
                    .as_ref()
                    .map(|l| format!(" -> {l}"))
                    .unwrap_or_default();
                wln!(
                    o,
                    "  {:<8} {} {:>5}:{:<5} {:>9}  {}{link}",
                    f.kind,
                    f.mode,
                    f.uid,
                    f.gid,
                    if f.kind == "file" {
                        size(f.size)
                    } else {
                        String::new()
                    },
                    f.path
                );
            }
        }
    }
    o
}

macro_rules! wln {
    ($o:expr) => { $o.push('\n') };
    ($o:expr, $($t:tt)*) => {{ let _ = writeln!($o, $($t)*); }};
}
use wln;

fn short(d: &str) -> &str {
    &d[..d.len().min(19)]
}
