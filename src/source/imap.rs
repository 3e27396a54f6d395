//! IMAP Sent folders, read-only.
//!
//! Evidence is never modified: folders are opened with EXAMINE (never SELECT), messages are
//! read with `BODY.PEEK` (so `\Seen` is never set), and no STORE, COPY, MOVE, EXPUNGE or APPEND
//! is ever sent. Headers are fetched in bounded UID batches (the `imap` crate holds a whole
//! response in memory) over several connections; batches are handed on in UID order, so the
//! result does not depend on which connection was faster. A dropped connection is reopened with
//! backoff and the batch is fetched again: a batch is only handed on once complete, so nothing
//! is lost or counted twice.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{Batch, InputError, InputInfo, Location, Source, Unit};
use crate::warning::Warning;

/// Header bytes fetched from a server for one message.
pub type FetchedHeader = super::HeaderOnly;

/// The header fields detection needs; nothing else is transferred.
pub const HEADER_FIELDS: &str = "FROM SENDER TO CC BCC RESENT-TO RESENT-CC RESENT-BCC DATE SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES";

/// Sent-folder names tried when no folder carries the `\Sent` special-use flag.
pub const SENT_NAMES: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "INBOX.Sent Items",
    "INBOX.Sent Messages",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "Enviados",
    "Elementos enviados",
    "Posta inviata",
    "Inviati",
    "Elementi inviati",
    "Verzonden",
    "Verzonden items",
    "Itens enviados",
    "Wysłane",
    "Elementy wysłane",
    "Skickat",
    "Skickade objekt",
    "Sendt",
    "Sendte elementer",
    "Lähetetyt",
    "Odeslaná pošta",
    "Elküldött elemek",
    "Trimise",
    "Απεσταλμένα",
];

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("bad IMAP URL {0:?}: expected imaps://USER@HOST[:PORT][/FOLDER] or imap://…")]
    Url(String),
    #[error("cannot connect to {server}: {message}")]
    Connect { server: String, message: String },
    #[error("TLS with {server} failed: {message}")]
    Tls { server: String, message: String },
    #[error("{server} does not offer STARTTLS; use imaps://, or --allow-plaintext to send the password unencrypted")]
    NoStartTls { server: String },
    #[error("{server} advertises LOGINDISABLED: it does not accept a password on this connection, so none was sent; use imaps:// or a server offering STARTTLS, or --oauth2-token-file")]
    LoginDisabled { server: String },
    #[error("login refused by {server} for user {user}")]
    LoginRefused { server: String, user: String },
    #[error("{server}: {message}")]
    Protocol { server: String, message: String },
    #[error("{server}: no Sent folder found (no \\Sent flag, no usual name); use --folder NAME (see `bccaudit folders`)")]
    NoSentFolder { server: String },
    #[error("{server}: no folder named {folder:?} (see `bccaudit folders`)")]
    NoSuchFolder { server: String, folder: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// imaps://: TLS from the first byte.
    Implicit,
    /// imap://: STARTTLS (plaintext only with --allow-plaintext).
    StartTls,
}

/// `imaps://USER@HOST[:PORT][/FOLDER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub security: Security,
    pub user: String,
    /// A password written in the URL (works, but warned about).
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub folder: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode a folder or user name for a URL (RFC 3986 unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `s` with the password of every `imap://` / `imaps://` URL in it (any case spelling) replaced
/// by `***`. The userinfo runs to the last `@`, so a user or password holding an unencoded `@`
/// is masked whole; where that over-reaches (an `@` in a folder name) more is masked, never less.
pub fn mask_password(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find("imap").map(|i| at + i) {
        let rest = &lower[i..];
        let skip = if rest.starts_with("imaps://") {
            8
        } else if rest.starts_with("imap://") {
            7
        } else {
            out.push_str(&s[at..i + 4]);
            at = i + 4;
            continue;
        };
        let start = i + skip;
        // The URL ends at whitespace (an error message may go on after it).
        let end = s[start..]
            .find(|c: char| c.is_whitespace() || c == '"')
            .map_or(s.len(), |e| start + e);
        let url = &s[start..end];
        out.push_str(&s[at..start]);
        match (url.find(':'), url.rfind('@')) {
            (Some(c), Some(a)) if c < a => {
                out.push_str(&url[..c]);
                out.push_str(":***");
                out.push_str(&url[a..]);
            }
            _ => out.push_str(url),
        }
        at = end;
    }
    out.push_str(&s[at..]);
    out
}

impl ImapUrl {
    pub fn parse(s: &str) -> Result<ImapUrl, ImapError> {
        let bad = || ImapError::Url(mask_password(s));
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        let (security, rest) = if lower.starts_with("imaps://") {
            (Security::Implicit, &s[8..])
        } else if lower.starts_with("imap://") {
            (Security::StartTls, &s[7..])
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (userinfo, hostport) = authority.rsplit_once('@').ok_or_else(bad)?;
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
            None => (percent_decode(userinfo), None),
        };
        let default_port = if security == Security::Implicit {
            993
        } else {
            143
        };
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, rest) = h.split_once(']').ok_or_else(bad)?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if rest.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (hostport.to_string(), default_port),
            }
        };
        if user.is_empty() || host.is_empty() {
            return Err(bad());
        }
        let folder = path
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .map(percent_decode);
        Ok(ImapUrl {
            security,
            user,
            password,
            host,
            port,
            folder,
        })
    }

    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The account as used in `--state`: `user@host:port`.
    pub fn account(&self) -> String {
        format!("{}@{}", self.user, self.server())
    }

    /// RFC 5092-style URL of a mailbox (no password).
    pub fn mailbox_url(&self, folder: &str) -> String {
        let scheme = match self.security {
            Security::Implicit => "imaps",
            Security::StartTls => "imap",
        };
        let default = if self.security == Security::Implicit {
            993
        } else {
            143
        };
        let port = if self.port == default {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{scheme}://{}@{host}{port}/{}",
            percent_encode(&self.user).replace('/', "%2F"),
            percent_encode(folder)
        )
    }
}

/// How to authenticate.
#[derive(Clone)]
pub enum Auth {
    Password(String),
    /// XOAUTH2 access token (Gmail, Microsoft 365).
    OAuth2(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        match self {
            Auth::Password(_) => f.write_str("Password(***)"),
            Auth::OAuth2(_) => f.write_str("OAuth2(***)"),
        }
    }
}

/// Connection settings shared by every connection to one server.
#[derive(Clone, Debug)]
pub struct ImapOptions {
    pub auth: Auth,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub allow_plaintext: bool,
    pub connections: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// UIDs per FETCH.
    pub batch: usize,
    pub folders: Vec<String>,
    pub all_folders: bool,
    /// Bytes one response may take at most (a line, a literal, a whole answer).
    pub max_response: u64,
}

/// The TCP connection under TLS, with two bounds the `imap` crate does not have: every
/// response must be complete within the timeout (a server sending one byte every half second
/// cannot hold a scan forever), and within `max` bytes (a line that never ends, a literal of
/// `{999999999999}`, endless untagged responses cannot exhaust memory). Both restart with each
/// command written; the first response (the greeting) is bounded from the connection.
#[derive(Debug)]
pub struct Deadline {
    tcp: TcpStream,
    timeout: Duration,
    max: u64,
    deadline: std::time::Instant,
    used: u64,
}

impl Deadline {
    pub fn new(tcp: TcpStream, timeout: Duration, max: u64) -> Deadline {
        Deadline {
            tcp,
            timeout,
            max,
            deadline: std::time::Instant::now() + timeout,
            used: 0,
        }
    }
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error, ErrorKind};
        let secs = self.timeout.as_secs();
        let left = self
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!("no complete response within {secs} s (--timeout)"),
            ));
        }
        self.tcp
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match self.tcp.read(buf) {
            Ok(n) => {
                self.used += n as u64;
                if self.used > self.max {
                    return Err(Error::other(format!(
                        "response larger than {} MB (--max-response)",
                        self.max >> 20
                    )));
                }
                Ok(n)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Error::new(
                    ErrorKind::TimedOut,
                    format!("timed out after {secs} s waiting for the server"),
                ))
            }
            Err(e) => Err(e),
        }
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A new command: its response gets the whole timeout and budget.
        self.deadline = std::time::Instant::now() + self.timeout;
        self.used = 0;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// TLS or plain TCP.
#[derive(Debug)]
pub enum Stream {
    Tls(Box<native_tls::TlsStream<Deadline>>),
    Plain(Deadline),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tls(s) => s.read(buf),
            Stream::Plain(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tls(s) => s.write(buf),
            Stream::Plain(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush(),
            Stream::Plain(s) => s.flush(),
        }
    }
}

/// The connection, shared between the `imap` crate's session (login, LIST, EXAMINE, SEARCH) and
/// bccaudit's own reader for bulk `UID FETCH` responses ([`fetch_headers`]). Only one of them
/// uses it at a time, always between complete command/response exchanges.
#[derive(Debug, Clone)]
pub struct SharedStream(Arc<Mutex<Stream>>);

impl Read for SharedStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).read(buf)
    }
}

impl Write for SharedStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

pub type Session = imap::Session<SharedStream>;

/// An authenticated connection: the crate's session and the raw stream under it.
pub struct Conn {
    pub session: Session,
    raw: SharedStream,
    tag: u32,
}

struct XOAuth2<'a> {
    user: &'a str,
    token: &'a str,
}

impl imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&self, _: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

fn tls_connector(opts: &ImapOptions, server: &str) -> Result<native_tls::TlsConnector, ImapError> {
    let err = |message: String| ImapError::Tls {
        server: server.to_string(),
        message,
    };
    let mut b = native_tls::TlsConnector::builder();
    if let Some(ca) = &opts.ca_file {
        let pem = std::fs::read(ca).map_err(|e| err(format!("--ca-file {}: {e}", ca.display())))?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| err(format!("--ca-file {}: {e}", ca.display())))?;
        b.add_root_certificate(cert);
    }
    if opts.insecure {
        b.danger_accept_invalid_certs(true);
        b.danger_accept_invalid_hostnames(true);
    }
    b.build().map_err(|e| err(e.to_string()))
}

/// Read one CRLF-terminated line from a raw stream (only used before STARTTLS).
fn read_line(s: &mut Deadline) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if s.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(b[0]);
        if line.len() > 64 << 10 {
            return Err(std::io::Error::other("line too long"));
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Open one authenticated session.
pub fn connect(url: &ImapUrl, opts: &ImapOptions) -> Result<Session, ImapError> {
    connect_raw(url, opts).map(|c| c.session)
}

/// Open one authenticated connection, keeping a handle on the raw stream.
pub fn connect_raw(url: &ImapUrl, opts: &ImapOptions) -> Result<Conn, ImapError> {
    let server = url.server();
    let cerr = |message: String| ImapError::Connect {
        server: server.clone(),
        message,
    };
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| cerr(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, opts.timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let tcp = tcp.ok_or_else(|| cerr(last))?;
    tcp.set_read_timeout(Some(opts.timeout))
        .map_err(|e| cerr(e.to_string()))?;
    tcp.set_write_timeout(Some(opts.timeout))
        .map_err(|e| cerr(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let mut tcp = Deadline::new(tcp, opts.timeout, opts.max_response);
    let tls_err = |message: String| ImapError::Tls {
        server: server.clone(),
        message,
    };
    let stream = match url.security {
        Security::Implicit => {
            let c = tls_connector(opts, &server)?;
            Stream::Tls(Box::new(
                c.connect(&url.host, tcp)
                    .map_err(|e| tls_err(e.to_string()))?,
            ))
        }
        Security::StartTls => {
            let greeting = read_line(&mut tcp).map_err(|e| cerr(e.to_string()))?;
            if !greeting.starts_with("* OK") {
                return Err(cerr(format!(
                    "unexpected greeting {:?}",
                    greeting.trim_end()
                )));
            }
            tcp.write_all(b"s0 STARTTLS\r\n")
                .map_err(|e| cerr(e.to_string()))?;
            let ok = loop {
                let l = read_line(&mut tcp).map_err(|e| cerr(e.to_string()))?;
                if let Some(rest) = l.strip_prefix("s0 ") {
                    break rest.starts_with("OK");
                }
            };
            if ok {
                let c = tls_connector(opts, &server)?;
                Stream::Tls(Box::new(
                    c.connect(&url.host, tcp)
                        .map_err(|e| tls_err(e.to_string()))?,
                ))
            } else if opts.allow_plaintext {
                Stream::Plain(tcp)
            } else {
                return Err(ImapError::NoStartTls { server });
            }
        }
    };
    let raw = SharedStream(Arc::new(Mutex::new(stream)));
    let mut client = imap::Client::new(raw.clone());
    if url.security == Security::Implicit {
        client.read_greeting().map_err(|e| cerr(e.to_string()))?;
    }
    if let Auth::Password(_) = &opts.auth {
        // RFC 3501: LOGINDISABLED means the server will not take a password here; sending one
        // anyway would put it on the wire for nothing (or in clear).
        let caps = client.capabilities().map_err(|e| cerr(e.to_string()))?;
        if caps.has_str("LOGINDISABLED") {
            return Err(ImapError::LoginDisabled { server });
        }
    }
    let refused = |e: imap::Error| match e {
        imap::Error::No(_) | imap::Error::Bad(_) => ImapError::LoginRefused {
            server: server.clone(),
            user: url.user.clone(),
        },
        other => cerr(other.to_string()),
    };
    let session = match &opts.auth {
        Auth::Password(p) => client.login(&url.user, p).map_err(|(e, _)| refused(e)),
        Auth::OAuth2(t) => client
            .authenticate(
                "XOAUTH2",
                &XOAuth2 {
                    user: &url.user,
                    token: t,
                },
            )
            .map_err(|(e, _)| refused(e)),
    }?;
    Ok(Conn {
        session,
        raw,
        tag: 0,
    })
}

/// One message of a header FETCH.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FetchedItem {
    pub uid: Option<u32>,
    pub size: Option<u32>,
    pub internal_date: Option<i64>,
    pub header: Option<Vec<u8>>,
}

/// Reads IMAP responses from the raw stream: lines, and literals by their announced length, each
/// byte looked at once. (The `imap` crate re-parses a response from its start after every line
/// while a literal is incomplete, which made header fetches CPU-bound.)
pub struct ResponseReader {
    buf: Vec<u8>,
    pos: usize,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader {
            buf: Vec::with_capacity(256 << 10),
            pos: 0,
        }
    }
}

impl ResponseReader {
    fn fill(&mut self, r: &mut impl Read) -> std::io::Result<()> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + (256 << 10), 0);
        let n = loop {
            match r.read(&mut self.buf[old..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                x => break x,
            }
        };
        self.buf.truncate(old + *n.as_ref().unwrap_or(&0));
        match n {
            Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The next line, CRLF excluded.
    fn line(&mut self, r: &mut impl Read) -> std::io::Result<Vec<u8>> {
        let mut from = self.pos;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..]) {
                let end = from + i;
                let line = self.buf[self.pos..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&self.buf[self.pos..end])
                    .to_vec();
                self.pos = end + 1;
                return Ok(line);
            }
            let seen = self.buf.len() - self.pos;
            self.fill(r)?;
            from = self.pos + seen;
        }
    }

    fn take(&mut self, n: usize, r: &mut impl Read) -> std::io::Result<Vec<u8>> {
        while self.buf.len() - self.pos < n {
            self.fill(r)?;
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }

    /// One whole response: its text with each literal replaced by a `{#k}` marker, and the
    /// literals.
    fn response(&mut self, r: &mut impl Read) -> std::io::Result<(Vec<u8>, Vec<Vec<u8>>)> {
        let mut text = Vec::new();
        let mut lits = Vec::new();
        loop {
            let line = self.line(r)?;
            match literal_len(&line) {
                Some((n, open)) => {
                    text.extend_from_slice(&line[..open]);
                    text.extend_from_slice(format!("{{#{}}}", lits.len()).as_bytes());
                    lits.push(self.take(n, r)?);
                }
                None => {
                    text.extend_from_slice(&line);
                    return Ok((text, lits));
                }
            }
        }
    }
}

/// `… {123}` at the end of a line: (123, index of `{`).
fn literal_len(line: &[u8]) -> Option<(usize, usize)> {
    let body = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', body)?;
    let digits = &body[open + 1..];
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((std::str::from_utf8(digits).ok()?.parse().ok()?, open))
}

/// Parse `* n FETCH (…)` into its items; other responses give `None`.
pub fn parse_fetch(text: &[u8], lits: &mut [Vec<u8>]) -> Option<FetchedItem> {
    let rest = text.strip_prefix(b"* ")?;
    let sp = memchr::memchr(b' ', rest)?;
    if !rest[..sp].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &rest[sp + 1..];
    if rest.len() < 7 || !rest[..7].eq_ignore_ascii_case(b"FETCH (") {
        return None;
    }
    let s = &rest[7..];
    let mut item = FetchedItem::default();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i] == b' ' {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= s.len() || s[i] == b')' {
            break;
        }
        // Key: an atom, with a bracketed section (which may hold spaces) and a <partial>.
        let ks = i;
        let mut depth = 0;
        while i < s.len() {
            match s[i] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                b' ' | b'(' | b')' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        let key = s[ks..i].to_ascii_uppercase();
        skip_ws(&mut i);
        // Value.
        let vs = i;
        let value: Value = match s.get(i) {
            Some(b'(') => {
                let mut d = 0;
                while i < s.len() {
                    match s[i] {
                        b'(' => d += 1,
                        b')' => {
                            d -= 1;
                            if d == 0 {
                                i += 1;
                                break;
                            }
                        }
                        b'"' => i = skip_imap_quoted(s, i) - 1,
                        _ => {}
                    }
                    i += 1;
                }
                Value::Other
            }
            Some(b'"') => {
                i = skip_imap_quoted(s, i);
                Value::Bytes(unquote(&s[vs..i]))
            }
            Some(b'{') if s.get(i + 1) == Some(&b'#') => {
                let close = i + memchr::memchr(b'}', &s[i..])?;
                let k: usize = std::str::from_utf8(&s[i + 2..close]).ok()?.parse().ok()?;
                i = close + 1;
                Value::Bytes(std::mem::take(lits.get_mut(k)?))
            }
            _ => {
                while i < s.len() && s[i] != b' ' && s[i] != b')' {
                    i += 1;
                }
                Value::Atom(&s[vs..i])
            }
        };
        let num = |v: &Value| match v {
            Value::Atom(a) => std::str::from_utf8(a).ok()?.parse::<u32>().ok(),
            _ => None,
        };
        match key.as_slice() {
            b"UID" => item.uid = num(&value),
            b"RFC822.SIZE" => item.size = num(&value),
            b"INTERNALDATE" => {
                if let Value::Bytes(b) = &value {
                    item.internal_date = parse_internaldate(b);
                }
            }
            k if k.starts_with(b"BODY[") => {
                if let Value::Bytes(b) = value {
                    item.header = Some(b);
                }
            }
            _ => {}
        }
    }
    Some(item)
}

enum Value<'a> {
    Atom(&'a [u8]),
    Bytes(Vec<u8>),
    Other,
}

/// End (exclusive) of a quoted string starting at `i`.
fn skip_imap_quoted(s: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    s.len()
}

fn unquote(q: &[u8]) -> Vec<u8> {
    let inner = q.strip_prefix(b"\"").unwrap_or(q);
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// INTERNALDATE `17-Jul-1996 02:44:25 -0700` to Unix seconds.
pub fn parse_internaldate(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let (date, rest) = s.split_once(' ')?;
    let date = date.replace('-', " ");
    crate::parse::date::parse_header_date(format!("{date} {rest}").as_bytes())
}

impl Conn {
    /// `UID FETCH set (UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (…)])`, read with
    /// [`ResponseReader`]. The folder must already be EXAMINEd.
    pub fn fetch_headers(
        &mut self,
        reader: &mut ResponseReader,
        set: &str,
    ) -> Result<Vec<FetchedItem>, String> {
        self.tag += 1;
        let tag = format!("bcc{}", self.tag);
        let cmd = format!("{tag} UID FETCH {set} (UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])\r\n");
        let mut raw = self.raw.clone();
        raw.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
        raw.flush().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        loop {
            let (text, mut lits) = reader.response(&mut raw).map_err(|e| e.to_string())?;
            if let Some(rest) = text.strip_prefix(tag.as_bytes()) {
                let rest = String::from_utf8_lossy(rest);
                return if rest.trim_start().to_ascii_uppercase().starts_with("OK") {
                    Ok(out)
                } else {
                    Err(format!("UID FETCH refused:{rest}"))
                };
            }
            if let Some(item) = parse_fetch(&text, &mut lits) {
                if item.uid.is_some() {
                    out.push(item);
                }
            } else if text.starts_with(b"* BYE") {
                return Err(String::from_utf8_lossy(&text).into_owned());
            }
        }
    }
}

/// Decode an IMAP modified UTF-7 mailbox name (RFC 3501 §5.1.3).
pub fn decode_mutf7(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find('-') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let mut bits: u32 = 0;
            let mut n = 0;
            let mut units: Vec<u16> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            for c in b64.bytes() {
                let v = match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a' + 26,
                    b'0'..=b'9' => c - b'0' + 52,
                    b'+' => 62,
                    b',' => 63,
                    _ => 0,
                } as u32;
                bits = (bits << 6) | v;
                n += 6;
                if n >= 8 {
                    n -= 8;
                    bytes.push((bits >> n) as u8);
                    bits &= (1 << n) - 1;
                }
            }
            for pair in bytes.chunks(2) {
                if pair.len() == 2 {
                    units.push(u16::from_be_bytes([pair[0], pair[1]]));
                }
            }
            out.push_str(&String::from_utf16_lossy(&units));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One folder as the server lists it.
#[derive(Debug, Clone)]
pub struct Folder {
    /// As sent on the wire (modified UTF-7).
    pub raw: String,
    /// Decoded for people.
    pub name: String,
    pub flags: Vec<String>,
    pub selectable: bool,
    pub sent: bool,
}

pub fn list_folders(session: &mut Session, server: &str) -> Result<Vec<Folder>, ImapError> {
    let perr = |e: imap::Error| ImapError::Protocol {
        server: server.to_string(),
        message: e.to_string(),
    };
    let names = session.list(Some(""), Some("*")).map_err(perr)?;
    let mut out: Vec<Folder> = names
        .iter()
        .map(|n| {
            use imap_proto::NameAttribute as A;
            let flags: Vec<String> = n
                .attributes()
                .iter()
                .map(|a| match a {
                    A::NoInferiors => "\\Noinferiors".to_string(),
                    A::NoSelect => "\\Noselect".to_string(),
                    A::Marked => "\\Marked".to_string(),
                    A::Unmarked => "\\Unmarked".to_string(),
                    A::All => "\\All".to_string(),
                    A::Archive => "\\Archive".to_string(),
                    A::Drafts => "\\Drafts".to_string(),
                    A::Flagged => "\\Flagged".to_string(),
                    A::Junk => "\\Junk".to_string(),
                    A::Sent => "\\Sent".to_string(),
                    A::Trash => "\\Trash".to_string(),
                    A::Extension(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            let selectable = !n.attributes().iter().any(|a| {
                matches!(a, A::NoSelect)
                    || matches!(a, A::Extension(s) if s.eq_ignore_ascii_case("\\NonExistent"))
            });
            let sent = n.attributes().iter().any(|a| matches!(a, A::Sent));
            Folder {
                raw: n.name().to_string(),
                name: decode_mutf7(n.name()),
                flags,
                selectable,
                sent,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Which folders `scan` reads: `--folder`s (or the URL's), all with `--all-folders`, else those
/// flagged `\Sent`, else the first usual Sent names found.
pub fn choose_folders(
    url: &ImapUrl,
    opts: &ImapOptions,
    list: &[Folder],
) -> Result<Vec<Folder>, ImapError> {
    let server = url.server();
    let mut wanted: Vec<String> = opts.folders.clone();
    if let Some(f) = &url.folder {
        wanted.push(f.clone());
    }
    if !wanted.is_empty() {
        return wanted
            .iter()
            .map(|w| {
                list.iter()
                    .find(|f| f.name == *w || f.raw == *w)
                    .or_else(|| list.iter().find(|f| f.name.eq_ignore_ascii_case(w)))
                    .cloned()
                    .ok_or_else(|| ImapError::NoSuchFolder {
                        server: server.clone(),
                        folder: w.clone(),
                    })
            })
            .collect();
    }
    if opts.all_folders {
        return Ok(list.iter().filter(|f| f.selectable).cloned().collect());
    }
    let flagged: Vec<Folder> = list
        .iter()
        .filter(|f| f.sent && f.selectable)
        .cloned()
        .collect();
    if !flagged.is_empty() {
        return Ok(flagged);
    }
    let by_name: Vec<Folder> = list
        .iter()
        .filter(|f| {
            f.selectable
                && SENT_NAMES.iter().any(|n| {
                    n.eq_ignore_ascii_case(&f.name)
                        || f.name
                            .rsplit(['/', '.'])
                            .next()
                            .is_some_and(|leaf| leaf.eq_ignore_ascii_case(n))
                })
        })
        .cloned()
        .collect();
    if by_name.is_empty() {
        return Err(ImapError::NoSentFolder { server });
    }
    Ok(by_name)
}

/// Message count of a folder (STATUS; EXAMINE never changes anything either).
pub fn message_count(session: &mut Session, folder: &Folder) -> Option<u32> {
    session
        .status(&folder.raw, "(MESSAGES)")
        .ok()
        .map(|m| m.exists)
}

/// Compress sorted UIDs into an IMAP sequence set: `1:5,7,9:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What was read of one account (recorded in summary.json, and in `--state`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ImapRecord {
    /// `user@host:port`.
    pub account: String,
    pub folders: Vec<Coverage>,
    /// Connections reopened after a failure.
    pub reconnects: u64,
}

/// What was read of one folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Coverage {
    pub folder: String,
    /// RFC 5092 URL of the folder (the prefix of its messages' locations).
    pub mailbox_url: String,
    pub uidvalidity: u32,
    /// UIDs read: first and last (0, 0 when none).
    pub first_uid: u32,
    pub last_uid: u32,
    pub messages: u64,
    /// Only UIDs above this were read (from `--state`).
    pub after_uid: u32,
    /// The folder's UIDVALIDITY had changed since the state was saved: it was read whole.
    pub uidvalidity_changed: bool,
    /// Every batch was read.
    pub complete: bool,
}

/// `--state` file contents: per account, per folder, the UIDVALIDITY and the highest UID read.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, BTreeMap<String, FolderState>>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

impl State {
    /// Read a state file; a missing file is an empty state.
    pub fn load(path: &std::path::Path) -> Result<State, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("{}: not a bccaudit state file ({e})", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Remember, per folder read completely, its UIDVALIDITY and the highest UID read.
    pub fn record(&mut self, r: &ImapRecord) {
        let account = self.accounts.entry(r.account.clone()).or_default();
        for c in r.folders.iter().filter(|c| c.complete) {
            account.insert(
                c.folder.clone(),
                FolderState {
                    uidvalidity: c.uidvalidity,
                    last_uid: c.last_uid.max(c.after_uid),
                },
            );
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

struct WorkItem {
    folder: usize,
    uids: Vec<u32>,
}

struct PlannedFolder {
    folder: Folder,
    uidvalidity: u32,
    mailbox_url: Arc<str>,
    coverage: Coverage,
}

/// One fetched batch: headers, warnings, or the error that stopped it.
enum Fetched {
    Read(Vec<FetchedHeader>, Vec<Warning>),
    /// Retries exhausted: the batch, named.
    Failed(InputError),
    /// Not attempted: an earlier batch exhausted its retries, the server is gone.
    Skipped,
}

/// Fetched batches waiting to be handed on in order, and how many have been.
#[derive(Default)]
struct Pending {
    ready: BTreeMap<usize, Fetched>,
    handed_on: usize,
}

struct Shared {
    results: Mutex<Pending>,
    cond: Condvar,
    next: AtomicUsize,
    reconnects: AtomicU64,
    /// Set when a batch exhausted its retries: the remaining batches are not attempted (each
    /// would wait out its own retries against a server that is gone).
    gave_up: std::sync::atomic::AtomicBool,
}

/// The IMAP source for one URL.
pub struct ImapSource {
    url: ImapUrl,
    folders: Vec<PlannedFolder>,
    items: Arc<Vec<WorkItem>>,
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
    emitted: usize,
    warnings: Vec<Warning>,
    /// Per folder, the UID range of batches skipped after giving up.
    skipped: BTreeMap<usize, (u32, u32)>,
}

impl ImapSource {
    /// Connect, choose the folders and plan the UID batches. Fails early (before any report is
    /// written) on a bad URL, a refused login or a missing folder.
    pub fn open(
        url: ImapUrl,
        opts: ImapOptions,
        state: Option<&State>,
    ) -> Result<ImapSource, ImapError> {
        let server = url.server();
        let perr = |e: imap::Error| ImapError::Protocol {
            server: server.clone(),
            message: e.to_string(),
        };
        let mut session = connect(&url, &opts)?;
        let list = list_folders(&mut session, &server)?;
        let chosen = choose_folders(&url, &opts, &list)?;
        let account = url.account();
        let mut folders = Vec::new();
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        for (fi, f) in chosen.into_iter().enumerate() {
            let mb = session.examine(&f.raw).map_err(perr)?;
            let uidvalidity = mb.uid_validity.unwrap_or(0);
            let prior = state
                .and_then(|s| s.accounts.get(&account))
                .and_then(|a| a.get(&f.name));
            let (after, changed) = match prior {
                Some(p) if p.uidvalidity == uidvalidity => (p.last_uid, false),
                Some(_) => (0, true),
                None => (0, false),
            };
            let mailbox_url: Arc<str> = url.mailbox_url(&f.name).into();
            if changed {
                warnings.push(Warning::new(
                    "imap-uidvalidity-changed-folder-rescanned",
                    mailbox_url.to_string(),
                ));
            }
            let mut uids: Vec<u32> = if mb.exists == 0 {
                Vec::new()
            } else {
                let q = if after > 0 {
                    format!("UID {}:*", after + 1)
                } else {
                    "ALL".to_string()
                };
                session
                    .uid_search(q)
                    .map_err(perr)?
                    .into_iter()
                    .filter(|&u| u > after)
                    .collect()
            };
            uids.sort_unstable();
            for chunk in uids.chunks(opts.batch.max(1)) {
                items.push(WorkItem {
                    folder: fi,
                    uids: chunk.to_vec(),
                });
            }
            folders.push(PlannedFolder {
                coverage: Coverage {
                    folder: f.name.clone(),
                    mailbox_url: mailbox_url.to_string(),
                    uidvalidity,
                    first_uid: uids.first().copied().unwrap_or(0),
                    last_uid: uids.last().copied().unwrap_or(0),
                    messages: uids.len() as u64,
                    after_uid: after,
                    uidvalidity_changed: changed,
                    complete: true,
                },
                folder: f,
                uidvalidity,
                mailbox_url,
            });
        }
        let _ = session.logout();
        let items = Arc::new(items);
        let shared = Arc::new(Shared {
            results: Mutex::new(Pending::default()),
            cond: Condvar::new(),
            next: AtomicUsize::new(0),
            reconnects: AtomicU64::new(0),
            gave_up: Default::default(),
        });
        let n = opts.connections.max(1).min(items.len().max(1));
        let window = 4 * n;
        let plan: Arc<Vec<(String, u32, Arc<str>)>> = Arc::new(
            folders
                .iter()
                .map(|p| (p.folder.raw.clone(), p.uidvalidity, p.mailbox_url.clone()))
                .collect(),
        );
        let workers = (0..n)
            .map(|_| {
                let (items, shared, plan, url, opts) = (
                    items.clone(),
                    shared.clone(),
                    plan.clone(),
                    url.clone(),
                    opts.clone(),
                );
                std::thread::spawn(move || worker(&url, &opts, &items, &plan, &shared, window))
            })
            .collect();
        Ok(ImapSource {
            url,
            folders,
            items,
            shared,
            workers,
            emitted: 0,
            warnings,
            skipped: BTreeMap::new(),
        })
    }

    pub fn coverage(&self) -> Vec<Coverage> {
        self.folders.iter().map(|f| f.coverage.clone()).collect()
    }
}

/// A fetch connection: takes the next batch, fetches it (reconnecting as needed), hands it in.
fn worker(
    url: &ImapUrl,
    opts: &ImapOptions,
    items: &[WorkItem],
    plan: &[(String, u32, Arc<str>)],
    shared: &Shared,
    window: usize,
) {
    let mut session: Option<(Conn, usize)> = None;
    let mut reader = ResponseReader::default();
    loop {
        let k = shared.next.fetch_add(1, Ordering::SeqCst);
        if k >= items.len() {
            break;
        }
        {
            // Do not run more than `window` batches ahead of what has been handed on.
            let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
            while k >= g.handed_on + window {
                g = shared.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        }
        if shared.gave_up.load(Ordering::SeqCst) {
            let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
            g.ready.insert(k, Fetched::Skipped);
            shared.cond.notify_all();
            continue;
        }
        let item = &items[k];
        let (raw, uidvalidity, mailbox_url) = &plan[item.folder];
        let mut attempt = 0;
        let result = loop {
            match fetch_batch(
                url,
                opts,
                &mut session,
                &mut reader,
                item,
                raw,
                *uidvalidity,
                mailbox_url,
            ) {
                Ok(r) => break Ok(r),
                Err(e) => {
                    session = None;
                    reader = ResponseReader::default();
                    if attempt >= opts.retries {
                        shared.gave_up.store(true, Ordering::SeqCst);
                        break Err(InputError {
                            location: format!(
                                "{mailbox_url};UIDVALIDITY={uidvalidity}/;UID={}:{}",
                                item.uids.first().copied().unwrap_or(0),
                                item.uids.last().copied().unwrap_or(0)
                            ),
                            message: format!(
                                "could not be read after {} attempts: {e}",
                                attempt + 1
                            ),
                        });
                    }
                    attempt += 1;
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    let backoff =
                        Duration::from_millis(100u64 << attempt.min(6)).min(Duration::from_secs(5));
                    std::thread::sleep(backoff);
                }
            }
        };
        let entry = match result {
            Ok((h, w)) => Fetched::Read(h, w),
            Err(e) => Fetched::Failed(e),
        };
        let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
        g.ready.insert(k, entry);
        shared.cond.notify_all();
    }
    if let Some((mut c, _)) = session {
        let _ = c.session.logout();
    }
}

#[allow(clippy::too_many_arguments)]
fn fetch_batch(
    url: &ImapUrl,
    opts: &ImapOptions,
    session: &mut Option<(Conn, usize)>,
    reader: &mut ResponseReader,
    item: &WorkItem,
    raw_folder: &str,
    uidvalidity: u32,
    mailbox_url: &Arc<str>,
) -> Result<(Vec<FetchedHeader>, Vec<Warning>), String> {
    if session.as_ref().is_none_or(|(_, f)| *f != item.folder) {
        let mut s = match session.take() {
            Some((s, _)) => s,
            None => connect_raw(url, opts).map_err(|e| e.to_string())?,
        };
        let mb = s.session.examine(raw_folder).map_err(|e| e.to_string())?;
        if mb.uid_validity.unwrap_or(0) != uidvalidity {
            return Err(format!(
                "UIDVALIDITY of {raw_folder} changed during the scan"
            ));
        }
        *session = Some((s, item.folder));
    }
    let (s, _) = session.as_mut().ok_or("no session")?;
    let fetched = s.fetch_headers(reader, &uid_set(&item.uids))?;
    if fetched.is_empty() && !item.uids.is_empty() {
        // Not "all of them vanished": a server that answers OK with nothing has not been read.
        return Err(format!(
            "the server answered with none of the {} messages asked for",
            item.uids.len()
        ));
    }
    let mut got: HashMap<u32, FetchedHeader> = HashMap::new();
    for f in fetched {
        let Some(uid) = f.uid else { continue };
        got.insert(
            uid,
            FetchedHeader {
                header: f.header.unwrap_or_default(),
                location: Location::Imap {
                    mailbox_url: mailbox_url.clone(),
                    uidvalidity,
                    uid,
                },
                size: u64::from(f.size.unwrap_or(0)),
                internal_date: f.internal_date,
                sha256: None,
            },
        );
    }
    let mut out = Vec::with_capacity(item.uids.len());
    let mut warnings = Vec::new();
    for uid in &item.uids {
        match got.remove(uid) {
            Some(h) => out.push(h),
            // Expunged by someone else between SEARCH and FETCH.
            None => warnings.push(Warning::new(
                "imap-message-vanished",
                format!("{mailbox_url};UIDVALIDITY={uidvalidity}/;UID={uid}"),
            )),
        }
    }
    Ok((out, warnings))
}

impl Source for ImapSource {
    fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = Batch {
            warnings: std::mem::take(&mut self.warnings),
            ..Batch::default()
        };
        if self.emitted >= self.items.len() {
            // Batches not attempted after the server was given up on, one range per folder.
            for (f, (first, last)) in std::mem::take(&mut self.skipped) {
                let pf = &self.folders[f];
                batch.errors.push(InputError {
                    location: format!(
                        "{};UIDVALIDITY={}/;UID={first}:{last}",
                        pf.mailbox_url, pf.uidvalidity
                    ),
                    message: "not read: the server was given up on after an earlier batch failed"
                        .into(),
                });
            }
            return (!batch.warnings.is_empty() || !batch.errors.is_empty()).then_some(batch);
        }
        let k = self.emitted;
        let fetched = {
            let mut g = self
                .shared
                .results
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(r) = g.ready.remove(&k) {
                    g.handed_on = k + 1;
                    self.shared.cond.notify_all();
                    break r;
                }
                g = self.shared.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        self.emitted += 1;
        let item = &self.items[k];
        batch.folder = Some(item.folder);
        let (headers, warnings) = match fetched {
            Fetched::Read(h, w) => (h, w),
            Fetched::Failed(e) => {
                self.folders[item.folder].coverage.complete = false;
                batch.errors.push(e);
                return Some(batch);
            }
            Fetched::Skipped => {
                self.folders[item.folder].coverage.complete = false;
                let (first, last) = (item.uids[0], item.uids[item.uids.len() - 1]);
                let r = self.skipped.entry(item.folder).or_insert((first, last));
                r.0 = r.0.min(first);
                r.1 = r.1.max(last);
                return Some(batch);
            }
        };
        batch.warnings.extend(warnings);
        batch.bytes = headers.iter().map(|h| h.size).sum();
        batch.units = headers
            .into_iter()
            .map(|h| Unit::Header(Box::new(h)))
            .collect();
        Some(batch)
    }

    fn folders(&self) -> Vec<(String, u64)> {
        self.folders
            .iter()
            .map(|f| (f.mailbox_url.to_string(), f.coverage.messages))
            .collect()
    }

    fn info(&mut self) -> InputInfo {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        InputInfo {
            path: self.url.mailbox_url("").trim_end_matches('/').to_string(),
            kind: super::InputKind::Imap,
            size: 0,
            sha256: None,
            files: 0,
            detail: None,
            imap: Some(ImapRecord {
                account: self.url.account(),
                folders: self.coverage(),
                reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            }),
            errors: Vec::new(),
        }
    }
}

/// Whole messages per FETCH for `--evidence` (a mass mailing may carry a 10 MB attachment).
/// One per FETCH: every response is bounded by --max-response.
const FULL_MESSAGES_PER_FETCH: usize = 1;

/// Fetch whole raw messages (BODY.PEEK[], so nothing is marked read) for `--evidence`.
pub fn fetch_full(
    url: &ImapUrl,
    opts: &ImapOptions,
    wanted: &[(String, u32, u32)],
) -> Result<HashMap<(String, u32), Vec<u8>>, ImapError> {
    let server = url.server();
    let perr = |e: imap::Error| ImapError::Protocol {
        server: server.clone(),
        message: e.to_string(),
    };
    let mut session = connect(url, opts)?;
    let list = list_folders(&mut session, &server)?;
    let mut by_folder: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
    for (f, v, u) in wanted {
        by_folder.entry(f.as_str()).or_default().push((*v, *u));
    }
    let mut out = HashMap::new();
    for (name, mut uids) in by_folder {
        let Some(f) = list.iter().find(|f| f.name == name) else {
            continue;
        };
        let mb = session.examine(&f.raw).map_err(perr)?;
        uids.retain(|(v, _)| Some(*v) == mb.uid_validity);
        let mut just: Vec<u32> = uids.iter().map(|(_, u)| *u).collect();
        just.sort_unstable();
        // The crate holds a whole response in memory: few whole messages per FETCH.
        for chunk in just.chunks(FULL_MESSAGES_PER_FETCH) {
            let fetches = session
                .uid_fetch(uid_set(chunk), "(UID BODY.PEEK[])")
                .map_err(perr)?;
            for m in fetches.iter() {
                if let (Some(uid), Some(body)) = (m.uid, m.body()) {
                    out.insert((name.to_string(), uid), body.to_vec());
                }
            }
        }
    }
    let _ = session.logout();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u =
            ImapUrl::parse("imaps://alice%40example.org@imap.example.org/Sent%20Items").unwrap();
        assert_eq!(u.user, "alice@example.org");
        assert_eq!((u.host.as_str(), u.port), ("imap.example.org", 993));
        assert_eq!(u.folder.as_deref(), Some("Sent Items"));
        assert_eq!(
            u.mailbox_url("Sent Items"),
            "imaps://alice%40example.org@imap.example.org/Sent%20Items"
        );
        let u = ImapUrl::parse("imap://bob:pw@127.0.0.1:1143").unwrap();
        assert_eq!(
            (u.security, u.port, u.password.as_deref()),
            (Security::StartTls, 1143, Some("pw"))
        );
        assert_eq!(u.mailbox_url("Sent"), "imap://bob@127.0.0.1:1143/Sent");
        let u = ImapUrl::parse("imaps://c@[::1]:993/").unwrap();
        assert_eq!((u.host.as_str(), u.folder), ("::1", None));
        for bad in [
            "http://x@y",
            "imaps://host",
            "imaps://@host",
            "imaps://u@h:notaport",
        ] {
            assert!(ImapUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fetch_responses_are_read_in_one_pass() {
        let wire = b"* 1 FETCH (UID 7 RFC822.SIZE 1234 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[HEADER.FIELDS (FROM TO)] {25}\r\nTo: a@x.test\r\nFrom: b\r\n\r\n)\r\n* 2 FETCH (FLAGS (\\Seen) UID 8 BODY[HEADER.FIELDS (FROM TO)] \"\" RFC822.SIZE 5)\r\n* 3 EXISTS\r\nbcc1 OK done\r\n";
        let mut r = ResponseReader::default();
        let mut src: &[u8] = wire;
        let (t, mut l) = r.response(&mut src).unwrap();
        let a = parse_fetch(&t, &mut l).unwrap();
        assert_eq!(a.uid, Some(7));
        assert_eq!(a.size, Some(1234));
        assert_eq!(
            a.header.as_deref(),
            Some(&b"To: a@x.test\r\nFrom: b\r\n\r\n"[..])
        );
        assert_eq!(
            a.internal_date.map(crate::parse::date::rfc3339).as_deref(),
            Some("1996-07-17T09:44:25Z")
        );
        let (t, mut l) = r.response(&mut src).unwrap();
        let b = parse_fetch(&t, &mut l).unwrap();
        assert_eq!(
            (b.uid, b.size, b.header.as_deref()),
            (Some(8), Some(5), Some(&b""[..]))
        );
        let (t, mut l) = r.response(&mut src).unwrap();
        assert!(parse_fetch(&t, &mut l).is_none());
        let (t, _) = r.response(&mut src).unwrap();
        assert_eq!(t, b"bcc1 OK done");
        assert!(
            r.response(&mut src).is_err(),
            "end of stream is an error, not a hang"
        );
    }

    #[test]
    fn passwords_are_masked_in_every_spelling() {
        for (url, secret) in [
            ("imaps://bob:hunter2@host", "hunter2"),
            ("IMAPS://bob:hunter2@host/Sent", "hunter2"),
            ("Imap://dpo@example.org:s3cr@t@host:143", "s3cr"),
            ("imaps://dpo@example.org:pw%40x@host", "pw%40x"),
        ] {
            let m = mask_password(url);
            assert!(!m.contains(secret), "{url} -> {m}");
            assert!(m.contains(":***@"), "{m}");
            let e = ImapUrl::parse(&url.replace("@host", "@"))
                .unwrap_err()
                .to_string();
            assert!(!e.contains(secret), "{e}");
        }
        assert_eq!(mask_password("imaps://u@h/Sent"), "imaps://u@h/Sent");
        assert_eq!(
            mask_password("error at imaps://u:p@h: refused"),
            "error at imaps://u:***@h: refused"
        );
        let u = ImapUrl::parse("IMAPS://u:p@h").unwrap();
        assert_eq!(u.security, Security::Implicit);
    }

    #[test]
    fn uid_sets() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
    }

    #[test]
    fn modified_utf7() {
        assert_eq!(
            decode_mutf7("&AMk-l&AOk-ments envoy&AOk-s"),
            "Éléments envoyés"
        );
        assert_eq!(decode_mutf7("Sent &- Co"), "Sent & Co");
        assert_eq!(decode_mutf7("INBOX"), "INBOX");
    }

    #[test]
    fn default_folder_choice() {
        let f = |name: &str, sent: bool| Folder {
            raw: name.into(),
            name: name.into(),
            flags: vec![],
            selectable: true,
            sent,
        };
        let url = ImapUrl::parse("imaps://u@h").unwrap();
        let opts = ImapOptions {
            auth: Auth::Password(String::new()),
            ca_file: None,
            insecure: false,
            allow_plaintext: false,
            connections: 1,
            timeout: Duration::from_secs(1),
            retries: 0,
            batch: 10,
            folders: vec![],
            all_folders: false,
            max_response: 1 << 20,
        };
        let pick = |l: &[Folder]| {
            choose_folders(&url, &opts, l)
                .map(|v| v.into_iter().map(|f| f.name).collect::<Vec<_>>())
        };
        assert_eq!(
            pick(&[f("INBOX", false), f("Archive", false), f("Posted", true)]).unwrap(),
            ["Posted"]
        );
        assert_eq!(
            pick(&[f("INBOX", false), f("INBOX.Gesendete Elemente", false)]).unwrap(),
            ["INBOX.Gesendete Elemente"]
        );
        assert!(pick(&[f("INBOX", false)]).is_err());
        assert_eq!(format!("{:?}", opts.auth), "Password(***)");
    }
}
