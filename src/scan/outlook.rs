//! Outlook items in the pipeline: `.msg` files and members, PST messages, PSTs found inside a
//! tree. Their recipients were decided by the source (`src/source/outlook/`); here they are
//! classified like a header block, and their evidence is the MIME rebuilt from the properties.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::worker::{absorb, classify_message, Meta, Raw};
use super::{Outcome, ScanOptions, UnitResult};
use crate::parse::message;
use crate::source::outlook::{self, pst};
use crate::source::{hex, InputError, Location};
use crate::warning::{Warning, WarningKind};

/// An Outlook `.msg` (a file in a tree, or an archive member) shown as `shown`.
pub(super) fn msg(
    bytes: &[u8],
    shown: &str,
    size: u64,
    sha256: String,
    opts: &ScanOptions,
    r: &mut UnitResult,
) {
    match outlook::msg::read(bytes) {
        Ok(m) if m.is_mail() => {
            let s = outlook::structured(&m, shown);
            let location = Location::File { path: shown.into() };
            structured(&s, location, size, Some(sha256), opts, r);
        }
        Ok(m) => {
            let class = m.class.unwrap_or_default();
            r.not_message = Some(outlook::class_label(&class));
            r.warnings.push(Warning::new(
                WarningKind::OutlookItemNotMail,
                format!("{shown} ({class})"),
            ));
        }
        Err(e) => {
            r.not_message = Some(crate::source::sniff::FileKind::Cfb.label());
            let kind = match e {
                outlook::msg::MsgError::NoProperties => WarningKind::FileNotMailSkipped,
                outlook::msg::MsgError::Cfb(_) => WarningKind::OutlookMsgUnreadable,
            };
            r.warnings
                .push(Warning::new(kind, format!("{shown} ({e})")));
        }
    }
}

/// One message read out of a PST by its source.
pub(super) fn pst_item(item: pst::PstItem, opts: &ScanOptions, r: &mut UnitResult) {
    let pst::PstItem {
        message,
        location,
        size,
    } = item;
    let shown = location.to_string();
    if message.is_mail() {
        let s = outlook::structured(&message, &shown);
        let sha = hex(&Sha256::digest(&s.mime));
        let size = if size == 0 { s.mime.len() as u64 } else { size };
        structured(&s, location, size, Some(sha), opts, r);
    } else {
        let class = message.class.unwrap_or_default();
        r.not_message = Some(outlook::class_label(&class));
        r.warnings.push(Warning::new(
            WarningKind::OutlookItemNotMail,
            format!("{shown} ({class})"),
        ));
    }
}

/// A PST inside a tree: walked here (one thread per file), its messages processed in order.
pub(super) fn pst_file(
    path: &Path,
    shown: &str,
    size: u64,
    opts: &ScanOptions,
    r: &mut UnitResult,
) {
    let walked = crate::source::files::open_evidence(path)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            let body_from = opts.policy.min_exposed;
            pst::walk(
                shown,
                Box::new(f),
                size,
                &opts.folders,
                body_from,
                &mut |b| absorb(r, b, opts),
            )
            .map_err(|e| e.to_string())
        });
    if let Err(message) = walked {
        r.errors.push(InputError {
            location: shown.to_string(),
            message,
        });
    }
}

/// A message taken apart by its source (Outlook): classified like a parsed header block.
fn structured(
    s: &crate::source::Structured,
    location: Location,
    size: u64,
    sha256: Option<String>,
    opts: &ScanOptions,
    r: &mut UnitResult,
) {
    for w in &s.warnings {
        r.warnings.push(Warning::new(*w, location.to_string()));
    }
    fn parties(ps: &[crate::source::Party]) -> Vec<message::Addr<'_>> {
        ps.iter()
            .map(|p| message::Addr {
                addr: p.addr.clone(),
                name: p.name.as_deref().map(str::as_bytes),
                exchange_dn: p.exchange_dn,
                list: p.list,
            })
            .collect()
    }
    let env = message::Envelope {
        to: parties(&s.to),
        cc: parties(&s.cc),
        bcc: parties(&s.bcc),
        from: parties(&s.from),
        message_id: s.message_id.clone(),
        parents: s.parents.clone(),
        ..Default::default()
    };
    let raw = Raw {
        location,
        header: b"",
        terminated: true,
        whole: None,
        text: Some(&s.mime),
        split: None,
        sha256,
        size,
        internal_date: None,
    };
    let meta = Meta {
        date: s.date,
        dated_by_header: s.date.is_some(),
        subject_raw: s.subject.as_bytes(),
        subject: s.subject.clone(),
    };
    classify_message(&env, meta, raw, opts, r);
    if let (Some(dir), Some(Outcome::Exposing(f))) = (&opts.evidence_dir, r.outcomes.last()) {
        // Evidence of an Outlook message: the MIME rebuilt from its properties, named by the
        // SHA-256 of those bytes.
        let name = hex(&Sha256::digest(&s.mime));
        let rows = s.raw_recipients.as_deref().map_or(Ok(()), |j| {
            crate::export::write_evidence_file(dir, &format!("{name}.json"), j)
        });
        if let Err(e) = crate::export::write_evidence(dir, &name, &s.mime).and(rows) {
            r.errors.push(InputError {
                location: format!("evidence for {}", f.0.location),
                message: e.to_string(),
            });
        }
    }
}
