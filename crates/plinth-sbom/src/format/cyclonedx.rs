//! CycloneDX 1.6, JSON.
//!
//! The image is `metadata.component` (`type: container`); the distro, when known, an
//! `operating-system` component; every package a `library` whose `bom-ref` is its PURL
//! (made unique when two packages share one). The dependency graph says only that the
//! image holds every component: Plinth does not know package-to-package edges.

use std::collections::HashSet;

use serde::Serialize;

use super::license::Expression;
use super::spdx::{LicenseRefs, unique};
use super::{WriteOptions, content_uuid, rfc3339, sha256_hex, to_json};
use crate::model::PackageKind;
use crate::{Package, Sbom};

const IMAGE_REF: &str = "plinth-image";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    tools: Tools,
    component: Component,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

impl Component {
    fn new(ty: &'static str, name: String) -> Component {
        Component {
            ty,
            bom_ref: None,
            name,
            version: None,
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            properties: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: License },
    Expression { expression: String },
}

#[derive(Serialize)]
struct License {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

fn prop(name: &str, value: &str) -> Property {
    Property {
        name: name.into(),
        value: value.into(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    dep_ref: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

/// `licenses` for a declared licence: `{license: {id}}` for one known SPDX id,
/// `{license: {name}}` for text that is not an expression (or one unknown word), else
/// `{expression}` with unknown ids as `LicenseRef-`s.
fn licenses(raw: &str, refs: &mut LicenseRefs) -> Vec<LicenseChoice> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Vec::new();
    }
    let e = Expression::parse(raw);
    let license = if let Some(id) = e.single_id() {
        License {
            id: Some(id.to_string()),
            name: None,
        }
    } else if let Some(text) = e.single_unknown() {
        License {
            id: None,
            name: Some(text.to_string()),
        }
    } else {
        return vec![LicenseChoice::Expression {
            expression: e.render(|u| refs.id(u)),
        }];
    };
    vec![LicenseChoice::License { license }]
}

fn fallback_ref(p: &Package) -> String {
    format!("{}:{}@{}", p.kind().as_str(), p.name, p.version)
}

/// trivy's source-package properties. Without them trivy takes a CycloneDX component's
/// own name and version for its source's, and matches Debian advisories (filed against
/// source packages: `glibc`, not `libc6`) against the wrong name. trivy splits a Debian
/// or RPM version into `[epoch:]version[-release]`; an Alpine one stays whole.
fn trivy_source(p: &Package) -> Vec<Property> {
    let Some(src) = p.source_name.as_deref().filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    let full = p.source_version_or_version();
    let mut out = vec![prop("aquasecurity:trivy:SrcName", src)];
    match p.kind() {
        PackageKind::Deb | PackageKind::Rpm => {
            let (epoch, rest) = match full.split_once(':') {
                Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                    (Some(e), r)
                }
                _ => (None, full),
            };
            let (version, release) = match rest.rsplit_once('-') {
                Some((v, r)) if !v.is_empty() && !r.is_empty() => (v, Some(r)),
                _ => (rest, None),
            };
            out.push(prop("aquasecurity:trivy:SrcVersion", version));
            if let Some(r) = release {
                out.push(prop("aquasecurity:trivy:SrcRelease", r));
            }
            if let Some(e) = epoch.filter(|e| !e.trim_start_matches('0').is_empty()) {
                out.push(prop("aquasecurity:trivy:SrcEpoch", e));
            }
        }
        PackageKind::Apk => out.push(prop("aquasecurity:trivy:SrcVersion", full)),
        _ => return Vec::new(),
    }
    out
}

fn package_component(p: &Package, bom_ref: String, refs: &mut LicenseRefs) -> Component {
    let mut c = Component::new("library", p.name.clone());
    c.bom_ref = Some(bom_ref);
    c.version = Some(p.version.clone()).filter(|v| !v.is_empty());
    if let Some(l) = &p.license {
        c.licenses = licenses(l, refs);
    }
    c.purl = Some(p.purl.clone()).filter(|v| !v.is_empty());
    let mut props = Vec::new();
    if let Some(src) = p.source_name.as_deref().filter(|s| !s.is_empty()) {
        // syft's names, which syft and grype read back from CycloneDX.
        props.push(prop("syft:metadata:source", src));
        if let Some(v) = p.source_version.as_deref().filter(|s| !s.is_empty()) {
            props.push(prop("syft:metadata:sourceVersion", v));
        }
    }
    props.extend(trivy_source(p));
    props.push(prop("plinth:package:kind", p.kind().as_str()));
    if let Some(src) = p.source_name.as_deref().filter(|s| !s.is_empty()) {
        props.push(prop("plinth:package:source-name", src));
        props.push(prop(
            "plinth:package:source-version",
            p.source_version_or_version(),
        ));
    }
    if let Some(a) = p.arch.as_deref().filter(|s| !s.is_empty()) {
        props.push(prop("plinth:package:arch", a));
    }
    if let Some(l) = p.layer {
        props.push(prop("plinth:package:layer", &l.to_string()));
    }
    for loc in &p.locations {
        props.push(prop("plinth:package:location", loc));
    }
    for (k, v) in &p.metadata {
        props.push(prop(&format!("plinth:metadata:{k}"), v));
    }
    c.properties = props;
    c
}

pub(crate) fn write(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    let mut used: HashSet<String> = HashSet::new();
    used.insert(IMAGE_REF.into());
    let mut refs = LicenseRefs::default();
    let mut components = Vec::new();
    let mut depends_on = Vec::new();

    let mut image = Component::new(
        "container",
        if sbom.name.is_empty() {
            "unnamed".into()
        } else {
            sbom.name.clone()
        },
    );
    image.bom_ref = Some(IMAGE_REF.into());
    if let Some(d) = &sbom.digest {
        image.version = Some(d.clone());
        if let Some(hex) = sha256_hex(d) {
            image.hashes.push(Hash {
                alg: "SHA-256",
                content: hex.to_ascii_lowercase(),
            });
        }
    }
    if let Some(p) = &sbom.platform {
        image.properties.push(prop("plinth:image:platform", p));
    }
    if !sbom.source_kind.is_empty() {
        image
            .properties
            .push(prop("plinth:image:source-kind", &sbom.source_kind));
    }

    if let Some(d) = &sbom.distro {
        let name = if d.id.is_empty() {
            "unknown".to_string()
        } else {
            d.id.clone()
        };
        let version = d.version_id.clone().filter(|v| !v.is_empty());
        let bom_ref = unique(
            &mut used,
            format!("os:{name}@{}", version.as_deref().unwrap_or("")),
        );
        let mut os = Component::new("operating-system", name);
        os.bom_ref = Some(bom_ref.clone());
        os.version = version;
        os.description = d.pretty_name.clone().filter(|v| !v.is_empty());
        if let Some(c) = d.codename.as_deref().filter(|s| !s.is_empty()) {
            os.properties.push(prop("plinth:distro:codename", c));
        }
        for like in &d.id_like {
            os.properties.push(prop("plinth:distro:id-like", like));
        }
        if !d.source.is_empty() {
            os.properties.push(prop("plinth:distro:source", &d.source));
        }
        components.push(os);
        depends_on.push(bom_ref);
    }

    for p in &sbom.packages {
        let base = if p.purl.is_empty() {
            fallback_ref(p)
        } else {
            p.purl.clone()
        };
        let bom_ref = unique(&mut used, base);
        components.push(package_component(p, bom_ref.clone(), &mut refs));
        depends_on.push(bom_ref);
    }

    let mut tool = Component::new("application", "plinth".into());
    tool.version = Some(opts.tool_version.clone()).filter(|v| !v.is_empty());

    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", content_uuid("cyclonedx-json", sbom, opts)),
        version: 1,
        metadata: Metadata {
            timestamp: opts.created.map(rfc3339),
            tools: Tools {
                components: vec![tool],
            },
            component: image,
            properties: sbom
                .warnings
                .iter()
                .map(|w| prop("plinth:warning", w))
                .collect(),
        },
        components,
        dependencies: vec![Dependency {
            dep_ref: IMAGE_REF.into(),
            depends_on,
        }],
    };
    to_json(&bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic(s: &str) -> String {
        serde_json::to_string(&licenses(s, &mut LicenseRefs::default())).unwrap()
    }

    fn trivy(kind: PackageKind, version: &str, source_version: Option<&str>) -> Vec<String> {
        let p = Package {
            kind: Some(kind),
            name: "bin".into(),
            version: version.into(),
            source_name: Some("src".into()),
            source_version: source_version.map(str::to_string),
            ..Package::default()
        };
        trivy_source(&p)
            .into_iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.name.trim_start_matches("aquasecurity:trivy:"),
                    p.value
                )
            })
            .collect()
    }

    #[test]
    fn trivy_source_properties() {
        assert_eq!(
            trivy(PackageKind::Deb, "2.36-9+deb12u9", None),
            ["SrcName=src", "SrcVersion=2.36", "SrcRelease=9+deb12u9"]
        );
        assert_eq!(
            trivy(PackageKind::Deb, "1:1.2-3+b1", Some("1:1.2-3")),
            [
                "SrcName=src",
                "SrcVersion=1.2",
                "SrcRelease=3",
                "SrcEpoch=1"
            ]
        );
        assert_eq!(
            trivy(PackageKind::Deb, "0:1.0", None),
            ["SrcName=src", "SrcVersion=1.0"]
        );
        assert_eq!(
            trivy(PackageKind::Rpm, "3.0.7-27.el9", None),
            ["SrcName=src", "SrcVersion=3.0.7", "SrcRelease=27.el9"]
        );
        assert_eq!(
            trivy(PackageKind::Apk, "1.36.1-r29", None),
            ["SrcName=src", "SrcVersion=1.36.1-r29"]
        );
        assert!(trivy(PackageKind::Npm, "1.0.0", None).is_empty());
    }

    #[test]
    fn license_choices() {
        assert_eq!(lic("mit"), r#"[{"license":{"id":"MIT"}}]"#);
        assert_eq!(
            lic("MIT OR Apache-2.0"),
            r#"[{"expression":"MIT OR Apache-2.0"}]"#
        );
        assert_eq!(lic("GPL-2.0+"), r#"[{"expression":"GPL-2.0+"}]"#);
        assert_eq!(lic("custom"), r#"[{"license":{"name":"custom"}}]"#);
        assert_eq!(
            lic("Apache License 2.0"),
            r#"[{"license":{"name":"Apache License 2.0"}}]"#
        );
        assert_eq!(
            lic("MIT AND Public-Domain"),
            r#"[{"expression":"MIT AND LicenseRef-Public-Domain"}]"#
        );
        assert_eq!(lic("  "), "[]");
    }
}
