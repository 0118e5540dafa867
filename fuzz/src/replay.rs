//! Replays a fuzz target's committed corpus (`fuzz/corpus/TARGET/`) plus a fixed number
//! of deterministic mutations of each input, in an ordinary test: the CI check of the
//! fuzz targets, with no nightly compiler, no sanitizer build and no second build of the
//! dependencies. The mutations are the cheap ones a fuzzer starts with: bit flips,
//! interesting bytes, truncation, deletion, duplication, splicing two inputs, and edits
//! of length fields (ASCII number runs, such as a tar header's octal size or a
//! `Content-Length`-like field, and 2/4/8-byte binary words, as in zip and gzip
//! headers). A mutated tar gets its header checksums recomputed half the time, so that
//! the edit reaches the code behind the checksum.
//!
//! Everything is seeded from the target's name, the input's file name and the mutation's
//! number: a failure names all three and writes the input that failed to the temporary
//! directory, where `cargo fuzz run TARGET FILE` replays it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// FNV-1a, to turn names into seeds the same way on every machine.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const INTERESTING: [u8; 10] = [0, 0xff, 0x7f, 0x80, b'0', b'7', b'9', b' ', b'\n', b'/'];
const NUMBERS: [&[u8]; 7] = [
    b"0",
    b"1",
    b"77777777777",
    b"99999999999999999999",
    b"-1",
    b"4294967295",
    b"18446744073709551615",
];
const WORDS: [u64; 6] = [
    0,
    1,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// One mutation of `input` (`other` is another corpus input, for splicing), and what it
/// did.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> (Vec<u8>, String) {
    let mut out = input.to_vec();
    let len = out.len();
    let kind = rng.below(9);
    let what = match kind {
        0 if len > 0 => {
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            format!("{flips} bit flips")
        }
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = INTERESTING[rng.below(INTERESTING.len())];
            format!("byte {i} set to {:#04x}", out[i])
        }
        2 => {
            let at = rng.below(len + 1);
            out.truncate(at);
            format!("truncated at {at}")
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(512));
            out.drain(at..at + n);
            format!("{n} bytes deleted at {at}")
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(4096));
            let chunk = out[at..at + n].to_vec();
            let to = rng.below(len + 1);
            out.splice(to..to, chunk);
            format!("{n} bytes from {at} copied to {to}")
        }
        5 => {
            let a = rng.below(len + 1);
            let b = rng.below(other.len() + 1);
            out.truncate(a);
            out.extend_from_slice(&other[b..]);
            format!("spliced: first {a} bytes, then another input from {b}")
        }
        6 | 7 => {
            // An ASCII number run, replaced by an extreme number.
            let runs: Vec<(usize, usize)> = digit_runs(&out);
            if runs.is_empty() {
                return mutate(rng, input, other);
            }
            let (start, end) = runs[rng.below(runs.len())];
            let number = NUMBERS[rng.below(NUMBERS.len())];
            // Keep the length when it fits (fixed-width fields such as tar's).
            let mut value = number.to_vec();
            if value.len() < end - start {
                let mut padded = vec![b'0'; end - start - value.len()];
                padded.extend_from_slice(&value);
                value = padded;
            }
            out.splice(start..end, value);
            format!(
                "number at {start}..{end} set to {}",
                String::from_utf8_lossy(number)
            )
        }
        _ if len >= 2 => {
            let width = [2usize, 4, 8][rng.below(3)].min(len);
            let at = rng.below(len - width + 1);
            let word = WORDS[rng.below(WORDS.len())].to_le_bytes();
            out[at..at + width].copy_from_slice(&word[..width]);
            format!("{width}-byte word at {at} set")
        }
        _ => {
            out.push(INTERESTING[rng.below(INTERESTING.len())]);
            "one byte appended".to_string()
        }
    };
    (out, what)
}

/// The `(start, end)` of each run of ASCII digits, at most 10,000 of them.
fn digit_runs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() && runs.len() < 10_000 {
        if data[i].is_ascii_digit() {
            let start = i;
            while i < data.len() && data[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// Recomputes the checksum of every 512-byte block that looks like a ustar header, so
/// that a mutation behind the checksum is read rather than refused.
fn fix_tar_checksums(data: &mut [u8]) {
    for block in data.chunks_exact_mut(512) {
        if &block[257..262] != b"ustar" {
            continue;
        }
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(text.as_bytes());
    }
}

/// The committed corpus of `target`: `fuzz/corpus/TARGET/*`, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus of {target}: {e}"))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs_err::read(&p).unwrap())
        })
        .collect()
}

/// Runs `body` on every corpus input of `target`, then on `per_input` mutations of each.
/// Panics, naming the target, input and mutation, when `body` panics.
pub fn replay(target: &str, per_input: usize, body: fn(&[u8])) {
    let inputs = corpus(target);
    let is_tar = |d: &[u8]| d.len() >= 512 && &d[257..262] == b"ustar";
    let run = |label: &str, data: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| body(data))).is_err() {
            let file = std::env::temp_dir().join(format!(
                "plinth-fuzz-{target}-{}",
                label.replace(['/', ' ', ':'], "_")
            ));
            let _ = fs_err::write(&file, data);
            panic!(
                "fuzz target {target} panicked on {label}; the input is in {} \
                 (replay: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run {target} {})",
                file.display(),
                file.display()
            );
        }
    };
    for (i, (name, data)) in inputs.iter().enumerate() {
        run(name, data);
        let other = &inputs[(i + 1) % inputs.len()].1;
        for k in 0..per_input {
            let mut rng = Rng::new(fnv(&[
                target.as_bytes(),
                name.as_bytes(),
                &(k as u64).to_le_bytes(),
            ]));
            let (mut mutated, what) = mutate(&mut rng, data, other);
            if is_tar(data) && rng.below(2) == 0 {
                fix_tar_checksums(&mut mutated);
            }
            run(&format!("{name} mutation {k} ({what})"), &mutated);
        }
    }
}
