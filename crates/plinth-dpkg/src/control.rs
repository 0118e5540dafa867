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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    fields: Vec<(String, String)>,
    /// 1-based line on which the paragraph starts.
    pub line: usize,
}

impl Paragraph {
    /// The value of field `name`. Continuation lines are joined with `\n`, each with its
    /// first whitespace character removed; the first line is trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All fields in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
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
        self.fields.push((name.into(), value.into()));
    }
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
    Ok(Paragraphs {
        rest: input,
        line: opts.first_line,
        opts,
        failed: false,
    })
}

/// Iterator returned by [`paragraphs`].
#[derive(Debug)]
pub struct Paragraphs<'a> {
    rest: &'a [u8],
    line: usize,
    opts: Options,
    failed: bool,
}

impl Paragraphs<'_> {
    fn next_line(&mut self) -> Option<Cow<'_, str>> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some(String::from_utf8_lossy(line))
    }

    fn parse_one(&mut self) -> Result<Option<Paragraph>, ControlError> {
        let opts = self.opts;
        let mut para = Paragraph::default();
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
                let Some((name, value)) = para.fields.last_mut() else {
                    return Err(ControlError::OrphanContinuation { line: line_no });
                };
                if value.len() + line.len() > opts.max_field_len {
                    return Err(ControlError::FieldTooLong {
                        line: line_no,
                        name: name.clone(),
                        limit: opts.max_field_len,
                    });
                }
                value.push('\n');
                value.push_str(line[1..].trim_end());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ControlError::MissingColon { line: line_no });
            };
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
            let value = value.trim().to_string();
            if value.len() > opts.max_field_len {
                return Err(ControlError::FieldTooLong {
                    line: line_no,
                    name: name.to_string(),
                    limit: opts.max_field_len,
                });
            }
            para.fields.push((name.to_string(), value));
        }
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

    proptest! {
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
