//! From a raw header block to an [`Envelope`]: the addresses of every To/Cc/Bcc (and Resent-*)
//! field, sender, date, subject and threading ids. Display names stay raw until asked for.

use super::address::parse_address_list;
use super::header::{scan_fields, unfold, Field};
use crate::warning::WarningKind;

/// A recipient or sender: normalised address and the raw display name bytes.
#[derive(Debug, Clone)]
pub struct Addr<'a> {
    pub addr: String,
    pub name: Option<&'a [u8]>,
    /// An Exchange legacy DN standing for an address (Outlook sources): internal by nature.
    pub exchange_dn: bool,
    /// A distribution list (Outlook sources): exposures mark it as a list.
    pub list: bool,
}

#[derive(Debug, Default)]
pub struct Envelope<'a> {
    pub to: Vec<Addr<'a>>,
    pub cc: Vec<Addr<'a>>,
    pub bcc: Vec<Addr<'a>>,
    pub from: Vec<Addr<'a>>,
    pub sender: Vec<Addr<'a>>,
    pub date_raw: Option<&'a [u8]>,
    pub subject_raw: Option<&'a [u8]>,
    pub message_id: Option<String>,
    /// In-Reply-To then References ids.
    pub parents: Vec<String>,
    /// Problems found: (kind, byte offset inside the header block).
    pub problems: Vec<(WarningKind, usize)>,
}

/// Parse the fields bccaudit needs out of a header block.
pub fn envelope(block: &[u8]) -> Envelope<'_> {
    let scan = scan_fields(block);
    let mut env = Envelope::default();
    // One warning per message, located at the first damaged line.
    if let Some(at) = scan.first_malformed {
        env.problems.push((WarningKind::MalformedHeaderLine, at));
    }
    for f in &scan.fields {
        let list = match f.field {
            Field::To | Field::ResentTo => Some(&mut env.to),
            Field::Cc | Field::ResentCc => Some(&mut env.cc),
            Field::Bcc | Field::ResentBcc => Some(&mut env.bcc),
            Field::From => Some(&mut env.from),
            Field::Sender => Some(&mut env.sender),
            _ => None,
        };
        if let Some(list) = list {
            let parsed = parse_address_list(f.value);
            for b in &parsed.broken {
                env.problems.push((b.problem.kind(), f.offset));
            }
            for m in parsed.mailboxes {
                list.push(Addr {
                    exchange_dn: false,
                    list: false,
                    addr: m.addr,
                    name: m.name.map(|r| &f.value[r]),
                });
            }
            continue;
        }
        match f.field {
            Field::Date => {
                env.date_raw.get_or_insert(f.value);
            }
            Field::Subject => {
                env.subject_raw.get_or_insert(f.value);
            }
            Field::MessageId if env.message_id.is_none() => {
                env.message_id = msg_ids(f.value).into_iter().next();
            }
            Field::InReplyTo | Field::References => env.parents.extend(msg_ids(f.value)),
            _ => {}
        }
    }
    env
}

/// Message-ids in a header value: every `<…>`; with none, the bare trimmed value.
pub fn msg_ids(v: &[u8]) -> Vec<String> {
    let v = unfold(v);
    let mut out = Vec::new();
    let mut rest: &[u8] = &v;
    while let Some(open) = memchr::memchr(b'<', rest) {
        let Some(close) = memchr::memchr(b'>', &rest[open..]) else {
            break;
        };
        let id = rest[open + 1..open + close].trim_ascii();
        if !id.is_empty() {
            out.push(super::text::utf8_or_latin1(id));
        }
        rest = &rest[open + close + 1..];
    }
    if out.is_empty() {
        let t = v.trim_ascii();
        if !t.is_empty() && !t.contains(&b' ') {
            out.push(super::text::utf8_or_latin1(t));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_to_cc_and_resent_field() {
        let e = envelope(
            b"From: Me <me@example.org>\nTo: a@example.org\nTO: b@example.org\ncc: c@example.org\nCC: d@example.org\nResent-To: e@example.org\nResent-Cc: f@example.org\nBcc: g@example.org\nMessage-ID: <1@x>\nIn-Reply-To: <0@x>\nReferences: <a@x> <0@x>\n",
        );
        let a = |v: &Vec<Addr>| v.iter().map(|x| x.addr.clone()).collect::<Vec<_>>();
        assert_eq!(
            a(&e.to),
            ["a@example.org", "b@example.org", "e@example.org"]
        );
        assert_eq!(
            a(&e.cc),
            ["c@example.org", "d@example.org", "f@example.org"]
        );
        assert_eq!(a(&e.bcc), ["g@example.org"]);
        assert_eq!(e.message_id.as_deref(), Some("1@x"));
        assert_eq!(e.parents, ["0@x", "a@x", "0@x"]);
    }

    #[test]
    fn message_ids() {
        assert_eq!(msg_ids(b" <a@b> (comment) <c@d>"), ["a@b", "c@d"]);
        assert_eq!(msg_ids(b" bare@id "), ["bare@id"]);
        assert!(msg_ids(b"   ").is_empty());
    }
}
