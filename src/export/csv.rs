//! The four CSV reports. Columns: the required ones first, in the documented order.

use super::{guard_cell, write_atomic_with, Document, ExportError};
use crate::analysis::{Exposure, RowSink};
use crate::intern::Strings;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The rows' writer: RFC 4180 exactly as the `csv` crate writes it (a field is quoted when it
/// holds `,`, `"`, CR or LF, with quotes doubled inside; CRLF after each record), built in one
/// buffer handed to the file a megabyte at a time (millions of rows: the `csv` crate's
/// per-field machinery and its extra copy were a third of the export).
struct Out<'a> {
    sink: &'a mut dyn Write,
    buf: Vec<u8>,
    /// At the start of a record (no delimiter before the next field).
    fresh: bool,
    /// The last date written and its text: rows next to each other mostly share their dates
    /// (an incident's rows, a person's first and last exposure), and making the calendar date
    /// of a time is the costliest part of a cell.
    last_date: Option<(i64, [u8; 24], u8)>,
    /// The buffer goes to `sink` once it holds this much ([`CHUNK`]; never for a block
    /// formatted into memory, see [`formatted_into`]).
    flush_at: usize,
}

const CHUNK: usize = 1 << 20;

impl Out<'_> {
    fn field(&mut self, f: &[u8]) {
        if !self.fresh {
            self.buf.push(b',');
        }
        self.fresh = false;
        if f.iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            self.buf.push(b'"');
            for &b in f {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(f);
        }
    }

    /// A field known to need neither guard nor quotes (a number, a date, a plain cell).
    fn bare(&mut self, f: &[u8]) {
        if !self.fresh {
            self.buf.push(b',');
        }
        self.fresh = false;
        self.buf.extend_from_slice(f);
    }

    /// A field known to need neither guard nor quotes, given as parts and their separator.
    fn raw(&mut self, parts: &[&str], sep: &[u8]) {
        if !self.fresh {
            self.buf.push(b',');
        }
        self.fresh = false;
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(sep);
            }
            self.buf.extend_from_slice(p.as_bytes());
        }
    }

    fn date(&mut self, t: i64) {
        let (text, n) = match self.last_date {
            Some((last, text, n)) if last == t => (text, n),
            _ => {
                let mut text = [0u8; 24];
                let n = format_date(t, &mut text).len() as u8;
                self.last_date = Some((t, text, n));
                (text, n)
            }
        };
        self.bare(&text[..usize::from(n)]);
    }

    /// Whole records formatted elsewhere ([`formatted`]).
    fn append(&mut self, records: &[u8]) -> std::io::Result<()> {
        self.sink.write_all(&self.buf)?;
        self.buf.clear();
        self.sink.write_all(records)
    }

    fn end_record(&mut self) -> std::io::Result<()> {
        self.buf.extend_from_slice(b"\r\n");
        self.fresh = true;
        if self.buf.len() >= self.flush_at {
            self.sink.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Stream one CSV into `dir/name` (atomically, 0600): rows go straight to the file.
fn write_csv(
    dir: &Path,
    name: &str,
    header: &[&str],
    rows: impl FnOnce(&mut Out<'_>) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    write_atomic_with(dir, name, |sink| {
        let mut w = Out {
            sink,
            buf: Vec::with_capacity(CHUNK + (64 << 10)),
            fresh: true,
            last_date: None,
            flush_at: CHUNK,
        };
        self::header(&mut w, header)?;
        rows(&mut w)?;
        w.sink.write_all(&w.buf)
    })
}

/// Printable ASCII with nothing to quote (no `,` or `"`): what [`guard_cell`] leaves as it is
/// unless it starts a formula, and [`Out::field`] writes as it is. Most cells (addresses).
fn plain(s: &[u8]) -> bool {
    // Every byte looked at (no early exit): short cells, and a loop the compiler vectorises.
    s.iter().fold(true, |ok, &b| {
        ok & (0x20..0x7f).contains(&b) & (b != b',') & (b != b'"')
    })
}

/// Whether [`guard_cell`] would see a formula at the start of a printable ASCII cell.
fn formula_start(s: &[u8]) -> bool {
    matches!(s.first(), Some(b'=' | b'+' | b'-' | b'@'))
}

/// One cell, formatted without allocating where it can be.
enum Cell<'a> {
    Str(&'a str),
    Num(u64),
    Date(Option<i64>),
    Bool(bool),
    /// Several strings joined by a separator (` | `, a space).
    Join(&'a [&'a str], &'a str),
}

fn row(w: &mut Out<'_>, cells: &[Cell<'_>]) -> std::io::Result<()> {
    let mut joined = String::new();
    for c in cells {
        let mut number = [0u8; 20];
        match c {
            // Numbers, dates and booleans can never start a formula: no guard needed.
            // Nor hold anything to quote.
            Cell::Num(n) => w.bare(crate::digits::decimal(*n, &mut number)),
            Cell::Date(Some(t)) => w.date(*t),
            Cell::Date(None) => w.bare(b""),
            Cell::Bool(b) => w.bare(if *b { b"true" } else { b"false" }),
            Cell::Str(s) if plain(s.as_bytes()) && !formula_start(s.as_bytes()) => {
                w.bare(s.as_bytes())
            }
            Cell::Str(s) => w.field(guard_cell(s).as_bytes()),
            Cell::Join(parts, sep)
                if plain(sep.as_bytes())
                    && parts.iter().all(|p| plain(p.as_bytes()))
                    && parts
                        .first()
                        .is_none_or(|p| !p.is_empty() && !formula_start(p.as_bytes())) =>
            {
                w.raw(parts, sep.as_bytes())
            }
            Cell::Join(parts, sep) => {
                joined.clear();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        joined.push_str(sep);
                    }
                    joined.push_str(p);
                }
                w.field(guard_cell(&joined).as_bytes())
            }
        }
    }
    w.end_record()
}

/// `YYYY-MM-DDTHH:MM:SSZ` (as [`crate::parse::date::rfc3339`]) in `buf`.
fn format_date(t: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut four = [0u8; 20];
    let n = match crate::parse::date::rfc3339_in(t, &mut four) {
        Some(s) => {
            buf[..20].copy_from_slice(s.as_bytes());
            20
        }
        None => {
            // Outside four digits: the general formatter.
            let text = crate::parse::date::rfc3339(t);
            let n = text.len().min(buf.len());
            buf[..n].copy_from_slice(&text.as_bytes()[..n]);
            n
        }
    };
    &buf[..n]
}

fn header(w: &mut Out<'_>, names: &[&str]) -> std::io::Result<()> {
    let cells: Vec<Cell<'_>> = names.iter().map(|n| Cell::Str(n)).collect();
    row(w, &cells)
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
    let jobs: [CsvWriter; 5] = [incidents, messages, affected, exposures, sensitive];
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

/// Rows formatted into `bytes` (emptied first; blocks made in parallel, then written in order,
/// their buffers used again).
fn formatted_into(
    bytes: &mut Vec<u8>,
    rows: impl FnOnce(&mut Out<'_>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    bytes.clear();
    let mut w = Out {
        sink: &mut std::io::sink(),
        buf: std::mem::take(bytes),
        fresh: true,
        last_date: None,
        flush_at: usize::MAX,
    };
    let r = rows(&mut w);
    *bytes = std::mem::take(&mut w.buf);
    r
}

fn exposures(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    // Written during the analysis (see [`ExposuresStream`]): made durable and put in place.
    if let Some(stream) = doc.take_exposures_stream() {
        return stream.commit();
    }
    let report = doc.report;
    let n = report.incidents.len();
    write_csv(dir, "exposures.csv", EXPOSURES_HEADER, |w| {
        let mut ids = IncidentIds::new(n);
        for rows in report.exposures.chunks() {
            exposure_rows(w, &mut ids, &rows, &report.strings)?;
        }
        Ok(())
    })
}

/// exposures.csv, written as the analysis walks the incidents ([`RowSink`]): its rows come out
/// of the walk in their final order, so they are formatted on a thread of their own and the
/// file is on its way to the disk while the rest of the analysis and the other files are made,
/// instead of adding 40% of a report's bytes to the disk's work at the end. The exporter then
/// waits for the last rows, syncs the file and renames it into place; an error while writing
/// is kept and reported then.
pub struct ExposuresStream {
    state: Stream,
    dir: std::path::PathBuf,
}

enum Stream {
    /// Created, its header written; no rows yet.
    Ready(RowsFile),
    /// Rows go to the thread that writes them (at most a few stretches waiting).
    Thread(
        std::sync::mpsc::SyncSender<Vec<Exposure>>,
        std::thread::JoinHandle<Result<RowsFile, ExportError>>,
    ),
    /// No thread could be started: rows are written as they come.
    Inline(RowsFile, IncidentIds, Arc<Strings>),
    Failed(ExportError),
}

/// The file and its rows' buffer (handed to the file a megabyte at a time).
struct RowsFile {
    file: super::AtomicFile,
    buf: Vec<u8>,
}

impl RowsFile {
    /// exposures.csv in `dir`, its header written.
    fn create(dir: &Path) -> Result<RowsFile, ExportError> {
        let mut f = RowsFile {
            file: super::AtomicFile::create(dir, "exposures.csv")?,
            buf: Vec::with_capacity(CHUNK + (64 << 10)),
        };
        f.fill(|w| header(w, EXPOSURES_HEADER))?;
        Ok(f)
    }

    fn fill(
        &mut self,
        rows: impl FnOnce(&mut Out<'_>) -> std::io::Result<()>,
    ) -> Result<(), ExportError> {
        let buf = std::mem::take(&mut self.buf);
        self.file.write(|sink| {
            let mut w = Out {
                sink,
                buf,
                fresh: true,
                last_date: None,
                flush_at: CHUNK,
            };
            let r = rows(&mut w);
            self.buf = std::mem::take(&mut w.buf);
            r
        })
    }

    fn commit(mut self) -> Result<(), ExportError> {
        let rest = std::mem::take(&mut self.buf);
        self.file.write(|sink| sink.write_all(&rest))?;
        self.file.commit()
    }
}

impl ExposuresStream {
    /// Start `dir/exposures.csv` (the report's staging directory).
    pub fn create(dir: &Path) -> Result<ExposuresStream, ExportError> {
        Ok(ExposuresStream {
            state: Stream::Ready(RowsFile::create(dir)?),
            dir: dir.to_path_buf(),
        })
    }

    /// The last rows written, the file synced and renamed into place.
    pub fn commit(self) -> Result<(), ExportError> {
        match self.state {
            Stream::Ready(f) | Stream::Inline(f, ..) => f.commit(),
            Stream::Thread(tx, thread) => {
                drop(tx);
                thread
                    .join()
                    .unwrap_or_else(|_| {
                        Err(ExportError::Refused(
                            "the exposures.csv writer stopped".into(),
                        ))
                    })?
                    .commit()
            }
            Stream::Failed(e) => Err(e),
        }
    }
}

impl RowSink for ExposuresStream {
    fn start(&mut self, incidents: usize, strings: Arc<Strings>) {
        let state = std::mem::replace(
            &mut self.state,
            Stream::Failed(ExportError::Refused(
                "exposures.csv was started twice".into(),
            )),
        );
        let Stream::Ready(mut f) = state else {
            return;
        };
        // A few stretches of rows (about 2 MB each) wait at most: the walk runs ahead of the
        // writer by that much, and no more rows than that are held twice.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Exposure>>(4);
        let text = strings.clone();
        let spawned = std::thread::Builder::new()
            .name("bccaudit-exposures".into())
            .spawn(move || {
                let mut ids = IncidentIds::new(incidents);
                for rows in rx {
                    f.fill(|w| exposure_rows(w, &mut ids, &rows, &text))?;
                }
                Ok(f)
            });
        self.state = match spawned {
            Ok(thread) => Stream::Thread(tx, thread),
            // No thread (the file went with the closure): the rows are written here instead,
            // into the file made anew.
            Err(_) => match RowsFile::create(&self.dir) {
                Ok(f) => Stream::Inline(f, IncidentIds::new(incidents), strings),
                Err(e) => Stream::Failed(e),
            },
        };
    }

    fn rows(&mut self, rows: Vec<Exposure>) {
        match &mut self.state {
            Stream::Thread(tx, _) => {
                // A writer that stopped (its error is reported at commit) takes no more.
                let _ = tx.send(rows);
            }
            Stream::Inline(f, ids, strings) => {
                if let Err(e) = f.fill(|w| exposure_rows(w, ids, &rows, strings)) {
                    self.state = Stream::Failed(e);
                }
            }
            Stream::Ready(_) | Stream::Failed(_) => {}
        }
    }
}

/// The id of the incident being written (`INC-0001`), made once per incident.
struct IncidentIds {
    width: usize,
    current: Option<u32>,
    id: String,
}

impl IncidentIds {
    fn new(incidents: usize) -> IncidentIds {
        IncidentIds {
            width: crate::analysis::id_width(incidents),
            current: None,
            id: String::new(),
        }
    }

    fn of(&mut self, k: u32) -> &str {
        if self.current != Some(k) {
            self.id.clear();
            crate::analysis::push_incident_id(&mut self.id, k as usize, self.width);
            self.current = Some(k);
        }
        &self.id
    }
}

/// Exposure rows (by incident, then address).
fn exposure_rows(
    w: &mut Out<'_>,
    ids: &mut IncidentIds,
    rows: &[Exposure],
    strings: &Strings,
) -> std::io::Result<()> {
    // Rows go by incident, their addresses were stored in order of first sight: fetch ahead
    // of the walk.
    const AHEAD: usize = 16;
    for (i, e) in rows.iter().enumerate() {
        if let Some(x) = rows.get(i + AHEAD) {
            strings.prefetch(x.addr, 0);
        }
        if let Some(x) = rows.get(i + AHEAD / 2) {
            strings.prefetch(x.addr, 1);
        }
        row(
            w,
            &[
                Cell::Str(ids.of(e.incident)),
                Cell::Str(strings.get(e.addr)),
                Cell::Str(strings.get(e.name)),
                Cell::Str(e.field_label()),
                Cell::Date(e.first_sent.get()),
                Cell::Num(u64::from(e.messages)),
                Cell::Num(u64::from(e.audience)),
                Cell::Bool(e.internal),
                Cell::Bool(e.is_list()),
            ],
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn written(cells: &[Cell<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Out {
            sink: &mut out,
            buf: Vec::new(),
            fresh: true,
            last_date: None,
            flush_at: CHUNK,
        };
        row(&mut w, cells).unwrap();
        std::mem::take(&mut w.buf)
    }

    #[test]
    fn the_fast_path_writes_what_the_guard_and_quoting_would() {
        let cells = [
            "jane@example.org",
            "",
            "=1+1",
            "+1",
            "-2",
            "@SUM(A1)",
            "a,b",
            "say \"hi\"",
            "Zoë",
            "\u{feff}=x",
            "tab\there",
            " lead",
            "x=1",
            "＝1",
        ];
        for c in cells {
            let mut slow = Vec::new();
            let mut w = Out {
                sink: &mut slow,
                buf: Vec::new(),
                fresh: true,
                last_date: None,
                flush_at: CHUNK,
            };
            w.field(guard_cell(c).as_bytes());
            w.end_record().unwrap();
            assert_eq!(written(&[Cell::Str(c)]), w.buf, "{c:?}");
        }
        for parts in [
            &["INC-0001", "INC-0002"][..],
            &[][..],
            &[""][..],
            &["", "INC-1"][..],
            &["=x", "y"][..],
            &["a,b", "c"][..],
            &["a", "-b"][..],
        ] {
            let joined = parts.join(" ");
            assert_eq!(
                written(&[Cell::Join(parts, " ")]),
                written(&[Cell::Str(&joined)]),
                "{parts:?}"
            );
        }
    }

    #[test]
    fn rows_are_written_exactly_as_the_csv_crate_writes_them() {
        let fields: &[&[&str]] = &[
            &[
                "plain",
                "",
                "with,comma",
                "with \"quotes\"",
                "cr\rlf\n",
                "ü ñ",
            ],
            &["", "", "", "", "", ""],
            &["\"", ",", "\r\n", " lead", "trail ", "a\"\"b"],
        ];
        let mut ours = Vec::new();
        {
            let mut w = Out {
                sink: &mut ours,
                buf: Vec::new(),
                fresh: true,
                last_date: None,
                flush_at: CHUNK,
            };
            for r in fields {
                for f in *r {
                    w.field(f.as_bytes());
                }
                w.end_record().unwrap();
            }
            let rest = std::mem::take(&mut w.buf);
            w.sink.write_all(&rest).unwrap();
        }
        let mut theirs = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for r in fields {
            theirs.write_record(*r).unwrap();
        }
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs.into_inner().unwrap()).unwrap()
        );
    }
}
