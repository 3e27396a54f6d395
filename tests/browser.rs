//! report.html in a real headless Chromium, opened from file:// with the network shut: it
//! loads without an error or a request, draws its timeline, sorts and filters the incidents
//! table when a user clicks and types, and renders hostile text from mail as text.
//! Skipped with a notice when Chromium is absent; mandatory in CI (BCCAUDIT_REQUIRE_CHROMIUM).

mod common;
use common::*;

use std::path::Path;

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// The incidents table's column `col` (0-based), top to bottom, visible rows only.
fn column(b: &mut cdp::Browser, col: usize) -> Vec<String> {
    let v = b.eval(&format!(
        "Array.from(document.querySelectorAll('#incident-table tbody tr')).filter(r => !r.hidden).map(r => r.cells[{col}].textContent)"
    ));
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_samples_report_loads_sorts_and_filters_in_chromium() {
    let Some(mut b) = cdp::launch() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bccaudit"))
        .current_dir(repo())
        .args([
            "scan",
            "samples",
            "--internal-domain",
            "police.example",
            "--org",
            "Example Police",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let url = file_url(&out.join("report.html"));
    b.open(&url);
    assert_eq!(b.errors(), Vec::<String>::new(), "console errors");
    assert_eq!(
        b.requests(),
        vec![url.clone()],
        "requests other than the page"
    );
    assert_eq!(
        b.eval("document.title"),
        "Exposed recipients report – Example Police"
    );

    // The timeline: bars and one mark per incident.
    assert!(
        b.eval("document.querySelectorAll('#timeline-svg rect.bar').length")
            .as_u64()
            >= Some(3)
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#timeline-svg circle.mark').length"),
        5
    );
    let w = b.eval("document.getElementById('timeline-svg').getBoundingClientRect().width");
    assert!(w.as_f64().unwrap() > 300.0, "timeline drawn {w}");

    // Highest risk first, then largest; clicking "Exposed" sorts ascending, again descending.
    assert_eq!(
        column(&mut b, 0),
        ["INC-0001", "INC-0003", "INC-0004", "INC-0005", "INC-0002"]
    );
    assert_eq!(
        column(&mut b, 12),
        ["high", "high", "high", "high", "medium"]
    );
    assert_eq!(column(&mut b, 11)[2], "crime and victims");
    b.click("#incident-table th:nth-child(7)");
    assert_eq!(column(&mut b, 6), ["12", "15", "62", "230", "419"]);
    b.click("#incident-table th:nth-child(7)");
    assert_eq!(column(&mut b, 6), ["419", "230", "62", "15", "12"]);
    // By a text column: the id.
    b.click("#incident-table th:nth-child(1)");
    assert_eq!(
        column(&mut b, 0),
        ["INC-0001", "INC-0002", "INC-0003", "INC-0004", "INC-0005"]
    );

    // Typing in the filter box.
    b.click("#filter");
    b.type_text("ward panel");
    assert_eq!(column(&mut b, 0), ["INC-0003"]);
    assert_eq!(b.eval("document.getElementById('shown').textContent"), "1");
    b.eval("document.getElementById('filter').select()");
    b.type_text("registration");
    assert_eq!(column(&mut b, 0), ["INC-0002"]);
    assert_eq!(b.errors(), Vec::<String>::new());

    // What a reader gets: kept in samples/ when asked (BCCAUDIT_UPDATE_SCREENSHOT=1).
    b.eval("document.getElementById('filter').value = ''; document.getElementById('filter').dispatchEvent(new Event('input'))");
    let png = b.screenshot(1280, 1400);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "a blank page? {} bytes", png.len());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::write(&target, &png).unwrap();
    if std::env::var_os("BCCAUDIT_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(repo().join("samples/report-screenshot.png"), &png).unwrap();
    }
    assert_eq!(b.requests(), vec![url], "requests other than the page");
}

#[test]
fn hostile_subjects_and_names_render_as_text_and_run_nothing() {
    let Some(mut b) = cdp::launch() else {
        return;
    };
    let payloads = [
        "<img src=x onerror=\"window.__pwned='img'\">",
        "<script>window.__pwned='script'</script>",
        "<svg onload=\"window.__pwned='svg'\"></svg>",
        "\"><iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\">",
        // The page's own slots for the timeline and the incident data: text from mail.
        "<!--bccaudit:timeline--><!--bccaudit:incident-data-->",
    ];
    let d = tempfile::tempdir().unwrap();
    let mut msgs = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let to: Vec<String> = people(&format!("h{i}-"), 12)
            .into_iter()
            .enumerate()
            .map(|(k, a)| {
                if k == 0 {
                    format!("\"{}\" <{a}>", p.replace('"', "'"))
                } else {
                    a
                }
            })
            .collect();
        msgs.push(message(
            &format!("\"{}\" <sender{i}@example.org>", p.replace('"', "'")),
            &to,
            "",
            p,
            &format!("h{i}@x.test"),
            &format!("Mon, {} Jan 2024 10:00:00 +0000", i + 1),
        ));
    }
    let mbox = d.path().join("hostile.mbox");
    std::fs::write(&mbox, mbox_text(&msgs)).unwrap();
    let out = d.path().join("r");
    let o = bin()
        .arg("scan")
        .arg(&mbox)
        .args(["--report-addresses", "--org", "<b>Org</b>", "-q", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let url = file_url(&out.join("report.html"));
    b.open(&url);
    // Open every detail, so that nothing stays unrendered.
    b.eval("document.querySelectorAll('details').forEach(d => d.open = true)");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(b.eval("typeof window.__pwned"), "undefined");
    assert_eq!(b.eval("document.images.length"), 0);
    assert_eq!(b.eval("document.querySelectorAll('iframe, main script:not(#incident-data), main img, main svg:not(#timeline-svg)').length"), 0);
    assert_eq!(b.eval("document.scripts.length"), 2);
    let text = b.eval("document.body.innerText");
    let text = text.as_str().unwrap();
    for p in payloads {
        assert!(text.contains(p), "payload not shown as text: {p}");
    }
    assert!(text.contains("<b>Org</b>"));
    assert_eq!(b.errors(), Vec::<String>::new());
    assert_eq!(b.requests(), vec![url]);
}

fn mbox_text(msgs: &[String]) -> String {
    mbox(msgs)
}

/// Not a test: how long a given report takes to load in Chromium (for the README's figures).
/// `BCCAUDIT_REPORT=path/report.html cargo test --release --test browser -- --ignored --nocapture`
#[test]
#[ignore]
fn load_time_of_a_report() {
    let Some(path) = std::env::var_os("BCCAUDIT_REPORT") else {
        return;
    };
    let Some(mut b) = cdp::launch() else {
        return;
    };
    let url = file_url(Path::new(&path));
    for _ in 0..3 {
        b.open("about:blank");
        b.open(&url);
        let t = b.eval(
            "(() => { const n = performance.getEntriesByType('navigation')[0]; return [n.domInteractive, n.domContentLoadedEventEnd, n.loadEventEnd].concat(performance.getEntriesByType('paint').map(p => p.name + ' ' + p.startTime)); })()",
        );
        // First paint of the whole table: force a layout and time it.
        let layout = b.eval("(() => { const s = performance.now(); document.body.getBoundingClientRect(); document.getElementById('incident-table').offsetHeight; return performance.now() - s; })()");
        println!(
            "{}: domInteractive, DOMContentLoaded, load (ms) {t}, layout after load {layout} ms",
            url
        );
    }
    assert_eq!(b.errors(), Vec::<String>::new());
}
