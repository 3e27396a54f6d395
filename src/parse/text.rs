//! Byte-to-text decoding for header values: RFC 2047 encoded words (via `mailparse`), raw UTF-8,
//! and Latin-1 for the 8-bit bytes old clients wrote without declaring a charset.

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
    let mut line = Vec::with_capacity(unfolded.len() + 3);
    line.extend_from_slice(b"X: ");
    line.extend_from_slice(&unfolded);
    match mailparse::parse_header(&line) {
        Ok((h, _)) => h.get_value().trim().to_string(),
        Err(_) => utf8_or_latin1(unfolded.trim_ascii()),
    }
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
}
