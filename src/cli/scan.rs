//! `bccaudit scan`: read the inputs, then write a report (or a partial result).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};

use bccaudit::detect::Policy;
use bccaudit::export::{self, out_dir::ReportDir};
use bccaudit::model::ScanResult;
use bccaudit::parse::date::parse_cli_date;
use bccaudit::partial::{self, DetectionOptions, ListRef};
use bccaudit::run::{self, Input, InputSpec, Observer};
use bccaudit::scan::ScanOptions;
use bccaudit::sensitive::Matcher;
use bccaudit::source::imap::{ImapUrl, State};

use super::imap_opts::ImapOpts;
use super::progress::Bars;
use super::report;

#[derive(Args)]
pub struct ScanArgs {
    /// Inputs: mbox files, Maildirs or folders of message files, `-` for an mbox on standard
    /// input, or imaps:// / imap:// URLs.
    #[arg(required_unless_present = "inputs_from")]
    pub inputs: Vec<std::ffi::OsString>,
    /// Directory for the reports (created 0700). Not with --partial.
    #[arg(
        long,
        short,
        required_unless_present = "partial",
        conflicts_with = "partial"
    )]
    pub out: Option<PathBuf>,
    /// Write a partial result (JSON Lines) to FILE instead of a report, to merge later with
    /// `bccaudit merge` (sharded or repeated audits).
    #[arg(long, value_name = "FILE")]
    pub partial: Option<PathBuf>,
    /// Who these inputs belong to, for the `custodians` columns (default: the IMAP user, or
    /// the input path).
    #[arg(long, value_name = "NAME")]
    pub custodian: Option<String>,
    /// Read more inputs from FILE, one per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE")]
    pub inputs_from: Option<PathBuf>,
    /// Scan only every N-th input, starting at the I-th (0-based): `--shard I/N`, the same
    /// command line on every worker of a job array.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Overwrite an existing report in --out.
    #[arg(long)]
    pub force: bool,
    /// Your organisation's domain (repeatable; subdomains included): reported, not counted.
    #[arg(long = "internal-domain", value_name = "DOMAIN")]
    pub internal_domains: Vec<String>,
    /// A message is exposing when at least N external addresses are visible in To/Cc.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub min_exposed: usize,
    /// Only messages sent on or after DATE (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only messages sent before DATE (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only messages from ADDR, or from any address @DOMAIN (repeatable).
    #[arg(long = "sender", value_name = "ADDR|@DOMAIN")]
    pub senders: Vec<String>,
    /// Two messages are one incident when their exposed sets overlap at least this much (Jaccard).
    #[arg(long, default_value_t = 0.8, value_name = "0..1")]
    pub jaccard: f64,
    /// More sensitive-context terms, `category,term` per line (repeatable).
    #[arg(long, value_name = "FILE")]
    pub sensitive_terms: Vec<PathBuf>,
    /// Use only the --sensitive-terms files, not the built-in list.
    #[arg(long, requires = "sensitive_terms")]
    pub no_builtin_terms: bool,
    #[command(flatten)]
    pub report: report::ReportArgs,
    /// Parser threads (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Save the raw bytes of every exposing message under DIR/evidence/<sha256>.eml.
    #[arg(long)]
    pub evidence: bool,
    /// Do not compute the SHA-256 of whole mbox inputs for summary.json (faster on huge files;
    /// flagged messages are still hashed one by one).
    #[arg(long)]
    pub no_input_hash: bool,
    /// Exit 1 when anything was found (for scheduled audits).
    #[arg(long)]
    pub fail_on_exposure: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also print addresses (senders of the largest incidents) on standard output.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub imap: ImapOpts,
}

/// Parser threads at most, whatever --jobs says.
fn max_jobs() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An IMAP URL, in any case spelling (`IMAPS://` too).
fn is_url(s: &std::ffi::OsStr) -> bool {
    s.to_str().is_some_and(|s| {
        let l = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        l.starts_with("imaps://") || l.starts_with("imap://")
    })
}

pub fn policy(a: &ScanArgs) -> Result<Policy> {
    let date = |s: &Option<String>, what: &str| -> Result<Option<i64>> {
        s.as_deref()
            .map(|d| {
                parse_cli_date(d)
                    .with_context(|| format!("--{what} {d:?}: expected YYYY-MM-DD or RFC 3339"))
            })
            .transpose()
    };
    let (since, until) = (date(&a.since, "since")?, date(&a.until, "until")?);
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            bail!("--since must be earlier than --until (the range is [since, until))");
        }
    }
    if !(0.0..=1.0).contains(&a.jaccard) {
        bail!("--jaccard must be between 0 and 1");
    }
    for s in &a.senders {
        let ok = s
            .strip_prefix('@')
            .map_or(s.contains('@'), |d| !d.is_empty() && !d.contains('@'));
        if !ok {
            bail!("--sender {s:?}: expected an address or @domain");
        }
    }
    Ok(Policy {
        internal_domains: a
            .internal_domains
            .iter()
            .map(|d| {
                d.trim_start_matches('@')
                    .trim_end_matches('.')
                    .to_lowercase()
            })
            .collect(),
        min_exposed: a.min_exposed,
        since,
        until,
        senders: a.senders.iter().map(|s| s.to_lowercase()).collect(),
    })
}

/// The options a partial result records (and a merge compares).
fn detection_options(p: &Policy, jaccard: f64, terms: &Matcher) -> DetectionOptions {
    let mut internal = p.internal_domains.clone();
    internal.sort();
    internal.dedup();
    let mut senders = p.senders.clone();
    senders.sort();
    senders.dedup();
    DetectionOptions {
        min_exposed: p.min_exposed,
        internal_domains: internal,
        since: p.since,
        until: p.until,
        senders,
        jaccard,
        sensitive_terms: terms.fingerprint.clone(),
    }
}

/// An input argument with its place in the whole list.
type Numbered = (u64, std::ffi::OsString);

/// All inputs (positional, then `--inputs-from`), and with `--shard I/N` the list they were cut
/// from and this shard's share of them, each with its place in the list.
fn inputs(a: &ScanArgs) -> Result<(Vec<Numbered>, Option<ListRef>)> {
    let mut all: Vec<std::ffi::OsString> = a.inputs.clone();
    if let Some(f) = &a.inputs_from {
        let text = std::fs::read(f).with_context(|| format!("--inputs-from {}", f.display()))?;
        use std::os::unix::ffi::OsStrExt;
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let t = line.trim_ascii();
            if !t.is_empty() && !t.starts_with(b"#") {
                all.push(std::ffi::OsStr::from_bytes(t).to_os_string());
            }
        }
    }
    if all.is_empty() {
        bail!("no inputs");
    }
    let Some(shard) = &a.shard else {
        return Ok((
            all.into_iter()
                .enumerate()
                .map(|(i, x)| (i as u64, x))
                .collect(),
            None,
        ));
    };
    let (i, n) = shard
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
        .filter(|&(i, n)| n > 0 && i < n)
        .with_context(|| format!("--shard {shard:?}: expected I/N with 0 <= I < N"))?;
    let mut h = Sha256::new();
    for x in &all {
        use std::os::unix::ffi::OsStrExt;
        h.update(x.as_bytes());
        h.update(b"\n");
    }
    let list = ListRef {
        sha256: bccaudit::source::hex(&h.finalize()),
        count: all.len() as u64,
    };
    let mine = all
        .into_iter()
        .enumerate()
        .filter(|(k, _)| *k as u64 % n == i)
        .map(|(k, x)| (k as u64, x))
        .collect();
    Ok((mine, Some(list)))
}

pub fn run(a: ScanArgs, arguments: Vec<String>) -> Result<ExitCode> {
    let started = super::now();
    let clock = Instant::now();
    let policy = policy(&a)?;
    let report_options = a.report.options()?;
    let extra: Vec<&Path> = a.sensitive_terms.iter().map(PathBuf::as_path).collect();
    let terms = std::sync::Arc::new(
        Matcher::new(!a.no_builtin_terms, &extra).context("--sensitive-terms")?,
    );
    if a.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    let mut jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs > max_jobs() {
        err!(
            "bccaudit: WARNING: --jobs {jobs} is more than 4 per core; using {}",
            max_jobs()
        );
        jobs = max_jobs();
    }
    let (list, list_ref) = inputs(&a)?;
    if list.iter().filter(|(_, i)| *i == "-").count() > 1 {
        bail!("standard input (-) can be given only once");
    }
    if a.partial.is_some() && a.evidence {
        bail!("--evidence needs a report directory (--out), not --partial");
    }
    // Everything that can be refused is checked before a long scan: the output directory (and
    // its lock), the --partial and --state files' directories.
    let report_dir = match &a.out {
        Some(out) => Some(ReportDir::prepare(out, a.force).context("--out")?),
        None => None,
    };
    if let Some(p) = &a.partial {
        export::check_writable(parent_dir(p)).context("--partial")?;
    }
    let evidence_dir = match (&report_dir, a.evidence) {
        (Some(d), true) => Some(export::evidence_dir(d.path())?),
        _ => None,
    };
    let mut state = match &a.imap.state {
        Some(p) => {
            export::check_writable(parent_dir(p)).context("--state")?;
            State::load(p).map_err(|e| anyhow::anyhow!("--state {e}"))?
        }
        None => State::default(),
    };
    let own = report_dir
        .as_ref()
        .map(ReportDir::own_ids)
        .unwrap_or_default();
    let mut specs = Vec::new();
    for (seq, x) in list {
        let spec = if is_url(&x) {
            let url = ImapUrl::parse(&x.to_string_lossy())?;
            let opts = a.imap.resolve(&url)?;
            InputSpec::Imap {
                url,
                opts: Box::new(opts),
            }
        } else {
            InputSpec::Path(PathBuf::from(x))
        };
        specs.push(Input {
            spec,
            seq,
            custodian: a.custodian.clone(),
        });
    }
    let opts = ScanOptions {
        policy: policy.clone(),
        jobs,
        evidence_dir,
        record_keys: a.partial.is_some(),
        sensitive: Some(terms.clone()),
        folders: a.imap.folders.clone(),
    };
    let bars = Bars::new(!a.quiet);
    let t_scan = Instant::now();
    let mut scanned = run::scan(specs, &opts, !a.no_input_hash, Some(&state), &own, &bars)?;
    if scanned.parts.iter().any(|p| !p.findings.is_empty()) && !scanned.accounts.is_empty() {
        bars.phase("reading the text of exposing IMAP messages");
        bccaudit::sensitive::read_imap_texts(&mut scanned.parts, &scanned.accounts, &terms);
        bars.phase_done();
    }
    let scan_secs = t_scan.elapsed().as_secs_f64();
    let records: Vec<_> = scanned
        .parts
        .iter()
        .filter_map(|p| p.info.as_ref()?.imap.clone())
        .collect();

    if let Some(p) = &a.partial {
        let header = partial::Header {
            format: partial::FORMAT.into(),
            version: partial::VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            options: detection_options(&policy, a.jaccard, &terms),
            list: list_ref,
            started,
            finished: super::now(),
            arguments,
        };
        bars.phase("writing the partial result");
        partial::write(p, &header, &scanned.parts, &scanned.strings)?;
        bars.phase_done();
        save_state(&a, &mut state, &records)?;
        let result = ScanResult::combine(scanned.parts, scanned.unique, scanned.strings);
        out!(
            "Scanned {} messages from {} input(s); {} exposing message(s). Partial result in {}.",
            result.stats.messages_read,
            result.inputs.len(),
            result.findings.len(),
            p.display()
        );
        for e in &result.errors {
            err!("bccaudit: could not read {e}");
        }
        return Ok(if result.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }

    let accounts = scanned.accounts.clone();
    let result = ScanResult::combine(scanned.parts, scanned.unique, scanned.strings);
    let t_analysis = Instant::now();
    let (mut result, mut report, exposures) = report::analyse(
        report_dir.as_ref(),
        result,
        a.jaccard,
        a.report.memory_limit,
        &bars,
    )?;
    if let Some(dir) = &opts.evidence_dir {
        let accounts: Vec<_> = accounts
            .into_iter()
            .zip(records.iter().cloned())
            .map(|((u, o), r)| (u, o, r))
            .collect();
        let errors = bccaudit::evidence::fetch_imap(&mut report, &accounts, dir);
        result.errors.extend(errors);
    }
    let analysis_secs = t_analysis.elapsed().as_secs_f64();
    let t_export = Instant::now();
    let run_info = export::RunInfo {
        arguments,
        started,
        finished: super::now(),
        detection: detection_options(&policy, a.jaccard, &terms),
    };
    let (Some(dir), Some(out)) = (report_dir, &a.out) else {
        bail!("--out is required");
    };
    report::write(
        dir,
        &result,
        &report,
        exposures,
        &run_info,
        &report_options,
        &bars,
    )?;
    // The state moves on only once the report it covers is in place.
    save_state(&a, &mut state, &records)?;
    report::print_summary(
        &result,
        &report,
        out,
        &report_options,
        a.verbose,
        clock.elapsed().as_secs_f64(),
    );
    if a.verbose {
        out!(
            "Timings: scan {scan_secs:.2} s, analysis {analysis_secs:.2} s, export {:.2} s.",
            t_export.elapsed().as_secs_f64()
        );
    }
    let code = report::exit_code(&result, &report, a.fail_on_exposure);
    report::release_at_exit(result, report);
    Ok(code)
}

fn save_state(
    a: &ScanArgs,
    state: &mut State,
    records: &[bccaudit::source::imap::ImapRecord],
) -> Result<()> {
    let Some(p) = &a.imap.state else {
        return Ok(());
    };
    for r in records {
        state.record(r);
    }
    let name = p.file_name().context("--state needs a file name")?;
    export::write_atomic(parent_dir(p), &name.to_string_lossy(), &state.to_json())
        .context("--state (the report was written; the next run reads these messages again)")
}

/// The directory of a file named on the command line.
pub fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}
