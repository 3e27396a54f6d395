//! A small Outlook `.msg` writer for tests and the samples (MS-OXMSG: a compound file, written
//! with the `cfb` crate): the properties bccaudit reads, a recipient table, attachments.
//! Shared by `tests/` and `examples/make_samples.rs` (`#[path]`).
#![allow(dead_code)]

use std::io::{Cursor, Write};

pub struct Recip {
    /// 1 To, 2 Cc, 3 Bcc.
    pub kind: u32,
    pub name: String,
    pub smtp: Option<String>,
    pub email: String,
    pub addrtype: &'static str,
    /// 8 for a distribution list.
    pub object_type: u32,
}

impl Recip {
    pub fn smtp(kind: u32, name: &str, addr: &str) -> Recip {
        Recip {
            kind,
            name: name.to_string(),
            smtp: Some(addr.to_string()),
            email: addr.to_string(),
            addrtype: "SMTP",
            object_type: 6,
        }
    }
}

pub struct Msg {
    pub class: &'static str,
    pub subject: String,
    pub message_id: Option<String>,
    /// Unix seconds (PR_CLIENT_SUBMIT_TIME).
    pub sent: Option<i64>,
    pub sender_name: String,
    pub sender_smtp: String,
    pub recipients: Vec<Recip>,
    pub body: String,
    pub attachments: Vec<String>,
    /// Write strings as PT_STRING8 (Windows-1252; the text must be Latin-1) instead of UTF-16.
    pub ansi: bool,
    pub in_reply_to: Option<String>,
    /// PR_DISPLAY_TO / PR_DISPLAY_CC when not the recipients' names (PST writer).
    pub display_to: Option<String>,
    pub display_cc: Option<String>,
    /// Leave the recipient table out, as some old PSTs do (PST writer).
    pub no_recipient_table: bool,
}

impl Default for Msg {
    fn default() -> Msg {
        Msg {
            class: "IPM.Note",
            subject: String::new(),
            message_id: None,
            sent: None,
            sender_name: String::new(),
            sender_smtp: String::new(),
            recipients: Vec::new(),
            body: String::new(),
            attachments: Vec::new(),
            ansi: false,
            in_reply_to: None,
            display_to: None,
            display_cc: None,
            no_recipient_table: false,
        }
    }
}

const UNICODE: u16 = 0x001F;
const STRING8: u16 = 0x001E;
const LONG: u16 = 0x0003;
const SYSTIME: u16 = 0x0040;

/// Fixed-size properties and string streams of one storage.
struct Props {
    entries: Vec<u8>,
    streams: Vec<(String, Vec<u8>)>,
    ansi: bool,
}

impl Props {
    fn new(ansi: bool) -> Props {
        Props {
            entries: Vec::new(),
            streams: Vec::new(),
            ansi,
        }
    }

    fn entry(&mut self, id: u16, ty: u16, value: [u8; 8]) {
        let tag = (u32::from(id) << 16) | u32::from(ty);
        self.entries.extend_from_slice(&tag.to_le_bytes());
        self.entries.extend_from_slice(&6u32.to_le_bytes());
        self.entries.extend_from_slice(&value);
    }

    fn string(&mut self, id: u16, s: &str) {
        let (ty, bytes) = if self.ansi {
            (
                STRING8,
                s.chars()
                    .map(|c| c as u32 as u8)
                    .chain([0])
                    .collect::<Vec<u8>>(),
            )
        } else {
            let mut b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            b.extend_from_slice(&[0, 0]);
            (UNICODE, b)
        };
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.entry(id, ty, v);
        self.streams
            .push((format!("__substg1.0_{id:04X}{ty:04X}"), bytes));
    }

    fn long(&mut self, id: u16, n: u32) {
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&n.to_le_bytes());
        self.entry(id, LONG, v);
    }

    fn time(&mut self, id: u16, unix: i64) {
        let ft = ((unix + 11_644_473_600) * 10_000_000) as u64;
        self.entry(id, SYSTIME, ft.to_le_bytes());
    }

    fn write(self, cf: &mut cfb::CompoundFile<Cursor<Vec<u8>>>, storage: &str, header: &[u8]) {
        let mut s = cf
            .create_stream(format!("{storage}/__properties_version1.0"))
            .unwrap();
        s.write_all(header).unwrap();
        s.write_all(&self.entries).unwrap();
        drop(s);
        for (name, bytes) in self.streams {
            let mut s = cf.create_stream(format!("{storage}/{name}")).unwrap();
            s.write_all(&bytes).unwrap();
        }
    }
}

/// The `.msg` bytes.
pub fn write(m: &Msg) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    let mut p = Props::new(m.ansi);
    p.string(0x001A, m.class);
    p.string(0x0037, &m.subject);
    if let Some(id) = &m.message_id {
        p.string(0x1035, id);
    }
    if let Some(t) = m.sent {
        p.time(0x0039, t);
        p.time(0x0E06, t);
    }
    p.string(0x0C1A, &m.sender_name);
    p.string(0x5D01, &m.sender_smtp);
    p.string(0x0C1F, &m.sender_smtp);
    p.string(0x0C1E, "SMTP");
    p.string(0x0042, &m.sender_name);
    p.string(0x5D02, &m.sender_smtp);
    let shown = |k: u32| {
        m.recipients
            .iter()
            .filter(|r| r.kind == k)
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    p.string(0x0E04, &shown(1));
    p.string(0x0E03, &shown(2));
    p.string(0x1000, &m.body);
    let mut header = vec![0u8; 8];
    for n in [
        m.recipients.len(),
        m.attachments.len(),
        m.recipients.len(),
        m.attachments.len(),
    ] {
        header.extend_from_slice(&(n as u32).to_le_bytes());
    }
    header.extend_from_slice(&[0u8; 8]);
    p.write(&mut cf, "", &header);
    for (i, r) in m.recipients.iter().enumerate() {
        let storage = format!("/__recip_version1.0_#{i:08X}");
        cf.create_storage(&storage).unwrap();
        let mut p = Props::new(m.ansi);
        p.long(0x0C15, r.kind);
        p.long(0x0FFE, r.object_type);
        p.long(0x3900, if r.object_type == 8 { 1 } else { 0 });
        p.string(0x3001, &r.name);
        p.string(0x3002, r.addrtype);
        p.string(0x3003, &r.email);
        if let Some(s) = &r.smtp {
            p.string(0x39FE, s);
        }
        p.write(&mut cf, &storage, &[0u8; 8]);
    }
    for (i, a) in m.attachments.iter().enumerate() {
        let storage = format!("/__attach_version1.0_#{i:08X}");
        cf.create_storage(&storage).unwrap();
        let mut p = Props::new(m.ansi);
        p.string(0x3707, a);
        p.write(&mut cf, &storage, &[0u8; 8]);
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}
