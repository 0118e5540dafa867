//! docker-archives (`docker save`, skopeo, podman): their `manifest.json` becomes an
//! index of synthesised OCI manifests, and their blobs are found by file name.

use std::collections::HashMap;
use std::io::Read;

use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::tar_index::normalize_archive_path;
use super::{ArchiveSource, parse_json, sniff_compression};
use crate::digest::hex_to_digest;
use crate::error::{Error, Result};
use crate::limits::limits;
use crate::{REF_NAME, canonical};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl ArchiveSource {
    pub(super) fn synthesise_docker(&mut self) -> Result<()> {
        let what = format!("manifest.json in {}", self.path.display());
        let bytes = self.read_entry("manifest.json", limits().json)?;
        let entries: Vec<DockerManifestEntry> = parse_json(&bytes, &what)?;
        let mut hashed: HashMap<String, (Digest, u64)> = HashMap::new();
        for e in entries {
            let config_name = normalize_archive_path(&e.config, &self.path)?;
            let (config_digest, config_size) = self.hash_entry(&config_name, limits().json)?;
            self.by_digest
                .insert(config_digest.to_string(), config_name);
            let mut layers = Vec::new();
            for l in &e.layers {
                let name = normalize_archive_path(l, &self.path)?;
                // A manifest.json may name one file many times: hash each file once.
                let (digest, size) = match hashed.get(&name) {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.hash_entry(&name, limits().layer_size)?;
                        hashed.insert(name.clone(), v.clone());
                        v
                    }
                };
                let mut head = [0u8; 4];
                let n = {
                    let (mut r, _) = self.entry_reader(&name, limits().layer_size)?;
                    r.read(&mut head).map_err(|e| Error::io(&self.path, e))?
                };
                let media = sniff_compression(&head[..n]).media_type();
                self.by_digest.insert(digest.to_string(), name);
                layers.push(Descriptor::new(media, size, digest));
            }
            let manifest = oci_spec::image::ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(Descriptor::new(
                    MediaType::ImageConfig,
                    config_size,
                    config_digest,
                ))
                .layers(layers)
                .build()
                .map_err(|err| Error::invalid(what.clone(), err.to_string()))?;
            let bytes = canonical::to_vec(&manifest).map_err(|source| Error::Json {
                what: what.clone(),
                source,
            })?;
            let digest = hex_to_digest(&hex::encode(Sha256::digest(&bytes)));
            let mut d = Descriptor::new(MediaType::ImageManifest, bytes.len() as u64, digest);
            if let Some(tag) = e.repo_tags.as_ref().and_then(|t| t.first()) {
                d.set_annotations(Some(HashMap::from([(REF_NAME.to_string(), tag.clone())])));
            }
            self.synthetic.insert(d.digest().to_string(), bytes);
            self.index.push(d);
        }
        Ok(())
    }
}
