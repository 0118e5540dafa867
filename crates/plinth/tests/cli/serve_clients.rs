//! `plinth serve` with real clients: skopeo, podman, umoci, CNCF distribution as a peer,
//! and `plinth copy`.
