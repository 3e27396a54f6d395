//! `imaps://USER@HOST[:PORT][/FOLDER]` URLs, and masking the passwords written in them.

use super::*;

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
