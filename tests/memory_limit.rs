//! `--memory-limit` (issue 8): past the budget, the rows that grow with the mailbox (one per
//! incident and person, and each person's incident list) go to an unnamed temporary file and
//! are read back; the report is the same byte for byte, nothing is left in $TMPDIR, and a
//! temporary directory that cannot be written stops the run with one line and no report.

mod common;
use common::*;
use std::path::Path;

/// 60 mass mails to overlapping slices of 300 people (each person in several incidents,
/// reminders joined to their first mail, names differing between mails), one input.
fn corpus(dir: &Path) -> std::path::PathBuf {
    let everyone = people("p", 300);
    let mut msgs = Vec::new();
    for i in 0..60 {
        // Every fifth mail a reminder to the one before (the same list: one incident).
        let k = if i % 5 == 4 { i - 1 } else { i };
        let start = (k * 37) % 250;
        let list: Vec<String> = everyone[start..start + 20 + k % 30].to_vec();
        let named: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(j, a)| {
                if (i + j) % 3 == 0 {
                    format!("\"Person {j} {}\" <{a}>", i % 2)
                } else {
                    a.clone()
                }
            })
            .collect();
        let date = format!("Mon, {} Jan 2024 10:00:00 +0000", 1 + i % 28);
        msgs.push(message(
            "officer@police.example",
            &named,
            "",
            &format!("Mail {}", i % 7),
            &format!("m{i}@police.example"),
            &date,
        ));
    }
    let path = dir.join("sent.mbox");
    std::fs::write(&path, mbox(&msgs)).unwrap();
    path
}

const FILES: [&str; 6] = [
    "incidents.csv",
    "messages.csv",
    "affected.csv",
    "exposures.csv",
    "sensitive.csv",
    "notices.csv",
];

fn scan_with(input: &Path, out: &Path, tmp: &Path, limit: Option<&str>) -> std::process::Output {
    let mut cmd = bin();
    cmd.env("TMPDIR", tmp)
        .arg("scan")
        .arg(input)
        .args(["--out"])
        .arg(out)
        .args([
            "--report-addresses",
            "--notices",
            "--notice-from",
            "dpo@police.example",
            "--min-exposed",
            "5",
        ]);
    if let Some(l) = limit {
        cmd.args(["--memory-limit", l]);
    }
    cmd.output().unwrap()
}

/// The corpus, an empty $TMPDIR, and the report without a limit (the output of that run).
fn whole_run() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let d = tempfile::tempdir().unwrap();
    let input = corpus(d.path());
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let whole = d.path().join("whole");
    let o = scan_with(&input, &whole, &tmp, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("--memory-limit"), "{}", stdout(&o));
    (d, input, tmp, whole)
}

#[test]
fn rows_past_the_limit_give_the_same_report() {
    let (d, input, tmp, whole) = whole_run();
    let rows = csv_rows(&whole.join("exposures.csv")).len();
    assert!(rows > 1000, "{rows} rows");
    // People in several incidents: their lists are what the sorted runs rebuild.
    let affected = csv_rows(&whole.join("affected.csv"));
    assert!(affected
        .iter()
        .any(|r| r["incidents"].parse::<u32>().unwrap() > 3));

    for limit in ["1", "100", "4K", "64k"] {
        let out = d.path().join(format!("limit-{limit}"));
        let o = scan_with(&input, &out, &tmp, Some(limit));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("The {rows} exposure rows passed --memory-limit")),
            "{}",
            stdout(&o)
        );
        for f in FILES {
            assert_eq!(
                std::fs::read(whole.join(f)).unwrap(),
                std::fs::read(out.join(f)).unwrap(),
                "{f} with --memory-limit {limit}"
            );
        }
        for f in std::fs::read_dir(whole.join("notices")).unwrap() {
            let name = f.unwrap().file_name();
            let body = |dir: &Path| {
                let t = std::fs::read_to_string(dir.join("notices").join(&name)).unwrap();
                // Everything after the header block (the header has the run's date and id).
                t.split_once("\r\n\r\n").unwrap().1.to_string()
            };
            assert_eq!(body(&whole), body(&out), "{name:?}");
        }
        // The report page lists the same addresses per incident.
        let addresses = |dir: &Path| {
            let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
            html.matches("@example.org").count()
        };
        assert_eq!(addresses(&whole), addresses(&out));
        // The temporary files had no name and are gone.
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }
}

#[test]
fn merge_keeps_rows_past_the_limit_too() {
    let (d, input, tmp, whole) = whole_run();
    let part = d.path().join("p.jsonl");
    let o = bin()
        .args(["scan", "-q", "--min-exposed", "5", "--partial"])
        .arg(&part)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let merged = d.path().join("merged");
    let o = bin()
        .env("TMPDIR", &tmp)
        .args(["merge", "--memory-limit", "1K", "--out"])
        .arg(&merged)
        .arg(&part)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("passed --memory-limit"),
        "{}",
        stdout(&o)
    );
    for f in ["incidents.csv", "affected.csv", "exposures.csv"] {
        assert_eq!(
            std::fs::read(whole.join(f)).unwrap(),
            std::fs::read(merged.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn an_unwritable_temporary_directory_stops_the_run_without_a_report() {
    let d = tempfile::tempdir().unwrap();
    let input = corpus(d.path());
    let out = d.path().join("out");
    let missing = d.path().join("no-such-dir");
    let o = scan_with(&input, &out, &missing, Some("1K"));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--memory-limit") && err.contains("no-such-dir"),
        "{err}"
    );
    assert!(!out.join("exposures.csv").exists());
}

#[test]
fn a_bad_size_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let input = corpus(d.path());
    for bad in ["lots", "1X", "1.5G"] {
        let o = scan_with(&input, &d.path().join("out"), d.path(), Some(bad));
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("--memory-limit"), "{}", stderr(&o));
    }
}
