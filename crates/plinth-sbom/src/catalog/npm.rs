//! TODO(helper): the npm cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct Npm;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for Npm {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
