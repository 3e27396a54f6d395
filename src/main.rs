//! The command line: parse arguments, run the library's pipeline, print a short summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use bccaudit::detect::Policy;
use bccaudit::export::out_dir::ReportDir;
use bccaudit::export::terminal_safe;
use bccaudit::parse::date::{parse_cli_date, rfc3339};
use bccaudit::source::imap::{mask_password, Auth, ImapOptions, ImapSource, ImapUrl, State};
use bccaudit::source::{self, Source};
use bccaudit::{analysis, export, scan};

/// Print a line to standard output. A closed pipe (`bccaudit … | head -1`) ends the output,
/// not the program: the reports are already written by the time anything is printed. Control
/// characters (from subjects, file names, a server's replies) are escaped, never obeyed.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($t)*);
        let _ = writeln!(std::io::stdout().lock(), "{}", terminal_safe(&line));
    }};
}

/// Print a line to standard error, control characters escaped.
macro_rules! err {
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        eprintln!("{}", terminal_safe(&line));
    }};
}

#[derive(Parser)]
#[command(
    name = "bccaudit",
    version,
    about = "Find sent mail that exposed recipients' addresses in To/Cc, and write the lists a data-protection officer needs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan mboxes, Maildirs, folders of message files (and IMAP URLs) and write the reports.
    Scan(ScanArgs),
    /// List the folders of an IMAP account, marking those `scan` would read.
    Folders(ImapArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Inputs: mbox files, Maildirs or folders of message files, `-` for an mbox on standard
    /// input, or imaps:// / imap:// URLs.
    #[arg(required = true)]
    inputs: Vec<std::ffi::OsString>,
    /// Directory for the reports (created 0700).
    #[arg(long, short)]
    out: PathBuf,
    /// Overwrite an existing report in --out.
    #[arg(long)]
    force: bool,
    /// Your organisation's domain (repeatable; subdomains included): reported, not counted.
    #[arg(long = "internal-domain", value_name = "DOMAIN")]
    internal_domains: Vec<String>,
    /// A message is exposing when at least N external addresses are visible in To/Cc.
    #[arg(long, default_value_t = 10, value_name = "N")]
    min_exposed: usize,
    /// Only messages sent on or after DATE (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only messages sent before DATE (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only messages from ADDR, or from any address @DOMAIN (repeatable).
    #[arg(long = "sender", value_name = "ADDR|@DOMAIN")]
    senders: Vec<String>,
    /// Two messages are one incident when their exposed sets overlap at least this much (Jaccard).
    #[arg(long, default_value_t = 0.8, value_name = "0..1")]
    jaccard: f64,
    /// Parser threads (default: all cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Save the raw bytes of every exposing message under DIR/evidence/<sha256>.eml.
    #[arg(long)]
    evidence: bool,
    /// Do not compute the SHA-256 of whole mbox inputs for summary.json (faster on huge files;
    /// flagged messages are still hashed one by one).
    #[arg(long)]
    no_input_hash: bool,
    /// Exit 1 when anything was found (for scheduled audits).
    #[arg(long)]
    fail_on_exposure: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Also print addresses (senders of the largest incidents) on standard output.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    imap: ImapOpts,
}

#[derive(Args)]
struct ImapArgs {
    /// imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]
    url: String,
    #[command(flatten)]
    imap: ImapOpts,
}

#[derive(Args, Clone, Default)]
struct ImapOpts {
    /// IMAP: read this folder (repeatable) instead of the Sent folders.
    #[arg(long = "folder", value_name = "NAME")]
    folders: Vec<String>,
    /// IMAP: read every selectable folder.
    #[arg(long)]
    all_folders: bool,
    /// IMAP: read the password from this file (else BCCAUDIT_IMAP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// IMAP: authenticate with XOAUTH2 using the access token in FILE (or BCCAUDIT_IMAP_TOKEN).
    #[arg(long, value_name = "FILE")]
    oauth2_token_file: Option<PathBuf>,
    /// IMAP: also trust this CA certificate (PEM).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// IMAP: do not verify the server's certificate (warned about on every run).
    #[arg(long)]
    insecure: bool,
    /// IMAP: allow imap:// without TLS when the server offers no STARTTLS.
    #[arg(long)]
    allow_plaintext: bool,
    /// IMAP: parallel connections per server.
    #[arg(long, default_value_t = 4, value_name = "N")]
    connections: usize,
    /// IMAP: remember per folder the highest UID read; the next run reads only newer mail.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// IMAP: socket timeout in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    timeout: u64,
    /// IMAP: reconnect attempts per batch before giving up.
    #[arg(long, default_value_t = 5, value_name = "N")]
    retries: u32,
    /// IMAP: UIDs per FETCH (the whole response of one FETCH is held in memory).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    batch_size: usize,
    /// IMAP: largest response accepted, in MB (a longer line, literal or answer fails that
    /// command: a hostile server cannot exhaust memory).
    #[arg(long, default_value_t = 64, value_name = "MB")]
    max_response: u64,
}

impl ImapOpts {
    fn resolve(&self, url: &ImapUrl) -> Result<ImapOptions> {
        if self.insecure {
            err!(
                "bccaudit: WARNING: --insecure: the certificate of {} is not verified",
                url.server()
            );
        }
        if self.connections == 0 || self.batch_size == 0 || self.max_response == 0 {
            bail!("--connections, --batch-size and --max-response must be at least 1");
        }
        Ok(ImapOptions {
            auth: self.auth(url)?,
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
            allow_plaintext: self.allow_plaintext,
            connections: self.connections,
            timeout: Duration::from_secs(self.timeout.max(1)),
            retries: self.retries,
            batch: self.batch_size,
            folders: self.folders.clone(),
            all_folders: self.all_folders,
            max_response: self.max_response.saturating_mul(1 << 20),
        })
    }

    /// Credentials, in this order: --oauth2-token-file, --password-file, BCCAUDIT_IMAP_TOKEN,
    /// BCCAUDIT_IMAP_PASSWORD, a password in the URL (warned about), a no-echo prompt.
    fn auth(&self, url: &ImapUrl) -> Result<Auth> {
        let first_line = |p: &PathBuf, what: &str| -> Result<String> {
            let s =
                std::fs::read_to_string(p).with_context(|| format!("{what} {}", p.display()))?;
            let line = s.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                bail!("{what} {} is empty", p.display());
            }
            Ok(line)
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(p) = &self.oauth2_token_file {
            return Ok(Auth::OAuth2(first_line(p, "--oauth2-token-file")?));
        }
        if let Some(p) = &self.password_file {
            return Ok(Auth::Password(first_line(p, "--password-file")?));
        }
        if let Some(t) = env("BCCAUDIT_IMAP_TOKEN") {
            return Ok(Auth::OAuth2(t));
        }
        if let Some(p) = env("BCCAUDIT_IMAP_PASSWORD") {
            return Ok(Auth::Password(p));
        }
        if let Some(p) = &url.password {
            err!("bccaudit: WARNING: a password in the URL is visible to other users of this machine (process list, shell history); prefer BCCAUDIT_IMAP_PASSWORD or --password-file");
            return Ok(Auth::Password(p.clone()));
        }
        if std::io::stdin().is_terminal() {
            let p = rpassword::prompt_password(format!("IMAP password for {}: ", url.account()))
                .context("reading the password")?;
            return Ok(Auth::Password(p));
        }
        bail!(
            "no IMAP password for {}: set BCCAUDIT_IMAP_PASSWORD, use --password-file, or run on a terminal",
            url.account()
        )
    }
}

fn main() -> ExitCode {
    install_signal_cleanup();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with 0; errors are one masked line, exit 2.
            let text = mask_password(&e.render().to_string());
            if e.use_stderr() {
                eprint!("{}", terminal_safe(&text));
                return ExitCode::from(2);
            }
            print!("{text}");
            return ExitCode::SUCCESS;
        }
    };
    let r = match cli.command {
        Command::Scan(a) => run_scan(a, &args),
        Command::Folders(a) => run_folders(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            err!("bccaudit: {}", mask_password(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP are blocked in every thread (this runs before any is started) and
/// taken by one thread that removes the report being staged, so an interrupted run leaves no
/// personal data behind and the previous report untouched.
fn install_signal_cleanup() {
    // SAFETY: signal-mask calls on a zeroed, initialised sigset_t; sigwait in the thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("bccaudit-signals".into())
            .spawn(move || {
                let mut sig = 0;
                if libc::sigwait(&set, &mut sig) == 0 {
                    bccaudit::export::out_dir::remove_staging();
                    eprintln!("bccaudit: interrupted; no report was written");
                    std::process::exit(128 + sig);
                }
            });
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An IMAP URL, in any case spelling (`IMAPS://` too).
fn is_url(s: &std::ffi::OsStr) -> bool {
    s.to_str().is_some_and(|s| {
        let l = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        l.starts_with("imaps://") || l.starts_with("imap://")
    })
}

/// Parser threads at most, whatever --jobs says.
fn max_jobs() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn policy(a: &ScanArgs) -> Result<Policy> {
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

/// The command line as recorded in summary.json: any password in an IMAP URL is masked, in
/// every spelling; bytes that are not UTF-8 are recorded lossily.
fn recorded_arguments(args: &[std::ffi::OsString]) -> Vec<String> {
    args.iter()
        .map(|a| mask_password(&a.to_string_lossy()))
        .collect()
}

fn run_scan(a: ScanArgs, args: &[std::ffi::OsString]) -> Result<ExitCode> {
    let started = now();
    let clock = Instant::now();
    let policy = policy(&a)?;
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
    if a.inputs.iter().filter(|i| *i == "-").count() > 1 {
        bail!("standard input (-) can be given only once");
    }
    // Everything that can be refused is checked before a long scan: the output directory (and
    // its lock), the --state file's directory.
    let report_dir = ReportDir::prepare(&a.out, a.force).context("--out")?;
    let evidence_dir = if a.evidence {
        Some(export::evidence_dir(report_dir.path())?)
    } else {
        None
    };
    let mut state = match &a.imap.state {
        Some(p) => {
            export::check_writable(state_dir(p)).context("--state")?;
            State::load(p).map_err(|e| anyhow::anyhow!("--state {e}"))?
        }
        None => State::default(),
    };
    let own = report_dir.own_ids();
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let mut open_errors = Vec::new();
    let mut total = Some(0u64);
    let mut accounts: Vec<(ImapUrl, ImapOptions)> = Vec::new();
    for input in &a.inputs {
        if is_url(input) {
            let url = ImapUrl::parse(&input.to_string_lossy())?;
            let opts = a.imap.resolve(&url)?;
            let src = ImapSource::open(url.clone(), opts.clone(), Some(&state))?;
            accounts.push((url, opts));
            sources.push(Box::new(src));
            continue;
        }
        let path = std::path::Path::new(input);
        match source::open_path(path, !a.no_input_hash, &own) {
            Ok(s) => {
                match (input == "-", std::fs::metadata(path)) {
                    (true, _) => total = None,
                    (_, Ok(m)) if m.is_file() => total = total.map(|t| t + m.len()),
                    _ => total = None,
                }
                sources.push(s);
            }
            Err(e) => open_errors.push(e),
        }
    }
    let opts = scan::ScanOptions {
        policy,
        jobs,
        progress: !a.quiet,
        evidence_dir,
    };
    let t_scan = Instant::now();
    let mut result = scan::run(sources, total, &opts)?;
    let scan_secs = t_scan.elapsed().as_secs_f64();
    let t_analysis = Instant::now();
    result.errors.splice(0..0, open_errors);
    let mut report = analysis::analyse(std::mem::take(&mut result.findings), a.jaccard);
    // Each IMAP account with what its source read (sources are in input order).
    let imap_inputs: Vec<_> = result
        .inputs
        .iter()
        .filter_map(|i| i.imap.clone())
        .collect();
    let accounts: Vec<_> = accounts
        .into_iter()
        .zip(imap_inputs)
        .map(|((u, o), r)| (u, o, r))
        .collect();
    if let Some(dir) = &opts.evidence_dir {
        let errors = bccaudit::evidence::fetch_imap(&mut report, &accounts, dir);
        result.errors.extend(errors);
    }
    let analysis_secs = t_analysis.elapsed().as_secs_f64();
    let t_export = Instant::now();
    export::csv::write_all(&report, report_dir.path())?;
    let run = export::summary::RunInfo {
        arguments: recorded_arguments(args),
        started,
        finished: now(),
    };
    export::summary::write(
        report_dir.path(),
        &export::summary::build(&result, &report, &run),
    )?;
    report_dir.commit().context("--out")?;
    // The state moves on only once the report it covers is in place.
    if let Some(p) = &a.imap.state {
        for (_, _, record) in &accounts {
            state.record(record);
        }
        let name = p.file_name().context("--state needs a file name")?;
        export::write_atomic(state_dir(p), &name.to_string_lossy(), &state.to_json())
            .context("--state (the report was written; the next run reads these messages again)")?;
    }
    print_summary(&result, &report, &a, clock.elapsed().as_secs_f64());
    if a.verbose {
        out!(
            "Timings: scan {scan_secs:.2} s, analysis {analysis_secs:.2} s, export {:.2} s.",
            t_export.elapsed().as_secs_f64()
        );
    }

    for e in &result.errors {
        err!("bccaudit: could not read {e}");
    }
    Ok(if !result.errors.is_empty() {
        ExitCode::from(2)
    } else if a.fail_on_exposure && !report.messages.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The directory of the --state file.
fn state_dir(p: &std::path::Path) -> &std::path::Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    }
}

fn print_summary(s: &scan::ScanResult, r: &analysis::Report, a: &ScanArgs, secs: f64) {
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
    let mut largest: Vec<&analysis::Incident> = r.incidents.iter().collect();
    largest.sort_by(|x, y| y.external.cmp(&x.external).then(x.id.cmp(&y.id)));
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
            if a.verbose {
                format!("  from {}", i.senders.join(", "))
            } else {
                String::new()
            },
        );
    }
    out!(
        "Reports in {}: incidents.csv messages.csv affected.csv exposures.csv summary.json",
        a.out.display()
    );
}

fn run_folders(a: ImapArgs) -> Result<ExitCode> {
    let url = ImapUrl::parse(&a.url)?;
    let opts = a.imap.resolve(&url)?;
    let mut session = source::imap::connect(&url, &opts)?;
    let list = source::imap::list_folders(&mut session, &url.server())?;
    let chosen: Vec<String> = source::imap::choose_folders(&url, &opts, &list)
        .map(|v| v.into_iter().map(|f| f.name).collect())
        .unwrap_or_default();
    out!("{:<40} {:<28} {:>9}  scan", "folder", "flags", "messages");
    for f in &list {
        let count = if f.selectable {
            source::imap::message_count(&mut session, f).map_or("?".to_string(), |n| n.to_string())
        } else {
            "-".to_string()
        };
        out!(
            "{:<40} {:<28} {:>9}  {}",
            f.name,
            f.flags.join(" "),
            count,
            if chosen.contains(&f.name) { "yes" } else { "" }
        );
    }
    if chosen.is_empty() {
        out!("No Sent folder found: name one with --folder.");
    }
    let _ = session.logout();
    Ok(ExitCode::SUCCESS)
}
