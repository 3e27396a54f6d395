//! The four CSV reports. Columns: the required ones first, in the documented order.

use super::{guard_cell, write_atomic, ExportError};
use crate::analysis::{date_cell, Report};
use std::path::Path;

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>, dir: &Path, name: &str) -> Result<(), ExportError> {
    let bytes = w.into_inner().map_err(|e| ExportError::Io {
        path: name.to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    write_atomic(dir, name, &bytes)
}

fn row<I, S>(w: &mut csv::Writer<Vec<u8>>, cells: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    // Writing to a Vec cannot fail.
    for c in cells {
        let _ = w.write_field(guard_cell(c.as_ref()).as_bytes());
    }
    let _ = w.write_record(None::<&[u8]>);
}

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
];

/// Write incidents.csv, messages.csv, affected.csv and exposures.csv.
pub fn write_all(report: &Report, dir: &Path) -> Result<(), ExportError> {
    let mut w = writer();
    row(&mut w, INCIDENTS_HEADER);
    for i in &report.incidents {
        row(
            &mut w,
            [
                i.id.clone(),
                date_cell(i.first_sent),
                date_cell(i.last_sent),
                i.messages.len().to_string(),
                i.senders.join(" | "),
                i.subject.clone(),
                i.exposed.to_string(),
                i.external.to_string(),
                i.audience.to_string(),
                i.reply_all.to_string(),
            ],
        );
    }
    finish(w, dir, "incidents.csv")?;

    let mut w = writer();
    row(&mut w, MESSAGES_HEADER);
    for m in &report.messages {
        let f = &m.finding;
        row(
            &mut w,
            [
                report.incidents[m.incident].id.clone(),
                date_cell(f.date),
                f.from.clone(),
                f.subject.clone(),
                f.message_id.clone().unwrap_or_default(),
                f.to.to_string(),
                f.cc.to_string(),
                f.bcc.to_string(),
                f.exposed.len().to_string(),
                f.external.to_string(),
                m.reply_all.to_string(),
                m.sources
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(" | "),
                m.sha256.join(" | "),
                f.audience.to_string(),
                f.size.to_string(),
            ],
        );
    }
    finish(w, dir, "messages.csv")?;

    let mut w = writer();
    row(&mut w, AFFECTED_HEADER);
    for p in &report.people {
        let ids: Vec<&str> = p
            .incidents
            .iter()
            .map(|&k| report.incidents[k].id.as_str())
            .collect();
        row(
            &mut w,
            [
                p.addr.clone(),
                p.name.clone(),
                p.incidents.len().to_string(),
                p.messages.to_string(),
                date_cell(p.first_exposed),
                date_cell(p.last_exposed),
                p.max_audience.to_string(),
                ids.join(" "),
                p.internal.to_string(),
            ],
        );
    }
    finish(w, dir, "affected.csv")?;

    let mut w = writer();
    row(&mut w, EXPOSURES_HEADER);
    let internal: std::collections::HashMap<&str, bool> = report
        .people
        .iter()
        .map(|p| (p.addr.as_str(), p.internal))
        .collect();
    for e in &report.exposures {
        row(
            &mut w,
            [
                report.incidents[e.incident].id.clone(),
                e.addr.clone(),
                e.name.clone(),
                e.field.to_string(),
                date_cell(e.first_sent),
                e.messages.to_string(),
                e.audience.to_string(),
                internal
                    .get(e.addr.as_str())
                    .copied()
                    .unwrap_or(false)
                    .to_string(),
            ],
        );
    }
    finish(w, dir, "exposures.csv")
}
