//! Outlook PST inputs on the built binary: written by the test PST writer, read by bccaudit
//! (and, where installed, cross-checked with Debian's readpst and pffexport).

mod common;
use common::msg_writer::{Msg, Recip};
use common::pst_writer::PstWriter;
use common::*;

const SENT: i64 = 1_740_992_400; // 2025-03-03T09:00:00Z

fn mass(n: usize, subject: &str) -> Msg {
    let mut r: Vec<Recip> = (0..n)
        .map(|i| Recip::smtp(1, &format!("Resident {i}"), &format!("resident{i}@example.org")))
        .collect();
    r.push(Recip::smtp(3, "Quiet", "quiet@example.org"));
    Msg {
        subject: subject.into(),
        message_id: Some(format!("<{}@police.example>", subject.len())),
        sent: Some(SENT),
        sender_name: "PC Lee Wood".into(),
        sender_smtp: "lee.wood@police.example".into(),
        recipients: r,
        body: "Please fill in the survey.".into(),
        ..Msg::default()
    }
}

#[test]
fn probe_pst_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("police-sent.pst");
    let (mut w, top) = PstWriter::create(&p, "Police Sent").unwrap();
    let sent = w.folder(top, "Sent Items");
    w.message(sent, &mass(12, "Survey")).unwrap();
    w.finish().unwrap();
    let out = dir.path().join("report");
    let r = scan(&[p.to_str().unwrap()], &out);
    eprintln!("{}\n{}", stdout(&r), stderr(&r));
    std::fs::copy(&p, "/tmp/probe.pst").unwrap();
    eprintln!("{}", std::fs::read_to_string(out.join("messages.csv")).unwrap_or_default());
}
