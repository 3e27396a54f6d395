//! Outlook PST inputs on the built binary, written by the test PST writer: recipient semantics
//! from the recipient table, locations, a 5,000-row table, names-only messages, PSTs inside a
//! tree and a zip, damaged files; and a cross-check of the writer with Debian's `readpst` and
//! `pffexport` (mandatory with `BCCAUDIT_REQUIRE_PST_TOOLS=1`, as `.ci/run` sets).

mod common;
use common::msg_writer::{Msg, Recip};
use common::pst_writer::PstWriter;
use common::*;
use std::path::Path;

const SENT: i64 = 1_740_992_400; // 2025-03-03T09:00:00Z

fn residents(n: usize, kind: u32) -> Vec<Recip> {
    (0..n)
        .map(|i| {
            let name = if i == 0 {
                "Zoë Brown".to_string()
            } else {
                format!("Resident {i}")
            };
            Recip::smtp(kind, &name, &format!("resident{i}@example.org"))
        })
        .collect()
}

fn msg(subject: &str, id: &str, recipients: Vec<Recip>) -> Msg {
    Msg {
        subject: subject.into(),
        message_id: Some(format!("<{id}@police.example>")),
        sent: Some(SENT),
        sender_name: "Community Engagement".into(),
        sender_smtp: "engagement@police.example".into(),
        recipients,
        body: "Please fill in the survey.".into(),
        ..Msg::default()
    }
}

/// 12 residents and a distribution list in To; a colleague and an Exchange-only colleague in
/// Cc; 5 people in Bcc.
fn survey() -> Msg {
    let mut r = residents(12, 1);
    let mut list = Recip::smtp(1, "All residents", "residents-list@example.org");
    list.object_type = 8;
    r.push(list);
    r.push(Recip::smtp(2, "PC Lee Wood", "lee.wood@police.example"));
    r.push(Recip {
        kind: 2,
        name: "J Doe".into(),
        smtp: None,
        email: "/O=POLICE/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=JDOE".into(),
        addrtype: "EX",
        object_type: 6,
    });
    for i in 0..5 {
        r.push(Recip::smtp(
            3,
            &format!("Quiet {i}"),
            &format!("quiet{i}@example.org"),
        ));
    }
    msg("Residents survey", "survey", r)
}

/// The police force's mailbox: Sent Items (the survey, a names-only message, one to a single
/// person) and an Inbox with a received copy of the survey.
fn write_mailbox(path: &Path) {
    let (mut w, top) = PstWriter::create(path, "Engagement mailbox").unwrap();
    let sent = w.folder(top, "Sent Items");
    let inbox = w.folder(top, "Inbox");
    w.message(sent, &survey()).unwrap();
    let names: Vec<String> = (0..15).map(|i| format!("Old Resident {i}")).collect();
    w.message(
        sent,
        &Msg {
            display_to: Some(names.join("; ")),
            no_recipient_table: true,
            ..msg("Old newsletter", "old", Vec::new())
        },
    )
    .unwrap();
    w.message(
        sent,
        &msg(
            "One person",
            "one",
            vec![Recip::smtp(1, "A", "a@example.org")],
        ),
    )
    .unwrap();
    w.message(inbox, &survey()).unwrap();
    w.finish().unwrap();
}

fn by_subject<'a>(rows: &'a [Row], subject: &str) -> &'a Row {
    rows.iter()
        .find(|r| r["subject"] == subject)
        .unwrap_or_else(|| panic!("no message {subject:?} in {rows:?}"))
}

#[test]
fn pst_recipients_come_from_the_recipient_table() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("engagement.pst");
    write_mailbox(&pst);
    let out = d.path().join("r");
    let o = scan(
        &[
            pst.to_str().unwrap(),
            "--internal-domain",
            "police.example",
            "--evidence",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Evidence: the MIME rebuilt from the properties and the raw recipient rows, named by the
    // SHA-256 of the rebuilt bytes (the first hash in messages.csv).
    let survey_sha = by_subject(&rows, "Residents survey")["sha256"]
        .split(" | ")
        .next()
        .unwrap()
        .to_string();
    let eml = std::fs::read_to_string(out.join(format!("evidence/{survey_sha}.eml"))).unwrap();
    assert!(
        eml.starts_with("X-Bccaudit-Reconstructed-From: ") && eml.contains("engagement.pst#/"),
        "{eml}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("evidence/{survey_sha}.json"))).unwrap(),
    )
    .unwrap();
    let kinds: Vec<u64> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_u64().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|&&k| k == 3).count(), 5, "{json}");
    assert_eq!(kinds.len(), 20);
    let m = by_subject(&rows, "Residents survey");
    let got: Vec<&str> = ["to", "cc", "bcc", "exposed", "external", "audience", "from"]
        .iter()
        .map(|c| m[*c].as_str())
        .collect();
    assert_eq!(
        got,
        [
            "13",
            "2",
            "5",
            "15",
            "13",
            "20",
            "engagement@police.example"
        ]
    );
    // The sent copy and the received copy are one message with both locations.
    let sources: Vec<&str> = m["sources"].split(" | ").collect();
    assert_eq!(sources.len(), 2, "{}", m["sources"]);
    let sent = format!(
        "{}#/Top of Outlook data file/Sent Items;nid=0x",
        pst.display()
    );
    let inbox = format!("{}#/Top of Outlook data file/Inbox;nid=0x", pst.display());
    assert!(sources.iter().any(|s| s.starts_with(&sent)), "{sources:?}");
    assert!(sources.iter().any(|s| s.starts_with(&inbox)), "{sources:?}");
    assert_eq!(m["date"], "2025-03-03T09:00:00Z");
    assert_outlook_survey_people(&out);
    // Names only: 15 visible names, reported for the DPO to look at.
    let old = by_subject(&rows, "Old newsletter");
    assert_eq!((old["to"].as_str(), old["external"].as_str()), ("15", "15"));
    let s = summary(&out);
    for w in [
        "names-only",
        "exchange-address-without-smtp",
        "distribution-list-recipient",
    ] {
        assert!(s["warnings"][w]["count"].as_u64().unwrap() >= 1, "{w}: {s}");
    }
    let input = &s["inputs"][0];
    assert_eq!(input["kind"], "pst");
    assert_eq!(input["detail"]["store_name"], "Engagement mailbox");
    assert_eq!(input["detail"]["messages"], 4);
    assert_eq!(input["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_pst_and_an_mbox_of_the_same_mail_give_the_same_findings() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("sent.pst");
    let (mut w, top) = PstWriter::create(&pst, "Sent").unwrap();
    let sent = w.folder(top, "Sent Items");
    let m = msg("Survey", "same", residents(12, 1));
    w.message(sent, &m).unwrap();
    w.finish().unwrap();
    let to: Vec<String> = residents(12, 1)
        .iter()
        .map(|r| format!("\"{}\" <{}>", r.name, r.email))
        .collect();
    let mbox = d.path().join("sent.mbox");
    std::fs::write(
        &mbox,
        common::mbox(&[message(
            "engagement@police.example",
            &to,
            "",
            "Survey",
            "same@police.example",
            "Mon, 03 Mar 2025 09:00:00 +0000",
        )]),
    )
    .unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    assert_eq!(scan(&[pst.to_str().unwrap()], &a).status.code(), Some(0));
    assert_eq!(scan(&[mbox.to_str().unwrap()], &b).status.code(), Some(0));
    for f in ["affected.csv", "exposures.csv"] {
        assert_eq!(
            std::fs::read_to_string(a.join(f)).unwrap(),
            std::fs::read_to_string(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // Both together: one message with two locations.
    let c = d.path().join("c");
    let o = scan(&[pst.to_str().unwrap(), mbox.to_str().unwrap()], &c);
    assert_eq!(o.status.code(), Some(0));
    let rows = csv_rows(&c.join("messages.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sources"].split(" | ").count(), 2);
}

#[test]
fn a_recipient_table_of_5000_rows() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("big.pst");
    let (mut w, top) = PstWriter::create(&pst, "Big").unwrap();
    let sent = w.folder(top, "Sent Items");
    w.message(sent, &msg("Everyone", "all", residents(5000, 1)))
        .unwrap();
    w.finish().unwrap();
    let out = d.path().join("r");
    let o = scan(&[pst.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    assert_eq!(rows[0]["exposed"], "5000");
    assert_eq!(csv_rows(&out.join("affected.csv")).len(), 5000);
}

#[test]
fn psts_inside_a_tree_and_a_zip_are_read() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("export");
    std::fs::create_dir(&tree).unwrap();
    // No .pst name: recognised by content.
    write_mailbox(&tree.join("mailbox-backup"));
    let pst_bytes = std::fs::read(tree.join("mailbox-backup")).unwrap();
    let zip_path = d.path().join("export.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    z.start_file("mail/engagement.pst", o).unwrap();
    z.write_all(&pst_bytes).unwrap();
    let to: Vec<String> = (0..12).map(|i| format!("m{i}@example.org")).collect();
    z.start_file("mail/other.mbox", o).unwrap();
    z.write_all(
        common::mbox(&[message(
            "x@police.example",
            &to,
            "",
            "From the mbox",
            "mbox@police.example",
            "Mon, 03 Mar 2025 09:00:00 +0000",
        )])
        .as_bytes(),
    )
    .unwrap();
    z.finish().unwrap();
    let out = d.path().join("r");
    let o = scan(&[tree.to_str().unwrap(), zip_path.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    let survey = by_subject(&rows, "Residents survey");
    let sources = survey["sources"].as_str();
    assert!(
        sources.contains("export/mailbox-backup#/Top of Outlook data file/Sent Items;nid=0x"),
        "{sources}"
    );
    assert!(
        sources.contains(
            "export.zip!/mail/engagement.pst#/Top of Outlook data file/Sent Items;nid=0x"
        ),
        "{sources}"
    );
    assert_eq!(sources.split(" | ").count(), 4, "{sources}");
    by_subject(&rows, "From the mbox");
}

#[test]
fn damaged_psts_are_warned_about_and_the_rest_is_read() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("damaged.pst");
    let (mut w, top) = PstWriter::create(&pst, "Damaged").unwrap();
    let sent = w.folder(top, "Sent Items");
    for (i, subject) in ["First survey", "Second survey", "Third survey"]
        .iter()
        .enumerate()
    {
        w.message(sent, &msg(subject, &format!("m{i}"), residents(12, 1)))
            .unwrap();
    }
    w.finish().unwrap();
    // Break the heap of the second message: the block holding its subject loses its heap
    // signature.
    let mut bytes = std::fs::read(&pst).unwrap();
    let needle: Vec<u8> = "Second survey"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap();
    let start = (0..=at)
        .rev()
        .find(|&p| p % 64 == 0 && bytes[p + 2] == 0xEC && bytes[p + 3] == 0xBC)
        .unwrap();
    bytes[start + 2] = 0;
    std::fs::write(&pst, &bytes).unwrap();
    let out = d.path().join("r");
    let o = scan(&[pst.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    let subjects: Vec<&str> = rows.iter().map(|r| r["subject"].as_str()).collect();
    assert_eq!(subjects, ["First survey", "Third survey"]);
    let s = summary(&out);
    let w = &s["warnings"]["pst-message-unreadable"];
    assert_eq!(w["count"], 1, "{s}");
    assert!(
        w["locations"][0]
            .as_str()
            .unwrap()
            .contains("damaged.pst#/Top of Outlook data file/Sent Items;nid=0x"),
        "{w}"
    );

    // Truncated: the B-trees at the end are gone. A clear error, exit 2, no panic.
    let cut = d.path().join("truncated.pst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = scan(&[cut.to_str().unwrap()], &d.path().join("t"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("truncated.pst") && e.contains("damaged PST"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn a_4k_page_ost_is_an_error_naming_its_version() {
    let d = tempfile::tempdir().unwrap();
    let ost = d.path().join("outlook.ost");
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"!BDN");
    h[8..10].copy_from_slice(b"SO");
    h[10] = 36;
    std::fs::write(&ost, &h).unwrap();
    let o = scan(&[ost.to_str().unwrap()], &d.path().join("r"));
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("OST") && e.contains("version 36") && e.contains("pffexport"),
        "{e}"
    );
}

fn tool(name: &str) -> bool {
    let found = std::process::Command::new(name).arg("-V").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("BCCAUDIT_REQUIRE_PST_TOOLS").is_none(),
            "{name} is required (BCCAUDIT_REQUIRE_PST_TOOLS is set)"
        );
        eprintln!(
            "notice: {name} not installed (Debian: pst-utils / pff-tools); cross-check skipped"
        );
    }
    found
}

/// The writer's files read by independent readers: the same messages, subjects and
/// recipient types as bccaudit reads.
#[test]
fn readpst_and_pffexport_read_the_same_messages() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("engagement.pst");
    write_mailbox(&pst);
    if tool("readpst") {
        let o = d.path().join("readpst");
        std::fs::create_dir(&o).unwrap();
        let r = std::process::Command::new("readpst")
            .args(["-D", "-q", "-o"])
            .arg(&o)
            .arg(&pst)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let sent = std::fs::read_to_string(o.join("Sent Items.mbox")).unwrap();
        let subjects: Vec<&str> = sent
            .lines()
            .filter_map(|l| l.strip_prefix("Subject: "))
            .collect();
        assert_eq!(
            subjects,
            ["Residents survey", "Old newsletter", "One person"]
        );
        // Bcc kept apart from the visible list.
        let bcc: Vec<&str> = sent
            .lines()
            .filter_map(|l| l.strip_prefix("X-libpst-forensic-bcc: "))
            .collect();
        assert_eq!(bcc, ["Quiet 0; Quiet 1; Quiet 2; Quiet 3; Quiet 4"]);
        let inbox = std::fs::read_to_string(o.join("Inbox.mbox")).unwrap();
        assert_eq!(inbox.matches("\nSubject: Residents survey\n").count(), 1);
    }
    if tool("pffexport") {
        let target = d.path().join("pff");
        let r = std::process::Command::new("pffexport")
            .arg("-q")
            .arg("-t")
            .arg(&target)
            .arg(&pst)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        // Every exported message: its subject and its recipients' types.
        let mut found = Vec::new();
        let mut stack = vec![d.path().join("pff.export")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().unwrap() == "Recipients.txt" {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let head =
                        std::fs::read_to_string(p.with_file_name("OutlookHeaders.txt")).unwrap();
                    let subject = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Subject:"))
                        .unwrap()
                        .trim()
                        .to_string();
                    let count = |t: &str| {
                        text.lines()
                            .filter(|l| l.strip_prefix("Recipient type:").map(str::trim) == Some(t))
                            .count()
                    };
                    found.push((subject, count("To"), count("CC"), count("BCC")));
                }
            }
        }
        found.sort();
        assert_eq!(
            found,
            [
                ("One person".to_string(), 1, 0, 0),
                ("Residents survey".to_string(), 13, 2, 5),
                ("Residents survey".to_string(), 13, 2, 5),
            ],
            "pffexport: {found:?}"
        );
    }
}

#[test]
fn folder_picks_the_pst_folders_read() {
    let d = tempfile::tempdir().unwrap();
    let pst = d.path().join("engagement.pst");
    write_mailbox(&pst);
    let out = d.path().join("r");
    let o = scan(&[pst.to_str().unwrap(), "--folder", "Sent Items"], &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    let survey = by_subject(&rows, "Residents survey");
    assert!(
        !survey["sources"].contains("Inbox"),
        "{}",
        survey["sources"]
    );
    let folders = &summary(&out)["inputs"][0]["detail"]["folders"];
    assert_eq!(folders.as_array().unwrap().len(), 1, "{folders}");
}
