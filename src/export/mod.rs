//! Stage 5: export. Every file holds personal data, so every file is created owner-only (0600)
//! in an owner-only directory (0700), written to a temporary name and renamed into place, and
//! every CSV cell is guarded against spreadsheet formula injection.

mod atomic;
pub mod breach;
pub mod csv;
pub mod figures;
pub mod html;
mod json_rows;
pub mod notices;
pub mod out_dir;
pub mod summary;
mod zone;

pub use atomic::{write_atomic, write_atomic_with, AtomicFile};
pub use summary::RunInfo;
pub use zone::Zone;

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::analysis::Report;
use crate::model::ScanResult;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0} already holds a report; use --force to overwrite it")]
    Exists(String),
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
}

/// How the documents for people are written (the CSVs and summary.json do not change).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// The organisation's name, for titles and notices (`--org`).
    pub org: Option<String>,
    /// Exposed addresses listed per incident in report.html (`--report-addresses`).
    pub report_addresses: bool,
    /// Subjects in the breach summary (`--summary-subjects`; they may name people).
    pub summary_subjects: bool,
    /// Times in the breach summary are also given in this zone (`--tz`).
    pub tz: Zone,
    /// The DPO's contact, for the breach summary and notices (`--dpo-contact`).
    pub dpo_contact: Option<String>,
    /// Notification drafts (`--notices`).
    pub notices: Option<notices::NoticeOptions>,
}

/// Everything an exporter reads: the scan, its analysis, how the run was made, the options.
pub struct Document<'a> {
    pub scan: &'a ScanResult,
    pub report: &'a Report,
    pub run: &'a RunInfo,
    pub options: &'a ReportOptions,
    figures: std::sync::OnceLock<figures::Figures>,
    /// exposures.csv when it was written during the analysis.
    exposures: std::sync::Mutex<Option<csv::ExposuresStream>>,
}

impl<'a> Document<'a> {
    pub fn new(
        scan: &'a ScanResult,
        report: &'a Report,
        run: &'a RunInfo,
        options: &'a ReportOptions,
    ) -> Self {
        Document {
            scan,
            report,
            run,
            options,
            figures: std::sync::OnceLock::new(),
            exposures: std::sync::Mutex::new(None),
        }
    }

    /// exposures.csv was written during the analysis, into the directory the report is
    /// written to (the stream was the analysis's [`crate::analysis::RowSink`]): it is then
    /// committed, not written again.
    pub fn with_exposures(self, stream: Option<csv::ExposuresStream>) -> Self {
        *self.exposures.lock().unwrap_or_else(|e| e.into_inner()) = stream;
        self
    }

    fn take_exposures_stream(&self) -> Option<csv::ExposuresStream> {
        self.exposures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The figures the documents for people share, computed once.
    pub fn figures(&self) -> &figures::Figures {
        self.figures
            .get_or_init(|| figures::Figures::of(self.report))
    }
}

/// One output of a report directory (or several files of one kind).
pub trait Exporter: Sync {
    /// The files it writes, for messages.
    fn files(&self) -> &'static [&'static str];
    fn write(&self, doc: &Document<'_>, dir: &Path) -> Result<(), ExportError>;
}

/// Every exporter the options ask for.
pub fn exporters(options: &ReportOptions) -> Vec<Box<dyn Exporter>> {
    let mut all: Vec<Box<dyn Exporter>> = vec![
        Box::new(csv::Csv),
        Box::new(summary::SummaryJson),
        Box::new(html::Html),
        Box::new(breach::Breach),
    ];
    if options.notices.is_some() {
        all.push(Box::new(notices::Notices));
    }
    all
}

/// Write the whole report into `dir` (the staging directory of a [`out_dir::ReportDir`]):
/// every exporter at once (the figures of the documents for people are computed while the
/// CSVs are written); the first error wins.
pub fn write_report(doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
    let all = exporters(doc.options);
    std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|e| s.spawn(move || e.write(doc, dir)))
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(ExportError::Refused("an exporter stopped".into())));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })?;
    // Rows kept on file (`--memory-limit`) that could not be read back would have left the
    // files short: refused, never committed.
    doc.report.check_rows().map_err(|err| ExportError::Io {
        path: std::env::temp_dir().display().to_string(),
        err,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |err| ExportError::Io {
        path: path.display().to_string(),
        err,
    }
}

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Check, before a long scan, that files can be created in `dir` (e.g. for `--state`).
pub fn check_writable(dir: &Path) -> Result<(), ExportError> {
    tempfile::Builder::new()
        .prefix(".bccaudit-check.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(io(dir))
}

/// Save one exposing message's raw bytes as `dir/<sha256>.eml` (once per distinct content).
pub fn write_evidence(dir: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    write_evidence_file(dir, &format!("{sha256}.eml"), bytes)
}

/// Write `dir/name` (an evidence file beside the `.eml`s: the raw recipient rows of an
/// Outlook message as `<sha256>.json`) once, atomically.
pub fn write_evidence_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let name = name.to_string();
    if dir.join(&name).exists() {
        return Ok(());
    }
    write_atomic(dir, &name, bytes).map_err(|e| match e {
        ExportError::Io { err, .. } => err,
        e => std::io::Error::other(e.to_string()),
    })
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

/// A cell made safe for a spreadsheet: control characters (other than tab and line ends) are
/// written as `\u{..}` escapes, and a cell whose first visible character would start a formula
/// (`=`, `+`, `-`, `@`, their fullwidth forms `＝＋－＠`, or a tab or CR) gets a leading `'`,
/// also when invisible characters (a BOM, zero-width spaces) stand before it. Long digit strings
/// are left as they are (a spreadsheet may still show them in scientific notation).
pub fn guard_cell(s: &str) -> std::borrow::Cow<'_, str> {
    // Fast path, most cells: printable ASCII not starting with a formula character.
    let b = s.as_bytes();
    if b.iter().all(|&c| (0x20..0x7f).contains(&c))
        && !matches!(b.first(), Some(b'=' | b'+' | b'-' | b'@'))
    {
        return s.into();
    }
    let cleaned = escape_controls(s, |c| matches!(c, '\t' | '\r' | '\n'));
    let invisible = |c: char| {
        matches!(
            c,
            '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{00ad}'
        )
    };
    let first = cleaned.chars().find(|&c| !invisible(c));
    match first {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠') => {
            format!("'{cleaned}").into()
        }
        _ => cleaned,
    }
}

/// Text made safe for a terminal: control characters (ANSI/OSC escapes from a server's reply
/// or a file name) are shown as `\u{1b}` instead of being obeyed. Tab and newline are kept.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(s, |c| matches!(c, '\t' | '\n'))
}

/// Control characters other than those `keep`s written as `\u{..}`.
fn escape_controls(s: &str, keep: fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !s.chars().any(escaped) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn formula_cells_are_guarded() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(guard_cell(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(guard_cell("jane@example.org"), "jane@example.org");
        assert_eq!(guard_cell(""), "");
    }

    #[test]
    fn formula_guard_gaps_are_closed() {
        for bad in [
            "＝HYPERLINK(\"x\")",
            "＋1",
            "－1",
            "＠SUM(A1)",
            "\u{feff}=1+1",
            "\u{200b}+1",
        ] {
            assert!(guard_cell(bad).starts_with('\''), "{bad}");
        }
        // NUL and ESC are escaped, never written raw; the escaped text starts with a backslash.
        assert_eq!(guard_cell("\0=1"), "\\u{0}=1");
        assert_eq!(guard_cell("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(guard_cell("12345678901234567890"), "12345678901234567890");
    }

    #[test]
    fn terminal_output_is_escaped() {
        assert_eq!(
            terminal_safe("NO \x1b]0;pwned\x07 x"),
            "NO \\u{1b}]0;pwned\\u{7} x"
        );
        assert_eq!(terminal_safe("plain\tline\n"), "plain\tline\n");
    }

    #[test]
    fn atomic_files_are_owner_only_and_never_follow_a_planted_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let out = d.path().join("out");
        fs::create_dir(&out).unwrap();
        // Links planted at every name the old code would have used.
        for pid in [std::process::id(), 1, 2] {
            let _ =
                std::os::unix::fs::symlink(&victim, out.join(format!(".summary.json.tmp-{pid}")));
        }
        write_atomic(&out, "summary.json", b"{}").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(
            fs::metadata(out.join("summary.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        // A link planted at the final name is replaced, not written through.
        std::os::unix::fs::symlink(&victim, out.join("affected.csv")).unwrap();
        write_atomic(&out, "affected.csv", b"x").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
