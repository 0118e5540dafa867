//! Plinth's image specs and builds: a TOML spec plus local files become a reproducible
//! OCI image (one manifest per platform, an index for several).

#![deny(missing_docs)]

pub mod accounts;
pub mod alpine;
mod build;
pub mod built_layers;
pub mod debian;
mod error;
pub mod output;
pub mod profile;
pub mod rpm;
pub mod spec;
pub mod system;
pub mod why;

pub use build::{
    BuildOptions, BuiltImage, LockMode, LockOutcome, build, ensure_alpine_lock, ensure_lock,
    ensure_rpm_lock, lock_path,
};
pub use error::{BuildError, SpecError};
pub use spec::{Platform, Spec};
