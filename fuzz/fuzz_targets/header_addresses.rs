//! Header block + address extraction + detection on arbitrary bytes: no panic, sane results.
#![no_main]
use bccaudit::detect::{classify, Policy};
use bccaudit::parse::address::{decode_phrase, parse_address_list};
use bccaudit::parse::{header, message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (h, b, _) = header::header_end(data);
    assert!(h <= b && b <= data.len());
    let env = message::envelope(&data[..h]);
    let policy = Policy {
        internal_domains: vec!["example.org".into()],
        min_exposed: 1,
        ..Policy::default()
    };
    let c = classify(&env, &policy);
    assert!(c.external <= c.exposed.len() && c.exposed.len() <= c.audience);
    for e in &c.exposed {
        assert!(e.addr.contains('@'));
        if let Some(n) = e.name {
            let _ = decode_phrase(n);
        }
    }
    let l = parse_address_list(data);
    for m in &l.mailboxes {
        assert!(m.addr.contains('@'));
        if let Some(r) = &m.name {
            assert!(r.end <= data.len());
        }
    }
});
