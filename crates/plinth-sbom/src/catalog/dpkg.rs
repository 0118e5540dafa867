//! TODO(helper): the dpkg cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct Dpkg;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
