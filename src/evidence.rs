//! `--evidence`: the raw bytes of every exposing message, saved as `<sha256>.eml`.
//!
//! File sources are saved by the parser workers, which hold the bytes already (see
//! [`crate::scan`]); IMAP messages are fetched afterwards, whole, with `BODY.PEEK[]` (so nothing is
//! marked read), only for the messages found exposing.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::analysis::Report;
use crate::source::imap::{fetch_full, ImapOptions, ImapRecord, ImapUrl};
use crate::source::{hex, InputError, Location};

/// Save a whole message file (read again, without touching its access time).
pub fn save_file(dir: &Path, src: &Path, sha: &str) -> std::io::Result<()> {
    let mut f = crate::source::files::open_evidence(src)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes)?;
    crate::export::write_evidence(dir, sha, &bytes)
}

/// Fetch, hash and save the IMAP messages of `report`, filling in their `sha256`.
pub fn fetch_imap(
    report: &mut Report,
    accounts: &[(ImapUrl, ImapOptions, ImapRecord)],
    dir: &Path,
) -> Vec<InputError> {
    let mut errors = Vec::new();
    for (url, opts, record) in accounts {
        // mailbox URL → folder name, for this account's folders.
        let folders: HashMap<&str, &str> = record
            .folders
            .iter()
            .map(|c| (c.mailbox_url.as_str(), c.folder.as_str()))
            .collect();
        let mut wanted = Vec::new();
        for m in &report.messages {
            for l in &m.sources {
                if let Location::Imap {
                    mailbox_url,
                    uidvalidity,
                    uid,
                } = l
                {
                    if let Some(f) = folders.get(&**mailbox_url) {
                        wanted.push((f.to_string(), *uidvalidity, *uid));
                    }
                }
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let bodies = match fetch_full(url, opts, &wanted, None) {
            Ok(b) => b,
            Err(e) => {
                errors.push(InputError {
                    location: format!("evidence from {}", url.server()),
                    message: e.to_string(),
                });
                continue;
            }
        };
        for m in &mut report.messages {
            for (l, sha) in m.sources.iter().zip(m.sha256.iter_mut()) {
                let Location::Imap {
                    mailbox_url, uid, ..
                } = l
                else {
                    continue;
                };
                let Some(f) = folders.get(&**mailbox_url) else {
                    continue;
                };
                let Some(body) = bodies.get(&(f.to_string(), *uid)) else {
                    continue;
                };
                let h = hex(&Sha256::digest(body));
                if let Err(e) = crate::export::write_evidence(dir, &h, body) {
                    errors.push(InputError {
                        location: format!("evidence for {l}"),
                        message: e.to_string(),
                    });
                }
                *sha = h;
            }
        }
    }
    errors
}
