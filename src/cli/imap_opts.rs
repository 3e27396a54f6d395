//! IMAP options shared by `scan` and `folders`, credentials, and the `folders` command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use bccaudit::source;
use bccaudit::source::imap::{Auth, ImapOptions, ImapUrl};

#[derive(Args)]
pub struct ImapArgs {
    /// imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]
    pub url: String,
    #[command(flatten)]
    pub imap: ImapOpts,
}

#[derive(Args, Clone, Default)]
pub struct ImapOpts {
    /// IMAP: read this folder (repeatable) instead of the Sent folders. PST: read only folders
    /// of this name or path (e.g. "Sent Items"; without it every folder is read).
    #[arg(long = "folder", value_name = "NAME")]
    pub folders: Vec<String>,
    /// IMAP: read every selectable folder.
    #[arg(long)]
    pub all_folders: bool,
    /// IMAP: read the password from this file (else BCCAUDIT_IMAP_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// IMAP: authenticate with XOAUTH2 using the access token in FILE (or BCCAUDIT_IMAP_TOKEN).
    #[arg(long, value_name = "FILE")]
    oauth2_token_file: Option<PathBuf>,
    /// IMAP: also trust this CA certificate (PEM).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// IMAP: do not verify the server's certificate (warned about on every run).
    #[arg(long)]
    pub insecure: bool,
    /// IMAP: allow imap:// without TLS when the server offers no STARTTLS.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// IMAP: parallel connections per server.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub connections: usize,
    /// IMAP: remember per folder the highest UID read; the next run reads only newer mail.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// IMAP: socket timeout in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
    /// IMAP: reconnect attempts per batch before giving up.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub retries: u32,
    /// IMAP: UIDs per FETCH (the whole response of one FETCH is held in memory).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: usize,
    /// IMAP: largest response accepted, in MB (a longer line, literal or answer fails that
    /// command: a hostile server cannot exhaust memory).
    #[arg(long, default_value_t = 64, value_name = "MB")]
    pub max_response: u64,
}

impl ImapOpts {
    pub fn resolve(&self, url: &ImapUrl) -> Result<ImapOptions> {
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

pub fn run_folders(a: ImapArgs) -> Result<ExitCode> {
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
