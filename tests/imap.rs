//! IMAP against a real Dovecot on loopback (no mock): same findings as an mbox, flags untouched,
//! TLS verification, refused logins, a server process killed mid-scan, --state, `folders`.

mod common;
use common::dovecot::{self, Dovecot};
use common::*;
use std::process::{Output, Stdio};

fn run(args: &[&str], password: &str) -> Output {
    bin()
        .args(args)
        .env("BCCAUDIT_IMAP_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn scan_imap(server: &Dovecot, out: &std::path::Path, extra: &[&str]) -> Output {
    let url = server.url();
    let cert = server.cert();
    let mut args = vec![
        "scan",
        url.as_str(),
        "--ca-file",
        cert.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, dovecot::PASSWORD)
}

/// The shipped sample messages, with a mix of flags.
fn sample_messages() -> Vec<(Vec<u8>, &'static str)> {
    let dir = repo().join("samples/maildir/.Sent/cur");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    names
        .iter()
        .enumerate()
        .map(|(i, p)| (std::fs::read(p).unwrap(), ["S", "", "FS", "RS"][i % 4]))
        .collect()
}

/// messages.csv (or incidents.csv) without the columns that name where a message was found.
fn messages_sans_location(path: &std::path::Path) -> Vec<Vec<(String, String)>> {
    csv_rows(path)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .filter(|(k, _)| !["sources", "sha256", "size", "custodians"].contains(&k.as_str()))
                .collect()
        })
        .collect()
}

#[test]
fn imap_scan_matches_mbox_and_leaves_flags_untouched() {
    let Some(server) = dovecot::start() else {
        return;
    };
    server.add_sent(&sample_messages());
    let before = server.flags();
    assert!(
        before.contains("\\Seen") && before.contains("\\Flagged"),
        "{before}"
    );
    let d = tempfile::tempdir().unwrap();
    let o = scan_imap(
        &server,
        &d.path().join("imap"),
        &["--internal-domain", "police.example", "--evidence"],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stderr(&o), server.log());
    let mbox = repo().join("samples/police-sent.mbox");
    let m = scan(
        &[
            mbox.to_str().unwrap(),
            "--internal-domain",
            "police.example",
        ],
        &d.path().join("mbox"),
    );
    assert_eq!(m.status.code(), Some(0));
    // Who the mail belongs to differs (the IMAP account, the mbox path); nothing else does.
    assert_eq!(
        messages_sans_location(&d.path().join("imap/incidents.csv")),
        messages_sans_location(&d.path().join("mbox/incidents.csv"))
    );
    for f in ["affected.csv", "exposures.csv"] {
        let a = std::fs::read(d.path().join("imap").join(f)).unwrap();
        let b = std::fs::read(d.path().join("mbox").join(f)).unwrap();
        assert!(a == b, "{f} differs between IMAP and mbox");
    }
    assert_eq!(
        messages_sans_location(&d.path().join("imap/messages.csv")),
        messages_sans_location(&d.path().join("mbox/messages.csv"))
    );
    // Sources are RFC 5092-style URLs; --evidence fetched the full message and hashed it.
    let rows = csv_rows(&d.path().join("imap/messages.csv"));
    let port = server.imaps_port;
    for r in &rows {
        assert!(
            r["sources"].starts_with(&format!("imaps://alice@localhost:{port}/Sent;UIDVALIDITY=")),
            "{}",
            r["sources"]
        );
        assert!(r["sources"].contains("/;UID="));
        let sha = &r["sha256"];
        assert_eq!(sha.len(), 64, "{r:?}");
        assert!(d
            .path()
            .join("imap/evidence")
            .join(format!("{sha}.eml"))
            .exists());
    }
    // Nothing was marked read, flagged or changed in any way.
    assert_eq!(server.flags(), before);
    // No password anywhere in the report.
    let summary = std::fs::read_to_string(d.path().join("imap/summary.json")).unwrap();
    assert!(!summary.contains(dovecot::PASSWORD));
    let s = summary_json(&d.path().join("imap"));
    assert_eq!(s["inputs"][0]["imap"]["folders"][0]["folder"], "Sent");
    assert_eq!(s["inputs"][0]["imap"]["folders"][0]["messages"], 18);
}

fn summary_json(dir: &std::path::Path) -> serde_json::Value {
    common::summary(dir)
}

#[test]
fn refused_login_and_untrusted_certificate() {
    let Some(server) = dovecot::start() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let url = server.url();
    let cert = server.cert();
    let out = d.path().join("o");
    let o = run(
        &[
            "scan",
            &url,
            "--ca-file",
            cert.to_str().unwrap(),
            "-q",
            "--out",
            out.to_str().unwrap(),
        ],
        "wrong",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("login refused")
            && err.contains("alice")
            && err.contains(&server.imaps_port.to_string()),
        "{err}"
    );
    assert!(!err.contains("wrong"), "the password leaked: {err}");

    let o = run(&["folders", &url], dovecot::PASSWORD);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("certificate"), "{}", stderr(&o));
    let o = run(
        &["folders", &url, "--ca-file", cert.to_str().unwrap()],
        dovecot::PASSWORD,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["folders", &url, "--insecure"], dovecot::PASSWORD);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("WARNING: --insecure"));
    // imap:// upgrades with STARTTLS (and verifies the certificate the same way).
    let plain = format!("imap://alice@localhost:{}", server.imap_port);
    let o = run(
        &["folders", &plain, "--ca-file", cert.to_str().unwrap()],
        dovecot::PASSWORD,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["folders", &plain], dovecot::PASSWORD);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn folders_lists_flags_counts_and_what_scan_reads() {
    let Some(server) = dovecot::start() else {
        return;
    };
    server.add_sent(&sample_messages());
    let cert = server.cert();
    let o = run(
        &[
            "folders",
            &server.url(),
            "--ca-file",
            cert.to_str().unwrap(),
        ],
        dovecot::PASSWORD,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let sent = out
        .lines()
        .find(|l| l.starts_with("Sent "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        sent.contains("\\Sent") && sent.contains(" 18 ") && sent.trim_end().ends_with("yes"),
        "{sent}"
    );
    let inbox = out.lines().find(|l| l.starts_with("INBOX")).unwrap();
    assert!(!inbox.trim_end().ends_with("yes"), "{inbox}");
}

fn many_messages(n: usize, prefix: &str) -> Vec<(Vec<u8>, &'static str)> {
    (0..n)
        .map(|i| {
            let to: Vec<String> = (0..(if i % 100 == 0 { 12 } else { 2 }))
                .map(|k| format!("{prefix}{i}-{k}@example.org"))
                .collect();
            let m = message(
                "me@police.example",
                &to,
                "",
                &format!("m{i}"),
                &format!("{prefix}{i}@x.test"),
                "Mon, 1 Jan 2024 10:00:00 +0000",
            );
            (m.into_bytes(), "S")
        })
        .collect()
}

#[test]
fn server_process_killed_mid_scan_then_scan_completes_counting_each_message_once() {
    let Some(server) = dovecot::start() else {
        return;
    };
    let n = 4000;
    server.add_sent(&many_messages(n, "k"));
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let (child, fetcher) = start_interruptible_scan(&server, &out, &[]);
    let killed = fetcher.is_some_and(|pid| unsafe { libc::kill(pid, libc::SIGKILL) } == 0);
    let o = child.wait_with_output().unwrap();
    assert!(killed, "the fetching imap process was never seen alive");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&out);
    assert_eq!(s["counts"]["messages_read"], n);
    assert_eq!(s["counts"]["unique"], n);
    assert_eq!(s["counts"]["duplicates"], 0);
    assert!(
        s["inputs"][0]["imap"]["reconnects"].as_u64().unwrap() >= 1,
        "{}",
        s["inputs"][0]
    );
    assert_eq!(csv_rows(&out.join("messages.csv")).len(), n / 100);
}

#[test]
fn state_second_run_reads_only_new_messages() {
    let Some(server) = dovecot::start() else {
        return;
    };
    server.add_sent(&many_messages(50, "a"));
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("audit-state.json");
    let st = state.to_str().unwrap();
    let o = scan_imap(&server, &d.path().join("r1"), &["--state", st]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(summary(&d.path().join("r1"))["counts"]["messages_read"], 50);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let acct = format!("alice@localhost:{}", server.imaps_port);
    assert_eq!(saved["accounts"][&acct]["Sent"]["last_uid"], 50);

    server.add_sent(&many_messages(7, "b"));
    let o = scan_imap(&server, &d.path().join("r2"), &["--state", st]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("r2"));
    assert_eq!(s["counts"]["messages_read"], 7);
    let cov = &s["inputs"][0]["imap"]["folders"][0];
    assert_eq!(
        (
            cov["after_uid"].as_u64(),
            cov["first_uid"].as_u64(),
            cov["last_uid"].as_u64()
        ),
        (Some(50), Some(51), Some(57))
    );
    let rows = csv_rows(&d.path().join("r2/messages.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["message_id"], "b0@x.test");
}

#[test]
fn urls_and_files_make_one_report() {
    let Some(server) = dovecot::start() else {
        return;
    };
    server.add_sent(&sample_messages());
    let d = tempfile::tempdir().unwrap();
    let mbox = repo().join("samples/police-sent.mbox");
    let o = scan_imap(
        &server,
        &d.path().join("o"),
        &[
            mbox.to_str().unwrap(),
            "--internal-domain",
            "police.example",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("o"));
    assert_eq!(
        (
            s["counts"]["messages_read"].as_u64(),
            s["counts"]["duplicates"].as_u64()
        ),
        (Some(36), Some(18))
    );
    for m in csv_rows(&d.path().join("o/messages.csv")) {
        let sources: Vec<&str> = m["sources"].split(" | ").collect();
        assert_eq!(sources.len(), 2, "{sources:?}");
        assert!(sources[0].starts_with("imaps://") && sources[1].contains("police-sent.mbox#"));
    }
}

#[test]
fn internaldate_is_used_when_the_date_header_is_missing() {
    let Some(server) = dovecot::start() else {
        return;
    };
    let to = people("r", 12);
    let m = format!("From: me@police.example\r\nTo: {}\r\nSubject: undated\r\nMessage-ID: <u@x.test>\r\n\r\nHi\r\n", to.join(", "));
    server.add_sent_at(m.as_bytes(), 1_706_933_106); // 2024-02-03T04:05:06Z
    let d = tempfile::tempdir().unwrap();
    let o = scan_imap(&server, &d.path().join("o"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows[0]["date"], "2024-02-03T04:05:06Z");
}

#[test]
fn server_gone_for_good_exit_2_naming_folder_and_uid_range() {
    let Some(mut server) = dovecot::start() else {
        return;
    };
    server.add_sent(&many_messages(3000, "g"));
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let (child, fetcher) =
        start_interruptible_scan(&server, &out, &["--retries", "1", "--timeout", "2"]);
    assert!(fetcher.is_some(), "the fetching connection never started");
    server.stop();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("/Sent;UIDVALIDITY=")
            && err.contains("/;UID=")
            && err.contains("could not be read"),
        "{err}"
    );
    // The batches not attempted after that are named as one range, not retried one by one.
    assert!(
        err.contains("not read: the server was given up on"),
        "{err}"
    );
    // What was read before is still reported, and the failure is in summary.json.
    let s = summary(&out);
    assert!(s["counts"]["messages_read"].as_u64().unwrap() < 3000);
    assert!(s["errors"][0].as_str().unwrap().contains("UID="));
}

#[test]
fn changed_uidvalidity_rescans_the_folder_with_a_warning() {
    let Some(server) = dovecot::start() else {
        return;
    };
    server.add_sent(&many_messages(20, "v"));
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state.json");
    let st = state.to_str().unwrap();
    assert_eq!(
        scan_imap(&server, &d.path().join("r1"), &["--state", st])
            .status
            .code(),
        Some(0)
    );
    server.reset_uids();
    let o = scan_imap(&server, &d.path().join("r2"), &["--state", st]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("r2"));
    assert_eq!(
        s["counts"]["messages_read"], 20,
        "the whole folder is read again"
    );
    assert_eq!(
        s["warnings"]["imap-uidvalidity-changed-folder-rescanned"]["count"],
        1
    );
    assert_eq!(
        s["inputs"][0]["imap"]["folders"][0]["uidvalidity_changed"],
        true
    );
}

/// Start a scan slow enough to interrupt (one connection, 4 UIDs per FETCH) and return once its
/// fetching connection is at work: the first imap process plans the scan (LIST, EXAMINE,
/// SEARCH) and logs out, the second one fetches. Returns the scan and that process's pid.
fn start_interruptible_scan(
    server: &Dovecot,
    out: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, Option<i32>) {
    let child = bin()
        .args([
            "scan",
            &server.url(),
            "--ca-file",
            server.cert().to_str().unwrap(),
            "-q",
        ])
        .args(["--connections", "1", "--batch-size", "4"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .env("BCCAUDIT_IMAP_PASSWORD", dovecot::PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen: Vec<i32> = Vec::new();
    let start = std::time::Instant::now();
    while seen.len() < 2 && start.elapsed() < std::time::Duration::from_secs(30) {
        for pid in server.imap_pids() {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Let it fetch a few batches first.
    std::thread::sleep(std::time::Duration::from_millis(100));
    (child, seen.get(1).copied())
}
