//! TODO(helper): the apk cataloger.

use super::{Cataloger, Context, Findings};

#[derive(Debug)]
pub struct Apk;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn catalog(&self, _cx: &Context<'_>, _out: &mut Findings) {}
}
