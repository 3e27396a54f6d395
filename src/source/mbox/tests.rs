use super::*;

use super::split::messages_of as msgs;

#[test]
fn content_length_past_the_window_waits_for_more_bytes() {
    let body = format!(
        "{}\nFrom lies@x Mon Jan  1 00:00:00 2024\nSubject: not a header\nbody text\n\n{}",
        "a".repeat(100),
        "b".repeat(100)
    );
    let mut m = format!(
        "From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\nContent-Length: {}\n\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body.as_bytes());
    m.extend_from_slice(b"\nFrom b@x Mon Jan  1 00:00:00 2024\nTo: b@x\n\nx\n");
    // Cut inside the body, after the fake separator: not enough bytes to decide yet.
    let cut = m.len() - 150;
    let s = split(&m[..cut], true, false, usize::MAX, usize::MAX);
    assert!(s.spans.is_empty(), "{:?}", s.spans);
    assert_eq!(msgs(&m).len(), 2);
    // Streamed through a reader, the same two messages.
    let mut src = MboxSource::from_reader("-", Box::new(std::io::Cursor::new(m.clone())));
    let mut n = 0;
    while let Some(b) = src.next_batch() {
        n += b.units.len();
    }
    assert_eq!(n, 2);
}

fn drain(s: &mut MboxSource) -> (Vec<Unit>, Vec<Warning>, Vec<InputError>) {
    let (mut u, mut w, mut e) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(b) = s.next_batch() {
        u.extend(b.units);
        w.extend(b.warnings);
        e.extend(b.errors);
    }
    (u, w, e)
}

#[test]
fn oversize_message_is_streamed_through_its_hash_in_a_bounded_window() {
    let mut big = b"To: r@x.test\nSubject: big\n\n".to_vec();
    for i in 0..40_000 {
        // `From ` lines in the body that are not separators, and long lines.
        big.extend_from_slice(format!("From the desk {i}\n{}\n", "y".repeat(60)).as_bytes());
    }
    let mut m = b"From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\nsmall\n\n".to_vec();
    let big_at = m.len() as u64;
    m.extend_from_slice(b"From b@x Mon Jan  1 00:00:00 2024\n");
    m.extend_from_slice(&big);
    m.extend_from_slice(b"From c@x Mon Jan  1 00:00:00 2024\nTo: c@x\n\nx\n");
    let mut s = MboxSource::from_reader("-", Box::new(std::io::Cursor::new(m.clone())));
    s.max_window = 256 << 10;
    let (units, warnings, errors) = drain(&mut s);
    assert!(errors.is_empty());
    assert_eq!(units.len(), 3);
    let Unit::Header(h) = &units[1] else {
        panic!("the big message is streamed")
    };
    assert_eq!(h.header, b"To: r@x.test\nSubject: big\n");
    assert_eq!(
        h.sha256.as_deref(),
        Some(super::super::hex(&Sha256::digest(&big)).as_str())
    );
    assert_eq!(h.location.to_string(), format!("-#{big_at}"));
    assert!(warnings
        .iter()
        .any(|w| w.kind == WarningKind::OversizeMessageStreamed));
    // The whole-stream hash still covers every byte.
    assert_eq!(
        s.info().sha256,
        Some(super::super::hex(&Sha256::digest(&m)))
    );
    assert!(matches!(&units[2], Unit::Mbox { .. }));
}

#[test]
fn junk_without_separator_is_dropped_window_by_window() {
    let mut m = vec![0u8; 3 << 20];
    m.extend_from_slice(b"\nFrom a@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\nx\n");
    let mut s = MboxSource::from_reader("-", Box::new(std::io::Cursor::new(m)));
    s.max_window = 1 << 20;
    let (units, warnings, errors) = drain(&mut s);
    assert!(errors.is_empty());
    assert_eq!(units.len(), 1);
    assert!(warnings
        .iter()
        .all(|w| w.kind == WarningKind::MboxJunkBeforeFirstMessage));
    assert!(s.data.bytes.capacity() <= 4 << 20);
}

#[test]
fn a_file_truncated_while_read_is_an_error_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("shrinks.mbox");
    let mut m = Vec::new();
    for i in 0..100_000 {
        m.extend_from_slice(
            format!(
                "From x@y Mon Jan  1 00:00:00 2024\nTo: r{i}@example.org\n\n{}\n",
                "z".repeat(200)
            )
            .as_bytes(),
        );
    }
    std::fs::write(&p, &m).unwrap();
    let mut s = MboxSource::open(&p, false).unwrap();
    let first = s.next_batch().unwrap();
    assert!(!first.units.is_empty());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let (_, _, errors) = drain(&mut s);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("shrank"), "{}", errors[0]);
}

#[test]
fn a_failed_whole_file_hash_is_an_input_error() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.mbox");
    std::fs::write(&p, b"From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\nx\n").unwrap();
    let mut s = MboxSource::open(&p, false).unwrap();
    s.file_hash = Some(std::thread::spawn(|| {
        Err(std::io::Error::other("disk on fire"))
    }));
    let (units, _, errors) = drain(&mut s);
    assert_eq!(units.len(), 1);
    assert!(errors.is_empty());
    let info = s.info();
    assert_eq!(info.sha256, None);
    assert_eq!(info.errors.len(), 1);
    assert!(
        info.errors[0].message.contains("disk on fire"),
        "{}",
        info.errors[0]
    );
}

#[test]
fn stream_and_map_agree() {
    let mut m = Vec::new();
    for i in 0..5000 {
        m.extend_from_slice(
            format!(
                "From x@y Mon Jan  1 00:00:00 2024\nTo: r{i}@example.org\n\n{}\n",
                "z".repeat(i % 3000)
            )
            .as_bytes(),
        );
    }
    let mut s = MboxSource::from_reader("-", Box::new(std::io::Cursor::new(m.clone())));
    let mut n = 0;
    while let Some(b) = s.next_batch() {
        n += b.units.len();
    }
    assert_eq!(n, 5000);
    assert_eq!(s.info().size, m.len() as u64);
}
