//! The pipeline called as a library, without the command line: open, scan, analyse.

use bccaudit::detect::Policy;
use bccaudit::model::ScanResult;
use bccaudit::run::{self, Input, InputSpec, Silent};
use bccaudit::scan::ScanOptions;

fn samples() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn options() -> ScanOptions {
    ScanOptions {
        policy: Policy {
            internal_domains: vec!["police.example".into()],
            ..Policy::default()
        },
        jobs: 2,
        evidence_dir: None,
        record_keys: true,
        sensitive: Some(std::sync::Arc::new(bccaudit::sensitive::Matcher::builtin())),
        folders: Vec::new(),
    }
}

#[test]
fn samples_through_the_library() {
    let inputs = vec![Input {
        spec: InputSpec::Path(samples()),
        seq: 0,
        custodian: Some("Sent Items".into()),
    }];
    let scanned = run::scan(inputs, &options(), true, None, &[], &Silent).unwrap();
    assert_eq!(scanned.parts.len(), 1);
    assert_eq!(scanned.parts[0].custodian, "Sent Items");
    // Keys were recorded for every message read: a merge of this part decides the same copies.
    let recorded: usize = scanned.parts.iter().map(|p| p.keys.len()).sum();
    assert_eq!(recorded, 56);
    let combined = ScanResult::combine_recorded(scanned.parts, scanned.strings);
    let (result, report) = run::analyse(combined, 0.8, 1 << 30, None, &Silent).unwrap();
    assert_eq!(result.stats.messages_read, 56);
    assert_eq!(result.stats.unique, 18);
    assert_eq!(report.incidents.len(), 5);
    assert_eq!(report.messages.len(), 7);
    let external = report.people.iter().filter(|p| !p.internal).count();
    assert_eq!((report.people.len(), external), (598, 595));
    assert!(report
        .messages
        .iter()
        .all(|m| m.sources.len() >= 3 && m.custodians.iter().all(|c| &**c == "Sent Items")));
    let with_msg = report
        .messages
        .iter()
        .filter(|m| m.sources.len() == 4)
        .count();
    assert_eq!(
        with_msg, 2,
        "the two Outlook .msg copies (beside mbox, Maildir and PST)"
    );
}

#[test]
fn an_input_that_cannot_be_opened_keeps_its_place() {
    let inputs = vec![
        Input {
            spec: InputSpec::Path("/nonexistent/a.mbox".into()),
            seq: 0,
            custodian: None,
        },
        Input {
            spec: InputSpec::Path(samples().join("police-sent.mbox")),
            seq: 1,
            custodian: None,
        },
    ];
    let scanned = run::scan(inputs, &options(), false, None, &[], &Silent).unwrap();
    assert_eq!(scanned.parts.len(), 2);
    assert!(scanned.parts[0].info.is_none());
    assert_eq!(scanned.parts[0].errors.len(), 1);
    assert_eq!(scanned.parts[0].custodian, "/nonexistent/a.mbox");
    assert_eq!(scanned.parts[1].stats.messages_read, 18);
}
