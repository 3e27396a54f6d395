//! IMAP servers that misbehave (issue 7, items 9, 10, 15, 23): each one makes the scan fail with
//! one clear line and exit 2, within a few times --timeout and well under 200 MB, and never
//! makes bccaudit send a password it was told not to send.

mod common;
use common::hostile::{self, Misbehaviour};
use common::*;
use std::time::Duration;

const TIMEOUT: u64 = 2;

/// `bccaudit scan imap://…` against a hostile server: (output, peak RSS KB, wall time).
fn scan_hostile(how: Misbehaviour) -> (hostile::Hostile, std::process::Output, u64, Duration) {
    let server = hostile::start(how);
    let d = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.args([
        "scan",
        &format!("imap://alice@127.0.0.1:{}", server.port),
        "--allow-plaintext",
        "--timeout",
        &TIMEOUT.to_string(),
        "--retries",
        "1",
        "--connections",
        "1",
        "-q",
        "--out",
    ])
    .arg(d.path().join("out"))
    .env("BCCAUDIT_IMAP_PASSWORD", "secret-pw");
    let (o, rss, t) = run_measured(cmd);
    (server, o, rss, t)
}

fn assert_bounded(how: Misbehaviour) -> String {
    let (_s, o, rss_kb, t) = scan_hostile(how);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{how:?}: {err}");
    assert!(rss_kb < 200 * 1024, "{how:?}: peak RSS {rss_kb} KB");
    // Login, LIST and one retried batch may each wait out the timeout once, plus backoff.
    assert!(
        t < Duration::from_secs(3 * TIMEOUT + 3),
        "{how:?}: took {t:?}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{how:?}: one line: {err}"
    );
    err
}

#[test]
fn greeting_never_comes_says_timed_out() {
    let err = assert_bounded(Misbehaviour::NoGreeting);
    assert!(
        err.contains(&format!("timed out after {TIMEOUT} s")),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn slow_greeting_is_bounded_by_the_timeout() {
    let err = assert_bounded(Misbehaviour::Slowloris);
    assert!(err.contains("no complete response within"), "{err}");
}

#[test]
fn endless_greeting_line_is_refused() {
    assert_bounded(Misbehaviour::EndlessGreeting);
}

#[test]
fn huge_literal_is_bounded() {
    let err = assert_bounded(Misbehaviour::HugeLiteral);
    assert!(err.contains("127.0.0.1"), "names the server: {err}");
}

#[test]
fn endless_list_line_is_bounded() {
    assert_bounded(Misbehaviour::EndlessListLine);
}

#[test]
fn endless_untagged_responses_are_bounded() {
    assert_bounded(Misbehaviour::EndlessUntagged);
}

#[test]
fn empty_fetch_answers_are_an_error_not_vanished_messages() {
    let (_s, o, _, _) = scan_hostile(Misbehaviour::EmptyFetch);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("UID=1:3"), "names the unread range: {err}");
    assert!(err.contains("none of the 3 messages"), "{err}");
}

#[test]
fn logindisabled_means_no_password_is_sent() {
    let (s, o, _, _) = scan_hostile(Misbehaviour::LoginDisabled);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("LOGINDISABLED"), "{err}");
    let got = s.received.lock().unwrap().clone();
    assert!(
        got.iter()
            .all(|c| !c.to_ascii_uppercase().starts_with("LOGIN")),
        "{got:?}"
    );
    assert!(got.iter().all(|c| !c.contains("secret-pw")), "{got:?}");
}

#[test]
fn server_text_with_terminal_escapes_is_printed_inert() {
    let (_s, o, _, _) = scan_hostile(Misbehaviour::EscapesInNo);
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stderr.contains(&0x1b), "{:?}", stderr(&o));
    assert!(!o.stderr.contains(&0x07));
    assert!(stderr(&o).contains("folder gone"), "{}", stderr(&o));
}
