//! Stage 1: sources. Each source streams its messages as [`Batch`]es of work [`Unit`]s, in a
//! fixed order, without loading a mailbox into memory. Bytes are only read here and in the
//! workers that materialise units; nothing is ever written to an input.

pub mod archive;
pub mod files;
pub mod imap;
pub mod mbox;
pub mod outlook;
pub mod sniff;
pub mod walked;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::warning::Warning;

/// Where a message was found. Its `Display` is the `sources` cell of `messages.csv`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Location {
    /// Byte offset of the message's `From ` separator line (or first header) in an mbox.
    Mbox { path: Arc<str>, offset: u64 },
    /// A message file (Maildir entry, `.eml`, …).
    File { path: Arc<str> },
    /// An IMAP message, RFC 5092 style: `imaps://user@host/Folder;UIDVALIDITY=7/;UID=1234`.
    Imap {
        mailbox_url: Arc<str>,
        uidvalidity: u32,
        uid: u32,
    },
    /// A message in an Outlook PST: `file.pst#/Top of Outlook data file/Sent Items;nid=0x00200024`
    /// (folder path and node id, stable across runs).
    Pst {
        path: Arc<str>,
        folder: Arc<str>,
        nid: u32,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Mbox { path, offset } => write!(f, "{path}#{offset}"),
            Location::File { path } => write!(f, "{path}"),
            Location::Imap {
                mailbox_url,
                uidvalidity,
                uid,
            } => write!(f, "{mailbox_url};UIDVALIDITY={uidvalidity}/;UID={uid}"),
            Location::Pst { path, folder, nid } => write!(f, "{path}#{folder};nid=0x{nid:08X}"),
        }
    }
}

/// Bytes a batch of mbox messages points into (one window of the input, read with `read(2)`:
/// a file that shrinks while it is read ends the window early instead of faulting, as a memory
/// map would with SIGBUS).
pub struct ChunkData {
    buf: Arc<mbox::SharedBuf>,
    start: usize,
    end: usize,
}

impl ChunkData {
    pub fn new(buf: Arc<mbox::SharedBuf>, start: usize, end: usize) -> ChunkData {
        ChunkData { buf, start, end }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf.bytes()[self.start..self.end]
    }
}

/// A message whose header a source has already cut out: fetched from a server, or an mbox
/// message too large to hold whole (its SHA-256 computed while it streamed past).
pub struct HeaderOnly {
    pub header: Vec<u8>,
    pub location: Location,
    pub size: u64,
    /// Fallback date (IMAP INTERNALDATE).
    pub internal_date: Option<i64>,
    pub sha256: Option<String>,
}

/// One mbox message inside a chunk (offsets relative to the chunk's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start of the message (its `From ` line, if any).
    pub start: usize,
    /// Start of the header block (after the `From ` line).
    pub header_start: usize,
    /// End of the message (exclusive).
    pub end: usize,
}

/// One piece of work for the parser pool.
pub enum Unit {
    /// A message inside a chunk of an mbox.
    Mbox {
        chunk: Arc<ChunkData>,
        span: Span,
        path: Arc<str>,
        /// File offset of the chunk's first byte.
        base: u64,
    },
    /// A file to read: a message file, or a small mbox found while walking a directory.
    File { path: PathBuf },
    /// Header bytes already cut out (IMAP, an oversize mbox message).
    Header(Box<HeaderOnly>),
    /// A message file (or `.msg`) read out of an archive.
    Member(Box<archive::Member>),
    /// A message read out of an Outlook PST (its properties and recipient table).
    Outlook(Box<outlook::pst::PstItem>),
}

/// A message a source has already taken apart (Outlook: the recipient table says who was in
/// To, Cc and Bcc), classified by the pipeline like a header block.
#[derive(Debug, Default, Clone)]
pub struct Structured {
    pub from: Vec<Party>,
    pub to: Vec<Party>,
    pub cc: Vec<Party>,
    pub bcc: Vec<Party>,
    pub date: Option<i64>,
    pub subject: String,
    pub message_id: Option<String>,
    pub parents: Vec<String>,
    /// Warning kinds of the conversion (located by the pipeline).
    pub warnings: Vec<crate::warning::WarningKind>,
    /// The message rebuilt as MIME (its text and attachment names, for the sensitive-context
    /// search and `--evidence`).
    pub mime: Vec<u8>,
    /// The recipient rows as the source stored them (JSON), saved beside the MIME by
    /// `--evidence`.
    pub raw_recipients: Option<Vec<u8>>,
}

/// A sender or recipient of a [`Structured`] message.
#[derive(Debug, Default, Clone)]
pub struct Party {
    /// Lowercased address (or an Exchange legacy DN).
    pub addr: String,
    /// Decoded display name.
    pub name: Option<String>,
    pub exchange_dn: bool,
    /// A distribution list (one visible address; its members were not shown).
    pub list: bool,
}

/// A batch of units, in source order, plus what the source itself noticed.
#[derive(Default)]
pub struct Batch {
    pub units: Vec<Unit>,
    /// Input bytes this batch covers (progress).
    pub bytes: u64,
    pub warnings: Vec<Warning>,
    pub errors: Vec<InputError>,
    /// `sha256sum`-style lines for files this source hashed itself (mboxes inside a tree),
    /// applied to the tree's manifest before this batch's units.
    pub manifest: Vec<String>,
    /// For sources that count messages per folder (IMAP): which of [`Source::folders`].
    pub folder: Option<usize>,
}

/// An input that could not be read (at all, or partly).
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{location}: {message}")]
pub struct InputError {
    pub location: String,
    pub message: String,
}

/// What kind of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    Mbox,
    Directory,
    MessageFile,
    Imap,
    Archive,
    Pst,
}

/// What `summary.json` records of one input.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InputInfo {
    pub path: String,
    pub kind: InputKind,
    pub size: u64,
    /// SHA-256 of the file; for a directory, of its manifest (`sha256sum`-style lines
    /// `<hex>  <relative path>` sorted by path) so the tree can be re-verified.
    pub sha256: Option<String>,
    pub files: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// For an IMAP input: the account, and the folders and UID ranges read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap: Option<imap::ImapRecord>,
    /// What went wrong that the source only knew at the end (a failed input hash, a file that
    /// shrank): reported with the other input errors.
    #[serde(skip)]
    pub errors: Vec<InputError>,
}

impl InputInfo {
    /// Who this input belongs to when `--custodian` does not say: the IMAP user, else the path.
    pub fn default_custodian(&self) -> String {
        match &self.imap {
            Some(r) => r.account.clone(),
            None => self.path.clone(),
        }
    }
}

/// A stream of batches. Implemented by the mbox, file-tree and IMAP sources.
pub trait Source: Send {
    /// The next batch, or `None` when the source is exhausted.
    fn next_batch(&mut self) -> Option<Batch>;
    /// Called once after exhaustion, for the summary.
    fn info(&mut self) -> InputInfo;
    /// Folders whose progress is shown in messages: (label, messages planned). Sources of
    /// bytes (files) have none and are shown in bytes.
    fn folders(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// Open a file-system input: `-` (standard input, as mbox), an mbox file, a message file, or a
/// directory (Maildir or any tree of message files and mboxes). Any other file (a PST, a zip, a
/// PDF, an empty file, a FIFO) is an error that says what it looks like. Directories whose
/// (device, inode) is in `skip` (the report being written) are not walked.
///
/// With `hash`, the SHA-256 of each input file is recorded (for an mbox it is computed on a
/// thread of its own, concurrently with the scan).
pub fn open_path(
    arg: &Path,
    hash: bool,
    skip: &[(u64, u64)],
    folders: &[String],
    body_from: usize,
) -> Result<Box<dyn Source>, InputError> {
    use std::io::Read;
    if arg.as_os_str() == "-" {
        return Ok(Box::new(mbox::MboxSource::stdin()));
    }
    let shown = path_text(arg);
    let err = |message: String| InputError {
        location: shown.clone(),
        message,
    };
    let meta = std::fs::metadata(arg).map_err(|e| err(e.to_string()))?;
    if meta.is_dir() {
        return Ok(Box::new(files::TreeSource::new(arg, hash, skip.to_vec())));
    }
    if !meta.is_file() {
        return Err(err(format!(
            "is {}, not a regular file: bccaudit reads files, directories and IMAP URLs",
            special_kind(&meta.file_type())
        )));
    }
    let mut head = Vec::with_capacity(sniff::SNIFF_BYTES);
    files::open_evidence(arg)
        .and_then(|f| f.take(sniff::SNIFF_BYTES as u64).read_to_end(&mut head))
        .map_err(|e| err(e.to_string()))?;
    match sniff::sniff(&head) {
        sniff::FileKind::Mbox => {
            mbox::MboxSource::open(arg, hash).map(|s| Box::new(s) as Box<dyn Source>)
        }
        sniff::FileKind::Message => Ok(Box::new(files::TreeSource::single_file(arg))),
        k if archive::is_archive(k) => {
            archive::ArchiveSource::open(arg, k, hash).map(|s| Box::new(s) as Box<dyn Source>)
        }
        sniff::FileKind::Pst => {
            outlook::pst::PstSource::open(arg, hash, folders.to_vec(), body_from)
                .map(|s| Box::new(s) as Box<dyn Source>)
        }
        sniff::FileKind::Cfb => {
            // An Outlook .msg is read like a message file; any other compound file is named.
            let mut bytes = Vec::new();
            files::open_evidence(arg)
                .and_then(|f| {
                    f.take(files::MAX_COMPOUND as u64 + 1)
                        .read_to_end(&mut bytes)
                })
                .map_err(|e| err(e.to_string()))?;
            match outlook::msg::read(&bytes) {
                Ok(m) if m.is_mail() => Ok(Box::new(files::TreeSource::single_file(arg))),
                Ok(m) => Err(err(format!(
                    "is an {} ({}), not mail",
                    outlook::class_label(m.class.as_deref().unwrap_or("")),
                    m.class.unwrap_or_default()
                ))),
                Err(e) => Err(err(format!(
                    "not a mailbox bccaudit can read: it looks like {}, but {e}",
                    sniff::FileKind::Cfb.describe()
                ))),
            }
        }
        kind => Err(err(format!(
            "not a mailbox bccaudit can read: it looks like {}",
            kind.describe()
        ))),
    }
}

/// A path as text, reversibly: valid UTF-8 is kept, a backslash is written `\\` and every byte
/// that is not UTF-8 `\xHH`, so two names that differ only in invalid bytes stay different.
pub fn path_text(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in p.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// What a file that is neither a directory nor a regular file is.
pub fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Hex of a SHA-256 digest.
pub fn hex(d: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(d.len() * 2);
    for &b in d {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
