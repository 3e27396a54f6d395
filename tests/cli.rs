//! Command-line behaviour: arguments, exit codes, filters, standard input, CSV safety.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn write(dir: &std::path::Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        vec!["--since", "yesterday"],
        vec!["--sender", "nobody"],
        vec!["--jaccard", "3"],
        vec!["--jobs", "0"],
    ] {
        let mut a = vec![d.path().to_str().unwrap()];
        a.extend(args.iter().copied());
        let o = scan(&a, &d.path().join("out"));
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = bin().args(["scan", "x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "--out is required");
}

#[test]
fn unreadable_input_is_named_the_rest_is_scanned_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let msg = message(
        "me@police.example",
        &people("r", 12),
        "",
        "Hello",
        "a@x",
        "Mon, 1 Jan 2024 10:00:00 +0000",
    );
    let good = write(d.path(), "good.eml", msg.as_bytes());
    let missing = d.path().join("missing.mbox");
    let o = scan(
        &[missing.to_str().unwrap(), good.to_str().unwrap()],
        &d.path().join("out"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.mbox"), "{}", stderr(&o));
    assert_eq!(csv_rows(&d.path().join("out/messages.csv")).len(), 1);
    let s = summary(&d.path().join("out"));
    assert!(s["errors"][0].as_str().unwrap().contains("missing.mbox"));
}

#[test]
fn stdin_mbox() {
    let d = tempfile::tempdir().unwrap();
    let m = mbox(&[
        message(
            "me@police.example",
            &people("r", 12),
            "",
            "One",
            "1@x",
            "Mon, 1 Jan 2024 10:00:00 +0000",
        ),
        message(
            "me@police.example",
            &people("q", 3),
            "",
            "Two",
            "2@x",
            "Mon, 1 Jan 2024 11:00:00 +0000",
        ),
    ]);
    let mut child = bin()
        .args(["scan", "-", "-q", "--out"])
        .arg(d.path().join("out"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let rows = csv_rows(&d.path().join("out/messages.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sources"], "<stdin>#0");
    assert_eq!(summary(&d.path().join("out"))["counts"]["messages_read"], 2);
}

#[test]
fn since_until_and_sender_filters() {
    let d = tempfile::tempdir().unwrap();
    let m = mbox(&[
        message(
            "a@police.example",
            &people("r", 12),
            "",
            "Jan",
            "1@x",
            "Mon, 1 Jan 2024 10:00:00 +0000",
        ),
        message(
            "b@police.example",
            &people("s", 12),
            "",
            "Feb",
            "2@x",
            "Thu, 1 Feb 2024 10:00:00 +0000",
        ),
        message(
            "c@other.example",
            &people("t", 12),
            "",
            "Mar",
            "3@x",
            "Fri, 1 Mar 2024 10:00:00 +0000",
        ),
    ]);
    let p = write(d.path(), "in.mbox", m.as_bytes());
    let subjects = |args: &[&str], out: &str| -> Vec<String> {
        let mut a = vec![p.to_str().unwrap()];
        a.extend_from_slice(args);
        let o = scan(&a, &d.path().join(out));
        assert_eq!(o.status.code(), Some(0));
        csv_rows(&d.path().join(out).join("messages.csv"))
            .into_iter()
            .map(|r| r["subject"].clone())
            .collect()
    };
    assert_eq!(subjects(&["--since", "2024-01-15"], "o1"), ["Feb", "Mar"]);
    assert_eq!(
        subjects(&["--until", "2024-02-01T10:00:00Z"], "o2"),
        ["Jan"]
    );
    assert_eq!(
        subjects(&["--sender", "@police.example"], "o3"),
        ["Jan", "Feb"]
    );
    assert_eq!(
        subjects(
            &[
                "--sender",
                "c@other.example",
                "--sender",
                "a@police.example"
            ],
            "o4"
        ),
        ["Jan", "Mar"]
    );
    assert_eq!(summary(&d.path().join("o1"))["counts"]["filtered_out"], 1);
}

#[test]
fn min_exposed_and_internal_domains() {
    let d = tempfile::tempdir().unwrap();
    let mut to = people("r", 9);
    to.extend((0..5).map(|i| format!("staff{i}@hq.police.example")));
    let p = write(
        d.path(),
        "m.eml",
        message(
            "me@police.example",
            &to,
            "",
            "S",
            "1@x",
            "Mon, 1 Jan 2024 10:00:00 +0000",
        )
        .as_bytes(),
    );
    let n = |args: &[&str], out: &str| {
        let mut a = vec![p.to_str().unwrap()];
        a.extend_from_slice(args);
        assert_eq!(scan(&a, &d.path().join(out)).status.code(), Some(0));
        csv_rows(&d.path().join(out).join("messages.csv")).len()
    };
    assert_eq!(n(&[], "a"), 1, "14 external by default");
    assert_eq!(
        n(&["--internal-domain", "police.example"], "b"),
        0,
        "9 external < 10"
    );
    assert_eq!(
        n(
            &["--internal-domain", "police.example", "--min-exposed", "9"],
            "c"
        ),
        1
    );
    let people = csv_rows(&d.path().join("c/affected.csv"));
    assert_eq!(people.iter().filter(|p| p["internal"] == "true").count(), 5);
}

#[test]
fn formula_injection_is_neutralised() {
    let d = tempfile::tempdir().unwrap();
    let to: Vec<String> = (0..12)
        .map(|i| format!("\"=HYPERLINK(\"\"http://x.test\"\")\" <-r{i}@example.org>"))
        .collect();
    let p = write(
        d.path(),
        "m.eml",
        message(
            "me@police.example",
            &to,
            "",
            "=cmd|' /C calc'!A0",
            "1@x",
            "Mon, 1 Jan 2024 10:00:00 +0000",
        )
        .as_bytes(),
    );
    assert_eq!(
        scan(&[p.to_str().unwrap()], &d.path().join("o"))
            .status
            .code(),
        Some(0)
    );
    let raw = std::fs::read_to_string(d.path().join("o/messages.csv")).unwrap();
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows[0]["subject"], "'=cmd|' /C calc'!A0", "{raw}");
    let people = csv_rows(&d.path().join("o/affected.csv"));
    assert!(
        people.iter().all(|p| p["address"].starts_with("'-")),
        "{people:?}"
    );
    assert!(
        people.iter().all(|p| p["name"].starts_with("'=")),
        "{people:?}"
    );
}

#[test]
fn copies_with_different_message_ids_are_one_message() {
    // Archive conversions mint a new Message-ID per copy; Date+From+To+Cc+Subject still match.
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("sent")).unwrap();
    std::fs::create_dir_all(d.path().join("_sent_mail")).unwrap();
    let to = people("r", 12);
    let date = "Mon, 1 Jan 2024 10:00:00 +0000";
    write(
        &d.path().join("sent"),
        "1_",
        message("me@police.example", &to, "", "S", "one@x", date).as_bytes(),
    );
    write(
        &d.path().join("_sent_mail"),
        "7_",
        message("me@police.example", &to, "", "S", "two@x", date).as_bytes(),
    );
    assert_eq!(
        scan(&[d.path().to_str().unwrap()], &d.path().join("o"))
            .status
            .code(),
        Some(0)
    );
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sources"].split(" | ").count(), 2);
    assert_eq!(summary(&d.path().join("o"))["counts"]["duplicates"], 1);
}

#[test]
fn a_closed_stdout_pipe_is_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args([
            "scan",
            repo().join("samples").to_str().unwrap(),
            "-q",
            "--out",
        ])
        .arg(d.path().join("o"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // like `| head -0`
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    // Without --internal-domain the internal mail and the nine-plus-one are exposing too.
    assert_eq!(csv_rows(&d.path().join("o/incidents.csv")).len(), 5);
}
