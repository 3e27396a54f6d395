//! The pipeline: sources are drained on one producer thread, each batch is parsed and classified
//! on the rayon pool, and results are folded back *in source order* on the calling thread, so the
//! outcome never depends on the number of threads.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::detect::{classify, Policy, IN_CC, IN_TO};
use crate::identity::Copies;
use crate::parse::{address::decode_phrase, date, header, message, text};
use crate::source::files::{read_message_file, FileContent};
use crate::source::{hex, mbox, InputError, InputInfo, Location, Source, Unit};
use crate::warning::{Warning, WarningTally};

/// One exposed address of a finding, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedAddr {
    /// Shared by every report row about this person (a 5 GB scan can expose 100,000s).
    pub addr: std::sync::Arc<str>,
    pub name: String,
    /// [`IN_TO`] | [`IN_CC`].
    pub fields: u8,
    pub internal: bool,
}

impl ExposedAddr {
    pub fn field_label(&self) -> &'static str {
        match (self.fields & IN_TO != 0, self.fields & IN_CC != 0) {
            (true, true) => "to+cc",
            (true, false) => "to",
            _ => "cc",
        }
    }
}

pub use crate::identity::Keys;

/// An exposing message, with everything the reports need.
#[derive(Debug, Clone)]
pub struct Finding {
    pub location: Location,
    pub sha256: Option<String>,
    pub size: u64,
    pub date: Option<i64>,
    pub from: String,
    pub subject: String,
    pub message_id: Option<String>,
    pub parents: Vec<String>,
    pub subject_is_reply: bool,
    pub to: usize,
    pub cc: usize,
    pub bcc: usize,
    pub exposed: Vec<ExposedAddr>,
    pub external: usize,
    pub audience: usize,
    /// Bcc recipients who saw the list without being exposed.
    pub bcc_only: Vec<String>,
    pub keys: Keys,
}

enum Outcome {
    Exposing(Box<Finding>),
    Ordinary(Keys),
    Filtered,
}

#[derive(Default)]
struct UnitResult {
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
    pub progress: bool,
    /// Save the raw bytes of exposing messages here (`<sha256>.eml`).
    pub evidence_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub messages_read: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub filtered_out: u64,
    pub undated: u64,
    pub files_skipped_not_message: u64,
    /// The skipped files by what they look like (`PST`, `zip`, `empty`, …).
    pub files_skipped_by_type: std::collections::BTreeMap<String, u64>,
    pub bytes: u64,
}

pub struct ScanResult {
    /// Exposing messages, copies included, in source order.
    pub findings: Vec<Finding>,
    pub stats: Stats,
    pub warnings: WarningTally,
    pub errors: Vec<InputError>,
    pub inputs: Vec<InputInfo>,
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
) -> Result<ScanResult, ScanError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("bccaudit-parse-{i}"))
        .build()
        .map_err(|e| ScanError::Pool {
            jobs: opts.jobs,
            message: e.to_string(),
        })?;
    let bar = Progress::new(
        opts.progress,
        total_bytes,
        sources.iter().map(|s| s.folders()).collect(),
    );
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

    let mut c = Collector::new(n_inputs);
    // Results of the previous batch, folded while the pool parses the next one.
    let mut pending: Option<(usize, Vec<UnitResult>)> = None;
    for msg in rx {
        match msg {
            Msg::Batch(i, batch) => {
                bar.batch(i, &batch);
                let units = batch.units;
                let (_, results) = pool.install(|| {
                    rayon::join(
                        || {
                            c.fold_all(pending.take());
                            c.stats.bytes += batch.bytes;
                            for w in batch.warnings {
                                c.warnings.add(w);
                            }
                            c.errors.extend(batch.errors);
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
                c.errors.append(&mut info.errors);
                let (hasher, single) = std::mem::take(&mut c.manifests[i]);
                if info.kind == "directory" {
                    info.sha256 = Some(hex(&hasher.finalize()));
                } else if info.kind == "message-file" {
                    info.sha256 = single;
                }
                c.inputs.push(info);
            }
        }
    }
    c.fold_all(pending.take());
    let _ = producer.join();
    bar.finish();
    // Filtered-out messages are not compared; each counts as itself.
    c.stats.unique = c.copies.unique() + c.stats.filtered_out;
    c.stats.duplicates = c.stats.messages_read - c.stats.unique;
    Ok(ScanResult {
        findings: c.findings,
        stats: c.stats,
        warnings: c.warnings,
        errors: c.errors,
        inputs: c.inputs,
    })
}

/// Progress on stderr: one bar in bytes for file inputs, one bar per IMAP folder in messages.
/// Hidden with `--quiet` and whenever stderr is not a terminal.
struct Progress {
    bytes: indicatif::ProgressBar,
    /// Per input, per folder.
    folders: Vec<Vec<indicatif::ProgressBar>>,
    _multi: indicatif::MultiProgress,
}

impl Progress {
    fn new(enabled: bool, total_bytes: Option<u64>, folders: Vec<Vec<(String, u64)>>) -> Progress {
        use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
        let multi = MultiProgress::with_draw_target(if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let any_files = folders.iter().any(Vec::is_empty);
        let bytes = if any_files {
            let (b, template) = match total_bytes {
                Some(t) => (
                    ProgressBar::new(t),
                    "{spinner} files {bytes}/{total_bytes} {binary_bytes_per_sec} [{bar:30}] eta {eta}",
                ),
                None => (ProgressBar::new_spinner(), "{spinner} files {bytes} {binary_bytes_per_sec}"),
            };
            if let Ok(st) = ProgressStyle::with_template(template) {
                b.set_style(st.progress_chars("=> "));
            }
            multi.add(b)
        } else {
            ProgressBar::hidden()
        };
        let folders = folders
            .into_iter()
            .map(|fs| {
                fs.into_iter()
                    .map(|(label, n)| {
                        let b = multi.add(ProgressBar::new(n));
                        if let Ok(st) = ProgressStyle::with_template(
                            "{spinner} {msg} {pos}/{len} messages {per_sec} [{bar:30}] eta {eta}",
                        ) {
                            b.set_style(st.progress_chars("=> "));
                        }
                        b.set_message(label);
                        b
                    })
                    .collect()
            })
            .collect();
        Progress {
            bytes,
            folders,
            _multi: multi,
        }
    }

    fn batch(&self, input: usize, b: &crate::source::Batch) {
        match b.folder.and_then(|f| self.folders.get(input)?.get(f)) {
            Some(bar) => bar.inc(b.units.len() as u64),
            None => self.bytes.inc(b.bytes),
        }
    }

    fn finish(&self) {
        self.bytes.finish_and_clear();
        for b in self.folders.iter().flatten() {
            b.finish_and_clear();
        }
    }
}

/// In-order fold of worker results.
struct Collector {
    findings: Vec<Finding>,
    stats: Stats,
    warnings: WarningTally,
    errors: Vec<InputError>,
    inputs: Vec<InputInfo>,
    /// The one place "same message" is decided.
    copies: Copies,
    /// Per input: manifest hasher, and the hash of a single-file input.
    manifests: Vec<(Sha256, Option<String>)>,
}

impl Collector {
    fn new(n: usize) -> Collector {
        Collector {
            findings: Vec::new(),
            stats: Stats::default(),
            warnings: WarningTally::default(),
            errors: Vec::new(),
            inputs: Vec::new(),
            copies: Copies::default(),
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
        if let Some(kind) = r.not_message {
            self.stats.files_skipped_not_message += 1;
            *self
                .stats
                .files_skipped_by_type
                .entry(kind.to_string())
                .or_default() += 1;
        }
        for w in r.warnings {
            if w.kind == "undated-message" {
                self.stats.undated += 1;
            }
            self.warnings.add(w);
        }
        self.errors.extend(r.errors);
        for o in r.outcomes {
            self.stats.messages_read += 1;
            match o {
                Outcome::Filtered => self.stats.filtered_out += 1,
                Outcome::Ordinary(k) => {
                    self.copies.add(&k);
                }
                Outcome::Exposing(f) => {
                    self.copies.add(&f.keys);
                    self.findings.push(*f);
                }
            }
        }
    }
}

/// A message's raw material, whatever the source.
struct Raw<'a> {
    location: Location,
    /// The header block.
    header: &'a [u8],
    terminated: bool,
    /// The whole message, when at hand (for SHA-256 and evidence).
    whole: Option<&'a [u8]>,
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
                sha256: None,
                size: (span.end - span.start) as u64,
                internal_date: None,
            };
            process_message(raw, opts, &mut r);
        }
        Unit::File { path } => process_file(&path, opts, &mut r),
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
        FileContent::NotMessage(kind) => {
            r.not_message = Some(kind.label());
            r.warnings.push(Warning::new(
                "file-not-mail-skipped",
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
                sha256: Some(hexd),
                size,
                internal_date: None,
            };
            process_message(raw, opts, r);
            if let (Some(dir), Some(Outcome::Exposing(f))) = (&opts.evidence_dir, r.outcomes.last())
            {
                if let Err(e) =
                    crate::evidence::save_file(dir, path, f.sha256.as_deref().unwrap_or(""))
                {
                    r.errors.push(InputError {
                        location: format!("evidence for {shown}"),
                        message: e.to_string(),
                    });
                }
            }
        }
        FileContent::Mbox(bytes) => {
            // A small mbox inside a tree: split it here.
            let mut src = mbox::MboxSource::from_bytes(&shown, bytes);
            while let Some(b) = crate::source::Source::next_batch(&mut src) {
                r.warnings.extend(b.warnings);
                for u in b.units {
                    let sub = process_unit(u, opts);
                    r.outcomes.extend(sub.outcomes);
                    r.warnings.extend(sub.warnings);
                    r.errors.extend(sub.errors);
                }
            }
        }
    }
}

fn process_message(raw: Raw<'_>, opts: &ScanOptions, r: &mut UnitResult) {
    // Formatted only when a warning or error needs it (not once per message).
    let loc = || raw.location.to_string();
    if !raw.terminated {
        r.warnings
            .push(Warning::new("header-block-not-terminated", loc()));
    }
    // A UTF-8 BOM before the first field (a message file, or an mbox message) is not part of
    // its name: without this the first header (often `To:`) would be lost.
    let env = message::envelope(
        raw.header
            .strip_prefix(b"\xef\xbb\xbf")
            .unwrap_or(raw.header),
    );
    for (kind, off) in &env.problems {
        r.warnings
            .push(Warning::new(kind, format!("{} (header byte {off})", loc())));
    }
    let date = env
        .date_raw
        .and_then(date::parse_header_date)
        .or(raw.internal_date);
    if date.is_none() {
        r.warnings.push(Warning::new("undated-message", loc()));
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
        r.warnings.push(Warning::new("no-usable-headers", loc()));
    }
    let c = classify(&env, &opts.policy);
    let subject_raw = env
        .subject_raw
        .map(|s| header::unfold(s).trim_ascii().to_vec())
        .unwrap_or_default();
    let keys = crate::identity::keys(crate::identity::Parts {
        message_id: env.message_id.as_deref(),
        exposed: c.exposed.iter().map(|e| e.addr.as_str()).collect(),
        date: date.filter(|_| env.date_raw.is_some()),
        from: sender_addrs.first().copied().unwrap_or(""),
        to: env.to.iter().map(|a| a.addr.as_str()).collect(),
        cc: env.cc.iter().map(|a| a.addr.as_str()).collect(),
        subject: &subject_raw,
    });
    if !c.exposing {
        r.outcomes.push(Outcome::Ordinary(keys));
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
            .push(Warning::new("evidence-not-saved-message-too-large", loc()));
    }
    if let (Some(dir), Some(w), Some(sha)) = (&opts.evidence_dir, raw.whole, &sha256) {
        if let Err(e) = crate::export::write_evidence(dir, sha, w) {
            r.errors.push(InputError {
                location: format!("evidence for {}", loc()),
                message: e.to_string(),
            });
        }
    }
    let subject = env
        .subject_raw
        .map(text::decode_header_value)
        .unwrap_or_default();
    let subject_is_reply = is_reply_subject(&subject);
    let finding = Finding {
        location: raw.location,
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
        exposed: c
            .exposed
            .iter()
            .map(|e| ExposedAddr {
                addr: e.addr.as_str().into(),
                name: e.name.map(decode_phrase).unwrap_or_default(),
                fields: e.fields,
                internal: e.internal,
            })
            .collect(),
        keys,
    };
    r.outcomes.push(Outcome::Exposing(Box::new(finding)));
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
