//! The CSV reports: incidents.csv, messages.csv, affected.csv, exposures.csv and sensitive.csv.
//! Columns: the required ones first, in the documented order. How a row is written (guarded,
//! quoted) is `rows.rs`; exposures.csv, written while the analysis makes its rows,
//! `exposures.rs`.

mod exposures;
mod rows;

pub use exposures::ExposuresStream;

use std::path::Path;

use crate::export::{Document, ExportError};
use rows::{formatted_into, row, write_csv, Cell, Out};

pub const INCIDENTS_HEADER: &[&str] = &[
    "incident_id",
    "first_sent",
    "last_sent",
    "messages",
    "senders",
    "subject",
    "exposed",
    "external",
    "audience",
    "reply_all",
    "custodians",
    "sensitive",
    "risk",
];
pub const MESSAGES_HEADER: &[&str] = &[
    "incident_id",
    "date",
    "from",
    "subject",
    "message_id",
    "to",
    "cc",
    "bcc",
    "exposed",
    "external",
    "reply_all",
    "sources",
    "sha256",
    "audience",
    "size",
    "custodians",
    "sensitive",
];
pub const AFFECTED_HEADER: &[&str] = &[
    "address",
    "name",
    "incidents",
    "messages",
    "first_exposed",
    "last_exposed",
    "max_audience",
    "incident_ids",
    "internal",
];
pub const EXPOSURES_HEADER: &[&str] = &[
    "incident_id",
    "address",
    "name",
    "field",
    "first_sent",
    "messages",
    "audience",
    "internal",
    "list",
];

/// Writes one of the CSV files.
type CsvWriter = fn(&Document<'_>, &Path) -> Result<(), ExportError>;

/// Write incidents.csv, messages.csv, affected.csv and exposures.csv (each on a thread of its
/// own: the per-person and per-exposure files are the large ones).
/// incidents.csv, messages.csv, affected.csv, exposures.csv.
pub struct Csv;

impl super::Exporter for Csv {
    fn files(&self) -> &'static [&'static str] {
        &[
            "incidents.csv",
            "messages.csv",
            "affected.csv",
            "exposures.csv",
            "sensitive.csv",
        ]
    }
    fn write(&self, doc: &super::Document<'_>, dir: &Path) -> Result<(), ExportError> {
        write_all(doc, dir)
    }
}

pub fn write_all(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    let jobs: [CsvWriter; 5] = [
        incidents,
        messages,
        affected,
        exposures::exposures,
        sensitive,
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| s.spawn(move || job(doc, dir)))
            .collect();
        let mut first_error = Ok(());
        for h in handles {
            let r = h.join().unwrap_or_else(|_| {
                Err(ExportError::Refused("a CSV writer thread stopped".into()))
            });
            if first_error.is_ok() {
                first_error = r;
            }
        }
        first_error
    })
}

/// The header, with a `new` column after a baseline comparison.
fn with_new(header: &[&'static str], new: bool) -> Vec<&'static str> {
    let mut h = header.to_vec();
    if new {
        h.push("new");
    }
    h
}

fn incidents(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    let report = doc.report;
    let figures = doc.figures();
    let new = report.incidents.iter().any(|i| i.new.is_some());
    write_csv(
        dir,
        "incidents.csv",
        &with_new(INCIDENTS_HEADER, new),
        |w| {
            for (k, i) in report.incidents.iter().enumerate() {
                let senders: Vec<&str> = i.senders.iter().map(String::as_str).collect();
                let sensitive: Vec<&str> = i.sensitive.iter().map(String::as_str).collect();
                let custodians: Vec<&str> = i.custodians.iter().map(|c| &**c).collect();
                let mut cells = vec![
                    Cell::Str(&i.id),
                    Cell::Date(i.first_sent),
                    Cell::Date(i.last_sent),
                    Cell::Num(i.messages.len() as u64),
                    Cell::Join(&senders, " | "),
                    Cell::Str(&i.subject),
                    Cell::Num(i.exposed as u64),
                    Cell::Num(i.external as u64),
                    Cell::Num(i.audience as u64),
                    Cell::Num(i.reply_all as u64),
                    Cell::Join(&custodians, " | "),
                    Cell::Join(&sensitive, ";"),
                    Cell::Str(figures.incidents[k].risk.label()),
                ];
                if new {
                    cells.push(Cell::Bool(i.new.unwrap_or(false)));
                }
                row(w, &cells)?;
            }
            Ok(())
        },
    )
}

fn messages(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    let report = doc.report;
    write_csv(dir, "messages.csv", MESSAGES_HEADER, |w| {
        for m in &report.messages {
            let f = &m.finding;
            let categories = crate::sensitive::categories(&f.sensitive);
            let categories: Vec<&str> = categories.iter().map(String::as_str).collect();
            let sources: Vec<String> = m.sources.iter().map(|l| l.to_string()).collect();
            let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
            let sha: Vec<&str> = m.sha256.iter().map(String::as_str).collect();
            let mut custodians: Vec<&str> = Vec::new();
            for c in &m.custodians {
                if !custodians.contains(&&**c) {
                    custodians.push(c);
                }
            }
            row(
                w,
                &[
                    Cell::Str(&report.incidents[m.incident].id),
                    Cell::Date(f.date),
                    Cell::Str(&f.from),
                    Cell::Str(&f.subject),
                    Cell::Str(f.message_id.as_deref().unwrap_or("")),
                    Cell::Num(f.to as u64),
                    Cell::Num(f.cc as u64),
                    Cell::Num(f.bcc as u64),
                    Cell::Num(m.exposed_count as u64),
                    Cell::Num(f.external as u64),
                    Cell::Bool(m.reply_all),
                    Cell::Join(&sources, " | "),
                    Cell::Join(&sha, " | "),
                    Cell::Num(f.audience as u64),
                    Cell::Num(f.size),
                    Cell::Join(&custodians, " | "),
                    Cell::Join(&categories, ";"),
                ],
            )?;
        }
        Ok(())
    })
}

fn affected(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    use rayon::prelude::*;
    let report = doc.report;
    let new = report.people.iter().any(|p| p.new.is_some());
    let width = crate::analysis::id_width(report.incidents.len());
    write_csv(dir, "affected.csv", &with_new(AFFECTED_HEADER, new), |w| {
        // The longest list, last to finish: its people in blocks, a few formatted at once on
        // the pool, written in order.
        const BLOCK: usize = 1 << 14;
        const AT_ONCE: usize = 4;
        let mut blocks: Vec<Vec<u8>> = vec![Vec::new(); AT_ONCE];
        for window in report.people.chunks(AT_ONCE * BLOCK) {
            let done: Vec<std::io::Result<()>> = window
                .par_chunks(BLOCK)
                .zip(blocks.par_iter_mut())
                .map(|(people, bytes)| {
                    formatted_into(bytes, |o| affected_rows(o, report, people, width, new))
                })
                .collect();
            for (r, bytes) in done.into_iter().zip(&blocks) {
                r?;
                w.append(bytes)?;
            }
        }
        Ok(())
    })
}

/// The rows of some people (in order) in affected.csv.
fn affected_rows(
    w: &mut Out<'_>,
    report: &crate::analysis::Report,
    people: &[crate::analysis::Person],
    width: usize,
    new: bool,
) -> std::io::Result<()> {
    // Incident ids are made from their numbers (not read from a million scattered incidents),
    // into one buffer.
    let mut ids = String::new();
    // These people's incident lists, one after the other.
    let lists = report.incident_lists_of(people);
    let mut lists = lists.iter();
    // People are in address order, their addresses and names stored in order of first sight:
    // fetch ahead of the walk instead of waiting on memory at every row.
    const AHEAD: usize = 16;
    for (i, p) in people.iter().enumerate() {
        if let Some(q) = people.get(i + AHEAD) {
            report.strings.prefetch(q.addr, 0);
            report.strings.prefetch(q.name, 0);
        }
        if let Some(q) = people.get(i + AHEAD / 2) {
            report.strings.prefetch(q.addr, 1);
            report.strings.prefetch(q.name, 1);
        }
        ids.clear();
        for (j, &k) in lists.by_ref().take(p.incident_count()).enumerate() {
            if j > 0 {
                ids.push(' ');
            }
            crate::analysis::push_incident_id(&mut ids, k as usize, width);
        }
        let cells = [
            Cell::Str(report.str(p.addr)),
            Cell::Str(report.str(p.name)),
            Cell::Num(p.incident_count() as u64),
            Cell::Num(u64::from(p.messages)),
            Cell::Date(p.first_exposed.get()),
            Cell::Date(p.last_exposed.get()),
            Cell::Num(u64::from(p.max_audience)),
            Cell::Str(&ids),
            Cell::Bool(p.internal),
            Cell::Bool(p.new.unwrap_or(false)),
        ];
        // Without a baseline there is no `new` column.
        row(w, &cells[..cells.len() - usize::from(!new)])?;
    }
    Ok(())
}

pub const SENSITIVE_HEADER: &[&str] = &["incident_id", "message", "category", "term", "where"];

/// sensitive.csv: every sensitive-context term found, with where (subject, body,
/// attachment-name), by incident and message (its Message-ID, else its first location).
fn sensitive(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    let report = doc.report;
    write_csv(dir, "sensitive.csv", SENSITIVE_HEADER, |w| {
        for m in &report.messages {
            let f = &m.finding;
            let first = m.sources[0].to_string();
            let message = f.message_id.as_deref().unwrap_or(&first);
            for h in &f.sensitive {
                row(
                    w,
                    &[
                        Cell::Str(&report.incidents[m.incident].id),
                        Cell::Str(message),
                        Cell::Str(&h.category),
                        Cell::Str(&h.term),
                        Cell::Str(h.place.label()),
                    ],
                )?;
            }
        }
        Ok(())
    })
}
