//! What a worker does with one unit of a batch: a message file, a raw message from an mbox or
//! IMAP, an archive member, an Outlook item: parse its header block (or take the source's
//! envelope), classify it, and hand back an [`Outcome`] with its warnings.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{outlook, Outcome, RawExposed, ScanOptions, UnitResult};
use crate::detect::classify;
use crate::model::Finding;
use crate::parse::{address::decode_phrase_into, date, header, message, text};
use crate::source::files::{read_message_file, FileContent};
use crate::source::{hex, mbox, InputError, Location, Unit};
use crate::warning::{Warning, WarningKind};

/// A message's raw material, whatever the source.
pub(super) struct Raw<'a> {
    pub(super) location: Location,
    /// The header block.
    pub(super) header: &'a [u8],
    pub(super) terminated: bool,
    /// The whole message, when at hand (for SHA-256 and evidence).
    pub(super) whole: Option<&'a [u8]>,
    /// Its text when the source rebuilt it (Outlook), for the sensitive-context search.
    pub(super) text: Option<&'a [u8]>,
    /// `header_end` of `whole`, when it was found on `whole` itself (spares finding it again).
    pub(super) split: Option<(usize, usize, bool)>,
    /// Precomputed SHA-256 (message files).
    pub(super) sha256: Option<String>,
    pub(super) size: u64,
    /// Fallback date (IMAP INTERNALDATE).
    pub(super) internal_date: Option<i64>,
}

pub(super) fn process_unit(unit: Unit, opts: &ScanOptions) -> UnitResult {
    let mut r = UnitResult::default();
    match unit {
        Unit::Mbox {
            chunk,
            span,
            path,
            base,
        } => {
            let data = chunk.bytes();
            let msg = &data[span.header_start..span.end];
            let split = header::header_end(msg);
            let (hl, _, terminated) = split;
            let raw = Raw {
                location: Location::Mbox {
                    path,
                    offset: base + span.start as u64,
                },
                header: &msg[..hl],
                terminated,
                whole: Some(msg),
                text: None,
                split: Some(split),
                sha256: None,
                size: (span.end - span.start) as u64,
                internal_date: None,
            };
            process_message(raw, opts, &mut r);
        }
        Unit::File { path } => process_file(&path, opts, &mut r),
        Unit::Member(m) => process_member(&m.name, &m.bytes, opts, &mut r),
        Unit::Outlook(item) => outlook::pst_item(*item, opts, &mut r),
        Unit::Header(f) => {
            let crate::source::HeaderOnly {
                header: bytes,
                location,
                size,
                internal_date,
                sha256,
            } = *f;
            let (hl, _, terminated) = header::header_end(&bytes);
            let raw = Raw {
                location,
                header: &bytes[..hl],
                terminated: terminated || hl == bytes.len(),
                whole: None,
                text: None,
                split: None,
                sha256,
                size,
                internal_date,
            };
            process_message(raw, opts, &mut r);
        }
    }
    r
}

fn process_file(path: &Path, opts: &ScanOptions, r: &mut UnitResult) {
    let shown = crate::source::path_text(path);
    let (content, digest, size) = match read_message_file(path) {
        Ok(x) => x,
        Err(e) => {
            r.errors.push(InputError {
                location: shown,
                message: e.to_string(),
            });
            return;
        }
    };
    let hexd = hex(&digest);
    r.manifest = Some(format!("{hexd}  {shown}"));
    r.file_sha256 = Some(hexd.clone());
    match content {
        FileContent::Compound(bytes) => outlook::msg(&bytes, &shown, size, hexd, opts, r),
        FileContent::NotMessage(crate::source::sniff::FileKind::Pst) => {
            outlook::pst_file(path, &shown, size, opts, r)
        }
        FileContent::NotMessage(kind) => {
            r.not_message = Some(kind.label());
            r.warnings.push(Warning::new(
                WarningKind::FileNotMailSkipped,
                format!("{shown} ({})", kind.label()),
            ));
        }
        FileContent::Message {
            head,
            header_len,
            terminated,
        } => {
            let raw = Raw {
                location: Location::File {
                    path: shown.as_str().into(),
                },
                header: &head[..header_len],
                terminated,
                whole: None,
                text: None,
                split: None,
                sha256: Some(hexd),
                size,
                internal_date: None,
            };
            process_message(raw, opts, r);
            if let (Some(m), Some(Outcome::Exposing(f))) = (&opts.sensitive, r.outcomes.last_mut())
            {
                // Its text, read again (only for exposing messages), at most MAX_BODY bytes.
                match read_prefix(path, crate::sensitive::MAX_BODY) {
                    Ok(bytes) => f.0.sensitive = m.scan_message(&f.0.subject, &bytes),
                    Err(e) => r.warnings.push(Warning::new(
                        WarningKind::SensitiveContextNotRead,
                        format!("{shown}: {e}"),
                    )),
                }
            }
            if let (Some(dir), Some(Outcome::Exposing(f))) = (&opts.evidence_dir, r.outcomes.last())
            {
                if let Err(e) =
                    crate::evidence::save_file(dir, path, f.0.sha256.as_deref().unwrap_or(""))
                {
                    r.errors.push(InputError {
                        location: format!("evidence for {shown}"),
                        message: e.to_string(),
                    });
                }
            }
        }
        FileContent::Archive(bytes, kind) => {
            // An archive inside a tree: walked here, its messages processed in order.
            crate::source::archive::walk_bytes(&shown, bytes, kind, &mut |b| absorb(r, b, opts));
        }
        FileContent::Mbox(bytes) => {
            // A small mbox inside a tree: split it here.
            let mut src = mbox::MboxSource::from_bytes(&shown, bytes);
            while let Some(b) = crate::source::Source::next_batch(&mut src) {
                absorb(r, b, opts);
            }
        }
    }
}

/// What a walk inside one unit found (an archive, a small mbox, a PST), processed in order.
pub(super) fn absorb(r: &mut UnitResult, b: crate::source::Batch, opts: &ScanOptions) {
    r.warnings.extend(b.warnings);
    r.errors.extend(b.errors);
    for u in b.units {
        let sub = process_unit(u, opts);
        r.outcomes.extend(sub.outcomes);
        r.warnings.extend(sub.warnings);
        r.errors.extend(sub.errors);
    }
}

fn process_message(raw: Raw<'_>, opts: &ScanOptions, r: &mut UnitResult) {
    // Formatted only when a warning or error needs it (not once per message).
    let loc = || raw.location.to_string();
    if !raw.terminated {
        r.warnings
            .push(Warning::new(WarningKind::HeaderBlockNotTerminated, loc()));
    }
    // A UTF-8 BOM before the first field (a message file, or an mbox message) is not part of
    // its name: without this the first header (often `To:`) would be lost.
    let env = message::envelope(
        raw.header
            .strip_prefix(b"\xef\xbb\xbf")
            .unwrap_or(raw.header),
    );
    for (kind, off) in &env.problems {
        r.warnings.push(Warning::new(
            *kind,
            format!("{} (header byte {off})", loc()),
        ));
    }
    let date = env
        .date_raw
        .and_then(date::parse_header_date)
        .or(raw.internal_date);
    let subject_raw = env
        .subject_raw
        .map(|s| header::unfold(s).trim_ascii().to_vec())
        .unwrap_or_default();
    let subject = env
        .subject_raw
        .map(text::decode_header_value)
        .unwrap_or_default();
    let dated_by_header = env.date_raw.is_some();
    classify_message(
        &env,
        Meta {
            date,
            dated_by_header,
            subject_raw: &subject_raw,
            subject,
        },
        raw,
        opts,
        r,
    );
}

/// A message file or `.msg` read out of an archive: its bytes are at hand.
fn process_member(name: &str, bytes: &[u8], opts: &ScanOptions, r: &mut UnitResult) {
    let sha = hex(&Sha256::digest(bytes));
    let location = Location::File { path: name.into() };
    if bytes.starts_with(b"\xd0\xcf\x11\xe0") {
        return outlook::msg(bytes, name, bytes.len() as u64, sha, opts, r);
    }
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let (hl, _, terminated) = header::header_end(body);
    let raw = Raw {
        location,
        header: &body[..hl],
        terminated,
        whole: Some(bytes),
        text: None,
        split: None,
        sha256: Some(sha),
        size: bytes.len() as u64,
        internal_date: None,
    };
    process_message(raw, opts, r);
}

/// What a message says about itself beside its addresses.
pub(super) struct Meta<'a> {
    pub(super) date: Option<i64>,
    /// The date came from the message (not a server's arrival time): part of the content key.
    pub(super) dated_by_header: bool,
    /// The subject as written (for the content key) and decoded.
    pub(super) subject_raw: &'a [u8],
    pub(super) subject: String,
}

pub(super) fn classify_message(
    env: &message::Envelope<'_>,
    meta: Meta<'_>,
    raw: Raw<'_>,
    opts: &ScanOptions,
    r: &mut UnitResult,
) {
    let loc = || raw.location.to_string();
    let Meta {
        date,
        dated_by_header,
        subject_raw,
        subject,
    } = meta;
    if date.is_none() {
        r.warnings
            .push(Warning::new(WarningKind::UndatedMessage, loc()));
    }
    let sender_addrs: Vec<&str> = env
        .from
        .iter()
        .chain(&env.sender)
        .map(|a| a.addr.as_str())
        .collect();
    if !opts.policy.sender_selected(&sender_addrs) || !opts.policy.date_selected(date) {
        r.outcomes.push(Outcome::Filtered);
        return;
    }
    if env.to.is_empty() && env.cc.is_empty() && env.from.is_empty() && env.message_id.is_none() {
        r.warnings
            .push(Warning::new(WarningKind::NoUsableHeaders, loc()));
    }
    let c = classify(env, &opts.policy);
    let keys = crate::identity::keys(crate::identity::Parts {
        message_id: env.message_id.as_deref(),
        exposed: c.exposed.iter().map(|e| e.addr.as_str()).collect(),
        date: date.filter(|_| dated_by_header),
        from: sender_addrs.first().copied().unwrap_or(""),
        to: env.to.iter().map(|a| a.addr.as_str()).collect(),
        cc: env.cc.iter().map(|a| a.addr.as_str()).collect(),
        subject: subject_raw,
    });
    if !c.exposing {
        r.outcomes.push(Outcome::Ordinary(keys, date));
        return;
    }
    let sha256 = raw
        .sha256
        .or_else(|| raw.whole.map(|w| hex(&Sha256::digest(w))));
    if opts.evidence_dir.is_some()
        && raw.whole.is_none()
        && matches!(raw.location, Location::Mbox { .. })
    {
        // Streamed past without being held whole: its SHA-256 is known, its bytes are not kept.
        r.warnings
            .push(Warning::new(WarningKind::EvidenceTooLarge, loc()));
    }
    if let (Some(dir), Some(w), Some(sha)) = (&opts.evidence_dir, raw.whole, &sha256) {
        if let Err(e) = crate::export::write_evidence(dir, sha, w) {
            r.errors.push(InputError {
                location: format!("evidence for {}", loc()),
                message: e.to_string(),
            });
        }
    }
    let subject_is_reply = is_reply_subject(&subject);
    let finding = Finding {
        location: raw.location,
        custodian: "".into(),
        sha256,
        size: raw.size,
        date,
        from: sender_addrs.first().copied().unwrap_or("").to_string(),
        subject,
        message_id: env.message_id.clone(),
        parents: env.parents.clone(),
        subject_is_reply,
        to: c.to_count,
        cc: c.cc_count,
        bcc: c.bcc_count,
        external: c.external,
        audience: c.audience,
        bcc_only: c.bcc_only.clone(),
        exposed: Vec::new(),
        keys,
        sensitive: Vec::new(),
    };
    let mut finding = finding;
    if let Some(m) = &opts.sensitive {
        // The whole message when at hand; a message file is read again below (process_file);
        // a header-only message (IMAP, an oversized mbox message) gives its subject here.
        // The header split found on `whole` spares finding it again (none for rebuilt text).
        let text = raw.whole.or(raw.text).unwrap_or_default();
        finding.sensitive = m.scan_message_split(&finding.subject, text, raw.whole.and(raw.split));
    }
    let mut exposed = RawExposed::default();
    exposed.items.reserve(c.exposed.len());
    // Room for every address and name as written (decoding seldom makes a name longer).
    exposed.text.reserve(
        c.exposed
            .iter()
            .map(|e| e.addr.len() + e.name.map_or(0, <[u8]>::len))
            .sum(),
    );
    for e in &c.exposed {
        exposed.text.push_str(&e.addr);
        let addr_end = exposed.text.len() as u32;
        if let Some(n) = e.name {
            decode_phrase_into(&mut exposed.text, n);
        }
        exposed
            .items
            .push((addr_end, exposed.text.len() as u32, e.fields, e.internal));
    }
    r.outcomes
        .push(Outcome::Exposing(Box::new((finding, exposed))));
}

/// The first `max` bytes of a message file (opened as evidence: read-only, no atime).
fn read_prefix(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = crate::source::files::open_evidence(path)?;
    let mut bytes = Vec::new();
    f.take(max as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `Re:` and its common translations (AW, SV, R, RIF, Antw, VS, Odp).
pub fn is_reply_subject(s: &str) -> bool {
    let t = s.trim_start().to_ascii_lowercase();
    [
        "re:", "re :", "aw:", "sv:", "r:", "rif:", "antw:", "vs:", "odp:",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects() {
        assert!(is_reply_subject("RE: survey"));
        assert!(is_reply_subject("AW: Umfrage"));
        assert!(!is_reply_subject("Reminder: meeting"));
    }
}
