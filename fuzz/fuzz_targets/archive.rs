//! The archive walker (zip, tar, gzip, nested) on arbitrary bytes: no panic, bounded output.
#![no_main]
use bccaudit::source::{archive, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kind = sniff::sniff(&data[..data.len().min(sniff::SNIFF_BYTES)]);
    if archive::is_archive(kind) {
        let mut units = 0usize;
        let mut emit = |b: bccaudit::source::Batch| units += b.units.len();
        archive::walk_bytes("fuzz", data.to_vec(), kind, &mut emit);
    }
});
