//! The OCI distribution protocol for Plinth, the client side: references and their
//! normalisation ([`reference`]), credentials and the token flow ([`auth`], [`client`]),
//! the API of one repository ([`repo`]), copies between registries and disk ([`copy`]:
//! `pull`, `push` and `copy` are all one), and [`RegistrySource`], a lazy
//! [`plinth_oci::ImageSource`] over a registry.
//!
//! | module | holds |
//! |---|---|
//! | `reference` | `alpine` → `docker.io/library/alpine:latest`; registry ref or path |
//! | `auth::challenge`, `auth::config` | `WWW-Authenticate`; docker/podman credential files and helpers |
//! | `retry` | which failures are tried again, after how long |
//! | `client` | HTTP: auth, token cache, redirects, retries |
//! | `repo` | manifests, blobs, uploads, tags, referrers of one repository |
//! | `source` | [`RegistrySource`] |
//! | `copy`, `sink` | the copy engine and its destinations |
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod copy;
mod error;
pub mod reference;
pub mod repo;
pub mod retry;
mod sink;
pub mod source;

pub use client::{Client, ClientOptions};
pub use copy::{CopyOptions, CopyReport, DiskFormat, Endpoint, copy};
pub use error::{Error, Result, is_remote_failure};
pub use reference::{Location, Reference, classify};
pub use source::RegistrySource;
