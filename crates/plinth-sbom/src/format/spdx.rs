//! SPDX 2.3, JSON.
//!
//! One package for the image (`primaryPackagePurpose: CONTAINER`), one for the distro
//! (`OPERATING-SYSTEM`) when known, one per catalogued package; the document
//! `DESCRIBES` the image, which `CONTAINS` the rest. Declared licences that are not SPDX
//! expressions become `LicenseRef-`s declared in `hasExtractedLicensingInfos`.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::license::{Expression, license_ref_id, sanitize_idstring};
use super::{WriteOptions, content_uuid, rfc3339, sha256_hex, to_json, tool_name};
use crate::{Package, Sbom};

const NOASSERTION: &str = "NOASSERTION";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const IMAGE_ID: &str = "SPDXRef-Image";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    supplier: String,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
}

impl SpdxPackage {
    fn new(name: String, spdx_id: String) -> SpdxPackage {
        SpdxPackage {
            name,
            spdx_id,
            version_info: None,
            supplier: NOASSERTION.into(),
            download_location: NOASSERTION,
            files_analyzed: false,
            checksums: Vec::new(),
            source_info: None,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.into(),
            copyright_text: NOASSERTION,
            description: None,
            external_refs: Vec::new(),
            primary_package_purpose: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

/// Unique `LicenseRef-` ids for texts that are not SPDX ids, in first-seen order.
#[derive(Default)]
pub(crate) struct LicenseRefs {
    by_text: BTreeMap<String, String>,
    used: HashSet<String>,
    order: Vec<(String, String)>,
}

impl LicenseRefs {
    /// The id for `text`: `LicenseRef-<sanitised>` (a `LicenseRef-` text keeps its own
    /// name), with `-2`, `-3`… when two texts sanitise alike.
    pub(crate) fn id(&mut self, text: &str) -> String {
        if let Some(id) = self.by_text.get(text) {
            return id.clone();
        }
        let base = if text.starts_with("LicenseRef-") {
            text.to_string()
        } else {
            license_ref_id(text)
        };
        let id = unique(&mut self.used, base);
        self.by_text.insert(text.to_string(), id.clone());
        self.order.push((id.clone(), text.to_string()));
        id
    }
}

/// `base`, or `base-2`, `base-3`… whichever is not in `used` yet; records it.
pub(crate) fn unique(used: &mut HashSet<String>, base: String) -> String {
    let mut id = base.clone();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    used.insert(id.clone());
    id
}

/// `Name <email>` → `Person: Name (email)`; anything else → `Person: text`.
fn supplier(maintainer: &str) -> Option<String> {
    let m = maintainer.trim();
    if m.is_empty() {
        return None;
    }
    let (name, email) = match (m.find('<'), m.rfind('>')) {
        (Some(a), Some(b)) if a < b => (m[..a].trim(), Some(m[a + 1..b].trim())),
        _ => (m, None),
    };
    // Parentheses would confuse SPDX's `Name (email)` actor syntax.
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if matches!(c, '(' | ')') || c.is_control() {
                    ' '
                } else {
                    c
                }
            })
            .collect::<String>()
            .trim()
            .to_string()
    };
    let name = clean(name);
    if name.is_empty() {
        return None;
    }
    Some(match email.map(clean).filter(|e| !e.is_empty()) {
        Some(e) => format!("Person: {name} ({e})"),
        None => format!("Person: {name}"),
    })
}

fn package_base_id(p: &Package) -> String {
    let mut s = format!("SPDXRef-Package-{}-{}", p.kind().as_str(), p.name);
    if !p.version.is_empty() {
        s.push('-');
        s.push_str(&p.version);
    }
    sanitize_idstring(&s)
}

pub(crate) fn write(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    let name = if sbom.name.is_empty() {
        "unnamed".to_string()
    } else {
        sbom.name.clone()
    };
    let namespace = format!(
        "https://plinth.invalid/spdx/{}-{}",
        sanitize_idstring(&name),
        content_uuid("spdx-json", sbom, opts)
    );

    let mut used: HashSet<String> = HashSet::new();
    used.insert(DOCUMENT_ID.into());
    used.insert(IMAGE_ID.into());
    let mut refs = LicenseRefs::default();
    let mut packages = Vec::new();
    let mut relationships = vec![Relationship {
        spdx_element_id: DOCUMENT_ID.into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.into(),
    }];

    let mut image = SpdxPackage::new(name.clone(), IMAGE_ID.into());
    image.primary_package_purpose = Some("CONTAINER");
    if let Some(d) = &sbom.digest {
        image.version_info = Some(d.clone());
        if let Some(hex) = sha256_hex(d) {
            image.checksums.push(Checksum {
                algorithm: "SHA256",
                checksum_value: hex.to_ascii_lowercase(),
            });
        }
    }
    let mut desc = Vec::new();
    if let Some(p) = &sbom.platform {
        desc.push(format!("platform {p}"));
    }
    if !sbom.source_kind.is_empty() {
        desc.push(format!("read from {}", sbom.source_kind));
    }
    if !desc.is_empty() {
        image.description = Some(desc.join(", "));
    }
    packages.push(image);

    if let Some(d) = &sbom.distro {
        let id = unique(
            &mut used,
            sanitize_idstring(&format!(
                "SPDXRef-OperatingSystem-{}-{}",
                d.id,
                d.version_id.as_deref().unwrap_or("")
            )),
        );
        let mut os = SpdxPackage::new(
            if d.id.is_empty() {
                "unknown".into()
            } else {
                d.id.clone()
            },
            id.clone(),
        );
        os.version_info = d.version_id.clone().filter(|v| !v.is_empty());
        os.description = d.pretty_name.clone().filter(|v| !v.is_empty());
        os.primary_package_purpose = Some("OPERATING-SYSTEM");
        packages.push(os);
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: id,
        });
    }

    for p in &sbom.packages {
        let id = unique(&mut used, package_base_id(p));
        let mut sp = SpdxPackage::new(
            if p.name.is_empty() {
                "unnamed".into()
            } else {
                p.name.clone()
            },
            id.clone(),
        );
        sp.version_info = Some(p.version.clone()).filter(|v| !v.is_empty());
        if let Some(s) = p.metadata.get("maintainer").and_then(|m| supplier(m)) {
            sp.supplier = s;
        }
        if let Some(src) = p.source_name.as_deref().filter(|s| !s.is_empty()) {
            sp.source_info = Some(format!(
                "built package from: {src} {}",
                p.source_version_or_version()
            ));
        }
        if let Some(l) = p.license.as_deref().filter(|l| !l.trim().is_empty()) {
            sp.license_declared = Expression::parse(l).render(|u| refs.id(u));
        }
        if !p.purl.is_empty() {
            sp.external_refs.push(ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: p.purl.clone(),
            });
        }
        packages.push(sp);
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: id,
        });
    }

    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: DOCUMENT_ID,
        name,
        document_namespace: namespace,
        creation_info: CreationInfo {
            created: rfc3339(opts.created.unwrap_or(0)),
            creators: vec![format!("Tool: {}", tool_name(opts))],
        },
        comment: (!sbom.warnings.is_empty())
            .then(|| format!("Warnings while cataloguing:\n{}", sbom.warnings.join("\n"))),
        packages,
        relationships,
        has_extracted_licensing_infos: refs
            .order
            .into_iter()
            .map(|(license_id, text)| ExtractedLicense {
                name: text.clone(),
                extracted_text: text,
                license_id,
            })
            .collect(),
    };
    to_json(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers() {
        assert_eq!(
            supplier("GNU Libc Maintainers <debian-glibc@lists.debian.org>").as_deref(),
            Some("Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)")
        );
        assert_eq!(supplier("Someone").as_deref(), Some("Person: Someone"));
        assert_eq!(
            supplier("A (B) <c@d>").as_deref(),
            Some("Person: A  B (c@d)")
        );
        assert_eq!(supplier("  "), None);
        assert_eq!(supplier("<x@y>"), None);
    }

    #[test]
    fn unique_ids() {
        let mut used = HashSet::new();
        assert_eq!(unique(&mut used, "a".into()), "a");
        assert_eq!(unique(&mut used, "a".into()), "a-2");
        assert_eq!(unique(&mut used, "a-2".into()), "a-2-2");
        assert_eq!(unique(&mut used, "a".into()), "a-3");
    }

    #[test]
    fn license_refs_are_unique_per_text() {
        let mut r = LicenseRefs::default();
        assert_eq!(r.id("Foo Bar"), "LicenseRef-Foo-Bar");
        assert_eq!(r.id("Foo,Bar"), "LicenseRef-Foo-Bar-2");
        assert_eq!(r.id("Foo+"), "LicenseRef-Foo-plus");
        assert_eq!(r.id("Foo Bar"), "LicenseRef-Foo-Bar");
        assert_eq!(r.id("LicenseRef-x"), "LicenseRef-x");
        assert_eq!(r.order.len(), 4);
    }
}
