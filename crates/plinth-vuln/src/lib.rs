//! Vulnerabilities: the embedded database, its importers, version schemes and the
//! matcher. It takes packages (from `plinth-sbom`), never images.

#![deny(missing_docs)]

pub mod archive;
pub mod compare;
pub mod db;
pub mod error;
pub mod feeds;
pub mod fetch;
pub mod ignore;
pub mod import;
pub mod matcher;
pub mod model;
pub mod report;
pub mod sbomin;
pub mod scan;
pub mod status;
pub mod version;
pub mod vex;

pub use db::Db;
pub use error::{Error, Result};
pub use import::{Format, ImportReport, Input, SkipReason, SourceReport, import};
pub use model::{Advisory, Range, Severity, SourceInfo, Status};
pub use version::{Scheme, compare, scheme_for};
