//! The rows' writer shared by the CSV reports: cells formatted without allocating where they
//! can be, guarded against formula injection, quoted as RFC 4180 says, a megabyte at a time
//! to the file.

use std::io::Write;
use std::path::Path;

use crate::export::{guard_cell, write_atomic_with, ExportError};

/// The rows' writer: RFC 4180 exactly as the `csv` crate writes it (a field is quoted when it
/// holds `,`, `"`, CR or LF, with quotes doubled inside; CRLF after each record), built in one
/// buffer handed to the file a megabyte at a time (millions of rows: the `csv` crate's
/// per-field machinery and its extra copy were a third of the export).
pub(super) struct Out<'a> {
    pub(super) sink: &'a mut dyn Write,
    pub(super) buf: Vec<u8>,
    /// At the start of a record (no delimiter before the next field).
    pub(super) fresh: bool,
    /// The dates written so far (see [`Dates`]).
    pub(super) dates: Dates,
    /// The buffer goes to `sink` once it holds this much ([`CHUNK`]; never for a block
    /// formatted into memory, see [`formatted_into`]).
    pub(super) flush_at: usize,
}

pub(super) const CHUNK: usize = 1 << 20;

impl Out<'_> {
    pub(super) fn field(&mut self, f: &[u8]) {
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
    pub(super) fn bare(&mut self, f: &[u8]) {
        if !self.fresh {
            self.buf.push(b',');
        }
        self.fresh = false;
        self.buf.extend_from_slice(f);
    }

    /// A field known to need neither guard nor quotes, given as parts and their separator.
    pub(super) fn raw(&mut self, parts: &[&str], sep: &[u8]) {
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

    pub(super) fn date(&mut self, t: i64) {
        let (text, n) = self.dates.text(t);
        self.bare(&text[..usize::from(n)]);
    }

    /// Whole records formatted elsewhere ([`formatted`]).
    pub(super) fn append(&mut self, records: &[u8]) -> std::io::Result<()> {
        self.sink.write_all(&self.buf)?;
        self.buf.clear();
        self.sink.write_all(records)
    }

    pub(super) fn end_record(&mut self) -> std::io::Result<()> {
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
pub(super) fn write_csv(
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
            dates: Dates::default(),
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
pub(super) enum Cell<'a> {
    Str(&'a str),
    Num(u64),
    Date(Option<i64>),
    Bool(bool),
    /// Several strings joined by a separator (` | `, a space).
    Join(&'a [&'a str], &'a str),
}

pub(super) fn row(w: &mut Out<'_>, cells: &[Cell<'_>]) -> std::io::Result<()> {
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

/// The dates a writer has made. Rows next to each other mostly share their dates (an
/// incident's rows, a person's first and last exposure) and dates their days: the calendar
/// date of a time, the costliest part of a cell, is made once per day.
#[derive(Clone)]
pub(super) struct Dates {
    last: Option<(i64, [u8; 24], u8)>,
    /// Day number → its `YYYY-MM-DD`, direct-mapped.
    days: [(i64, [u8; 10]); 64],
}

impl Default for Dates {
    fn default() -> Self {
        Dates {
            last: None,
            // No day is numbered i64::MIN (that is less than the first time's day).
            days: [(i64::MIN, [0; 10]); 64],
        }
    }
}

impl Dates {
    /// `t` as [`format_date`] writes it.
    fn text(&mut self, t: i64) -> ([u8; 24], u8) {
        if let Some((last, text, n)) = self.last {
            if last == t {
                return (text, n);
            }
        }
        let mut text = [0u8; 24];
        let n = match self.by_day(t, &mut text) {
            Some(()) => 20,
            None => format_date(t, &mut text).len() as u8,
        };
        self.last = Some((t, text, n));
        (text, n)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` from the day's date and the time of day (four-digit years).
    fn by_day(&mut self, t: i64, text: &mut [u8; 24]) -> Option<()> {
        let (day, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
        let slot = &mut self.days[day.rem_euclid(64) as usize];
        if slot.0 != day {
            let mut full = [0u8; 20];
            let s = crate::parse::date::rfc3339_in(day.checked_mul(86_400)?, &mut full)?;
            slot.1.copy_from_slice(&s.as_bytes()[..10]);
            slot.0 = day;
        }
        text[..10].copy_from_slice(&slot.1);
        let two = |b: &mut [u8], v: i64| {
            b[0] = b'0' + (v / 10) as u8;
            b[1] = b'0' + (v % 10) as u8;
        };
        text[10] = b'T';
        two(&mut text[11..13], secs / 3600);
        text[13] = b':';
        two(&mut text[14..16], secs % 3600 / 60);
        text[16] = b':';
        two(&mut text[17..19], secs % 60);
        text[19] = b'Z';
        Some(())
    }
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

pub(super) fn header(w: &mut Out<'_>, names: &[&str]) -> std::io::Result<()> {
    let cells: Vec<Cell<'_>> = names.iter().map(|n| Cell::Str(n)).collect();
    row(w, &cells)
}

/// Rows formatted into `bytes` (emptied first; blocks made in parallel, then written in order,
/// their buffers used again).
pub(super) fn formatted_into(
    bytes: &mut Vec<u8>,
    rows: impl FnOnce(&mut Out<'_>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    bytes.clear();
    let mut w = Out {
        sink: &mut std::io::sink(),
        buf: std::mem::take(bytes),
        fresh: true,
        dates: Dates::default(),
        flush_at: usize::MAX,
    };
    let r = rows(&mut w);
    *bytes = std::mem::take(&mut w.buf);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_made_by_day_are_the_rfc3339_dates() {
        let mut d = Dates::default();
        let mut times = vec![
            i64::MIN,
            i64::MAX,
            -62_167_219_201,
            -62_167_219_200,
            253_402_300_799,
            253_402_300_800,
            -1,
            0,
            86_399,
            86_400,
            1_709_210_096,
        ];
        // Days that share a slot, in and out of order, each time twice.
        let mut t = -5_000_000_000i64;
        while t < 5_000_000_000 {
            times.push(t);
            times.push(t + 64 * 86_400);
            t += 7_777_777;
        }
        for &t in times.iter().chain(times.iter().rev()) {
            let (text, n) = d.text(t);
            let mut buf = [0u8; 24];
            assert_eq!(&text[..usize::from(n)], format_date(t, &mut buf), "{t}");
            if (-62_167_219_200..253_402_300_800).contains(&t) {
                assert_eq!(
                    &text[..20],
                    crate::parse::date::rfc3339(t).as_bytes(),
                    "{t}"
                );
            }
        }
    }

    fn written(cells: &[Cell<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        formatted_into(&mut out, |w| row(w, cells)).unwrap();
        out
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
            formatted_into(&mut slow, |w| {
                w.field(guard_cell(c).as_bytes());
                w.end_record()
            })
            .unwrap();
            assert_eq!(written(&[Cell::Str(c)]), slow, "{c:?}");
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
        formatted_into(&mut ours, |w| {
            for r in fields {
                for f in *r {
                    w.field(f.as_bytes());
                }
                w.end_record()?;
            }
            Ok(())
        })
        .unwrap();
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
