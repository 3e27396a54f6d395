//! What is read, and what is said about what could not be: non-mail inputs named by type,
//! Content-Length that would swallow a message, a BOM, FIFOs, bounded standard input, file
//! names that are not UTF-8 (issue 7, items 1, 2, 3, 14, 16, 21).

mod common;
use common::*;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;

const DATE: &str = "Mon, 1 Jan 2024 10:00:00 +0000";

fn exposing(id: &str, prefix: &str) -> String {
    message(
        "me@police.example",
        &people(prefix, 12),
        "",
        "Hello",
        id,
        DATE,
    )
}

/// (name, first bytes, what stderr must call it)
fn not_mail() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "backup.pst",
            b"!BDN\x0e\x00\x00\x00\x00\x00".to_vec(),
            "PST",
        ),
        (
            "one.msg",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00".to_vec(),
            ".msg",
        ),
        ("letter.pdf", b"%PDF-1.7\n%\xe2\xe3".to_vec(), "PDF"),
        ("empty.mbox", Vec::new(), "empty"),
    ]
}

#[test]
fn named_inputs_that_are_not_mail_are_errors_after_the_rest_is_scanned() {
    let d = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (name, bytes, _) in not_mail() {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        args.push(p);
    }
    let good = d.path().join("good.eml");
    std::fs::write(&good, exposing("a@x", "r")).unwrap();
    args.push(good);
    let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
    let o = scan(&args, &d.path().join("out"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for (name, _, what) in not_mail() {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not named: {err}"));
        assert!(line.contains(what), "{line}");
    }
    // The good input was still scanned and reported.
    assert_eq!(csv_rows(&d.path().join("out/messages.csv")).len(), 1);
    assert_eq!(
        summary(&d.path().join("out"))["errors"]
            .as_array()
            .unwrap()
            .len(),
        not_mail().len()
    );
}

#[test]
fn non_mail_files_in_a_tree_are_skipped_and_counted_by_type() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for (name, bytes, _) in not_mail() {
        std::fs::write(tree.join(name), bytes).unwrap();
    }
    std::fs::write(tree.join("good.eml"), exposing("a@x", "r")).unwrap();
    let o = scan(&[tree.to_str().unwrap()], &d.path().join("out"));
    // A PST that cannot be read is mail that was not read: an error naming it (exit 2), after
    // the rest of the tree is scanned; the other files are skipped and counted by type.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("backup.pst") && err.contains("damaged PST"),
        "{err}"
    );
    assert_eq!(csv_rows(&d.path().join("out/messages.csv")).len(), 1);
    let s = summary(&d.path().join("out"));
    let by_type = &s["counts"]["files_skipped_by_type"];
    assert!(by_type.get("PST").is_none(), "{by_type}");
    for k in ["MSG/OLE", "PDF", "empty"] {
        assert_eq!(by_type[k], 1, "{k}: {by_type}");
    }
    assert_eq!(s["counts"]["files_skipped_not_message"], 3);
    assert!(
        stdout(&o).contains("3 file(s) were not mail and were skipped (1 MSG/OLE, 1 PDF, 1 empty)"),
        "{}",
        stdout(&o)
    );
    let locs = s["warnings"]["file-not-mail-skipped"]["locations"].to_string();
    assert!(locs.contains("letter.pdf (PDF)"), "{locs}");
}

#[test]
fn content_length_pointing_past_a_whole_message_does_not_hide_it() {
    let d = tempfile::tempdir().unwrap();
    let victim = exposing("victim@x", "v");
    let first_body = "Thanks.\n";
    let mut m = format!(
        "From me@police.example Mon Jan  1 00:00:00 2024\nFrom: me@police.example\nTo: one@example.org\nMessage-ID: <first@x>\nDate: {DATE}\nContent-Length: {}\n\n{first_body}",
        first_body.len() + "From me@police.example Mon Jan  1 00:00:00 2024\n".len() + victim.len() + 1
    );
    m.push_str(&format!(
        "From me@police.example Mon Jan  1 00:00:00 2024\n{victim}\n"
    ));
    m.push_str(&format!(
        "From me@police.example Mon Jan  1 00:00:00 2024\n{}\n",
        message(
            "me@police.example",
            &people("z", 1),
            "",
            "Last",
            "last@x",
            DATE
        )
    ));
    let p = d.path().join("cl.mbox");
    std::fs::write(&p, m).unwrap();
    let o = scan(&[p.to_str().unwrap()], &d.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&d.path().join("out/messages.csv"));
    assert_eq!(rows.len(), 1, "the exposing message is found");
    assert_eq!(rows[0]["message_id"], "victim@x");
    let s = summary(&d.path().join("out"));
    assert_eq!(s["counts"]["messages_read"], 3);
    assert_eq!(s["warnings"]["content-length-disagrees"]["count"], 1);
}

#[test]
fn a_bom_before_the_first_header_is_skipped() {
    let d = tempfile::tempdir().unwrap();
    // The To field comes first, right after the BOM.
    let to = people("b", 12).join(", ");
    let file = format!("\u{feff}To: {to}\r\nFrom: me@police.example\r\nSubject: BOM\r\nMessage-ID: <bom@x>\r\nDate: {DATE}\r\n\r\nHi\r\n");
    std::fs::write(d.path().join("bom.eml"), &file).unwrap();
    let mbox = format!(
        "From me@x Mon Jan  1 00:00:00 2024\n{}\n",
        file.replace("bom@x", "bom2@x")
            .replace("Subject: BOM", "Subject: BOM 2")
            .replace("\r\n", "\n")
    );
    std::fs::write(d.path().join("bom.mbox"), mbox).unwrap();
    let o = scan(
        &[
            d.path().join("bom.eml").to_str().unwrap(),
            d.path().join("bom.mbox").to_str().unwrap(),
        ],
        &d.path().join("out"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&d.path().join("out/messages.csv"));
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["to"] == "12" && r["exposed"] == "12"));
}

#[test]
fn fifos_are_refused_on_the_command_line_and_skipped_in_a_tree() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("tree/pipe.mbox");
    std::fs::create_dir(d.path().join("tree")).unwrap();
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::fs::write(d.path().join("tree/good.eml"), exposing("a@x", "r")).unwrap();
    // Nobody ever writes to the FIFO: reading it would block forever.
    let o = scan(&[fifo.to_str().unwrap()], &d.path().join("o1"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("named pipe (FIFO)"), "{}", stderr(&o));
    let o = scan(
        &[d.path().join("tree").to_str().unwrap()],
        &d.path().join("o2"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("o2"));
    assert_eq!(s["warnings"]["not-a-regular-file"]["count"], 1);
    assert_eq!(csv_rows(&d.path().join("o2/messages.csv")).len(), 1);
}

/// Feed `bytes_of` to `bccaudit scan -` through a pipe; (output, peak RSS in KB).
fn scan_stdin(total: u64, fill: fn(u64, &mut Vec<u8>)) -> (std::process::Output, u64) {
    let d = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.args(["scan", "-", "-q", "--out"])
        .arg(d.path().join("out"))
        .stdin(Stdio::piped());
    // run_measured sets stdin to null; spawn by hand with a writer thread instead.
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut block = Vec::with_capacity(1 << 20);
        let mut sent = 0;
        while sent < total {
            block.clear();
            fill(sent, &mut block);
            if w.write_all(&block).is_err() {
                break;
            }
            sent += block.len() as u64;
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    // Peak RSS of the largest child waited for so far: this test binary's children are all
    // bccaudit runs on small inputs except these.
    // SAFETY: getrusage with a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    (o, ru.ru_maxrss as u64)
}

#[test]
fn standard_input_is_read_in_bounded_memory() {
    // 400 MB of zeros: junk, never held whole.
    let (o, rss) = scan_stdin(400 << 20, |_, b| b.resize(1 << 20, 0));
    assert_eq!(o.status.code(), Some(2), "no message in it: {}", stderr(&o));
    assert!(stderr(&o).contains("no message found"), "{}", stderr(&o));
    assert!(rss < 200 * 1024, "peak RSS {rss} KB for 400 MB of junk");
    eprintln!("peak RSS {rss} KB for 400 MB of junk");
    // One 300 MB message: its header is read, its body streams through the hash.
    let (o, rss) = scan_stdin(300 << 20, |sent, b| {
        if sent == 0 {
            b.extend_from_slice(
                b"From me@x Mon Jan  1 00:00:00 2024\nFrom: me@police.example\nSubject: huge\n",
            );
            b.extend_from_slice(format!("To: {}\n\n", people("h", 12).join(", ")).as_bytes());
        }
        while b.len() < 1 << 20 {
            b.extend_from_slice(
                b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            );
        }
    });
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(rss < 200 * 1024, "peak RSS {rss} KB for a 300 MB message");
}

#[test]
fn file_names_that_are_not_utf8_stay_distinct() {
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    for (raw, id) in [
        (&b"sent\xff.eml"[..], "one@x"),
        (&b"sent\xfe.eml"[..], "two@x"),
    ] {
        let name = std::ffi::OsStr::from_bytes(raw);
        std::fs::write(tree.join(name), exposing(id, id)).unwrap();
    }
    let o = scan(&[tree.to_str().unwrap()], &d.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut sources: Vec<String> = csv_rows(&d.path().join("out/messages.csv"))
        .iter()
        .map(|r| r["sources"].clone())
        .collect();
    sources.sort();
    assert!(sources[0].ends_with("sent\\xFE.eml"), "{sources:?}");
    assert!(sources[1].ends_with("sent\\xFF.eml"), "{sources:?}");
}
