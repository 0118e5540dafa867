//! rpmvercmp against rpm itself: one `rpm --eval` run compares a few thousand generated
//! pairs through rpm's Lua `rpm.vercmp`.

use std::cmp::Ordering;
use std::process::Command;

use plinth_rpm::version::rpmvercmp;

use crate::support::have_tool;

/// Deterministic pseudo-random versions (no `-` or `:`: `rpm.vercmp` parses whole EVRs) from the characters that matter: digits (with
/// leading zeros), letters, separators, `~` and `^`.
fn versions(n: usize) -> Vec<String> {
    const PARTS: &[&str] = &[
        "0",
        "1",
        "2",
        "9",
        "10",
        "010",
        "00",
        "a",
        "b",
        "rc",
        "git",
        "el8",
        ".",
        ".",
        "_",
        "+",
        "~",
        "^",
        "~rc1",
        "^20240101",
        "p1",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = 1 + (next() % 5) as usize;
            (0..len)
                .map(|_| PARTS[(next() % PARTS.len() as u64) as usize])
                .collect::<String>()
        })
        .collect()
}

#[test]
fn rpmvercmp_matches_rpm() {
    if !have_tool("rpm") {
        return;
    }
    let v = versions(3000);
    let pairs: Vec<(&str, &str)> = v
        .chunks(2)
        .map(|c| (c[0].as_str(), c[1].as_str()))
        .chain([("1.0~rc1", "1.0"), ("1.0^git1", "1.0"), ("1.0^", "1.0~")])
        .collect();
    let lua_list = pairs
        .iter()
        .map(|(a, b)| format!("{{[[{a}]],[[{b}]]}}"))
        .collect::<Vec<_>>()
        .join(",");
    let script = format!(
        "%{{lua: for _, p in ipairs({{{lua_list}}}) do print(rpm.vercmp(p[1], p[2])..\"\\n\") end}}"
    );
    let out = Command::new("rpm")
        .arg("--eval")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<i32> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(got.len(), pairs.len());
    let mut checked = 0;
    for ((a, b), rpm) in pairs.iter().zip(got) {
        let want = rpm.cmp(&0);
        assert_eq!(rpmvercmp(a, b), want, "{a:?} vs {b:?}: rpm says {rpm}");
        checked += 1;
    }
    assert!(checked > 1000);
    assert_eq!(rpmvercmp("1.0~rc1", "1.0"), Ordering::Less);
}
