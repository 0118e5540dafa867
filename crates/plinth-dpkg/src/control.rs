//! Debian control-file paragraphs (deb822): the syntax of `Release`, `Packages`, dpkg
//! `status`, `debian/control` and apt `.sources` files.
//!
//! A file is a sequence of paragraphs separated by blank lines. A paragraph is a sequence
//! of `Name: value` fields; a line starting with a space or tab continues the previous
//! field. Lines starting with `#` are comments only where the format allows them
//! ([`Options::allow_comments`]). The parser never panics, bounds every size through
//! [`Options`], and is lenient about bytes: invalid UTF-8 is replaced, not rejected.

use std::borrow::Cow;

/// Failure while parsing a control file; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The input is larger than [`Options::max_input`].
    #[error("control data is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Input length, in bytes.
        size: usize,
        /// The [`Options::max_input`] in force, in bytes.
        limit: usize,
    },
    /// A line that is neither a continuation nor a comment has no `:`.
    #[error("line {line}: field line without a colon")]
    MissingColon {
        /// The offending line.
        line: usize,
    },
    /// The text before the `:` is not a deb822 field name.
    #[error("line {line}: empty or invalid field name")]
    BadFieldName {
        /// The offending line.
        line: usize,
    },
    /// A line starting with a space or tab opens a paragraph.
    #[error("line {line}: continuation line without a field")]
    OrphanContinuation {
        /// The offending line.
        line: usize,
    },
    /// A field name occurs twice in one paragraph (compared case-insensitively).
    #[error("line {line}: duplicate field {name}")]
    DuplicateField {
        /// Line of the second occurrence.
        line: usize,
        /// The name as written on that line.
        name: String,
    },
    /// A `#` line where [`Options::allow_comments`] is off.
    #[error("line {line}: comment where comments are not allowed")]
    UnexpectedComment {
        /// The offending line.
        line: usize,
    },
    /// A paragraph has more than [`Options::max_fields`] fields.
    #[error("line {line}: paragraph has more than {limit} fields")]
    TooManyFields {
        /// Line of the first field over the limit.
        line: usize,
        /// The [`Options::max_fields`] in force.
        limit: usize,
    },
    /// A field value grows past [`Options::max_field_len`].
    #[error("line {line}: field {name} is longer than {limit} bytes")]
    FieldTooLong {
        /// Line at which the value went over the limit.
        line: usize,
        /// The field's name.
        name: String,
        /// The [`Options::max_field_len`] in force, in bytes.
        limit: usize,
    },
}

/// Bounds and dialect switches for [`paragraphs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Whether lines starting with `#` are comments (apt `.sources`, `debian/control`).
    pub allow_comments: bool,
    /// Largest accepted input, in bytes.
    pub max_input: usize,
    /// Most fields in one paragraph.
    pub max_fields: usize,
    /// Longest value of one field, in bytes (a Release's SHA256 list can be large).
    pub max_field_len: usize,
    /// Lines before the input (when it is a piece of a larger stream): line numbers in
    /// paragraphs and errors count from here.
    pub first_line: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_comments: false,
            max_input: 1 << 30,
            max_fields: 1024,
            max_field_len: 64 << 20,
            first_line: 0,
        }
    }
}

impl Options {
    /// The defaults with comments allowed.
    pub fn with_comments() -> Self {
        Self {
            allow_comments: true,
            ..Self::default()
        }
    }
}

/// One paragraph: fields in file order. Names compare case-insensitively.
///
/// The names and values live back to back in one string, each field a range of it: a
/// paragraph costs two allocations, not two per field (an index of 60,000 paragraphs
/// of twenty fields each is parsed on every resolve).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    /// Every field's name, then its value, in file order.
    text: String,
    /// Per field: where its name starts, where its value starts (the name's end) and
    /// where the value ends, in `text`.
    fields: Vec<(usize, usize, usize)>,
    /// One bit per field name ([`name_bit`]): a name whose bit is clear is not there,
    /// and a paragraph's duplicate check and lookups of absent fields stop at once.
    names: u64,
    /// 1-based line on which the paragraph starts.
    pub line: usize,
}

impl std::fmt::Debug for Paragraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paragraph")
            .field("fields", &self.fields().collect::<Vec<_>>())
            .field("line", &self.line)
            .finish()
    }
}

impl Paragraph {
    /// The value of field `name`. Continuation lines are joined with `\n`, each with its
    /// first whitespace character removed; the first line is trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        if self.names & name_bit(name.as_bytes()) == 0 {
            return None;
        }
        let text = self.text.as_bytes();
        self.fields
            .iter()
            .find(|&&(n, v, _)| text[n..v].eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, v, e)| &self.text[v..e])
    }

    /// All fields in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|&(n, v, e)| (&self.text[n..v], &self.text[v..e]))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the paragraph has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Appends a field (for building paragraphs in tests and writers).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.push_str(&name.into(), &value.into());
    }

    fn push_str(&mut self, name: &str, value: &str) {
        let n = self.text.len();
        self.text.push_str(name);
        let v = self.text.len();
        self.text.push_str(value);
        self.fields.push((n, v, self.text.len()));
        self.names |= name_bit(name.as_bytes());
    }

    /// The name and value length of the last field, `None` when there is none.
    fn last_field(&self) -> Option<(&str, usize)> {
        self.fields
            .last()
            .map(|&(n, v, e)| (&self.text[n..v], e - v))
    }

    /// Appends a continuation line to the last field, whose value ends `text`.
    fn continue_last(&mut self, more: &str) {
        self.text.push('\n');
        self.text.push_str(more);
        if let Some(last) = self.fields.last_mut() {
            last.2 = self.text.len();
        }
    }
}

/// The bit of field `name` in [`Paragraph`]'s name set: a hash of its length and its
/// first and last bytes, case-folded as names compare.
fn name_bit(name: &[u8]) -> u64 {
    let (first, last) = match name {
        [] => (0, 0),
        [f, .., l] => (f.to_ascii_lowercase(), l.to_ascii_lowercase()),
        [f] => (f.to_ascii_lowercase(), f.to_ascii_lowercase()),
    };
    let h = name
        .len()
        .wrapping_mul(31)
        .wrapping_add(usize::from(first) * 7)
        .wrapping_add(usize::from(last));
    1 << (h % 64)
}

/// Parses every paragraph of `input`.
pub fn parse(input: &[u8], opts: Options) -> Result<Vec<Paragraph>, ControlError> {
    paragraphs(input, opts)?.collect()
}

/// Iterates over the paragraphs of `input`; stops after the first error.
pub fn paragraphs(input: &[u8], opts: Options) -> Result<Paragraphs<'_>, ControlError> {
    if input.len() > opts.max_input {
        return Err(ControlError::TooLarge {
            size: input.len(),
            limit: opts.max_input,
        });
    }
    // Checked once, not line by line: valid text (nearly always) is read as `str`.
    let rest = match std::str::from_utf8(input) {
        Ok(text) => Input::Text(text),
        Err(_) => Input::Bytes(input),
    };
    Ok(Paragraphs {
        rest,
        line: opts.first_line,
        opts,
        failed: false,
        sizes: (0, 0),
    })
}

/// Iterator returned by [`paragraphs`].
#[derive(Debug)]
pub struct Paragraphs<'a> {
    rest: Input<'a>,
    line: usize,
    opts: Options,
    failed: bool,
    /// Text length and field count of the last paragraph: the next one is allocated
    /// that large, so that its buffers seldom grow (index paragraphs are much alike).
    sizes: (usize, usize),
}

/// What is left to parse: valid UTF-8 as a whole, or bytes to check line by line.
#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Paragraphs<'a> {
    /// The next line, without its `\n` and any `\r` before it; invalid UTF-8 replaced.
    fn next_line(&mut self) -> Option<Cow<'a, str>> {
        match self.rest {
            Input::Text(text) => {
                if text.is_empty() {
                    return None;
                }
                let (line, rest) = match memchr::memchr(b'\n', text.as_bytes()) {
                    Some(i) => (&text[..i], &text[i + 1..]),
                    None => (text, ""),
                };
                self.rest = Input::Text(rest);
                self.line += 1;
                Some(Cow::Borrowed(line.strip_suffix('\r').unwrap_or(line)))
            }
            Input::Bytes(bytes) => {
                if bytes.is_empty() {
                    return None;
                }
                let (line, rest) = match memchr::memchr(b'\n', bytes) {
                    Some(i) => (&bytes[..i], &bytes[i + 1..]),
                    None => (bytes, &[][..]),
                };
                self.rest = Input::Bytes(rest);
                self.line += 1;
                Some(String::from_utf8_lossy(
                    line.strip_suffix(b"\r").unwrap_or(line),
                ))
            }
        }
    }

    fn parse_one(&mut self) -> Result<Option<Paragraph>, ControlError> {
        let opts = self.opts;
        let mut para = Paragraph {
            text: String::with_capacity(self.sizes.0),
            fields: Vec::with_capacity(self.sizes.1),
            names: 0,
            line: 0,
        };
        loop {
            let line_no = self.line + 1;
            let Some(line) = self.next_line() else { break };
            if line.trim().is_empty() {
                if para.is_empty() {
                    continue;
                }
                break;
            }
            if line.starts_with('#') {
                if opts.allow_comments {
                    continue;
                }
                return Err(ControlError::UnexpectedComment { line: line_no });
            }
            if line.starts_with([' ', '\t']) {
                let Some((name, value_len)) = para.last_field() else {
                    return Err(ControlError::OrphanContinuation { line: line_no });
                };
                if value_len + line.len() > opts.max_field_len {
                    return Err(ControlError::FieldTooLong {
                        line: line_no,
                        name: name.to_string(),
                        limit: opts.max_field_len,
                    });
                }
                para.continue_last(line[1..].trim_end());
                continue;
            }
            // Names are short: a plain scan finds the colon sooner than a memchr call.
            let Some(colon) = line.bytes().position(|b| b == b':') else {
                return Err(ControlError::MissingColon { line: line_no });
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if !valid_field_name(name) {
                return Err(ControlError::BadFieldName { line: line_no });
            }
            if para.fields.len() >= opts.max_fields {
                return Err(ControlError::TooManyFields {
                    line: line_no,
                    limit: opts.max_fields,
                });
            }
            if para.get(name).is_some() {
                return Err(ControlError::DuplicateField {
                    line: line_no,
                    name: name.to_string(),
                });
            }
            if para.is_empty() {
                para.line = line_no;
            }
            let value = value.trim();
            if value.len() > opts.max_field_len {
                return Err(ControlError::FieldTooLong {
                    line: line_no,
                    name: name.to_string(),
                    limit: opts.max_field_len,
                });
            }
            para.push_str(name, value);
        }
        self.sizes = (para.text.len(), para.fields.len());
        Ok((!para.is_empty()).then_some(para))
    }
}

impl Iterator for Paragraphs<'_> {
    type Item = Result<Paragraph, ControlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.parse_one();
        if result.is_err() {
            self.failed = true;
        }
        result.transpose()
    }
}

/// deb822: printable US-ASCII except `:`, not starting with `#` or `-`, no spaces.
fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['#', '-'])
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<Vec<Paragraph>, ControlError> {
        parse(s.as_bytes(), Options::default())
    }

    #[test]
    fn parses_fields_continuations_and_paragraphs() {
        let text = "Package: a\nDescription: short\n long line\n .\n\tmore\n\n\n\
                    package: b\r\nDepends: x,\n y\n";
        let paras = p(text).unwrap();
        assert_eq!(paras.len(), 2);
        assert_eq!(paras[0].get("package"), Some("a"));
        assert_eq!(
            paras[0].get("Description"),
            Some("short\nlong line\n.\nmore")
        );
        assert_eq!(paras[1].get("Package"), Some("b"));
        assert_eq!(paras[1].get("Depends"), Some("x,\ny"));
        assert_eq!(paras[1].line, 8);
    }

    #[test]
    fn multiline_field_with_empty_first_line() {
        let paras = p("SHA256:\n abc 1 f\n def 2 g\n").unwrap();
        assert_eq!(paras[0].get("SHA256"), Some("\nabc 1 f\ndef 2 g"));
    }

    #[test]
    fn comments_only_when_allowed() {
        let text = "# head\nTypes: deb\n# inside\nURIs: http://mirror.example/debian\n";
        assert_eq!(p(text), Err(ControlError::UnexpectedComment { line: 1 }));
        let paras = parse(text.as_bytes(), Options::with_comments()).unwrap();
        assert_eq!(paras.len(), 1);
        assert_eq!(paras[0].len(), 2);
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(
            p(" orphan\n"),
            Err(ControlError::OrphanContinuation { line: 1 })
        );
        assert_eq!(
            p("A: 1\nnocolon\n"),
            Err(ControlError::MissingColon { line: 2 })
        );
        assert_eq!(p(": x\n"), Err(ControlError::BadFieldName { line: 1 }));
        assert!(matches!(
            p("A: 1\na: 2\n"),
            Err(ControlError::DuplicateField { line: 2, .. })
        ));
        let small = Options {
            max_fields: 1,
            ..Options::default()
        };
        assert!(matches!(
            parse(b"A: 1\nB: 2\n", small),
            Err(ControlError::TooManyFields { .. })
        ));
        let tiny = Options {
            max_input: 3,
            ..Options::default()
        };
        assert!(matches!(
            parse(b"A: 1\n", tiny),
            Err(ControlError::TooLarge { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let paras = parse(b"Maintainer: J\xe9r\xf4me\n", Options::default()).unwrap();
        assert!(paras[0].get("Maintainer").unwrap().starts_with('J'));
    }

    #[test]
    fn iterator_stops_after_error() {
        let mut it = paragraphs(b"A: 1\n\nbad\n\nB: 2\n", Options::default()).unwrap();
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    /// The parser before paragraphs kept their fields in one buffer (a `String` per
    /// name and value, lines converted one by one): the new one must agree with it on
    /// every input, errors included.
    fn reference(input: &[u8], opts: Options) -> Result<Vec<Vec<(String, String)>>, ControlError> {
        let mut out = Vec::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut n = opts.first_line;
        let mut lines = input.split(|&b| b == b'\n').peekable();
        let mut end = |fields: &mut Vec<(String, String)>| {
            if !fields.is_empty() {
                out.push(std::mem::take(fields));
            }
        };
        while let Some(raw) = lines.next() {
            if raw.is_empty() && lines.peek().is_none() {
                break;
            }
            n += 1;
            let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw));
            if line.trim().is_empty() {
                end(&mut fields);
                continue;
            }
            if line.starts_with('#') {
                if opts.allow_comments {
                    continue;
                }
                return Err(ControlError::UnexpectedComment { line: n });
            }
            if line.starts_with([' ', '\t']) {
                let Some((name, value)) = fields.last_mut() else {
                    return Err(ControlError::OrphanContinuation { line: n });
                };
                if value.len() + line.len() > opts.max_field_len {
                    let (name, limit) = (name.clone(), opts.max_field_len);
                    return Err(ControlError::FieldTooLong {
                        line: n,
                        name,
                        limit,
                    });
                }
                value.push('\n');
                value.push_str(line[1..].trim_end());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ControlError::MissingColon { line: n });
            };
            if !valid_field_name(name) {
                return Err(ControlError::BadFieldName { line: n });
            }
            if fields.len() >= opts.max_fields {
                let limit = opts.max_fields;
                return Err(ControlError::TooManyFields { line: n, limit });
            }
            if fields.iter().any(|(f, _)| f.eq_ignore_ascii_case(name)) {
                let name = name.to_string();
                return Err(ControlError::DuplicateField { line: n, name });
            }
            if value.trim().len() > opts.max_field_len {
                let (name, limit) = (name.to_string(), opts.max_field_len);
                return Err(ControlError::FieldTooLong {
                    line: n,
                    name,
                    limit,
                });
            }
            fields.push((name.to_string(), value.trim().to_string()));
        }
        end(&mut fields);
        Ok(out)
    }

    fn owned(paras: Vec<Paragraph>) -> Vec<Vec<(String, String)>> {
        paras
            .iter()
            .map(|p| p.fields().map(|(n, v)| (n.into(), v.into())).collect())
            .collect()
    }

    #[test]
    fn lookups_fold_case_and_miss_absent_names() {
        let paras = p("Package: a\nMULTI-ARCH: same\nA: 1\nb: 2\n").unwrap();
        let para = &paras[0];
        assert_eq!(para.get("multi-arch"), Some("same"));
        assert_eq!(para.get("a"), Some("1"));
        assert_eq!(para.get("B"), Some("2"));
        for absent in ["", "Packag", "Packages", "Multi-Arc", "c", "Depends"] {
            assert_eq!(para.get(absent), None, "{absent}");
        }
        let mut built = Paragraph::default();
        built.push("Package", "a");
        built.push("MULTI-ARCH", "same");
        built.push("A", "1");
        built.push("b", "2");
        built.line = 1;
        assert_eq!(&built, para);
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference_parser(
            parts in proptest::collection::vec(prop_oneof![
                Just("Package: a\n".as_bytes().to_vec()),
                Just(b"package:b \r\n".to_vec()),
                Just(b"Depends: x,\n y\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b" \t\n".to_vec()),
                Just(b"\t cont \n".to_vec()),
                Just(b" .\n".to_vec()),
                Just(b"# note\n".to_vec()),
                Just(b"V: \xe9t\xe9\n".to_vec()),
                Just("\u{a0}\n".as_bytes().to_vec()),
                Just("N\u{e9}: x\n".as_bytes().to_vec()),
                Just(b"no colon\n".to_vec()),
                Just(b"-X: 1\n".to_vec()),
                Just(b"X:\n".to_vec()),
                Just(b"x: 2".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..12),
            ], 0..24),
            comments in any::<bool>(),
            max_fields in 1usize..6,
            max_field_len in 1usize..16,
        ) {
            let input = parts.concat();
            let opts = Options {
                allow_comments: comments,
                max_fields,
                max_field_len,
                first_line: 3,
                ..Options::default()
            };
            prop_assert_eq!(parse(&input, opts).map(owned), reference(&input, opts));
            let loose = Options { allow_comments: comments, ..Options::default() };
            prop_assert_eq!(parse(&input, loose).map(owned), reference(&input, loose));
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, Options::default());
            let _ = parse(&bytes, Options::with_comments());
        }

        #[test]
        fn round_trips_simple_fields(
            fields in proptest::collection::btree_map("[A-Z][a-z0-9-]{0,8}", "[a-z0-9 .,]{0,20}", 1..8)
        ) {
            let mut text = String::new();
            for (k, v) in &fields {
                text.push_str(&format!("{k}: {v}\n"));
            }
            let paras = parse(text.as_bytes(), Options::default()).unwrap();
            prop_assert_eq!(paras.len(), 1);
            for (k, v) in &fields {
                prop_assert_eq!(paras[0].get(k), Some(v.trim()));
            }
        }
    }
}
