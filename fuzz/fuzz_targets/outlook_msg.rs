//! The `.msg` reader on arbitrary bytes (and on mutations of a valid compound file): no panic,
//! and whatever it reads converts to a structured message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = bccaudit::source::outlook::msg::read(data) {
        let s = bccaudit::source::outlook::structured(&m, "fuzz.msg");
        assert!(s.to.iter().chain(&s.cc).all(|p| !p.addr.is_empty()));
    }
});
