//! The pipeline: sources are drained on one producer thread, each batch is parsed and classified
//! on the rayon pool, and results are folded back *in source order* on the calling thread, so the
//! outcome never depends on the number of threads.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::detect::{classify, Policy};
use crate::identity::Copies;
use crate::intern::Strings;
use crate::parse::{address::decode_phrase, date, header, message, text};
use crate::run::Observer;
use crate::source::files::{read_message_file, FileContent};
use crate::source::{hex, mbox, InputError, InputInfo, InputKind, Location, Source, Unit};
use crate::warning::{Warning, WarningKind};

mod outlook;

pub use crate::model::{ExposedAddr, Finding, InputResult, Keys, ScanResult, Stats};

/// A finding's exposed people as the worker found them: their addresses and names in one
/// buffer (no allocation per person), interned when folded.
#[derive(Default)]
pub(super) struct RawExposed {
    text: String,
    /// End of the address, end of the name (in `text`), fields, internal.
    items: Vec<(u32, u32, u8, bool)>,
}

pub(super) enum Outcome {
    /// With its exposed people as strings, interned when folded.
    Exposing(Box<(Finding, RawExposed)>),
    /// With its date (for the dates a report covers).
    Ordinary(Keys, Option<i64>),
    Filtered,
}

#[derive(Default)]
pub(super) struct UnitResult {
    outcomes: Vec<Outcome>,
    warnings: Vec<Warning>,
    errors: Vec<InputError>,
    /// A file in a tree that is not mail: what it looks like.
    not_message: Option<&'static str>,
    manifest: Option<String>,
    file_sha256: Option<String>,
}

/// What the pipeline needs to know besides the sources.
pub struct ScanOptions {
    pub policy: Policy,
    pub jobs: usize,
    /// Save the raw bytes of exposing messages here (`<sha256>.eml`).
    pub evidence_dir: Option<PathBuf>,
    /// Keep every message's identity keys per input (for a partial result).
    pub record_keys: bool,
    /// Look for sensitive context in exposing messages (subject, text, attachment names).
    pub sensitive: Option<std::sync::Arc<crate::sensitive::Matcher>>,
    /// PST folders to read (by name or path); empty: all.
    pub folders: Vec<String>,
}

enum Msg {
    Batch(usize, crate::source::Batch),
    Done(usize, InputInfo),
}

/// The scan could not start (the machine refused threads: `ulimit -u`, memory).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot start {jobs} parser thread(s): {message} (try a smaller --jobs)")]
    Pool { jobs: usize, message: String },
    #[error("cannot start the source thread: {0}")]
    Thread(std::io::Error),
}

/// Run the whole scan.
pub fn run(
    sources: Vec<Box<dyn Source>>,
    total_bytes: Option<u64>,
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> Result<Scanned, ScanError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("bccaudit-parse-{i}"))
        .build()
        .map_err(|e| ScanError::Pool {
            jobs: opts.jobs,
            message: e.to_string(),
        })?;
    observer.scan_started(total_bytes, sources.iter().map(|s| s.folders()).collect());
    let (tx, rx) = sync_channel::<Msg>(2);
    let n_inputs = sources.len();
    let producer = std::thread::Builder::new()
        .name("bccaudit-source".into())
        .spawn(move || {
            for (i, mut s) in sources.into_iter().enumerate() {
                while let Some(b) = s.next_batch() {
                    if tx.send(Msg::Batch(i, b)).is_err() {
                        return;
                    }
                }
                let info = s.info();
                drop(s);
                if tx.send(Msg::Done(i, info)).is_err() {
                    return;
                }
            }
        })
        .map_err(ScanError::Thread)?;

    let mut c = Collector::new(n_inputs, opts.record_keys);
    // Results of the previous batch, folded while the pool parses the next one.
    let mut pending: Option<(usize, Vec<UnitResult>)> = None;
    for msg in rx {
        match msg {
            Msg::Batch(i, batch) => {
                match batch.folder {
                    Some(f) => observer.messages(i, f, batch.units.len() as u64),
                    None => observer.bytes(batch.bytes),
                }
                let units = batch.units;
                let (_, results) = pool.install(|| {
                    rayon::join(
                        || {
                            c.fold_all(pending.take());
                            let part = &mut c.parts[i];
                            part.stats.bytes += batch.bytes;
                            for w in batch.warnings {
                                part.warnings.add(w);
                            }
                            part.errors.extend(batch.errors);
                            for line in batch.manifest {
                                c.manifest_line(i, &line);
                            }
                        },
                        || {
                            units
                                .into_par_iter()
                                .map(|u| process_unit(u, opts))
                                .collect::<Vec<_>>()
                        },
                    )
                });
                pending = Some((i, results));
            }
            Msg::Done(i, mut info) => {
                c.fold_all(pending.take());
                c.parts[i].errors.append(&mut info.errors);
                let (hasher, single) = std::mem::take(&mut c.manifests[i]);
                match info.kind {
                    InputKind::Directory => info.sha256 = Some(hex(&hasher.finalize())),
                    InputKind::MessageFile => info.sha256 = single,
                    _ => {}
                }
                c.parts[i].info = Some(info);
            }
        }
    }
    c.fold_all(pending.take());
    let _ = producer.join();
    observer.scan_finished();
    Ok(Scanned {
        unique: c.copies.unique(),
        parts: c.parts,
        strings: c.strings,
    })
}

/// What [`run`] returns: per source, what it yielded; and how many distinct messages there
/// were among all of them (not counting those filtered out).
pub struct Scanned {
    pub parts: Vec<InputResult>,
    pub unique: u64,
    /// The exposed addresses and names the findings refer to.
    pub strings: Strings,
}

/// In-order fold of worker results, one [`InputResult`] per source.
struct Collector {
    parts: Vec<InputResult>,
    /// The one place "same message" is decided.
    copies: Copies,
    /// Every exposed address and name, stored once.
    strings: Strings,
    record_keys: bool,
    /// Per input: manifest hasher, and the hash of a single-file input.
    manifests: Vec<(Sha256, Option<String>)>,
}

impl Collector {
    fn new(n: usize, record_keys: bool) -> Collector {
        Collector {
            parts: (0..n).map(|_| InputResult::default()).collect(),
            copies: Copies::default(),
            strings: Strings::default(),
            record_keys,
            manifests: (0..n).map(|_| (Sha256::new(), None)).collect(),
        }
    }

    fn manifest_line(&mut self, i: usize, line: &str) {
        let m = &mut self.manifests[i].0;
        m.update(line.as_bytes());
        m.update(b"\n");
    }

    fn fold_all(&mut self, results: Option<(usize, Vec<UnitResult>)>) {
        if let Some((input, rs)) = results {
            for r in rs {
                self.fold(input, r);
            }
        }
    }

    fn fold(&mut self, input: usize, r: UnitResult) {
        if let Some(line) = r.manifest {
            self.manifest_line(input, &line);
        }
        if r.file_sha256.is_some() {
            self.manifests[input].1 = r.file_sha256;
        }
        let part = &mut self.parts[input];
        if let Some(kind) = r.not_message {
            part.stats.files_skipped_not_message += 1;
            *part
                .stats
                .files_skipped_by_type
                .entry(kind.to_string())
                .or_default() += 1;
        }
        for w in r.warnings {
            if w.kind == WarningKind::UndatedMessage {
                part.stats.undated += 1;
            }
            part.warnings.add(w);
        }
        part.errors.extend(r.errors);
        for o in r.outcomes {
            part.stats.messages_read += 1;
            let keys = match o {
                Outcome::Filtered => {
                    part.stats.filtered_out += 1;
                    continue;
                }
                Outcome::Ordinary(k, date) => {
                    part.stats.saw_date(date);
                    k
                }
                Outcome::Exposing(b) => {
                    let (mut f, raw) = *b;
                    part.stats.saw_date(f.date);
                    let items = &raw.items;
                    let start = |j: usize| if j == 0 { 0 } else { items[j - 1].1 as usize };
                    let mut exposed = Vec::with_capacity(items.len());
                    for (j, &(addr_end, name_end, fields, internal)) in items.iter().enumerate() {
                        // Addresses are mostly new: fetch the index slot of one a few ahead.
                        if let Some(&(ahead, ..)) = items.get(j + 4) {
                            self.strings
                                .prefetch_slot(&raw.text[start(j + 4)..ahead as usize]);
                        }
                        let (at, a, n) = (start(j), addr_end as usize, name_end as usize);
                        exposed.push(crate::model::Exposed {
                            addr: self.strings.intern(&raw.text[at..a]),
                            name: self.strings.intern(&raw.text[a..n]),
                            fields,
                            internal,
                        });
                    }
                    f.exposed = exposed;
                    let k = f.keys;
                    part.findings.push(f);
                    k
                }
            };
            self.copies.add(&keys);
            if self.record_keys {
                part.keys.push(keys);
            }
        }
    }
}

/// A message's raw material, whatever the source.
pub(super) struct Raw<'a> {
    location: Location,
    /// The header block.
    header: &'a [u8],
    terminated: bool,
    /// The whole message, when at hand (for SHA-256 and evidence).
    whole: Option<&'a [u8]>,
    /// Its text when the source rebuilt it (Outlook), for the sensitive-context search.
    text: Option<&'a [u8]>,
    /// Precomputed SHA-256 (message files).
    sha256: Option<String>,
    size: u64,
    /// Fallback date (IMAP INTERNALDATE).
    internal_date: Option<i64>,
}

fn process_unit(unit: Unit, opts: &ScanOptions) -> UnitResult {
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
            let (hl, _, terminated) = header::header_end(msg);
            let raw = Raw {
                location: Location::Mbox {
                    path,
                    offset: base + span.start as u64,
                },
                header: &msg[..hl],
                terminated,
                whole: Some(msg),
                text: None,
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
        sha256: Some(sha),
        size: bytes.len() as u64,
        internal_date: None,
    };
    process_message(raw, opts, r);
}

/// What a message says about itself beside its addresses.
pub(super) struct Meta<'a> {
    date: Option<i64>,
    /// The date came from the message (not a server's arrival time): part of the content key.
    dated_by_header: bool,
    /// The subject as written (for the content key) and decoded.
    subject_raw: &'a [u8],
    subject: String,
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
        finding.sensitive = match raw.whole.or(raw.text) {
            Some(w) => m.scan_message(&finding.subject, w),
            None => m.scan_message(&finding.subject, b""),
        };
    }
    let mut exposed = RawExposed::default();
    exposed.items.reserve(c.exposed.len());
    for e in &c.exposed {
        exposed.text.push_str(&e.addr);
        let addr_end = exposed.text.len() as u32;
        if let Some(n) = e.name {
            exposed.text.push_str(&decode_phrase(n));
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
