//! The text of exposing messages read over IMAP: the header scan fetched headers only, so the
//! exposing messages alone are fetched again, their first [`MAX_BODY`] bytes, with
//! `BODY.PEEK[]<0.N>` (nothing is marked read), and searched for sensitive context.

use std::collections::HashMap;

use super::{Matcher, MAX_BODY};
use crate::model::InputResult;
use crate::source::imap::{fetch_full, ImapOptions, ImapUrl};
use crate::source::Location;
use crate::warning::{Warning, WarningKind};

/// Fill in the sensitive-context hits of every IMAP finding of `parts` (inputs in order; the
/// IMAP ones match `accounts`, in order). What cannot be fetched is a warning per message.
pub fn read_imap_texts(
    parts: &mut [InputResult],
    accounts: &[(ImapUrl, ImapOptions)],
    matcher: &Matcher,
) {
    let mut accounts = accounts.iter();
    for part in parts.iter_mut() {
        let Some(record) = part.info.as_ref().and_then(|i| i.imap.clone()) else {
            continue;
        };
        let Some((url, opts)) = accounts.next() else {
            break;
        };
        let folders: HashMap<&str, &str> = record
            .folders
            .iter()
            .map(|c| (c.mailbox_url.as_str(), c.folder.as_str()))
            .collect();
        let key = |l: &Location| match l {
            Location::Imap {
                mailbox_url,
                uidvalidity,
                uid,
            } => folders
                .get(&**mailbox_url)
                .map(|f| (f.to_string(), *uidvalidity, *uid)),
            _ => None,
        };
        let wanted: Vec<(String, u32, u32)> = part
            .findings
            .iter()
            .filter_map(|f| key(&f.location))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let bodies = match fetch_full(url, opts, &wanted, Some(MAX_BODY)) {
            Ok(b) => b,
            Err(e) => {
                part.warnings.add(Warning::new(
                    WarningKind::SensitiveContextNotRead,
                    format!("{}: {e}", url.server()),
                ));
                continue;
            }
        };
        for f in &mut part.findings {
            let Some((folder, _, uid)) = key(&f.location) else {
                continue;
            };
            match bodies.get(&(folder, uid)) {
                Some(raw) => f.sensitive = matcher.scan_message(&f.subject, raw),
                None => part.warnings.add(Warning::new(
                    WarningKind::SensitiveContextNotRead,
                    f.location.to_string(),
                )),
            }
        }
    }
}
