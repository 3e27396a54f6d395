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
    assert_eq!(csv_rows(&d.path().join("o/incidents.csv")).len(), 7);
}

#[test]
fn passwords_in_imap_urls_never_appear_in_errors_or_records() {
    let d = tempfile::tempdir().unwrap();
    let input = one_exposing_mbox(d.path());
    for url in [
        "imaps://bob:hunter2@",
        "IMAPS://bob:hunter2@127.0.0.1:1/",
        "imap://dpo@example.org:hunter2@127.0.0.1:1",
        "Imaps://bob:hunt@er2@127.0.0.1:1",
    ] {
        let o = bin()
            .args(["scan", url, "--timeout", "1", "--retries", "0", "--out"])
            .arg(d.path().join("never"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{url}");
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(
            !all.contains("hunter2") && !all.contains("er2@"),
            "{url}: {all}"
        );
    }
    // Recorded arguments: an URL-looking value anywhere on the command line is masked.
    let o = scan(
        &[
            input.to_str().unwrap(),
            "--folder",
            "IMAPS://dpo@example.org:hunter2@mail.example.org/Sent",
        ],
        &d.path().join("out"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = std::fs::read_to_string(d.path().join("out/summary.json")).unwrap();
    assert!(!s.contains("hunter2"), "{s}");
    assert!(s.contains(":***@mail.example.org"), "{s}");
}

#[test]
fn file_names_with_terminal_escapes_are_printed_inert() {
    let d = tempfile::tempdir().unwrap();
    let evil = d.path().join("\x1b]0;owned\x07\x1b[2Jmissing.mbox");
    let o = scan(&[evil.to_str().unwrap()], &d.path().join("out"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !o.stderr.contains(&0x1b) && !o.stderr.contains(&0x07),
        "{:?}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("missing.mbox"));
}

#[test]
fn formula_guard_covers_fullwidth_bom_and_control_characters() {
    let d = tempfile::tempdir().unwrap();
    let msgs: Vec<String> = ["＝HYPERLINK(\"http://x.test\")", "\u{feff}=1+1", "－2+3"]
        .iter()
        .enumerate()
        .map(|(i, subj)| {
            message(
                "me@police.example",
                &people(&format!("p{i}x"), 12),
                "",
                &format!("=?UTF-8?B?{}?=", b64(subj.as_bytes())),
                &format!("f{i}@x"),
                "Mon, 1 Jan 2024 10:00:00 +0000",
            )
        })
        .collect();
    let input = write(d.path(), "a.mbox", mbox(&msgs).as_bytes());
    let o = scan(&[input.to_str().unwrap()], &d.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for r in csv_rows(&d.path().join("out/messages.csv")) {
        assert!(r["subject"].starts_with('\''), "{:?}", r["subject"]);
    }
}

fn b64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn non_utf8_arguments_and_absurd_jobs_are_not_a_crash() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let input = one_exposing_mbox(d.path());
    let out = d.path().join(std::ffi::OsStr::from_bytes(b"out\xff"));
    let o = bin()
        .arg("scan")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--ca-file")
        .arg(std::ffi::OsStr::from_bytes(b"/nonexistent/\xfe.pem"))
        .args(["--jobs", "100000", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("--jobs 100000"), "{}", stderr(&o));
    assert_eq!(csv_rows(&out.join("messages.csv")).len(), 1);
    let s = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(s.contains("out\u{fffd}"), "recorded lossily: {s}");
}

#[test]
fn a_reused_message_id_is_two_unique_messages_everywhere() {
    let d = tempfile::tempdir().unwrap();
    let a = message(
        "me@police.example",
        &people("a", 12),
        "",
        "Hi",
        "same@x",
        "Mon, 1 Jan 2024 10:00:00 +0000",
    );
    let b = message(
        "me@police.example",
        &people("b", 12),
        "",
        "Hi",
        "same@x",
        "Tue, 2 Jan 2024 10:00:00 +0000",
    );
    let input = write(d.path(), "a.mbox", mbox(&[a.clone(), b, a]).as_bytes());
    let o = scan(&[input.to_str().unwrap()], &d.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Scanned 3 messages (2 unique, 1 duplicates)"),
        "{}",
        stdout(&o)
    );
    let s = summary(&d.path().join("out"));
    assert_eq!(s["counts"]["unique"], 2);
    assert_eq!(s["counts"]["duplicates"], 1);
    assert_eq!(s["counts"]["exposing_messages"], 2);
    assert_eq!(s["counts"]["message_id_reused_with_other_recipients"], 1);
}

#[test]
fn threads_that_cannot_be_started_are_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let input = write(
        d.path(),
        "a.mbox",
        mbox(&[message(
            "me@x.test",
            &people("r", 1),
            "",
            "Hi",
            "a@x",
            "Mon, 1 Jan 2024 10:00:00 +0000",
        )])
        .as_bytes(),
    );
    // Every new thread asks for a petabyte of stack: the system refuses them all.
    let o = bin()
        .args(["scan", input.to_str().unwrap(), "-q", "--out"])
        .arg(d.path().join("out"))
        .env("RUST_MIN_STACK", "1000000000000000")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot start"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert!(!d.path().join("out").exists());
}

/// `DIR/a.mbox` holding one message that exposes 12 people.
fn one_exposing_mbox(dir: &std::path::Path) -> std::path::PathBuf {
    let m = message(
        "me@police.example",
        &people("r", 12),
        "",
        "Hi",
        "a@x",
        "Mon, 1 Jan 2024 10:00:00 +0000",
    );
    write(dir, "a.mbox", mbox(&[m]).as_bytes())
}
