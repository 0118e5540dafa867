//! [`RegistrySource`]: an image in a registry read lazily through
//! [`plinth_oci::ImageSource`]. Opening it fetches the manifest (or index) the reference
//! names; manifests and configs are fetched when the walk asks for them (and kept, they
//! are small); a layer is fetched only when `open_raw` is called, as a stream that the
//! caller's verifying reader checks, never written to disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oci_spec::image::Descriptor;
use plinth_oci::source::RawBlob;
use plinth_oci::{ImageSource, REF_NAME};

use crate::client::Client;
use crate::error::Result;
use crate::reference::Reference;
use crate::repo::{Manifest, Repo, is_manifest_type};

/// An image in a registry, as an [`ImageSource`].
pub struct RegistrySource {
    client: Arc<Client>,
    reference: Reference,
    root: Vec<Descriptor>,
    manifests: Mutex<HashMap<String, Arc<[u8]>>>,
}

impl RegistrySource {
    /// Fetches the manifest `reference` names. Its index entry carries the tag (or, for a
    /// digest-only reference, none).
    pub fn open(client: Arc<Client>, reference: &Reference) -> Result<RegistrySource> {
        let m = Repo::pull(&client, reference).get_manifest(reference.manifest_ref())?;
        Ok(Self::with_root(client, reference, m))
    }

    /// A source whose root manifest was fetched already.
    pub fn with_root(client: Arc<Client>, reference: &Reference, m: Manifest) -> RegistrySource {
        let mut d = m.descriptor();
        if let Some(t) = &reference.tag {
            d.set_annotations(Some(
                [(REF_NAME.to_string(), t.clone())].into_iter().collect(),
            ));
        }
        let manifests = Mutex::new(HashMap::from([(m.digest.clone(), Arc::from(m.bytes))]));
        RegistrySource {
            client,
            reference: reference.clone(),
            root: vec![d],
            manifests,
        }
    }

    /// The reference opened.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The root manifest's descriptor (with the tag as its `ref.name`, when there is one).
    pub fn root(&self) -> &Descriptor {
        &self.root[0]
    }

    /// The client.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The manifests that name `digest` as their subject (see [`Repo::referrers`]).
    pub fn referrers(&self, digest: &str) -> Result<Vec<Descriptor>> {
        Repo::pull(&self.client, &self.reference).referrers(digest)
    }

    fn manifest(&self, digest: &str) -> Result<Arc<[u8]>> {
        if let Some(b) = self
            .manifests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            return Ok(b.clone());
        }
        let m = Repo::pull(&self.client, &self.reference).get_manifest(digest)?;
        let bytes: Arc<[u8]> = Arc::from(m.bytes);
        self.manifests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest.to_string(), bytes.clone());
        Ok(bytes)
    }
}

/// A registry failure carried through `plinth_oci`'s error type: the message names the
/// reference; the cause chain keeps the registry's error.
fn to_oci(e: crate::Error, what: &str) -> plinth_oci::Error {
    match e {
        crate::Error::Oci(e) => e,
        crate::Error::NotFound { .. } => plinth_oci::Error::NotFound(e.to_string()),
        e => plinth_oci::Error::Read {
            what: what.to_string(),
            source: std::io::Error::other(e),
        },
    }
}

impl ImageSource for RegistrySource {
    fn name(&self) -> String {
        format!("registry image {}", self.reference)
    }

    fn index(&self) -> &[Descriptor] {
        &self.root
    }

    fn open_raw(&self, desc: &Descriptor) -> plinth_oci::Result<Option<RawBlob<'_>>> {
        let digest = desc.digest().to_string();
        let media = desc.media_type().to_string();
        let cached = self
            .manifests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            .cloned();
        if let Some(b) = cached {
            let len = b.len() as u64;
            return Ok(Some(RawBlob::new(std::io::Cursor::new(b), len)));
        }
        if is_manifest_type(&media) {
            let b = self
                .manifest(&digest)
                .map_err(|e| to_oci(e, &format!("manifest {digest} of {}", self.reference)))?;
            let len = b.len() as u64;
            return Ok(Some(RawBlob::new(std::io::Cursor::new(b), len)));
        }
        let (reader, len) = Repo::pull(&self.client, &self.reference)
            .get_blob(&digest, desc.size())
            .map_err(|e| to_oci(e, &format!("blob {digest} of {}", self.reference)))?;
        Ok(Some(RawBlob { reader, len }))
    }
}
