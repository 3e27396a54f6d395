//! Sharded runs (issue 8): `scan --partial` on disjoint shares of the inputs, in parallel
//! processes, then `merge` gives the report of one run over all of them; mismatched detection
//! options are refused; `--baseline` marks exactly what is new.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

const D1: &str = "Mon, 1 Jan 2024 10:00:00 +0000";
const D2: &str = "Tue, 2 Jan 2024 10:00:00 +0000";
const D3: &str = "Wed, 3 Jan 2024 10:00:00 +0000";

fn msg(id: &str, list: &[String], extra: &str, subject: &str, date: &str) -> String {
    message("officer@police.example", list, extra, subject, id, date)
}

/// Five inputs whose copies and incidents cross any split into three shards.
fn corpus(dir: &Path) -> Vec<String> {
    let l1 = people("a", 15);
    let mut l1b = l1.clone();
    l1b.pop(); // 14/15 overlap: the reminder is the same incident
    let l2 = people("b", 12);
    let l3 = people("c", 11);
    let l4 = people("d", 20);
    let a = msg("a@police.example", &l1, "", "Survey", D1);
    let b = msg("b@police.example", &l1b, "", "Survey reminder", D2);
    let c = msg("c@police.example", &l3, "", "Open day", D1);
    let d = msg("d@police.example", &l2, "", "Panel", D2);
    let e = msg(
        "e@police.example",
        &l4,
        "In-Reply-To: <d@police.example>\r\n",
        "Re: Panel",
        D3,
    );
    let quiet = msg("q@police.example", &people("q", 2), "", "Thanks", D3);
    std::fs::write(dir.join("f0.mbox"), mbox(&[a.clone(), c.clone()])).unwrap();
    std::fs::write(dir.join("f1.mbox"), mbox(&[a, b])).unwrap();
    std::fs::write(dir.join("f2.mbox"), mbox(&[d.clone(), c])).unwrap();
    std::fs::write(dir.join("f3.mbox"), mbox(&[quiet, e])).unwrap();
    std::fs::create_dir_all(dir.join("f4/cur")).unwrap();
    std::fs::create_dir_all(dir.join("f4/new")).unwrap();
    std::fs::write(dir.join("f4/cur/1.eml"), d).unwrap();
    let list: Vec<String> = ["f0.mbox", "f1.mbox", "f2.mbox", "f3.mbox", "f4"]
        .iter()
        .map(|f| dir.join(f).to_str().unwrap().to_string())
        .collect();
    std::fs::write(dir.join("list.txt"), list.join("\n") + "\n").unwrap();
    list
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn same_reports(a: &Path, b: &Path) {
    for f in [
        "incidents.csv",
        "messages.csv",
        "affected.csv",
        "exposures.csv",
    ] {
        let x = std::fs::read_to_string(a.join(f)).unwrap();
        let y = std::fs::read_to_string(b.join(f)).unwrap();
        assert_eq!(x, y, "{f} differs");
    }
    let strip = |p: &Path| {
        let mut v = summary(p);
        let o = v.as_object_mut().unwrap();
        for k in ["started", "finished", "arguments"] {
            o.remove(k);
        }
        v
    };
    assert_eq!(strip(a), strip(b), "summary.json differs");
}

#[test]
fn parallel_shards_merge_into_the_single_run() {
    let d = tempfile::tempdir().unwrap();
    corpus(d.path());
    let list = d.path().join("list.txt");
    let list = list.to_str().unwrap();
    let single = d.path().join("single");
    let o = run(&[
        "scan",
        "--inputs-from",
        list,
        "-q",
        "--out",
        single.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The single run has what the corpus was built for: copies merged, incidents joined.
    let s = summary(&single);
    assert_eq!(s["counts"]["messages_read"], 9);
    assert_eq!(s["counts"]["unique"], 6);
    assert_eq!(csv_rows(&single.join("incidents.csv")).len(), 3);

    // Three workers at once, the same command line but the shard.
    let children: Vec<_> = (0..3)
        .map(|i| {
            let p = d.path().join(format!("part{i}.jsonl"));
            bin()
                .args([
                    "scan",
                    "--inputs-from",
                    list,
                    "-q",
                    "--shard",
                    &format!("{i}/3"),
                    "--partial",
                ])
                .arg(&p)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let part = |i: usize| {
        d.path()
            .join(format!("part{i}.jsonl"))
            .to_str()
            .unwrap()
            .to_string()
    };
    for (order, name) in [([0, 1, 2], "merged"), ([2, 0, 1], "merged-any-order")] {
        let out = d.path().join(name);
        let mut args = vec![
            "merge".to_string(),
            "-q".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ];
        args.extend(order.iter().map(|&i| part(i)));
        let o = bin().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        same_reports(&single, &out);
    }
    // Partials are owner-only files holding personal data, readable without bccaudit.
    use std::os::unix::fs::PermissionsExt;
    let p0 = d.path().join("part0.jsonl");
    assert_eq!(
        std::fs::metadata(&p0).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&p0)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["header"]["format"], "bccaudit-partial");
    assert_eq!(first["header"]["version"], 1);
}

#[test]
fn merge_refuses_partials_made_with_other_options() {
    let d = tempfile::tempdir().unwrap();
    let list = corpus(d.path());
    let p1 = d.path().join("p1.jsonl");
    let p2 = d.path().join("p2.jsonl");
    assert!(
        run(&["scan", &list[0], "-q", "--partial", p1.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&[
        "scan",
        &list[1],
        "-q",
        "--min-exposed",
        "5",
        "--partial",
        p2.to_str().unwrap()
    ])
    .status
    .success());
    let out = d.path().join("out");
    let o = run(&[
        "merge",
        p1.to_str().unwrap(),
        p2.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("other detection options"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Not a partial at all.
    let o = run(&["merge", &list[0], "-q", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

#[test]
fn baseline_marks_exactly_the_new_incidents_and_people() {
    let d = tempfile::tempdir().unwrap();
    let list = corpus(d.path());
    let old = d.path().join("old.jsonl");
    let now = d.path().join("now.jsonl");
    // Last year's audit read f0 and f1 (the survey, its reminder, the open day).
    assert!(run(&[
        "scan",
        &list[0],
        &list[1],
        "-q",
        "--custodian",
        "PC One",
        "--partial",
        old.to_str().unwrap()
    ])
    .status
    .success());
    let mut args = vec!["scan"];
    args.extend(list.iter().map(String::as_str));
    args.extend([
        "-q",
        "--custodian",
        "PC One",
        "--partial",
        now.to_str().unwrap(),
    ]);
    assert!(run(&args).status.success());
    let out = d.path().join("out");
    let o = run(&[
        "merge",
        now.to_str().unwrap(),
        "--baseline",
        old.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let incidents = csv_rows(&out.join("incidents.csv"));
    let new: Vec<(&str, &str)> = incidents
        .iter()
        .map(|r| (r["subject"].as_str(), r["new"].as_str()))
        .collect();
    assert_eq!(
        new,
        [
            ("Survey", "false"),
            ("Open day", "false"),
            ("Panel", "true")
        ]
    );
    for r in csv_rows(&out.join("affected.csv")) {
        let fresh = r["address"].starts_with('b') || r["address"].starts_with('d');
        assert_eq!(r["new"], fresh.to_string(), "{}", r["address"]);
    }
    assert!(incidents.iter().all(|r| r["custodians"] == "PC One"));
}

#[test]
fn custodians_name_whose_mailbox_each_copy_was_in() {
    let d = tempfile::tempdir().unwrap();
    let list = corpus(d.path());
    let (p1, p2) = (d.path().join("p1.jsonl"), d.path().join("p2.jsonl"));
    assert!(run(&[
        "scan",
        &list[0],
        "-q",
        "--custodian",
        "Alice Example",
        "--partial",
        p1.to_str().unwrap()
    ])
    .status
    .success());
    assert!(run(&[
        "scan",
        &list[1],
        "-q",
        "--custodian",
        "Bob Example",
        "--partial",
        p2.to_str().unwrap()
    ])
    .status
    .success());
    let out = d.path().join("out");
    let o = run(&[
        "merge",
        p1.to_str().unwrap(),
        p2.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_rows(&out.join("messages.csv"));
    let survey = rows.iter().find(|r| r["subject"] == "Survey").unwrap();
    assert_eq!(survey["custodians"], "Alice Example | Bob Example");
    let inc = csv_rows(&out.join("incidents.csv"));
    assert_eq!(inc[0]["custodians"], "Alice Example | Bob Example");
}
