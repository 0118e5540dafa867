//! Dependencies: simple ones (`name [op evr]`, with rpm's range-overlap rule) and rich
//! (boolean) dependencies, `(a and b)`, `(a or b)`, `(a if b [else c])`,
//! `(a unless b [else c])`, `(a with b)`, `(a without b)`, nested, as rpm 4.13+ parses them
//! (`lib/rpmds.c`, `rpmrichParse`).

use std::fmt;

use crate::version::Evr;

/// A comparison operator of a versioned dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    /// From primary.xml's `flags` attribute (`EQ`, `LT`, ...).
    pub fn from_flags(s: &str) -> Option<Self> {
        Some(match s {
            "LT" => Op::Lt,
            "LE" => Op::Le,
            "EQ" => Op::Eq,
            "GE" => Op::Ge,
            "GT" => Op::Gt,
            _ => return None,
        })
    }

    /// From the symbol in a dependency string.
    pub fn from_symbol(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Op::Lt,
            "<=" | "=<" => Op::Le,
            "=" | "==" => Op::Eq,
            ">=" | "=>" => Op::Ge,
            ">" => Op::Gt,
            _ => return None,
        })
    }

    fn bits(self) -> (bool, bool, bool) {
        // (less, equal, greater)
        match self {
            Op::Lt => (true, false, false),
            Op::Le => (true, true, false),
            Op::Eq => (false, true, false),
            Op::Ge => (false, true, true),
            Op::Gt => (false, false, true),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

/// A simple dependency or provide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dep {
    /// Name (a capability, package name or absolute file path).
    pub name: String,
    /// Version constraint.
    pub constraint: Option<(Op, Evr)>,
}

impl Dep {
    /// An unversioned dependency.
    pub fn named(name: &str) -> Self {
        Dep {
            name: name.to_string(),
            constraint: None,
        }
    }

    /// Whether a provide `self` satisfies the requirement `req` (names equal, ranges
    /// overlap: rpm's `rpmdsCompare`).
    pub fn satisfies(&self, req: &Dep) -> bool {
        if self.name != req.name {
            return false;
        }
        let (Some((pop, pevr)), Some((rop, revr))) = (&self.constraint, &req.constraint) else {
            return true;
        };
        let (pl, pe, pg) = pop.bits();
        let (rl, re, rg) = rop.bits();
        match pevr.compare(revr) {
            std::cmp::Ordering::Less => pg || rl,
            std::cmp::Ordering::Greater => pl || rg,
            std::cmp::Ordering::Equal => (pe && re) || (pl && rl) || (pg && rg),
        }
    }
}

impl fmt::Display for Dep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some((op, evr)) = &self.constraint {
            write!(f, " {} {evr}", op.symbol())?;
        }
        Ok(())
    }
}

/// A dependency expression: simple, or a rich (boolean) dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `name [op evr]`.
    Simple(Dep),
    /// `(a and b ...)`.
    And(Vec<Expr>),
    /// `(a or b ...)`.
    Or(Vec<Expr>),
    /// `(a if cond [else other])`: a is required when cond holds.
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// `(a unless cond [else other])`: a is required when cond does not hold.
    Unless(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// `(a with b)`: one package provides both.
    With(Box<Expr>, Box<Expr>),
    /// `(a without b)`: a package provides a but not b.
    Without(Box<Expr>, Box<Expr>),
}

/// A malformed rich dependency.
#[derive(Debug, thiserror::Error)]
#[error("malformed rich dependency {text:?}: {detail}")]
pub struct DepError {
    /// The dependency text.
    pub text: String,
    /// What was wrong.
    pub detail: String,
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

impl Expr {
    /// Parses a dependency from primary.xml: `name` (with `flags`/`evr` from the
    /// attributes) or, when `name` starts with `(`, a rich dependency.
    pub fn parse(name: &str, constraint: Option<(Op, Evr)>) -> Result<Self, DepError> {
        if !name.starts_with('(') {
            return Ok(Expr::Simple(Dep {
                name: name.to_string(),
                constraint,
            }));
        }
        let err = |detail: &str| DepError {
            text: name.to_string(),
            detail: detail.to_string(),
        };
        let tokens = tokenize(name);
        let mut pos = 0;
        let e = parse_group(&tokens, &mut pos, 0).map_err(|d| err(&d))?;
        if pos != tokens.len() {
            return Err(err("text after the closing parenthesis"));
        }
        Ok(e)
    }
}

fn tokenize(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match c {
            '(' | ')' => {
                if let Some(st) = start.take() {
                    out.push(&s[st..i]);
                }
                out.push(&s[i..i + 1]);
            }
            c if c.is_whitespace() => {
                if let Some(st) = start.take() {
                    out.push(&s[st..i]);
                }
            }
            _ => {
                if start.is_none() {
                    start = Some(i);
                }
            }
        }
    }
    if let Some(st) = start {
        out.push(&s[st..]);
    }
    out
}

fn parse_group(t: &[&str], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".into());
    }
    if t.get(*pos) != Some(&"(") {
        return Err("expected '('".into());
    }
    *pos += 1;
    let first = parse_term(t, pos, depth)?;
    let mut op: Option<&str> = None;
    let mut terms = vec![first];
    loop {
        match t.get(*pos).copied() {
            Some(")") => {
                *pos += 1;
                break;
            }
            Some(kw @ ("and" | "or" | "if" | "unless" | "else" | "with" | "without")) => {
                *pos += 1;
                match (op, kw) {
                    (None, _) => op = Some(kw),
                    (Some(a), b) if a == b && (a == "and" || a == "or" || a == "with") => {}
                    (Some("if" | "unless"), "else") if terms.len() == 2 => {}
                    _ => return Err(format!("cannot combine '{}' and '{kw}'", op.unwrap_or(""))),
                }
                terms.push(parse_term(t, pos, depth)?);
            }
            Some(other) => return Err(format!("unexpected {other:?}")),
            None => return Err("missing ')'".into()),
        }
    }
    let mut it = terms.into_iter();
    let a = it.next().ok_or("empty group")?;
    let Some(op) = op else {
        return Ok(a);
    };
    let rest: Vec<Expr> = it.collect();
    let two = |mut rest: Vec<Expr>| -> Result<(Box<Expr>, Option<Box<Expr>>), String> {
        let b = rest.remove(0);
        Ok((Box::new(b), rest.pop().map(Box::new)))
    };
    Ok(match op {
        "and" => Expr::And(std::iter::once(a).chain(rest).collect()),
        "or" => Expr::Or(std::iter::once(a).chain(rest).collect()),
        "with" => {
            let b = rest.into_iter().next().ok_or("with needs two terms")?;
            Expr::With(Box::new(a), Box::new(b))
        }
        "without" => {
            let b = rest.into_iter().next().ok_or("without needs two terms")?;
            Expr::Without(Box::new(a), Box::new(b))
        }
        "if" => {
            let (c, e) = two(rest)?;
            Expr::If(Box::new(a), c, e)
        }
        "unless" => {
            let (c, e) = two(rest)?;
            Expr::Unless(Box::new(a), c, e)
        }
        _ => return Err(format!("'{op}' cannot start a group")),
    })
}

fn parse_term(t: &[&str], pos: &mut usize, depth: usize) -> Result<Expr, String> {
    match t.get(*pos).copied() {
        Some("(") => parse_group(t, pos, depth + 1),
        Some(")") | None => Err("missing term".into()),
        Some(name) => {
            *pos += 1;
            let constraint = match t.get(*pos).and_then(|s| Op::from_symbol(s)) {
                Some(op) => {
                    let evr = t.get(*pos + 1).ok_or("missing version after operator")?;
                    *pos += 2;
                    Some((op, Evr::parse(evr)))
                }
                None => None,
            };
            Ok(Expr::Simple(Dep {
                name: name.to_string(),
                constraint,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, op: Op, evr: &str) -> Dep {
        Dep {
            name: name.into(),
            constraint: Some((op, Evr::parse(evr))),
        }
    }

    #[test]
    fn range_overlap_follows_rpm() {
        let p = d("x", Op::Eq, "1.0-2");
        assert!(p.satisfies(&d("x", Op::Eq, "1.0")));
        assert!(p.satisfies(&d("x", Op::Ge, "0.9")));
        assert!(!p.satisfies(&d("x", Op::Gt, "1.0-2")));
        assert!(!p.satisfies(&d("x", Op::Lt, "1.0")));
        assert!(p.satisfies(&Dep::named("x")));
        assert!(Dep::named("x").satisfies(&d("x", Op::Eq, "9")));
        assert!(d("x", Op::Ge, "2").satisfies(&d("x", Op::Lt, "3")));
        assert!(!d("x", Op::Eq, "1:1.0").satisfies(&d("x", Op::Eq, "1.0")));
    }

    #[test]
    fn rich_dependencies_parse() {
        let e = Expr::parse(
            "(pyproject-rpm-macros = 1.9.0-1PGDG.rhel8 if pyproject-rpm-macros)",
            None,
        )
        .unwrap();
        assert_eq!(
            e,
            Expr::If(
                Box::new(Expr::Simple(d(
                    "pyproject-rpm-macros",
                    Op::Eq,
                    "1.9.0-1PGDG.rhel8"
                ))),
                Box::new(Expr::Simple(Dep::named("pyproject-rpm-macros"))),
                None
            )
        );
        let e = Expr::parse("(a or (b >= 2 and c) or d)", None).unwrap();
        let Expr::Or(v) = e else { panic!() };
        assert_eq!(v.len(), 3);
        assert!(matches!(&v[1], Expr::And(x) if x.len() == 2));
        assert!(matches!(
            Expr::parse("(a if b else c)", None).unwrap(),
            Expr::If(_, _, Some(_))
        ));
        for bad in ["(a and b or c)", "(a", "(a >=)", "()", "(a) b", "(if a)"] {
            assert!(Expr::parse(bad, None).is_err(), "{bad}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep, None).is_err());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rich_parser_never_panics(s in "[()a-z0-9 =<>.:-]{0,60}|\\((a|b|and|or|if|else|unless|with|without|\\(|\\)| )*\\)") {
            let _ = Expr::parse(&s, None);
        }

        #[test]
        fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut raw = crate::header::MAGIC.to_vec();
            raw.extend(bytes);
            if let Ok(h) = crate::header::Header::parse(raw) {
                for e in h.entries().to_vec() {
                    let _ = (h.strings(e.tag), h.ints(e.tag), h.bin(e.tag));
                }
            }
        }

        #[test]
        fn rpmvercmp_is_antisymmetric(a in "[0-9a-z.~^_+]{0,12}", b in "[0-9a-z.~^_+]{0,12}") {
            prop_assert_eq!(crate::version::rpmvercmp(&a, &b), crate::version::rpmvercmp(&b, &a).reverse());
        }
    }
}
