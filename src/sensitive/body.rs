//! The readable text of a message (its text/plain parts, and text/html reduced to text;
//! transfer encodings and charsets decoded by mailparse) and its attachment file names.
//! At most [`MAX_BODY`] bytes of a message are read, and at most that much text is kept.

/// How much of a message is read for its text (bytes).
pub const MAX_BODY: usize = 1 << 20;
const MAX_PARTS: usize = 200;

/// (text of the readable parts, attachment file names).
pub fn message_text(raw: &[u8]) -> (String, Vec<String>) {
    let raw = &raw[..raw.len().min(MAX_BODY)];
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
    fn html_entities_and_comments() {
        assert_eq!(
            html_text("<p>Gay&nbsp;&amp; lesbian<!-- hidden HIV --></p>").trim(),
            "Gay & lesbian"
        );
    }
}
