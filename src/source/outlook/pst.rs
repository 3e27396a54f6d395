//! Outlook PST (and readable OST) files, with Microsoft's `outlook-pst` crate: every folder from
//! the root down, every message of each folder's contents table, read from its MAPI properties
//! and recipient table into a [`mapi::Message`] (what decides To/Cc/Bcc is then the same as for
//! `.msg` files, in [`super::structured`]). The crate's objects are `Rc`, so one file is walked
//! by one thread; the messages it yields are classified by the worker pool.
//!
//! Nothing is written: the file is opened read-only by bccaudit (the crate's own `open` also
//! asks for write access, so it is not used), and a damaged folder or message is a warning
//! with its location while the rest of the file is read.

use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;
use std::sync::Arc;

use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::ltp::table_context::TableContext;
use outlook_pst::messaging::message::Message as PstMessage;
use outlook_pst::messaging::store::{AnsiStore, Store, UnicodeStore};
use outlook_pst::ndb::node_id::NodeId;
use outlook_pst::{AnsiPstFile, PstReader, UnicodePstFile};

use super::mapi::{self, id, ty, Message, Recipient};
use crate::source::walked::Walked;
use crate::source::{Batch, InputError, InputInfo, InputKind, Location, Source, Unit};
use crate::warning::{Warning, WarningKind};

/// The root folder's node id (NID_ROOT_FOLDER).
const ROOT_FOLDER: u32 = 0x122;
/// Messages handed to the workers at a time.
const BATCH: usize = 256;
/// Folders deeper than this are not walked (a loop in a damaged hierarchy).
const MAX_DEPTH: usize = 64;

/// Why a PST cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum PstError {
    #[error("not a PST/OST file (no !BDN signature)")]
    NotPst,
    #[error(
        "an Outlook {0} file of format version {1} ({2}), which bccaudit cannot read: open it in \
         Outlook and export the mailbox to a .pst (File > Open & Export > Import/Export), or \
         export its messages with pffexport (Debian's pff-tools) and scan those"
    )]
    Unsupported(&'static str, u16, &'static str),
    #[error("damaged PST: {0}")]
    Damaged(String),
}

/// The file's format version (`wVer`, bytes 10–11 of the header) and what it means.
pub fn version(head: &[u8]) -> Result<(u16, &'static str), PstError> {
    if !head.starts_with(b"!BDN") {
        return Err(PstError::NotPst);
    }
    if head.len() < 12 {
        return Err(PstError::Damaged("the header is truncated".into()));
    }
    let kind = if &head[8..10] == b"SO" { "OST" } else { "PST" };
    let v = u16::from_le_bytes([head[10], head[11]]);
    match v {
        14 | 15 => Ok((v, "ANSI")),
        23 => Ok((v, "Unicode")),
        36 => Err(PstError::Unsupported(
            kind,
            v,
            "4K pages, compressed: an OST of Outlook 2013 or later",
        )),
        _ => Err(PstError::Unsupported(kind, v, "unknown")),
    }
}

/// One Outlook message read out of a PST, for the workers.
pub struct PstItem {
    pub message: Message,
    pub location: Location,
    /// PR_MESSAGE_SIZE, else 0.
    pub size: u64,
}

/// An opened store, and what the summary records of it.
struct Opened {
    store: Rc<dyn Store>,
    name: String,
    format: &'static str,
}

fn open_store(mut r: Box<dyn PstReader>) -> Result<Opened, PstError> {
    let mut head = Vec::with_capacity(12);
    r.seek(SeekFrom::Start(0))
        .and_then(|_| r.by_ref().take(12).read_to_end(&mut head))
        .map_err(|e| PstError::Damaged(e.to_string()))?;
    let (_, format) = version(&head)?;
    r.seek(SeekFrom::Start(0))
        .map_err(|e| PstError::Damaged(e.to_string()))?;
    let damaged = |e: std::io::Error| PstError::Damaged(e.to_string());
    let store: Rc<dyn Store> = if format == "Unicode" {
        UnicodeStore::read(Rc::new(UnicodePstFile::read_from(r).map_err(damaged)?))
            .map_err(damaged)?
    } else {
        AnsiStore::read(Rc::new(AnsiPstFile::read_from(r).map_err(damaged)?)).map_err(damaged)?
    };
    let name = store.properties().display_name().unwrap_or_default();
    Ok(Opened {
        store,
        name,
        format,
    })
}

/// A property value as text (String8 in the ANSI code page, Windows-1252 assumed).
fn text(v: Option<&PropertyValue>) -> Option<String> {
    match v? {
        PropertyValue::String8(s) => Some(mapi::text(ty::STRING8, s.buffer())),
        PropertyValue::Unicode(s) => Some(
            String::from_utf16_lossy(s.buffer())
                .trim_end_matches('\0')
                .to_string(),
        ),
        _ => None,
    }
}

fn long(v: Option<&PropertyValue>) -> Option<u32> {
    match v? {
        PropertyValue::Integer32(n) => Some(*n as u32),
        _ => None,
    }
}

fn time(v: Option<&PropertyValue>) -> Option<i64> {
    match v? {
        PropertyValue::Time(t) => mapi::filetime(*t as u64),
        _ => None,
    }
}

/// A PST subject may start with `\x01` and the length of its prefix (`RE: `): drop the marker.
fn subject(s: Option<String>) -> Option<String> {
    let s = s?;
    match s.strip_prefix('\u{1}') {
        Some(rest) => Some(rest.chars().skip(1).collect()),
        None => Some(s),
    }
}

/// The rows of a table as maps of property id → value.
fn rows(table: &dyn TableContext) -> Vec<std::collections::HashMap<u16, PropertyValue>> {
    let ctx = table.context();
    table
        .rows_matrix()
        .map(|row| {
            let mut out = std::collections::HashMap::new();
            if let Ok(values) = row.columns(ctx) {
                for (col, v) in ctx.columns().iter().zip(values) {
                    if let Some(v) = v.as_ref() {
                        if let Ok(v) = table.read_column(v, col.prop_type()) {
                            out.insert(col.prop_id(), v);
                        }
                    }
                }
            }
            out
        })
        .collect()
}

/// The properties bccaudit reads of a message in a PST.
const WANTED: &[u16] = &[
    id::MESSAGE_CLASS,
    id::SUBJECT,
    id::SUBJECT_PREFIX,
    id::CLIENT_SUBMIT_TIME,
    id::MESSAGE_DELIVERY_TIME,
    id::SENDER_SMTP_ADDRESS,
    id::SENDER_EMAIL,
    id::SENDER_ADDRTYPE,
    id::SENDER_NAME,
    id::SENT_REPRESENTING_SMTP_ADDRESS,
    id::SENT_REPRESENTING_EMAIL,
    id::SENT_REPRESENTING_ADDRTYPE,
    id::SENT_REPRESENTING_NAME,
    id::INTERNET_MESSAGE_ID,
    id::IN_REPLY_TO_ID,
    id::INTERNET_REFERENCES,
    id::DISPLAY_TO,
    id::DISPLAY_CC,
    MESSAGE_SIZE,
];
const MESSAGE_SIZE: u16 = 0x0E08;

/// A PST message as the source-neutral [`Message`].
fn convert(m: &dyn PstMessage) -> (Message, u64) {
    let p = m.properties();
    let s = |pid| text(p.get(pid));
    let mut out = Message {
        class: s(id::MESSAGE_CLASS),
        subject: subject(s(id::SUBJECT)),
        subject_prefix: s(id::SUBJECT_PREFIX),
        submit_time: time(p.get(id::CLIENT_SUBMIT_TIME)),
        delivery_time: time(p.get(id::MESSAGE_DELIVERY_TIME)),
        sender_smtp: s(id::SENDER_SMTP_ADDRESS),
        sender_email: s(id::SENDER_EMAIL),
        sender_addrtype: s(id::SENDER_ADDRTYPE),
        sender_name: s(id::SENDER_NAME),
        representing_smtp: s(id::SENT_REPRESENTING_SMTP_ADDRESS),
        representing_email: s(id::SENT_REPRESENTING_EMAIL),
        representing_addrtype: s(id::SENT_REPRESENTING_ADDRTYPE),
        representing_name: s(id::SENT_REPRESENTING_NAME),
        message_id: s(id::INTERNET_MESSAGE_ID),
        in_reply_to: s(id::IN_REPLY_TO_ID),
        references: s(id::INTERNET_REFERENCES),
        display_to: s(id::DISPLAY_TO),
        display_cc: s(id::DISPLAY_CC),
        body: None,
        recipients: None,
        attachment_names: Vec::new(),
    };
    if let Some(t) = m.recipient_table() {
        out.recipients = Some(
            rows(t.as_ref())
                .into_iter()
                .map(|r| Recipient {
                    kind: long(r.get(&id::RECIPIENT_TYPE)).unwrap_or(1),
                    display_name: text(r.get(&id::DISPLAY_NAME)),
                    smtp_address: text(r.get(&id::SMTP_ADDRESS)),
                    email_address: text(r.get(&id::EMAIL_ADDRESS)),
                    addrtype: text(r.get(&id::ADDRTYPE)),
                    object_type: long(r.get(&id::OBJECT_TYPE)),
                    display_type: long(r.get(&id::DISPLAY_TYPE)),
                })
                .collect(),
        );
    }
    if let Some(t) = m.attachment_table() {
        for r in rows(t.as_ref()) {
            let name = text(r.get(&id::ATTACH_LONG_FILENAME))
                .or_else(|| text(r.get(&id::ATTACH_FILENAME)));
            out.attachment_names.extend(name.filter(|n| !n.is_empty()));
        }
    }
    let size = long(p.get(MESSAGE_SIZE)).unwrap_or(0) as u64;
    (out, size)
}

/// What the walk found, for `summary.json`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Record {
    /// `Unicode` or `ANSI`.
    pub format: String,
    pub store_name: String,
    /// Folders read, in walk order.
    pub folders: Vec<FolderCount>,
    pub messages: u64,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FolderCount {
    pub path: String,
    pub messages: u64,
}

/// Walk a PST from a reader: batches of [`Unit::Outlook`] go to `emit`. `name` is how the file
/// is shown (`path`, or `archive.zip!/inside.pst`); `folders` filters by folder name or path.
///
/// Bodies are read only for messages with at least `body_from` recipients in To/Cc (those that
/// may be exposing, for the sensitive-context search): headers, not bodies.
pub fn walk(
    name: &str,
    reader: Box<dyn PstReader>,
    size: u64,
    folders: &[String],
    body_from: usize,
    emit: &mut dyn FnMut(Batch),
) -> Result<Record, PstError> {
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_store(reader)))
        .unwrap_or_else(|_| Err(PstError::Damaged("the store could not be read".into())))?;
    let mut rec = Record {
        format: opened.format.to_string(),
        store_name: opened.name.clone(),
        ..Record::default()
    };
    let path: Arc<str> = name.into();
    let total = count(opened.store.as_ref(), NodeId::from(ROOT_FOLDER), 0).max(1);
    let mut w = Walker {
        store: opened.store,
        path,
        filter: folders,
        body_from,
        batch: Batch::default(),
        emit,
        rec: &mut rec,
        progress: (size, total, 0, 0),
    };
    w.folder(NodeId::from(ROOT_FOLDER), String::new(), 0);
    // Whatever the counts said, the whole file has been read.
    w.batch.bytes += size.saturating_sub(w.progress.3);
    w.flush();
    Ok(rec)
}

/// Messages the folders say they hold (`PR_CONTENT_COUNT`), for progress in bytes.
fn count(store: &dyn Store, nid: NodeId, depth: usize) -> u64 {
    let folder = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store
            .properties()
            .make_entry_id(nid)
            .and_then(|e| store.open_folder(&e))
    }));
    let Ok(Ok(folder)) = folder else {
        return 0;
    };
    let mut n = folder.properties().content_count().unwrap_or(0).max(0) as u64;
    if depth < MAX_DEPTH {
        if let Some(t) = folder.hierarchy_table() {
            for r in t.rows_matrix() {
                n += count(store, NodeId::from(u32::from(r.id())), depth + 1);
            }
        }
    }
    n
}

struct Walker<'a> {
    store: Rc<dyn Store>,
    path: Arc<str>,
    filter: &'a [String],
    body_from: usize,
    batch: Batch,
    emit: &'a mut dyn FnMut(Batch),
    rec: &'a mut Record,
    /// File size, messages expected, messages seen, bytes reported.
    progress: (u64, u64, u64, u64),
}

impl Walker<'_> {
    fn warn(&mut self, kind: WarningKind, location: String) {
        self.batch.warnings.push(Warning::new(kind, location));
    }

    /// A message seen: its share of the file's bytes, for the progress bar.
    fn advance(&mut self) {
        let (size, total, seen, reported) = &mut self.progress;
        *seen += 1;
        let now = (*size as u128 * (*seen).min(*total) as u128 / *total as u128) as u64;
        self.batch.bytes += now.saturating_sub(*reported);
        *reported = now.max(*reported);
    }

    fn flush(&mut self) {
        let b = std::mem::take(&mut self.batch);
        if !b.units.is_empty() || !b.warnings.is_empty() || !b.errors.is_empty() {
            (self.emit)(b);
        }
    }

    fn selected(&self, folder_path: &str) -> bool {
        self.filter.is_empty()
            || self.filter.iter().any(|f| {
                let f = f.trim_matches('/');
                folder_path.trim_matches('/').eq_ignore_ascii_case(f)
                    || folder_path
                        .rsplit('/')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case(f))
            })
    }

    /// One folder: its messages, then its subfolders (in the hierarchy table's order).
    fn folder(&mut self, nid: NodeId, parent: String, depth: usize) {
        let here = format!(
            "{}#{}",
            self.path,
            if parent.is_empty() { "/" } else { &parent }
        );
        let store = self.store.clone();
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let e = store.properties().make_entry_id(nid)?;
            store.open_folder(&e)
        }));
        let folder = match opened {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                return self.warn(
                    WarningKind::PstFolderUnreadable,
                    format!("{here};nid=0x{:08X} ({e})", u32::from(nid)),
                )
            }
            Err(_) => {
                return self.warn(
                    WarningKind::PstFolderUnreadable,
                    format!("{here};nid=0x{:08X}", u32::from(nid)),
                )
            }
        };
        let name = folder.properties().display_name().unwrap_or_default();
        // The root folder has no name: its children are `/Top of Outlook data file`, ….
        let folder_path = if depth == 0 {
            String::new()
        } else {
            format!("{parent}/{name}")
        };
        if depth > 0 && self.selected(&folder_path) {
            self.messages(folder.contents_table().cloned(), &folder_path);
        }
        if depth >= MAX_DEPTH {
            return self.warn(WarningKind::PstFolderTooDeep, here);
        }
        let children: Vec<u32> = folder
            .hierarchy_table()
            .map(|t| t.rows_matrix().map(|r| u32::from(r.id())).collect())
            .unwrap_or_default();
        drop(folder);
        for child in children {
            self.folder(NodeId::from(child), folder_path.clone(), depth + 1);
        }
    }

    fn messages(&mut self, table: Option<Rc<dyn TableContext>>, folder_path: &str) {
        let Some(table) = table else {
            return;
        };
        let ids: Vec<u32> = table.rows_matrix().map(|r| u32::from(r.id())).collect();
        drop(table);
        let folder: Arc<str> = folder_path.into();
        let mut read = 0;
        for nid in ids {
            let location = Location::Pst {
                path: self.path.clone(),
                folder: folder.clone(),
                nid,
            };
            let (store, body_from) = (self.store.clone(), self.body_from);
            self.advance();
            let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let e = store.properties().make_entry_id(NodeId::from(nid))?;
                let m = store.open_message(&e, Some(WANTED))?;
                let (mut message, size) = convert(m.as_ref());
                let visible = message
                    .recipients
                    .iter()
                    .flatten()
                    .filter(|r| r.kind == 1 || r.kind == 2)
                    .count();
                if visible >= body_from || message.recipients.is_none() {
                    let b = store.open_message(&e, Some(&[id::BODY]))?;
                    message.body = text(b.properties().get(id::BODY));
                }
                Ok::<_, std::io::Error>((message, size))
            }));
            match got {
                Ok(Ok((message, size))) => {
                    read += 1;
                    self.batch.units.push(Unit::Outlook(Box::new(PstItem {
                        message,
                        location,
                        size,
                    })));
                    if self.batch.units.len() >= BATCH {
                        self.flush();
                    }
                }
                Ok(Err(e)) => self.warn(
                    WarningKind::PstMessageUnreadable,
                    format!("{location} ({e})"),
                ),
                Err(_) => self.warn(WarningKind::PstMessageUnreadable, location.to_string()),
            }
        }
        self.rec.messages += read;
        self.rec.folders.push(FolderCount {
            path: folder_path.to_string(),
            messages: read,
        });
    }
}

/// A PST named on the command line (or found in a directory), walked on a thread of its own.
pub struct PstSource {
    walked: Walked<Option<Record>>,
    path: String,
    size: u64,
}

impl PstSource {
    /// Open a PST: its header is checked here (an unreadable version is an error now, before
    /// the scan); the rest is read on a thread while the workers classify.
    pub fn open(
        path: &std::path::Path,
        hash: bool,
        folders: Vec<String>,
        body_from: usize,
    ) -> Result<PstSource, InputError> {
        let shown = crate::source::path_text(path);
        let err = |message: String| InputError {
            location: shown.clone(),
            message,
        };
        let mut file = crate::source::files::open_evidence(path).map_err(|e| err(e.to_string()))?;
        let size = file.metadata().map_err(|e| err(e.to_string()))?.len();
        let mut head = Vec::with_capacity(12);
        (&mut file)
            .take(12)
            .read_to_end(&mut head)
            .map_err(|e| err(e.to_string()))?;
        version(&head).map_err(|e| err(e.to_string()))?;
        let name = shown.clone();
        let hash_of = hash.then(|| path.to_path_buf());
        let walked = Walked::spawn("bccaudit-pst", hash_of, move |emit| {
            match walk(&name, Box::new(file), size, &folders, body_from, emit) {
                Ok(r) => Some(r),
                Err(e) => {
                    emit(Batch {
                        errors: vec![InputError {
                            location: name.clone(),
                            message: e.to_string(),
                        }],
                        ..Batch::default()
                    });
                    None
                }
            }
        })
        .map_err(|e| err(e.to_string()))?;
        Ok(PstSource {
            walked,
            path: shown,
            size,
        })
    }
}

impl Source for PstSource {
    fn next_batch(&mut self) -> Option<Batch> {
        self.walked.next_batch()
    }

    fn info(&mut self) -> InputInfo {
        let (rec, sha256) = self.walked.finish();
        InputInfo {
            path: self.path.clone(),
            kind: InputKind::Pst,
            size: self.size,
            sha256,
            files: 1,
            detail: rec.flatten().and_then(|r| serde_json::to_value(r).ok()),
            imap: None,
            errors: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_subjects() {
        let mut h = b"!BDN\0\0\0\0SM\x17\0".to_vec();
        assert_eq!(version(&h).unwrap(), (23, "Unicode"));
        h[10] = 14;
        assert_eq!(version(&h).unwrap().1, "ANSI");
        h[8..10].copy_from_slice(b"SO");
        h[10] = 36;
        let e = version(&h).unwrap_err().to_string();
        assert!(
            e.contains("OST") && e.contains("36") && e.contains("pffexport"),
            "{e}"
        );
        assert!(matches!(version(b"PK\x03\x04"), Err(PstError::NotPst)));
        assert_eq!(
            subject(Some("\u{1}\u{4}RE: Hello".into())).unwrap(),
            "RE: Hello"
        );
        assert_eq!(subject(Some("Hello".into())).unwrap(), "Hello");
    }
}
