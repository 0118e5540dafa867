pub mod build;
pub mod inspect;
pub mod lock;
pub mod why;
