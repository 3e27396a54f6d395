//! The report directory: written whole or not at all, never through a link, never read back as
//! input, checked before the scan (issue 7, items 7, 18, 19, 20).

mod common;
use common::*;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const DATE: &str = "Mon, 1 Jan 2024 10:00:00 +0000";

fn exposing(id: &str) -> String {
    message("me@police.example", &people(id, 12), "", "Hello", id, DATE)
}

/// `bccaudit scan - --out OUT` reading a pipe that stays open until the child's stdin is
/// dropped: the scan is in progress until then.
fn scan_held_open(out: &std::path::Path) -> Child {
    let mut c = bin()
        .args(["scan", "-", "-q", "--out"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let m = mbox(&[exposing("held")]);
    c.stdin.as_mut().unwrap().write_all(m.as_bytes()).unwrap();
    c
}

fn wait_for(mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sigint_mid_scan_leaves_the_previous_report_and_no_personal_data() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("report");
    let input = d.path().join("a.mbox");
    std::fs::write(&input, mbox(&[exposing("old")])).unwrap();
    let o = scan(&[input.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = std::fs::read(out.join("messages.csv")).unwrap();

    let mut c = bin()
        .args(["scan", "-", "-q", "--force", "--out"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .as_mut()
        .unwrap()
        .write_all(mbox(&[exposing("new")]).as_bytes())
        .unwrap();
    // The staging directory exists while the scan waits for more input.
    wait_for(|| {
        names(d.path())
            .iter()
            .any(|n| n.starts_with(".report.staging-"))
    });
    // SAFETY: kill on our child's pid.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("messages.csv")).unwrap(), before);
    assert!(
        !names(d.path()).iter().any(|n| n.contains("staging")),
        "{:?}",
        names(d.path())
    );
}

#[test]
fn killed_run_is_cleaned_up_by_the_next_and_never_looks_complete() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("report");
    let mut c = scan_held_open(&out);
    wait_for(|| {
        names(d.path())
            .iter()
            .any(|n| n.starts_with(".report.staging-"))
    });
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(!out.exists(), "no report that looks complete");
    let input = d.path().join("a.mbox");
    std::fs::write(&input, mbox(&[exposing("x")])).unwrap();
    let o = scan(&[input.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(names(d.path()), [".report.lock", "a.mbox", "report"]);
}

#[test]
fn two_runs_on_one_report_directory_do_not_both_succeed() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("report");
    let mut first = scan_held_open(&out);
    wait_for(|| {
        names(d.path())
            .iter()
            .any(|n| n.starts_with(".report.staging-"))
    });
    let input = d.path().join("a.mbox");
    std::fs::write(&input, mbox(&[exposing("x")])).unwrap();
    let o = scan(&[input.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another bccaudit run"),
        "{}",
        stderr(&o)
    );
    drop(first.stdin.take());
    let o = first.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(csv_rows(&out.join("messages.csv")).len(), 1);
}

#[test]
fn out_is_checked_before_the_scan_and_the_error_said_once() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("file"), b"x").unwrap();
    for (out, what) in [
        (d.path().join("file/report"), "Not a directory"),
        (d.path().join("file"), "not a directory"),
    ] {
        // Standard input stays open: a check made after the scan would never be reached.
        let mut c = scan_held_open(&out);
        let t = Instant::now();
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "scanned before checking --out"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(2));
        let o = c.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(err.contains(what), "{err}");
        assert_eq!(err.matches("os error").count().max(1), 1, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // --state in a directory that cannot be written, and --since after --until.
    let input = d.path().join("a.mbox");
    std::fs::write(&input, mbox(&[exposing("x")])).unwrap();
    let o = scan(
        &[
            input.to_str().unwrap(),
            "--state",
            d.path().join("file/state.json").to_str().unwrap(),
        ],
        &d.path().join("r1"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--state"), "{}", stderr(&o));
    assert!(!d.path().join("r1").exists());
    let o = scan(
        &[
            input.to_str().unwrap(),
            "--since",
            "2024-02-01",
            "--until",
            "2024-01-01",
        ],
        &d.path().join("r2"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--since must be earlier"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn planted_links_and_foreign_directories_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("a.mbox");
    std::fs::write(&input, mbox(&[exposing("x")])).unwrap();
    let target = d.path().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    let link = d.path().join("report");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = scan(&[input.to_str().unwrap()], &link);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(names(&target).is_empty());

    // A directory of someone else's (as root, hand it to nobody).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let theirs = d.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let o = scan(&[input.to_str().unwrap()], &theirs);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("owned by another user"),
            "{}",
            stderr(&o)
        );
    }

    // An existing, world-writable, empty directory of ours: the report replaces it, 0700.
    let open = d.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = scan(&[input.to_str().unwrap()], &open);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(&open).unwrap().mode() & 0o777, 0o700);
    for n in names(&open) {
        assert_eq!(
            std::fs::metadata(open.join(&n)).unwrap().mode() & 0o777,
            0o600,
            "{n}"
        );
    }
}

#[test]
fn a_tree_holding_the_report_never_reads_it_and_directory_atimes_stay() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    let sub = tree.join("sent");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("a.eml"), exposing("a")).unwrap();
    let out = tree.join("report");
    let run = || {
        bin()
            .args(["scan", "-q", "--evidence", "--force"])
            .arg(&tree)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Age the directories' access times so that reading them without O_NOATIME would show.
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 86400);
    for dir in [&tree, &sub] {
        std::fs::File::open(dir)
            .unwrap()
            .set_times(std::fs::FileTimes::new().set_accessed(old))
            .unwrap();
    }
    let atimes = |_: ()| [&tree, &sub].map(|p| std::fs::metadata(p).unwrap().accessed().unwrap());
    let before = atimes(());
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&out);
    // Only a.eml: not the evidence copy, the CSVs, the lock file or the staging directory.
    assert_eq!(s["counts"]["messages_read"], 1, "{s}");
    assert_eq!(s["counts"]["files_skipped_not_message"], 0, "{s}");
    assert_eq!(atimes(()), before, "directory access times changed");
}
