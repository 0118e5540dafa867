//! TODO(helper): the rpm cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct Rpm;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
