//! Reading SBOMs back: SPDX 2.3 JSON and CycloneDX 1.4–1.6 JSON, as written by Plinth,
//! syft and trivy, and Plinth's own JSON, into an [`Sbom`] the matcher can scan.
//!
//! Packages come from their PURLs (`deb`, `apk`, `rpm`, `golang`, `cargo`, `pypi`,
//! `npm`); the source package from, in order of trust, Plinth's
//! `plinth:package:source-name`/`-version` properties, syft's
//! `syft:metadata:source`/`sourceVersion` (`originPackage` for apk), trivy's
//! `aquasecurity:trivy:SrcName`/`SrcEpoch`/`SrcVersion`/`SrcRelease`, trivy's SPDX
//! `sourceInfo` (`built package from: NAME VERSION`) and the PURL's `upstream=NAME` or
//! `upstream=NAME@VERSION` qualifier. The distro from the CycloneDX `operating-system`
//! component, the SPDX package whose `primaryPackagePurpose` is `OPERATING-SYSTEM`, or
//! else the `distro=` qualifier of an OS package's PURL (`debian-12`, `alpine-3.20.3`,
//! trivy's bare `3.20.3`).
//!
//! What the tools do differently is written down in
//! `tests/fixtures/sbom/README.md`; the real syft and trivy documents there are the tests.

use std::collections::{BTreeMap, BTreeSet};

use plinth_sbom::{Distro, Package, PackageKind, Sbom};
use serde_json::Value;

/// A parsed package URL. Every part is percent-decoded; qualifier keys are lower case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Purl {
    /// The package type (`deb`, `apk`, `golang`, `npm`, …).
    pub ty: String,
    /// The namespace (`debian`, `@babel`, a Go module's host and path prefix); `None`
    /// when there is none.
    pub namespace: Option<String>,
    /// The package name.
    pub name: String,
    /// The version, without a Debian/rpm `epoch=` qualifier folded in (see
    /// [`Purl::full_version`]); `None` when there is none.
    pub version: Option<String>,
    /// The qualifiers (`arch`, `distro`, `epoch`, `upstream`, …), keys lower case.
    pub qualifiers: BTreeMap<String, String>,
    /// The path inside the package after `#`, without surrounding slashes; `None`
    /// when there is none.
    pub subpath: Option<String>,
}

impl Purl {
    /// Parses `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`.
    pub fn parse(s: &str) -> Option<Purl> {
        let rest = s.trim().strip_prefix("pkg:")?.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, sp)) => (r, Some(decode(sp.trim_matches('/')))),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (ty, path) = rest.split_once('/')?;
        let path = path.trim_end_matches('/');
        // The version separator is an `@` after the last `/` (npm scopes are `@x/`).
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (path, version) = match path[last_slash..].rfind('@') {
            Some(i) if i > 0 => {
                let at = last_slash + i;
                (&path[..at], Some(decode(&path[at + 1..])))
            }
            _ => (path, None),
        };
        let mut segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect();
        let name = segs.pop()?;
        if name.is_empty() || ty.is_empty() {
            return None;
        }
        let namespace = (!segs.is_empty()).then(|| segs.join("/"));
        let mut qualifiers = BTreeMap::new();
        for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = decode(v);
            if !v.is_empty() {
                qualifiers.insert(k.to_ascii_lowercase(), v);
            }
        }
        Some(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath,
        })
    }

    /// The version with a Debian/rpm `epoch=` qualifier folded in (`1:1.2.13.dfsg-1`).
    pub fn full_version(&self) -> Option<String> {
        let v = self.version.clone()?;
        match self.qualifiers.get("epoch") {
            Some(e) if !v.contains(':') && matches!(self.ty.as_str(), "deb" | "rpm") => {
                Some(format!("{e}:{v}"))
            }
            _ => Some(v),
        }
    }

    /// Whether this PURL names `other`: same type, namespace and name; the same version
    /// when this one has a version; and every qualifier of this one present in `other`
    /// with the same value (so a PURL without qualifiers matches any).
    pub fn covers(&self, other: &Purl) -> bool {
        let eq = |a: &Option<String>, b: &Option<String>| {
            a.as_deref()
                .unwrap_or("")
                .eq_ignore_ascii_case(b.as_deref().unwrap_or(""))
        };
        self.ty == other.ty
            && eq(&self.namespace, &other.namespace)
            && self.name.eq_ignore_ascii_case(&other.name)
            && (self.version.is_none() || self.full_version() == other.full_version())
            && self
                .qualifiers
                .iter()
                .filter(|(k, _)| k.as_str() != "epoch")
                .all(|(k, v)| other.qualifiers.get(k) == Some(v))
    }
}

/// Percent-decoding (invalid escapes are kept as written).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Reads an SPDX 2.x JSON or CycloneDX JSON document.
pub fn read_sbom(bytes: &[u8]) -> Result<Sbom, String> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON document: {e}"))?;
    if !doc.is_object() {
        return Err("not an SBOM: the JSON is not an object".into());
    }
    if let Some(v) = doc.get("spdxVersion").and_then(Value::as_str) {
        if !v.starts_with("SPDX-2.") {
            return Err(format!("{v} is not supported (SPDX 2.x JSON is)"));
        }
        return Ok(spdx(&doc));
    }
    if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Ok(cyclonedx(&doc));
    }
    if doc.get("plinth_sbom_version").is_some() {
        return plinth_json(doc);
    }
    Err("not an SBOM this reader knows: neither SPDX 2.x JSON (spdxVersion), CycloneDX JSON (bomFormat) nor Plinth JSON (plinth_sbom_version)".into())
}

/// Plinth's own JSON: the [`Sbom`] model under a versioned wrapper.
fn plinth_json(mut doc: Value) -> Result<Sbom, String> {
    let version = doc["plinth_sbom_version"].as_u64().unwrap_or(0);
    if version != 1 {
        return Err(format!(
            "plinth-json version {version} is not supported (1 is)"
        ));
    }
    let mut take = |k: &str| doc.get_mut(k).map(Value::take).unwrap_or(Value::Null);
    let text = |v: Value| v.as_str().map(str::to_string);
    let name = text(take("name")).unwrap_or_default();
    let digest = text(take("digest"));
    let platform = text(take("platform"));
    let source_kind = text(take("source_kind")).unwrap_or_else(|| "plinth-json".into());
    let distro = match take("distro") {
        Value::Null => None,
        v => Some(serde_json::from_value(v).map_err(|e| format!("plinth-json distro: {e}"))?),
    };
    let packages = match take("packages") {
        Value::Null => Vec::new(),
        v => serde_json::from_value(v).map_err(|e| format!("plinth-json packages: {e}"))?,
    };
    let warnings = match take("warnings") {
        Value::Null => Vec::new(),
        v => serde_json::from_value(v).map_err(|e| format!("plinth-json warnings: {e}"))?,
    };
    Ok(Sbom {
        name,
        digest,
        platform,
        source_kind,
        distro,
        packages,
        warnings,
    })
}

/// What a document says about one package beside its PURL.
#[derive(Default)]
struct Facts {
    name: Option<String>,
    version: Option<String>,
    source_name: Option<String>,
    source_version: Option<String>,
    locations: Vec<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

struct Reader {
    packages: Vec<Package>,
    seen: std::collections::HashSet<String>,
    distro: Option<Distro>,
    distro_from_purl: Option<Distro>,
    warnings: Vec<String>,
    skipped_types: BTreeMap<String, usize>,
}

impl Reader {
    fn new() -> Self {
        Reader {
            packages: Vec::new(),
            seen: std::collections::HashSet::new(),
            distro: None,
            distro_from_purl: None,
            warnings: Vec::new(),
            skipped_types: BTreeMap::new(),
        }
    }

    fn add(&mut self, purl_text: &str, facts: Facts) {
        let Some(purl) = Purl::parse(purl_text) else {
            self.warnings
                .push(format!("unreadable package URL {purl_text:?}"));
            return;
        };
        let kind = match purl.ty.as_str() {
            "deb" => PackageKind::Deb,
            "apk" => PackageKind::Apk,
            "rpm" => PackageKind::Rpm,
            "golang" => PackageKind::Go,
            "cargo" => PackageKind::Cargo,
            "pypi" => PackageKind::Python,
            "npm" => PackageKind::Npm,
            other => {
                *self.skipped_types.entry(other.to_string()).or_default() += 1;
                return;
            }
        };
        let name = match kind {
            PackageKind::Go | PackageKind::Npm => match &purl.namespace {
                Some(ns) => format!("{ns}/{}", purl.name),
                None => purl.name.clone(),
            },
            PackageKind::Python => match &facts.name {
                Some(n) if crate::matcher::pep503(n) == crate::matcher::pep503(&purl.name) => {
                    n.clone()
                }
                _ => purl.name.clone(),
            },
            _ => purl.name.clone(),
        };
        let version = facts
            .version
            .clone()
            .or_else(|| purl.full_version())
            .unwrap_or_default();

        let mut source_name = None;
        let mut source_version = None;
        if kind.is_os() {
            if let Some(up) = purl.qualifiers.get("upstream") {
                match up.split_once('@') {
                    Some((n, v)) => {
                        source_name = Some(n.to_string());
                        source_version = Some(v.to_string());
                    }
                    None => source_name = Some(up.clone()),
                }
            }
            if facts.source_name.is_some() {
                source_name = facts.source_name.clone();
                source_version = facts.source_version.clone();
            }
            if kind == PackageKind::Deb || kind == PackageKind::Apk {
                self.note_distro(&purl);
            }
        }
        let source_version = source_version.filter(|v| *v != version);
        let source_name = source_name.filter(|s| *s != name || source_version.is_some());
        let source_name = source_name.or_else(|| source_version.as_ref().map(|_| name.clone()));

        let mut locations: Vec<String> = facts
            .locations
            .iter()
            .map(|l| l.trim_start_matches('/').to_string())
            .filter(|l| !l.is_empty())
            .collect();
        locations.sort();
        locations.dedup();
        let pkg = Package {
            kind: Some(kind),
            name,
            version,
            source_name,
            source_version,
            arch: purl.qualifiers.get("arch").cloned(),
            locations,
            purl: purl_text.to_string(),
            ..Default::default()
        };
        // The same package listed twice is kept once. Looked up by its JSON (every field
        // is serialised): a scan of the list per package made reading an SBOM quadratic.
        let key = serde_json::to_string(&pkg).unwrap_or_default();
        if self.seen.insert(key) {
            self.packages.push(pkg);
        }
    }

    fn note_distro(&mut self, purl: &Purl) {
        if self.distro_from_purl.is_some() {
            return;
        }
        let Some(q) = purl.qualifiers.get("distro") else {
            return;
        };
        let ns = purl
            .namespace
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut d = Distro {
            source: format!("PURL qualifier distro={q}"),
            ..Default::default()
        };
        let dash_digit = q
            .char_indices()
            .find(|&(i, c)| c == '-' && q[i + 1..].starts_with(|n: char| n.is_ascii_digit()))
            .map(|(i, _)| i);
        if q.starts_with(|c: char| c.is_ascii_digit()) {
            d.id = ns;
            d.version_id = Some(q.clone());
        } else if let Some(i) = dash_digit {
            d.id = q[..i].to_ascii_lowercase();
            d.version_id = Some(q[i + 1..].to_string());
        } else {
            d.id = ns;
            d.codename = Some(q.to_ascii_lowercase());
        }
        if !d.id.is_empty() {
            self.distro_from_purl = Some(d);
        }
    }

    fn finish(mut self, name: String, digest: Option<String>, kind: &str) -> Sbom {
        for (ty, n) in &self.skipped_types {
            self.warnings.push(format!(
                "{n} packages of PURL type {ty} are not matched by plinth"
            ));
        }
        let mut packages = self.packages;
        packages.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Sbom {
            name,
            digest,
            platform: None,
            source_kind: kind.to_string(),
            distro: self.distro.or(self.distro_from_purl),
            packages,
            warnings: self.warnings,
        }
    }
}

/// Trivy's split source version: `[SrcEpoch:]SrcVersion[-SrcRelease]`.
fn trivy_source_version(props: &BTreeMap<String, Vec<String>>) -> Option<String> {
    let get = |k: &str| {
        props
            .get(&format!("aquasecurity:trivy:{k}"))
            .and_then(|v| v.first())
            .filter(|s| !s.is_empty())
    };
    let mut v = get("SrcVersion")?.clone();
    if let Some(r) = get("SrcRelease") {
        v = format!("{v}-{r}");
    }
    if let Some(e) = get("SrcEpoch").filter(|e| e.as_str() != "0") {
        v = format!("{e}:{v}");
    }
    Some(v)
}

fn cyclonedx(doc: &Value) -> Sbom {
    let mut r = Reader::new();
    let spec = str_of(doc, "specVersion").unwrap_or("");
    if !matches!(spec, "1.4" | "1.5" | "1.6") {
        r.warnings.push(format!(
            "CycloneDX {spec:?}: read as 1.6 (1.4 to 1.6 are supported)"
        ));
    }
    let meta = doc.get("metadata").and_then(|m| m.get("component"));
    let name = meta
        .and_then(|m| str_of(m, "name"))
        .unwrap_or("sbom")
        .to_string();
    let digest = meta
        .and_then(|m| str_of(m, "version"))
        .filter(|v| v.starts_with("sha256:"))
        .map(str::to_string);
    let mut stack: Vec<&Value> = doc
        .get("components")
        .and_then(Value::as_array)
        .map(|a| a.iter().rev().collect())
        .unwrap_or_default();
    while let Some(c) = stack.pop() {
        if let Some(children) = c.get("components").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
        let mut props: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in c
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(k), Some(v)) = (str_of(p, "name"), p.get("value").and_then(Value::as_str))
            {
                props.entry(k.to_string()).or_default().push(v.to_string());
            }
        }
        let prop = |k: &str| {
            props
                .get(k)
                .and_then(|v| v.first())
                .filter(|s| !s.is_empty())
                .cloned()
        };
        if str_of(c, "type") == Some("operating-system") {
            if r.distro.is_none() {
                let id = prop("syft:distro:id")
                    .or_else(|| str_of(c, "name").map(str::to_string))
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                r.distro = Some(Distro {
                    id,
                    version_id: prop("syft:distro:versionID")
                        .or_else(|| str_of(c, "version").map(str::to_string)),
                    codename: prop("syft:distro:versionCodename")
                        .or_else(|| prop("plinth:distro:codename")),
                    pretty_name: prop("syft:distro:prettyName")
                        .or_else(|| str_of(c, "description").map(str::to_string)),
                    id_like: match props.get("plinth:distro:id-like") {
                        Some(v) => v.clone(),
                        None => prop("syft:distro:idLike")
                            .map(|s| s.split_whitespace().map(str::to_string).collect())
                            .unwrap_or_default(),
                    },
                    source: "CycloneDX operating-system component".into(),
                });
            }
            continue;
        }
        let Some(purl) = str_of(c, "purl") else {
            continue;
        };
        let mut facts = Facts {
            name: str_of(c, "name").map(str::to_string),
            version: str_of(c, "version").map(str::to_string),
            ..Default::default()
        };
        if let Some(n) = prop("plinth:package:source-name") {
            facts.source_name = Some(n);
            facts.source_version = prop("plinth:package:source-version");
        } else if let Some(n) =
            prop("syft:metadata:source").or_else(|| prop("syft:metadata:originPackage"))
        {
            facts.source_name = Some(n);
            facts.source_version = prop("syft:metadata:sourceVersion");
        } else if let Some(n) = prop("aquasecurity:trivy:SrcName") {
            facts.source_name = Some(n);
            facts.source_version = trivy_source_version(&props);
        }
        for (k, vs) in &props {
            let is_loc = (k.starts_with("syft:location:") && k.ends_with(":path"))
                || k == "aquasecurity:trivy:FilePath"
                || k == "plinth:package:location";
            if is_loc {
                facts.locations.extend(vs.iter().cloned());
            }
        }
        r.add(purl, facts);
    }
    r.finish(name, digest, "sbom-cyclonedx")
}

fn spdx(doc: &Value) -> Sbom {
    let mut r = Reader::new();
    let name = str_of(doc, "name").unwrap_or("sbom").to_string();
    for p in doc
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if str_of(p, "primaryPackagePurpose") == Some("OPERATING-SYSTEM") {
            if r.distro.is_none() {
                r.distro = Some(Distro {
                    id: str_of(p, "name").unwrap_or("").to_ascii_lowercase(),
                    version_id: str_of(p, "versionInfo").map(str::to_string),
                    pretty_name: str_of(p, "description").map(str::to_string),
                    source: "SPDX OPERATING-SYSTEM package".into(),
                    ..Default::default()
                });
            }
            continue;
        }
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|e| str_of(e, "referenceType") == Some("purl"))
            .and_then(|e| str_of(e, "referenceLocator"));
        let Some(purl) = purl else {
            continue;
        };
        let mut facts = Facts {
            name: str_of(p, "name").map(str::to_string),
            version: str_of(p, "versionInfo").map(str::to_string),
            ..Default::default()
        };
        if let Some(info) = str_of(p, "sourceInfo") {
            if let Some(rest) = info.strip_prefix("built package from: ") {
                let mut it = rest.split_whitespace();
                facts.source_name = it.next().map(str::to_string);
                facts.source_version = it.next().map(str::to_string);
            } else if let Some(rest) = info.strip_prefix("package found in: ") {
                facts.locations.push(rest.trim().to_string());
            } else if info.starts_with("acquired package info from ")
                && let Some((_, paths)) = info.split_once(": ")
            {
                facts
                    .locations
                    .extend(paths.split(", ").map(|s| s.trim().to_string()));
            }
        }
        r.add(purl, facts);
    }
    r.finish(name, None, "sbom-spdx")
}

/// The set of (kind, name, version, source name, source version) an SBOM holds, with
/// the source falling back to the package itself: what two readings of one image
/// should agree on.
pub fn package_set(sbom: &Sbom) -> BTreeSet<(String, String, String, String, String)> {
    sbom.packages
        .iter()
        .map(|p| {
            (
                p.kind().as_str().to_string(),
                p.name.clone(),
                p.version.clone(),
                p.source_or_name().to_string(),
                p.source_version_or_version().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_parse() {
        let p = Purl::parse(
            "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2",
        )
        .unwrap();
        assert_eq!(p.ty, "deb");
        assert_eq!(p.namespace.as_deref(), Some("debian"));
        assert_eq!(p.name, "bash");
        assert_eq!(p.version.as_deref(), Some("5.2.15-2+b8"));
        assert_eq!(p.qualifiers["upstream"], "bash@5.2.15-2");
        let p = Purl::parse(
            "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.11&epoch=1",
        )
        .unwrap();
        assert_eq!(p.full_version().unwrap(), "1:1.2.13.dfsg-1");
        let p = Purl::parse("pkg:npm/%40babel/core@7.0.0").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@babel"));
        assert_eq!(p.name, "core");
        let p = Purl::parse("pkg:npm/@babel/core").unwrap();
        assert_eq!(
            (p.namespace.as_deref(), p.name.as_str(), p.version),
            (Some("@babel"), "core", None)
        );
        let p =
            Purl::parse("pkg:golang/github.com/opencontainers/umoci@(devel)#cmd/umoci").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("github.com/opencontainers"));
        assert_eq!(p.version.as_deref(), Some("(devel)"));
        assert_eq!(p.subpath.as_deref(), Some("cmd/umoci"));
        assert!(Purl::parse("not a purl").is_none());
        assert!(Purl::parse("pkg:deb").is_none());
    }

    #[test]
    fn purl_coverage() {
        let pkg = Purl::parse(
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib",
        )
        .unwrap();
        let bare = Purl::parse("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1").unwrap();
        assert!(bare.covers(&pkg));
        let trivy = Purl::parse("pkg:deb/debian/zlib1g@1.2.13.dfsg-1?epoch=1&arch=amd64").unwrap();
        assert!(trivy.covers(&pkg));
        let other_arch = Purl::parse("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=arm64").unwrap();
        assert!(!other_arch.covers(&pkg));
        let any_version = Purl::parse("pkg:deb/debian/zlib1g").unwrap();
        assert!(any_version.covers(&pkg));
        let other_version = Purl::parse("pkg:deb/debian/zlib1g@1:1.3.dfsg-2").unwrap();
        assert!(!other_version.covers(&pkg));
    }

    #[test]
    fn not_an_sbom() {
        assert!(read_sbom(b"[]").is_err());
        assert!(read_sbom(b"{\"hello\": 1}").is_err());
        assert!(read_sbom(b"nope").is_err());
        assert!(read_sbom(b"{\"spdxVersion\": \"SPDX-3.0\"}").is_err());
    }
}
