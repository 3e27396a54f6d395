//! File-system access that leaves evidence as it was: files and directories are opened
//! read-only with `O_NOATIME` where the OS allows it (so not even an access time changes), and
//! only regular files are opened as files.

use std::fs::File;
use std::path::Path;

/// Open a file for reading without touching its access time where the OS allows it. Only a
/// regular file is opened: a FIFO or device (even one swapped in after a check) is refused
/// rather than blocking or being read forever (`O_NONBLOCK` makes the open itself not wait).
pub fn open_evidence(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |extra: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | extra)
            .open(path)
    };
    let f = match open(libc::O_NOATIME) {
        Ok(f) => f,
        // O_NOATIME is refused for files we do not own.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0)?,
        Err(e) => return Err(e),
    };
    let ft = f.metadata()?.file_type();
    if !ft.is_file() {
        return Err(std::io::Error::other(format!(
            "is {}, not a regular file",
            crate::source::special_kind(&ft)
        )));
    }
    Ok(f)
}

/// The SHA-256 (hex) of a file, read without changing its access time.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = open_evidence(path)?;
    let mut s = Sha256::new();
    std::io::copy(&mut f, &mut s)?;
    Ok(crate::source::hex(&s.finalize()))
}

/// What a directory entry is (from `readdir`, without following links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Dir,
    File,
    Symlink,
    /// FIFO, socket, device.
    Special(&'static str),
}

/// Names and types of a directory's entries.
pub type Listing = Vec<(std::ffi::OsString, EntryType)>;

/// A directory listing read without changing the directory's access time (`O_NOATIME` where
/// the OS allows it; `std::fs::read_dir` cannot ask for it). Also returns the directory's
/// (device, inode).
pub fn read_dir_noatime(dir: &Path) -> std::io::Result<((u64, u64), Listing)> {
    use std::ffi::{CStr, CString, OsStr};
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: plain libc calls on a NUL-terminated path and on descriptors owned here; the
    // DIR stream is closed on every path out.
    unsafe {
        let mut fd = libc::open(c.as_ptr(), flags | libc::O_NOATIME);
        if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
            fd = libc::open(c.as_ptr(), flags);
        }
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        let id = (st.st_dev, st.st_ino);
        let dirp = libc::fdopendir(fd);
        if dirp.is_null() {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        let mut out = Vec::new();
        let result = loop {
            *libc::__errno_location() = 0;
            let ent = libc::readdir(dirp);
            if ent.is_null() {
                let e = std::io::Error::last_os_error();
                break if e.raw_os_error().unwrap_or(0) == 0 {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            let name = CStr::from_ptr((*ent).d_name.as_ptr());
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let mut dt = (*ent).d_type;
            if dt == libc::DT_UNKNOWN {
                let mut s: libc::stat = std::mem::zeroed();
                if libc::fstatat(fd, name.as_ptr(), &mut s, libc::AT_SYMLINK_NOFOLLOW) == 0 {
                    dt = match s.st_mode & libc::S_IFMT {
                        libc::S_IFDIR => libc::DT_DIR,
                        libc::S_IFREG => libc::DT_REG,
                        libc::S_IFLNK => libc::DT_LNK,
                        libc::S_IFIFO => libc::DT_FIFO,
                        libc::S_IFSOCK => libc::DT_SOCK,
                        libc::S_IFCHR => libc::DT_CHR,
                        _ => libc::DT_BLK,
                    };
                }
            }
            let t = match dt {
                libc::DT_DIR => EntryType::Dir,
                libc::DT_REG => EntryType::File,
                libc::DT_LNK => EntryType::Symlink,
                libc::DT_FIFO => EntryType::Special("a named pipe (FIFO)"),
                libc::DT_SOCK => EntryType::Special("a socket"),
                libc::DT_CHR => EntryType::Special("a character device"),
                _ => EntryType::Special("a block device"),
            };
            out.push((OsStr::from_bytes(bytes).to_os_string(), t));
        };
        libc::closedir(dirp);
        result.map(|()| (id, out))
    }
}
