//! Authentication: the challenges registries send, and the credentials docker and podman
//! users already have.

pub mod challenge;
pub mod config;
