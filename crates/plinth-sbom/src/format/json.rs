//! Plinth's own JSON: the [`Sbom`] model as it is, under a versioned wrapper.

use serde::Serialize;

use super::{WriteOptions, rfc3339, to_json};
use crate::Sbom;

/// The version of the `plinth-json` layout; bumped when a field changes meaning.
pub const PLINTH_SBOM_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    plinth_sbom_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(flatten)]
    sbom: &'a Sbom,
}

pub(crate) fn write(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    to_json(&Document {
        plinth_sbom_version: PLINTH_SBOM_VERSION,
        tool_version: Some(opts.tool_version.as_str()).filter(|v| !v.is_empty()),
        created: opts.created.map(rfc3339),
        sbom,
    })
}
