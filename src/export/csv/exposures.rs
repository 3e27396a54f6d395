//! exposures.csv: one row per person and incident, streamed as the analysis makes the rows.

use std::path::Path;
use std::sync::Arc;

use super::rows::{header, row, write_csv, Cell, Dates, Out, CHUNK};
use super::EXPOSURES_HEADER;
use crate::analysis::{Exposure, RowSink};
use crate::export::{Document, ExportError};
use crate::intern::Strings;

pub(super) fn exposures(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
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
    file: crate::export::AtomicFile,
    buf: Vec<u8>,
}

impl RowsFile {
    /// exposures.csv in `dir`, its header written.
    fn create(dir: &Path) -> Result<RowsFile, ExportError> {
        let mut f = RowsFile {
            file: crate::export::AtomicFile::create(dir, "exposures.csv")?,
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
                dates: Dates::default(),
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
        // Two stretches of rows (about 2 MB each) wait at most: the walk runs ahead of the
        // writer by that much, and no more rows than that are held twice.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Exposure>>(2);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::When;
    use std::os::unix::fs::PermissionsExt;

    fn rows(s: &mut Strings) -> Vec<Exposure> {
        let row = |incident, addr, name, fields, t: Option<i64>| Exposure {
            incident,
            addr,
            name,
            internal: false,
            fields,
            first_sent: When::from(t),
            messages: 1,
            audience: 3,
        };
        let (a, b, c) = (
            s.intern("a@example.org"),
            s.intern("=cmd@example.org"),
            s.intern("c@city.test"),
        );
        let jane = s.intern("Doe, Jane");
        vec![
            row(0, a, jane, crate::detect::IN_TO, Some(1_704_103_200)),
            row(0, b, 0, crate::detect::IN_CC, Some(1_704_103_200)),
            row(11, c, 0, crate::detect::IN_TO, None),
        ]
    }

    #[test]
    fn streamed_rows_are_the_rows_written_at_once() {
        let mut s = Strings::default();
        let all = rows(&mut s);
        let strings = Arc::new(s);
        let d = tempfile::tempdir().unwrap();
        let mut stream = ExposuresStream::create(d.path()).unwrap();
        stream.start(12, strings.clone());
        stream.rows(all[..1].to_vec());
        stream.rows(all[1..].to_vec());
        stream.commit().unwrap();
        let path = d.path().join("exposures.csv");
        let streamed = std::fs::read_to_string(&path).unwrap();
        let mut at_once = Vec::new();
        super::super::rows::formatted_into(&mut at_once, |w| {
            header(w, EXPOSURES_HEADER)?;
            exposure_rows(w, &mut IncidentIds::new(12), &all, &strings)
        })
        .unwrap();
        assert_eq!(streamed.as_bytes(), at_once);
        let lines: Vec<&str> = streamed.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[1],
            "INC-0001,a@example.org,\"Doe, Jane\",to,2024-01-01T10:00:00Z,1,3,false,false"
        );
        // A cell that would start a formula is guarded; an undated row has no date.
        assert!(
            lines[2].starts_with("INC-0001,'=cmd@example.org,,cc,"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("INC-0012,c@city.test,,to,,1,3"),
            "{}",
            lines[3]
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the report's file: no temporary file left beside it.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_write_that_fails_is_reported_when_the_file_is_committed() {
        let mut s = Strings::default();
        let all = rows(&mut s);
        let d = tempfile::tempdir().unwrap();
        let staging = d.path().join("staging");
        std::fs::create_dir(&staging).unwrap();
        let mut stream = ExposuresStream::create(&staging).unwrap();
        stream.start(12, Arc::new(s));
        stream.rows(all);
        // The directory goes away under the stream (as an interrupted run's does).
        std::fs::remove_dir_all(&staging).unwrap();
        assert!(stream.commit().is_err());
    }
}
