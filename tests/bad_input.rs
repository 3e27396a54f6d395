//! Bad input never stops a scan: damage is salvaged, counted and located.

mod common;
use common::*;

fn run_on(bytes: &[u8]) -> (tempfile::TempDir, std::process::Output) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("in.mbox");
    std::fs::write(&p, bytes).unwrap();
    let o = scan(&[p.to_str().unwrap()], &d.path().join("o"));
    (d, o)
}

fn warnings(d: &tempfile::TempDir, kind: &str) -> u64 {
    summary(&d.path().join("o"))["warnings"][kind]["count"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn one_broken_address_does_not_lose_the_line() {
    let to = "Doe, John <j@example.org>, a@example.org, <b@example.org, c@, d@example.org, e@example.org, f@example.org, g@example.org, h@example.org, i@example.org, k@example.org";
    let m = format!("From x@y Mon Jan  1 00:00:00 2024\nFrom: me@police.example\nTo: {to}\nSubject: s\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n");
    let (d, o) = run_on(m.as_bytes());
    assert_eq!(o.status.code(), Some(0));
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows[0]["exposed"], "10");
    assert_eq!(warnings(&d, "address-entry-without-address"), 1);
    assert_eq!(warnings(&d, "invalid-address"), 1);
    assert_eq!(warnings(&d, "unclosed-angle-bracket"), 1);
    let loc = &summary(&d.path().join("o"))["warnings"]["invalid-address"]["locations"][0];
    assert!(loc.as_str().unwrap().contains("in.mbox#0"), "{loc}");
}

#[test]
fn pathological_inputs_complete_with_counts() {
    let recips: Vec<String> = (0..100_000).map(|i| format!("p{i}@example.org")).collect();
    let mut m = Vec::new();
    // 1. 100,000 recipients in one To (a ~2 MB header line).
    m.extend_from_slice(format!("From a@b Mon Jan  1 00:00:00 2024\nFrom: me@police.example\nTo: {}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <big@x>\n\nbody\nFrom the desk: not a separator\n\n", recips.join(", ")).as_bytes());
    // 2. NUL bytes and binary junk in a header block.
    m.extend_from_slice(b"From a@b Mon Jan  1 00:00:00 2024\nTo: x@example.org\n\x00\x00\xff\xfe junk\nSubject: \xe9t\xe9\n\nbody\n\n");
    // 3. A 10 MB header line of garbage.
    m.extend_from_slice(b"From a@b Mon Jan  1 00:00:00 2024\nX-Long: ");
    m.extend(std::iter::repeat_n(b'x', 10 << 20));
    m.extend_from_slice(b"\nTo: y@example.org\n\nbody\n\n");
    // 4. Random bytes as a body.
    m.extend_from_slice(b"From a@b Mon Jan  1 00:00:00 2024\nTo: z@example.org\n\n");
    let mut x: u32 = 12345;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let b = (x & 0xff) as u8;
        m.push(if b == b'\n' { b'.' } else { b });
    }
    m.extend_from_slice(b"\n\n");
    // 5. Truncated mid-header, no end to the header block.
    m.extend_from_slice(b"From a@b Mon Jan  1 00:00:00 2024\nTo: w@example.org\nCc: trunc");
    let (d, o) = run_on(&m);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("o"));
    assert_eq!(s["counts"]["messages_read"], 5);
    assert_eq!(s["counts"]["exposing_messages"], 1);
    assert_eq!(s["counts"]["affected"], 100_000);
    assert_eq!(warnings(&d, "header-block-not-terminated"), 1);
    assert!(warnings(&d, "malformed-header-line") >= 1);
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows[0]["exposed"], "100000");
}

#[test]
fn cr_only_line_ends() {
    let to: Vec<String> = people("r", 10);
    let m = format!(
        "From a@b Mon Jan  1 00:00:00 2024\rFrom: me@police.example\rTo: {}\rSubject: cr\r\rbody\r",
        to.join(", ")
    );
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.eml");
    std::fs::write(&p, &m.as_bytes()[34..]).unwrap();
    let o = scan(&[p.to_str().unwrap()], &d.path().join("o"));
    assert_eq!(o.status.code(), Some(0));
    let rows = csv_rows(&d.path().join("o/messages.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["subject"], "cr");
}

#[test]
fn random_bytes_and_empty_files_scan_without_panic() {
    let d = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for i in 0..50 {
        let mut v = Vec::new();
        if i % 3 == 0 {
            v.extend_from_slice(b"From ");
        }
        if i % 3 == 1 {
            v.extend_from_slice(b"To: ");
        }
        for _ in 0..(i * 997 % 20_000) {
            x ^= x << 7;
            x ^= x >> 9;
            v.push((x & 0xff) as u8);
        }
        std::fs::write(d.path().join(format!("f{i}")), v).unwrap();
    }
    std::fs::write(d.path().join("empty"), b"").unwrap();
    let o = scan(&[d.path().to_str().unwrap()], &d.path().join("o"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = summary(&d.path().join("o"));
    assert!(s["counts"]["files_skipped_not_message"].as_u64().unwrap() >= 10);
}
