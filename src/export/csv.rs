//! The four CSV reports. Columns: the required ones first, in the documented order.

use super::{guard_cell, write_atomic_with, ExportError};
use crate::analysis::{date_cell, Report};
use std::io::Write;
use std::path::Path;

type Out<'a> = csv::Writer<&'a mut dyn Write>;

/// Stream one CSV into `dir/name` (atomically, 0600): rows go straight to the file.
fn write_csv(
    dir: &Path,
    name: &str,
    header: &[&str],
    rows: impl FnOnce(&mut Out<'_>) -> csv::Result<()>,
) -> Result<(), ExportError> {
    write_atomic_with(dir, name, |sink| {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(sink);
        let to_io = |e: csv::Error| std::io::Error::other(e.to_string());
        row(&mut w, header).map_err(to_io)?;
        rows(&mut w).map_err(to_io)?;
        w.flush()
    })
}

fn row<I, S>(w: &mut Out<'_>, cells: I) -> csv::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    for c in cells {
        w.write_field(guard_cell(c.as_ref()).as_bytes())?;
    }
    w.write_record(None::<&[u8]>)
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
    write_csv(dir, "incidents.csv", INCIDENTS_HEADER, |w| {
        for i in &report.incidents {
            row(
                w,
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
            )?;
        }
        Ok(())
    })?;

    write_csv(dir, "messages.csv", MESSAGES_HEADER, |w| {
        for m in &report.messages {
            let f = &m.finding;
            let sources: Vec<String> = m.sources.iter().map(|l| l.to_string()).collect();
            row(
                w,
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
                    sources.join(" | "),
                    m.sha256.join(" | "),
                    f.audience.to_string(),
                    f.size.to_string(),
                ],
            )?;
        }
        Ok(())
    })?;

    write_csv(dir, "affected.csv", AFFECTED_HEADER, |w| {
        for p in &report.people {
            let ids: Vec<&str> = p
                .incidents
                .iter()
                .map(|&k| report.incidents[k].id.as_str())
                .collect();
            row(
                w,
                [
                    p.addr.to_string(),
                    p.name.clone(),
                    p.incidents.len().to_string(),
                    p.messages.to_string(),
                    date_cell(p.first_exposed),
                    date_cell(p.last_exposed),
                    p.max_audience.to_string(),
                    ids.join(" "),
                    p.internal.to_string(),
                ],
            )?;
        }
        Ok(())
    })?;

    write_csv(dir, "exposures.csv", EXPOSURES_HEADER, |w| {
        for e in &report.exposures {
            row(
                w,
                [
                    report.incidents[e.incident].id.clone(),
                    e.addr.to_string(),
                    e.name.clone(),
                    e.field.to_string(),
                    date_cell(e.first_sent),
                    e.messages.to_string(),
                    e.audience.to_string(),
                    e.internal.to_string(),
                ],
            )?;
        }
        Ok(())
    })
}
