//! Helpers for end-to-end tests: run the built binary, read its CSVs.
#![allow(dead_code)]

pub mod cdp;
pub mod dovecot;
pub mod hostile;
pub mod msg_writer;
pub mod pst_writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bccaudit"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `bccaudit scan ARGS... --out OUT -q`.
pub fn scan(args: &[&str], out: &Path) -> Output {
    bin()
        .arg("scan")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .stdin(Stdio::null())
        .output()
        .expect("run bccaudit")
}

pub type Row = BTreeMap<String, String>;

pub fn csv_rows(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn header(path: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.headers().unwrap().iter().map(str::to_string).collect()
}

pub fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A message with these headers (CRLF) and a short body.
pub fn message(
    from: &str,
    to: &[String],
    extra: &str,
    subject: &str,
    id: &str,
    date: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {}\r\n{extra}Subject: {subject}\r\nMessage-ID: <{id}>\r\nDate: {date}\r\n\r\nHello.\r\n",
        to.join(",\r\n ")
    )
}

/// `n` synthetic people at a reserved domain.
pub fn people(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@example.org")).collect()
}

/// Wrap messages into an mboxo string.
pub fn mbox(msgs: &[String]) -> String {
    msgs.iter()
        .map(|m| format!("From sender@x.test Mon Jan  1 00:00:00 2024\n{m}\n"))
        .collect()
}

/// Run a command to its end, with its peak resident memory (KB, from wait4) and wall time.
/// (The child is reaped by `wait4`, which std does not know about.)
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut cmd: Command) -> (Output, u64, std::time::Duration) {
    use std::io::Read;
    let t = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid, with valid out-pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(r, child.id() as i32, "wait4");
    let elapsed = t.elapsed();
    use std::os::unix::process::ExitStatusExt;
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    (out, ru.ru_maxrss as u64, elapsed)
}

/// What a DPO checks in affected.csv and exposures.csv after the Outlook survey (written as a
/// PST or an MSG): Bcc recipients (`quiet…`) not exposed, the non-ASCII name decoded, the
/// Exchange-only colleague listed by DN as internal, the distribution list marked as a list
/// (and nobody else).
pub fn assert_outlook_survey_people(report: &Path) {
    let people = csv_rows(&report.join("affected.csv"));
    assert!(
        !people.iter().any(|p| p["address"].starts_with("quiet")),
        "Bcc exposed"
    );
    let zoe = people
        .iter()
        .find(|p| p["address"] == "resident0@example.org")
        .expect("resident0 is listed");
    assert_eq!(zoe["name"], "Zoë Brown");
    let dn = people
        .iter()
        .find(|p| p["address"].starts_with("/o=police/"))
        .expect("the Exchange-only colleague is listed by DN");
    assert_eq!(dn["internal"], "true");
    let exposures = csv_rows(&report.join("exposures.csv"));
    assert!(exposures
        .iter()
        .any(|e| e["address"] == "residents-list@example.org"));
    for e in &exposures {
        let list = e["address"] == "residents-list@example.org";
        assert_eq!(e["list"], if list { "true" } else { "false" }, "{e:?}");
    }
}
