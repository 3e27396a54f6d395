//! Header-block extraction and the few header fields detection needs.
//!
//! Works on raw bytes: no UTF-8 assumption, no copy of the body, tolerant of CRLF, CR-only and
//! LF line ends, of NUL bytes and of lines that are not headers at all.

use memchr::memchr;

/// Largest header block we parse. A longer one (no blank line for 16 MiB) is cut and warned about.
pub const MAX_HEADER_BLOCK: usize = 16 * 1024 * 1024;

/// The line terminator a message uses, judged by its first line: bare CR (old Mac exports) or LF
/// (with or without a CR before it).
pub fn line_sep(msg: &[u8]) -> u8 {
    match memchr::memchr2(b'\n', b'\r', msg) {
        Some(i) if msg[i] == b'\r' && msg.get(i + 1) != Some(&b'\n') && i + 1 < msg.len() => b'\r',
        _ => b'\n',
    }
}

/// Where the header block of `msg` ends: (end of header bytes, start of body, block_terminated).
///
/// The header block ends at the first empty line. When there is none, the whole message (capped
/// at [`MAX_HEADER_BLOCK`]) is the header block and `terminated` is false.
pub fn header_end(msg: &[u8]) -> (usize, usize, bool) {
    let limit = msg.len().min(MAX_HEADER_BLOCK);
    let hay = &msg[..limit];
    let sep = line_sep(hay);
    let mut pos = 0;
    loop {
        // `pos` is at the start of a line: is it empty?
        match hay.get(pos) {
            None => return (limit, limit, false),
            Some(&b) if b == sep => return (pos, pos + 1, true),
            Some(b'\r') if sep == b'\n' && hay.get(pos + 1) == Some(&b'\n') => {
                return (pos, pos + 2, true)
            }
            _ => {}
        }
        match memchr(sep, &hay[pos..]) {
            Some(i) => pos += i + 1,
            None => return (limit, limit, false),
        }
    }
}

/// Header fields bccaudit reads. Everything else is skipped without being copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    To,
    Cc,
    Bcc,
    ResentTo,
    ResentCc,
    ResentBcc,
    From,
    Sender,
    Date,
    Subject,
    MessageId,
    InReplyTo,
    References,
    ContentLength,
}

impl Field {
    pub fn from_name(name: &[u8]) -> Option<Field> {
        // Fast reject by length before any case folding.
        let f = match name.len() {
            2 if name.eq_ignore_ascii_case(b"to") => Field::To,
            2 if name.eq_ignore_ascii_case(b"cc") => Field::Cc,
            3 if name.eq_ignore_ascii_case(b"bcc") => Field::Bcc,
            4 if name.eq_ignore_ascii_case(b"from") => Field::From,
            4 if name.eq_ignore_ascii_case(b"date") => Field::Date,
            6 if name.eq_ignore_ascii_case(b"sender") => Field::Sender,
            7 if name.eq_ignore_ascii_case(b"subject") => Field::Subject,
            9 if name.eq_ignore_ascii_case(b"resent-to") => Field::ResentTo,
            9 if name.eq_ignore_ascii_case(b"resent-cc") => Field::ResentCc,
            10 if name.eq_ignore_ascii_case(b"resent-bcc") => Field::ResentBcc,
            10 if name.eq_ignore_ascii_case(b"message-id") => Field::MessageId,
            10 if name.eq_ignore_ascii_case(b"references") => Field::References,
            11 if name.eq_ignore_ascii_case(b"in-reply-to") => Field::InReplyTo,
            14 if name.eq_ignore_ascii_case(b"content-length") => Field::ContentLength,
            _ => return None,
        };
        Some(f)
    }
}

/// One header field of interest: its kind, its raw (still folded) value, and its byte offset
/// inside the header block.
#[derive(Debug, Clone)]
pub struct RawField<'a> {
    pub field: Field,
    pub value: &'a [u8],
    pub offset: usize,
}

/// The result of walking a header block.
#[derive(Debug, Default)]
pub struct HeaderScan<'a> {
    pub fields: Vec<RawField<'a>>,
    /// Lines that are neither `Name: value` nor a continuation (counted, then ignored).
    pub malformed_lines: usize,
    /// Offset of the first malformed line, for the warning's location.
    pub first_malformed: Option<usize>,
}

/// Walk a header block, returning the fields of interest with their folded raw values.
///
/// A line counts as a header when it has a colon preceded by a non-empty run of printable
/// ASCII without spaces (a space before the colon, `To : x`, is tolerated as obsolete syntax).
pub fn scan_fields(block: &[u8]) -> HeaderScan<'_> {
    let mut out = HeaderScan::default();
    let mut pos = 0;
    let mut current: Option<(Field, usize, usize)> = None; // field, value start, offset
    let n = block.len();
    let sep = line_sep(block);
    while pos < n {
        let line_end = next_line_end(block, pos, sep);
        let line = &block[pos..line_end];
        let first = line.first().copied();
        if matches!(first, Some(b' ') | Some(b'\t')) {
            // Continuation of the previous field: nothing to do, its value extends.
        } else {
            if let Some((field, vstart, off)) = current.take() {
                out.fields.push(RawField {
                    field,
                    value: trim_line_end(&block[vstart..pos]),
                    offset: off,
                });
            }
            match split_name(line) {
                Some((name, vstart)) => {
                    if let Some(field) = Field::from_name(name) {
                        current = Some((field, pos + vstart, pos));
                    }
                }
                None => {
                    let blank = line.iter().all(|b| matches!(b, b'\r' | b'\n'));
                    // An mbox "From " line at the very start, or ">From " lines, are not headers
                    // but are not damage either.
                    if !(blank || pos == 0 && line.starts_with(b"From ")) {
                        out.malformed_lines += 1;
                        out.first_malformed.get_or_insert(pos);
                    }
                }
            }
        }
        pos = line_end;
    }
    if let Some((field, vstart, off)) = current.take() {
        out.fields.push(RawField {
            field,
            value: trim_line_end(&block[vstart..n]),
            offset: off,
        });
    }
    out
}

/// End (exclusive, after the terminator) of the line starting at `pos`.
fn next_line_end(buf: &[u8], pos: usize, sep: u8) -> usize {
    memchr(sep, &buf[pos..]).map_or(buf.len(), |i| pos + i + 1)
}

fn trim_line_end(v: &[u8]) -> &[u8] {
    let mut end = v.len();
    while end > 0 && matches!(v[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &v[..end]
}

/// `Name: value` → (name, offset of value inside the line).
fn split_name(line: &[u8]) -> Option<(&[u8], usize)> {
    let colon = memchr(b':', line)?;
    let mut name = &line[..colon];
    while let [rest @ .., b' ' | b'\t'] = name {
        name = rest;
    }
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
        return None;
    }
    Some((name, colon + 1))
}

/// True when `buf` starts with something that looks like a header line (`Name:`), which is how
/// a message file and a genuine mbox separator are recognised.
pub fn starts_with_header_line(buf: &[u8]) -> bool {
    let buf = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let end = memchr::memchr2(b'\n', b'\r', buf).unwrap_or(buf.len());
    split_name(&buf[..end]).is_some()
}

/// Unfold a folded header value: CRLF/LF/CR followed by whitespace becomes that whitespace.
pub fn unfold(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr2(b'\n', b'\r', v).is_none() {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        if b != b'\r' && b != b'\n' {
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_end_lf_crlf_and_missing() {
        assert_eq!(header_end(b"To: a\nCc: b\n\nbody"), (12, 13, true));
        assert_eq!(header_end(b"To: a\r\nCc: b\r\n\r\nbody"), (14, 16, true));
        assert_eq!(header_end(b"To: a\nCc: b"), (11, 11, false));
        assert_eq!(header_end(b"\nbody"), (0, 1, true));
    }

    #[test]
    fn header_end_cr_only() {
        let m = b"To: a\rCc: b\r\rbody";
        let (h, b, t) = header_end(m);
        assert!(t);
        assert_eq!(&m[b..], b"body");
        assert_eq!(&m[..h], b"To: a\rCc: b\r");
    }

    #[test]
    fn fields_in_any_case_and_folded() {
        let block = b"From: x@example.org\nTO: a@example.org,\n b@example.org\ncc: c@example.org\nCC: d@example.org\nX-To: nobody\nSubject: hi\n";
        let s = scan_fields(block);
        let kinds: Vec<_> = s.fields.iter().map(|f| f.field).collect();
        assert_eq!(
            kinds,
            vec![Field::From, Field::To, Field::Cc, Field::Cc, Field::Subject]
        );
        assert_eq!(
            &*unfold(s.fields[1].value),
            b" a@example.org, b@example.org"
        );
        assert_eq!(s.malformed_lines, 0);
    }

    #[test]
    fn malformed_lines_are_counted_not_fatal() {
        let s = scan_fields(b"To: a@example.org\n\x00\x01garbage\nCc: b@example.org\n");
        assert_eq!(s.malformed_lines, 1);
        assert_eq!(s.fields.len(), 2);
    }

    #[test]
    fn header_line_detection() {
        assert!(starts_with_header_line(b"Return-Path: <x@y>\n"));
        assert!(starts_with_header_line(b"To : a@b\n"));
        assert!(starts_with_header_line(b"\xef\xbb\xbfTo: a@b\n"));
        assert!(!starts_with_header_line(b"Hello there: friend\n"));
        assert!(!starts_with_header_line(b"\nTo: x"));
        assert!(!starts_with_header_line(
            b"From x@y Sat Jan  1 00:00:00 2000\n"
        ));
    }
}
