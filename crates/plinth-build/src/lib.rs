//! Plinth's image specs and builds: a TOML spec plus local files become a reproducible
//! OCI image (one manifest per platform, an index for several).

pub mod accounts;
mod build;
mod error;
pub mod profile;
pub mod spec;

pub use build::{BuildOptions, BuiltImage, build};
pub use error::{BuildError, SpecError};
pub use spec::{Platform, Spec};
