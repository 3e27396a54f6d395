//! Where mbox messages begin and end: separators (`From ` followed by a header line), and
//! `Content-Length` (mboxcl2) trusted only when it cannot hide a message.

use memchr::memmem;

use crate::parse::header::{self, Field};
use crate::source::Span;

/// Aim for batches of about this many bytes …
pub const BATCH_BYTES: usize = 8 << 20;
/// … or this many messages, whichever comes first.
pub const BATCH_MESSAGES: usize = 2048;

pub(super) const BOM: &[u8] = b"\xef\xbb\xbf";

/// A `Content-Length` header is looked for in this many bytes after the separator.
const CONTENT_LENGTH_WINDOW: usize = 256 << 10;

/// The result of splitting a window.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub spans: Vec<Span>,
    /// Bytes of the window consumed (the next call starts here).
    pub consumed: usize,
    /// (offset, length) of bytes before the first message that are not a message.
    pub junk: Option<(usize, usize)>,
    /// Offsets of messages whose `Content-Length` was not trusted because the bytes it would
    /// skip hold another whole message.
    pub length_disagrees: Vec<usize>,
    /// The message at `consumed` was searched to the end of the window for its end, in vain:
    /// given more bytes, that search may resume at [`resume_point`] (less `consumed`).
    pub unfinished: bool,
}

/// Where the search for an unfinished message's end may resume once more bytes follow `data`:
/// a candidate separator is judged by its own line and the start of the next, so candidates on
/// the last two lines (one of them cut by the end of `data`) are judged again.
pub fn resume_point(data: &[u8]) -> usize {
    let last = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
    if last == 0 {
        return 0;
    }
    memchr::memrchr(b'\n', &data[..last - 1]).map_or(0, |i| i + 1)
}

/// Split the messages at the start of `data`.
///
/// `data` starts at a message start (or at the beginning of the input, `first`). With
/// `at_eof` false, the last message is only returned when its end is known (a following
/// separator was seen); the caller supplies more bytes otherwise.
pub fn split(data: &[u8], first: bool, at_eof: bool, max_bytes: usize, max_msgs: usize) -> Split {
    split_from(data, first, at_eof, max_bytes, max_msgs, 0)
}

/// [`split`], knowing that the message at the start of `data` has no separator before
/// `resume` (an earlier call searched those bytes: see [`Split::unfinished`]). Without it, a
/// 10 MB message read 8 MB at a time was searched again from its start at every read.
pub fn split_from(
    data: &[u8],
    first: bool,
    at_eof: bool,
    max_bytes: usize,
    max_msgs: usize,
    resume: usize,
) -> Split {
    let mut out = Split::default();
    let mut pos = 0;
    if first {
        if data.starts_with(BOM) {
            pos = BOM.len();
        }
        if !data[pos..].starts_with(b"From ") && !header::starts_with_header_line(&data[pos..]) {
            // Junk before the first separator.
            match next_separator(data, pos) {
                Some(s) => {
                    out.junk = Some((pos, s - pos));
                    pos = s;
                }
                None if at_eof => {
                    if data.len() > pos {
                        out.junk = Some((pos, data.len() - pos));
                    }
                    out.consumed = data.len();
                    return out;
                }
                None => return out,
            }
        }
    }
    while pos < data.len() && out.spans.len() < max_msgs && pos < max_bytes.max(1) {
        let start = pos;
        let header_start = if data[start..].starts_with(b"From ") {
            line_end(data, start)
        } else {
            start
        };
        let from = if start == 0 {
            header_start.max(resume)
        } else {
            header_start
        };
        let next = next_separator(data, from);
        let end = match (next, at_eof) {
            (Some(n), _) => match content_length_end(data, header_start, n, at_eof) {
                Declared::End(e) => e,
                Declared::Ignore => n,
                Declared::Disagrees => {
                    out.length_disagrees.push(start);
                    n
                }
                Declared::NeedMore => break,
            },
            (None, true) => match content_length_end(data, header_start, data.len(), true) {
                Declared::End(e) => e,
                Declared::Disagrees => {
                    out.length_disagrees.push(start);
                    data.len()
                }
                _ => data.len(),
            },
            (None, false) => {
                out.unfinished = true;
                break;
            }
        };
        out.spans.push(Span {
            start,
            header_start,
            end,
        });
        pos = end;
    }
    out.consumed = pos;
    out
}

/// End (after the terminator) of the line starting at `pos`.
pub(super) fn line_end(data: &[u8], pos: usize) -> usize {
    match memchr::memchr2(b'\n', b'\r', &data[pos..]) {
        None => data.len(),
        Some(i) if data[pos + i] == b'\r' && data.get(pos + i + 1) == Some(&b'\n') => pos + i + 2,
        Some(i) => pos + i + 1,
    }
}

/// The next valid separator at or after `from` (which is inside a message), if any.
pub fn next_separator(data: &[u8], from: usize) -> Option<usize> {
    static FROM: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"From "));
    let finder = &*FROM;
    let mut at = from;
    while at < data.len() {
        let i = at + finder.find(&data[at..])?;
        if i > 0 && matches!(data[i - 1], b'\n' | b'\r') && i >= from.max(1) {
            let next_line = line_end(data, i);
            if header::starts_with_header_line(&data[next_line..]) {
                return Some(i);
            }
        }
        at = i + 1;
    }
    None
}

/// What a `Content-Length` header says about where a message ends.
enum Declared {
    /// It ends here (the length lands on a separator or the end of input).
    End(usize),
    /// No usable Content-Length: the next separator decides.
    Ignore,
    /// A Content-Length that lands on a separator but would swallow a whole message on the
    /// way: not trusted (the next separator decides), and warned about.
    Disagrees,
    /// The length reaches past the bytes at hand: read more, then decide.
    NeedMore,
}

/// Content-Length beyond this many bytes past the window is not waited for (a hostile length
/// must not make a stream buffer grow without bound).
const CONTENT_LENGTH_WAIT_LIMIT: usize = 64 << 20;

/// Bytes past a declared body end needed to see the separator line and the header line after it.
pub(super) const LANDING_LOOKAHEAD: usize = 64 << 10;

/// mboxcl2: when the header block has a `Content-Length` whose body end lands on a separator
/// (or the end of input), the message ends there, even if `From ` lines inside the body looked
/// like separators.
fn content_length_end(data: &[u8], header_start: usize, next: usize, at_eof: bool) -> Declared {
    match declared_end(data, header_start, next) {
        None => Declared::Ignore,
        // The separator that should follow the body must be wholly at hand to be judged.
        Some(end) if !at_eof && end + LANDING_LOOKAHEAD >= data.len() => {
            if end <= data.len() + CONTENT_LENGTH_WAIT_LIMIT {
                Declared::NeedMore
            } else {
                Declared::Ignore
            }
        }
        Some(end) => match landing(data, end, at_eof) {
            None => Declared::Ignore,
            Some(e) if e > next && swallows_a_message(data, next, e) => Declared::Disagrees,
            Some(e) => Declared::End(e),
        },
    }
}

/// Bytes a message's header block may take when judging whether a `From ` line covered by a
/// `Content-Length` starts a real message.
const COVERED_HEADER_WINDOW: usize = 64 << 10;

/// Does `data[from..to]` hold a line that would itself start a valid message: a separator
/// followed by a whole, well-formed header block? Only then can a `Content-Length` be wrong
/// (a `From ` line quoted in a body is followed by text, not by a clean header block).
fn swallows_a_message(data: &[u8], from: usize, to: usize) -> bool {
    let mut s = Some(from);
    while let Some(at) = s.filter(|&a| a < to) {
        let h = line_end(data, at);
        let block = &data[h..data.len().min(h + COVERED_HEADER_WINDOW)];
        let (hl, _, terminated) = header::header_end(block);
        if terminated && hl > 0 && header::scan_fields(&block[..hl]).malformed_lines == 0 {
            return true;
        }
        s = next_separator(data, at + 1);
    }
    false
}

/// End of the body a `Content-Length` header declares, when it differs from `next`.
fn declared_end(data: &[u8], header_start: usize, next: usize) -> Option<usize> {
    static LENGTH: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"ength:"));
    let msg = &data[header_start..];
    // Cheap gate: no "…ength:" in the first bytes, no Content-Length header to honour.
    let window = &msg[..msg
        .len()
        .min(next - header_start)
        .min(CONTENT_LENGTH_WINDOW)];
    if LENGTH.find(window).is_none() && memmem::find(window, b"ENGTH:").is_none() {
        return None;
    }
    let (hend, body, terminated) = header::header_end(msg);
    if !terminated {
        return None;
    }
    let scan = header::scan_fields(&msg[..hend]);
    let len = scan
        .fields
        .iter()
        .find(|f| f.field == Field::ContentLength)
        .and_then(|f| {
            std::str::from_utf8(f.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })?;
    let end = header_start.checked_add(body)?.checked_add(len)?;
    (end != next).then_some(end)
}

/// Where a message declared to end at `end` really ends: there (or after the blank line mbox
/// writers add), if a separator or the end of input follows.
fn landing(data: &[u8], end: usize, at_eof: bool) -> Option<usize> {
    for slack in [0usize, 1, 2] {
        let e = end + slack;
        if e == data.len() && at_eof {
            return Some(e);
        }
        if e < data.len()
            && data[e..].starts_with(b"From ")
            && header::starts_with_header_line(&data[line_end(data, e)..])
        {
            return Some(e);
        }
    }
    None
}

/// The messages `split` finds in a whole input (for tests).
#[cfg(test)]
pub(super) fn messages_of(data: &[u8]) -> Vec<&[u8]> {
    let s = split(data, true, true, usize::MAX, usize::MAX);
    s.spans
        .iter()
        .map(|sp| &data[sp.header_start..sp.end])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::messages_of as msgs;

    /// Split `data` as the source does, `step` bytes arriving at a time, resuming searches:
    /// (start, header_start, end) of every message, absolute.
    fn incremental(data: &[u8], step: usize) -> Vec<(usize, usize, usize)> {
        let (mut base, mut end, mut resume, mut first) = (0, 0, 0, true);
        let mut out = Vec::new();
        while base < data.len() {
            end = (end + step).min(data.len());
            let eof = end == data.len();
            let window = &data[base..end];
            let sp = split_from(window, first, eof, usize::MAX, usize::MAX, resume);
            resume = if sp.unfinished {
                resume_point(window).saturating_sub(sp.consumed)
            } else {
                0
            };
            if sp.consumed > 0 {
                first = false;
            }
            out.extend(
                sp.spans
                    .iter()
                    .map(|s| (base + s.start, base + s.header_start, base + s.end)),
            );
            base += sp.consumed;
            if eof && sp.consumed == 0 {
                break;
            }
        }
        out
    }

    #[test]
    fn a_resumed_search_finds_what_a_whole_search_finds() {
        let mut m = Vec::new();
        for i in 0..40 {
            let nl: &[u8] = if i % 3 == 0 { b"\r\n" } else { b"\n" };
            let line = |m: &mut Vec<u8>, t: &str| {
                m.extend_from_slice(t.as_bytes());
                m.extend_from_slice(nl);
            };
            line(&mut m, &format!("From s{i}@x Mon Jan  1 00:00:00 2024"));
            line(&mut m, &format!("To: r{i}@example.org"));
            if i % 5 == 0 {
                line(&mut m, "Content-Length: 12");
            }
            line(&mut m, "");
            line(&mut m, "From here on a body line, not a separator");
            line(&mut m, ">From quoted");
            line(&mut m, &"x".repeat(i * 37));
            if i % 7 == 0 {
                // A From line followed by something that only looks like a header once whole.
                line(&mut m, "From nobody");
                line(&mut m, "Subject: this is body text");
            }
            line(&mut m, "");
        }
        let whole: Vec<(usize, usize, usize)> = split(&m, true, true, usize::MAX, usize::MAX)
            .spans
            .iter()
            .map(|s| (s.start, s.header_start, s.end))
            .collect();
        assert!(whole.len() >= 40, "{}", whole.len());
        for step in (1..80).chain([97, 500, 4096]) {
            assert_eq!(incremental(&m, step), whole, "step {step}");
        }
    }

    #[test]
    fn splits_mboxo_and_keeps_from_in_body() {
        let m = b"From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\nbody\nFrom here on, no header\n\nFrom b@x Mon Jan  1 00:00:00 2024\nTo: b@x\n\nb2\n";
        let v = msgs(m);
        assert_eq!(v.len(), 2);
        assert!(v[0].ends_with(b"From here on, no header\n\n"));
        assert_eq!(v[1], b"To: b@x\n\nb2\n");
    }

    #[test]
    fn crlf_bom_and_mboxrd() {
        let m = b"\xef\xbb\xbfFrom a@x Mon Jan  1 00:00:00 2024\r\nTo: a@x\r\n\r\n>From x\r\n\r\nFrom b@x Mon Jan  1 00:00:00 2024\r\nTo: b@x\r\n\r\n";
        let v = msgs(m);
        assert_eq!(v.len(), 2);
        assert!(v[0].starts_with(b"To: a@x\r\n"));
    }

    #[test]
    fn content_length_that_would_swallow_a_message_is_not_trusted() {
        // The first message's Content-Length points exactly at the third separator: the
        // exposing message between would vanish without a word.
        let second =
            b"From b@x Mon Jan  1 00:00:00 2024\nTo: many@x.test\nSubject: exposing\n\nhello\n\n";
        let body = b"hi\n\n";
        let mut m = format!(
            "From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\nContent-Length: {}\n\n",
            body.len() + second.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        m.extend_from_slice(second);
        m.extend_from_slice(b"From c@x Mon Jan  1 00:00:00 2024\nTo: c@x\n\nx\n");
        let s = split(&m, true, true, usize::MAX, usize::MAX);
        assert_eq!(s.spans.len(), 3);
        assert_eq!(s.length_disagrees, vec![0]);
        assert!(msgs(&m)[1].starts_with(b"To: many@x.test"));
    }

    #[test]
    fn content_length_wins_over_from_lines_it_covers() {
        let body = b"From lies@x Mon Jan  1 00:00:00 2024\nSubject: not a header\nand this is body text\n\n";
        let mut m = format!(
            "From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\nContent-Length: {}\n\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        m.extend_from_slice(b"\nFrom b@x Mon Jan  1 00:00:00 2024\nTo: b@x\n\nx\n");
        assert_eq!(msgs(&m).len(), 2);
        // A Content-Length that does not land on a separator is ignored.
        let m2 = b"From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\nContent-Length: 3\n\nhello\n\nFrom b@x Mon Jan  1 00:00:00 2024\nTo: b@x\n\n";
        assert_eq!(msgs(m2).len(), 2);
    }

    #[test]
    fn junk_before_first_message_and_truncation() {
        let m = b"garbage\x00\x01\nFrom a@x Mon Jan  1 00:00:00 2024\nTo: a@x\nCc: b@";
        let s = split(m, true, true, usize::MAX, usize::MAX);
        assert_eq!(s.junk, Some((0, 10)));
        assert_eq!(s.spans.len(), 1);
        assert_eq!(s.consumed, m.len());
    }

    #[test]
    fn gmail_takeout_separators() {
        let m = b"From 1784556201939491823@xxx Sun Nov 03 10:00:00 +0000 2024\r\nX-GM-THRID: 1784556201939491823\r\nX-Gmail-Labels: Sent\r\nTo: a@x\r\n\r\nbody\r\n\r\nFrom 1784556201939491824@xxx Sun Nov 03 11:00:00 +0000 2024\r\nX-GM-THRID: 1\r\nTo: b@x\r\n\r\n";
        let v = msgs(m);
        assert_eq!(v.len(), 2);
        assert!(v[1].starts_with(b"X-GM-THRID: 1\r\n"));
    }

    #[test]
    fn cr_only_mbox() {
        let m = b"From a@x Mon Jan  1 00:00:00 2024\rTo: a@x\r\rbody\r\rFrom b@x Mon Jan  1 00:00:00 2024\rTo: b@x\r\rbody\r";
        let v = msgs(m);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], b"To: b@x\r\rbody\r");
    }

    #[test]
    fn partial_window_waits_for_more() {
        let m = b"From a@x Mon Jan  1 00:00:00 2024\nTo: a@x\n\nbody";
        let s = split(m, true, false, usize::MAX, usize::MAX);
        assert!(s.spans.is_empty());
        assert_eq!(s.consumed, 0);
    }
}
