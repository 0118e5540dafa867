//! TODO(helper): the rust cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct CargoAuditable;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for CargoAuditable {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
