//! Fuzz bodies for the package-database parsers: deb822 control paragraphs
//! (plinth-dpkg), the dpkg status database and Alpine's installed database / APKINDEX
//! format (plinth-sbom's catalogers), and the ELF readers of the Go and Rust catalogers.
//! Shared, through `#[path]`, by the libFuzzer targets and by plinth-sbom's corpus
//! replay test (`crates/plinth-sbom/tests/it/fuzz_corpus.rs`).

use plinth_dpkg::control::{self, Options};

/// deb822 paragraphs as `Packages`, `Release` and `status` files (no comments) and as
/// `debian/control` and `.sources` files (comments allowed).
pub fn deb822(data: &[u8]) {
    for opts in [Options::default(), Options::with_comments()] {
        if let Ok(paragraphs) = control::parse(data, opts) {
            for p in &paragraphs {
                let _ = p.get("Package");
                let _ = p.fields().count();
            }
        }
    }
}

/// dpkg's `status` / `status.d` entries, `.list` and `.md5sums` files, `os-release`.
pub fn dpkg_status(data: &[u8]) {
    let _ = plinth_sbom::catalog::dpkg::parse(data);
    let _ = plinth_sbom::catalog::dpkg::parse_file_list(data);
    let _ = plinth_sbom::catalog::dpkg::parse_md5sums(data);
    let _ = plinth_sbom::catalog::os::parse_os_release(data);
}

/// Alpine's `/lib/apk/db/installed` (the APKINDEX record format), each entry turned
/// into a package with its PURL.
pub fn apk_installed(data: &[u8]) {
    let (entries, _warnings) = plinth_sbom::catalog::apk::parse(data);
    for e in entries.iter().take(1_000) {
        let _ = e.to_package(None, "lib/apk/db/installed");
    }
}

/// ELF files as the Go buildinfo, cargo-auditable and rpm header readers see them.
pub fn elf_binary(data: &[u8]) {
    let _ = plinth_sbom::catalog::golang::parse_elf(data);
    let _ = plinth_sbom::catalog::golang::read_buildinfo(data);
    let _ = plinth_sbom::catalog::rust::parse_elf(data);
    let _ = plinth_sbom::catalog::rpm::parse_header(data);
}
