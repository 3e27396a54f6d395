//! The shipped samples: a scan must find exactly the designed incidents and people.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

fn scan_samples(extra: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let d = tempfile::tempdir().unwrap();
    let samples = repo().join("samples");
    let mut args = vec![
        samples.to_str().unwrap(),
        "--internal-domain",
        "police.example",
    ];
    args.extend_from_slice(extra);
    let o = scan(&args, &d.path().join("report"));
    (d, o)
}

#[test]
fn samples_incidents_are_exactly_the_designed_ones() {
    let (d, o) = scan_samples(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = d.path().join("report");
    let inc = csv_rows(&out.join("incidents.csv"));
    let got: Vec<(&str, &str, &str, &str, &str, &str, &str)> = inc
        .iter()
        .map(|r| {
            (
                r["incident_id"].as_str(),
                r["first_sent"].as_str(),
                r["messages"].as_str(),
                r["exposed"].as_str(),
                r["external"].as_str(),
                r["audience"].as_str(),
                r["reply_all"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "INC-0001",
                "2025-03-03T09:00:00Z",
                "2",
                "419",
                "418",
                "419",
                "1"
            ),
            (
                "INC-0002",
                "2025-04-10T15:45:00Z",
                "1",
                "62",
                "60",
                "62",
                "0"
            ),
            (
                "INC-0003",
                "2025-05-12T07:00:00Z",
                "2",
                "230",
                "230",
                "230",
                "0"
            ),
            (
                "INC-0004",
                "2025-06-16T17:00:00Z",
                "1",
                "15",
                "15",
                "15",
                "0"
            ),
            (
                "INC-0005",
                "2025-06-18T11:00:00Z",
                "1",
                "12",
                "12",
                "12",
                "0"
            ),
        ]
    );
    assert_eq!(inc[0]["subject"], "Community safety survey 2025");
    assert_eq!(
        inc[0]["senders"],
        "community.engagement@police.example | dana.harris@police.example"
    );
    assert_eq!(inc[2]["last_sent"], "2025-05-15T06:30:00Z");

    // Every exposing message was found three times (mbox, Maildir, the Outlook PST), two of
    // them a fourth time as Outlook .msg files, and each is listed once with all its locations.
    let msgs = csv_rows(&out.join("messages.csv"));
    assert_eq!(msgs.len(), 7);
    for m in &msgs {
        let sources: Vec<&str> = m["sources"].split(" | ").collect();
        let msg = match m["message_id"].as_str() {
            "open-day-confirm@police.example" => Some("outlook/registration-confirmed.msg"),
            "peer-support-june@police.example" => Some("outlook/peer-support-group.msg"),
            _ => None,
        };
        assert_eq!(
            sources.len(),
            3 + usize::from(msg.is_some()),
            "{}",
            m["sources"]
        );
        assert!(sources[0].contains("maildir/.Sent/cur/"));
        if let Some(f) = msg {
            assert!(sources[1].ends_with(f), "{}", m["sources"]);
        }
        assert!(sources[sources.len() - 2].contains("police-sent.mbox#"));
        let pst = sources.last().unwrap();
        assert!(
            pst.contains("police-sent.pst#/Top of Outlook data file/Sent Items;nid=0x"),
            "{pst}"
        );
        assert_eq!(
            m["sha256"].split(" | ").filter(|h| h.len() == 64).count(),
            sources.len()
        );
    }
    let reply = msgs
        .iter()
        .find(|m| m["message_id"] == "reply-survey-2025@police.example")
        .unwrap();
    assert_eq!(
        (
            reply["reply_all"].as_str(),
            reply["to"].as_str(),
            reply["external"].as_str()
        ),
        ("true", "419", "418")
    );
    // The apology in Bcc, the newsletter, the internal mail, the list post and the
    // message to 9 people are not there.
    for id in [
        "apology-2025",
        "newsletter-may",
        "internal-1",
        "closure",
        "list-post",
        "nine",
    ] {
        assert!(
            !msgs.iter().any(|m| m["message_id"].starts_with(id)),
            "{id} flagged"
        );
    }

    let s = summary(&out);
    assert_eq!(s["counts"]["messages_read"], 56);
    assert_eq!(s["counts"]["unique"], 18);
    assert_eq!(s["counts"]["duplicates"], 38);
    assert_eq!(s["counts"]["incidents"], 5);
}

#[test]
fn samples_people_counts() {
    let (d, o) = scan_samples(&[]);
    assert_eq!(o.status.code(), Some(0));
    let people = csv_rows(&d.path().join("report/affected.csv"));
    assert_eq!(people.len(), 598);
    assert_eq!(people.iter().filter(|p| p["internal"] == "true").count(), 3);
    let mut by_counts = std::collections::BTreeMap::new();
    for p in &people {
        *by_counts
            .entry((p["incidents"].clone(), p["messages"].clone()))
            .or_insert(0) += 1;
    }
    let expect: std::collections::BTreeMap<(String, String), i32> = [
        // registration only (press, council, 30 residents... see generator), reply-all only,
        // and the 15 + 12 residents of the two small sensitive-context mailings
        (("1", "1"), 23 + 27),
        (("1", "2"), 418),
        (("2", "3"), 30),
        (("2", "4"), 90),
        (("3", "5"), 10),
    ]
    .into_iter()
    .map(|((a, b), n)| ((a.to_string(), b.to_string()), n))
    .collect();
    assert_eq!(by_counts, expect);
    // Resident 408 is in all three incidents; RFC 2047 "Last, First" decoded as one name.
    let p = people
        .iter()
        .find(|p| p["address"] == "zoe.brown411@example.org")
        .unwrap();
    assert_eq!(p["name"], "Brown, Zoë");
    assert_eq!(p["incident_ids"], "INC-0001 INC-0002 INC-0003");
    assert_eq!(p["max_audience"], "419");
    assert_eq!(p["first_exposed"], "2025-03-03T09:00:00Z");
    assert_eq!(p["last_exposed"], "2025-05-15T06:30:00Z");
    // Upper-case addresses were normalised.
    assert!(people
        .iter()
        .all(|p| p["address"] == p["address"].to_lowercase()));

    let ex = csv_rows(&d.path().join("report/exposures.csv"));
    assert_eq!(ex.len(), 419 + 62 + 230 + 15 + 12);
    let e = ex
        .iter()
        .find(|e| {
            e["incident_id"] == "INC-0001" && e["address"] == "community.engagement@police.example"
        })
        .unwrap();
    assert_eq!(
        (
            e["field"].as_str(),
            e["messages"].as_str(),
            e["internal"].as_str()
        ),
        ("to", "1", "true")
    );
}

#[test]
fn required_columns_come_first_in_order() {
    let (d, _) = scan_samples(&[]);
    let out = d.path().join("report");
    let starts = |f: &str, cols: &[&str]| {
        let h = header(&out.join(f));
        assert_eq!(&h[..cols.len()], cols, "{f}");
    };
    starts(
        "incidents.csv",
        &[
            "incident_id",
            "first_sent",
            "last_sent",
            "messages",
            "senders",
            "subject",
            "exposed",
            "external",
            "audience",
            "reply_all",
        ],
    );
    starts(
        "messages.csv",
        &[
            "incident_id",
            "date",
            "from",
            "subject",
            "message_id",
            "to",
            "cc",
            "bcc",
            "exposed",
            "external",
            "reply_all",
            "sources",
        ],
    );
    starts(
        "affected.csv",
        &[
            "address",
            "name",
            "incidents",
            "messages",
            "first_exposed",
            "last_exposed",
            "max_audience",
            "incident_ids",
        ],
    );
    starts(
        "exposures.csv",
        &[
            "incident_id",
            "address",
            "name",
            "field",
            "first_sent",
            "messages",
            "audience",
        ],
    );
}

#[test]
fn reports_are_owner_only_and_not_overwritten_without_force() {
    let (d, o) = scan_samples(&[]);
    assert_eq!(o.status.code(), Some(0));
    let out = d.path().join("report");
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in [
        "incidents.csv",
        "messages.csv",
        "affected.csv",
        "exposures.csv",
        "summary.json",
    ] {
        let m = std::fs::metadata(out.join(f)).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
    }
    let again = scan(&[repo().join("samples").to_str().unwrap()], &out);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let forced = scan(&[repo().join("samples").to_str().unwrap(), "--force"], &out);
    assert_eq!(forced.status.code(), Some(0));
}

#[test]
fn stdout_has_counts_but_no_addresses_unless_verbose() {
    let (_d, o) = scan_samples(&[]);
    let s = stdout(&o);
    assert!(s.contains("5 incident(s)"), "{s}");
    assert!(s.contains("INC-0001"), "{s}");
    assert!(!s.contains('@'), "addresses on stdout: {s}");
    let (_d, o) = scan_samples(&["--verbose"]);
    assert!(stdout(&o).contains("dana.harris@police.example"));
}

#[test]
fn fail_on_exposure_exits_1() {
    let (_d, o) = scan_samples(&["--fail-on-exposure"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn jobs_1_and_2_give_byte_identical_csvs() {
    let (a, oa) = scan_samples(&["--jobs", "1"]);
    let (b, ob) = scan_samples(&["--jobs", "2"]);
    assert_eq!((oa.status.code(), ob.status.code()), (Some(0), Some(0)));
    for f in [
        "incidents.csv",
        "messages.csv",
        "affected.csv",
        "exposures.csv",
    ] {
        let x = std::fs::read(a.path().join("report").join(f)).unwrap();
        let y = std::fs::read(b.path().join("report").join(f)).unwrap();
        assert!(x == y, "{f} differs between --jobs 1 and --jobs 2");
    }
}

#[test]
fn mbox_and_maildir_alone_agree() {
    let d = tempfile::tempdir().unwrap();
    let a = scan(
        &[
            repo().join("samples/police-sent.mbox").to_str().unwrap(),
            "--internal-domain",
            "police.example",
            "--custodian",
            "Sent Items of PC Example",
        ],
        &d.path().join("a"),
    );
    let b = scan(
        &[
            repo().join("samples/maildir").to_str().unwrap(),
            "--internal-domain",
            "police.example",
            "--custodian",
            "Sent Items of PC Example",
        ],
        &d.path().join("b"),
    );
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)));
    for f in ["incidents.csv", "affected.csv", "exposures.csv"] {
        let x = std::fs::read(d.path().join("a").join(f)).unwrap();
        let y = std::fs::read(d.path().join("b").join(f)).unwrap();
        assert!(x == y, "{f} differs between mbox and Maildir");
    }
}

/// Read without updating the access time (the check itself must not touch the evidence).
fn read_noatime(p: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(p)
        .unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn inputs_are_unchanged_by_a_scan() {
    use sha2::{Digest, Sha256};
    // Work on a copy so the test is about what the scan does, not about the checkout.
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("in");
    std::fs::create_dir_all(src.join("cur")).unwrap();
    std::fs::copy(
        repo().join("samples/police-sent.mbox"),
        src.join("sent.mbox"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("samples/maildir/.Sent/cur/1740000000.M0P1.police:2,S"),
        src.join("cur/1740000000.M0P1.police:2,S"),
    )
    .unwrap();
    let snapshot = || -> Vec<(String, String, std::time::SystemTime, std::time::SystemTime)> {
        let mut v = Vec::new();
        for p in [
            src.join("sent.mbox"),
            src.join("cur/1740000000.M0P1.police:2,S"),
        ] {
            let m = std::fs::metadata(&p).unwrap();
            v.push((
                p.display().to_string(),
                format!("{:x}", Sha256::digest(read_noatime(&p))),
                m.modified().unwrap(),
                m.accessed().unwrap(),
            ));
        }
        v
    };
    // Make atime distinguishable from "now".
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for p in [
        src.join("sent.mbox"),
        src.join("cur/1740000000.M0P1.police:2,S"),
    ] {
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_times(
                std::fs::FileTimes::new()
                    .set_accessed(old)
                    .set_modified(old),
            )
            .unwrap();
    }
    let before = snapshot();
    let o = scan(
        &[src.to_str().unwrap(), "--evidence"],
        &d.path().join("out"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(snapshot(), before, "bytes, mtime or atime changed");
    // The summary records the input's SHA-256 (a manifest hash for a directory).
    let s = summary(&d.path().join("out"));
    assert_eq!(s["inputs"][0]["kind"], "directory");
    assert_eq!(s["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    // --evidence saved each exposing message's raw bytes under its hash.
    let msgs = csv_rows(&d.path().join("out/messages.csv"));
    for m in msgs {
        for h in m["sha256"].split(" | ") {
            let bytes =
                std::fs::read(d.path().join("out/evidence").join(format!("{h}.eml"))).unwrap();
            assert_eq!(format!("{:x}", Sha256::digest(&bytes)), h);
        }
    }
}

#[test]
fn sensitive_context_and_risk_per_incident() {
    let (d, o) = scan_samples(&[]);
    assert_eq!(o.status.code(), Some(0));
    let out = d.path().join("report");
    let inc = csv_rows(&out.join("incidents.csv"));
    let got: Vec<(&str, &str, &str)> = inc
        .iter()
        .map(|r| {
            (
                r["incident_id"].as_str(),
                r["sensitive"].as_str(),
                r["risk"].as_str(),
            )
        })
        .collect();
    // Risk rule: 418 external (2) + reply-all (1) + sent twice (1); 60 external (1); 230
    // external (2) + sent twice (1); the two small mailings are high for their context alone.
    assert_eq!(
        got,
        [
            ("INC-0001", "", "high"),
            ("INC-0002", "", "medium"),
            ("INC-0003", "", "high"),
            ("INC-0004", "crime and victims", "high"),
            ("INC-0005", "children and safeguarding", "high"),
        ]
    );
    let rows = csv_rows(&out.join("sensitive.csv"));
    let got: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| {
            ["incident_id", "message", "category", "term", "where"]
                .iter()
                .map(|c| r[*c].as_str())
                .collect()
        })
        .collect();
    assert_eq!(
        got,
        [
            [
                "INC-0004",
                "peer-support-june@police.example",
                "crime and victims",
                "victims",
                "body"
            ],
            [
                "INC-0005",
                "notes-tuesday@police.example",
                "children and safeguarding",
                "safeguarding",
                "attachment-name"
            ],
        ]
    );
    let msgs = csv_rows(&out.join("messages.csv"));
    let flagged: Vec<(&str, &str)> = msgs
        .iter()
        .filter(|m| !m["sensitive"].is_empty())
        .map(|m| (m["incident_id"].as_str(), m["sensitive"].as_str()))
        .collect();
    assert_eq!(
        flagged,
        [
            ("INC-0004", "crime and victims"),
            ("INC-0005", "children and safeguarding")
        ]
    );
}

#[test]
fn a_terms_file_adds_categories_and_a_bad_one_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let terms = d.path().join("terms.csv");
    std::fs::write(&terms, "# ours\nsurveys,safety survey\n").unwrap();
    let (r, o) = scan_samples(&["--sensitive-terms", terms.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let inc = csv_rows(&r.path().join("report/incidents.csv"));
    assert_eq!(inc[0]["sensitive"], "surveys");
    assert_eq!(inc[3]["sensitive"], "crime and victims");
    // Only the file's terms.
    let (r, _) = scan_samples(&[
        "--sensitive-terms",
        terms.to_str().unwrap(),
        "--no-builtin-terms",
    ]);
    let inc = csv_rows(&r.path().join("report/incidents.csv"));
    assert_eq!(inc[3]["sensitive"], "");
    std::fs::write(&terms, "just one field\n").unwrap();
    let (r, o) = scan_samples(&["--sensitive-terms", terms.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    assert!(!r.path().join("report").exists());
}
