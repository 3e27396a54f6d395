//! Byte-to-text decoding for header values: RFC 2047 encoded words (one UTF-8 word directly, the
//! rest via `mailparse`), raw UTF-8, and Latin-1 for the 8-bit bytes old clients wrote without
//! declaring a charset.

/// Decode bytes as Latin-1 (every byte is a code point); used when bytes are not UTF-8.
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

/// Bytes as UTF-8 when they are, else as Latin-1.
pub fn utf8_or_latin1(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => latin1(b),
    }
}

/// Decode a raw header value: unfold, decode encoded words, tolerate raw UTF-8 / Latin-1.
pub fn decode_header_value(raw: &[u8]) -> String {
    let unfolded = super::header::unfold(raw);
    if memchr::memmem::find(&unfolded, b"=?").is_none() {
        return utf8_or_latin1(unfolded.trim_ascii());
    }
    if let Some(text) = one_utf8_word(unfolded.trim_ascii()) {
        return text.trim().to_string();
    }
    with_mailparse(&unfolded)
}

/// The general rule: the value decoded as `mailparse` reads a header.
fn with_mailparse(unfolded: &[u8]) -> String {
    let mut line = Vec::with_capacity(unfolded.len() + 3);
    line.extend_from_slice(b"X: ");
    line.extend_from_slice(unfolded);
    match mailparse::parse_header(&line) {
        Ok((h, _)) => h.get_value().trim().to_string(),
        Err(_) => utf8_or_latin1(unfolded.trim_ascii()),
    }
}

/// The most common encoded value (a name or subject written by a current mail client): exactly
/// one encoded word, `=?UTF-8?Q?…?=` or `=?UTF-8?B?…?=`, well formed, decoding to valid UTF-8.
/// Anything else (other charsets, several words, a stray `=` or bad base64) is `None` and goes
/// to the general rule, which this agrees with (tested against it).
fn one_utf8_word(v: &[u8]) -> Option<String> {
    let rest = v.strip_prefix(b"=?")?.strip_suffix(b"?=")?;
    let (charset, rest) = split_at_byte(rest, b'?')?;
    let (encoding, text) = split_at_byte(rest, b'?')?;
    if !charset.eq_ignore_ascii_case(b"utf-8")
        || text.iter().any(|&b| !b.is_ascii_graphic() || b == b'?')
    {
        return None;
    }
    let bytes = match encoding {
        b"Q" | b"q" => decode_q(text)?,
        b"B" | b"b" => decode_b64(text)?,
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

fn split_at_byte(s: &[u8], b: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// RFC 2047 "Q": `_` is a space, `=XX` a byte; a `=` without two hex digits is not handled.
fn decode_q(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hi = hex_digit(*text.get(i + 1)?)?;
                let lo = hex_digit(*text.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// Canonical base64 (RFC 4648 alphabet, padded to a multiple of four); anything looser is
/// not handled.
fn decode_b64(text: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if text.is_empty() || !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let last = text.len() / 4 - 1;
    for (k, q) in text.chunks_exact(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && k != last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        // Bits past the last byte must be zero in canonical base64.
        if (pad == 1 && b[3] != 0) || (pad == 2 && (b[2] != 0 || b[3] != 0)) {
            return None;
        }
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_words_and_8bit() {
        assert_eq!(
            decode_header_value(b" =?utf-8?q?Caf=C3=A9?= menu"),
            "Café menu"
        );
        assert_eq!(decode_header_value(b"Caf\xe9"), "Café");
        assert_eq!(decode_header_value("Café".as_bytes()), "Café");
        assert_eq!(decode_header_value(b"Hello\r\n world"), "Hello world");
    }

    /// Q and B encodings of `s`, in the forms mail clients write.
    fn encodings(s: &str) -> Vec<String> {
        let q_upper: String = s
            .bytes()
            .map(|b| match b {
                b' ' => "_".to_string(),
                b'!'..=b'~' if !b"=?_".contains(&b) => (b as char).to_string(),
                _ => format!("={b:02X}"),
            })
            .collect();
        let b64 = crate::export::base64(s.as_bytes());
        vec![
            format!("=?UTF-8?Q?{q_upper}?="),
            format!("=?utf-8?q?{}?=", q_upper.to_lowercase()),
            format!("=?UTF-8?B?{b64}?="),
            format!("  =?utf-8?b?{b64}?=  "),
        ]
    }

    #[test]
    fn one_encoded_word_is_read_as_mailparse_reads_it() {
        let mut cases: Vec<String> = Vec::new();
        for s in [
            "Müller, Anna",
            "Zoë",
            "",
            " padded ",
            "a",
            "ab",
            "abc",
            "日本語の名前",
            "tab\there",
            "new\nline",
            "\u{0}nul",
            "=?x?=",
            "under_score",
            "100% Ärger",
        ] {
            cases.extend(encodings(s));
        }
        // Pseudo-random byte strings (some not UTF-8), encoded both ways.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..60 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            let q: String = bytes.iter().map(|b| format!("={b:02X}")).collect();
            cases.push(format!("=?UTF-8?Q?{q}?="));
            cases.push(format!("=?UTF-8?B?{}?=", crate::export::base64(&bytes)));
        }
        // Malformed or other forms: the general rule either way.
        cases.extend(
            [
                "=?UTF-8?Q?a=4?=",
                "=?UTF-8?Q?a=G1?=",
                "=?UTF-8?B?YWJj?= =?UTF-8?B?ZGVm?=",
                "=?UTF-8?B?YW=j?=",
                "=?UTF-8?B?YR==?=",
                "=?UTF-8?B?YWI?=",
                "=?ISO-8859-1?Q?caf=E9?=",
                "=?UTF-8*EN?Q?x?=",
                "=?UTF-8?X?x?=",
                "=?UTF-8?Q??=",
                "=?UTF-8?B??=",
                "x =?UTF-8?Q?a?=",
            ]
            .map(String::from),
        );
        // The common forms do take the short way.
        assert_eq!(
            one_utf8_word(b"=?UTF-8?Q?M=C3=BCller=2C_Anna?=").as_deref(),
            Some("Müller, Anna")
        );
        assert_eq!(
            one_utf8_word(b"=?utf-8?b?Wm/Dqw==?=").as_deref(),
            Some("Zoë")
        );
        let short = cases
            .iter()
            .filter(|c| one_utf8_word(c.trim().as_bytes()).is_some())
            .count();
        assert!(short >= 50, "{short}");
        for c in cases {
            let unfolded = crate::parse::header::unfold(c.as_bytes());
            assert_eq!(
                decode_header_value(c.as_bytes()),
                with_mailparse(&unfolded),
                "{c:?}"
            );
        }
    }
}
