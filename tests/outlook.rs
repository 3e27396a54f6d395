//! Outlook `.msg` inputs on the built binary: recipient semantics from the recipient table,
//! the same findings as the same mail in mbox form, non-mail items and damaged files.

mod common;
use common::msg_writer::{self, Msg, Recip};
use common::*;

const SENT: i64 = 1_740_992_400; // 2025-03-03T09:00:00Z

fn residents(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let name = if i == 0 {
                "Zoë Brown".to_string()
            } else {
                format!("Resident {i}")
            };
            (name, format!("resident{i}@example.org"))
        })
        .collect()
}

/// 12 residents and a distribution list in To; 2 colleagues and an Exchange-only colleague in
/// Cc; 5 people in Bcc.
fn survey(ansi: bool) -> Msg {
    let mut r: Vec<Recip> = residents(12)
        .iter()
        .map(|(n, a)| {
            Recip::smtp(
                1,
                if ansi && n.contains('ë') {
                    "Zoe Brown"
                } else {
                    n
                },
                a,
            )
        })
        .collect();
    let mut list = Recip::smtp(1, "All residents", "residents-list@example.org");
    list.object_type = 8;
    r.push(list);
    r.push(Recip::smtp(2, "PC Lee Wood", "lee.wood@police.example"));
    r.push(Recip::smtp(2, "Dana Harris", "dana.harris@police.example"));
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
    Msg {
        subject: "Community safety survey".into(),
        message_id: Some("<survey@police.example>".into()),
        sent: Some(SENT),
        sender_name: "Community Engagement".into(),
        sender_smtp: "engagement@police.example".into(),
        recipients: r,
        body: "Please answer our survey.".into(),
        attachments: vec!["survey.pdf".into()],
        ansi,
        ..Msg::default()
    }
}

/// The same message as an RFC 5322 file (what an mbox export would hold).
fn survey_eml() -> String {
    let to: Vec<String> = residents(12)
        .iter()
        .map(|(n, a)| {
            if n.contains('ë') {
                format!("=?UTF-8?Q?Zo=C3=AB_Brown?= <{a}>")
            } else {
                format!("{n} <{a}>")
            }
        })
        .chain(["All residents <residents-list@example.org>".to_string()])
        .collect();
    format!(
        "From: Community Engagement <engagement@police.example>\r\nTo: {}\r\nCc: PC Lee Wood <lee.wood@police.example>, Dana Harris <dana.harris@police.example>\r\nSubject: Community safety survey\r\nMessage-ID: <survey@police.example>\r\nDate: Mon, 03 Mar 2025 09:00:00 +0000\r\n\r\nPlease answer our survey.\r\n",
        to.join(",\r\n ")
    )
}

#[test]
fn recipient_table_decides_to_cc_bcc_and_exchange_addresses_are_internal() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("export");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("survey.msg"), msg_writer::write(&survey(false))).unwrap();
    let o = scan(
        &[
            tree.to_str().unwrap(),
            "--internal-domain",
            "police.example",
        ],
        &d.path().join("r"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = &csv_rows(&d.path().join("r/messages.csv"))[0];
    let got: Vec<&str> = ["to", "cc", "bcc", "exposed", "external", "audience", "from"]
        .iter()
        .map(|c| m[*c].as_str())
        .collect();
    assert_eq!(
        got,
        [
            "13",
            "3",
            "5",
            "16",
            "13",
            "21",
            "engagement@police.example"
        ]
    );
    assert!(m["sources"].ends_with("export/survey.msg"));
    assert_eq!(m["date"], "2025-03-03T09:00:00Z");
    assert_eq!(m["message_id"], "survey@police.example");
    assert_outlook_survey_people(&d.path().join("r"));
    let s = summary(&d.path().join("r"));
    assert_eq!(s["warnings"]["exchange-address-without-smtp"]["count"], 1);
}

#[test]
fn msg_and_mbox_copies_of_one_message_are_one_message() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("export");
    std::fs::create_dir(&tree).unwrap();
    // Without the Exchange-only colleague (an mbox export would show an SMTP address).
    let mut m = survey(true);
    m.recipients.retain(|r| r.smtp.is_some());
    std::fs::write(tree.join("survey.msg"), msg_writer::write(&m)).unwrap();
    std::fs::write(tree.join("survey.eml"), survey_eml()).unwrap();
    let o = scan(
        &[
            tree.to_str().unwrap(),
            "--internal-domain",
            "police.example",
        ],
        &d.path().join("r"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let msgs = csv_rows(&d.path().join("r/messages.csv"));
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0]["sources"].split(" | ").count(), 2);
    assert_eq!(csv_rows(&d.path().join("r/affected.csv")).len(), 15);
}

#[test]
fn non_mail_items_are_skipped_by_class_and_damaged_files_do_not_stop_the_scan() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("export");
    std::fs::create_dir(&tree).unwrap();
    let good = msg_writer::write(&survey(false));
    std::fs::write(tree.join("survey.msg"), &good).unwrap();
    let contact = msg_writer::write(&Msg {
        class: "IPM.Contact",
        subject: "Sam Example".into(),
        ..Msg::default()
    });
    std::fs::write(tree.join("contact.msg"), &contact).unwrap();
    std::fs::write(tree.join("cut.msg"), &good[..good.len() / 3]).unwrap();
    let o = scan(&[tree.to_str().unwrap()], &d.path().join("r"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert_eq!(csv_rows(&d.path().join("r/messages.csv")).len(), 1);
    let s = summary(&d.path().join("r"));
    assert_eq!(s["counts"]["files_skipped_by_type"]["Outlook contact"], 1);
    assert_eq!(s["warnings"]["outlook-item-not-mail"]["count"], 1);
    let cut = s["warnings"]["outlook-msg-unreadable"]["locations"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{s}"));
    assert!(cut.contains("cut.msg"), "{cut}");

    // Named on the command line, a contact is an error that says what it is.
    let o = scan(
        &[tree.join("contact.msg").to_str().unwrap()],
        &d.path().join("r2"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Outlook contact"), "{}", stderr(&o));
    // A single .msg named on the command line is read.
    let o = scan(
        &[tree.join("survey.msg").to_str().unwrap()],
        &d.path().join("r3"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(csv_rows(&d.path().join("r3/messages.csv")).len(), 1);
}

#[test]
fn sensitive_context_in_an_outlook_attachment_name() {
    let d = tempfile::tempdir().unwrap();
    let mut m = survey(false);
    m.attachments = vec!["hiv-support-group-members.xlsx".into()];
    let p = d.path().join("m.msg");
    std::fs::write(&p, msg_writer::write(&m)).unwrap();
    let o = scan(&[p.to_str().unwrap()], &d.path().join("r"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&d.path().join("r/sensitive.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["category"].as_str(), rows[0]["where"].as_str()),
        ("health", "attachment-name")
    );
}
