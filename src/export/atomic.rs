//! How every report file reaches the disk: written under a temporary name, synced, renamed into
//! place ([`AtomicFile`]), its bytes going to the disk directly rather than through the page
//! cache where the file system allows it ([`Direct`]).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{io, ExportError};

/// Write `bytes` to `dir/name` atomically, owner-only.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
    write_atomic_with(dir, name, |w| w.write_all(bytes))
}

/// Stream a file into `dir/name` atomically, owner-only (see [`AtomicFile`]).
pub fn write_atomic_with(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    let mut f = AtomicFile::create(dir, name)?;
    f.write(fill)?;
    f.commit()
}

/// A file written to a temporary file created with `O_CREAT|O_EXCL` under an unpredictable
/// name beside its target (so a planted symlink is never followed), 0600 from its creation,
/// then synced and renamed into place by [`AtomicFile::commit`]. Nothing is left behind on
/// failure or when it is dropped uncommitted.
pub struct AtomicFile {
    target: std::path::PathBuf,
    w: Direct,
}

impl AtomicFile {
    pub fn create(dir: &Path, name: &str) -> Result<AtomicFile, ExportError> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(io(dir))?;
        // The mode above is filtered by the umask; make sure it is exactly 0600.
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io(tmp.path()))?;
        Ok(AtomicFile {
            target: dir.join(name),
            w: Direct::new(tmp),
        })
    }

    /// Write more of it.
    pub fn write(
        &mut self,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), ExportError> {
        let r = fill(&mut self.w);
        r.map_err(io(self.w.file.path()))
    }

    /// Sync it and rename it into place.
    pub fn commit(mut self) -> Result<(), ExportError> {
        self.w.finish().map_err(io(self.w.file.path()))?;
        let tmp = self.w.file;
        tmp.as_file().sync_all().map_err(io(tmp.path()))?;
        let target = self.target;
        tmp.persist(&target)
            .map(drop)
            .map_err(|e| io(&target)(e.error))
    }
}

/// The buffer's size: what one write hands to the disk.
const BLOCK: usize = 1 << 20;
/// Where direct writes must start and end, in the buffer and in the file: a page, a multiple
/// of every disk's logical block.
const ALIGN: usize = 4096;

/// A file's buffer, written a megabyte at a time with Linux's `O_DIRECT` where the file system
/// takes it: from this buffer to the disk, without copying the report into the page cache
/// first. A report is written once and not read back, so caching it only costs: memory the
/// system must find (on a virtual machine, memory its host must first provide) and a copy of
/// every byte; on the development machine 125 MB written and synced took 0.06-0.45 s through
/// the cache, depending on where that memory came from, and 0.06 s directly. Where direct
/// writes are refused (a file system without them, or a short write that leaves the file
/// unaligned) the file goes on through the page cache from where it stands; the final
/// `fsync` makes it durable either way.
struct Direct {
    file: tempfile::NamedTempFile,
    /// Room for `ALIGN + BLOCK` bytes, never reallocated (so never moved off its alignment),
    /// and only written as it fills (a small file touches little of it): `start` bytes up to
    /// an aligned address, then the bytes waiting, at most `BLOCK`.
    buf: Vec<u8>,
    start: usize,
    /// Bytes in the file.
    written: u64,
    direct: bool,
}

impl Direct {
    fn new(file: tempfile::NamedTempFile) -> Direct {
        let mut buf: Vec<u8> = Vec::with_capacity(ALIGN + BLOCK);
        let start = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        buf.resize(start, 0);
        let direct = set_direct(file.as_file(), true);
        Direct {
            file,
            buf,
            start,
            written: 0,
            direct,
        }
    }

    /// Bytes waiting in the buffer.
    fn waiting(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Write the `n` bytes waiting (`n` a multiple of [`ALIGN`] while writing directly),
    /// whatever a direct write refuses written through the cache, and empty the buffer.
    fn write_out(&mut self, n: usize) -> std::io::Result<()> {
        let mut done = 0;
        while done < n {
            let chunk = &self.buf[self.start + done..self.start + n];
            match self.file.as_file().write(chunk) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    done += k;
                    self.written += k as u64;
                    // A short direct write leaves the file unaligned: cached from here on.
                    if self.direct && k % ALIGN != 0 {
                        self.direct = !set_direct(self.file.as_file(), false);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    self.direct = !set_direct(self.file.as_file(), false);
                    if self.direct {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.buf.truncate(self.start);
        Ok(())
    }

    /// Write what the buffer still holds: directly, the last block padded to [`ALIGN`] and
    /// the file then cut back to its length.
    fn finish(&mut self) -> std::io::Result<()> {
        let len = self.waiting();
        if len == 0 {
            return Ok(());
        }
        if !self.direct {
            return self.write_out(len);
        }
        let padded = len.next_multiple_of(ALIGN);
        self.buf.resize(self.start + padded, 0);
        let end = self.written + len as u64;
        self.write_out(padded)?;
        if self.written != end {
            self.file.as_file().set_len(end)?;
            self.written = end;
        }
        Ok(())
    }
}

impl Write for Direct {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.waiting() == BLOCK {
            self.write_out(BLOCK)?;
        }
        let n = data.len().min(BLOCK - self.waiting());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Nothing: the buffer is written when full and by [`Direct::finish`] (direct writes
    /// must be whole blocks).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Turn direct writes on or off for `file`; whether that was done.
#[cfg(target_os = "linux")]
fn set_direct(file: &fs::File, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor owned by `file`, reading and setting its status flags; a
    // file system without direct I/O refuses with EINVAL and nothing changes.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let flags = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, flags) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_: &fs::File, on: bool) -> bool {
    !on
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of every length around the buffer's and the alignment's edges, written in pieces
    /// of odd sizes, read back the same; directly and through the cache.
    #[test]
    fn files_hold_exactly_what_was_written_whatever_the_length() {
        let d = tempfile::tempdir().unwrap();
        let lens = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            2 * BLOCK + 3 * ALIGN + 17,
        ];
        for direct in [true, false] {
            for len in lens {
                let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
                let name = format!("f{len}-{direct}");
                let mut f = AtomicFile::create(d.path(), &name).unwrap();
                if !direct {
                    set_direct(f.w.file.as_file(), false);
                    f.w.direct = false;
                }
                f.write(|w| {
                    for piece in data.chunks(7919) {
                        w.write_all(piece)?;
                    }
                    Ok(())
                })
                .unwrap();
                f.commit().unwrap();
                assert_eq!(fs::read(d.path().join(&name)).unwrap(), data, "{name}");
            }
        }
    }

    /// A file system that refuses direct writes part way (here: a direct write that would be
    /// unaligned) gets the rest through the cache, and the file is still whole.
    #[test]
    fn a_refused_direct_write_goes_on_through_the_cache() {
        let d = tempfile::tempdir().unwrap();
        let mut f = AtomicFile::create(d.path(), "x").unwrap();
        f.write(|w| w.write_all(b"abc")).unwrap();
        // An unaligned write forced while direct (EINVAL where direct writes hold).
        f.w.write_out(3).unwrap();
        assert!(!f.w.direct);
        f.write(|w| w.write_all(&[b'z'; 5000])).unwrap();
        f.commit().unwrap();
        let mut want = b"abc".to_vec();
        want.extend([b'z'; 5000]);
        assert_eq!(fs::read(d.path().join("x")).unwrap(), want);
    }
}
