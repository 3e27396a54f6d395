//! A tolerant RFC 5322 address-list parser.
//!
//! Unlike `mailparse::addrparse_header`, one bad entry never loses the rest of the header: every
//! entry is parsed on its own; valid ones are returned, broken ones are reported with why.
//! Groups (`Team: a@x, b@y;`) yield their members; empty groups (`undisclosed-recipients:;`)
//! yield nobody. Encoded words are atoms while splitting (so `=?UTF-8?Q?Smith=2C_Jane?=` is one
//! name) and are decoded afterwards, only when a name is wanted ([`decode_phrase`]).

use crate::warning::WarningKind;
use std::ops::Range;

/// One recipient as found in a header: normalised address and the raw bytes of its display name
/// (a range into the header value given to [`parse_address_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub addr: String,
    pub name: Option<Range<usize>>,
}

/// Why an entry of an address list could not be (fully) used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No address in the entry at all (`Carl Knoos`, or the `Doe` of an unquoted `Doe, John <…>`).
    NoAddress,
    /// Something looked like an address but is not one (`a@`, `@b`, control characters…).
    InvalidAddress,
    /// `<` with no `>`: the address was salvaged.
    UnclosedAngle,
    /// An address written among display-name words without angle brackets: salvaged.
    BareAddressInPhrase,
    /// Unbalanced quote or comment: the rest of the header was read as best as possible.
    Unbalanced,
    /// An unbracketed address cut in two by a line fold (`devicet<CRLF> ree@vger.kernel.org`):
    /// the pieces were joined.
    JoinedAcrossFold,
}

impl Problem {
    /// The warning it is reported as.
    pub fn kind(self) -> WarningKind {
        match self {
            Problem::NoAddress => WarningKind::NoAddress,
            Problem::InvalidAddress => WarningKind::InvalidAddress,
            Problem::UnclosedAngle => WarningKind::UnclosedAngle,
            Problem::BareAddressInPhrase => WarningKind::BareAddressInPhrase,
            Problem::Unbalanced => WarningKind::Unbalanced,
            Problem::JoinedAcrossFold => WarningKind::JoinedAcrossFold,
        }
    }
    /// Salvaged problems still produced an address.
    pub fn salvaged(self) -> bool {
        matches!(
            self,
            Problem::UnclosedAngle | Problem::BareAddressInPhrase | Problem::JoinedAcrossFold
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub problem: Problem,
    /// Byte offset of the entry inside the header value.
    pub at: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AddressList {
    pub mailboxes: Vec<Mailbox>,
    pub broken: Vec<Broken>,
}

/// State of the entry being read.
#[derive(Default)]
struct Entry {
    start: Option<usize>,
    /// Phrase tokens (atoms and quoted strings), as ranges.
    words: Vec<Range<usize>>,
    /// True when the last phrase token was directly followed by the next (no whitespace): used
    /// to glue `"john doe"@example.org` or `a.b@c` back into one word.
    glued: Vec<bool>,
    /// True when the whitespace before the word was exactly one line fold (`CRLF` + one space or
    /// tab, nothing else): a writer that wraps at a fixed width may have cut a token there.
    fold_before: Vec<bool>,
    angle: Option<Range<usize>>,
    angle_unclosed: bool,
    comment: Option<Range<usize>>,
    unbalanced: bool,
}

const SPECIALS: &[u8] = b"\"(),:;<>";

/// Parse one address-list header value (raw bytes, folded or unfolded).
pub fn parse_address_list(v: &[u8]) -> AddressList {
    let mut out = AddressList::default();
    let mut e = Entry::default();
    let mut i = 0;
    let n = v.len();
    let mut last_was_ws = true;
    // Start of the current run of whitespace, if the previous byte was whitespace.
    let mut ws_from: Option<usize> = None;
    while i < n {
        let b = v[i];
        let fold = ws_from.is_some_and(|w| is_single_fold(&v[w..i]));
        if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            ws_from = None;
        }
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                ws_from.get_or_insert(i);
                last_was_ws = true;
                i += 1;
                continue;
            }
            b'"' => {
                let (end, closed) = skip_quoted(v, i);
                e.unbalanced |= !closed;
                push_word(&mut e, i..end, last_was_ws, false);
                i = end;
            }
            b'(' => {
                let (end, closed) = skip_comment(v, i);
                e.unbalanced |= !closed;
                e.start.get_or_insert(i);
                if e.comment.is_none() {
                    e.comment = Some(i + 1..end.saturating_sub(usize::from(closed)).max(i + 1));
                }
                i = end;
                // A comment separates words like whitespace does.
                last_was_ws = true;
                continue;
            }
            b'<' => {
                e.start.get_or_insert(i);
                let (end, closed) = skip_angle(v, i);
                if e.angle.is_none() {
                    let inner_end = if closed { end - 1 } else { end };
                    e.angle = Some(i + 1..inner_end);
                    e.angle_unclosed = !closed;
                }
                i = end;
            }
            b',' => {
                finish(v, &mut e, &mut out);
                i += 1;
            }
            b';' => {
                finish(v, &mut e, &mut out);
                i += 1;
            }
            b':' => {
                // Group start: what was read so far is the group's name, not an address.
                if e.angle.is_none() {
                    e = Entry::default();
                } else {
                    // A colon after an angle address: stray; ignore it.
                }
                i += 1;
            }
            b'>' => {
                // Stray closing bracket: ignore.
                i += 1;
            }
            b')' => {
                // Stray closing parenthesis: ignore.
                i += 1;
            }
            _ => {
                let start = i;
                while i < n
                    && !SPECIALS.contains(&v[i])
                    && !matches!(v[i], b' ' | b'\t' | b'\r' | b'\n')
                {
                    i += 1;
                }
                push_word(&mut e, start..i, last_was_ws, fold);
                last_was_ws = false;
                continue;
            }
        }
        last_was_ws = false;
    }
    finish(v, &mut e, &mut out);
    out
}

fn push_word(e: &mut Entry, r: Range<usize>, after_ws: bool, after_fold: bool) {
    e.start.get_or_insert(r.start);
    e.glued.push(!after_ws && !e.words.is_empty());
    e.fold_before.push(after_fold);
    e.words.push(r);
}

/// Exactly one line fold: a line break followed by one space or tab.
fn is_single_fold(ws: &[u8]) -> bool {
    matches!(ws, b"\n " | b"\n\t" | b"\r\n " | b"\r\n\t")
}

/// Skip a quoted string starting at `i` (which holds `"`); returns (end, closed).
fn skip_quoted(v: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    while j < v.len() {
        match v[j] {
            b'\\' => j += 2,
            b'"' => return (j + 1, true),
            _ => j += 1,
        }
    }
    (v.len(), false)
}

/// Skip a (nested) comment starting at `i` (which holds `(`); returns (end, closed).
fn skip_comment(v: &[u8], i: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while j < v.len() {
        match v[j] {
            b'\\' => j += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (j + 1, true);
                }
            }
            _ => {}
        }
        j += 1;
    }
    (v.len(), false)
}

/// Skip an angle address starting at `i` (which holds `<`); returns (end, closed). A missing `>`
/// ends the address at the next `,` or `;` (or `<`), except inside an obsolete route (`<@a,@b:x@y>`).
fn skip_angle(v: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut in_route = v.get(j) == Some(&b'@');
    while j < v.len() {
        match v[j] {
            b'>' => return (j + 1, true),
            b':' if in_route => in_route = false,
            b'"' => {
                j = skip_quoted(v, j).0;
                continue;
            }
            b'(' => {
                j = skip_comment(v, j).0;
                continue;
            }
            b',' | b';' | b'<' if !in_route => return (j, false),
            _ => {}
        }
        j += 1;
    }
    (v.len(), false)
}

fn finish(v: &[u8], e: &mut Entry, out: &mut AddressList) {
    let entry = std::mem::take(e);
    let Some(at) = entry.start else { return };
    if entry.unbalanced {
        out.broken.push(Broken {
            problem: Problem::Unbalanced,
            at,
        });
    }
    let phrase = phrase_range(&entry);
    if let Some(angle) = entry.angle.clone() {
        match normalize(&v[angle]) {
            Some(addr) => {
                if entry.angle_unclosed {
                    out.broken.push(Broken {
                        problem: Problem::UnclosedAngle,
                        at,
                    });
                }
                out.mailboxes.push(Mailbox {
                    addr,
                    name: phrase.or(entry.comment),
                });
            }
            None => out.broken.push(Broken {
                problem: Problem::InvalidAddress,
                at,
            }),
        }
        return;
    }
    // No angle brackets: the phrase should be one addr-spec (possibly made of glued words,
    // like `"john doe"@example.org`).
    let groups = glued_groups(v, &entry);
    if groups.is_empty() {
        // Only a comment (`unlisted-recipients:; (no To-header on input)`): nothing to read.
        return;
    }
    if let Some(addr) = joined_across_fold(v, &entry, &groups) {
        out.broken.push(Broken {
            problem: Problem::JoinedAcrossFold,
            at,
        });
        out.mailboxes.push(Mailbox {
            addr,
            name: entry.comment,
        });
        return;
    }
    if groups.len() == 1 {
        let r = groups[0].clone();
        if memchr::memchr(b'@', &v[r.clone()]).is_some() {
            match normalize(&v[r]) {
                Some(addr) => out.mailboxes.push(Mailbox {
                    addr,
                    name: entry.comment,
                }),
                None => out.broken.push(Broken {
                    problem: Problem::InvalidAddress,
                    at,
                }),
            }
        } else {
            out.broken.push(Broken {
                problem: Problem::NoAddress,
                at,
            });
        }
        return;
    }
    // Several words and no angle brackets: salvage a word that is an address.
    let found = groups
        .iter()
        .rev()
        .find_map(|r| {
            let w = &v[r.clone()];
            (memchr::memchr(b'@', w).is_some()).then(|| normalize(w).map(|a| (a, r.clone())))
        })
        .flatten();
    match found {
        Some((addr, r)) => {
            out.broken.push(Broken {
                problem: Problem::BareAddressInPhrase,
                at,
            });
            let name = groups.first().filter(|g| g.start < r.start).map(|g| {
                g.start
                    ..groups
                        .iter()
                        .filter(|x| x.end <= r.start)
                        .map(|x| x.end)
                        .max()
                        .unwrap_or(g.end)
            });
            out.mailboxes.push(Mailbox { addr, name });
        }
        None => out.broken.push(Broken {
            problem: Problem::NoAddress,
            at,
        }),
    }
}

/// `devicet<fold>ree@vger.kernel.org`: two bare words, the second an address, the first not,
/// with exactly one line fold and nothing else between them, is one address that a writer
/// wrapping at a fixed width cut in two. (A name before a bare address is written with a space,
/// `John j@x`; a quoted or encoded name is never joined.)
fn joined_across_fold(v: &[u8], e: &Entry, groups: &[Range<usize>]) -> Option<String> {
    if groups.len() != 2 || e.words.len() != 2 || !e.fold_before[1] {
        return None;
    }
    let (a, b) = (&v[groups[0].clone()], &v[groups[1].clone()]);
    if a.contains(&b'@') || !b.contains(&b'@') || a.starts_with(b"\"") || a.starts_with(b"=?") {
        return None;
    }
    let mut joined = a.to_vec();
    joined.extend_from_slice(b);
    normalize(&joined)
}

fn phrase_range(e: &Entry) -> Option<Range<usize>> {
    let first = e.words.first()?;
    let last = e.words.last()?;
    Some(first.start..last.end)
}

/// Words joined where no whitespace separated them, or where a `.` or `@` at the seam shows
/// they are one addr-spec written with obsolete spacing (`jdoe@test . example`, `a @ b.org`).
/// A word merely ending in `.` (`Dr. j@x.test`) is not glued: that is a name.
fn glued_groups(v: &[u8], e: &Entry) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut prev: Option<Range<usize>> = None;
    for (w, &glued) in e.words.iter().zip(&e.glued) {
        let p = prev.as_ref().map_or(&b""[..], |p| &v[p.clone()]);
        let seam = p == b"." || p.ends_with(b"@") || matches!(v[w.start], b'.' | b'@');
        match out.last_mut() {
            Some(last) if glued || seam => last.end = w.end,
            _ => out.push(w.clone()),
        }
        prev = Some(w.clone());
    }
    out
}

/// Normalise an address: drop comments, whitespace, an obsolete route; lower-case.
/// Returns `None` when what is left is not `local@domain`.
///
/// A quoted local part is kept as written, quotes included (RFC 5322 §3.4.1: `"john doe"@x` and
/// `johndoe@x` are different mailboxes), and only its domain is lower-cased. Quotes around a
/// local part that needs none (`"john"@x`) are dropped: that is the same mailbox as `john@x`.
/// Nothing inside quotes is split or taken for a comment.
pub fn normalize(raw: &[u8]) -> Option<String> {
    let mut s: Vec<u8> = Vec::with_capacity(raw.len());
    let mut quoted = false;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'(' => i = skip_comment(raw, i).0,
            b'"' => {
                let (end, closed) = skip_quoted(raw, i);
                let inner = &raw[i + 1..if closed { end - 1 } else { end }.max(i + 1)];
                let content = unescape(inner);
                if needs_quotes(&content) {
                    quoted = true;
                    s.push(b'"');
                    for &b in &content {
                        if b == b'"' || b == b'\\' {
                            s.push(b'\\');
                        }
                        s.push(b);
                    }
                    s.push(b'"');
                } else {
                    s.extend_from_slice(&content);
                }
                i = end;
            }
            b' ' | b'\t' | b'\r' | b'\n' | b'<' | b'>' => i += 1,
            b'\\' if i + 1 < raw.len() => {
                s.push(raw[i + 1]);
                i += 2;
            }
            b => {
                s.push(b);
                i += 1;
            }
        }
    }
    if !quoted {
        // `'j@x.example'`: apostrophes pasted around an address (Outlook habits) are not part
        // of it.
        while s.first() == Some(&b'\'') {
            s.remove(0);
        }
        while s.last() == Some(&b'\'') {
            s.pop();
        }
        // Obsolete route: @a,@b:local@domain
        if s.first() == Some(&b'@') {
            let colon = memchr::memchr(b':', &s)?;
            s.drain(..=colon);
        }
    }
    let at = memchr::memrchr(b'@', &s)?;
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let bad = |b: &u8| *b < 0x21 || *b == 0x7f || b",;:<>()".contains(b);
    // Specials are only allowed inside the quotes of a quoted local part.
    let checked: &[u8] = if quoted { domain } else { &s };
    if checked.iter().any(bad) && !domain.starts_with(b"[") {
        return None;
    }
    if domain.contains(&b'@')
        || domain.starts_with(b".")
        || domain.contains(&b'[') && !domain.starts_with(b"[")
    {
        return None;
    }
    let text = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(t) => t.to_string(),
        Err(_) => super::text::latin1(b),
    };
    Some(if quoted {
        format!("{}@{}", text(local), text(domain).to_lowercase())
    } else {
        text(&s).to_lowercase()
    })
}

/// The content of a quoted string with its backslash escapes resolved.
fn unescape(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inner.len());
    let mut k = 0;
    while k < inner.len() {
        if inner[k] == b'\\' && k + 1 < inner.len() {
            out.push(inner[k + 1]);
            k += 2;
        } else {
            out.push(inner[k]);
            k += 1;
        }
    }
    out
}

/// A local part that is not a dot-atom needs its quotes to mean the same mailbox.
fn needs_quotes(local: &[u8]) -> bool {
    local.is_empty()
        || local
            .iter()
            .any(|&b| b < 0x21 || b == 0x7f || b"\"(),:;<>@[\\]".contains(&b))
}

/// Decode a raw display name: encoded words (RFC 2047), quotes and escapes, raw UTF-8 or
/// Latin-1, comments' parentheses; whitespace collapsed.
pub fn decode_phrase(raw: &[u8]) -> String {
    let mut out = String::new();
    decode_phrase_into(&mut out, raw);
    out
}

/// [`decode_phrase`] appended to `out`. A plain name (printable ASCII and spaces, perhaps
/// quoted, nothing escaped, commented or encoded: most names) is done in place, as the general
/// rule would (tested against it).
pub fn decode_phrase_into(out: &mut String, raw: &[u8]) {
    // Plain: printable ASCII, no backslash, no comment, no encoded word (`=?`).
    let mut plain = true;
    let mut prev = 0u8;
    for &b in raw {
        plain &=
            (0x20..0x7f).contains(&b) && b != b'\\' && b != b'(' && !(prev == b'=' && b == b'?');
        prev = b;
    }
    if !plain {
        out.push_str(&decode_phrase_general(raw));
        return;
    }
    // Printable ASCII: valid UTF-8, cut anywhere.
    let Ok(text) = std::str::from_utf8(raw) else {
        out.push_str(&decode_phrase_general(raw));
        return;
    };
    let start = out.len();
    // Words (runs between spaces) joined by one space, quotes dropped wherever they are ("Doe,
    // Jane" is Doe, Jane): a word of quotes alone is no word. The pieces between spaces and
    // quotes are copied whole.
    let (mut any, mut in_word) = (false, false);
    let mut piece = |out: &mut String, p: &str, in_word: &mut bool| {
        if p.is_empty() {
            return;
        }
        if !*in_word {
            if any {
                out.push(' ');
            }
            any = true;
            *in_word = true;
        }
        out.push_str(p);
    };
    let mut from = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == b' ' || b == b'"' {
            piece(out, &text[from..i], &mut in_word);
            from = i + 1;
            if b == b' ' {
                in_word = false;
            }
        }
    }
    piece(out, &text[from..], &mut in_word);
    // Trimmed of spaces and apostrophes at both ends, in place.
    let end = start + out[start..].trim_end_matches([' ', '\'']).len();
    out.truncate(end);
    let skip = end - start - out[start..].trim_start_matches([' ', '\'']).len();
    out.drain(start..start + skip);
}

fn decode_phrase_general(raw: &[u8]) -> String {
    let mut t = super::text::decode_header_value(raw);
    if t.starts_with('(') && t.ends_with(')') && t.len() >= 2 {
        t = t[1..t.len() - 1].to_string();
    }
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {}
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim_matches(|c: char| c == ' ' || c == '\'');
    trimmed.to_string()
}

#[cfg(test)]
mod tests;
