//! Reading IMAP responses on the wire: lines and literals, `FETCH` items, INTERNALDATE.

use super::*;

/// The header fields detection needs; nothing else is transferred.
pub const HEADER_FIELDS: &str = "FROM SENDER TO CC BCC RESENT-TO RESENT-CC RESENT-BCC DATE SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES";

/// One message of a header FETCH.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FetchedItem {
    pub uid: Option<u32>,
    pub size: Option<u32>,
    pub internal_date: Option<i64>,
    pub header: Option<Vec<u8>>,
}

/// Reads IMAP responses from the raw stream: lines, and literals by their announced length, each
/// byte looked at once. (The `imap` crate re-parses a response from its start after every line
/// while a literal is incomplete, which made header fetches CPU-bound.)
pub struct ResponseReader {
    buf: Vec<u8>,
    pos: usize,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader {
            buf: Vec::with_capacity(256 << 10),
            pos: 0,
        }
    }
}

impl ResponseReader {
    fn fill(&mut self, r: &mut impl Read) -> std::io::Result<()> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + (256 << 10), 0);
        let n = loop {
            match r.read(&mut self.buf[old..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                x => break x,
            }
        };
        self.buf.truncate(old + *n.as_ref().unwrap_or(&0));
        match n {
            Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The next line, CRLF excluded.
    fn line(&mut self, r: &mut impl Read) -> std::io::Result<Vec<u8>> {
        let mut from = self.pos;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..]) {
                let end = from + i;
                let line = self.buf[self.pos..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&self.buf[self.pos..end])
                    .to_vec();
                self.pos = end + 1;
                return Ok(line);
            }
            let seen = self.buf.len() - self.pos;
            self.fill(r)?;
            from = self.pos + seen;
        }
    }

    fn take(&mut self, n: usize, r: &mut impl Read) -> std::io::Result<Vec<u8>> {
        while self.buf.len() - self.pos < n {
            self.fill(r)?;
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }

    /// One whole response: its text with each literal replaced by a `{#k}` marker, and the
    /// literals.
    pub(crate) fn response(
        &mut self,
        r: &mut impl Read,
    ) -> std::io::Result<(Vec<u8>, Vec<Vec<u8>>)> {
        let mut text = Vec::new();
        let mut lits = Vec::new();
        loop {
            let line = self.line(r)?;
            match literal_len(&line) {
                Some((n, open)) => {
                    text.extend_from_slice(&line[..open]);
                    text.extend_from_slice(format!("{{#{}}}", lits.len()).as_bytes());
                    lits.push(self.take(n, r)?);
                }
                None => {
                    text.extend_from_slice(&line);
                    return Ok((text, lits));
                }
            }
        }
    }
}

/// `… {123}` at the end of a line: (123, index of `{`).
fn literal_len(line: &[u8]) -> Option<(usize, usize)> {
    let body = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', body)?;
    let digits = &body[open + 1..];
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((std::str::from_utf8(digits).ok()?.parse().ok()?, open))
}

/// Parse `* n FETCH (…)` into its items; other responses give `None`.
pub fn parse_fetch(text: &[u8], lits: &mut [Vec<u8>]) -> Option<FetchedItem> {
    let rest = text.strip_prefix(b"* ")?;
    let sp = memchr::memchr(b' ', rest)?;
    if !rest[..sp].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &rest[sp + 1..];
    if rest.len() < 7 || !rest[..7].eq_ignore_ascii_case(b"FETCH (") {
        return None;
    }
    let s = &rest[7..];
    let mut item = FetchedItem::default();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i] == b' ' {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= s.len() || s[i] == b')' {
            break;
        }
        // Key: an atom, with a bracketed section (which may hold spaces) and a <partial>.
        let ks = i;
        let mut depth = 0;
        while i < s.len() {
            match s[i] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                b' ' | b'(' | b')' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        let key = s[ks..i].to_ascii_uppercase();
        skip_ws(&mut i);
        // Value.
        let vs = i;
        let value: Value = match s.get(i) {
            Some(b'(') => {
                let mut d = 0;
                while i < s.len() {
                    match s[i] {
                        b'(' => d += 1,
                        b')' => {
                            d -= 1;
                            if d == 0 {
                                i += 1;
                                break;
                            }
                        }
                        b'"' => i = skip_imap_quoted(s, i) - 1,
                        _ => {}
                    }
                    i += 1;
                }
                Value::Other
            }
            Some(b'"') => {
                i = skip_imap_quoted(s, i);
                Value::Bytes(unquote(&s[vs..i]))
            }
            Some(b'{') if s.get(i + 1) == Some(&b'#') => {
                let close = i + memchr::memchr(b'}', &s[i..])?;
                let k: usize = std::str::from_utf8(&s[i + 2..close]).ok()?.parse().ok()?;
                i = close + 1;
                Value::Bytes(std::mem::take(lits.get_mut(k)?))
            }
            _ => {
                while i < s.len() && s[i] != b' ' && s[i] != b')' {
                    i += 1;
                }
                Value::Atom(&s[vs..i])
            }
        };
        let num = |v: &Value| match v {
            Value::Atom(a) => std::str::from_utf8(a).ok()?.parse::<u32>().ok(),
            _ => None,
        };
        match key.as_slice() {
            b"UID" => item.uid = num(&value),
            b"RFC822.SIZE" => item.size = num(&value),
            b"INTERNALDATE" => {
                if let Value::Bytes(b) = &value {
                    item.internal_date = parse_internaldate(b);
                }
            }
            k if k.starts_with(b"BODY[") => {
                if let Value::Bytes(b) = value {
                    item.header = Some(b);
                }
            }
            _ => {}
        }
    }
    Some(item)
}

enum Value<'a> {
    Atom(&'a [u8]),
    Bytes(Vec<u8>),
    Other,
}

/// End (exclusive) of a quoted string starting at `i`.
fn skip_imap_quoted(s: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    s.len()
}

fn unquote(q: &[u8]) -> Vec<u8> {
    let inner = q.strip_prefix(b"\"").unwrap_or(q);
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// INTERNALDATE `17-Jul-1996 02:44:25 -0700` to Unix seconds.
pub fn parse_internaldate(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let (date, rest) = s.split_once(' ')?;
    let date = date.replace('-', " ");
    crate::parse::date::parse_header_date(format!("{date} {rest}").as_bytes())
}

impl Conn {
    /// `UID FETCH set (UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (…)])`, read with
    /// [`ResponseReader`]. The folder must already be EXAMINEd.
    pub fn fetch_headers(
        &mut self,
        reader: &mut ResponseReader,
        set: &str,
    ) -> Result<Vec<FetchedItem>, String> {
        self.tag += 1;
        let tag = format!("bcc{}", self.tag);
        let cmd = format!("{tag} UID FETCH {set} (UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])\r\n");
        let mut raw = self.raw.clone();
        raw.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
        raw.flush().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        loop {
            let (text, mut lits) = reader.response(&mut raw).map_err(|e| e.to_string())?;
            if let Some(rest) = text.strip_prefix(tag.as_bytes()) {
                let rest = String::from_utf8_lossy(rest);
                return if rest.trim_start().to_ascii_uppercase().starts_with("OK") {
                    Ok(out)
                } else {
                    Err(format!("UID FETCH refused:{rest}"))
                };
            }
            if let Some(item) = parse_fetch(&text, &mut lits) {
                if item.uid.is_some() {
                    out.push(item);
                }
            } else if text.starts_with(b"* BYE") {
                return Err(String::from_utf8_lossy(&text).into_owned());
            }
        }
    }
}
