//! mbox splitting: spans must tile the consumed bytes, in order, whatever the input.
#![no_main]
use bccaudit::source::mbox::{resume_point, split, split_from};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for at_eof in [true, false] {
        let s = split(data, true, at_eof, usize::MAX, usize::MAX);
        assert!(s.consumed <= data.len());
        let mut pos = s.junk.map_or(0, |(o, l)| o + l);
        for sp in &s.spans {
            assert!(sp.start >= pos, "overlap");
            assert!(sp.start <= sp.header_start && sp.header_start <= sp.end && sp.end <= data.len());
            pos = sp.end;
        }
        if at_eof {
            assert_eq!(s.consumed, data.len(), "everything is consumed at the end of input");
        }
    }
    // A stream cut anywhere gives a prefix of the messages of the whole input.
    if !data.is_empty() {
        let cut = (data[0] as usize * 257 + data.len() / 2) % data.len();
        let part = split(&data[..cut], true, false, usize::MAX, usize::MAX);
        let whole = split(data, true, true, usize::MAX, usize::MAX);
        let ends = |s: &bccaudit::source::mbox::Split| s.spans.iter().map(|sp| sp.end).collect::<Vec<_>>();
        let (p, w) = (ends(&part), ends(&whole));
        assert_eq!(&w[..p.len().min(w.len())], &p[..], "a stream split disagrees with the whole");
    }
    // Small windows must agree with one big one.
    let whole = split(data, true, true, usize::MAX, usize::MAX);
    let mut at = 0;
    let mut ends = Vec::new();
    let mut first = true;
    while at < data.len() {
        let s = split(&data[at..], first, true, 64, 3);
        if s.consumed == 0 {
            break;
        }
        ends.extend(s.spans.iter().map(|sp| sp.end + at));
        at += s.consumed;
        first = false;
    }
    assert_eq!(ends, whole.spans.iter().map(|sp| sp.end).collect::<Vec<_>>());
    // Bytes arriving a few at a time, each search resumed where the last stopped (as the
    // source reads), must agree with the whole too.
    let step = 1 + data.first().map_or(0, |&b| b as usize % 61);
    let (mut base, mut end, mut resume, mut first) = (0, 0, 0, true);
    let mut ends = Vec::new();
    while base < data.len() {
        end = (end + step).min(data.len());
        let eof = end == data.len();
        let s = split_from(&data[base..end], first, eof, usize::MAX, usize::MAX, resume);
        resume = if s.unfinished {
            resume_point(&data[base..end]).saturating_sub(s.consumed)
        } else {
            0
        };
        first &= s.consumed == 0;
        ends.extend(s.spans.iter().map(|sp| sp.end + base));
        base += s.consumed;
        if eof && s.consumed == 0 {
            break;
        }
    }
    assert_eq!(ends, whole.spans.iter().map(|sp| sp.end).collect::<Vec<_>>());
});
