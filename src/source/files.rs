//! Trees of message files: Maildir (`cur/`, `new/`, Maildir++ `.Sent` subfolders), folders of
//! `.eml` or extension-less files (`534_`), and mboxes found among them.
//!
//! The walk is depth-first in byte order of names, so the same tree always gives the same order.
//! Symbolic links are not followed. A file is a message if it starts with a header line; a file
//! starting with a `From ` separator is an mbox. Anything else is counted and skipped.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::mbox::MboxSource;
use super::sniff::{self, FileKind};
use super::{path_text, Batch, InputError, InputInfo, Source, Unit};
use crate::parse::header;
use crate::warning::{Warning, WarningKind};

/// Files at least this large are sniffed by the walker; mboxes among them are streamed
/// instead of being read whole by a worker.
pub const LARGE_FILE: u64 = 16 << 20;
const FILES_PER_BATCH: usize = 256;
const BLOCK: usize = 64 << 10;

pub use crate::fsx::{open_evidence, read_dir_noatime, EntryType};

/// Does this file start (after an optional BOM) with an mbox `From ` separator?
pub fn sniff_mbox(path: &Path) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(sniff::SNIFF_BYTES);
    open_evidence(path)?
        .take(sniff::SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(sniff::sniff(&head) == FileKind::Mbox)
}

/// A directory tree (or one message file given on the command line).
pub struct TreeSource {
    root: String,
    /// Directories and files still to visit; popped from the end.
    stack: Vec<(PathBuf, bool)>,
    nested: Option<MboxSource>,
    files: u64,
    bytes: u64,
    is_dir: bool,
    /// Hash large mboxes found in the tree (message files are always hashed by the workers).
    hash: bool,
    /// (device, inode) of what not to read: the report being written, its lock file.
    skip: Vec<(u64, u64)>,
}

impl TreeSource {
    pub fn new(root: &Path, hash: bool, skip: Vec<(u64, u64)>) -> TreeSource {
        TreeSource {
            root: path_text(root),
            stack: vec![(root.to_path_buf(), true)],
            nested: None,
            files: 0,
            bytes: 0,
            is_dir: true,
            hash,
            skip,
        }
    }

    pub fn single_file(path: &Path) -> TreeSource {
        TreeSource {
            root: path_text(path),
            stack: vec![(path.to_path_buf(), false)],
            nested: None,
            files: 0,
            bytes: 0,
            is_dir: false,
            hash: true,
            skip: Vec::new(),
        }
    }

    fn visit_dir(&mut self, dir: &Path, batch: &mut Batch) {
        let (id, mut entries) = match read_dir_noatime(dir) {
            Ok(x) => x,
            Err(e) => {
                batch.errors.push(InputError {
                    location: path_text(dir),
                    message: e.to_string(),
                });
                return;
            }
        };
        if self.skip.contains(&id) {
            // The report directory (or its staging copy): never read our own output.
            return;
        }
        // Maildir's tmp/ holds deliveries in progress, not messages.
        let is_maildir = entries
            .iter()
            .any(|(n, t)| *t == EntryType::Dir && (n == "cur" || n == "new"));
        entries.sort_by(|a, b| {
            use std::os::unix::ffi::OsStrExt;
            a.0.as_bytes().cmp(b.0.as_bytes())
        });
        for (name, t) in entries.into_iter().rev() {
            let path = dir.join(&name);
            match t {
                EntryType::Symlink => batch.warnings.push(Warning::new(
                    WarningKind::SymlinkNotFollowed,
                    path_text(&path),
                )),
                EntryType::Special(what) => batch.warnings.push(Warning::new(
                    WarningKind::NotARegularFile,
                    format!("{} ({what})", path_text(&path)),
                )),
                EntryType::Dir => {
                    if !(is_maildir && name == "tmp") {
                        self.stack.push((path, true));
                    }
                }
                EntryType::File => self.stack.push((path, false)),
            }
        }
    }
}

impl Source for TreeSource {
    fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = Batch::default();
        if let Some(n) = self.nested.as_mut() {
            match n.next_batch() {
                Some(b) => return Some(b),
                None => {
                    let info = n.info();
                    batch.manifest.push(format!(
                        "{}  {}",
                        info.sha256.unwrap_or_default(),
                        info.path
                    ));
                    self.nested = None;
                }
            }
        }
        while batch.units.len() < FILES_PER_BATCH {
            let Some((path, is_dir)) = self.stack.pop() else {
                break;
            };
            if is_dir {
                self.visit_dir(&path, &mut batch);
                continue;
            }
            let size = match std::fs::symlink_metadata(&path) {
                Ok(m) => {
                    use std::os::unix::fs::MetadataExt;
                    if self.skip.contains(&(m.dev(), m.ino())) {
                        // Our own lock file.
                        continue;
                    }
                    m.len()
                }
                Err(e) => {
                    batch.errors.push(InputError {
                        location: path_text(&path),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            self.files += 1;
            self.bytes += size;
            if size >= LARGE_FILE && sniff_mbox(&path).unwrap_or(false) {
                match MboxSource::open(&path, self.hash).map(MboxSource::in_tree) {
                    Ok(s) => {
                        self.nested = Some(s);
                        if batch.units.is_empty() && batch.manifest.is_empty() {
                            return self.next_batch();
                        }
                        break;
                    }
                    Err(e) => batch.errors.push(e),
                }
                continue;
            }
            batch.bytes += size;
            batch.units.push(Unit::File { path });
        }
        if batch.units.is_empty()
            && batch.errors.is_empty()
            && batch.warnings.is_empty()
            && batch.manifest.is_empty()
            && self.nested.is_none()
        {
            return None;
        }
        Some(batch)
    }

    fn info(&mut self) -> InputInfo {
        InputInfo {
            path: self.root.clone(),
            kind: if self.is_dir {
                super::InputKind::Directory
            } else {
                super::InputKind::MessageFile
            },
            size: self.bytes,
            sha256: None,
            files: self.files,
            detail: None,
            imap: None,
            errors: Vec::new(),
        }
    }
}

/// What a worker found in a file.
pub enum FileContent {
    /// One message: its first bytes (the whole header block at least), and where the header ends.
    Message {
        head: Vec<u8>,
        header_len: usize,
        terminated: bool,
    },
    /// A (small) mbox, read whole.
    Mbox(Vec<u8>),
    /// A compound file (an Outlook `.msg`, or an Office document), read whole.
    Compound(Vec<u8>),
    /// An archive (zip, tar, gzip), read whole (at most [`super::archive::MAX_MEMBER`]).
    Archive(Vec<u8>, FileKind),
    /// Not a message: what it looks like instead.
    NotMessage(FileKind),
}

/// The largest compound file read (a `.msg` with its attachments).
pub const MAX_COMPOUND: usize = 256 << 20;

/// Read a file for the parser: the header block (and the rest only into the hasher).
/// Returns the content and the SHA-256 of the whole file.
pub fn read_message_file(path: &Path) -> std::io::Result<(FileContent, [u8; 32], u64)> {
    let mut f = open_evidence(path)?;
    let mut hasher = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(BLOCK);
    let mut eof = read_more(&mut f, &mut head, BLOCK)?;
    let kind = sniff::sniff(&head);
    let is_mbox = kind == FileKind::Mbox;
    if super::archive::is_archive(kind) {
        while !eof && head.len() as u64 <= super::archive::MAX_MEMBER {
            let more = BLOCK.max(head.len());
            eof = read_more(&mut f, &mut head, more)?;
        }
        if eof {
            hasher.update(&head);
            let n = head.len() as u64;
            return Ok((
                FileContent::Archive(head, kind),
                hasher.finalize().into(),
                n,
            ));
        }
    }
    if kind == FileKind::Cfb {
        while !eof && head.len() <= MAX_COMPOUND {
            let more = BLOCK.max(head.len());
            eof = read_more(&mut f, &mut head, more)?;
        }
        if eof {
            hasher.update(&head);
            let n = head.len() as u64;
            return Ok((FileContent::Compound(head), hasher.finalize().into(), n));
        }
    }
    let is_msg = kind == FileKind::Message;
    if is_mbox {
        while !eof {
            let more = BLOCK.max(head.len());
            eof = read_more(&mut f, &mut head, more)?;
        }
        hasher.update(&head);
        let n = head.len() as u64;
        return Ok((FileContent::Mbox(head), hasher.finalize().into(), n));
    }
    let mut found = None;
    if is_msg {
        loop {
            let (hl, _, term) = header::header_end(&head);
            if term || eof || head.len() >= header::MAX_HEADER_BLOCK {
                found = Some((hl, term));
                break;
            }
            let more = head.len();
            eof = read_more(&mut f, &mut head, more)?;
        }
    }
    // Hash what we hold, then stream the rest through a fixed buffer: bodies are never kept.
    hasher.update(&head);
    let mut total = head.len() as u64;
    let mut buf = vec![0u8; BLOCK];
    while !eof {
        match f.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let content = match found {
        Some((header_len, terminated)) => {
            head.truncate(header_len);
            // A leading UTF-8 BOM is not part of the first field's name.
            let header_len = if head.starts_with(b"\xef\xbb\xbf") {
                head.drain(..3);
                header_len - 3
            } else {
                header_len
            };
            FileContent::Message {
                head,
                header_len,
                terminated,
            }
        }
        None => FileContent::NotMessage(kind),
    };
    Ok((content, hasher.finalize().into(), total))
}

/// Append up to `n` more bytes; true at end of file.
fn read_more(f: &mut File, v: &mut Vec<u8>, n: usize) -> std::io::Result<bool> {
    let old = v.len();
    v.resize(old + n, 0);
    let mut filled = old;
    while filled < v.len() {
        match f.read(&mut v[filled..]) {
            Ok(0) => {
                v.truncate(filled);
                return Ok(true);
            }
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    v.truncate(filled);
    Ok(false)
}
