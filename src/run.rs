//! Orchestration, without the command line: open the inputs, scan them, and turn what they
//! yielded into a report. Progress is reported to an [`Observer`] (the CLI draws bars; the
//! library draws nothing), as ripgrep's searcher pushes into a `Sink`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::analysis::{self, Report};
use crate::model::{InputResult, ScanResult};
use crate::scan::{self, ScanOptions};
use crate::source::imap::{ImapError, ImapOptions, ImapSource, ImapUrl, State};
use crate::source::{self, InputError, Source};

/// Told how the work goes; every method has a do-nothing default.
pub trait Observer: Sync {
    /// The scan starts: bytes to read (file inputs), and per input its folders with their
    /// message counts (IMAP).
    fn scan_started(&self, _total_bytes: Option<u64>, _folders: Vec<Vec<(String, u64)>>) {}
    /// Bytes of file inputs read.
    fn bytes(&self, _n: u64) {}
    /// Messages of an input's folder read.
    fn messages(&self, _input: usize, _folder: usize, _n: u64) {}
    fn scan_finished(&self) {}
    /// A later phase starts ("analysing 40,000 messages", "writing the report").
    fn phase(&self, _what: &str) {}
    fn phase_done(&self) {}
}

/// An observer that watches nothing.
pub struct Silent;
impl Observer for Silent {}

/// One input: a path (`-` for standard input) or an IMAP account.
pub enum InputSpec {
    Path(PathBuf),
    Imap {
        url: ImapUrl,
        opts: Box<ImapOptions>,
    },
}

pub struct Input {
    pub spec: InputSpec,
    /// Its place among all inputs (the line of `--inputs-from` for a shard).
    pub seq: u64,
    /// `--custodian`; else the IMAP account or the path.
    pub custodian: Option<String>,
}

/// What opening and scanning may refuse outright (before anything is read).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Scan(#[from] scan::ScanError),
    /// Rows past `--memory-limit` could not be written to a temporary file.
    #[error("cannot keep rows past --memory-limit in a temporary file in {dir}: {err}")]
    Spill { dir: String, err: std::io::Error },
}

pub struct Scanned {
    /// Per input, in input order.
    pub parts: Vec<InputResult>,
    /// The exposed addresses and names the findings refer to.
    pub strings: crate::intern::Strings,
    /// Distinct messages among all inputs (not counting those filtered out).
    pub unique: u64,
    /// The IMAP accounts, in input order (for `--evidence` and `--state`).
    pub accounts: Vec<(ImapUrl, ImapOptions)>,
}

/// Open every input and scan them all. A path that cannot be opened is an input error in its
/// place (the rest is scanned); an IMAP account that refuses the login or has no such folder
/// stops everything before anything is read.
pub fn scan(
    inputs: Vec<Input>,
    opts: &ScanOptions,
    input_hash: bool,
    state: Option<&State>,
    skip: &[(u64, u64)],
    observer: &dyn Observer,
) -> Result<Scanned, RunError> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    // Per input: the index of its source, or why it could not be opened.
    let mut slots: Vec<Result<usize, InputError>> = Vec::new();
    let mut total = Some(0u64);
    let mut accounts = Vec::new();
    for input in &inputs {
        match &input.spec {
            InputSpec::Imap { url, opts } => {
                let src = ImapSource::open(url.clone(), (**opts).clone(), state)?;
                accounts.push((url.clone(), (**opts).clone()));
                slots.push(Ok(sources.len()));
                sources.push(Box::new(src));
                total = None;
            }
            InputSpec::Path(p) => {
                match source::open_path(p, input_hash, skip, &opts.folders, opts.policy.min_exposed)
                {
                    Ok(s) => {
                        match std::fs::metadata(p) {
                            Ok(m) if m.is_file() && p.as_os_str() != "-" => {
                                total = total.map(|t| t + m.len())
                            }
                            _ => total = None,
                        }
                        slots.push(Ok(sources.len()));
                        sources.push(s);
                    }
                    Err(e) => slots.push(Err(e)),
                }
            }
        }
    }
    let scanned = scan::run(sources, total, opts, observer)?;
    let mut parts: Vec<Option<InputResult>> = scanned.parts.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(inputs.len());
    for (input, slot) in inputs.into_iter().zip(slots) {
        let mut part = match slot {
            Ok(k) => parts[k].take().unwrap_or_default(),
            Err(e) => InputResult {
                errors: vec![e],
                ..InputResult::default()
            },
        };
        part.seq = input.seq;
        part.custodian = match (input.custodian, &part.info, &input.spec) {
            (Some(c), _, _) => c,
            (None, Some(info), _) => info.default_custodian(),
            (None, None, InputSpec::Path(p)) => source::path_text(p),
            (None, None, InputSpec::Imap { url, .. }) => url.account(),
        };
        let custodian: Arc<str> = part.custodian.as_str().into();
        for f in &mut part.findings {
            f.custodian = custodian.clone();
        }
        out.push(part);
    }
    Ok(Scanned {
        parts: out,
        strings: scanned.strings,
        unique: scanned.unique,
        accounts,
    })
}

/// Analyse the combined results: the report (which takes over the strings). Rows that grow
/// with the mailbox rather than with its people are kept within `memory_limit` bytes, the rest
/// in a temporary file in `$TMPDIR`. Every exposure row also goes to `sink`, when there is one,
/// as the analysis makes it (exposures.csv is written from there).
pub fn analyse(
    mut scan: ScanResult,
    jaccard: f64,
    memory_limit: u64,
    sink: Option<&mut dyn analysis::RowSink>,
    observer: &dyn Observer,
) -> Result<(ScanResult, Report), RunError> {
    observer.phase(&format!(
        "analysing {} exposing message(s)",
        scan.findings.len()
    ));
    let strings = std::mem::take(&mut scan.strings);
    let findings = std::mem::take(&mut scan.findings);
    let report =
        analysis::analyse(findings, strings, jaccard, memory_limit, sink).map_err(|err| {
            RunError::Spill {
                dir: std::env::temp_dir().display().to_string(),
                err,
            }
        })?;
    observer.phase_done();
    Ok((scan, report))
}
