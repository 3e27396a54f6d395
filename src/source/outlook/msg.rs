//! Outlook `.msg` files (MS-OXMSG): a compound file whose `__properties_version1.0` stream holds
//! the fixed-size properties and whose `__substg1.0_IIIITTTT` streams hold the others; one
//! `__recip_version1.0_#N` storage per recipient row, one `__attach_version1.0_#N` per
//! attachment. Read with the `cfb` crate, from bytes already read (read-only).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use super::mapi::{self, id, ty, Message, Recipient};

#[derive(Debug, thiserror::Error)]
pub enum MsgError {
    #[error("not a readable compound file: {0}")]
    Cfb(std::io::Error),
    #[error("a compound file without message properties (not an Outlook message)")]
    NoProperties,
}

type Cf<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

/// The fixed-size properties of a storage: id → (type, 8 value bytes).
fn fixed(cf: &mut Cf<'_>, storage: &str, header: usize) -> Option<HashMap<u16, (u16, [u8; 8])>> {
    let mut bytes = Vec::new();
    cf.open_stream(format!("{storage}/__properties_version1.0"))
        .ok()?
        .read_to_end(&mut bytes)
        .ok()?;
    let mut out = HashMap::new();
    for e in bytes.get(header..)?.chunks_exact(16) {
        let tag = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let mut v = [0u8; 8];
        v.copy_from_slice(&e[8..16]);
        out.insert((tag >> 16) as u16, (tag as u16, v));
    }
    Some(out)
}

/// A string property of a storage (Unicode stream first, then the ANSI one).
fn string(cf: &mut Cf<'_>, storage: &str, pid: u16) -> Option<String> {
    for t in [ty::UNICODE, ty::STRING8] {
        let path = format!("{storage}/__substg1.0_{pid:04X}{t:04X}");
        if let Ok(mut s) = cf.open_stream(&path) {
            let mut bytes = Vec::new();
            if s.read_to_end(&mut bytes).is_ok() {
                return Some(mapi::text(t, &bytes));
            }
        }
    }
    None
}

fn long(p: &HashMap<u16, (u16, [u8; 8])>, pid: u16) -> Option<u32> {
    p.get(&pid)
        .filter(|(t, _)| *t == ty::LONG)
        .map(|(_, v)| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

fn time(p: &HashMap<u16, (u16, [u8; 8])>, pid: u16) -> Option<i64> {
    p.get(&pid)
        .filter(|(t, _)| *t == ty::SYSTIME)
        .and_then(|(_, v)| mapi::filetime(u64::from_le_bytes(*v)))
}

/// Children of the root whose names start with `prefix`, sorted by name.
fn children(cf: &Cf<'_>, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = cf
        .read_root_storage()
        .filter(|e| e.is_storage() && e.name().starts_with(prefix))
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Read a `.msg` file's bytes.
pub fn read(bytes: &[u8]) -> Result<Message, MsgError> {
    let mut cf = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(MsgError::Cfb)?;
    let root = "";
    // A top-level message's property stream has a 32-byte header.
    let props = fixed(&mut cf, root, 32).ok_or(MsgError::NoProperties)?;
    let mut m = Message {
        class: string(&mut cf, root, id::MESSAGE_CLASS),
        subject: string(&mut cf, root, id::SUBJECT),
        subject_prefix: string(&mut cf, root, id::SUBJECT_PREFIX),
        submit_time: time(&props, id::CLIENT_SUBMIT_TIME),
        delivery_time: time(&props, id::MESSAGE_DELIVERY_TIME),
        sender_smtp: string(&mut cf, root, id::SENDER_SMTP_ADDRESS),
        sender_email: string(&mut cf, root, id::SENDER_EMAIL),
        sender_addrtype: string(&mut cf, root, id::SENDER_ADDRTYPE),
        sender_name: string(&mut cf, root, id::SENDER_NAME),
        representing_smtp: string(&mut cf, root, id::SENT_REPRESENTING_SMTP_ADDRESS),
        representing_email: string(&mut cf, root, id::SENT_REPRESENTING_EMAIL),
        representing_addrtype: string(&mut cf, root, id::SENT_REPRESENTING_ADDRTYPE),
        representing_name: string(&mut cf, root, id::SENT_REPRESENTING_NAME),
        message_id: string(&mut cf, root, id::INTERNET_MESSAGE_ID),
        in_reply_to: string(&mut cf, root, id::IN_REPLY_TO_ID),
        references: string(&mut cf, root, id::INTERNET_REFERENCES),
        display_to: string(&mut cf, root, id::DISPLAY_TO),
        display_cc: string(&mut cf, root, id::DISPLAY_CC),
        body: string(&mut cf, root, id::BODY),
        recipients: None,
        attachment_names: Vec::new(),
    };
    let recips = children(&cf, "__recip_version1.0_#");
    if !recips.is_empty() {
        let mut rows = Vec::with_capacity(recips.len());
        for r in recips {
            let p = fixed(&mut cf, &r, 8).unwrap_or_default();
            rows.push(Recipient {
                kind: long(&p, id::RECIPIENT_TYPE).unwrap_or(1),
                display_name: string(&mut cf, &r, id::DISPLAY_NAME),
                smtp_address: string(&mut cf, &r, id::SMTP_ADDRESS),
                email_address: string(&mut cf, &r, id::EMAIL_ADDRESS),
                addrtype: string(&mut cf, &r, id::ADDRTYPE),
                object_type: long(&p, id::OBJECT_TYPE),
                display_type: long(&p, id::DISPLAY_TYPE),
            });
        }
        m.recipients = Some(rows);
    }
    for a in children(&cf, "__attach_version1.0_#") {
        let name = string(&mut cf, &a, id::ATTACH_LONG_FILENAME)
            .or_else(|| string(&mut cf, &a, id::ATTACH_FILENAME));
        m.attachment_names.extend(name.filter(|n| !n.is_empty()));
    }
    Ok(m)
}
