//! `compare`'s renderings of the columns: a text or Markdown table, and a self-contained
//! HTML report with bar charts.

use plinth_vuln::compare::Column;

use crate::render::size;

fn yes_no(list: &[String]) -> String {
    if list.is_empty() {
        "no".into()
    } else {
        format!("yes ({})", list.len())
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        "no".into()
    } else {
        list.iter()
            .map(|s| {
                s.split(" -> ")
                    .next()
                    .unwrap_or(s)
                    .rsplit('/')
                    .next()
                    .unwrap_or(s)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The rows of the comparison: a label and one cell per image.
pub fn rows(cols: &[Column]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&Column) -> String| {
        rows.push((label.to_string(), cols.iter().map(f).collect()));
    };
    row("image", &|c| c.facts.name.clone());
    row("digest", &|c| {
        c.facts
            .digest
            .as_deref()
            .map(|d| d.chars().take(19).collect())
            .unwrap_or_else(|| "-".into())
    });
    row("platform", &|c| {
        c.facts.platform.clone().unwrap_or_else(|| "-".into())
    });
    row("os", &|c| {
        c.facts.os.clone().unwrap_or_else(|| "unknown".into())
    });
    row("compressed size", &|c| {
        c.facts
            .compressed_size
            .map(size)
            .unwrap_or_else(|| "-".into())
    });
    row("uncompressed size", &|c| size(c.facts.uncompressed_size));
    row("layers", &|c| c.facts.layers.to_string());
    row("files", &|c| c.facts.files.to_string());
    row("packages", &|c| {
        if c.facts.packages.is_empty() {
            "0".into()
        } else {
            let by: Vec<String> = c
                .facts
                .packages
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            format!("{} ({})", c.facts.packages_total, by.join(", "))
        }
    });
    if cols.iter().any(|c| c.cves.is_some()) {
        row("cves", &|c| match (&c.cves, &c.cves_note) {
            (_, Some(note)) => format!("n/a ({note})"),
            (None, None) => "-".into(),
            (Some(m), None) => {
                let total: usize = m.values().sum();
                let parts: Vec<String> =
                    ["critical", "high", "medium", "low", "negligible", "unknown"]
                        .iter()
                        .filter_map(|s| m.get(*s).filter(|n| **n > 0).map(|n| format!("{n} {s}")))
                        .collect();
                if parts.is_empty() {
                    total.to_string()
                } else {
                    format!("{total} ({})", parts.join(", "))
                }
            }
        });
    }
    row("shell", &|c| names(&c.facts.shells));
    row("package manager", &|c| {
        if c.facts.package_managers.is_empty() {
            "no".into()
        } else {
            c.facts.package_managers.join(", ")
        }
    });
    row("network tools", &|c| names(&c.facts.network_tools));
    row("user", &|c| {
        let u = if c.facts.user.is_empty() {
            "(unset)"
        } else {
            &c.facts.user
        };
        if c.facts.runs_as_root {
            format!("{u} (root)")
        } else {
            u.to_string()
        }
    });
    row("setuid/setgid files", &|c| yes_no(&c.facts.setuid_files));
    row("world-writable paths", &|c| yes_no(&c.facts.world_writable));
    row("ca bundle", &|c| {
        if c.facts.ca_bundle.is_some() {
            "yes".into()
        } else {
            "no".into()
        }
    });
    row("timezone data", &|c| {
        if c.facts.timezone_data {
            "yes".into()
        } else {
            "no".into()
        }
    });
    row("libc", &|c| c.facts.libc.clone());
    rows
}

pub fn table(rows: &[(String, Vec<String>)], markdown: bool) -> String {
    use std::fmt::Write as _;
    let ncols = rows.first().map(|r| r.1.len()).unwrap_or(0);
    let label_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncols)
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut o = String::new();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    for (n, (label, cells)) in rows.iter().enumerate() {
        if markdown {
            let esc = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(
                o,
                "| {} | {} |",
                if n == 0 { String::new() } else { esc(label) },
                cells.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            );
            if n == 0 {
                let _ = writeln!(o, "|---|{}", "---|".repeat(ncols));
            }
        } else {
            let line: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| pad(c, *w)).collect();
            let label = if n == 0 { "" } else { label.as_str() };
            let _ = writeln!(o, "{}  {}", pad(label, label_w), line.join("  ").trim_end());
        }
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG: one bar per image, labelled with `fmt(value)`.
fn bar_chart(title: &str, names: &[String], values: &[f64], fmt: &dyn Fn(f64) -> String) -> String {
    let max = values.iter().cloned().fold(0.0_f64, f64::max).max(1e-9);
    let bar_h = 26.0;
    let label_w = 260.0;
    let chart_w = 420.0;
    let h = 34.0 + bar_h * names.len() as f64;
    let mut s = format!(
        r#"<figure class="chart"><figcaption>{}</figcaption><svg role="img" aria-label="{}" width="{}" height="{h}" viewBox="0 0 {} {h}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title),
        esc(title),
        label_w + chart_w + 120.0,
        label_w + chart_w + 120.0
    );
    const COLORS: [&str; 6] = [
        "#3b6ea8", "#d9822b", "#3f9142", "#a3423c", "#7c5295", "#6b7280",
    ];
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        let y = 10.0 + bar_h * i as f64;
        let w = (v / max * chart_w).max(if *v > 0.0 { 2.0 } else { 0.0 });
        let short: String = if n.chars().count() > 34 {
            format!(
                "…{}",
                n.chars()
                    .rev()
                    .take(33)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            )
        } else {
            n.clone()
        };
        s.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="end" class="lbl">{}</text><rect x="{label_w}" y="{}" width="{w:.1}" height="{}" fill="{}"><title>{}: {}</title></rect><text x="{}" y="{}" class="val">{}</text>"#,
            label_w - 8.0,
            y + bar_h * 0.62,
            esc(&short),
            y + 3.0,
            bar_h - 8.0,
            COLORS[i % COLORS.len()],
            esc(n),
            esc(&fmt(*v)),
            label_w + w + 6.0,
            y + bar_h * 0.62,
            esc(&fmt(*v)),
        ));
    }
    s.push_str("</svg></figure>\n");
    s
}

/// The self-contained HTML report: charts and the full table, no external resources.
pub fn html(cols: &[Column]) -> String {
    let names: Vec<String> = cols.iter().map(|c| c.facts.name.clone()).collect();
    let mut body = String::new();
    let comp: Vec<f64> = cols
        .iter()
        .map(|c| c.facts.compressed_size.unwrap_or(0) as f64)
        .collect();
    let unc: Vec<f64> = cols
        .iter()
        .map(|c| c.facts.uncompressed_size as f64)
        .collect();
    let pk: Vec<f64> = cols.iter().map(|c| c.facts.packages_total as f64).collect();
    body.push_str(&bar_chart("Compressed size", &names, &comp, &|v| {
        size(v as u64)
    }));
    body.push_str(&bar_chart(
        "Uncompressed size (files)",
        &names,
        &unc,
        &|v| size(v as u64),
    ));
    body.push_str(&bar_chart("Packages", &names, &pk, &|v| format!("{v}")));
    if cols.iter().any(|c| c.cves.is_some()) {
        let cv: Vec<f64> = cols
            .iter()
            .map(|c| {
                c.cves
                    .as_ref()
                    .map(|m| m.values().sum::<usize>())
                    .unwrap_or(0) as f64
            })
            .collect();
        body.push_str(&bar_chart(
            "Known vulnerabilities (CVEs)",
            &names,
            &cv,
            &|v| format!("{v}"),
        ));
    }
    let rows = rows(cols);
    let mut table = String::from("<table>\n");
    for (n, (label, cells)) in rows.iter().enumerate() {
        let tag = if n == 0 { "th" } else { "td" };
        table.push_str(&format!(
            "<tr><th>{}</th>",
            if n == 0 { String::new() } else { esc(label) }
        ));
        for c in cells {
            let hardening = matches!(
                label.as_str(),
                "shell"
                    | "package manager"
                    | "network tools"
                    | "setuid/setgid files"
                    | "world-writable paths"
            );
            let class = match c.as_str() {
                "no" if hardening => " class=\"good\"",
                _ if hardening => " class=\"bad\"",
                s if s.ends_with("(root)") => " class=\"bad\"",
                _ => "",
            };
            table.push_str(&format!("<{tag}{class}>{}</{tag}>", esc(c)));
        }
        table.push_str("</tr>\n");
    }
    table.push_str("</table>\n");
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>plinth compare</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2937; }}
h1 {{ font-size: 1.4rem; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure.chart {{ margin: 0; border: 1px solid #e5e7eb; border-radius: 6px; padding: .5rem 1rem; }}
figcaption {{ font-weight: 600; margin-bottom: .3rem; }}
.lbl, .val {{ font-size: 13px; fill: #374151; }}
table {{ border-collapse: collapse; margin-top: 1.5rem; }}
th, td {{ border: 1px solid #e5e7eb; padding: .3rem .6rem; text-align: left; font-size: 14px; }}
tr:first-child th {{ background: #f3f4f6; }}
td.good {{ color: #166534; }} td.bad {{ color: #991b1b; font-weight: 600; }}
</style></head><body>
<h1>Image comparison</h1>
<div class="charts">
{body}</div>
{table}<p><small>Generated by plinth {}</small></p>
</body></html>
"#,
        env!("CARGO_PKG_VERSION")
    )
}
