pub mod build;
pub mod check;
pub mod compare;
pub mod inspect;
pub mod lock;
pub mod sbom;
pub mod why;
