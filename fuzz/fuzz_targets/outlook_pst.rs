//! The PST reader on arbitrary bytes (and on mutations of a valid PST from the test writer):
//! no panic escapes the walk (a damaged file is an error or warnings), and every message it
//! yields converts to a structured message with a location inside the file.
#![no_main]
use bccaudit::source::outlook::{pst, structured};
use bccaudit::source::Unit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut emit = |b: bccaudit::source::Batch| {
        for u in b.units {
            if let Unit::Outlook(item) = u {
                let loc = item.location.to_string();
                assert!(loc.starts_with("fuzz.pst#"));
                let s = structured(&item.message, &loc);
                assert!(s.to.iter().chain(&s.cc).all(|p| !p.addr.is_empty()));
            }
        }
    };
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let _ = pst::walk("fuzz.pst", reader, data.len() as u64, &[], 0, &mut emit);
});
