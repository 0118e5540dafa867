//! What a person reads: `-q`, the build summary, the index digest in `inspect`, the order
//! of `db status`, argument counts, help texts, shell completions and the man page.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::*;

/// A two-platform spec in `dir`.
fn multi_platform_spec(dir: &Path) -> std::path::PathBuf {
    write_spec(
        dir,
        "[image]\nname = \"multi\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\
         [[files]]\nsrc = \"a\"\ndst = \"/app\"\nplatforms = [\"linux/amd64\"]\n\
         [[files]]\nsrc = \"b\"\ndst = \"/app\"\nplatforms = [\"linux/arm64\"]\n",
        &[("a", b"amd64 build"), ("b", b"arm64 build")],
    )
}

/// The digest `index.json` names first.
fn top_digest(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn build_prints_the_digest_on_stdout_and_one_summary_line_unless_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let out = tmp.path().join("out");
    let o = run(plinth().arg("build").arg(&spec).arg("-o").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let digest = stdout(&o).trim().to_string();
    assert_eq!(
        stdout(&o),
        format!("{digest}\n"),
        "only the digest on stdout"
    );
    assert!(digest.starts_with("sha256:"), "{digest}");
    // Not a terminal: no bars, just the summary (what, where, size, digest, time).
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    let summary = lines[0];
    assert!(
        summary.starts_with("Built hello:latest (linux/amd64) into "),
        "{summary}"
    );
    assert!(summary.contains(&digest), "{summary}");
    assert!(
        summary.contains(" kB]") || summary.contains(" B]"),
        "{summary}"
    );
    assert!(summary.ends_with('s'), "{summary}");

    // -q: the same result, and nothing else.
    let o = run(plinth()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .arg("-q"));
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("{digest}\n"));
    assert_eq!(stderr(&o), "", "-q prints nothing on stderr");
}

#[test]
fn quiet_db_import_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    let feed = test_data("vuln/alpine/v3.20-main.subset.json");
    let o = run(plinth().args(["db", "import", "--db"]).arg(&db).arg(&feed));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "the summary is not a result: stderr");
    assert!(stderr(&o).contains("Imported "), "{}", stderr(&o));
    let o = run(plinth()
        .args(["db", "import", "-q", "--db"])
        .arg(&db)
        .arg(&feed));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("", ""));
}

#[test]
fn quiet_help_says_what_it_silences() {
    for cmd in [
        &["build"][..],
        &["lock"],
        &["sbom"],
        &["scan"],
        &["db", "update"],
        &["db", "import"],
    ] {
        let help = ok(plinth().args(cmd).arg("--help"));
        let line = help
            .lines()
            .skip_while(|l| !l.contains("--quiet"))
            .take(2)
            .collect::<String>();
        assert!(line.contains("stderr"), "{cmd:?}: {line:?}");
    }
}

#[test]
fn inspect_shows_the_index_digest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let printed = build(&multi_platform_spec(tmp.path()), &out, &[]);
    let index = top_digest(&out);
    assert_eq!(printed, index, "build prints the index digest");

    let table = ok(plinth().arg("inspect").arg(&out).arg("--no-files"));
    assert_eq!(
        table.lines().next(),
        Some(format!("Index       {index}").as_str()),
        "{table}"
    );
    let j = inspect_json(&out);
    assert_eq!(j["index_digest"], index.as_str());
    let raw = ok(plinth()
        .arg("inspect")
        .arg(&out)
        .args(["--no-files", "--format", "json"]));
    assert!(
        raw.starts_with(&format!("{{\n  \"index_digest\": \"{index}\",\n")),
        "{raw}"
    );
    // The index still names its images, and --platform keeps the index digest.
    let one =
        ok(plinth()
            .arg("inspect")
            .arg(&out)
            .args(["--no-files", "--platform", "linux/arm64"]));
    assert!(one.starts_with(&format!("Index       {index}\n")), "{one}");

    // One platform: the manifest is the top entry, there is no index to show.
    let single = tmp.path().join("single");
    let digest = build(&copy_example(&tmp.path().join("src")), &single, &[]);
    let j = inspect_json(&single);
    assert_eq!(j["index_digest"], Value::Null);
    assert_eq!(j["images"][0]["digest"], digest.as_str());
    let table = ok(plinth().arg("inspect").arg(&single).arg("--no-files"));
    assert!(table.starts_with("Source "), "{table}");
}

#[test]
fn db_status_lists_sources_in_natural_order() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    let mut cmd = plinth();
    cmd.args(["db", "import", "-q", "--db"]).arg(&db);
    for v in ["v3.10", "v3.9", "v3.3"] {
        cmd.arg(test_data(&format!("vuln/alpine/secdb-2020/{v}/main.yaml")));
    }
    ok(&mut cmd);
    let j: Value = serde_json::from_str(&ok(plinth()
        .args(["db", "status", "-f", "json", "--db"])
        .arg(&db)))
    .unwrap();
    let names: Vec<&str> = j["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let pos = |v: &str| {
        names
            .iter()
            .position(|n| n.contains(&format!("{v}-")) || n.ends_with(v))
            .unwrap_or_else(|| panic!("no {v} source in {names:?}"))
    };
    assert!(
        pos("v3.3") < pos("v3.9") && pos("v3.9") < pos("v3.10"),
        "{names:?}"
    );
    let table = ok(plinth().args(["db", "status", "--db"]).arg(&db));
    let at = |n: &str| table.find(n).unwrap_or_else(|| panic!("{n}: {table}"));
    assert!(
        at(names[0]) < at(names[1]) && at(names[1]) < at(names[2]),
        "{table}"
    );
}

#[test]
fn compare_refuses_one_image() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(plinth().arg("compare").arg(tmp.path()), 2);
    assert!(err.contains("2 values required"), "{err}");
    let help = ok(plinth().args(["compare", "--help"]));
    assert!(help.contains("Two or more"), "{help}");
}

#[test]
fn help_talks_about_each_commands_own_input() {
    let scan = ok(plinth().args(["scan", "--help"]));
    assert!(!scan.contains("spec"), "scan takes no spec:\n{scan}");
    for cmd in ["check", "scan", "compare", "sbom"] {
        let help = ok(plinth().args([cmd, "--help"]));
        assert!(!help.contains("as for `plinth"), "{cmd}:\n{help}");
        assert!(help.contains("[default: this machine's]"), "{cmd}:\n{help}");
    }
}

#[test]
fn completions_for_each_shell() {
    let bash = ok(plinth().args(["completions", "bash"]));
    assert!(bash.contains("complete -F _plinth"), "{bash}");
    for sub in ["build", "inspect", "scan", "completions", "man"] {
        assert!(bash.contains(sub), "{sub} missing from the bash script");
    }
    check_syntax("bash", &bash);
    let zsh = ok(plinth().args(["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef plinth"), "{zsh}");
    let fish = ok(plinth().args(["completions", "fish"]));
    assert!(fish.contains("complete -c plinth"), "{fish}");
    // zsh and fish check the syntax when installed; bash always does (above).
    for (shell, script) in [("zsh", &zsh), ("fish", &fish)] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {shell}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            check_syntax(shell, script);
        }
    }
    fails(plinth().args(["completions", "tcsh"]), 2);
}

/// `SHELL -n` reads `script` on stdin and must accept it.
fn check_syntax(shell: &str, script: &str) {
    use std::io::Write;
    let mut child = Command::new(shell)
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{shell} -n: {}", stderr(&o));
}

const COMMANDS: &[&str] = &[
    "build",
    "inspect",
    "lock",
    "why",
    "sbom",
    "compare",
    "check",
    "scan",
    "db",
    "pull",
    "push",
    "copy",
    "serve",
    "login",
    "logout",
    "completions",
    "man",
];

#[test]
fn man_page_names_every_command() {
    let roff = ok(plinth().arg("man"));
    assert!(roff.contains(".TH plinth 1"), "{roff}");
    for c in COMMANDS {
        assert!(
            roff.contains(&format!("plinth\\-{c}(1)")),
            "plinth(1) does not list {c}"
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man/man1");
    let listed = ok(plinth().args(["man", "--dir"]).arg(&dir));
    let mut pages: Vec<String> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(listed.lines().count(), pages.len(), "{listed}");
    let mut want: Vec<String> = COMMANDS.iter().map(|c| format!("plinth-{c}.1")).collect();
    want.extend(
        [
            "plinth.1",
            "plinth-db-update.1",
            "plinth-db-import.1",
            "plinth-db-status.1",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(pages, want);
    for p in &pages {
        let text = fs_err::read_to_string(dir.join(p)).unwrap();
        let name = p.trim_end_matches(".1");
        assert!(text.contains(&format!(".TH {name} 1")), "{p}: {text}");
    }
    // man itself renders them, where it is installed.
    let have_man = Command::new("sh")
        .arg("-c")
        .arg("command -v man")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_man {
        let o = run(Command::new("man")
            .arg("-l")
            .arg(dir.join("plinth-scan.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"));
        assert!(o.status.success(), "man -l: {}", stderr(&o));
        assert!(stdout(&o).contains("--fail-on"), "{}", stdout(&o));
    }
}
