//! `bccaudit merge`: partial results (from `scan --partial`, on several machines or at several
//! times) into the report one run over all their inputs would have written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use bccaudit::export::{self, out_dir::ReportDir};
use bccaudit::intern::Strings;
use bccaudit::model::ScanResult;
use bccaudit::partial;
use bccaudit::run::Observer;

use super::progress::Bars;
use super::report;

#[derive(Args)]
pub struct MergeArgs {
    /// Partial results written by `bccaudit scan --partial`.
    #[arg(required = true)]
    pub partials: Vec<PathBuf>,
    /// Directory for the reports (created 0700).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Overwrite an existing report in --out.
    #[arg(long)]
    pub force: bool,
    /// A partial result of an earlier audit: incidents and people not in it are marked `new`
    /// (a `new` column in incidents.csv and affected.csv).
    #[arg(long, value_name = "PARTIAL")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub report: report::ReportArgs,
    /// Exit 1 when anything was found (for scheduled audits).
    #[arg(long)]
    pub fail_on_exposure: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also print addresses (senders of the largest incidents) on standard output.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(a: MergeArgs, arguments: Vec<String>) -> Result<ExitCode> {
    let started = super::now();
    let clock = Instant::now();
    let report_options = a.report.options()?;
    let dir = ReportDir::prepare(&a.out, a.force).context("--out")?;
    let bars = Bars::new(!a.quiet);
    let mut partials = Vec::new();
    let mut strings = Strings::default();
    for p in &a.partials {
        bars.phase(&format!("reading {}", p.display()));
        let (header, parts) = partial::read(p, &mut strings)?;
        partials.push((p.display().to_string(), header, parts));
    }
    let baseline = match &a.baseline {
        Some(p) => {
            let mut s = Strings::default();
            let parts = partial::read(p, &mut s).context("--baseline")?.1;
            Some((parts, s))
        }
        None => None,
    };
    bars.phase_done();
    let (options, parts) = partial::order(partials).map_err(anyhow::Error::msg)?;
    let result = ScanResult::combine_recorded(parts, strings);
    let (result, mut report, exposures) = report::analyse(
        Some(&dir),
        result,
        options.jaccard,
        a.report.memory_limit,
        &bars,
    )?;
    if let Some((old, s)) = &baseline {
        bccaudit::analysis::mark_new(&mut report, old, s);
    }
    let run_info = export::RunInfo {
        arguments,
        started,
        finished: super::now(),
        detection: options,
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
    report::print_summary(
        &result,
        &report,
        &a.out,
        &report_options,
        a.verbose,
        clock.elapsed().as_secs_f64(),
    );
    let code = report::exit_code(&result, &report, a.fail_on_exposure);
    report::release_at_exit(result, report);
    Ok(code)
}
