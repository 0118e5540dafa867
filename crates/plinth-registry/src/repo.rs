//! The distribution API on one repository: manifests (GET, HEAD, PUT), blobs (GET, HEAD,
//! mount, monolithic and chunked upload), tags and referrers.

use std::io::Read;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use sha2::{Digest as _, Sha256};

use crate::client::{Body, Client, enc, header, join_url, status_error};
use crate::error::{Error, Result};
use crate::reference::Reference;

/// Largest manifest or index accepted (what the common registries enforce).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Chunk size of a chunked upload, when the registry does not ask for another.
pub const CHUNK: u64 = 16 << 20;

/// The manifest media types asked for.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The media types that are manifests (fetched from `/manifests/`) rather than blobs.
pub fn is_manifest_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.oci.image.index.v1+json"
            | "application/vnd.oci.image.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json"
            | "application/vnd.docker.distribution.manifest.v2+json"
    )
}

/// A manifest as the registry stored it: the exact bytes, their digest, their media type.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The bytes, never re-encoded.
    pub bytes: Vec<u8>,
    /// `sha256:` of the bytes.
    pub digest: String,
    /// The media type (the `Content-Type`, else the document's `mediaType`).
    pub media_type: String,
}

impl Manifest {
    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.bytes.len() as u64,
            self.digest
                .parse::<oci_spec::image::Digest>()
                .expect("a sha256 digest computed here"),
        )
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What happened to one blob on its way to a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobOutcome {
    /// Uploaded.
    Sent,
    /// The registry had it already.
    Skipped,
    /// Mounted from another repository of the same registry.
    Mounted,
}

/// One repository of a registry, with pull or push rights.
pub struct Repo<'c> {
    client: &'c Client,
    reference: Reference,
    base: String,
    scopes: Vec<String>,
}

impl<'c> Repo<'c> {
    /// The repository `r` names, for reading.
    pub fn pull(client: &'c Client, r: &Reference) -> Repo<'c> {
        Repo::new(client, r, vec![format!("repository:{}:pull", r.repository)])
    }

    /// The repository `r` names, for writing.
    pub fn push(client: &'c Client, r: &Reference) -> Repo<'c> {
        Repo::new(
            client,
            r,
            vec![format!("repository:{}:pull,push", r.repository)],
        )
    }

    fn new(client: &'c Client, r: &Reference, scopes: Vec<String>) -> Repo<'c> {
        Repo {
            client,
            base: format!("{}/v2/{}", client.base_url(r), r.repository),
            reference: r.clone(),
            scopes,
        }
    }

    /// The reference this repository was opened with.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The client.
    pub fn client(&self) -> &'c Client {
        self.client
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        self.client
            .send(&self.reference, &self.scopes, method, url, headers, body)
    }

    fn what_manifest(&self, r: &str) -> String {
        if r.starts_with("sha256:") {
            format!("manifest {}@{r}", self.reference.name())
        } else {
            format!("manifest {}:{r}", self.reference.name())
        }
    }

    /// GETs the manifest at `r` (a tag or a digest): the exact bytes, at most
    /// [`MAX_MANIFEST`], checked against the digest asked for and the one announced.
    pub fn get_manifest(&self, r: &str) -> Result<Manifest> {
        let what = self.what_manifest(r);
        let url = format!("{}/manifests/{r}", self.base);
        let resp = self.send(
            "GET",
            &url,
            &[("accept", MANIFEST_ACCEPT.to_string())],
            Body::Empty,
        )?;
        if !resp.status().is_success() {
            return Err(status_error(&what, resp));
        }
        let too_large = || Error::ManifestTooLarge {
            reference: what.clone(),
            limit: MAX_MANIFEST,
        };
        if resp
            .body()
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST)
        {
            return Err(too_large());
        }
        let content_type = header(&resp, "content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| is_manifest_type(c));
        let announced = header(&resp, "docker-content-digest").map(str::to_string);
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Protocol {
                what: what.clone(),
                reason: format!("the body broke off: {e}"),
            })?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(too_large());
        }
        let digest = sha256(&bytes);
        let expected = if r.starts_with("sha256:") {
            Some(r.to_string())
        } else {
            announced.filter(|a| a.starts_with("sha256:"))
        };
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                what,
                expected,
                actual: digest,
            });
        }
        let media_type = match content_type {
            Some(c) => c,
            None => {
                #[derive(serde::Deserialize)]
                struct Probe {
                    #[serde(rename = "mediaType", default)]
                    media_type: String,
                    #[serde(default)]
                    manifests: Option<serde_json::Value>,
                }
                let p: Probe = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                    what: what.clone(),
                    reason: format!("not a JSON manifest: {e}"),
                })?;
                match (p.media_type.as_str(), p.manifests) {
                    (m, _) if is_manifest_type(m) => p.media_type,
                    (_, Some(_)) => "application/vnd.oci.image.index.v1+json".into(),
                    _ => "application/vnd.oci.image.manifest.v1+json".into(),
                }
            }
        };
        Ok(Manifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// HEADs the manifest at `r`: its digest when it exists, `None` when not.
    pub fn head_manifest(&self, r: &str) -> Result<Option<String>> {
        let url = format!("{}/manifests/{r}", self.base);
        let resp = self.send(
            "HEAD",
            &url,
            &[("accept", MANIFEST_ACCEPT.to_string())],
            Body::Empty,
        )?;
        match resp.status().as_u16() {
            200..=299 => Ok(header(&resp, "docker-content-digest").map(str::to_string)),
            404 => Ok(None),
            _ => Err(status_error(&self.what_manifest(r), resp)),
        }
    }

    /// PUTs `m` at `r` (its digest or a tag). Returns whether the registry indexed its
    /// `subject` itself (the `OCI-Subject` header of OCI 1.1).
    pub fn put_manifest(&self, r: &str, m: &Manifest) -> Result<bool> {
        let what = self.what_manifest(r);
        let url = format!("{}/manifests/{r}", self.base);
        let resp = self.send(
            "PUT",
            &url,
            &[("content-type", m.media_type.clone())],
            Body::Bytes(&m.bytes),
        )?;
        if !resp.status().is_success() {
            return Err(status_error(&what, resp));
        }
        if let Some(d) = header(&resp, "docker-content-digest")
            && d.starts_with("sha256:")
            && d != m.digest
        {
            return Err(Error::DigestMismatch {
                what,
                expected: m.digest.clone(),
                actual: d.to_string(),
            });
        }
        Ok(header(&resp, "oci-subject").is_some())
    }

    /// HEADs a blob: its size when the registry has it.
    pub fn blob_size(&self, digest: &str) -> Result<Option<u64>> {
        let url = format!("{}/blobs/{digest}", self.base);
        let resp = self.send("HEAD", &url, &[], Body::Empty)?;
        match resp.status().as_u16() {
            // A redirect (to blob storage) means the registry has it.
            300..=399 => Ok(Some(0)),
            200..=299 => Ok(Some(
                header(&resp, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => Err(status_error(
                &format!("blob {digest} in {}", self.reference.name()),
                resp,
            )),
        }
    }

    /// GETs a blob's bytes as a stream, unchecked (the caller verifies them), with the
    /// length the registry announced. A length over `size` is refused before reading.
    pub fn get_blob(&self, digest: &str, size: u64) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        let what = format!("blob {digest} of {}", self.reference.name());
        let url = format!("{}/blobs/{digest}", self.base);
        let resp = self.send("GET", &url, &[], Body::Empty)?;
        if !resp.status().is_success() {
            return Err(status_error(&what, resp));
        }
        let len = resp.body().content_length();
        if let Some(n) = len
            && n > size
        {
            return Err(Error::Protocol {
                what,
                reason: format!("the registry announces {n} bytes, the descriptor {size}"),
            });
        }
        let body = BlobBody {
            inner: resp.into_body().into_reader(),
            url,
            reference: self.reference.to_string(),
        };
        Ok((Box::new(body), len))
    }

    /// Mounts blob `digest` from repository `from` of the same registry. Returns `true`
    /// when mounted; `false` when the registry will not (the caller uploads instead).
    pub fn mount(&self, digest: &str, from: &str) -> Result<bool> {
        let scopes = vec![self.scopes[0].clone(), format!("repository:{from}:pull")];
        let url = format!(
            "{}/blobs/uploads/?mount={}&from={}",
            self.base,
            enc(digest),
            enc(from)
        );
        let resp = self
            .client
            .send(&self.reference, &scopes, "POST", &url, &[], Body::Empty)?;
        match resp.status().as_u16() {
            201 => Ok(true),
            // 202: an upload session instead; left to expire, the caller starts its own.
            202 => Ok(false),
            401 | 403 | 404 => Ok(false),
            _ => Err(status_error(
                &format!("mount of {digest} into {}", self.reference.name()),
                resp,
            )),
        }
    }

    fn start_upload(&self, what: &str) -> Result<(String, Option<u64>)> {
        let url = format!("{}/blobs/uploads/", self.base);
        let resp = self.send("POST", &url, &[], Body::Empty)?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(what, resp));
        }
        let loc = header(&resp, "location").ok_or_else(|| Error::Protocol {
            what: what.to_string(),
            reason: "the upload session has no Location".into(),
        })?;
        let min_chunk = header(&resp, "oci-chunk-min-length").and_then(|v| v.parse().ok());
        Ok((join_url(&url, loc), min_chunk))
    }

    fn digest_url(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={}", enc(digest))
    }

    /// Uploads one blob of `size` bytes read from `reader`, in one PUT. Returns the HTTP
    /// status when the registry refuses a monolithic upload (the caller then goes
    /// chunked), `Ok(None)` when stored.
    pub fn upload_monolithic(
        &self,
        digest: &str,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<Option<u16>> {
        let what = format!("upload of blob {digest} to {}", self.reference.name());
        // The POST (which can be sent twice) gets the token the streamed PUT then uses.
        let (location, _) = self.start_upload(&what)?;
        let resp = self.send(
            "PUT",
            &Self::digest_url(&location, digest),
            &[("content-type", "application/octet-stream".to_string())],
            Body::Stream(reader, size),
        )?;
        match resp.status().as_u16() {
            201 | 204 | 200 => Ok(None),
            s @ (400 | 405 | 413 | 416) => {
                let _ = crate::client::error_detail(resp);
                Ok(Some(s))
            }
            _ => Err(status_error(&what, resp)),
        }
    }

    /// Uploads one blob in PATCH chunks, then a closing PUT.
    pub fn upload_chunked(&self, digest: &str, size: u64, reader: &mut dyn Read) -> Result<()> {
        let what = format!(
            "chunked upload of blob {digest} to {}",
            self.reference.name()
        );
        self.client.prime(&self.reference, &self.scopes)?;
        let (mut location, min) = self.start_upload(&what)?;
        let chunk = min.unwrap_or(CHUNK).max(CHUNK);
        let mut offset = 0u64;
        while offset < size {
            let n = chunk.min(size - offset);
            let mut part = reader.take(n);
            let resp = self.send(
                "PATCH",
                &location,
                &[
                    ("content-type", "application/octet-stream".to_string()),
                    ("content-range", format!("{}-{}", offset, offset + n - 1)),
                ],
                Body::Stream(&mut part, n),
            )?;
            if resp.status().as_u16() != 202 {
                return Err(status_error(&what, resp));
            }
            location = match header(&resp, "location") {
                Some(l) => join_url(&location, l),
                None => location,
            };
            offset += n;
        }
        let resp = self.send(
            "PUT",
            &Self::digest_url(&location, digest),
            &[],
            Body::Empty,
        )?;
        if !resp.status().is_success() {
            return Err(status_error(&what, resp));
        }
        Ok(())
    }

    /// The repository's tags, following `Link` pagination.
    pub fn tags(&self) -> Result<Vec<String>> {
        let what = format!("tag list of {}", self.reference.name());
        let mut url = format!("{}/tags/list", self.base);
        let mut out = Vec::new();
        for _ in 0..1000 {
            let resp = self.send("GET", &url, &[], Body::Empty)?;
            if !resp.status().is_success() {
                return Err(status_error(&what, resp));
            }
            let next = header(&resp, "link").and_then(|l| {
                let start = l.find('<')? + 1;
                let end = l.find('>')?;
                (l.contains("rel=\"next\"") && end > start).then(|| join_url(&url, &l[start..end]))
            });
            #[derive(serde::Deserialize)]
            struct Tags {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let mut bytes = Vec::new();
            resp.into_body()
                .into_reader()
                .take(MAX_MANIFEST)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::Protocol {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
            let t: Tags = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                what: what.clone(),
                reason: format!("not a tag list: {e}"),
            })?;
            out.extend(t.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(out),
            }
        }
        Err(Error::Protocol {
            what,
            reason: "more than 1000 pages".into(),
        })
    }

    /// The manifests that name `digest` as their `subject`: the OCI 1.1 referrers API,
    /// else the `sha256-<hex>` tag schema's index; empty when there is neither.
    pub fn referrers(&self, digest: &str) -> Result<Vec<Descriptor>> {
        let what = format!("referrers of {}@{digest}", self.reference.name());
        let url = format!("{}/referrers/{digest}", self.base);
        let resp = self.send(
            "GET",
            &url,
            &[(
                "accept",
                "application/vnd.oci.image.index.v1+json".to_string(),
            )],
            Body::Empty,
        )?;
        let is_index = header(&resp, "content-type")
            .is_some_and(|c| c.starts_with("application/vnd.oci.image.index.v1+json"));
        if resp.status().is_success() && is_index {
            let mut bytes = Vec::new();
            resp.into_body()
                .into_reader()
                .take(MAX_MANIFEST + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::Protocol {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
            if bytes.len() as u64 > MAX_MANIFEST {
                return Err(Error::ManifestTooLarge {
                    reference: what,
                    limit: MAX_MANIFEST,
                });
            }
            let index: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                    what,
                    reason: format!("not an image index: {e}"),
                })?;
            return Ok(index.manifests().clone());
        }
        match resp.status().as_u16() {
            // No referrers API (distribution 2.8 answers 404): the tag schema.
            200..=299 | 404 | 405 | 400 => {}
            _ => return Err(status_error(&what, resp)),
        }
        let tag = fallback_tag(digest);
        match self.get_manifest(&tag) {
            Ok(m) => {
                let index: ImageIndex =
                    serde_json::from_slice(&m.bytes).map_err(|e| Error::Protocol {
                        what,
                        reason: format!("tag {tag} is not an image index: {e}"),
                    })?;
                Ok(index.manifests().clone())
            }
            Err(Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// A blob's body as it arrives. A connection that breaks in the middle (reset, timed
/// out) is the registry's or the network's failure, not the image's: the error carries an
/// [`Error::Connect`] naming the reference, which the reader's caller finds in the cause
/// chain (exit 3, and another try for a pull). A body that ends cleanly before its
/// announced length is left to the verifying reader, like any short blob.
struct BlobBody<R> {
    inner: R,
    url: String,
    reference: String,
}

impl<R: Read> Read for BlobBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::UnexpectedEof => e,
            kind => std::io::Error::new(
                kind,
                Error::Connect {
                    reference: self.reference.clone(),
                    url: self.url.clone(),
                    source: Box::new(ureq::Error::from(e)),
                },
            ),
        })
    }
}

/// The tag the referrers tag schema keeps `digest`'s referrers under: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `first` bytes, then fails with `kind`.
    struct Breaks(usize, std::io::ErrorKind);

    impl Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(self.1.into());
            }
            let n = self.0.min(buf.len());
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    fn read_error(kind: std::io::ErrorKind) -> plinth_oci::Error {
        let mut body = BlobBody {
            inner: Breaks(10, kind),
            url: "http://127.0.0.1:1/v2/a/blobs/sha256:00".into(),
            reference: "127.0.0.1:1/a:v1".into(),
        };
        let e = std::io::copy(&mut body, &mut std::io::sink()).unwrap_err();
        // What `plinth_oci`'s verifying reader makes of a read error.
        plinth_oci::Error::Read {
            what: "blob sha256:00".into(),
            source: e,
        }
    }

    /// A connection reset in the middle of a layer (a lazy read for `sbom REF`) was
    /// exit 2, as if the image were bad: it is the registry's or the network's failure.
    #[test]
    fn a_connection_broken_mid_body_is_not_the_inputs_fault() {
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::TimedOut,
        ] {
            let e = read_error(kind);
            assert!(crate::is_remote_failure(&e), "{kind:?}");
            let chain = format!("{:?}", e);
            assert!(chain.contains("127.0.0.1:1/a:v1"), "{chain}");
            assert!(Error::Oci(read_error(kind)).is_internal(), "{kind:?}");
        }
        // A body that ends early is the short blob the verifying reader reports.
        let e = read_error(std::io::ErrorKind::UnexpectedEof);
        assert!(!crate::is_remote_failure(&e));
        assert!(!Error::Oci(e).is_internal());
    }
}
