//! The pipeline: sources are drained on one producer thread, each batch is parsed and classified
//! on the rayon pool, and results are folded back *in source order* on the calling thread, so the
//! outcome never depends on the number of threads. What a worker does with one unit is in
//! `worker.rs`, with Outlook items in `outlook.rs`; the fold (copies counted, exposed people
//! interned) is `Collector` here.

use std::path::PathBuf;
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::detect::Policy;
use crate::identity::Copies;
use crate::intern::Strings;
use crate::run::Observer;
use crate::source::{hex, InputError, InputInfo, InputKind, Source};
use crate::warning::{Warning, WarningKind};

mod outlook;
mod worker;

pub use worker::is_reply_subject;
use worker::process_unit;

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

    let mut c = Collector::new(n_inputs, opts.record_keys, total_bytes.unwrap_or(0));
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
    /// Findings the first input with any starts with room for (see [`Collector::new`]).
    findings_room: usize,
    record_keys: bool,
    /// Per input: manifest hasher, and the hash of a single-file input.
    manifests: Vec<(Sha256, Option<String>)>,
}

impl Collector {
    /// `bytes`: the size of all inputs (0 when unknown), for the room the fold starts with.
    fn new(n: usize, record_keys: bool, bytes: u64) -> Collector {
        // Room for as many distinct strings as a heavily exposing input of `bytes` holds (two
        // per 64 bytes: address and name), and for one finding per 512 bytes, capped: what
        // the fold keeps then grows without being copied through fresh pages at every
        // doubling (which cost a heavy scan more than a tenth of its fold). Reserved, not
        // written: it costs address space, not memory.
        let room = |per: u64, cap: usize| usize::try_from(bytes / per).map_or(cap, |n| n.min(cap));
        let strings = room(32, 1 << 20);
        Collector {
            parts: (0..n).map(|_| InputResult::default()).collect(),
            copies: Copies::default(),
            findings_room: room(512, 1 << 16),
            strings: Strings::with_capacity(strings, strings * 24),
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
                    if part.findings.capacity() == 0 {
                        part.findings
                            .reserve(std::mem::take(&mut self.findings_room));
                    }
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
