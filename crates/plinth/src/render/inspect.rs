//! `inspect`'s table: source, then per image its config, layers and files.

use std::fmt::Write as _;

use plinth_oci::inspect::Report;

use crate::render::size;

/// The `inspect` table.
pub fn table(r: &Report) -> String {
    let mut o = String::new();
    // The digest to pin comes first: the index's, for a multi-platform image.
    if let Some(d) = &r.index_digest {
        wln!(o, "Index       {d}");
    }
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
        if !img.referrers.is_empty() {
            // What is attached to the image (OCI 1.1 `subject`): the build's SBOM.
            wln!(o, "Referrers");
            for r in &img.referrers {
                let payload: u64 = r.layers.iter().map(|l| l.size).sum();
                wln!(
                    o,
                    "  {}  {:>9}  {}",
                    r.digest,
                    size(payload),
                    r.artifact_type
                );
            }
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
