//! A whole scan (source → parse → detect → analysis) of arbitrary bytes as an mbox.
#![no_main]
use bccaudit::detect::Policy;
use bccaudit::model::ScanResult;
use bccaudit::run::Silent;
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
        evidence_dir: None,
        record_keys: true,
        sensitive: None,
        folders: Vec::new(),
    };
    let Ok(scanned) = run(vec![src], Some(data.len() as u64), &opts, &Silent) else {
        return;
    };
    let combined = ScanResult::combine_recorded(scanned.parts, scanned.strings);
    let (result, report) = bccaudit::run::analyse(combined, 0.8, &Silent);
    assert_eq!(
        result.stats.messages_read,
        result.stats.unique + result.stats.duplicates
    );
    assert!(report.messages.len() <= result.stats.unique as usize);
});
