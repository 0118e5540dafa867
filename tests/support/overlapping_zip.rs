//! Test input shared by the test binaries of plinth-vuln and plinth (included with
//! `#[path]`): an OSV zip whose entries all overlap, the zip bomb of issue 12.

use std::io::Write;

/// A zip whose `entries` central-directory entries all point at one local file: a
/// deflate stream of `size` spaces (the overlapping zip bomb).
pub fn overlapping_zip(entries: usize, size: usize) -> Vec<u8> {
    let raw = vec![b' '; size];
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&raw).unwrap();
    let data = enc.finish().unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(&raw);
    let crc = crc.sum();
    let name = b"a.json";
    let mut out = Vec::new();
    let u16le = |v: usize| (v as u16).to_le_bytes();
    let u32le = |v: usize| (v as u32).to_le_bytes();
    out.extend(0x04034b50u32.to_le_bytes());
    out.extend(u16le(20)); // version needed
    out.extend(u16le(0)); // flags
    out.extend(u16le(8)); // deflate
    out.extend([0; 4]); // time, date
    out.extend(crc.to_le_bytes());
    out.extend(u32le(data.len()));
    out.extend(u32le(raw.len()));
    out.extend(u16le(name.len()));
    out.extend(u16le(0));
    out.extend(name);
    out.extend(&data);
    let cd_start = out.len();
    for i in 0..entries {
        let name = format!("e{i:07}.json");
        out.extend(0x02014b50u32.to_le_bytes());
        out.extend(u16le(20)); // made by
        out.extend(u16le(20)); // needed
        out.extend(u16le(0));
        out.extend(u16le(8));
        out.extend([0; 4]);
        out.extend(crc.to_le_bytes());
        out.extend(u32le(data.len()));
        out.extend(u32le(raw.len()));
        out.extend(u16le(name.len()));
        out.extend([0; 12]); // extra, comment, disk, internal attrs, external attrs
        out.extend(u32le(0)); // local header offset: all the same
        out.extend(name.as_bytes());
    }
    let cd_len = out.len() - cd_start;
    out.extend(0x06054b50u32.to_le_bytes());
    out.extend([0; 4]);
    out.extend(u16le(entries));
    out.extend(u16le(entries));
    out.extend(u32le(cd_len));
    out.extend(u32le(cd_start));
    out.extend(u16le(0));
    out
}
