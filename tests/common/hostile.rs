//! A misbehaving IMAP server for the tests: just enough IMAP (plaintext, one thread per
//! connection on 127.0.0.1) to misbehave in one chosen way. It stops by itself: every loop is
//! bounded by a byte count or a time limit, and the listener closes when the server is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Accepts the connection and never says anything.
    NoGreeting,
    /// Sends its greeting one byte every half second.
    Slowloris,
    /// A greeting line that never ends (bytes at full speed).
    EndlessGreeting,
    /// Answers LIST with a literal of {999999999999} bytes and keeps sending.
    HugeLiteral,
    /// Answers LIST with a line that never ends.
    EndlessListLine,
    /// Answers LIST with untagged responses that never stop.
    EndlessUntagged,
    /// A normal folder of 3 messages, but every UID FETCH is answered with an empty OK.
    EmptyFetch,
    /// Advertises LOGINDISABLED (and offers no STARTTLS).
    LoginDisabled,
    /// Refuses EXAMINE with terminal escape sequences in its text.
    EscapesInNo,
}

pub struct Hostile {
    pub port: u16,
    /// Commands the server received (tag stripped), in order.
    pub received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Bytes sent at most by an endless answer (the client must give up long before).
const ENDLESS_CAP: u64 = 2 << 30;
/// Time an endless answer goes on at most.
const ENDLESS_TIME: Duration = Duration::from_secs(30);

pub fn start(how: Misbehaviour) -> Hostile {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (received.clone(), stop.clone());
    std::thread::spawn(move || {
        for c in l.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(c) = c else { continue };
            let (r, s) = (r.clone(), s.clone());
            std::thread::spawn(move || {
                let _ = serve(c, how, &r, &s);
            });
        }
    });
    Hostile {
        port,
        received,
        stop,
    }
}

/// Send `unit` over and over until the client goes away, the cap or the time limit.
fn endless(w: &mut TcpStream, unit: &[u8], stop: &AtomicBool) -> std::io::Result<()> {
    let t = Instant::now();
    let mut sent = 0u64;
    while sent < ENDLESS_CAP && t.elapsed() < ENDLESS_TIME && !stop.load(Ordering::SeqCst) {
        w.write_all(unit)?;
        sent += unit.len() as u64;
    }
    Ok(())
}

fn serve(
    c: TcpStream,
    how: Misbehaviour,
    received: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    use Misbehaviour::*;
    let mut w = c.try_clone()?;
    let filler = vec![b'x'; 64 << 10];
    match how {
        NoGreeting => {
            std::thread::sleep(ENDLESS_TIME.min(Duration::from_secs(20)));
            return Ok(());
        }
        Slowloris => {
            let t = Instant::now();
            for b in b"* OK slow server ready, very slowly indeed "
                .iter()
                .cycle()
            {
                if t.elapsed() > ENDLESS_TIME || stop.load(Ordering::SeqCst) {
                    break;
                }
                w.write_all(&[*b])?;
                std::thread::sleep(Duration::from_millis(500));
            }
            return Ok(());
        }
        EndlessGreeting => {
            w.write_all(b"* OK ")?;
            return endless(&mut w, &filler, stop);
        }
        LoginDisabled => w.write_all(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n")?,
        _ => w.write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")?,
    }
    let mut lines = BufReader::new(c);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.trim_end().splitn(2, ' ');
        let tag = parts.next().unwrap_or("*").to_string();
        let rest = parts.next().unwrap_or("").to_string();
        let cmd = rest.to_ascii_uppercase();
        received.lock().unwrap().push(rest.clone());
        let ok =
            |w: &mut TcpStream, text: &str| w.write_all(format!("{tag} OK {text}\r\n").as_bytes());
        if cmd.starts_with("STARTTLS") {
            w.write_all(format!("{tag} BAD no TLS here\r\n").as_bytes())?;
        } else if cmd.starts_with("CAPABILITY") {
            let caps = if how == LoginDisabled {
                "IMAP4rev1 LOGINDISABLED"
            } else {
                "IMAP4rev1"
            };
            w.write_all(format!("* CAPABILITY {caps}\r\n").as_bytes())?;
            ok(&mut w, "done")?;
        } else if cmd.starts_with("LOGIN") {
            ok(&mut w, "logged in")?;
        } else if cmd.starts_with("LIST") {
            match how {
                HugeLiteral => {
                    w.write_all(b"* LIST () \"/\" {999999999999}\r\n")?;
                    return endless(&mut w, &filler, stop);
                }
                EndlessListLine => {
                    w.write_all(b"* LIST () \"/\" Sent")?;
                    return endless(&mut w, &filler, stop);
                }
                EndlessUntagged => {
                    return endless(&mut w, b"* OK still listing, please hold\r\n", stop);
                }
                _ => {
                    w.write_all(b"* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n")?;
                    ok(&mut w, "listed")?;
                }
            }
        } else if cmd.starts_with("EXAMINE") {
            if how == EscapesInNo {
                w.write_all(
                    format!("{tag} NO \x1b]0;owned\x07\x1b[2J\x1b[31mfolder gone\x1b[0m\r\n")
                        .as_bytes(),
                )?;
            } else {
                w.write_all(b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] uids valid\r\n")?;
                ok(&mut w, "[READ-ONLY] examined")?;
            }
        } else if cmd.starts_with("UID SEARCH") {
            w.write_all(b"* SEARCH 1 2 3\r\n")?;
            ok(&mut w, "searched")?;
        } else if cmd.starts_with("LOGOUT") {
            w.write_all(b"* BYE bye\r\n")?;
            ok(&mut w, "bye")?;
            return Ok(());
        } else {
            // UID FETCH (EmptyFetch: nothing at all), STATUS, NOOP, …
            ok(&mut w, "done")?;
        }
    }
}
