//! Archives: `.zip`, `.tar`, `.tar.gz`/`.tgz`, and `.gz` of any supported format, read as
//! streams (nothing is unpacked to disk). Members are located as `archive.zip!/path/inside`
//! (an mbox member's messages as `archive.zip!/inside.mbox#offset`); archives inside an archive
//! are read one level deep. A gzipped mbox is streamed whatever its size; other members are
//! read into memory up to [`MAX_MEMBER`] bytes, and a member whose expanded size or expansion
//! ratio is absurd (a zip bomb) is refused with a warning.

use std::io::{Read, Seek};

use super::sniff::{self, FileKind};
use super::walked::Walked;
use super::{mbox, Batch, InputError, InputInfo, InputKind, Source, Unit};
use crate::warning::{Warning, WarningKind};

/// The largest member read into memory (an mbox inside a `.gz` is streamed instead).
pub const MAX_MEMBER: u64 = 512 << 20;
/// Expansion ratio beyond which a large member is refused.
const MAX_RATIO: u64 = 1000;
/// Members above this size are checked against [`MAX_RATIO`].
const RATIO_FLOOR: u64 = 16 << 20;
/// Archives inside archives are read this deep.
const MAX_DEPTH: usize = 1;

/// One member of an archive, in memory: a message file or an Outlook `.msg`.
pub struct Member {
    /// `archive.zip!/path/inside.eml`.
    pub name: String,
    pub bytes: Vec<u8>,
}

pub fn is_archive(kind: FileKind) -> bool {
    matches!(kind, FileKind::Gzip | FileKind::Zip | FileKind::Tar)
}

/// Where the walk sends what it finds.
type Emit<'a> = &'a mut dyn FnMut(Batch);

fn warn(emit: Emit<'_>, kind: WarningKind, location: String) {
    emit(Batch {
        warnings: vec![Warning::new(kind, location)],
        ..Batch::default()
    });
}

/// Read a member into memory, refusing what would not fit ([`MAX_MEMBER`]).
fn read_bounded(r: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    r.take(MAX_MEMBER + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_MEMBER).then_some(bytes))
}

/// A member's bytes: a message, an mbox, an `.msg`, or an archive (read if not too deep).
fn member(name: String, bytes: Vec<u8>, depth: usize, emit: Emit<'_>) {
    let kind = sniff::sniff(&bytes[..bytes.len().min(sniff::SNIFF_BYTES)]);
    match kind {
        FileKind::Mbox => {
            let mut src = mbox::MboxSource::from_bytes(&name, bytes);
            while let Some(b) = src.next_batch() {
                emit(b);
            }
        }
        FileKind::Message | FileKind::Cfb => {
            let size = bytes.len() as u64;
            emit(Batch {
                units: vec![Unit::Member(Box::new(Member { name, bytes }))],
                bytes: size,
                ..Batch::default()
            });
        }
        FileKind::Pst => {
            let size = bytes.len() as u64;
            let reader = Box::new(std::io::Cursor::new(bytes));
            if let Err(e) = super::outlook::pst::walk(&name, reader, size, &[], 0, emit) {
                emit(Batch {
                    errors: vec![InputError {
                        location: name,
                        message: e.to_string(),
                    }],
                    ..Batch::default()
                });
            }
        }
        k if is_archive(k) && depth < MAX_DEPTH => walk_reader(
            &name,
            Box::new(std::io::Cursor::new(bytes)),
            k,
            depth + 1,
            emit,
        ),
        k if is_archive(k) => warn(
            emit,
            WarningKind::ArchiveNestedTooDeep,
            format!("{name} ({})", k.label()),
        ),
        FileKind::Empty if name.ends_with('/') => {}
        k => warn(
            emit,
            WarningKind::FileNotMailSkipped,
            format!("{name} ({})", k.label()),
        ),
    }
}

/// Walk an archive from a reader (zip members need a seekable one: `Cursor` or `File`).
pub fn walk_reader(name: &str, r: Box<dyn ReadSeek>, kind: FileKind, depth: usize, emit: Emit<'_>) {
    let err = |e: &dyn std::fmt::Display| InputError {
        location: name.to_string(),
        message: format!("damaged {} archive: {e}", kind.label()),
    };
    match kind {
        FileKind::Zip => {
            let mut zip = match zip::ZipArchive::new(r) {
                Ok(z) => z,
                Err(e) => {
                    emit(Batch {
                        errors: vec![err(&e)],
                        ..Batch::default()
                    });
                    return;
                }
            };
            for i in 0..zip.len() {
                let mut f = match zip.by_index(i) {
                    Ok(f) => f,
                    Err(e) => {
                        warn(
                            emit,
                            WarningKind::ArchiveMemberUnreadable,
                            format!("{name}!/#{i}: {e}"),
                        );
                        continue;
                    }
                };
                if f.is_dir() {
                    continue;
                }
                let inner = format!(
                    "{name}!/{}",
                    f.name()
                        .map(|n| n.into_owned())
                        .unwrap_or_else(|_| format!("#{i}"))
                );
                let (size, packed) = (f.size(), f.compressed_size().max(1));
                if size > MAX_MEMBER || (size > RATIO_FLOOR && size / packed > MAX_RATIO) {
                    warn(
                        emit,
                        WarningKind::ArchiveMemberRefused,
                        format!("{inner} ({size} bytes expanded from {packed})"),
                    );
                    continue;
                }
                match read_bounded(&mut f) {
                    Ok(Some(bytes)) => member(inner, bytes, depth, emit),
                    Ok(None) => warn(emit, WarningKind::ArchiveMemberRefused, inner),
                    Err(e) => warn(
                        emit,
                        WarningKind::ArchiveMemberUnreadable,
                        format!("{inner}: {e}"),
                    ),
                }
            }
        }
        FileKind::Tar => walk_tar(name, r, depth, emit),
        FileKind::Gzip => {
            // Peek at what is inside: a tar is walked, an mbox streamed, anything else read.
            let mut gz = flate2::read::GzDecoder::new(r);
            let mut head = Vec::new();
            if let Err(e) = (&mut gz)
                .take(sniff::SNIFF_BYTES as u64)
                .read_to_end(&mut head)
            {
                emit(Batch {
                    errors: vec![err(&e)],
                    ..Batch::default()
                });
                return;
            }
            let inner_kind = sniff::sniff(&head);
            let whole = std::io::Cursor::new(head).chain(gz);
            let inner = format!("{name}!");
            match inner_kind {
                FileKind::Tar => walk_tar(name, Box::new(ForwardOnly(Some(whole))), depth, emit),
                FileKind::Mbox => {
                    let mut src = mbox::MboxSource::from_reader(&inner, Box::new(whole));
                    while let Some(b) = src.next_batch() {
                        emit(b);
                    }
                    let info = src.info();
                    if !info.errors.is_empty() {
                        emit(Batch {
                            errors: info.errors,
                            ..Batch::default()
                        });
                    }
                }
                _ => {
                    let mut whole = whole;
                    match read_bounded(&mut whole) {
                        Ok(Some(bytes)) => member(inner, bytes, depth, emit),
                        Ok(None) => warn(emit, WarningKind::ArchiveMemberRefused, inner),
                        Err(e) => emit(Batch {
                            errors: vec![err(&e)],
                            ..Batch::default()
                        }),
                    }
                }
            }
        }
        _ => {}
    }
}

fn walk_tar(name: &str, r: Box<dyn ReadSeek>, depth: usize, emit: Emit<'_>) {
    let mut tar = tar::Archive::new(r);
    let entries = match tar.entries() {
        Ok(e) => e,
        Err(e) => {
            warn(
                emit,
                WarningKind::ArchiveMemberUnreadable,
                format!("{name}: {e}"),
            );
            return;
        }
    };
    for entry in entries {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) => {
                // A damaged tar cannot be resynchronised: what was read stands.
                warn(
                    emit,
                    WarningKind::ArchiveMemberUnreadable,
                    format!("{name}: {err}"),
                );
                return;
            }
        };
        if !e.header().entry_type().is_file() {
            continue;
        }
        let inner = format!(
            "{name}!/{}",
            e.path()
                .map(|p| super::path_text(&p))
                .unwrap_or_else(|_| "?".into())
        );
        if e.size() > MAX_MEMBER {
            warn(
                emit,
                WarningKind::ArchiveMemberRefused,
                format!("{inner} ({} bytes)", e.size()),
            );
            continue;
        }
        match read_bounded(&mut e) {
            Ok(Some(bytes)) => member(inner, bytes, depth, emit),
            Ok(None) => warn(emit, WarningKind::ArchiveMemberRefused, inner),
            Err(err) => warn(
                emit,
                WarningKind::ArchiveMemberUnreadable,
                format!("{inner}: {err}"),
            ),
        }
    }
}

pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A stream that is only read forwards (tar inside gzip), given the `Seek` the walk's type asks
/// for: seeking is refused (tar never seeks forwards-only input).
struct ForwardOnly<R>(Option<R>);

impl<R: Read> Read for ForwardOnly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.as_mut().map_or(Ok(0), |r| r.read(buf))
    }
}

impl<R> Seek for ForwardOnly<R> {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::other("not seekable"))
    }
}

/// An archive named on the command line, walked on a thread of its own.
pub struct ArchiveSource {
    walked: Walked<()>,
    path: String,
    size: u64,
}

impl ArchiveSource {
    pub fn open(path: &std::path::Path, kind: FileKind, hash: bool) -> Result<Self, InputError> {
        let shown = super::path_text(path);
        let err = |e: std::io::Error| InputError {
            location: shown.clone(),
            message: e.to_string(),
        };
        let file = super::files::open_evidence(path).map_err(err)?;
        let size = file.metadata().map_err(err)?.len();
        let name = shown.clone();
        let walked = Walked::spawn(
            "bccaudit-archive",
            hash.then(|| path.to_path_buf()),
            move |emit| walk_reader(&name, Box::new(file), kind, 0, emit),
        )
        .map_err(err)?;
        Ok(ArchiveSource {
            walked,
            path: shown,
            size,
        })
    }
}

impl Source for ArchiveSource {
    fn next_batch(&mut self) -> Option<Batch> {
        self.walked.next_batch()
    }

    fn info(&mut self) -> InputInfo {
        InputInfo {
            path: self.path.clone(),
            kind: InputKind::Archive,
            size: self.size,
            sha256: self.walked.finish().1,
            files: 1,
            detail: None,
            imap: None,
            errors: Vec::new(),
        }
    }
}

/// Walk an archive found inside a directory tree (read whole, bounded), for the worker.
pub fn walk_bytes(name: &str, bytes: Vec<u8>, kind: FileKind, emit: Emit<'_>) {
    walk_reader(name, Box::new(std::io::Cursor::new(bytes)), kind, 0, emit);
}
