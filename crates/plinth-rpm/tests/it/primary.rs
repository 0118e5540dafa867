//! primary.xml from the real PGDG repository: checksum from the verified repomd, the
//! streaming parse, and resolution on its 537 packages.

use plinth_rpm::deps::{Expr, Op};
use plinth_rpm::primary::{self, PrimaryError, RpmPackage};
use plinth_rpm::repomd;
use plinth_rpm::resolve::{ResolveError, Universe};

use crate::support::{NOW, data, key};

fn pgdg() -> Vec<RpmPackage> {
    let v = repomd::verify_dir(&data("pgdg"), &key("PGDG-RPM-GPG-KEY-RHEL"), NOW).unwrap();
    primary::read(&data("pgdg"), v.repomd.entry("primary").unwrap()).unwrap()
}

#[test]
fn pgdg_primary_parses_all_packages_with_dependencies() {
    let pkgs = pgdg();
    assert_eq!(pkgs.len(), 537);
    let devel = pkgs
        .iter()
        .find(|p| p.name == "pgdg-poppler-data-devel")
        .unwrap();
    assert_eq!(
        devel.nevra(),
        "pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch"
    );
    assert_eq!(devel.evr.epoch, Some(0));
    assert_eq!(devel.size, 7344);
    assert_eq!(
        devel.checksum.as_ref().unwrap().value,
        "b631a2470adc0941f3ab561d3d923e364409e350771e23ceccd9cd9d4a002185"
    );
    assert_eq!(
        devel.location,
        "pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch.rpm"
    );
    let req: Vec<String> = devel
        .requires
        .iter()
        .map(|r| match r {
            Expr::Simple(d) => d.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert!(
        req.contains(&"pgdg-poppler-data = 0.4.9-7.rhel8".to_string()),
        "{req:?}"
    );
    assert!(req.contains(&"/usr/bin/pkg-config".to_string()), "{req:?}");
    let pyproject = pkgs
        .iter()
        .find(|p| p.name == "pgdg-pyproject-srpm-macros")
        .unwrap();
    assert!(
        pyproject.requires.iter().any(|r| matches!(r, Expr::If(..))),
        "{:?}",
        pyproject.requires
    );
    // File provides that createrepo lists in primary (binaries), and versioned provides.
    assert!(
        pkgs.iter()
            .any(|p| p.files.iter().any(|f| f.contains("/bin/")))
    );
    assert!(pkgs.iter().any(|p| p.provides.iter().any(
        |e| matches!(e, Expr::Simple(d) if d.constraint.as_ref().is_some_and(|(op, _)| *op == Op::Eq))
    )));
    // Two versions of one name: both listed.
    assert!(pkgs.iter().filter(|p| p.name == "pgdg-srpm-macros").count() >= 2);
}

#[test]
fn primary_with_a_wrong_checksum_or_size_is_refused() {
    let v = repomd::verify_dir(&data("pgdg"), &key("PGDG-RPM-GPG-KEY-RHEL"), NOW).unwrap();
    let mut entry = v.repomd.entry("primary").unwrap().clone();
    entry.checksum.value = entry.checksum.value.replace('b', "c");
    let err = primary::read(&data("pgdg"), &entry).unwrap_err();
    assert!(matches!(err, PrimaryError::Checksum { .. }), "{err:?}");
    assert!(err.to_string().contains("checksum mismatch"));
    let mut entry = v.repomd.entry("primary").unwrap().clone();
    entry.size = Some(1000);
    assert!(primary::read(&data("pgdg"), &entry).is_err());
    // A modified file (one flipped byte inside the gzip stream).
    let mut bytes = fs_err::read(data(&format!("pgdg/{}", entry.location))).unwrap();
    bytes[5000] ^= 0x40;
    let entry = v.repomd.entry("primary").unwrap().clone();
    assert!(primary::parse_checked(&bytes[..], &entry).is_err());
}

#[test]
fn highest_version_wins() {
    let pkgs = pgdg();
    let u = Universe::new(&pkgs, "x86_64");
    let got = u.resolve(&["pgdg-srpm-macros"]).unwrap();
    let macros: Vec<String> = got.iter().map(|p| p.nevra()).collect();
    let newest = pkgs
        .iter()
        .filter(|p| p.name == "pgdg-srpm-macros")
        .max_by(|a, b| a.evr.compare(&b.evr))
        .unwrap();
    assert!(macros.contains(&newest.nevra()), "{macros:?}");
    assert_eq!(newest.evr.version, "1.0.41");
    // A versioned request picks the older one.
    let got = u.resolve(&["(pgdg-srpm-macros < 1.0.30)"]).unwrap();
    assert!(
        got.iter()
            .any(|p| p.nevra() == "pgdg-srpm-macros-1.0.27-1.rhel8.noarch"),
        "{got:?}"
    );
}

#[test]
fn missing_file_provide_is_named_with_its_chain() {
    let pkgs = pgdg();
    let u = Universe::new(&pkgs, "x86_64");
    let err = u.resolve(&["pgdg-poppler-data-devel"]).unwrap_err();
    let ResolveError::Missing { requirement, chain } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(requirement, "/usr/bin/pkg-config");
    assert_eq!(
        chain,
        "the request -> pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch"
    );
    assert_eq!(
        err.to_string(),
        "nothing provides /usr/bin/pkg-config (needed by the request -> pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch)"
    );
}

#[test]
fn eq_dependency_and_file_provides_resolve_when_present() {
    // Give the repository a pkg-config: a package that lists the file, as primary would.
    let mut pkgs = pgdg();
    pkgs.push(RpmPackage {
        name: "pkgconf-pkg-config".into(),
        arch: "x86_64".into(),
        evr: plinth_rpm::version::Evr::parse("1.4.2-1.el8"),
        location: "pkgconf-pkg-config.rpm".into(),
        files: vec!["/usr/bin/pkg-config".into()],
        ..Default::default()
    });
    let u = Universe::new(&pkgs, "x86_64");
    let got: Vec<String> = u
        .resolve(&["pgdg-poppler-data-devel"])
        .unwrap()
        .iter()
        .map(|p| p.nevra())
        .collect();
    assert_eq!(
        got,
        [
            "pgdg-poppler-data-0.4.9-7.rhel8.noarch",
            "pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch",
            "pkgconf-pkg-config-1.4.2-1.el8.x86_64"
        ]
    );
}

#[test]
fn rich_if_dependency_of_pyproject_macros() {
    // "(pyproject-rpm-macros = 1.9.0-1PGDG.rhel8 if pyproject-rpm-macros)": the PGDG repo
    // has no pyproject-rpm-macros, so the condition is false and nothing more is needed.
    let mut pkgs = pgdg();
    let u = Universe::new(&pkgs, "x86_64");
    let got = u.resolve(&["pgdg-pyproject-srpm-macros"]).unwrap();
    assert!(got.iter().all(|p| p.name != "pyproject-rpm-macros"));
    // With pyproject-rpm-macros requested too, the condition holds and the exact version
    // is required: a different one fails naming the rich dependency's branch.
    let add = |v: &str| RpmPackage {
        name: "pyproject-rpm-macros".into(),
        arch: "noarch".into(),
        evr: plinth_rpm::version::Evr::parse(v),
        location: format!("pyproject-rpm-macros-{v}.rpm"),
        ..Default::default()
    };
    pkgs.push(add("1.10.0-1.el8"));
    let u = Universe::new(&pkgs, "x86_64");
    let err = u
        .resolve(&["pyproject-rpm-macros", "pgdg-pyproject-srpm-macros"])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("pyproject-rpm-macros = 1.9.0-1PGDG.rhel8"),
        "{err}"
    );
    pkgs.push(add("1.9.0-1PGDG.rhel8"));
    let u = Universe::new(&pkgs, "x86_64");
    for roots in [
        ["pgdg-pyproject-srpm-macros", "pyproject-rpm-macros"],
        ["pyproject-rpm-macros", "pgdg-pyproject-srpm-macros"],
    ] {
        let got = u
            .resolve(&roots)
            .map_err(|e| format!("{roots:?}: {e}"))
            .unwrap();
        let chosen = got
            .iter()
            .find(|p| p.name == "pyproject-rpm-macros")
            .unwrap();
        assert_eq!(chosen.evr.to_string(), "1.9.0-1PGDG.rhel8", "{roots:?}");
    }
}

#[test]
fn rich_or_and_and_dependencies() {
    let pkgs = pgdg();
    let u = Universe::new(&pkgs, "x86_64");
    let got = u
        .resolve(&["(no-such-package or pgdg-srpm-macros)"])
        .unwrap();
    assert!(got.iter().any(|p| p.name == "pgdg-srpm-macros"));
    let err = u
        .resolve(&["(pgdg-srpm-macros and no-such-package)"])
        .unwrap_err();
    assert!(
        err.to_string().contains("nothing provides no-such-package"),
        "{err}"
    );
}
