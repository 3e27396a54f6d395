//! Rows that grow with the mailbox rather than with its people (one per incident and person,
//! and each person's incident list), held in memory up to a budget (`--memory-limit`) and
//! beyond it in an unnamed temporary file: created 0600 in `$TMPDIR` with `O_TMPFILE` where
//! the system has it, so it has no name to find and is gone when the run ends, even by a crash.
//! Records have a fixed little-endian layout, written and read back sequentially (or one row
//! at a time with `pread`, so several exporter threads can read at once).
//!
//! Reading back a file just written can still fail (a dying disk): a read that fails is
//! remembered, yields nothing, and [`Table::check`] reports it, so the report is refused
//! rather than written short.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// A fixed-size record.
pub trait Record: Copy {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

impl Record for u32 {
    const SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl Record for u64 {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        u64::from_le_bytes(w)
    }
}

/// Rows read back from a file per read.
const CHUNK_ROWS: usize = 1 << 14;

/// Rows in memory, or (once they pass the budget) all of them in a temporary file.
pub struct Table<T> {
    mem: Vec<T>,
    file: Option<File>,
    /// Rows on file.
    on_file: usize,
    /// Rows kept in memory before they go to the file (and, once there, rows buffered).
    cap: usize,
    failed: Mutex<Option<String>>,
}

impl<T: Record> Default for Table<T> {
    fn default() -> Self {
        Table::in_memory(Vec::new())
    }
}

impl<T: Record> Table<T> {
    /// A table that keeps up to `budget` bytes of rows in memory (at least one row).
    pub fn new(budget: u64) -> Self {
        Table {
            mem: Vec::new(),
            file: None,
            on_file: 0,
            cap: usize::try_from(budget / T::SIZE as u64)
                .unwrap_or(usize::MAX)
                .max(1),
            failed: Mutex::new(None),
        }
    }

    pub fn in_memory(rows: Vec<T>) -> Self {
        Table {
            mem: rows,
            file: None,
            on_file: 0,
            cap: usize::MAX,
            failed: Mutex::new(None),
        }
    }

    /// Room for `n` more rows in memory, up to the budget.
    pub fn reserve(&mut self, n: usize) {
        self.mem.reserve(n.min(self.cap));
    }

    pub fn len(&self) -> usize {
        self.on_file + self.mem.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All rows, when they are in memory.
    pub fn as_slice(&self) -> Option<&[T]> {
        self.file.is_none().then_some(&self.mem[..])
    }

    /// Whether the rows went to a file.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    pub fn push(&mut self, row: T) -> io::Result<()> {
        self.extend(std::slice::from_ref(&row))
    }

    pub fn extend(&mut self, rows: &[T]) -> io::Result<()> {
        if self.mem.len() + rows.len() <= self.cap {
            self.mem.extend_from_slice(rows);
            return Ok(());
        }
        self.write_out(rows)
    }

    /// Everything buffered, and `more`, appended to the file (created on first use).
    fn write_out(&mut self, more: &[T]) -> io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                // The memory the rows held goes back once they are on file.
                self.mem.shrink_to(self.cap.min(CHUNK_ROWS));
                self.file.insert(tempfile::tempfile()?)
            }
        };
        let mut bytes = Vec::with_capacity((self.mem.len() + more.len()).min(CHUNK_ROWS) * T::SIZE);
        for r in self.mem.iter().chain(more) {
            r.put(&mut bytes);
            if bytes.len() >= CHUNK_ROWS * T::SIZE {
                file.write_all(&bytes)?;
                bytes.clear();
            }
        }
        file.write_all(&bytes)?;
        self.on_file += self.mem.len() + more.len();
        self.mem.clear();
        Ok(())
    }

    /// No more rows: what is buffered goes to the file, if there is one.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.file.is_some() && !self.mem.is_empty() {
            self.write_out(&[])?;
            self.mem = Vec::new();
        }
        Ok(())
    }

    /// Rows `start..end` (empty if they cannot be read: see [`Table::check`]).
    pub fn rows(&self, start: usize, end: usize) -> Cow<'_, [T]> {
        let Some(file) = &self.file else {
            return Cow::Borrowed(&self.mem[start..end]);
        };
        let mut bytes = vec![0u8; (end - start) * T::SIZE];
        match file.read_exact_at(&mut bytes, (start * T::SIZE) as u64) {
            Ok(()) => Cow::Owned(bytes.chunks_exact(T::SIZE).map(T::get).collect()),
            Err(e) => {
                self.fail(e);
                Cow::Owned(Vec::new())
            }
        }
    }

    /// Row `i` (`None` past the end, or if it cannot be read: see [`Table::check`]).
    pub fn get(&self, i: usize) -> Option<T> {
        if i >= self.len() {
            return None;
        }
        self.rows(i, i + 1).first().copied()
    }

    /// The first row in `start..end` for which `before` is false (rows where it holds come
    /// first), found in O(log n) row reads.
    pub fn partition_point(&self, start: usize, end: usize, before: impl Fn(&T) -> bool) -> usize {
        if self.file.is_none() {
            return start + self.mem[start..end].partition_point(before);
        }
        let (mut lo, mut hi) = (start, end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(r) if before(&r) => lo = mid + 1,
                Some(_) => hi = mid,
                None => return end,
            }
        }
        lo
    }

    /// Every row, in order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            table: self,
            chunk: Cow::Borrowed(&[]),
            at: 0,
            next_start: 0,
        }
    }

    /// Every row, in order, a slice at a time (all of them at once when in memory): for walks
    /// that look ahead.
    pub fn chunks(&self) -> impl Iterator<Item = Cow<'_, [T]>> + '_ {
        let n = self.len();
        let step = if self.file.is_some() {
            CHUNK_ROWS
        } else {
            n.max(1)
        };
        (0..n)
            .step_by(step)
            .map(move |s| self.rows(s, (s + step).min(n)))
    }

    fn fail(&self, e: io::Error) {
        if let Ok(mut f) = self.failed.lock() {
            f.get_or_insert_with(|| e.to_string());
        }
    }

    /// Whether every read so far succeeded.
    pub fn check(&self) -> io::Result<()> {
        match self.failed.lock().ok().and_then(|f| f.clone()) {
            Some(e) => Err(io::Error::other(format!(
                "cannot read back the temporary file of rows: {e}"
            ))),
            None => Ok(()),
        }
    }
}

/// A table's rows one by one: from memory, or read a chunk at a time.
pub struct Iter<'a, T: Clone> {
    table: &'a Table<T>,
    chunk: Cow<'a, [T]>,
    at: usize,
    /// The row the next chunk starts at.
    next_start: usize,
}

impl<T: Record> Iterator for Iter<'_, T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        if let Some(r) = self.chunk.get(self.at) {
            self.at += 1;
            return Some(*r);
        }
        let n = self.table.len();
        if self.next_start >= n {
            return None;
        }
        let end = match self.table.file {
            Some(_) => (self.next_start + CHUNK_ROWS).min(n),
            None => n,
        };
        self.chunk = self.table.rows(self.next_start, end);
        self.next_start = end;
        self.at = 1;
        self.chunk.first().copied()
    }
}

/// Sort more `u64`s than the budget holds: sorted runs of at most `cap` values on files,
/// merged at the end. At most [`FAN`] runs of a size are kept: [`FAN`] runs of one level are
/// merged into one run of the next as they come (as in a log-structured merge), so few files
/// are open and each value is rewritten O(log n) times.
pub struct Sorter {
    buf: Vec<u64>,
    cap: usize,
    /// Runs with their level, levels non-increasing.
    runs: Vec<(u32, Table<u64>)>,
}

/// Runs merged at once.
const FAN: usize = 16;

impl Sorter {
    pub fn new(budget: u64) -> Self {
        let cap = usize::try_from(budget / 8).unwrap_or(usize::MAX).max(1);
        Sorter {
            buf: Vec::new(),
            cap,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, v: u64) -> io::Result<()> {
        self.buf.push(v);
        if self.buf.len() >= self.cap {
            self.buf.sort_unstable();
            let mut run = Table::new(0);
            run.extend(&self.buf)?;
            run.finish()?;
            self.buf.clear();
            self.runs.push((0, run));
            while self.runs.len() >= FAN {
                let tail = self.runs.len() - FAN;
                let level = self.runs[tail].0;
                if self.runs[tail..].iter().any(|r| r.0 != level) {
                    break;
                }
                let runs: Vec<Table<u64>> = self.runs.drain(tail..).map(|r| r.1).collect();
                let mut merged = Table::new(0);
                merge(&runs, |v| merged.push(v))?;
                merged.finish()?;
                self.runs.push((level + 1, merged));
            }
        }
        Ok(())
    }

    /// Every value pushed, ascending, handed to `out`.
    pub fn finish(mut self, out: impl FnMut(u64) -> io::Result<()>) -> io::Result<()> {
        self.buf.sort_unstable();
        let mut runs: Vec<Table<u64>> = self.runs.into_iter().map(|r| r.1).collect();
        runs.push(Table::in_memory(self.buf));
        merge(&runs, out)
    }
}

/// Merge sorted tables into `out`.
fn merge(runs: &[Table<u64>], mut out: impl FnMut(u64) -> io::Result<()>) -> io::Result<()> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut iters: Vec<_> = runs.iter().map(|r| r.iter()).collect();
    let mut heap = BinaryHeap::new();
    for (i, it) in iters.iter_mut().enumerate() {
        if let Some(v) = it.next() {
            heap.push(Reverse((v, i)));
        }
    }
    while let Some(Reverse((v, i))) = heap.pop() {
        out(v)?;
        if let Some(n) = iters[i].next() {
            heap.push(Reverse((n, i)));
        }
    }
    for r in runs {
        r.check()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_past_its_budget_reads_back_the_same_rows() {
        let rows: Vec<u64> = (0..50_000u64).map(|i| i * 7919 % 100_003).collect();
        for budget in [0, 8, 800, 1 << 30] {
            let mut t = Table::<u64>::new(budget);
            for c in rows.chunks(333) {
                t.extend(c).unwrap();
            }
            t.finish().unwrap();
            assert_eq!(t.spilled(), budget < 400_000, "budget {budget}");
            assert_eq!(t.len(), rows.len());
            assert_eq!(t.iter().collect::<Vec<_>>(), rows);
            assert_eq!(&*t.rows(100, 140), &rows[100..140]);
            assert_eq!(t.get(49_999), Some(rows[49_999]));
            t.check().unwrap();
        }
    }

    #[test]
    fn partition_point_on_file_and_in_memory_agree() {
        let rows: Vec<u64> = (0..1000).map(|i| i / 3).collect();
        let mut spilled = Table::<u64>::new(0);
        spilled.extend(&rows).unwrap();
        spilled.finish().unwrap();
        let mem = Table::in_memory(rows.clone());
        for x in [0, 1, 77, 332, 333, 500] {
            for (s, e) in [(0, 1000), (10, 400), (500, 500)] {
                assert_eq!(
                    spilled.partition_point(s, e, |&v| v < x),
                    mem.partition_point(s, e, |&v| v < x)
                );
            }
        }
    }

    #[test]
    fn the_sorter_sorts_across_many_runs() {
        let vals: Vec<u64> = (0..40_000u64)
            .map(|i| i * 2_654_435_761 % 1_000_003)
            .collect();
        for budget in [80, 800, 80_000, 1 << 30] {
            let mut s = Sorter::new(budget);
            for &v in &vals {
                s.push(v).unwrap();
            }
            let mut out = Vec::new();
            s.finish(|v| {
                out.push(v);
                Ok(())
            })
            .unwrap();
            let mut want = vals.clone();
            want.sort_unstable();
            assert_eq!(out, want, "budget {budget}");
        }
    }
}
