//! `--notices` on the built binary over samples/: one draft per affected external person,
//! addressed to that person alone, naming no one else.

mod common;
use common::*;

use mailparse::MailHeaderMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn scan_with(extra: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let d = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bccaudit"))
        .current_dir(repo())
        .args([
            "scan",
            "samples",
            "--internal-domain",
            "police.example",
            "-q",
        ])
        .args(extra)
        .arg("--out")
        .arg(d.path().join("r"))
        .output()
        .unwrap();
    (d, o)
}

const NOTICES: &[&str] = &[
    "--notices",
    "--notice-from",
    "dpo@police.example",
    "--org",
    "Example Police",
];

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn one_draft_per_affected_external_person_to_them_alone() {
    let (d, o) = scan_with(NOTICES);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = d.path().join("r");
    let affected = csv_rows(&r.join("affected.csv"));
    let external: Vec<&Row> = affected
        .iter()
        .filter(|a| a["internal"] == "false")
        .collect();
    let list = csv_rows(&r.join("notices.csv"));
    assert_eq!(list.len(), external.len());
    let drafts: Vec<_> = std::fs::read_dir(r.join("notices"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(drafts.len(), external.len());
    assert_eq!(mode(&r.join("notices")), 0o700);
    let mbox = std::fs::read_to_string(r.join("notices.mbox")).unwrap();
    assert_eq!(
        mbox.matches("\r\nFrom dpo@police.example ").count() + 1,
        external.len(),
        "every draft in notices.mbox"
    );
    // Full names that belong to one person only (several residents are "Alex Brown").
    let mut owners: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for a in &affected {
        if a["name"].contains(' ') {
            owners.entry(&a["name"]).or_default().push(&a["address"]);
        }
    }
    for (row, person) in list.iter().zip(&external) {
        assert_eq!(row["address"], person["address"]);
        let file = &row["draft"];
        assert!(!file.contains('@') && !file.contains(&person["address"][..5]));
        let path = r.join(file);
        assert_eq!(mode(&path), 0o600, "{file}");
        let raw = std::fs::read(&path).unwrap();
        let m = mailparse::parse_mail(&raw).unwrap();
        let to = mailparse::addrparse_header(m.headers.get_first_header("To").unwrap()).unwrap();
        assert_eq!(to.len(), 1, "{file}");
        match &to[0] {
            mailparse::MailAddr::Single(s) => assert_eq!(s.addr, person["address"]),
            g => panic!("{file}: a group {g:?}"),
        }
        assert_eq!(m.headers.get_all_values("To").len(), 1);
        for h in ["Cc", "Bcc", "Resent-To", "Reply-To"] {
            assert!(m.headers.get_first_value(h).is_none(), "{file} has {h}");
        }
        assert_eq!(m.headers.get_first_value("X-Unsent").unwrap(), "1");
        assert!(m.headers.get_first_value("Message-ID").is_some());
        assert!(m.headers.get_first_value("Date").is_some());
        let body = m.get_body().unwrap();
        let text = format!("{}\n{body}", String::from_utf8_lossy(&raw));
        for other in &affected {
            if other["address"] != person["address"] {
                assert!(
                    !text.contains(&other["address"]),
                    "{file} names {}",
                    other["address"]
                );
            }
        }
        for (name, who) in &owners {
            if !who.contains(&person["address"].as_str()) {
                assert!(!contains_name(&body, name), "{file} names {name}");
            }
        }
        assert!(body.contains("Example Police"));
        assert!(mbox.contains(&m.headers.get_first_value("Message-ID").unwrap()));
    }
    // The sensitive-context incident is explained without naming its subject.
    let victims = list
        .iter()
        .find(|r| r["incidents"] == "INC-0004")
        .expect("a member of the support group");
    let raw = std::fs::read(r.join(&victims["draft"])).unwrap();
    let body = mailparse::parse_mail(&raw).unwrap().get_body().unwrap();
    assert!(body.contains("may be able to guess something"), "{body}");
    assert!(!body.contains("Peer support"), "{body}");
}

#[test]
fn internal_people_only_when_asked_and_subjects_only_when_asked() {
    let mut args = NOTICES.to_vec();
    args.extend(["--notices-include-internal", "--notice-subjects"]);
    let (d, o) = scan_with(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = d.path().join("r");
    let affected = csv_rows(&r.join("affected.csv"));
    assert_eq!(csv_rows(&r.join("notices.csv")).len(), affected.len());
    let row = csv_rows(&r.join("notices.csv"))
        .into_iter()
        .find(|r| r["incidents"] == "INC-0004")
        .unwrap();
    let raw = std::fs::read(r.join(&row["draft"])).unwrap();
    let body = mailparse::parse_mail(&raw).unwrap().get_body().unwrap();
    assert!(
        body.contains("(\"Peer support group: next meeting\")"),
        "{body}"
    );
}

#[test]
fn a_custom_template_renders_and_a_broken_one_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("notice.txt");
    std::fs::write(
        &t,
        "Subject: Für {{ name or address }}\nHello {{ address }}: {{ incidents|length }} incident(s), first {{ incidents[0].id }}.\n",
    )
    .unwrap();
    let mut args = NOTICES.to_vec();
    args.extend(["--notice-template", t.to_str().unwrap()]);
    let (r, o) = scan_with(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let row = &csv_rows(&r.path().join("r/notices.csv"))[0];
    let raw = std::fs::read(r.path().join("r").join(&row["draft"])).unwrap();
    let m = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        m.headers.get_first_value("Subject").unwrap(),
        format!("Für {}", row["name"])
    );
    assert_eq!(
        m.get_body().unwrap().trim_end(),
        format!(
            "Hello {}: 1 incident(s), first {}.",
            row["address"], row["incidents"]
        )
    );

    for broken in [
        "Subject: x\n{% for i in incidents %}no end",
        "Subject: x\n{{ no_such_variable }}",
    ] {
        std::fs::write(&t, broken).unwrap();
        let (r, o) = scan_with(&args);
        assert_eq!(o.status.code(), Some(2), "{broken}");
        let e = stderr(&o);
        assert!(e.contains("--notice-template"), "{e}");
        assert!(!r.path().join("r").exists(), "something was written");
    }
    // --notices needs --notice-from.
    let (r, o) = scan_with(&["--notices"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--notice-from"));
    assert!(!r.path().join("r").exists());
}

/// `name` in `text`, not as part of a longer word ("Member 1" is not in "Member 10").
fn contains_name(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}
