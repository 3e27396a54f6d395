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

mod conn;
mod fetch;
mod folders;
mod state;
mod url;
mod wire;

pub use conn::*;
pub use fetch::*;
pub use folders::*;
pub use state::*;
pub use url::*;
pub use wire::*;

/// Header bytes fetched from a server for one message.
pub type FetchedHeader = super::HeaderOnly;

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
