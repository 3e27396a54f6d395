//! summary.json: what was scanned (with hashes), how it went, what was found.

use super::{write_atomic, ExportError};
use crate::analysis::Report;
use crate::scan::ScanResult;
use std::path::Path;

pub struct RunInfo {
    pub arguments: Vec<String>,
    pub started: i64,
    pub finished: i64,
    /// The rule the findings were made with.
    pub detection: crate::model::DetectionOptions,
}

/// summary.json.
pub struct SummaryJson;

impl super::Exporter for SummaryJson {
    fn files(&self) -> &'static [&'static str] {
        &["summary.json"]
    }
    fn write(&self, doc: &super::Document<'_>, dir: &Path) -> Result<(), ExportError> {
        write(dir, &build(doc.scan, doc.report, doc.run))
    }
}

pub fn build(scan: &ScanResult, report: &Report, run: &RunInfo) -> serde_json::Value {
    let internal = report.people.iter().filter(|p| p.internal).count();
    serde_json::json!({
        "tool": "bccaudit",
        "version": env!("CARGO_PKG_VERSION"),
        "arguments": run.arguments,
        "started": crate::parse::date::rfc3339(run.started),
        "finished": crate::parse::date::rfc3339(run.finished),
        "inputs": scan.inputs,
        "counts": {
            "messages_read": scan.stats.messages_read,
            "unique": scan.stats.unique,
            "duplicates": scan.stats.duplicates,
            "filtered_out": scan.stats.filtered_out,
            "undated": scan.stats.undated,
            "files_skipped_not_message": scan.stats.files_skipped_not_message,
            "files_skipped_by_type": scan.stats.files_skipped_by_type,
            "bytes": scan.stats.bytes,
            "warnings": scan.warnings.total(),
            "exposing_messages": report.messages.len(),
            "exposing_copies": report.messages.iter().map(|m| m.sources.len()).sum::<usize>(),
            "message_id_reused_with_other_recipients": report.message_id_conflicts,
            "incidents": report.incidents.len(),
            "affected": report.people.len(),
            "internal": internal,
            "external": report.people.len() - internal,
        },
        "warnings": scan.warnings,
        "errors": scan.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    })
}

pub fn write(dir: &Path, value: &serde_json::Value) -> Result<(), ExportError> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    write_atomic(dir, "summary.json", &bytes)
}
