//! The report directory, written as a whole or not at all.
//!
//! Every report file is written into a fresh private staging directory (`.NAME.staging-XXXXXX`
//! beside `--out`, 0700, unpredictable name) and the finished directory is switched into place
//! with one rename (an atomic exchange when a previous report is replaced). A run that is killed
//! or fails leaves the previous report intact and no half-written one; its staging directory is
//! removed on SIGINT/SIGTERM, on any error, or by the next run. A lock file beside `--out`
//! (`.NAME.lock`, `flock`) keeps two concurrent runs from writing the same report.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::ExportError;

/// The staging directory of the run in progress, removed by [`remove_staging`] (the CLI's
/// signal handler) so an interrupted run leaves no personal data behind.
static STAGING: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Set once an interrupted run has started removing its staging directory.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Remove the staging directory of the run in progress, if any; called on SIGINT/SIGTERM.
/// Holding the lock while a report is switched into place, a signal arriving then waits and
/// finds nothing left to remove.
pub fn remove_staging() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut g = STAGING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = g.take() {
        let _ = fs::remove_dir_all(p);
    }
}

/// Whether the run was interrupted ([`remove_staging`] has run or is running): a failure to
/// write into the staging directory it removed is then the interruption, not an error.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

pub struct ReportDir {
    target: PathBuf,
    staging: Option<tempfile::TempDir>,
    /// Held (flock) for the whole run.
    _lock: fs::File,
    lock_id: (u64, u64),
    target_id: Option<(u64, u64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |err| ExportError::Io {
        path: path.display().to_string(),
        err,
    }
}

fn id(m: &fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

impl ReportDir {
    /// Check `--out` and get ready to write into it; fails before any scanning is done.
    ///
    /// `--out` may be missing (it is created), an empty directory, or a previous report
    /// (replaced only with `force`). A symbolic link, a file, a directory of someone else's or
    /// one holding other files is refused.
    pub fn prepare(out: &Path, force: bool) -> Result<ReportDir, ExportError> {
        let shown = out.display().to_string();
        let bad = |why: &str| ExportError::Refused(format!("{shown}: {why}"));
        let abs = std::path::absolute(out).map_err(io(out))?;
        let name = abs
            .file_name()
            .filter(|n| *n != "..")
            .ok_or_else(|| bad("needs a directory name"))?
            .to_os_string();
        let parent = abs
            .parent()
            .ok_or_else(|| bad("needs a parent directory"))?;
        let mut target_id = None;
        match fs::symlink_metadata(&abs) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(bad(
                    "is a symbolic link; give the directory itself (a link could point the report anywhere)",
                ))
            }
            Ok(m) if !m.is_dir() => return Err(bad("exists and is not a directory")),
            Ok(m) => {
                // SAFETY: geteuid has no preconditions.
                if m.uid() != unsafe { libc::geteuid() } {
                    return Err(bad("is owned by another user; choose a directory of your own"));
                }
                let entries: Vec<_> = fs::read_dir(&abs)
                    .map_err(io(&abs))?
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    .collect();
                if !entries.is_empty() {
                    if !entries.iter().any(|n| n == "summary.json") {
                        return Err(bad(
                            "holds other files; choose a new or empty directory for the report",
                        ));
                    }
                    if !force {
                        return Err(ExportError::Exists(shown));
                    }
                }
                target_id = Some(id(&m));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&abs)(e)),
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io(parent))?;

        let mut lock_name = std::ffi::OsString::from(".");
        lock_name.push(&name);
        lock_name.push(".lock");
        let lock_path = parent.join(&lock_name);
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } != 0
        {
            return Err(bad("another bccaudit run is writing this report now"));
        }
        let lock_id = id(&lock.metadata().map_err(io(&lock_path))?);

        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(&name);
        prefix.push(".staging-");
        remove_stale(parent, prefix.as_bytes());
        let staging = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(io(parent))?;
        // The permissions above pass through the umask: make sure.
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o700))
            .map_err(io(staging.path()))?;
        *STAGING.lock().unwrap_or_else(|e| e.into_inner()) = Some(staging.path().to_path_buf());
        Ok(ReportDir {
            target: abs,
            staging: Some(staging),
            _lock: lock,
            lock_id,
            target_id,
        })
    }

    /// Where the report files are written during the run.
    pub fn path(&self) -> &Path {
        self.staging.as_ref().map_or(&self.target, |s| s.path())
    }

    /// Where the report will be.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// (device, inode) of everything of ours a scan must not read as input.
    pub fn own_ids(&self) -> Vec<(u64, u64)> {
        let mut v = vec![self.lock_id];
        v.extend(self.target_id);
        if let Ok(m) = fs::metadata(self.path()) {
            v.push(id(&m));
        }
        v
    }

    /// Switch the finished report into place.
    pub fn commit(mut self) -> Result<PathBuf, ExportError> {
        let mut g = STAGING.lock().unwrap_or_else(|e| e.into_inner());
        let Some(staging) = self.staging.take() else {
            return Ok(self.target.clone());
        };
        let from = staging.keep();
        let result = switch(&from, &self.target);
        if result.is_err() {
            let _ = fs::remove_dir_all(&from);
        }
        *g = None;
        drop(g);
        result.map_err(io(&self.target))?;
        if let Some(p) = self.target.parent() {
            if let Ok(d) = fs::File::open(p) {
                let _ = d.sync_all();
            }
        }
        Ok(self.target.clone())
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        if self.staging.is_some() {
            *STAGING.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        // The TempDir itself removes the staging directory.
    }
}

/// Move `from` to `to`: an atomic exchange when `to` exists (the old report is then removed),
/// a rename that never replaces anything otherwise.
fn switch(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (cf, ct) = (c(from)?, c(to)?);
    let renameat2 = |flags: libc::c_uint| {
        // SAFETY: NUL-terminated paths; AT_FDCWD resolves them as rename(2) would.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                cf.as_ptr(),
                libc::AT_FDCWD,
                ct.as_ptr(),
                flags,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let unsupported =
        |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS));
    if fs::symlink_metadata(to).is_ok() {
        match renameat2(libc::RENAME_EXCHANGE) {
            // The previous report is now at `from`; a symlink swapped in meanwhile is removed
            // as a link, never followed.
            Ok(()) => return fs::remove_dir_all(from),
            Err(e) if !unsupported(&e) => return Err(e),
            Err(_) => {
                let old = from.with_extension("old");
                fs::rename(to, &old)?;
                fs::rename(from, to)?;
                return fs::remove_dir_all(old);
            }
        }
    }
    match renameat2(libc::RENAME_NOREPLACE) {
        Err(e) if unsupported(&e) => fs::rename(from, to),
        r => r,
    }
}

/// Remove staging directories left by runs that were killed (we hold the lock: none is in use).
/// The parent is listed without changing its access time: it may be part of the evidence.
fn remove_stale(parent: &Path, prefix: &[u8]) {
    let Ok((_, entries)) = crate::fsx::read_dir_noatime(parent) else {
        return;
    };
    for (n, t) in entries {
        if t != crate::fsx::EntryType::Dir || !n.as_bytes().starts_with(prefix) {
            continue;
        }
        let p = parent.join(&n);
        // SAFETY: geteuid has no preconditions.
        let ours = fs::symlink_metadata(&p).is_ok_and(|m| m.uid() == unsafe { libc::geteuid() });
        if ours {
            let _ = fs::remove_dir_all(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_then_switch_replaces_a_report_whole() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("report");
        let r = ReportDir::prepare(&out, false).unwrap();
        fs::write(r.path().join("summary.json"), b"1").unwrap();
        assert!(!out.exists(), "nothing at --out before the end");
        r.commit().unwrap();
        assert_eq!(fs::read(out.join("summary.json")).unwrap(), b"1");
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(matches!(
            ReportDir::prepare(&out, false),
            Err(ExportError::Exists(_))
        ));
        let r = ReportDir::prepare(&out, true).unwrap();
        fs::write(r.path().join("summary.json"), b"2").unwrap();
        // A second run on the same --out is refused while the first holds the lock.
        assert!(matches!(
            ReportDir::prepare(&out, true),
            Err(ExportError::Refused(_))
        ));
        r.commit().unwrap();
        assert_eq!(fs::read(out.join("summary.json")).unwrap(), b"2");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "report and lock file only: {names:?}");
    }

    #[test]
    fn a_failed_run_leaves_the_previous_report_and_no_staging() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("report");
        let r = ReportDir::prepare(&out, false).unwrap();
        fs::write(r.path().join("summary.json"), b"old").unwrap();
        r.commit().unwrap();
        let r = ReportDir::prepare(&out, true).unwrap();
        fs::write(r.path().join("summary.json"), b"half").unwrap();
        drop(r);
        assert_eq!(fs::read(out.join("summary.json")).unwrap(), b"old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn symlinks_foreign_and_busy_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = d.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(ReportDir::prepare(&link, true).is_err());
        fs::write(elsewhere.join("notes.txt"), b"x").unwrap();
        assert!(ReportDir::prepare(&elsewhere, true).is_err());
        // A stale staging directory from a killed run is cleaned up.
        let stale = d.path().join(".report.staging-abc");
        fs::create_dir(&stale).unwrap();
        let r = ReportDir::prepare(&d.path().join("report"), false).unwrap();
        assert!(!stale.exists());
        drop(r);
    }
}
