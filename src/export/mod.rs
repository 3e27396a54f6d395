//! Stage 5: export. Every file holds personal data, so every file is created owner-only (0600)
//! in an owner-only directory (0700), written to a temporary name and renamed into place, and
//! every CSV cell is guarded against spreadsheet formula injection.

pub mod csv;
pub mod summary;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Report files bccaudit writes (an existing report is not overwritten without `--force`).
pub const REPORT_FILES: &[&str] = &[
    "incidents.csv",
    "messages.csv",
    "affected.csv",
    "exposures.csv",
    "summary.json",
];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} already holds a report; use --force to overwrite it")]
    Exists(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Create the output directory (0700), or check an existing one.
pub fn prepare_out_dir(dir: &Path, force: bool) -> Result<(), ExportError> {
    if dir.exists() {
        let has_report = REPORT_FILES.iter().any(|f| dir.join(f).exists());
        if has_report && !force {
            return Err(ExportError::Exists(dir.display().to_string()));
        }
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// Write `bytes` to `dir/name` atomically, owner-only.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), ExportError> {
    write_atomic_with(dir, name, |w| w.write_all(bytes))
}

/// Stream a file into `dir/name` atomically, owner-only: written to a temporary name (0600 from
/// its creation), synced, then renamed into place. Nothing is left behind on failure.
pub fn write_atomic_with(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // The mode above is filtered by the umask; make sure it is exactly 0600.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    fs::rename(&tmp, &target).map_err(io(&target))
}

/// Save one exposing message's raw bytes as `dir/<sha256>.eml` (once per distinct content).
pub fn write_evidence(dir: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    let name = format!("{sha256}.eml");
    if dir.join(&name).exists() {
        return Ok(());
    }
    let tmp = format!(
        "{sha256}.{:?}.{}",
        std::thread::current().id(),
        std::process::id()
    )
    .replace(['(', ')'], "");
    write_atomic(dir, &tmp, bytes).map_err(|e| match e {
        ExportError::Io { source, .. } => source,
        e => std::io::Error::other(e.to_string()),
    })?;
    fs::rename(dir.join(&tmp), dir.join(&name))
}

/// Create `dir/evidence` (0700) and return it.
pub fn evidence_dir(dir: &Path) -> Result<std::path::PathBuf, ExportError> {
    let e = dir.join("evidence");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&e)
        .map_err(io(&e))?;
    Ok(e)
}

/// A cell that a spreadsheet would run as a formula gets a leading `'`.
pub fn guard_cell(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_guarded() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(guard_cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(guard_cell("jane@example.org"), "jane@example.org");
        assert_eq!(guard_cell(""), "");
    }

    #[test]
    fn files_are_owner_only_and_atomic() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("report");
        prepare_out_dir(&out, false).unwrap();
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o700
        );
        write_atomic(&out, "summary.json", b"{}").unwrap();
        assert_eq!(
            fs::metadata(out.join("summary.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(&out).unwrap().count(), 1, "no temp file left");
        assert!(matches!(
            prepare_out_dir(&out, false),
            Err(ExportError::Exists(_))
        ));
        assert!(prepare_out_dir(&out, true).is_ok());
    }
}
