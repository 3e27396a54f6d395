//! Partial results: what `scan --partial FILE` writes instead of a report, and what `merge`
//! reads back to write the report one run over all the inputs would have written.
//!
//! Format (version 1): JSON Lines, UTF-8, one JSON object per line, each with exactly one key
//! saying what the line is:
//!
//! - `{"header": {...}}` first: `format` ("bccaudit-partial"), `version` (1), `tool_version`,
//!   `options` (the detection options: `min_exposed`, `internal_domains`, `since`, `until`,
//!   `senders`, `jaccard`; a merge refuses partials whose options differ), `list` (for a shard
//!   of `--inputs-from`: the list's SHA-256 and length, so shards merge in list order),
//!   `started`, `finished` (Unix seconds), `arguments`.
//! - per input, in order: `{"input": {...}}` (its place `seq`, `custodian`, `info` as in
//!   summary.json's `inputs`, `stats`, `warnings`, `errors`), then one `{"finding": {...}}` per
//!   exposing message read from it (location, SHA-256, sender, subject, exposed addresses with
//!   names and `fields`: 1 To, 2 Cc, 4 a distribution list, or-ed), then `{"keys": [[msgid, content, id], …]}` lines (up to 10,000 keys
//!   each; 16-digit hex or null) with the identity keys of every message read, so a merge
//!   counts unique messages across shards exactly.
//!
//! Any JSON Lines reader (jq, DuckDB `read_json`, pandas) reads it without bccaudit. JSON Lines
//! was chosen over SQLite because it streams (written while the scan ends, read line by line),
//! concatenates and compresses well, needs no native library, and is diffable; the report's
//! CSVs are what a DPO queries.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::intern::Strings;
pub use crate::model::DetectionOptions;
use crate::model::{FindingRecord, InputResult, Keys};

pub const FORMAT: &str = "bccaudit-partial";
pub const VERSION: u32 = 1;
const KEYS_PER_LINE: usize = 10_000;

/// Which list of inputs a shard was cut from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRef {
    pub sha256: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub tool_version: String,
    pub options: DetectionOptions,
    pub list: Option<ListRef>,
    pub started: i64,
    pub finished: i64,
    pub arguments: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Header(Header),
    Input(InputResult),
    Finding(Box<FindingRecord>),
    Keys(Vec<Keys>),
}

#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Format {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Export(#[from] crate::export::ExportError),
}

/// Write a partial result atomically, owner-only (it holds personal data).
pub fn write(
    path: &Path,
    header: &Header,
    parts: &[InputResult],
    strings: &Strings,
) -> Result<(), PartialError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "partial.jsonl".into());
    crate::export::write_atomic_with(dir, &name, |w| {
        let mut line = |l: &Line| -> std::io::Result<()> {
            serde_json::to_writer(&mut *w, l)?;
            w.write_all(b"\n")
        };
        line(&Line::Header(header.clone()))?;
        for p in parts {
            // The input line carries no findings or keys (they follow on their own lines).
            let head = InputResult {
                seq: p.seq,
                custodian: p.custodian.clone(),
                info: p.info.clone(),
                stats: p.stats.clone(),
                warnings: p.warnings.clone(),
                errors: p.errors.clone(),
                findings: Vec::new(),
                keys: Vec::new(),
            };
            line(&Line::Input(head))?;
            for f in &p.findings {
                line(&Line::Finding(Box::new(FindingRecord::new(f, strings))))?;
            }
            for chunk in p.keys.chunks(KEYS_PER_LINE) {
                line(&Line::Keys(chunk.to_vec()))?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// Read a partial result back, its addresses and names interned into `strings`.
pub fn read(
    path: &Path,
    strings: &mut Strings,
) -> Result<(Header, Vec<InputResult>), PartialError> {
    let shown = path.display().to_string();
    let f = crate::fsx::open_evidence(path).map_err(|err| PartialError::Io {
        path: shown.clone(),
        err,
    })?;
    let bad = |line: usize, message: String| PartialError::Format {
        path: shown.clone(),
        line,
        message,
    };
    let mut header = None;
    let mut parts: Vec<InputResult> = Vec::new();
    for (i, l) in std::io::BufReader::new(f).lines().enumerate() {
        let n = i + 1;
        let l = l.map_err(|err| PartialError::Io {
            path: shown.clone(),
            err,
        })?;
        if l.is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&l).map_err(|e| bad(n, e.to_string()))?;
        match line {
            Line::Header(h) => {
                if n != 1 || header.is_some() {
                    return Err(bad(n, "a header that is not the first line".into()));
                }
                if h.format != FORMAT || h.version != VERSION {
                    return Err(bad(
                        n,
                        format!(
                            "not a {FORMAT} version {VERSION} file (format {:?}, version {})",
                            h.format, h.version
                        ),
                    ));
                }
                header = Some(h);
            }
            _ if header.is_none() => {
                return Err(bad(n, format!("not a {FORMAT} file (no header line)")))
            }
            Line::Input(p) => parts.push(p),
            Line::Finding(f) => match parts.last_mut() {
                Some(p) => p.findings.push(f.into_finding(strings)),
                None => return Err(bad(n, "a finding before any input".into())),
            },
            Line::Keys(k) => match parts.last_mut() {
                Some(p) => p.keys.extend(k),
                None => return Err(bad(n, "keys before any input".into())),
            },
        }
    }
    let header = header.ok_or_else(|| bad(1, format!("empty: not a {FORMAT} file")))?;
    Ok((header, parts))
}

/// Put the inputs of several partials in the order one run would have read them: by their
/// place in the list when every partial is a shard of the same list, else partial by partial
/// in the order given. Refuses partials made with different detection options.
pub fn order(
    partials: Vec<(String, Header, Vec<InputResult>)>,
) -> Result<(DetectionOptions, Vec<InputResult>), String> {
    let Some((first_name, first, _)) = partials.first() else {
        return Err("no partial result to merge".into());
    };
    let (first_name, options, list) = (
        first_name.clone(),
        first.options.clone(),
        first.list.clone(),
    );
    for (name, h, _) in &partials {
        if h.options != options {
            return Err(format!(
                "{name} was made with other detection options than {first_name} ({}; {}): rescan with the same --min-exposed, --internal-domain, --since, --until, --sender and --jaccard",
                describe(&h.options),
                describe(&options)
            ));
        }
    }
    let same_list = list.is_some() && partials.iter().all(|(_, h, _)| h.list == list);
    let mut parts: Vec<InputResult> = partials.into_iter().flat_map(|(_, _, p)| p).collect();
    if same_list {
        // A stable sort: two shards never hold the same line.
        parts.sort_by_key(|p| p.seq);
    }
    Ok((options, parts))
}

fn describe(o: &DetectionOptions) -> String {
    format!(
        "min_exposed {}, internal domains [{}], since {:?}, until {:?}, senders [{}], jaccard {}",
        o.min_exposed,
        o.internal_domains.join(" "),
        o.since,
        o.until,
        o.senders.join(" "),
        o.jaccard
    )
}
