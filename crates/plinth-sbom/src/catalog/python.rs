//! TODO(helper): the python cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct Python;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
