//! The crate map in `docs/architecture.md` holds: every workspace crate is in it, depends
//! only on the Plinth crates its row allows, and links none of the crates its row forbids.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::common::repo_root;

/// One row of the map.
#[derive(Debug, Default)]
struct Row {
    may_depend_on: BTreeSet<String>,
    must_not_link: BTreeSet<String>,
}

/// The backquoted names in a table cell.
fn names(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The crate map: crate → row, from the table under "## The crate map".
fn crate_map() -> BTreeMap<String, Row> {
    let text = fs_err::read_to_string(repo_root().join("docs/architecture.md")).unwrap();
    let section = text
        .split("\n## The crate map")
        .nth(1)
        .expect("docs/architecture.md has a section '## The crate map'");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut map = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // ["", crate, owns, may depend on, must not link, ""]
        assert!(cells.len() >= 6, "crate map row has too few cells: {line}");
        let name = names(cells[1]).into_iter().next().unwrap();
        let may_depend_on = if cells[3] == "every crate above" {
            map.keys().cloned().collect()
        } else {
            names(cells[3])
        };
        map.insert(
            name,
            Row {
                may_depend_on,
                must_not_link: names(cells[4]),
            },
        );
    }
    assert!(
        map.len() >= 7,
        "the crate map lists only {} crates",
        map.len()
    );
    map
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(repo_root());
    c
}

#[test]
fn every_crate_depends_only_on_what_the_crate_map_allows() {
    let map = crate_map();
    let out = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut problems = Vec::new();
    let mut seen = 0;
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some(row) = map.get(name) else {
            problems.push(format!(
                "{name} is not in the crate map of docs/architecture.md: add its row"
            ));
            continue;
        };
        seen += 1;
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            // A crate's dev-dependency on itself turns on its `testing` feature.
            if dep_name == name {
                continue;
            }
            if dep_name.starts_with("plinth") && !row.may_depend_on.contains(dep_name) {
                problems.push(format!(
                    "{name} depends on {dep_name} ({} dependency), which the crate map does not allow",
                    dep["kind"].as_str().unwrap_or("normal")
                ));
            }
        }
    }
    assert!(seen >= 7, "only {seen} workspace crates found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn crates_link_none_of_what_the_crate_map_forbids() {
    let map = crate_map();
    let mut problems = Vec::new();
    for (name, row) in map.iter().filter(|(_, r)| !r.must_not_link.is_empty()) {
        let out = cargo()
            .args([
                "tree",
                "-p",
                name,
                "-e",
                "normal",
                "--prefix",
                "none",
                "--format",
                "{p}",
                "--offline",
                "--locked",
            ])
            .output()
            .expect("cargo tree runs");
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // A crate of the plan that does not exist yet.
            assert!(
                err.contains("did not match any packages"),
                "cargo tree -p {name}: {err}"
            );
            continue;
        }
        let linked: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect();
        for forbidden in row.must_not_link.intersection(&linked) {
            problems.push(format!(
                "{name} links {forbidden} (cargo tree -p {name} -e normal)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
