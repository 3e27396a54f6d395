//! Outlook sources. Where Bcc is decided for Outlook mail: here, from the recipient table
//! (`PR_RECIPIENT_TYPE` 1 To, 2 Cc, 3 Bcc), never from the transport headers. A message becomes
//! a source-neutral [`Structured`] message that the pipeline classifies like any other.

pub mod mapi;
pub mod msg;
pub mod pst;

use super::{Party, Structured};
use crate::warning::WarningKind;
use mapi::{AddressKind, Message};

/// What an Outlook item that is not mail is, for the skipped-file counts (by message class).
pub fn class_label(class: &str) -> &'static str {
    let c = class.to_ascii_uppercase();
    let family = |f: &str| c == f || c.starts_with(&format!("{f}."));
    if family("IPM.CONTACT") || family("IPM.DISTLIST") {
        "Outlook contact"
    } else if family("IPM.APPOINTMENT") || family("IPM.SCHEDULE") {
        "Outlook calendar item"
    } else if family("IPM.STICKYNOTE") {
        "Outlook note"
    } else if family("IPM.TASK") || family("IPM.TASKREQUEST") {
        "Outlook task"
    } else {
        "Outlook item (not mail)"
    }
}

/// The message as the pipeline sees it, plus the warnings of the conversion.
pub fn structured(m: &Message, reconstructed_from: &str) -> Structured {
    let mut s = Structured {
        date: m.submit_time.or(m.delivery_time),
        subject: m.full_subject(),
        message_id: m
            .message_id
            .as_deref()
            .map(|i| {
                i.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|i| !i.is_empty()),
        parents: m.parents(),
        ..Structured::default()
    };
    for (addr, name) in m.senders() {
        s.from.push(Party {
            addr: addr.to_lowercase(),
            name,
            exchange_dn: false,
            list: false,
        });
    }
    if m.recipients.is_none() {
        names_only(m, &mut s);
    }
    for r in m.recipients.iter().flatten() {
        let list = match r.kind {
            1 => &mut s.to,
            2 => &mut s.cc,
            3 => &mut s.bcc,
            _ => continue,
        };
        let Some((addr, kind)) = r.address() else {
            s.warnings.push(WarningKind::RecipientWithoutAddress);
            continue;
        };
        if kind == AddressKind::ExchangeDn {
            s.warnings.push(WarningKind::ExchangeAddressWithoutSmtp);
        }
        if r.is_list() && r.kind != 3 {
            // One visible address; its members were not shown to each other.
            s.warnings.push(WarningKind::DistributionListRecipient);
        }
        list.push(Party {
            addr: addr.to_lowercase(),
            name: r.display_name.clone().filter(|n| !n.is_empty()),
            exchange_dn: kind == AddressKind::ExchangeDn,
            list: r.is_list(),
        });
    }
    s.mime = reconstruct(m, &s, reconstructed_from);
    s.raw_recipients = serde_json::to_vec_pretty(&serde_json::json!({
        "source": reconstructed_from,
        "recipient_table": m.recipients.is_some(),
        "rows": m.recipients.as_deref().unwrap_or_default(),
        "display_to": m.display_to,
        "display_cc": m.display_cc,
    }))
    .ok();
    s
}

/// No recipient table (old PSTs): the names in PR_DISPLAY_TO / PR_DISPLAY_CC (`;`-separated)
/// stand for the people, as `name-only:<name>`, so that a message whose visible names reach
/// the threshold is reported (with a `names-only` warning) for the DPO to look at.
fn names_only(m: &Message, s: &mut Structured) {
    let mut any = false;
    for (field, list) in [(&m.display_to, &mut s.to), (&m.display_cc, &mut s.cc)] {
        for name in field.as_deref().unwrap_or("").split(';') {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            any = true;
            list.push(Party {
                addr: format!("name-only:{}", name.to_lowercase()),
                name: Some(name.to_string()),
                exchange_dn: false,
                list: false,
            });
        }
    }
    if any {
        s.warnings.push(WarningKind::NamesOnly);
    } else {
        // Neither a recipient table nor names: nothing can be judged; say so.
        s.warnings.push(WarningKind::NoRecipientTable);
    }
}

/// A MIME message rebuilt from the properties (for the sensitive-context search and for
/// `--evidence`), naming its source in `X-Bccaudit-Reconstructed-From:`.
fn reconstruct(m: &Message, s: &Structured, from: &str) -> Vec<u8> {
    use std::fmt::Write;
    let list = |ps: &[Party]| {
        ps.iter()
            .map(|p| match &p.name {
                Some(n) => format!(
                    "\"{}\" <{}>",
                    n.replace(['"', '\\', '\r', '\n'], " "),
                    p.addr
                ),
                None => format!("<{}>", p.addr),
            })
            .collect::<Vec<_>>()
            .join(",\r\n ")
    };
    let one_line = |t: &str| t.replace(['\r', '\n'], " ");
    let mut h = String::new();
    let _ = write!(h, "X-Bccaudit-Reconstructed-From: {}\r\n", one_line(from));
    for (name, ps) in [
        ("From", &s.from),
        ("To", &s.to),
        ("Cc", &s.cc),
        ("Bcc", &s.bcc),
    ] {
        if !ps.is_empty() {
            let _ = write!(h, "{name}: {}\r\n", list(ps));
        }
    }
    let _ = write!(h, "Subject: {}\r\n", one_line(&s.subject));
    if let Some(t) = s.date {
        let _ = write!(h, "Date: {}\r\n", crate::parse::date::rfc3339(t));
    }
    if let Some(id) = &s.message_id {
        let _ = write!(h, "Message-ID: <{}>\r\n", one_line(id));
    }
    let b = "=_bccaudit_reconstructed";
    let _ = write!(
        h,
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n--{b}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        m.body
            .as_deref()
            .unwrap_or("")
            .replace(&format!("--{b}"), "- -")
    );
    for n in &m.attachment_names {
        let _ = write!(
            h,
            "--{b}\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{}\"\r\n\r\n\r\n",
            one_line(n).replace('"', "'")
        );
    }
    let _ = write!(h, "--{b}--\r\n");
    h.into_bytes()
}
