//! Folders: listing them, modified UTF-7 names, which ones `scan` reads.

use super::*;

/// Sent-folder names tried when no folder carries the `\Sent` special-use flag.
pub const SENT_NAMES: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "INBOX.Sent Items",
    "INBOX.Sent Messages",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "Enviados",
    "Elementos enviados",
    "Posta inviata",
    "Inviati",
    "Elementi inviati",
    "Verzonden",
    "Verzonden items",
    "Itens enviados",
    "Wysłane",
    "Elementy wysłane",
    "Skickat",
    "Skickade objekt",
    "Sendt",
    "Sendte elementer",
    "Lähetetyt",
    "Odeslaná pošta",
    "Elküldött elemek",
    "Trimise",
    "Απεσταλμένα",
];

/// Decode an IMAP modified UTF-7 mailbox name (RFC 3501 §5.1.3).
pub fn decode_mutf7(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find('-') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let mut bits: u32 = 0;
            let mut n = 0;
            let mut units: Vec<u16> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            for c in b64.bytes() {
                let v = match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a' + 26,
                    b'0'..=b'9' => c - b'0' + 52,
                    b'+' => 62,
                    b',' => 63,
                    _ => 0,
                } as u32;
                bits = (bits << 6) | v;
                n += 6;
                if n >= 8 {
                    n -= 8;
                    bytes.push((bits >> n) as u8);
                    bits &= (1 << n) - 1;
                }
            }
            for pair in bytes.chunks(2) {
                if pair.len() == 2 {
                    units.push(u16::from_be_bytes([pair[0], pair[1]]));
                }
            }
            out.push_str(&String::from_utf16_lossy(&units));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One folder as the server lists it.
#[derive(Debug, Clone)]
pub struct Folder {
    /// As sent on the wire (modified UTF-7).
    pub raw: String,
    /// Decoded for people.
    pub name: String,
    pub flags: Vec<String>,
    pub selectable: bool,
    pub sent: bool,
}

pub fn list_folders(session: &mut Session, server: &str) -> Result<Vec<Folder>, ImapError> {
    let perr = |e: imap::Error| ImapError::Protocol {
        server: server.to_string(),
        message: e.to_string(),
    };
    let names = session.list(Some(""), Some("*")).map_err(perr)?;
    let mut out: Vec<Folder> = names
        .iter()
        .map(|n| {
            use imap_proto::NameAttribute as A;
            let flags: Vec<String> = n
                .attributes()
                .iter()
                .map(|a| match a {
                    A::NoInferiors => "\\Noinferiors".to_string(),
                    A::NoSelect => "\\Noselect".to_string(),
                    A::Marked => "\\Marked".to_string(),
                    A::Unmarked => "\\Unmarked".to_string(),
                    A::All => "\\All".to_string(),
                    A::Archive => "\\Archive".to_string(),
                    A::Drafts => "\\Drafts".to_string(),
                    A::Flagged => "\\Flagged".to_string(),
                    A::Junk => "\\Junk".to_string(),
                    A::Sent => "\\Sent".to_string(),
                    A::Trash => "\\Trash".to_string(),
                    A::Extension(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            let selectable = !n.attributes().iter().any(|a| {
                matches!(a, A::NoSelect)
                    || matches!(a, A::Extension(s) if s.eq_ignore_ascii_case("\\NonExistent"))
            });
            let sent = n.attributes().iter().any(|a| matches!(a, A::Sent));
            Folder {
                raw: n.name().to_string(),
                name: decode_mutf7(n.name()),
                flags,
                selectable,
                sent,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Which folders `scan` reads: `--folder`s (or the URL's), all with `--all-folders`, else those
/// flagged `\Sent`, else the first usual Sent names found.
pub fn choose_folders(
    url: &ImapUrl,
    opts: &ImapOptions,
    list: &[Folder],
) -> Result<Vec<Folder>, ImapError> {
    let server = url.server();
    let mut wanted: Vec<String> = opts.folders.clone();
    if let Some(f) = &url.folder {
        wanted.push(f.clone());
    }
    if !wanted.is_empty() {
        return wanted
            .iter()
            .map(|w| {
                list.iter()
                    .find(|f| f.name == *w || f.raw == *w)
                    .or_else(|| list.iter().find(|f| f.name.eq_ignore_ascii_case(w)))
                    .cloned()
                    .ok_or_else(|| ImapError::NoSuchFolder {
                        server: server.clone(),
                        folder: w.clone(),
                    })
            })
            .collect();
    }
    if opts.all_folders {
        return Ok(list.iter().filter(|f| f.selectable).cloned().collect());
    }
    let flagged: Vec<Folder> = list
        .iter()
        .filter(|f| f.sent && f.selectable)
        .cloned()
        .collect();
    if !flagged.is_empty() {
        return Ok(flagged);
    }
    let by_name: Vec<Folder> = list
        .iter()
        .filter(|f| {
            f.selectable
                && SENT_NAMES.iter().any(|n| {
                    n.eq_ignore_ascii_case(&f.name)
                        || f.name
                            .rsplit(['/', '.'])
                            .next()
                            .is_some_and(|leaf| leaf.eq_ignore_ascii_case(n))
                })
        })
        .cloned()
        .collect();
    if by_name.is_empty() {
        return Err(ImapError::NoSentFolder { server });
    }
    Ok(by_name)
}

/// Message count of a folder (STATUS; EXAMINE never changes anything either).
pub fn message_count(session: &mut Session, folder: &Folder) -> Option<u32> {
    session
        .status(&folder.raw, "(MESSAGES)")
        .ok()
        .map(|m| m.exists)
}

/// Compress sorted UIDs into an IMAP sequence set: `1:5,7,9:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}
