//! A draft as RFC 5322 bytes: one `To:` address, an RFC 2047-encoded name where needed, UTF-8
//! text in quoted-printable (lines stay short and 7-bit whatever the template holds), and
//! `X-Unsent: 1`. Header values are stripped of line breaks and control characters.

use std::io::Write;

use sha2::{Digest, Sha256};

pub struct Draft<'a> {
    pub from: &'a str,
    pub org: Option<&'a str>,
    pub to_name: &'a str,
    pub to_addr: &'a str,
    pub subject: &'a str,
    pub date: &'a str,
    /// Hashed into the Message-ID (stable for the same person and run).
    pub id_seed: &'a str,
    pub body: &'a str,
}

/// `Fri, 04 Dec 2026 21:00:00 +0000`.
pub fn date_header(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}

/// One line, no control characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A phrase (display name or subject) as it may stand in a header: as is when plain ASCII
/// without specials, else RFC 2047 `=?UTF-8?B?…?=` words (at most 45 bytes of text each).
pub fn encode_phrase(s: &str, specials: bool) -> String {
    let s = clean(s);
    let plain = s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !(specials && s.bytes().any(|b| b"()<>[]:;@\\,.\"".contains(&b)))
        && !s.contains("=?");
    if plain {
        return s;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!(
                "=?UTF-8?B?{}?=",
                super::super::base64(chunk.as_bytes())
            ));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!(
            "=?UTF-8?B?{}?=",
            super::super::base64(chunk.as_bytes())
        ));
    }
    words.join("\r\n ")
}

fn mailbox(name: &str, addr: &str) -> String {
    let addr = clean(addr).replace([' ', '<', '>'], "");
    let name = encode_phrase(name, true);
    if name.is_empty() {
        format!("<{addr}>")
    } else {
        format!("{name} <{addr}>")
    }
}

/// Quoted-printable (RFC 2045), CRLF line ends, lines at most 76 characters.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.replace("\r\n", "\n").split('\n') {
        let mut len = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let enc = match b {
                b'=' => true,
                b' ' | b'\t' => last,
                0x21..=0x7e => false,
                _ => true,
            };
            // Do not let a "From " at a line start reach an mbox reader unquoted.
            let enc = enc || (len == 0 && b == b'F' && line[i..].starts_with("From "));
            let piece = if enc {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if len + piece.len() > 75 {
                out.push_str("=\r\n");
                len = 0;
            }
            out.push_str(&piece);
            len += piece.len();
        }
        out.push_str("\r\n");
    }
    out
}

pub fn draft(d: &Draft<'_>) -> Vec<u8> {
    let domain = d.from.rsplit_once('@').map_or("localhost", |(_, h)| h);
    let domain = clean(domain).replace([' ', '<', '>'], "");
    let id: String = Sha256::digest(d.id_seed.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut m = Vec::with_capacity(d.body.len() + 512);
    let _ = write!(
        m,
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <notice-{id}@{domain}>\r\n\
         X-Unsent: 1\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        mailbox(d.org.unwrap_or(""), d.from),
        mailbox(d.to_name, d.to_addr),
        encode_phrase(d.subject, false),
        d.date,
        quoted_printable(d.body),
    );
    m
}

/// Append a draft to an mbox (mboxrd: `>`-quoting of `From ` lines; the body is
/// quoted-printable, so only a header line could need it).
pub fn append_to_mbox(
    out: &mut dyn Write,
    from: &str,
    t: i64,
    draft: &[u8],
) -> std::io::Result<()> {
    let when = jiff::Timestamp::from_second(t)
        .map(|ts| ts.strftime("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default();
    let sender = clean(from).replace(' ', "");
    write!(out, "From {sender} {when}\r\n")?;
    for line in draft.split_inclusive(|&b| b == b'\n') {
        let body = line.iter().position(|&b| b != b'>').map(|i| &line[i..]);
        if body.is_some_and(|b| b.starts_with(b"From ")) {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_and_headers_cannot_be_injected() {
        assert_eq!(encode_phrase("Sam Example", true), "Sam Example");
        assert_eq!(
            encode_phrase("Brown, Zoë", true),
            "=?UTF-8?B?QnJvd24sIFpvw6s=?="
        );
        let d = draft(&Draft {
            from: "dpo@police.example",
            org: Some("Example Police"),
            to_name: "Eve\r\nBcc: other@example.org",
            to_addr: "eve@example.org",
            subject: "Hi\r\nCc: x@example.org",
            date: "Fri, 04 Dec 2026 21:00:00 +0000",
            id_seed: "x",
            body: "From here on.\nCafé = ok\n",
        });
        let m = mailparse::parse_mail(&d).unwrap();
        use mailparse::MailHeaderMap;
        assert!(m.headers.get_first_value("Bcc").is_none());
        assert!(m.headers.get_first_value("Cc").is_none());
        assert_eq!(m.headers.get_all_values("To").len(), 1);
        assert_eq!(m.headers.get_first_value("X-Unsent").unwrap(), "1");
        assert_eq!(m.get_body().unwrap(), "From here on.\r\nCafé = ok\r\n\r\n");
        let text = String::from_utf8_lossy(&d);
        assert!(!text.contains("\nFrom here"), "{text}");
    }

    #[test]
    fn long_lines_are_wrapped() {
        let q = quoted_printable(&"word ".repeat(40));
        assert!(q.lines().all(|l| l.len() <= 76), "{q}");
    }
}
