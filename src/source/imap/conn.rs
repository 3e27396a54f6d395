//! One authenticated connection: TCP with its time and size bounds, TLS or STARTTLS, login.

use super::*;

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
            // The read waited for what was left of the response's time: a server that sent
            // part of a response ran out of it (the same words whichever of the read and the
            // deadline check notices first), one that sent nothing was silent throughout.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Error::new(
                    ErrorKind::TimedOut,
                    if self.used > 0 {
                        format!("no complete response within {secs} s (--timeout)")
                    } else {
                        format!("timed out after {secs} s waiting for the server")
                    },
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
/// bccaudit's own reader for bulk `UID FETCH` responses ([`Conn::fetch_headers`]). Only one of them
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
    pub(crate) raw: SharedStream,
    pub(crate) tag: u32,
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
