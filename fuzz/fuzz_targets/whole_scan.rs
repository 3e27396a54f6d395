//! A whole scan (source → parse → detect → analysis) of arbitrary bytes as an mbox.
#![no_main]
use bccaudit::detect::Policy;
use bccaudit::scan::{run, ScanOptions};
use bccaudit::source::{mbox::MboxSource, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src: Box<dyn Source> = Box::new(MboxSource::from_bytes("fuzz", data.to_vec()));
    let opts = ScanOptions {
        policy: Policy {
            min_exposed: 1,
            ..Policy::default()
        },
        jobs: 1,
        progress: false,
        evidence_dir: None,
    };
    let r = run(vec![src], Some(data.len() as u64), &opts);
    assert_eq!(r.stats.messages_read, r.stats.unique + r.stats.duplicates);
    let report = bccaudit::analysis::analyse(r.findings, 0.8);
    assert!(report.messages.iter().all(|m| m.incident < report.incidents.len()));
});
