//! mbox: mboxo, mboxrd, mboxcl2 (Content-Length), CRLF and CR-only line ends, a UTF-8 BOM,
//! Gmail Takeout exports. Files and standard input are read window by window (never mapped: a
//! file truncated under a mapping would kill the process with SIGBUS), so only a bounded window
//! is resident: at most [`MAX_WINDOW`] bytes, whatever the size of one message or of junk.
//!
//! A separator is a line starting with `From ` at the start of the input or after a line end,
//! *followed by a header line*: a `From ` line inside a body that is not followed by a header
//! block does not split the message. Where a message carries a `Content-Length` that lands
//! exactly on the next separator (or the end), that length wins over any `From ` line it covers.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

mod split;
pub use split::*;

use super::{Batch, ChunkData, InputError, InputInfo, Source, Unit};
use crate::parse::header;
use crate::warning::{Warning, WarningKind};

/// Window buffers handed back by finished batches, so a long scan does not fault in fresh
/// pages for every window.
#[derive(Default, Clone)]
pub struct BufferPool(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// At most this many buffers wait in the pool,
    const KEEP: usize = 8;
    /// holding at most this many bytes: windows grown for large messages are kept too (fresh
    /// pages cost far more than reused ones: a mailbox of large attachments faulted in a
    /// grown window for each), but not without bound.
    const KEEP_BYTES: usize = 8 * BATCH_BYTES;

    /// A buffer of at least `capacity`: a pooled one that is large enough, else a new one (a
    /// smaller pooled buffer is not grown: growing copies its whole old capacity).
    fn take(&self, capacity: usize) -> Vec<u8> {
        let pooled = self.0.lock().ok().and_then(|mut p| {
            let i = p.iter().position(|v| v.capacity() >= capacity)?;
            Some(p.swap_remove(i))
        });
        match pooled {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn give(&self, v: Vec<u8>) {
        if v.capacity() == 0 {
            return;
        }
        if let Ok(mut p) = self.0.lock() {
            let held: usize = p.iter().map(Vec::capacity).sum();
            if p.len() < Self::KEEP && held + v.capacity() <= Self::KEEP_BYTES {
                p.push(v);
            }
        }
    }
}

/// A window buffer shared by the batches cut from it; back to the pool when the last is done.
pub struct SharedBuf {
    bytes: Vec<u8>,
    pool: Option<BufferPool>,
}

impl SharedBuf {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for SharedBuf {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.give(std::mem::take(&mut self.bytes));
        }
    }
}

/// SHA-256 of a whole file, read in blocks; an error when the file is not the size it had when
/// it was opened (it changed while being read, so the hash would not be the evidence's).
fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = super::files::open_evidence(path)?;
    let expected = f.metadata()?.len();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if total != expected {
        return Err(std::io::Error::other(format!(
            "changed while it was hashed ({expected} bytes when opened, {total} read)"
        )));
    }
    Ok(h.finalize().into())
}

/// A window holding less than this is topped up before it is split.
const REFILL_BELOW: usize = 1 << 20;

/// A window never grows past this while looking for the end of one message: a larger message
/// is streamed through its hash (`Big`), and junk before the first message is dropped.
pub const MAX_WINDOW: usize = 64 << 20;

/// A message larger than [`MAX_WINDOW`], being streamed: its header is kept (bounded), the rest
/// only goes through its SHA-256.
struct Big {
    /// Input offset of its `From ` line.
    start: u64,
    header: Vec<u8>,
    hasher: Sha256,
    size: u64,
}

/// An mbox streamed window by window (a file, standard input, or bytes in memory).
pub struct MboxSource {
    name: Arc<str>,
    /// For a file: the whole-file SHA-256, computed on its own thread while the scan runs.
    file_hash: Option<std::thread::JoinHandle<std::io::Result<[u8; 32]>>>,
    /// For a stream: hash what passes through (there is no second read).
    hash_stream: bool,
    reader: Box<dyn Read + Send>,
    /// The window is `data.bytes()[lo..]`: batches are cut from its front without copying.
    data: Arc<SharedBuf>,
    lo: usize,
    eof: bool,
    /// For a file: its size when opened (a file that shrinks while read is an input error).
    expected: Option<u64>,
    big: Option<Big>,
    /// [`MAX_WINDOW`], smaller in tests.
    max_window: usize,
    /// Named on the command line (not found inside a tree): holding no message is an error.
    named: bool,
    pool: BufferPool,
    /// Offset in the input of the first byte of `buf`.
    pos: u64,
    first: bool,
    /// The window's first message has no separator before this offset (see
    /// [`Split::unfinished`]).
    resume: usize,
    done: bool,
    hasher: Sha256,
    size: u64,
    messages: u64,
    errors: Vec<InputError>,
}

impl MboxSource {
    /// Open a file; with `hash`, its SHA-256 is computed concurrently for the summary.
    pub fn open(path: &Path, hash: bool) -> Result<MboxSource, InputError> {
        let err = |e: std::io::Error| InputError {
            location: super::path_text(path),
            message: e.to_string(),
        };
        // Read-only, O_NOATIME: the evidence cannot change.
        let file = super::files::open_evidence(path).map_err(err)?;
        let size = file.metadata().map_err(err)?.len();
        let mut s = MboxSource::new(super::path_text(path), Box::new(file), Vec::new(), false);
        s.size = size;
        s.expected = Some(size);
        s.named = true;
        s.hash_stream = false;
        if hash {
            let p = path.to_path_buf();
            s.file_hash = std::thread::Builder::new()
                .name("bccaudit-hash".into())
                .spawn(move || hash_file(&p))
                .ok();
            if s.file_hash.is_none() {
                s.errors.push(InputError {
                    location: s.name.to_string(),
                    message: "could not start the thread that hashes it".into(),
                });
            }
        }
        Ok(s)
    }

    /// Found while walking a tree: an mbox without messages is counted, not an error.
    pub fn in_tree(mut self) -> MboxSource {
        self.named = false;
        self
    }

    pub fn stdin() -> MboxSource {
        let mut s = MboxSource::from_reader("<stdin>", Box::new(std::io::stdin()));
        s.named = true;
        s
    }

    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>) -> MboxSource {
        MboxSource::new(name.to_string(), reader, Vec::new(), false)
    }

    /// An mbox already in memory (a small file found in a tree).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> MboxSource {
        let size = bytes.len() as u64;
        let mut s = MboxSource::new(name.to_string(), Box::new(std::io::empty()), bytes, true);
        s.size = size;
        s
    }

    fn new(name: String, reader: Box<dyn Read + Send>, buf: Vec<u8>, eof: bool) -> MboxSource {
        MboxSource {
            name: name.into(),
            file_hash: None,
            hash_stream: true,
            reader,
            data: Arc::new(SharedBuf {
                bytes: buf,
                pool: None,
            }),
            lo: 0,
            eof,
            expected: None,
            big: None,
            max_window: MAX_WINDOW,
            named: false,
            pool: BufferPool::default(),
            pos: 0,
            first: true,
            resume: 0,
            done: false,
            hasher: Sha256::new(),
            size: 0,
            messages: 0,
            errors: Vec::new(),
        }
    }

    fn window(&self) -> &[u8] {
        &self.data.bytes()[self.lo..]
    }

    /// Read until the window holds `want` bytes or the input ends. The unfinished end of the
    /// window moves to the front of a (recycled) buffer; a window grown for one large message
    /// grows in place once no batch points into it.
    fn fill(&mut self, want: usize, batch: &mut Batch) {
        if self.eof || self.window().len() >= want {
            return;
        }
        let lo = self.lo;
        let mut v = match Arc::get_mut(&mut self.data) {
            Some(b) => {
                let mut v = std::mem::take(&mut b.bytes);
                v.drain(..lo);
                if v.capacity() < want {
                    // Grown into a pooled buffer large enough, if there is one, rather than
                    // reallocated into fresh pages.
                    let mut w = self.pool.take(want);
                    w.extend_from_slice(&v);
                    self.pool.give(v);
                    w
                } else {
                    v
                }
            }
            None => {
                // Room for one doubling: a message cut by the end of the window grows into it
                // without a reallocation (which copies into freshly faulted pages).
                let room = (2 * BATCH_BYTES).min(self.max_window).max(want);
                let mut v = self.pool.take(room);
                v.extend_from_slice(self.window());
                v
            }
        };
        self.lo = 0;
        v.reserve(want.saturating_sub(v.len()));
        let need = want.saturating_sub(v.len()) as u64;
        // Into the spare capacity (no zeroing first); bytes read before an error are kept.
        match self.reader.by_ref().take(need).read_to_end(&mut v) {
            Ok(n) if (n as u64) < need => self.eof = true,
            Ok(_) => {}
            Err(e) => {
                batch.errors.push(InputError {
                    location: format!("{}#{}", self.name, self.pos + v.len() as u64),
                    message: e.to_string(),
                });
                self.eof = true;
            }
        }
        self.size = self.size.max(self.pos + v.len() as u64);
        self.data = Arc::new(SharedBuf {
            bytes: v,
            pool: Some(self.pool.clone()),
        });
    }

    /// Take the first `n` bytes of the window (hashed on the way for a stream).
    fn consume(&mut self, n: usize) -> ChunkData {
        let chunk = ChunkData::new(self.data.clone(), self.lo, self.lo + n);
        if self.hash_stream {
            self.hasher.update(chunk.bytes());
        }
        self.lo += n;
        self.pos += n as u64;
        chunk
    }

    fn batch_from(&mut self, chunk: ChunkData, split: Split, mut batch: Batch, base: u64) -> Batch {
        for off in &split.length_disagrees {
            batch.warnings.push(Warning::new(
                WarningKind::ContentLengthDisagrees,
                format!("{}#{}", self.name, base + *off as u64),
            ));
        }
        if let Some((off, len)) = split.junk {
            batch.warnings.push(Warning::new(
                WarningKind::MboxJunkBeforeFirstMessage,
                format!("{}#{} ({} bytes)", self.name, base + off as u64, len),
            ));
        }
        let chunk = Arc::new(chunk);
        self.messages += split.spans.len() as u64;
        batch
            .units
            .extend(split.spans.into_iter().map(|span| Unit::Mbox {
                chunk: chunk.clone(),
                span,
                path: self.name.clone(),
                base,
            }));
        batch.bytes += split.consumed as u64;
        self.first = false;
        batch
    }

    /// The window is full and holds no whole message: drop junk before the first message, or
    /// start streaming an oversize message.
    fn window_full(&mut self, batch: &mut Batch) {
        let data = self.window();
        let starts_message = data.starts_with(b"From ")
            || header::starts_with_header_line(data.strip_prefix(BOM).unwrap_or(data));
        if self.first && !starts_message {
            // Junk with no separator in a whole window: keep its last line end, drop the rest.
            let cut = memchr::memrchr2(b'\n', b'\r', data)
                .filter(|&i| i > 0)
                .unwrap_or(data.len());
            batch.warnings.push(Warning::new(
                WarningKind::MboxJunkBeforeFirstMessage,
                format!("{}#{} ({cut} bytes)", self.name, self.pos),
            ));
            batch.bytes += cut as u64;
            self.consume(cut);
            return;
        }
        let header_start = if data.starts_with(b"From ") {
            line_end(data, 0)
        } else {
            0
        };
        let rest = &data[header_start..];
        let (hl, _, _) = header::header_end(&rest[..rest.len().min(header::MAX_HEADER_BLOCK)]);
        let big = Big {
            start: self.pos,
            header: rest[..hl].to_vec(),
            hasher: Sha256::new(),
            size: header_start as u64,
        };
        batch.warnings.push(Warning::new(
            WarningKind::OversizeMessageStreamed,
            format!(
                "{}#{} (over {} bytes)",
                self.name, self.pos, self.max_window
            ),
        ));
        batch.bytes += header_start as u64;
        self.consume(header_start);
        // The header is hashed with the rest of the message by the next step.
        self.big = Some(big);
        self.first = false;
        self.resume = 0;
    }

    /// Stream an oversize message on to its end: true when it ended (its unit is in `batch`).
    fn big_step(&mut self, batch: &mut Batch) -> bool {
        let eof = self.eof;
        let data = self.window();
        let limit = if eof {
            data.len()
        } else {
            data.len().saturating_sub(LANDING_LOOKAHEAD)
        };
        // `data[0]` is the first byte of the message's header, or a line end kept from the
        // previous step, so a separator is looked for from offset 1.
        let found = next_separator(data, 1).filter(|&s| s < limit);
        let cut = match found {
            Some(s) => s,
            None if eof => data.len(),
            // Keep the last line end: a separator right after it must still be seen.
            None => match memchr::memrchr2(b'\n', b'\r', &data[..limit]) {
                Some(i) if i > 0 => i,
                _ => limit,
            },
        };
        let chunk = self.consume(cut);
        let Some(big) = self.big.as_mut() else {
            return false;
        };
        big.hasher.update(chunk.bytes());
        big.size += cut as u64;
        batch.bytes += cut as u64;
        if found.is_none() && !eof {
            return false;
        }
        let Some(big) = self.big.take() else {
            return false;
        };
        self.messages += 1;
        batch.units.push(Unit::Header(Box::new(super::HeaderOnly {
            header: big.header,
            location: super::Location::Mbox {
                path: self.name.clone(),
                offset: big.start,
            },
            size: big.size,
            internal_date: None,
            sha256: Some(super::hex(&big.hasher.finalize())),
        })));
        true
    }

    /// At the end of the input: a file that shrank while it was read is an error, and so is
    /// an input named on the command line (a file, standard input) that held no message at all.
    fn check_complete(&mut self, batch: &mut Batch) {
        if self.named && self.messages == 0 {
            batch.errors.push(InputError {
                location: self.name.to_string(),
                message: if self.pos == 0 {
                    "empty: no message to read".into()
                } else {
                    format!("no message found in {} bytes: not an mbox", self.pos)
                },
            });
        }
        if let Some(expected) = self.expected.take() {
            if self.pos < expected {
                batch.errors.push(InputError {
                    location: self.name.to_string(),
                    message: format!(
                        "the file shrank while it was read ({expected} bytes when opened, {} read); what was read is reported",
                        self.pos
                    ),
                });
            }
        }
    }
}

impl Source for MboxSource {
    fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let mut batch = Batch {
            errors: std::mem::take(&mut self.errors),
            ..Batch::default()
        };
        let batch_bytes = BATCH_BYTES.min(self.max_window);
        loop {
            let len = self.window().len();
            // Nearly used up: read on first (the rest is copied to the front of the next
            // buffer, so it is kept small), so batches stay large.
            if !self.eof && len < REFILL_BELOW.min(batch_bytes) {
                self.fill(batch_bytes, &mut batch);
                continue;
            }
            if self.big.is_some() {
                if self.big_step(&mut batch) {
                    return Some(batch);
                }
                self.fill(batch_bytes, &mut batch);
                continue;
            }
            if len == 0 {
                self.done = true;
                self.check_complete(&mut batch);
                let any = !batch.errors.is_empty() || !batch.warnings.is_empty() || batch.bytes > 0;
                return any.then_some(batch);
            }
            let sp = split_from(
                self.window(),
                self.first,
                self.eof,
                BATCH_BYTES,
                BATCH_MESSAGES,
                self.resume,
            );
            // The unfinished message will start the next window: its search goes on from
            // where this one ended.
            self.resume = if sp.unfinished {
                resume_point(self.window()).saturating_sub(sp.consumed)
            } else {
                0
            };
            if sp.consumed == 0 && !self.eof {
                // No whole message in the window: read more, up to the largest window.
                if len < self.max_window {
                    let want = (len * 2).clamp(batch_bytes, self.max_window);
                    self.fill(want, &mut batch);
                } else {
                    self.window_full(&mut batch);
                }
                continue;
            }
            let base = self.pos;
            // At the end of the input everything left is consumed (split always does so; this
            // only guards against looping).
            let consumed = if sp.consumed == 0 { len } else { sp.consumed };
            let chunk = self.consume(consumed);
            let mut batch = self.batch_from(chunk, sp, batch, base);
            if self.eof && self.window().is_empty() {
                self.done = true;
                self.check_complete(&mut batch);
            }
            return Some(batch);
        }
    }

    fn info(&mut self) -> InputInfo {
        let mut errors = std::mem::take(&mut self.errors);
        let sha256 = match self.file_hash.take() {
            Some(h) => match h.join() {
                Ok(Ok(d)) => Some(super::hex(&d)),
                Ok(Err(e)) => {
                    errors.push(InputError {
                        location: self.name.to_string(),
                        message: format!("SHA-256 of the whole file failed: {e}"),
                    });
                    None
                }
                Err(_) => {
                    errors.push(InputError {
                        location: self.name.to_string(),
                        message: "SHA-256 of the whole file failed (its thread stopped)".into(),
                    });
                    None
                }
            },
            None if self.hash_stream => {
                Some(super::hex(&std::mem::take(&mut self.hasher).finalize()))
            }
            None => None,
        };
        InputInfo {
            path: self.name.to_string(),
            kind: super::InputKind::Mbox,
            size: self.size.max(self.pos),
            sha256,
            files: 1,
            detail: Some(serde_json::json!({ "messages": self.messages })),
            imap: None,
            errors,
        }
    }
}

#[cfg(test)]
mod tests;
