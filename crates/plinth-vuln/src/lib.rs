//! Vulnerabilities: the embedded database, its importers, version schemes and the
//! matcher. It takes packages (from `plinth-sbom`), never images.

pub mod model;

pub use model::{Advisory, Range, Severity, SourceInfo, Status};
