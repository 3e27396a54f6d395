//! The readable text of a message (its text/plain parts, and text/html reduced to text;
//! transfer encodings and charsets decoded by mailparse) and its attachment file names.
//! At most [`MAX_BODY`] bytes of a message are read, and at most that much text is kept.

/// How much of a message is read for its text (bytes).
pub const MAX_BODY: usize = 1 << 20;
const MAX_PARTS: usize = 200;

/// (text of the readable parts, attachment file names).
pub fn message_text(raw: &[u8]) -> (String, Vec<String>) {
    message_text_split(raw, None)
}

/// [`message_text`] of a message whose [`header_end`](crate::parse::header::header_end) the
/// caller has found already (`split`), so that it is not looked for again.
pub fn message_text_split(
    raw: &[u8],
    split: Option<(usize, usize, bool)>,
) -> (String, Vec<String>) {
    let raw = &raw[..raw.len().min(MAX_BODY)];
    // Cutting at MAX_BODY keeps a terminated header block that ends before the cut.
    let split = split.filter(|&(_, body, terminated)| terminated && body <= raw.len());
    match plain_ascii_text(raw, split) {
        Some(text) => (text, Vec::new()),
        None => parsed_text(raw),
    }
}

/// The common case without a MIME parse: one text/plain part (or no Content-Type), no
/// transfer encoding, an ASCII-compatible charset and an ASCII body. Its text is then its body
/// as it stands, which is what the parse gives (tested against it); anything else (folded or
/// repeated fields, parameters naming a file, other charsets) is left to the parse.
fn plain_ascii_text(raw: &[u8], split: Option<(usize, usize, bool)>) -> Option<String> {
    let (end, body_start, terminated) =
        split.unwrap_or_else(|| crate::parse::header::header_end(raw));
    let body = raw.get(body_start..)?;
    if !terminated || !body.is_ascii() {
        return None;
    }
    let (mut ctype, mut cte) = (None, None);
    // The field the last line belonged to: 1 Content-Type, 2 Content-Transfer-Encoding.
    let mut current = 0;
    // Line by line, each end found with memchr (a header of long address lists is mostly
    // lines of no interest): the pieces `split` on LF would give.
    let head = &raw[..end];
    let mut next = Some(0);
    let lines = std::iter::from_fn(|| {
        let s = next?;
        let e = memchr::memchr(b'\n', &head[s..]).map_or(head.len(), |i| s + i);
        next = (e < head.len()).then_some(e + 1);
        Some(&head[s..e])
    });
    for line in lines {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if current != 0 && !line.trim_ascii().is_empty() {
                return None;
            }
            continue;
        }
        current = 0;
        // Only the two Content- fields matter (a field's name starts its line): the others,
        // long address lists among them, are not searched for their colon.
        if !matches!(line.first(), Some(b'C' | b'c')) {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        match line[..colon].trim_ascii() {
            n if n.eq_ignore_ascii_case(b"content-type") => {
                if ctype.replace(value).is_some() {
                    return None;
                }
                current = 1;
            }
            n if n.eq_ignore_ascii_case(b"content-transfer-encoding") => {
                if cte.replace(value).is_some() {
                    return None;
                }
                current = 2;
            }
            _ => {}
        }
    }
    if let Some(v) = cte {
        let v = v.to_ascii_lowercase();
        if !matches!(&v[..], b"7bit" | b"8bit" | b"binary") {
            return None;
        }
    }
    if let Some(v) = ctype {
        let v = std::str::from_utf8(v).ok()?.to_ascii_lowercase();
        let params = v.strip_prefix("text/plain")?.trim_start();
        if !(params.is_empty() || params.starts_with(';')) || params.contains("name") {
            return None;
        }
        let mut params = params.split(';').map(str::trim).filter(|p| !p.is_empty());
        let ascii_compatible = params.all(|p| match p.split_once('=') {
            Some(("charset", c)) => matches!(
                c.trim_matches('"'),
                "us-ascii"
                    | "ascii"
                    | "utf-8"
                    | "utf8"
                    | "iso-8859-1"
                    | "iso-8859-15"
                    | "windows-1252"
            ),
            Some((k, _)) => k != "charset",
            None => false,
        });
        if !ascii_compatible {
            return None;
        }
    }
    let mut text = String::with_capacity(body.len() + 1);
    text.push_str(std::str::from_utf8(body).ok()?);
    text.push('\n');
    text.truncate(MAX_BODY);
    Some(text)
}

/// Any message: parsed (text/plain and text/html parts, decoded) and its attachment names.
fn parsed_text(raw: &[u8]) -> (String, Vec<String>) {
    let raw = slim(raw);
    let mut text = String::new();
    let mut names = Vec::new();
    let Ok(mail) = mailparse::parse_mail(&raw) else {
        return (text, names);
    };
    let mut stack = vec![&mail];
    let mut parts = 0;
    while let Some(p) = stack.pop() {
        parts += 1;
        if parts > MAX_PARTS {
            break;
        }
        // Later parts pushed first: parts are read in order.
        stack.extend(p.subparts.iter().rev());
        let disposition = p.get_content_disposition();
        let name = disposition
            .params
            .get("filename")
            .or_else(|| p.ctype.params.get("name"));
        if let Some(n) = name {
            names.push(n.clone());
        }
        if !p.subparts.is_empty()
            || matches!(
                disposition.disposition,
                mailparse::DispositionType::Attachment
            )
        {
            continue;
        }
        let mime = p.ctype.mimetype.to_ascii_lowercase();
        if mime != "text/plain" && mime != "text/html" {
            continue;
        }
        let Ok(body) = p.get_body() else { continue };
        if mime == "text/html" {
            text.push_str(&html_text(&body));
        } else {
            text.push_str(&body);
        }
        text.push('\n');
        if text.len() > MAX_BODY {
            let mut cut = MAX_BODY;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            break;
        }
    }
    (text, names)
}

/// The message with only the header fields that say how its body is built (a mass mailing's
/// header holds thousands of addresses that the text search does not need to parse).
fn slim(raw: &[u8]) -> Vec<u8> {
    let (end, body_start, _) = crate::parse::header::header_end(raw);
    let mut out = Vec::with_capacity(raw.len() - end + 256);
    let mut keep = false;
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            keep = [
                &b"content-type"[..],
                b"content-transfer-encoding",
                b"mime-version",
            ]
            .iter()
            .any(|n| name.trim_ascii().eq_ignore_ascii_case(n));
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&raw[body_start.min(raw.len())..]);
    out
}

/// HTML reduced to its text: tags, comments, scripts and styles dropped, a few entities decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let b = html.as_bytes();
    while i < b.len() {
        if b[i] == b'<' {
            let skip_to = if lower[i..].starts_with("<!--") {
                lower[i..].find("-->").map(|e| i + e + 3)
            } else if lower[i..].starts_with("<script") {
                lower[i..].find("</script>").map(|e| i + e + 9)
            } else if lower[i..].starts_with("<style") {
                lower[i..].find("</style>").map(|e| i + e + 8)
            } else {
                lower[i..].find('>').map(|e| i + e + 1)
            };
            i = skip_to.unwrap_or(b.len());
            out.push(' ');
            continue;
        }
        let next = html[i..].find('<').map_or(b.len(), |e| i + e);
        out.push_str(&decode_entities(&html[i..next]));
        i = next;
    }
    out
}

fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    s.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parts_decoded_and_attachment_names() {
        let raw = b"From: a@x.test\r\nTo: b@x.test\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Peer support for vict=\r\nims of crime, caf=C3=A9 at 6pm.\r\n--B\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PHA+PGI+TWVudGFsPC9iPiBoZWFsdGg8c2NyaXB0PnhoaXY8L3NjcmlwdD48L3A+\r\n--B\r\n\
Content-Type: application/pdf; name=\"safeguarding-list.pdf\"\r\n\
Content-Disposition: attachment; filename=\"safeguarding-list.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--B--\r\n";
        let (text, names) = message_text(raw);
        assert!(text.contains("victims of crime, café"), "{text}");
        assert!(text.contains("Mental") && text.contains("health"), "{text}");
        assert!(!text.contains("xhiv"), "scripts are not text: {text}");
        assert_eq!(names, ["safeguarding-list.pdf"]);
    }

    #[test]
    fn plain_messages_read_without_the_parse_give_what_the_parse_gives() {
        let bodies: [&[u8]; 4] = [
            b"Peer support group: next meeting.\r\nThanks\r\n",
            b"",
            b"line\nwith LF only\n\n>From here\n",
            b"   spaces  \t tabs\r\n",
        ];
        let headers: [&str; 9] = [
            "From: a@x.test\r\nTo: b@x.test\r\n",
            "From: a@x.test\r\nContent-Type: text/plain\r\n",
            "Content-Type: TEXT/PLAIN; charset=\"UTF-8\"; format=flowed\r\nMIME-Version: 1.0\r\n",
            "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 7bit\r\n",
            "content-transfer-encoding: 8BIT\r\nSubject: x\r\n",
            "To: a@x.test,\r\n b@x.test\r\nContent-Type: text/plain;charset=us-ascii\r\n",
            "Content-Type: text/plain; delsp=yes\nTo: c@x.test\n",
            "Subject: no colon line next\r\nX-Odd\r\n",
            "Content-Transfer-Encoding: binary\r\n",
        ];
        let mut fast = 0;
        for h in headers {
            for b in bodies {
                let mut raw = h.as_bytes().to_vec();
                raw.extend_from_slice(b"\r\n");
                raw.extend_from_slice(b);
                let quick = plain_ascii_text(&raw, None);
                fast += usize::from(quick.is_some());
                // The header block delimited by the caller gives the same text.
                let split = crate::parse::header::header_end(&raw);
                assert_eq!(message_text_split(&raw, Some(split)), message_text(&raw));
                if let Some(q) = quick {
                    assert_eq!((q, Vec::new()), parsed_text(&raw), "{h:?} {b:?}");
                }
            }
        }
        assert_eq!(fast, 36, "every one of these takes the quick way");
        // And these do not (the parse decides).
        for h in [
            "Content-Type: text/html\r\n",
            "Content-Type: text/plain; name=\"list.txt\"\r\n",
            "Content-Type: text/plain; charset=utf-16\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "Content-Type: text/plain\r\nContent-Type: text/html\r\n",
            "Content-Type: text/plain;\r\n charset=utf-8\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n",
        ] {
            let raw = format!("{h}\r\nHello\r\n");
            assert_eq!(plain_ascii_text(raw.as_bytes(), None), None, "{h:?}");
        }
        assert_eq!(
            plain_ascii_text(b"To: a@x.test\r\n\r\ncaf\xc3\xa9\r\n", None),
            None
        );
    }

    #[test]
    fn a_header_split_past_the_cut_is_found_again() {
        // A header block longer than what is read: the caller's split is not used.
        let mut raw = b"Subject: x\r\nX-Long: ".to_vec();
        raw.resize(MAX_BODY + 10, b'a');
        raw.extend_from_slice(b"\r\n\r\nsafeguarding\r\n");
        let split = crate::parse::header::header_end(&raw);
        assert_eq!(message_text_split(&raw, Some(split)), message_text(&raw));
    }

    #[test]
    fn html_entities_and_comments() {
        assert_eq!(
            html_text("<p>Gay&nbsp;&amp; lesbian<!-- hidden HIV --></p>").trim(),
            "Gay & lesbian"
        );
    }
}
