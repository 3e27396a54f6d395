//! What `scan` and `merge` share once the inputs have been read: the report written and
//! switched into place, the short summary on standard output, the exit status.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use bccaudit::analysis::Report;
use bccaudit::export::{self, out_dir::ReportDir};
use bccaudit::model::ScanResult;
use bccaudit::parse::date::rfc3339;
use bccaudit::run::Observer;

/// How the report is made and the documents for people written (`scan` and `merge` share
/// these).
#[derive(Args)]
pub struct ReportArgs {
    /// Memory for the rows that grow with the mailbox rather than with its people (one per
    /// incident and exposed person): past it they go to a temporary file in $TMPDIR, unnamed
    /// and 0600. SIZE in bytes, or with K, M, G.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub memory_limit: u64,
    /// Your organisation's name, for the titles of report.html and the breach summary.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// List the exposed addresses per incident in report.html (collapsed).
    #[arg(long)]
    pub report_addresses: bool,
    /// Put subjects in breach-summary.md/.json (left out by default: they may name people).
    #[arg(long)]
    pub summary_subjects: bool,
    /// Time zone for the breach summary's local times (IANA name, e.g. Europe/London).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
    /// The DPO's contact details, for the breach summary and the notices.
    #[arg(long, value_name = "TEXT")]
    pub dpo_contact: Option<String>,
    /// Write a notification draft per affected external person (notices/, notices.mbox,
    /// notices.csv).
    #[arg(long, requires = "notice_from")]
    pub notices: bool,
    /// The From: address of the drafts (required with --notices).
    #[arg(long, value_name = "ADDR")]
    pub notice_from: Option<String>,
    /// The drafts' text (a minijinja template; first line `Subject: …`) instead of the
    /// built-in one.
    #[arg(long, value_name = "FILE")]
    pub notice_template: Option<std::path::PathBuf>,
    /// Drafts for internal (colleagues') addresses too.
    #[arg(long)]
    pub notices_include_internal: bool,
    /// Name the subject of each exposing message in the drafts.
    #[arg(long)]
    pub notice_subjects: bool,
}

impl ReportArgs {
    /// The drafts' options, the template read and tried (a broken one fails here, before
    /// anything is scanned or written).
    fn notice_options(&self) -> Result<Option<export::notices::NoticeOptions>> {
        if !self.notices {
            return Ok(None);
        }
        let from = self.notice_from.clone().unwrap_or_default();
        if !from.contains('@') || from.chars().any(|c| c.is_control() || c.is_whitespace()) {
            anyhow::bail!("--notice-from: {from:?} is not an email address");
        }
        let template = match &self.notice_template {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("--notice-template {}", p.display()))?,
            None => export::notices::BUILTIN_TEMPLATE.to_string(),
        };
        export::notices::Template::new(&template)
            .map_err(anyhow::Error::msg)
            .context("--notice-template")?;
        Ok(Some(export::notices::NoticeOptions {
            from,
            template,
            include_internal: self.notices_include_internal,
            subjects: self.notice_subjects,
        }))
    }

    /// The options, checked (an unknown time zone is an error before any scan).
    pub fn options(&self) -> Result<export::ReportOptions> {
        Ok(export::ReportOptions {
            org: self.org.clone(),
            report_addresses: self.report_addresses,
            summary_subjects: self.summary_subjects,
            tz: export::Zone::named(&self.tz)
                .map_err(anyhow::Error::msg)
                .context("--tz")?,
            dpo_contact: self.dpo_contact.clone(),
            notices: self.notice_options()?,
        })
    }
}

/// `1G`, `512M`, `64k`, `1000000`, `2GiB`: bytes (K, M, G, T are powers of 1,024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a size such as 512M or 2G"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{s:?}: expected a size such as 512M or 2G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// Analyse the scan, exposures.csv written into the report being staged in `dir` as the
/// analysis makes its rows; the stream goes on to [`write`] with the report.
pub fn analyse(
    dir: Option<&ReportDir>,
    result: ScanResult,
    jaccard: f64,
    memory_limit: u64,
    observer: &dyn Observer,
) -> Result<(ScanResult, Report, Option<export::csv::ExposuresStream>)> {
    let mut exposures = dir
        .map(|d| export::csv::ExposuresStream::create(d.path()))
        .transpose()?;
    let (result, report) = bccaudit::run::analyse(
        result,
        jaccard,
        memory_limit,
        exposures
            .as_mut()
            .map(|s| s as &mut dyn bccaudit::analysis::RowSink),
        observer,
    )?;
    Ok((result, report, exposures))
}

/// Write every report file into the staging directory, then switch it into place.
pub fn write(
    dir: ReportDir,
    result: &ScanResult,
    report: &Report,
    exposures: Option<export::csv::ExposuresStream>,
    run: &export::RunInfo,
    options: &export::ReportOptions,
    observer: &dyn Observer,
) -> Result<()> {
    observer.phase(&format!(
        "writing the report ({} people, {} exposures)",
        report.people.len(),
        report.exposures.len()
    ));
    let doc = export::Document::new(result, report, run, options).with_exposures(exposures);
    export::write_report(&doc, dir.path())?;
    dir.commit().context("--out")?;
    observer.phase_done();
    Ok(())
}

/// Every input error on stderr, then the exit status: 2 when anything could not be read, 1
/// with `--fail-on-exposure` when something was found, else 0.
/// The scan and its report, left to the operating system: the process ends next, and freeing
/// millions of rows and strings one by one only delays its exit (~0.05 s for 40,000
/// incidents). They hold memory and unnamed temporary files only (`tempfile::tempfile`, gone
/// with the process); every report file is already written and closed.
pub fn release_at_exit(result: ScanResult, report: Report) {
    std::mem::forget(result);
    std::mem::forget(report);
}

pub fn exit_code(result: &ScanResult, report: &Report, fail_on_exposure: bool) -> ExitCode {
    for e in &result.errors {
        err!("bccaudit: could not read {e}");
    }
    if !result.errors.is_empty() {
        ExitCode::from(2)
    } else if fail_on_exposure && !report.messages.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn print_summary(
    s: &ScanResult,
    r: &Report,
    out: &Path,
    options: &export::ReportOptions,
    verbose: bool,
    secs: f64,
) {
    let st = &s.stats;
    out!(
        "Scanned {} messages ({} unique, {} duplicates) from {} input(s), {:.1} MB in {:.2} s.",
        st.messages_read,
        st.unique,
        st.duplicates,
        s.inputs.len(),
        st.bytes as f64 / 1e6,
        secs
    );
    if st.filtered_out > 0 {
        out!(
            "{} messages were outside --since/--until/--sender.",
            st.filtered_out
        );
    }
    if st.files_skipped_not_message > 0 {
        let kinds: Vec<String> = st
            .files_skipped_by_type
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        out!(
            "{} file(s) were not mail and were skipped ({}); listed in summary.json.",
            st.files_skipped_not_message,
            kinds.join(", ")
        );
    }
    if s.warnings.total() > 0 {
        let kinds: Vec<String> = s
            .warnings
            .by_kind
            .iter()
            .map(|(k, t)| format!("{k} {}", t.count))
            .collect();
        out!(
            "Warnings: {} ({}); locations in summary.json.",
            s.warnings.total(),
            kinds.join(", ")
        );
    }
    let internal = r.people.iter().filter(|p| p.internal).count();
    out!(
        "Found {} exposing message(s) in {} incident(s); {} addresses exposed ({} external, {} internal).",
        r.messages.len(),
        r.incidents.len(),
        r.people.len(),
        r.people.len() - internal,
        internal
    );
    if r.spilled() {
        out!(
            "The {} exposure rows passed --memory-limit: they were kept in a temporary file while the report was written.",
            r.exposures.len()
        );
    }
    // The five largest (most external people, then first id), picked without sorting them all.
    let by_size = |x: &&bccaudit::analysis::Incident, y: &&bccaudit::analysis::Incident| {
        y.external.cmp(&x.external).then(x.id.cmp(&y.id))
    };
    let mut largest: Vec<&bccaudit::analysis::Incident> = r.incidents.iter().collect();
    if largest.len() > 5 {
        largest.select_nth_unstable_by(4, by_size);
        largest.truncate(5);
    }
    largest.sort_by(by_size);
    for i in largest.iter().take(5) {
        out!(
            "  {}  {}  {:>5} external exposed, {} message(s){}  {:?}{}",
            i.id,
            i.first_sent
                .map(rfc3339)
                .map_or("(undated)".to_string(), |d| d[..10].to_string()),
            i.external,
            i.messages.len(),
            if i.reply_all > 0 {
                format!(", {} reply-all", i.reply_all)
            } else {
                String::new()
            },
            i.subject.chars().take(60).collect::<String>(),
            if verbose {
                format!("  from {}", i.senders.join(", "))
            } else {
                String::new()
            },
        );
    }
    let files: Vec<&str> = export::exporters(options)
        .iter()
        .flat_map(|e| e.files().iter().copied())
        .collect();
    out!("Reports in {}: {}", out.display(), files.join(" "));
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        use super::parse_size;
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64kB"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("G").is_err());
        assert!(parse_size("1X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
