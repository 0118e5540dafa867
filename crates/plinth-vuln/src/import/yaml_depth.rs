//! A bound on YAML flow nesting, checked before the YAML parser sees a byte.
//!
//! libyaml's scanner (serde_norway is a port of it) walks its whole stack of possible
//! simple keys for every token, and that stack grows by one per open flow collection:
//! a document nested N `[` or `{` deep costs O(N²) before the parser, and serde_norway's
//! own depth limit (128), ever see it. 200,000 brackets took minutes. No YAML crate offers
//! a bound on this, so this module follows libyaml's tokenisation just far enough to
//! count flow depth in one linear pass: comments, quoted scalars (which may span lines),
//! plain scalars (whose `[` or `"` are text, also on continuation lines), block scalars
//! (`|`, `>`, skipped by indentation), anchors, tags and aliases. Where it cannot tell, it
//! counts a bracket rather than skip it, so it errs on the side of a refusal.

/// The deepest flow nesting (`[` / `{`) a YAML feed may have. Alpine secdb files nest at
/// most three deep; serde_norway refuses more than 128 anyway.
pub const MAX_YAML_FLOW_DEPTH: usize = 64;

fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// The 1-based line at which `bytes`, read as YAML, opens its `limit + 1`-th nested flow
/// collection, if it does. Linear in `bytes.len()`.
pub fn flow_depth_exceeded(bytes: &[u8], limit: usize) -> Option<usize> {
    let n = bytes.len();
    let at = |i: usize| bytes.get(i).copied();
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut i = 0usize;
    // A token (a node) may start here: quotes open quoted scalars, brackets collections.
    let mut token_start = true;
    // The last token on the line was a plain scalar (block context): a more indented
    // next line continues it.
    let mut in_plain = false;
    // Column of the innermost block collection on this line (libyaml's `indent`), and
    // of the scalar being scanned (the key, if a `:` follows).
    let mut indent: isize = -1;
    let mut scalar_col: isize = 0;
    while i < n {
        let c = bytes[i];
        let col = (i - line_start) as isize;
        if c == b'\n' {
            i += 1;
            line += 1;
            line_start = i;
            if depth > 0 {
                continue; // flow context: a line break is a blank
            }
            // Block context: the next line starts a token, unless it continues a plain
            // scalar (more indented than its collection, not a comment).
            let mut j = i;
            while at(j) == Some(b' ') {
                j += 1;
            }
            let next_col = (j - i) as isize;
            let continues = in_plain
                && next_col > indent
                && !matches!(at(j), None | Some(b'#' | b'\n' | b'\r'))
                && !(next_col == 0
                    && (bytes[j..].starts_with(b"---") || bytes[j..].starts_with(b"...")));
            if !continues && !matches!(at(j), None | Some(b'\n' | b'\r' | b'#')) {
                in_plain = false;
                token_start = true;
                if next_col <= indent {
                    indent = next_col - 1;
                }
            }
            continue;
        }
        if blank(c) {
            i += 1;
            continue;
        }
        let after_blank = i == 0 || blank(bytes[i - 1]);
        if c == b'#' && after_blank {
            while i < n && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if col == 0
            && (bytes[i..].starts_with(b"---") || bytes[i..].starts_with(b"..."))
            && at(i + 3).is_none_or(blank)
        {
            i += 3;
            token_start = true;
            in_plain = false;
            continue;
        }
        if col == 0 && c == b'%' && depth == 0 {
            while i < n && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        match c {
            b'[' | b'{' if token_start || depth > 0 => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
                token_start = true;
                in_plain = false;
                i += 1;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                token_start = true;
                i += 1;
            }
            b',' if depth > 0 => {
                token_start = true;
                i += 1;
            }
            b'"' | b'\'' if token_start => {
                scalar_col = col;
                i += 1;
                while i < n {
                    let q = bytes[i];
                    if q == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    if c == b'"' && q == b'\\' {
                        i += 2;
                        continue;
                    }
                    if q == c {
                        if c == b'\'' && at(i + 1) == Some(b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                token_start = true;
                in_plain = false;
            }
            b'&' | b'!' | b'*' if token_start => {
                // Anchor, tag or alias: up to a blank (libyaml lets a tag hold brackets;
                // an opening one is counted anyway, a closing one is not).
                while i < n && !blank(bytes[i]) && !(depth > 0 && flow_indicator(bytes[i])) {
                    if matches!(bytes[i], b'[' | b'{') {
                        depth += 1;
                        if depth > limit {
                            return Some(line);
                        }
                    }
                    i += 1;
                }
            }
            b'-' | b'?' if token_start && at(i + 1).is_none_or(blank) => {
                if depth == 0 {
                    indent = col;
                }
                i += 1;
            }
            b':' if at(i + 1).is_none_or(blank)
                || (depth > 0 && (token_start || at(i + 1).is_some_and(flow_indicator))) =>
            {
                if depth == 0 {
                    indent = scalar_col;
                }
                token_start = true;
                in_plain = false;
                i += 1;
            }
            b'|' | b'>' if token_start && depth == 0 => {
                i = skip_block_scalar(bytes, i, indent, &mut line);
                line_start = i;
                token_start = true;
                in_plain = false;
            }
            _ => {
                if token_start {
                    scalar_col = col;
                }
                token_start = false;
                in_plain = depth == 0;
                i += 1;
            }
        }
    }
    None
}

/// Skips a block scalar whose indicator is at `i`, in a collection indented `indent`:
/// its header line, then every line that is empty or indented as its first line is
/// (or as its explicit indentation says). Returns the index of the first byte after it,
/// at the start of a line; counts the lines passed in `line`.
fn skip_block_scalar(bytes: &[u8], mut i: usize, indent: isize, line: &mut usize) -> usize {
    let n = bytes.len();
    let header = i;
    while i < n && bytes[i] != b'\n' {
        i += 1;
    }
    let explicit = bytes[header..i]
        .iter()
        .take_while(|&&b| b != b' ' && b != b'#')
        .find(|b| b.is_ascii_digit())
        .map(|d| (d - b'0') as isize);
    let parent = indent.max(0);
    let mut body: Option<isize> = explicit.map(|e| parent + e);
    while i < n {
        // At a line break: look at the next line.
        let start = i + 1;
        let mut j = start;
        while j < n && bytes[j] == b' ' {
            j += 1;
        }
        let col = (j - start) as isize;
        let empty = j >= n || matches!(bytes[j], b'\n' | b'\r');
        if !empty {
            let need = *body.get_or_insert(col.max(indent + 1));
            if col < need || col <= indent {
                return start.min(n);
            }
        }
        *line += 1;
        i = j;
        while i < n && bytes[i] != b'\n' {
            i += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(s: &str, limit: usize) -> bool {
        flow_depth_exceeded(s.as_bytes(), limit).is_none()
    }

    #[test]
    fn counts_flow_collections() {
        assert!(depth_ok("a: [[1]]", 2));
        assert!(!depth_ok("a: [[[1]]]", 2));
        assert!(!depth_ok("a: {b: {c: [1]}}", 2));
        assert!(!depth_ok("[[[", 2));
        assert_eq!(flow_depth_exceeded(b"x: 1\ny: [\n [\n  [", 2), Some(4));
        assert!(!depth_ok("--- [[[1]]]", 2));
    }

    #[test]
    fn brackets_in_text_are_not_collections() {
        assert!(depth_ok("a: \"[[[[\"\nb: '{{{{'\n", 1));
        assert!(depth_ok("a: x[[[[ y\n", 0));
        assert!(depth_ok("# [[[[\na: 1 # {{{{\n", 0));
        assert!(depth_ok("a: |\n  [[[[\n  {{{{\nb: 1\n", 0));
        assert!(depth_ok("- a: >-\n    [[[[\n- b\n", 0));
        assert!(depth_ok(
            "apkurl: \"{{urlprefix}}/{{distroversion}}/{{pkg.name}}.apk\"\n",
            0
        ));
        assert!(depth_ok("a: plain\n  continued [[[[\n", 0));
        assert!(depth_ok("a: [\"]]]]\", 'x]]'', y']\n", 1));
    }

    #[test]
    fn text_cannot_hide_collections() {
        // A closing bracket inside quotes does not close anything.
        assert!(!depth_ok("a: [[\"]]\", [[\"]]\", [[1]]]]]]\n", 4));
        // A block scalar ends where the indentation does.
        assert!(!depth_ok("a: |\n  text\nb: [[[1]]]\n", 2));
        assert!(!depth_ok("- a: |\n    text\n  b: [[[1]]]\n", 2));
        // A plain scalar ends at the end of its line when the next is not indented.
        assert!(!depth_ok("a: x \"\nb: [[[\"]]]\"]]]\n", 2));
        // A comment needs a blank before it.
        assert!(!depth_ok("a: [b#[[[1]]]]\n", 2));
    }
}
