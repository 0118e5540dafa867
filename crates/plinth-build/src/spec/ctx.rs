//! Errors against one spec file's text (file, line, column, key) and the small checks
//! every table shares: modes, paths in the image, platforms.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::Platform;
use super::raw::RawMode;
use crate::error::{BuildError, SpecError};

/// Reports errors against one spec file's text.
pub(super) struct Ctx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> BuildError {
        self.err_hint(span, message, None)
    }

    pub fn err_hint(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> BuildError {
        let location = span.map(|s| line_col(self.text, s.start));
        BuildError::Spec(Box::new(SpecError {
            path: self.path.to_path_buf(),
            location,
            message: message.into(),
            hint: hint.map(str::to_string),
        }))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

pub(super) fn parse_mode(ctx: &Ctx, m: &Spanned<RawMode>, key: &str) -> Result<u32, BuildError> {
    let v = match m.get_ref() {
        RawMode::Int(i) => {
            // TOML reads `mode = 755` as decimal 755 (0o1363): almost always a mistake for
            // 0o755. A decimal literal whose digits are all octal digits is refused.
            let literal = ctx.text.get(m.span()).unwrap_or_default().trim();
            if looks_octal_but_decimal(literal) {
                let short = key.rsplit('.').next().unwrap_or(key);
                return Err(ctx.err_hint(
                    Some(m.span()),
                    format!(
                        "`{key}` is written {literal}, which TOML reads as the decimal number {literal} (the mode 0o{i:o}), not the octal mode 0o{literal}"
                    ),
                    Some(&format!(
                        "write `{short} = 0o{literal}` (a TOML octal integer) or `{short} = \"0{literal}\"` (a string); \
                         a decimal mode whose digits look octal is refused"
                    )),
                ));
            }
            Some(*i)
        }
        RawMode::Str(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
    };
    match v {
        Some(v) if v <= 0o7777 => Ok(v),
        _ => Err(ctx.err_hint(
            Some(m.span()),
            format!("`{key}` is not a file mode"),
            Some("write modes as an octal string (\"0755\") or a TOML octal integer (0o755)"),
        )),
    }
}

/// Whether a TOML integer literal is plain decimal (no `0o`, `0x`, `0b` prefix) made only
/// of the digits 0 to 7: `755`, `644`, `4755`. (`0` alone is harmless.)
fn looks_octal_but_decimal(literal: &str) -> bool {
    let digits = literal
        .strip_prefix('+')
        .unwrap_or(literal)
        .replace('_', "");
    digits.len() > 1 && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

pub(super) fn check_image_path(
    ctx: &Ctx,
    p: &Spanned<String>,
    key: &str,
) -> Result<String, BuildError> {
    if !p.get_ref().starts_with('/') {
        return Err(ctx.err(
            Some(p.span()),
            format!(
                "`{key}` must be an absolute path in the image, got `{}`",
                p.get_ref()
            ),
        ));
    }
    plinth_oci::layer::normalize_path(p.get_ref(), key)
        .map_err(|e| ctx.err(Some(p.span()), e.to_string()))
}

pub(super) fn parse_platforms(
    ctx: &Ctx,
    list: &[Spanned<String>],
) -> Result<Vec<Platform>, BuildError> {
    let mut out: Vec<Platform> = Vec::new();
    for p in list {
        let plat = Platform::parse(p.get_ref()).map_err(|m| {
            ctx.err_hint(
                Some(p.span()),
                m,
                Some("platforms look like \"linux/amd64\" or \"linux/arm64/v8\""),
            )
        })?;
        if out.contains(&plat) {
            return Err(ctx.err(Some(p.span()), format!("platform `{plat}` is listed twice")));
        }
        out.push(plat);
    }
    Ok(out)
}
