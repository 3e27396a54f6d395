//! report.html and the breach summary on the built binary over samples/: the figures equal
//! what the CSVs say, and neither document leaks what it must not.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn scan_samples(extra: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut args = vec!["samples", "--internal-domain", "police.example"];
    args.extend_from_slice(extra);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bccaudit"))
        .current_dir(repo())
        .arg("scan")
        .args(&args)
        .arg("--out")
        .arg(d.path().join("r"))
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    d
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn n(v: &serde_json::Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

#[test]
fn breach_summary_figures_equal_those_of_the_csvs() {
    let d = scan_samples(&["--tz", "Europe/London"]);
    let r = d.path().join("r");
    let b = json(&r.join("breach-summary.json"));
    let affected = csv_rows(&r.join("affected.csv"));
    let exposures = csv_rows(&r.join("exposures.csv"));
    let incidents = csv_rows(&r.join("incidents.csv"));
    let messages = csv_rows(&r.join("messages.csv"));
    let external = |rows: &[Row]| rows.iter().filter(|x| x["internal"] == "false").count();
    let named = |rows: &[Row]| {
        rows.iter()
            .filter(|x| x["internal"] == "false" && !x["name"].is_empty())
            .count()
    };

    let t = &b["total"];
    assert_eq!(n(&t["data_subjects"]["external"]), external(&affected));
    assert_eq!(
        n(&t["data_subjects"]["internal"]),
        affected.len() - external(&affected)
    );
    assert_eq!(
        n(&t["data_subjects"]["external_with_name_shown"]),
        named(&affected)
    );
    assert_eq!(n(&t["records"]), exposures.len());
    assert_eq!(n(&t["incidents"]), incidents.len());
    assert_eq!(n(&t["messages"]), messages.len());
    let reply_alls = messages.iter().filter(|m| m["reply_all"] == "true").count();
    assert_eq!(n(&t["reply_all_re_exposures"]), reply_alls);
    let repeated = incidents.iter().filter(|i| i["messages"] != "1").count();
    assert_eq!(n(&t["repeated_sends"]), repeated);
    let senders: BTreeSet<&str> = messages.iter().map(|m| m["from"].as_str()).collect();
    assert_eq!(n(&t["sender_accounts"]), senders.len());
    assert_eq!(
        n(&t["domains"]["personal_webmail"]) + n(&t["domains"]["organisational"]),
        external(&affected)
    );
    // Recipients: every exposed person, plus Bcc recipients; at most the sum over incidents.
    let audiences: usize = incidents
        .iter()
        .map(|i| i["audience"].parse::<usize>().unwrap())
        .sum();
    assert!(n(&t["recipients"]) >= affected.len() && n(&t["recipients"]) <= audiences);
    let first = incidents
        .iter()
        .map(|i| i["first_sent"].as_str())
        .min()
        .unwrap();
    let last = incidents
        .iter()
        .map(|i| i["last_sent"].as_str())
        .max()
        .unwrap();
    assert_eq!(t["when"]["first_sent_utc"], first);
    assert_eq!(t["when"]["last_sent_utc"], last);
    // 2025-03-03 is winter time in London, 2025-06-18 summer time.
    assert_eq!(t["when"]["first_sent_local"], "2025-03-03 09:00 GMT");
    assert_eq!(t["when"]["last_sent_local"], "2025-06-18 12:00 BST");
    let categories: BTreeSet<&str> = incidents
        .iter()
        .flat_map(|i| i["sensitive"].split(';').filter(|c| !c.is_empty()))
        .collect();
    let in_json: BTreeSet<&str> = t["sensitive_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(in_json, categories);
    assert_eq!(
        in_json,
        BTreeSet::from(["children and safeguarding", "crime and victims"])
    );
    assert_eq!(b["time_zone"], "Europe/London");

    // Per incident, row by row.
    let by_id: BTreeMap<&str, &Row> = incidents
        .iter()
        .map(|i| (i["incident_id"].as_str(), i))
        .collect();
    let per = b["incidents"].as_array().unwrap();
    assert_eq!(per.len(), incidents.len());
    for i in per {
        let id = i["id"].as_str().unwrap();
        let row = by_id[id];
        let mine: Vec<Row> = exposures
            .iter()
            .filter(|x| x["incident_id"] == id)
            .cloned()
            .collect();
        assert_eq!(
            n(&i["records"]),
            row["exposed"].parse::<usize>().unwrap(),
            "{id}"
        );
        assert_eq!(n(&i["records"]), mine.len(), "{id}");
        assert_eq!(
            n(&i["data_subjects"]["external"]),
            row["external"].parse::<usize>().unwrap()
        );
        assert_eq!(n(&i["data_subjects"]["external"]), external(&mine));
        assert_eq!(
            n(&i["data_subjects"]["external_with_name_shown"]),
            named(&mine),
            "{id}"
        );
        assert_eq!(
            n(&i["recipients"]),
            row["audience"].parse::<usize>().unwrap()
        );
        assert_eq!(n(&i["messages"]), row["messages"].parse::<usize>().unwrap());
        assert_eq!(
            n(&i["reply_all_re_exposures"]),
            row["reply_all"].parse::<usize>().unwrap()
        );
        assert_eq!(i["when"]["first_sent_utc"], row["first_sent"].as_str());
        assert_eq!(i["risk"], row["risk"].as_str(), "{id}");
        let cats: Vec<&str> = row["sensitive"]
            .split(';')
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(i["sensitive_categories"], serde_json::json!(cats), "{id}");
        assert_eq!(i["when"]["last_sent_utc"], row["last_sent"].as_str());
        assert!(i.get("subject").is_none());
    }
    // The Markdown says the same, each figure next to its question.
    let md = std::fs::read_to_string(r.join("breach-summary.md")).unwrap();
    assert!(md.contains(&format!(
        "| Number of data subjects affected (Art. 33(3)(a)) | {} people outside the organisation",
        external(&affected)
    )));
    assert!(md.contains(&format!(
        "| Approximate number of personal data records (Art. 33(3)(a)) | {} ",
        exposures.len()
    )));
    assert!(md.contains("**To be completed.**"));
    let b = json(&r.join("breach-summary.json"));
    assert!(b["to_be_completed"]["likely_consequences"].is_null());
}

/// Every address, name and subject the CSVs hold.
fn personal_data(r: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let affected = csv_rows(&r.join("affected.csv"));
    let messages = csv_rows(&r.join("messages.csv"));
    let addresses: Vec<String> = affected
        .iter()
        .map(|a| a["address"].clone())
        .chain(messages.iter().map(|m| m["from"].clone()))
        .collect();
    let names = affected
        .iter()
        .map(|a| a["name"].clone())
        .filter(|n| !n.is_empty())
        .collect();
    let subjects = messages.iter().map(|m| m["subject"].clone()).collect();
    (addresses, names, subjects)
}

#[test]
fn the_breach_summary_holds_no_address_name_or_subject() {
    let d = scan_samples(&["--dpo-contact", "Data Protection Officer, 01632 960000"]);
    let r = d.path().join("r");
    let (addresses, names, subjects) = personal_data(&r);
    for f in ["breach-summary.md", "breach-summary.json"] {
        let text = std::fs::read_to_string(r.join(f)).unwrap();
        for x in addresses.iter().chain(&names).chain(&subjects) {
            assert!(!text.contains(x.as_str()), "{f} contains {x:?}");
        }
        assert!(!text.contains('@'), "{f} holds an address");
        assert!(text.contains("01632 960000"), "{f}: the DPO contact");
    }
    // With --summary-subjects the subjects are there (and only then).
    let d = scan_samples(&["--summary-subjects"]);
    let b = json(&d.path().join("r/breach-summary.json"));
    assert_eq!(b["incidents"][0]["subject"], "Community safety survey 2025");
    let md = std::fs::read_to_string(d.path().join("r/breach-summary.md")).unwrap();
    assert!(md.contains("Community safety survey 2025"));
}

#[test]
fn report_html_requests_nothing_and_shows_addresses_only_when_asked() {
    let d = scan_samples(&["--org", "Example Police"]);
    let r = d.path().join("r");
    let html = std::fs::read_to_string(r.join("report.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("url(") && !html.contains(" src="));
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    let (addresses, _, _) = personal_data(&r);
    let affected = csv_rows(&r.join("affected.csv"));
    // No exposed address: a member of the public's never; a colleague's only as a sender.
    let senders: BTreeSet<String> = csv_rows(&r.join("messages.csv"))
        .iter()
        .map(|m| m["from"].clone())
        .collect();
    for a in &affected {
        if a["internal"] == "true" && senders.contains(&a["address"]) {
            continue;
        }
        assert!(
            !html.contains(&a["address"]),
            "report.html shows {}",
            a["address"]
        );
    }
    assert!(html.contains("Example Police"));
    for id in ["INC-0001", "INC-0002", "INC-0003"] {
        assert!(html.contains(id));
    }
    // Senders that were not exposed are shown; the subjects are.
    assert!(addresses.iter().any(|a| html.contains(a.as_str())));
    assert!(html.contains("Community safety survey 2025"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(r.join("report.html"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let d = scan_samples(&["--report-addresses"]);
    let html = std::fs::read_to_string(d.path().join("r/report.html")).unwrap();
    let shown = affected
        .iter()
        .filter(|a| html.contains(&a["address"]))
        .count();
    assert_eq!(shown, affected.len(), "every exposed address is listed");
}

#[test]
fn an_unknown_time_zone_is_refused_before_scanning() {
    let d = tempfile::tempdir().unwrap();
    let o = scan(&["samples", "--tz", "Mars/Olympus"], &d.path().join("r"));
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("--tz") && e.contains("Mars/Olympus"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!d.path().join("r").exists());
}
