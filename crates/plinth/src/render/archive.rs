//! `scan --fixes-from-archive`'s table: the source packages with newer versions in the
//! signed archive, and the CVEs their changelogs name.

use plinth_sbom::Sbom;
use plinth_vuln::archive::ArchiveFixes;

/// The table of `f` for the image `sbom` describes.
pub fn table(sbom: &Sbom, f: &ArchiveFixes) -> String {
    let mut o = format!(
        "Subject:  {}\nArchive:  Debian {} {} ({})\n",
        sbom.name,
        f.release,
        f.arch,
        f.suites
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    o.push_str(&format!(
        "Updates:  {} source packages have newer versions naming {} CVEs; {} up to date; {} not in the archive\n\n",
        f.updates.len(),
        f.cve_ids().len(),
        f.up_to_date,
        f.not_in_archive.len()
    ));
    if !f.kernel_headers.is_empty() {
        o.push_str(&format!(
            "Not looked at: {} (no kernel image or modules: the kernel's CVEs are not theirs)\n\n",
            f.kernel_headers.join(", ")
        ));
    }
    if f.updates.is_empty() {
        return o;
    }
    let w = f
        .updates
        .iter()
        .map(|u| u.source.len())
        .max()
        .unwrap_or(6)
        .max(6);
    o.push_str(&format!(
        "{:<w$}  {:<24}  {:<44}  {:>4}  BINARIES\n",
        "SOURCE", "INSTALLED", "NEWEST", "CVES"
    ));
    for u in &f.updates {
        o.push_str(&format!(
            "{:<w$}  {:<24}  {:<44}  {:>4}  {}\n",
            u.source,
            u.installed,
            format!("{} ({})", u.newest, u.suite),
            u.cve_ids.len(),
            u.binaries.join(", ")
        ));
        if let Some(e) = &u.error {
            o.push_str(&format!("{:w$}  changelog not read: {e}\n", ""));
        }
        for chunk in u.cve_ids.chunks(6) {
            o.push_str(&format!("{:w$}  {}\n", "", chunk.join(" ")));
        }
    }
    o
}
