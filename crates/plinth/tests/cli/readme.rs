//! The walk-throughs of `README.md` and `docs/*.md`, run as written against the real
//! binary, so that they stay true.
//!
//! Every ```` ```console ```` block is a session: `$ COMMAND` lines run in order with
//! `sh -c`, in one scratch directory per file (holding a copy of `examples/` and the
//! checkout's `tests/data/`), with the `plinth` under test first on `PATH`; in a command,
//! `cargo run --release -p plinth --` stands for that same binary. The lines after a
//! command are its expected standard output, matched line by line:
//!
//! - `...` alone on a line matches any number of lines (none included);
//! - `[..]` inside a line matches any text within that line (times, paths, sizes);
//! - `? N` right after the command is its expected exit code (0 otherwise).
//!
//! Standard error (progress) is not compared; it is shown when a command fails. A block
//! opened as ```` ```console,network ```` needs the Debian mirror of the machine's apt
//! sources: when that cannot be reached (outside CI) the rest of that file's blocks are
//! skipped with a notice. Any other shell block (```` ```sh ````) must hold only
//! the commands of `NOT_RUN`, which cannot run inside a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Shell commands shown but not run here, with why.
const NOT_RUN: &[(&str, &str)] = &[
    ("./scripts/test.sh", "it runs this test suite"),
    (
        "podman run --rm --read-only --cap-drop=ALL --network none oci:out/hello:latest",
        "podman's storage and runtime are the machine's; the interop tests run the image \
         with podman, with private storage",
    ),
    (
        "cargo install --path crates/plinth --locked",
        "the binary under test stands in for the installed one",
    ),
];

/// What `cargo run` builds: the test stands the binary under test in for it.
const CARGO_RUN: &str = "cargo run --release -p plinth --";

#[derive(Debug)]
struct Cmd {
    line: usize,
    text: String,
    code: i32,
    expected: Vec<String>,
}

#[derive(Debug)]
struct Block {
    line: usize,
    network: bool,
    cmds: Vec<Cmd>,
}

/// The console blocks of a markdown text; shell blocks that hold anything but the
/// commands of `NOT_RUN` are an error.
fn blocks(name: &str, md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = md.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((n, l)) = lines.next() {
        let Some(info) = l.trim_start().strip_prefix("```") else {
            continue;
        };
        let info = info.trim();
        let body: Vec<(usize, &str)> = lines
            .by_ref()
            .take_while(|(_, l)| l.trim_start() != "```")
            .collect();
        let mut tags = info.split(',').map(str::trim);
        match tags.next().unwrap_or("") {
            "console" => {
                let tags: Vec<&str> = tags.collect();
                for t in &tags {
                    assert!(
                        *t == "network",
                        "{name}:{n}: unknown console block tag `{t}`"
                    );
                }
                out.push(Block {
                    line: n,
                    network: tags.contains(&"network"),
                    cmds: commands(name, &body),
                });
            }
            "sh" | "shell" | "bash" => {
                for (m, l) in &body {
                    let cmd = l.split('#').next().unwrap_or("").trim();
                    assert!(
                        cmd.is_empty() || NOT_RUN.iter().any(|(c, _)| *c == cmd),
                        "{name}:{m}: `{cmd}` is in a ```{info} block, which this test does \
                         not run: put it in a ```console block with its output"
                    );
                }
            }
            _ => {}
        }
    }
    out
}

fn commands(name: &str, body: &[(usize, &str)]) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::new();
    for (n, l) in body {
        if let Some(text) = l.strip_prefix("$ ") {
            cmds.push(Cmd {
                line: *n,
                text: text.to_string(),
                code: 0,
                expected: Vec::new(),
            });
            continue;
        }
        let Some(cmd) = cmds.last_mut() else {
            panic!("{name}:{n}: output before any `$ ` command: {l}");
        };
        match l.strip_prefix("? ") {
            Some(code) if cmd.expected.is_empty() => {
                cmd.code = code
                    .trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}:{n}: bad exit code `{code}`: {e}"));
            }
            _ => cmd.expected.push(l.to_string()),
        }
    }
    cmds
}

/// Whether `line` matches `pattern`, where `[..]` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `lines` match `patterns`, where a `...` pattern line stands for any lines.
fn lines_match(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p.trim() == "..." => {
            (0..=lines.len()).any(|skip| lines_match(rest, &lines[skip..]))
        }
        Some((p, rest)) => lines
            .split_first()
            .is_some_and(|(l, more)| line_matches(p, l) && lines_match(rest, more)),
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    fs_err::create_dir_all(dst).unwrap();
    for e in fs_err::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            fs_err::copy(e.path(), &to).unwrap();
        }
    }
}

fn is_offline(stderr: &str) -> bool {
    stderr.contains("cannot read the package index") || stderr.contains("cannot fetch")
}

/// Runs every console block of `rel` (a markdown file of the checkout).
fn run_file(rel: &str) {
    let root = repo_root();
    let md = fs_err::read_to_string(root.join(rel)).unwrap();
    let blocks = blocks(rel, &md);
    if blocks.is_empty() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    copy_dir(&root.join("examples"), &work.path().join("examples"));
    // A built example binary from the checkout would be older than its copied source.
    let _ = fs_err::remove_file(work.path().join("examples/hello/hello"));
    fs_err::create_dir_all(work.path().join("tests")).unwrap();
    fs_err::os::unix::fs::symlink(root.join("tests/data"), work.path().join("tests/data")).unwrap();

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_plinth"));
    let mut path = vec![bin.parent().unwrap().to_path_buf()];
    path.push(root.join(".venv-tools/bin"));
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache");

    for block in &blocks {
        for cmd in &block.cmds {
            let text = cmd.text.replace(CARGO_RUN, "plinth");
            let o = run(Command::new("sh")
                .arg("-c")
                .arg(&text)
                .current_dir(work.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env("PLINTH_CACHE", &cache)
                .env("PLINTH_DB", work.path().join("vuln.db"))
                .env_remove("SOURCE_DATE_EPOCH")
                .env_remove("PLINTH_MAX_DB_AGE"));
            let (out, err) = (stdout(&o), stderr(&o));
            let at = format!("{rel}:{} `{}`", cmd.line, cmd.text);
            if block.network
                && !o.status.success()
                && is_offline(&err)
                && std::env::var("CI").as_deref() != Ok("true")
            {
                eprintln!(
                    "SKIPPED: {at} and the rest of {rel} (block of line {}): the Debian \
                     mirror of the apt sources cannot be reached:\n{err}",
                    block.line
                );
                return;
            }
            assert_eq!(
                o.status.code(),
                Some(cmd.code),
                "{at}: exit status\nstdout:\n{out}\nstderr:\n{err}"
            );
            assert!(!err.contains("panicked"), "{at}: {err}");
            let lines: Vec<&str> = out.lines().collect();
            assert!(
                lines_match(&cmd.expected, &lines),
                "{at}: the output differs from the text.\n--- expected:\n{}\n--- got:\n{out}\n\
                 --- stderr:\n{err}",
                cmd.expected.join("\n")
            );
        }
    }
}

#[test]
fn the_matchers_follow_their_rules() {
    assert!(line_matches("a [..] c", "a b b c"));
    assert!(line_matches("[..]", ""));
    assert!(!line_matches("a [..] c", "a b d"));
    assert!(!line_matches("x[..]x", "x"));
    let p = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&p(&["...", "d"]), &["a", "b", "d"]));
    assert!(lines_match(&p(&["a", "...", "c", "..."]), &["a", "c"]));
    assert!(!lines_match(&p(&["a"]), &["a", "b"]));
    let b = blocks(
        "t.md",
        "```console,network\n$ plinth x\n? 1\nout [..]\n...\n$ true\n```\n\
         ```sh\n./scripts/test.sh   # all\n```\n",
    );
    assert_eq!(b.len(), 1);
    assert!(b[0].network);
    assert_eq!(b[0].cmds[0].code, 1);
    assert_eq!(b[0].cmds[0].expected, ["out [..]", "..."]);
    assert_eq!(b[0].cmds[1].line, 6);
}

#[test]
fn readme_runs_as_written() {
    run_file("README.md");
}

#[test]
fn docs_run_as_written() {
    let mut docs: Vec<String> = fs_err::read_dir(repo_root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    docs.sort();
    for d in docs {
        run_file(&format!("docs/{d}"));
    }
}
