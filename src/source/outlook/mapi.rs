//! What Outlook stores about a message (MAPI properties), independent of the file it came in
//! (`.msg` now; PST nodes use the same properties): the properties bccaudit reads, their
//! decoding, and the message they describe.

/// Property ids (the high 16 bits of a tag).
pub mod id {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const SUBJECT: u16 = 0x0037;
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    pub const SENT_REPRESENTING_ADDRTYPE: u16 = 0x0064;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const SENDER_ADDRTYPE: u16 = 0x0C1E;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const DISPLAY_CC: u16 = 0x0E03;
    pub const DISPLAY_TO: u16 = 0x0E04;
    pub const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
    pub const OBJECT_TYPE: u16 = 0x0FFE;
    pub const BODY: u16 = 0x1000;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const INTERNET_REFERENCES: u16 = 0x1039;
    pub const IN_REPLY_TO_ID: u16 = 0x1042;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRTYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const DISPLAY_TYPE: u16 = 0x3900;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    pub const SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;
}

/// Property types (the low 16 bits of a tag).
pub mod ty {
    pub const LONG: u16 = 0x0003;
    pub const SYSTIME: u16 = 0x0040;
    pub const STRING8: u16 = 0x001E;
    pub const UNICODE: u16 = 0x001F;
    pub const BINARY: u16 = 0x0102;
}

/// `MAPI_DISTLIST` (PR_OBJECT_TYPE) and the list display types (PR_DISPLAY_TYPE).
const MAPI_DISTLIST: u32 = 8;
const DT_DISTLIST: u32 = 1;
const DT_PRIVATE_DISTLIST: u32 = 5;

/// A string property's bytes as text: UTF-16LE for PT_UNICODE, else the ANSI code page
/// (Windows-1252 assumed; its ASCII part is exact), trailing NULs dropped.
pub fn text(ty: u16, bytes: &[u8]) -> String {
    let s = if ty == ty::UNICODE {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| cp1252(b)).collect()
    };
    s.trim_end_matches('\0').to_string()
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// A FILETIME (100 ns since 1601) as Unix seconds.
pub fn filetime(v: u64) -> Option<i64> {
    if v == 0 {
        return None;
    }
    Some((v / 10_000_000) as i64 - 11_644_473_600)
}

/// One row of a recipient table, as stored.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Recipient {
    /// PR_RECIPIENT_TYPE: 1 To, 2 Cc, 3 Bcc (others: kept, not shown).
    pub kind: u32,
    pub display_name: Option<String>,
    pub smtp_address: Option<String>,
    pub email_address: Option<String>,
    pub addrtype: Option<String>,
    pub object_type: Option<u32>,
    pub display_type: Option<u32>,
}

impl Recipient {
    /// Its address, first found: PR_SMTP_ADDRESS; PR_EMAIL_ADDRESS when PR_ADDRTYPE is SMTP
    /// (or it looks like one); for Exchange (`EX`) with no SMTP address, the legacy DN.
    pub fn address(&self) -> Option<(String, AddressKind)> {
        fn nonempty(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        if let Some(a) = nonempty(&self.smtp_address) {
            return Some((a.to_string(), AddressKind::Smtp));
        }
        let email = nonempty(&self.email_address)?;
        let addrtype = self.addrtype.as_deref().unwrap_or("").trim();
        if addrtype.eq_ignore_ascii_case("SMTP") || (addrtype.is_empty() && email.contains('@')) {
            Some((email.to_string(), AddressKind::Smtp))
        } else if addrtype.eq_ignore_ascii_case("EX") || email.starts_with('/') {
            Some((email.to_string(), AddressKind::ExchangeDn))
        } else {
            Some((email.to_string(), AddressKind::Other))
        }
    }

    /// A distribution list: one visible address (its members were not shown to each other).
    pub fn is_list(&self) -> bool {
        self.object_type == Some(MAPI_DISTLIST)
            || matches!(self.display_type, Some(DT_DISTLIST | DT_PRIVATE_DISTLIST))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Smtp,
    /// An Exchange legacy DN (`/O=ORG/OU=…/CN=RECIPIENTS/CN=JDOE`): internal by nature.
    ExchangeDn,
    Other,
}

/// The properties of one message bccaudit uses.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub class: Option<String>,
    pub subject: Option<String>,
    pub subject_prefix: Option<String>,
    pub submit_time: Option<i64>,
    pub delivery_time: Option<i64>,
    pub sender_smtp: Option<String>,
    pub sender_email: Option<String>,
    pub sender_addrtype: Option<String>,
    pub sender_name: Option<String>,
    pub representing_smtp: Option<String>,
    pub representing_email: Option<String>,
    pub representing_addrtype: Option<String>,
    pub representing_name: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub display_to: Option<String>,
    pub display_cc: Option<String>,
    pub body: Option<String>,
    /// None: the message has no recipient table at all (old PSTs): fall back to display names.
    pub recipients: Option<Vec<Recipient>>,
    pub attachment_names: Vec<String>,
}

impl Message {
    /// Mail (`IPM.Note`, `IPM.Note.*`, and the class-less) rather than a contact, appointment…
    pub fn is_mail(&self) -> bool {
        match self.class.as_deref() {
            None => true,
            Some(c) => {
                let c = c.to_ascii_uppercase();
                c == "IPM.NOTE" || c.starts_with("IPM.NOTE.") || c == "IPM"
            }
        }
    }

    /// The subject as shown: prefix (`RE: `) and subject, when the prefix is not already in it.
    pub fn full_subject(&self) -> String {
        let s = self.subject.clone().unwrap_or_default();
        match &self.subject_prefix {
            Some(p) if !p.is_empty() && !s.starts_with(p.as_str()) => format!("{p}{s}"),
            _ => s,
        }
    }

    /// The sender addresses ("from" and "on behalf of"), SMTP first found.
    pub fn senders(&self) -> Vec<(String, Option<String>)> {
        let pick = |smtp: &Option<String>, email: &Option<String>, t: &Option<String>| {
            smtp.clone().filter(|s| !s.is_empty()).or_else(|| {
                let e = email.clone().filter(|s| !s.is_empty())?;
                let t = t.as_deref().unwrap_or("");
                (t.eq_ignore_ascii_case("SMTP") || e.contains('@')).then_some(e)
            })
        };
        let mut out = Vec::new();
        if let Some(a) = pick(&self.sender_smtp, &self.sender_email, &self.sender_addrtype) {
            out.push((a, self.sender_name.clone()));
        }
        if let Some(a) = pick(
            &self.representing_smtp,
            &self.representing_email,
            &self.representing_addrtype,
        ) {
            if !out.iter().any(|(x, _)| x.eq_ignore_ascii_case(&a)) {
                out.push((a, self.representing_name.clone()));
            }
        }
        out
    }

    /// Message-ids of In-Reply-To then References.
    pub fn parents(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in [&self.in_reply_to, &self.references].into_iter().flatten() {
            for id in v.split(|c: char| c.is_whitespace() || c == ',') {
                let id = id.trim().trim_start_matches('<').trim_end_matches('>');
                if !id.is_empty() && !out.iter().any(|x| x == id) {
                    out.push(id.to_string());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_times_and_addresses() {
        assert_eq!(text(ty::UNICODE, &[0x5a, 0, 0xeb, 0, 0, 0]), "Zë");
        assert_eq!(text(ty::STRING8, b"caf\xe9 \x80\0"), "café €");
        assert_eq!(filetime(116_444_736_000_000_000), Some(0));
        let r = Recipient {
            email_address: Some("/O=ORG/OU=EXCHANGE/CN=RECIPIENTS/CN=JDOE".into()),
            addrtype: Some("EX".into()),
            ..Default::default()
        };
        assert_eq!(r.address().unwrap().1, AddressKind::ExchangeDn);
        let r = Recipient {
            smtp_address: Some("j@x.test".into()),
            email_address: Some("/O=ORG".into()),
            addrtype: Some("EX".into()),
            object_type: Some(8),
            ..Default::default()
        };
        assert_eq!(r.address().unwrap(), ("j@x.test".into(), AddressKind::Smtp));
        assert!(r.is_list());
    }
}
