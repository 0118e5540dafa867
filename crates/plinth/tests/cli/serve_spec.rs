//! `plinth serve` against the OCI distribution specification, point by point, in raw HTTP
//! (the list of points and their tests is in docs/serve.md, "Conformance"): pull, push,
//! content discovery, content management, what stays invisible until whole, and what
//! hostile clients get.

pub mod client;
mod discovery;
mod hostile;
mod integrity;
mod management;
mod pull;
mod push;
