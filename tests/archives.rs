//! Archives on the built binary: zip, tar.gz, .mbox.gz, nested ones, bombs, damage.

mod common;
use common::msg_writer::{self, Msg, Recip};
use common::*;

use std::io::Write;

/// One exposing message to 12 people at `tag`.
fn eml(tag: &str) -> String {
    message(
        "Sender <sender@police.example>",
        &people(&format!("{tag}-"), 12),
        "",
        &format!("Notice {tag}"),
        &format!("{tag}@police.example"),
        "Mon, 03 Mar 2025 09:00:00 +0000",
    )
}

fn zip_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in members {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    t.into_inner().unwrap()
}

fn outlook_msg(tag: &str) -> Vec<u8> {
    msg_writer::write(&Msg {
        subject: format!("Notice {tag}"),
        message_id: Some(format!("<{tag}@police.example>")),
        sent: Some(1_740_992_400),
        sender_smtp: "sender@police.example".into(),
        recipients: people(&format!("{tag}-"), 12)
            .iter()
            .map(|a| Recip::smtp(1, "", a))
            .collect(),
        ..Msg::default()
    })
}

fn sources(out: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = csv_rows(&out.join("messages.csv"))
        .iter()
        .map(|m| m["sources"].clone())
        .collect();
    v.sort();
    v
}

#[test]
fn a_zip_with_an_mbox_a_msg_and_a_message_file_and_a_gzipped_mbox() {
    let d = tempfile::tempdir().unwrap();
    let zip = zip_of(&[
        (
            "export/sent.mbox",
            mbox(&[eml("mb1"), eml("mb2")]).into_bytes(),
        ),
        ("export/one.msg", outlook_msg("ms")),
        ("export/one.eml", eml("em").into_bytes()),
        ("export/readme.txt", b"exported by a tool".to_vec()),
    ]);
    let zp = d.path().join("purview.zip");
    std::fs::write(&zp, zip).unwrap();
    let gp = d.path().join("sent.mbox.gz");
    std::fs::write(&gp, gz(mbox(&[eml("gz")]).as_bytes())).unwrap();
    let o = scan(
        &[zp.to_str().unwrap(), gp.to_str().unwrap()],
        &d.path().join("r"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let z = zp.to_str().unwrap();
    let g = gp.to_str().unwrap();
    let mut want = vec![
        format!("{z}!/export/sent.mbox#0"),
        format!("{z}!/export/one.msg"),
        format!("{z}!/export/one.eml"),
        format!("{g}!#0"),
    ];
    let got = sources(&d.path().join("r"));
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got
        .iter()
        .any(|s| s.starts_with(&format!("{z}!/export/sent.mbox#")) && s != &want[0]));
    want.sort();
    for w in &want {
        assert!(got.contains(w), "{w} not in {got:?}");
    }
    let s = summary(&d.path().join("r"));
    assert_eq!(s["inputs"][0]["kind"], "archive");
    assert_eq!(s["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(s["warnings"]["file-not-mail-skipped"]["count"], 1);
}

#[test]
fn tar_gz_and_nested_archives_one_level_deep_in_a_tree() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let inner = zip_of(&[("inner.eml", eml("nested").into_bytes())]);
    let deeper = zip_of(&[("deeper.zip", zip_of(&[("x.eml", eml("deep").into_bytes())]))]);
    let tgz = gz(&tar_of(&[
        ("maildir/cur/1", eml("t1").into_bytes()),
        ("maildir/cur/2", eml("t2").into_bytes()),
        ("inner.zip", inner),
        ("deeper.zip", deeper),
    ]));
    std::fs::write(tree.join("backup.tgz"), tgz).unwrap();
    let o = scan(&[tree.to_str().unwrap()], &d.path().join("r"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = sources(&d.path().join("r"));
    let t = tree.join("backup.tgz");
    let t = t.to_str().unwrap();
    assert_eq!(
        got,
        [
            format!("{t}!/inner.zip!/inner.eml"),
            format!("{t}!/maildir/cur/1"),
            format!("{t}!/maildir/cur/2"),
        ]
    );
    let s = summary(&d.path().join("r"));
    assert_eq!(s["warnings"]["archive-nested-too-deep"]["count"], 1);
}

#[test]
fn zip_bombs_are_refused_and_damaged_archives_are_named() {
    let d = tempfile::tempdir().unwrap();
    let bomb = zip_of(&[
        ("zeros.mbox", vec![0u8; 64 << 20]),
        ("real.eml", eml("ok").into_bytes()),
    ]);
    assert!(bomb.len() < 1 << 20);
    let bp = d.path().join("bomb.zip");
    std::fs::write(&bp, &bomb).unwrap();
    let cut = d.path().join("cut.zip");
    std::fs::write(&cut, &zip_of(&[("a.eml", eml("cut").into_bytes())])[..60]).unwrap();
    let (o, kb, _) = run_measured({
        let mut c = bin();
        c.args([
            "scan",
            bp.to_str().unwrap(),
            cut.to_str().unwrap(),
            "-q",
            "--out",
        ])
        .arg(d.path().join("r"));
        c
    });
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(kb < 200_000, "peak RSS {kb} KB: the bomb was expanded");
    assert!(stderr(&o).contains("cut.zip"), "{}", stderr(&o));
    assert_eq!(csv_rows(&d.path().join("r/messages.csv")).len(), 1);
    let s = summary(&d.path().join("r"));
    let refused = s["warnings"]["archive-member-refused"]["locations"][0]
        .as_str()
        .unwrap();
    assert!(refused.contains("bomb.zip!/zeros.mbox"), "{refused}");
}
