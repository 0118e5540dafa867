//! TODO(helper): the golang cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct GoBinaries;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for GoBinaries {
    fn name(&self) -> &'static str {
        "golang"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
