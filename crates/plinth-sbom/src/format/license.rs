//! A small SPDX licence-expression checker, enough to decide what the writers may put
//! in `licenseDeclared` (SPDX) and `licenses` (CycloneDX).
//!
//! It knows the licence and exception ids that packages in distro images commonly
//! declare (deprecated ids such as `GPL-2.0` included: they are still valid), and the
//! grammar of SPDX 2.3 Annex D: `AND`, `OR`, `WITH` and parentheses (`+` only within
//! the deprecated ids that carry it, `GPL-2.0+`: pyspdxtools rejects `MPL-2.0+`). A declared
//! licence that parses but names ids outside the list keeps its structure, each unknown
//! id becoming a `LicenseRef-`; one that does not parse (`GPL v2`, `Apache License
//! 2.0`) becomes a single `LicenseRef-` carrying the original text, as syft does.

// Ours, not the `spdx` crate (0.13.6): its ids are case-sensitive (`apache-2.0 or MIT` fails in every ParseMode) and it accepts `MPL-2.0+` and `UnRAR` (SPDX list 3.29), which pyspdxtools 0.8.5 rejects.

/// Licence ids accepted as-is, in their canonical case. Every id here must be known to
/// pyspdxtools (license-expression's SPDX index) and to CycloneDX's `spdx.schema.json`:
/// the `formats` integration test validates a document that uses all of them.
pub const LICENSE_IDS: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AFL-3.0",
    "AGPL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "APSL-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "Beerware",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSD-4-Clause-UC",
    "BSL-1.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC-PDDC",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "FSFAP",
    "FSFUL",
    "FSFULLR",
    "FTL",
    "GFDL-1.1",
    "GFDL-1.2",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0",
    "GPL-1.0+",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0",
    "GPL-2.0+",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0",
    "GPL-3.0+",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ICU",
    "IJG",
    "Info-ZIP",
    "ISC",
    "LGPL-2.0",
    "LGPL-2.0+",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1",
    "LGPL-2.1+",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0",
    "LGPL-3.0+",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "Libpng",
    "libpng-2.0",
    "libtiff",
    "LPPL-1.3c",
    "MirOS",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MPL-1.1",
    "MPL-2.0",
    "NCSA",
    "OFL-1.1",
    "OLDAP-2.8",
    "OpenSSL",
    "PHP-3.01",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "SGI-B-2.0",
    "Sleepycat",
    "SSPL-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2015",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "XFree86-1.1",
    "Zlib",
    "zlib-acknowledgement",
    "ZPL-2.1",
];

/// Exception ids accepted after `WITH`.
pub const EXCEPTION_IDS: &[&str] = &[
    "389-exception",
    "Autoconf-exception-2.0",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Classpath-exception-2.0",
    "eCos-exception-2.0",
    "FLTK-exception",
    "Font-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-3.1",
    "GPL-3.0-linking-exception",
    "Libtool-exception",
    "Linux-syscall-note",
    "LLVM-exception",
    "LZMA-exception",
    "Qt-GPL-exception-1.0",
    "Qt-LGPL-exception-1.1",
    "u-boot-exception-2.0",
    "WxWindows-exception-3.1",
];

/// The canonical spelling of a known licence id (ids match case-insensitively).
pub fn canonical_license_id(id: &str) -> Option<&'static str> {
    LICENSE_IDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(id))
        .copied()
}

/// The canonical spelling of a known exception id.
pub fn canonical_exception_id(id: &str) -> Option<&'static str> {
    EXCEPTION_IDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(id))
        .copied()
}

/// Whether `s` is an SPDX expression made only of known ids (and `LicenseRef-`s).
pub fn is_spdx_expression(s: &str) -> bool {
    let e = Expression::parse(s);
    e.parsed && e.parts.iter().all(|p| matches!(p, Part::Text(_)))
}

/// `[A-Za-z0-9.-]`: what SPDX allows in an `SPDXRef-`/`LicenseRef-` id; anything else
/// becomes `-`. Never empty.
pub fn sanitize_idstring(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() { "-".into() } else { out }
}

/// The `LicenseRef-` id for a licence text that is no SPDX id: `LicenseRef-` and the
/// text sanitised, `+` spelt `-plus` (`GPL2+` → `LicenseRef-GPL2-plus`). Writers make it
/// unique when two texts sanitise alike.
pub fn license_ref_id(text: &str) -> String {
    format!(
        "LicenseRef-{}",
        sanitize_idstring(&text.replace('+', "-plus"))
    )
}

/// One piece of a normalised expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text: known ids, operators, parentheses, spaces.
    Text(String),
    /// Text that is not a known id: the writer replaces it by a `LicenseRef-` id it
    /// declares (SPDX `hasExtractedLicensingInfos`), keeping this text as the licence's
    /// extracted text.
    Unknown(String),
}

/// A declared licence, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    /// The normalised expression in pieces, to be joined once unknowns are named.
    pub parts: Vec<Part>,
    /// Whether the text parsed as an expression; when not, `parts` is one `Unknown`
    /// holding the whole (trimmed) text.
    pub parsed: bool,
}

impl Expression {
    /// Normalises a declared licence string (trimmed; callers skip empty ones).
    pub fn parse(raw: &str) -> Expression {
        let raw = raw.trim();
        let tokens = tokenize(raw);
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            out: Vec::new(),
        };
        if !tokens.is_empty() && p.expr(0).is_some() && p.pos == tokens.len() {
            let mut parts: Vec<Part> = Vec::new();
            for part in p.out {
                match (parts.last_mut(), part) {
                    (Some(Part::Text(a)), Part::Text(b)) => a.push_str(&b),
                    (_, part) => parts.push(part),
                }
            }
            Expression {
                parts,
                parsed: true,
            }
        } else {
            Expression {
                parts: vec![Part::Unknown(raw.to_string())],
                parsed: false,
            }
        }
    }

    /// The single known licence id this is, if it is nothing more (no operator, no `+`).
    pub fn single_id(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(t)] => canonical_license_id(t).filter(|c| *c == t && !c.ends_with('+')),
            _ => None,
        }
    }

    /// The single unknown text this is, if it is nothing more.
    pub fn single_unknown(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Unknown(t)] => Some(t),
            _ => None,
        }
    }

    /// Joins the parts, naming each unknown with `name`.
    pub fn render(&self, mut name: impl FnMut(&str) -> String) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => s.push_str(t),
                Part::Unknown(u) => s.push_str(&name(u)),
            }
        }
        s
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    Word(&'a str),
}

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == '(' || c == ')' || c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push(Token::Word(&s[st..i]));
            }
            match c {
                '(' => out.push(Token::Open),
                ')' => out.push(Token::Close),
                _ => {}
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Token::Word(&s[st..]));
    }
    out
}

fn operator(t: Option<&Token<'_>>) -> Option<&'static str> {
    match t {
        Some(Token::Word(w)) => ["AND", "OR", "WITH"]
            .into_iter()
            .find(|op| *w == *op || *w == op.to_ascii_lowercase()),
        _ => None,
    }
}

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    pos: usize,
    out: Vec<Part>,
}

impl Parser<'_, '_> {
    /// `expr := term (OP term)*`, precedence climbing: OR (0) < AND (1). Only checks
    /// and copies: the output keeps the input's grouping, so precedence is only needed
    /// to reject nothing valid.
    fn expr(&mut self, depth: usize) -> Option<()> {
        if depth > 64 {
            return None;
        }
        self.term(depth)?;
        while let Some(op @ ("AND" | "OR")) = operator(self.tokens.get(self.pos)) {
            self.pos += 1;
            self.out.push(Part::Text(format!(" {op} ")));
            self.term(depth)?;
        }
        Some(())
    }

    /// `term := '(' expr ')' | id [WITH exception]`
    fn term(&mut self, depth: usize) -> Option<()> {
        match self.tokens.get(self.pos)? {
            Token::Open => {
                self.pos += 1;
                self.out.push(Part::Text("(".into()));
                self.expr(depth + 1)?;
                if self.tokens.get(self.pos) != Some(&Token::Close) {
                    return None;
                }
                self.pos += 1;
                self.out.push(Part::Text(")".into()));
            }
            Token::Close => return None,
            Token::Word(w) => {
                if operator(Some(&Token::Word(w))).is_some() {
                    return None;
                }
                self.pos += 1;
                self.license(w)?;
                if operator(self.tokens.get(self.pos)) == Some("WITH") {
                    self.pos += 1;
                    let Some(Token::Word(e)) = self.tokens.get(self.pos) else {
                        return None;
                    };
                    let e = canonical_exception_id(e)?;
                    self.pos += 1;
                    self.out.push(Part::Text(format!(" WITH {e}")));
                }
            }
        }
        Some(())
    }

    fn license(&mut self, w: &str) -> Option<()> {
        if let Some(id) = canonical_license_id(w) {
            self.out.push(Part::Text(id.to_string()));
            return Some(());
        }
        if let Some(rest) = w.strip_prefix("LicenseRef-")
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            // Already a reference: keep its name; the writer declares it.
            self.out.push(Part::Unknown(w.to_string()));
            return Some(());
        }
        // A lone word that is no id we know (`custom`, `GPL2+`, `Public-Domain`).
        if w.contains([',', ';', '/', '"', '\'']) {
            return None;
        }
        self.out.push(Part::Unknown(w.to_string()));
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> (String, bool) {
        let e = Expression::parse(s);
        (e.render(license_ref_id), e.parsed)
    }

    #[test]
    fn alpine_style_expressions_pass() {
        for s in [
            "MIT",
            "GPL-2.0-only",
            "GPL-2.0-or-later",
            "MIT AND BSD-2-Clause",
            "GPL-2.0-or-later OR LGPL-2.1-or-later",
            "(MIT OR Apache-2.0) AND Unicode-DFS-2016",
            "GPL-2.0-only WITH Linux-syscall-note",
            "Apache-2.0 WITH LLVM-exception",
            "GPL-2.0",
            "GPL-2.0+",
            "LGPL-2.1+",
            "OpenSSL",
            "0BSD",
            "Zlib",
        ] {
            assert!(is_spdx_expression(s), "{s}");
            assert_eq!(norm(s), (s.to_string(), true), "{s}");
        }
    }

    #[test]
    fn case_and_spacing_are_normalised() {
        assert_eq!(norm("mit"), ("MIT".into(), true));
        assert_eq!(
            norm("  apache-2.0   or  MIT "),
            ("Apache-2.0 OR MIT".into(), true)
        );
        assert_eq!(norm("(MIT  AND(ISC))"), ("(MIT AND (ISC))".into(), true));
        assert_eq!(
            norm("gpl-2.0-only with linux-syscall-note"),
            ("GPL-2.0-only WITH Linux-syscall-note".into(), true)
        );
    }

    #[test]
    fn unknown_ids_become_refs_and_garbage_becomes_one_ref() {
        assert_eq!(norm("custom"), ("LicenseRef-custom".into(), true));
        assert_eq!(
            norm("MIT AND Public-Domain"),
            ("MIT AND LicenseRef-Public-Domain".into(), true)
        );
        assert_eq!(norm("GPL2+"), ("LicenseRef-GPL2-plus".into(), true));
        // `+` only as part of the deprecated ids that have it: pyspdxtools rejects
        // `MPL-2.0+`.
        assert_eq!(norm("MPL-2.0+"), ("LicenseRef-MPL-2.0-plus".into(), true));
        assert_eq!(
            norm("Apache License 2.0"),
            ("LicenseRef-Apache-License-2.0".into(), false)
        );
        assert_eq!(
            norm("MIT/Apache-2.0"),
            ("LicenseRef-MIT-Apache-2.0".into(), false)
        );
        assert_eq!(
            norm("GPL v2, or later"),
            ("LicenseRef-GPL-v2--or-later".into(), false)
        );
        assert!(!is_spdx_expression("MIT AND"));
        assert!(!is_spdx_expression("(MIT"));
        assert!(!is_spdx_expression("MIT)"));
        assert!(!is_spdx_expression("AND MIT"));
        assert!(!is_spdx_expression("MIT WITH Nonsense-exception"));
        assert!(!is_spdx_expression("MIT OR custom"));
        assert!(!is_spdx_expression(""));
        assert!(!is_spdx_expression(&"(".repeat(200)));
    }

    #[test]
    fn license_refs_are_kept() {
        let e = Expression::parse("LicenseRef-foo OR MIT");
        assert_eq!(
            e.parts,
            vec![
                Part::Unknown("LicenseRef-foo".into()),
                Part::Text(" OR MIT".into())
            ]
        );
    }

    #[test]
    fn single_id_only_for_plain_known_ids() {
        assert_eq!(Expression::parse("mit").single_id(), Some("MIT"));
        assert_eq!(Expression::parse("GPL-2.0+").single_id(), None);
        assert_eq!(Expression::parse("LGPL-2.1+").single_id(), None);
        assert_eq!(Expression::parse("MIT OR ISC").single_id(), None);
        assert_eq!(Expression::parse("custom").single_unknown(), Some("custom"));
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_idstring("@babel/core"), "-babel-core");
        assert_eq!(sanitize_idstring("a+b~c d"), "a-b-c-d");
        assert_eq!(sanitize_idstring("ünï"), "-n-");
        assert_eq!(sanitize_idstring(""), "-");
    }
}
