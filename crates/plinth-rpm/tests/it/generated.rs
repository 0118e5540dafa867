//! A signed RPM repository generated at test time with Debian's own tools: gpg makes a
//! key, rpmbuild builds two packages, rpmsign signs their headers, createrepo_c writes
//! the repodata, gpg signs repomd.xml. The whole chain then runs on it, and the
//! tampering cases run on it too.

use std::path::PathBuf;
use std::process::Command;

use plinth_rpm::keys::{Keyring, SignatureError};
use plinth_rpm::package::{Expected, Package, PackageError};
use plinth_rpm::primary;
use plinth_rpm::repomd::{self, RepomdError};
use plinth_rpm::resolve::Universe;
use plinth_rpm::rpmdb;

use crate::support::{NOW, have_tool};

struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: PathBuf,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const SPEC: &str = r#"
Name: plinth-NAME
Version: VERSION
Release: 1
Summary: Plinth test package
License: Apache-2.0
BuildArch: noarch
AutoReqProv: no
REQUIRES
%description
Test package.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/plinth
echo "NAME VERSION" > %{buildroot}/usr/share/plinth/NAME
printf '#!/bin/sh\necho NAME\n' > %{buildroot}/usr/bin/plinth-NAME
chmod 755 %{buildroot}/usr/bin/plinth-NAME
%files
/usr/bin/plinth-NAME
/usr/share/plinth/NAME
"#;

fn generate() -> Option<Repo> {
    if !(have_tool("gpg")
        && have_tool("rpmbuild")
        && have_tool("rpmsign")
        && have_tool("createrepo_c"))
    {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let gnupg = dir.path().join("gnupg");
    fs_err::create_dir_all(&gnupg).unwrap();
    fs_err::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = || {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", &gnupg).args(["--batch", "--quiet"]);
        c
    };
    run(gpg().args([
        "--passphrase",
        "",
        "--quick-gen-key",
        "Plinth RPM Test <rpm-test@plinth.example>",
        "rsa2048",
        "sign",
        "never",
    ]));
    let key = dir.path().join("RPM-GPG-KEY-plinth-test");
    let out = gpg().args(["--armor", "--export"]).output().unwrap();
    fs_err::write(&key, out.stdout).unwrap();
    let top = dir.path().join("rpmbuild");
    let root = dir.path().join("repo");
    fs_err::create_dir_all(&root).unwrap();
    for (name, version, requires) in [
        ("lib", "1.0", ""),
        ("lib", "2.0", ""),
        (
            "tool",
            "1.0",
            "Requires: plinth-lib >= 2.0\nRequires: /usr/bin/plinth-lib\nRequires: (plinth-lib if plinth-tool)",
        ),
        // The rich forms rpmbuild allows in each tag (it refuses `unless` in Requires), for
        // the rpm database's index rows (not resolved).
        (
            "rich",
            "1.0",
            "Requires: (c if d else e)\nRequires: (f with g)\nRequires: (h without i)\nRequires: (j or (k and l >= 2))\nRecommends: (p if q)\nConflicts: r < 3\nConflicts: (a unless b)\nConflicts: (m unless n else o)\nObsoletes: s\nSuggests: t\nSupplements: (u and v)\nEnhances: w",
        ),
    ] {
        let spec = SPEC
            .replace("NAME", name)
            .replace("VERSION", version)
            .replace("REQUIRES", requires);
        let path = dir.path().join(format!("{name}-{version}.spec"));
        fs_err::write(&path, spec).unwrap();
        run(Command::new("rpmbuild")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "_binary_payload w19.zstdio", "-bb"])
            .arg(&path));
    }
    let rpms: Vec<PathBuf> = fs_err::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 4);
    // Debian's rpm looks for gpg2 (`%__gpg`); point it at the gpg on PATH.
    let gpg_bin = Command::new("sh")
        .args(["-c", "command -v gpg"])
        .output()
        .unwrap();
    let gpg_bin = String::from_utf8(gpg_bin.stdout)
        .unwrap()
        .trim()
        .to_string();
    for rpm in &rpms {
        let dest = root.join(rpm.file_name().unwrap());
        fs_err::copy(rpm, &dest).unwrap();
        run(Command::new("rpmsign")
            .env("GNUPGHOME", &gnupg)
            .args(["--define", "_gpg_name Plinth RPM Test", "--define"])
            .arg(format!("__gpg {gpg_bin}"))
            .arg("--addsign")
            .arg(&dest));
    }
    run(Command::new("createrepo_c").arg("--quiet").arg(&root));
    run(gpg()
        .args(["--armor", "--detach-sign", "-o"])
        .arg(root.join("repodata/repomd.xml.asc"))
        .arg(root.join("repodata/repomd.xml")));
    Some(Repo {
        _dir: dir,
        root,
        key,
    })
}

fn expected(p: &primary::RpmPackage) -> Expected {
    let c = p.checksum.clone().unwrap();
    Expected {
        algorithm: c.algorithm,
        value: c.value,
        size: Some(p.size),
    }
}

#[test]
fn generated_repository_full_chain_and_tampering() {
    let Some(repo) = generate() else { return };
    let ring = Keyring::load(&repo.key).unwrap();
    // repomd -> primary -> resolution -> each package verified against primary.
    let v = repomd::verify_dir(&repo.root, &ring, NOW).unwrap();
    let pkgs = primary::read(&repo.root, v.repomd.entry("primary").unwrap()).unwrap();
    assert_eq!(pkgs.len(), 4);
    let u = Universe::new(&pkgs, "x86_64");
    let chosen = u.resolve(&["plinth-tool"]).unwrap();
    let nevras: Vec<String> = chosen.iter().map(|p| p.nevra()).collect();
    assert_eq!(
        nevras,
        ["plinth-lib-2.0-1.noarch", "plinth-tool-1.0-1.noarch"]
    );
    let mut opened = Vec::new();
    for p in &chosen {
        let pkg = Package::open(&repo.root.join(&p.location)).unwrap();
        let (verified, files) = pkg.verified_files(&ring, Some(&expected(p))).unwrap();
        assert_eq!(verified.signer.version, 4);
        assert!(
            files
                .iter()
                .any(|f| f.path.starts_with("./usr/bin/plinth-"))
        );
        opened.push(pkg);
    }
    // The rpm database of what was chosen, read back by rpm.
    let img = tempfile::tempdir().unwrap();
    rpmdb::write(
        img.path(),
        &opened.iter().collect::<Vec<_>>(),
        1_700_000_000,
    )
    .unwrap();
    let out = Command::new("rpm")
        .arg("--root")
        .arg(img.path())
        .args(["--dbpath", "/var/lib/rpm", "-qa"])
        .output()
        .unwrap();
    let mut listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    listed.sort();
    assert_eq!(listed, nevras);

    // The packages, rich dependencies included: the same index rows as rpm writes.
    // (Not both versions of plinth-lib: rpm refuses two packages owning one file.)
    let all: Vec<PathBuf> = pkgs
        .iter()
        .filter(|p| p.nevra() != "plinth-lib-1.0-1.noarch")
        .map(|p| repo.root.join(&p.location))
        .collect();
    let opened: Vec<Package> = all.iter().map(|p| Package::open(p).unwrap()).collect();
    let ours = tempfile::tempdir().unwrap();
    rpmdb::write(
        ours.path(),
        &opened.iter().collect::<Vec<_>>(),
        1_700_000_000,
    )
    .unwrap();
    let theirs = crate::rpmdb::rpm_justdb(&all);
    crate::rpmdb::assert_same_indexes(ours.path(), theirs.path());

    // Tampering: repomd modified.
    let xml = fs_err::read(repo.root.join("repodata/repomd.xml")).unwrap();
    let sig = fs_err::read(repo.root.join("repodata/repomd.xml.asc")).unwrap();
    let mut bad = xml.clone();
    bad.extend(b"\n");
    assert!(matches!(
        repomd::verify(&bad, &sig, &ring, NOW),
        Err(RepomdError::Signature(SignatureError::Bad { .. }))
    ));
    // Unknown key: the real PGDG key does not know this repository.
    let other = crate::support::key("PGDG-RPM-GPG-KEY-RHEL");
    assert!(matches!(
        repomd::verify(&xml, &sig, &other, NOW),
        Err(RepomdError::Signature(SignatureError::UnknownKey { .. }))
    ));
    // primary.xml.gz replaced by other bytes.
    let entry = v.repomd.entry("primary").unwrap();
    let primary_path = repo.root.join(&entry.location);
    let mut bytes = fs_err::read(&primary_path).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    assert!(primary::parse_checked(&bytes[..], entry).is_err());
    // A package whose payload was changed; one whose header was changed; one that does
    // not match primary's checksum (the other version of the same name).
    let tool = chosen.iter().find(|p| p.name == "plinth-tool").unwrap();
    let tool_path = repo.root.join(&tool.location);
    let pkg = Package::open(&tool_path).unwrap();
    let orig = fs_err::read(&tool_path).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let write = |bytes: &[u8]| -> PathBuf {
        let p = tmp.path().join("t.rpm");
        fs_err::write(&p, bytes).unwrap();
        p
    };
    let mut payload = orig.clone();
    payload[pkg.payload_offset() as usize + 30] ^= 1;
    let err = Package::open(&write(&payload))
        .unwrap()
        .verify(&ring, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::Digest {
                what: "payload",
                ..
            }
        ),
        "{err:?}"
    );
    let mut header = orig.clone();
    let name_at = find(&header[..pkg.payload_offset() as usize], b"plinth-tool").unwrap();
    header[name_at] = b'P';
    let err = Package::open(&write(&header))
        .unwrap()
        .verify(&ring, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::Signature {
                source: SignatureError::Bad { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let lib1 = pkgs
        .iter()
        .find(|p| p.nevra() == "plinth-lib-1.0-1.noarch")
        .unwrap();
    let err = Package::open(&repo.root.join(&lib1.location))
        .unwrap()
        .verify(&ring, Some(&expected(tool)))
        .unwrap_err();
    assert!(matches!(err, PackageError::Digest { .. }), "{err:?}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
