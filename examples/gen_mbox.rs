//! Writes a realistic synthetic mbox for benchmarks, deterministically from a seed.
//!
//!     cargo run --release --example gen_mbox -- OUT SIZE [--small] [--seed N] [--mass-every K]
//!
//! SIZE accepts K/M/G suffixes (powers of 1024). Default mix: message sizes log-normal with a
//! median near 6 KB; 5% carry a base64 attachment of 0.1–10 MB; 1% are mass sends to 20–2,000
//! recipients in To/Cc (several lines); RFC 2047 names; ~0.5% broken address headers; bodies
//! with `>From ` escapes. `--small`: only 1–3 KB messages (the messages/s benchmark).
//! `--mass-every K`: every K-th message is a mass send to 20–2,000 recipients (with `--small`,
//! the scale benchmark: 800,000 messages with 8,000 mass sends exposing ~8 M people).
//! `--pool N`: mass sends draw from N people (the same people exposed again and again: the
//! rows per incident and person outgrow the people, as `--memory-limit` is for).
//! `--shared-cc N`: N small messages instead (SIZE is ignored), each to 12 random people in To
//! and one team address in Cc (issue 8's benchmark (a): every mass mail Cc's one mailbox).
//! Reserved domains only.

use std::io::{BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn parse_size(s: &str) -> u64 {
    let (num, mul) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    (num.parse::<f64>().expect("size") * mul as f64) as u64
}

const WORDS: &[&str] = &[
    "meeting",
    "report",
    "budget",
    "the",
    "and",
    "please",
    "review",
    "attached",
    "schedule",
    "community",
    "safety",
    "update",
    "thanks",
    "regards",
    "tomorrow",
    "project",
    "council",
];
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn addr(r: &mut Rng, pool: u64) -> String {
    let n = r.range(0, pool);
    let dom = [
        "example.org",
        "example.net",
        "mail.example",
        "inbox.test",
        "city.example",
    ][(n % 5) as usize];
    format!("user{n}@{dom}")
}

fn mailbox(r: &mut Rng, pool: u64) -> String {
    let a = addr(r, pool);
    match r.range(0, 9) {
        0 => format!("=?UTF-8?Q?M=C3=BCller=2C_Anna?= <{a}>"),
        1 => format!("\"Doe, Jane\" <{a}>"),
        2..=4 => format!("Some Person <{a}>"),
        _ => a,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .expect("usage: gen_mbox OUT SIZE [--small] [--seed N]");
    let size = parse_size(args.get(2).expect("SIZE"));
    let small = args.iter().any(|a| a == "--small");
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .map_or(42, |s| s.parse().expect("seed"));
    let mass_every: Option<u64> = args
        .iter()
        .position(|a| a == "--mass-every")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().expect("--mass-every K"));
    let shared_cc: Option<u64> = args
        .iter()
        .position(|a| a == "--shared-cc")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().expect("--shared-cc N"));
    let pool_size: Option<u64> = args
        .iter()
        .position(|a| a == "--pool")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse().expect("--pool N"));
    let small = small || shared_cc.is_some();
    let mut r = Rng(seed);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out).expect("create"));
    let mut written = 0u64;
    let mut n = 0u64;
    let mut body = String::new();
    while shared_cc.map_or(written < size, |k| n < k) {
        n += 1;
        let mut h = String::with_capacity(1024);
        h.push_str(&format!(
            "From sender{}@police.example Mon Jan  1 00:00:00 2024\n",
            n % 50
        ));
        h.push_str(&format!("Return-Path: <sender{}@police.example>\nReceived: from mx.police.example by mail.police.example; Mon, 1 Jan 2024 10:00:00 +0000\n", n % 50));
        h.push_str(&format!(
            "From: Sender {} <sender{}@police.example>\n",
            n % 50,
            n % 50
        ));
        let mass = match mass_every {
            Some(k) => n.is_multiple_of(k.max(1)),
            None => !small && r.range(0, 99) == 0,
        };
        let recipients = if shared_cc.is_some() {
            12
        } else if mass {
            r.range(20, 2000)
        } else {
            r.range(1, 3)
        };
        let in_cc = if mass { recipients / 3 } else { 0 };
        // The scale benchmark draws its mass sends from 100 M people (nearly all distinct).
        let pool = if let (true, Some(p)) = (mass, pool_size) {
            p
        } else if mass && mass_every.is_some() {
            100_000_000
        } else {
            2_000_000
        };
        let to: Vec<String> = (0..recipients - in_cc)
            .map(|_| mailbox(&mut r, pool))
            .collect();
        let mut cc: Vec<String> = (0..in_cc).map(|_| mailbox(&mut r, pool)).collect();
        if shared_cc.is_some() {
            cc.push("Team <team@police.example>".into());
        }
        // Long lists are split over several To/Cc fields, each folded.
        for (name, list) in [("To", &to), ("Cc", &cc)] {
            for part in list.chunks(300) {
                h.push_str(name);
                h.push_str(": ");
                h.push_str(&part.join(",\n "));
                h.push('\n');
            }
        }
        if r.range(0, 199) == 0 {
            h.push_str("Cc: Doe, John <broken@example.org, =?UTF-8?B?broken\n");
        }
        let day = 1 + n % 28;
        h.push_str(&format!(
            "Subject: {} {}\nDate: Mon, {day} Jan 2024 10:{:02}:00 +0000\nMessage-ID: <{n}.{seed}@police.example>\nMIME-Version: 1.0\n",
            WORDS[(n % WORDS.len() as u64) as usize],
            n,
            n % 60
        ));
        // Body: log-normal around 6 KB total (header included), or 1–3 KB when --small.
        let target = if shared_cc.is_some() {
            h.len() + 100
        } else if small {
            r.range(1024, 3072) as usize
        } else {
            (6000.0 * (0.9 * r.normal()).exp()).clamp(600.0, 400_000.0) as usize
        };
        let attach = !small && r.range(0, 99) < 5;
        if attach {
            h.push_str("Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n");
        } else {
            h.push_str("Content-Type: text/plain; charset=utf-8\n\n");
        }
        body.clear();
        while h.len() + body.len() < target {
            let wd = WORDS[r.range(0, WORDS.len() as u64 - 1) as usize];
            body.push_str(wd);
            body.push(if r.range(0, 11) == 0 { '\n' } else { ' ' });
            if r.range(0, 400) == 0 {
                body.push_str("\n>From the archive: quoted\n");
            }
        }
        body.push('\n');
        w.write_all(h.as_bytes()).unwrap();
        w.write_all(body.as_bytes()).unwrap();
        written += (h.len() + body.len()) as u64;
        if attach {
            let len = r.range(100_000, 10_000_000) as usize;
            w.write_all(
                b"--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n",
            )
            .unwrap();
            let mut line = [0u8; 77];
            line[76] = b'\n';
            let mut left = len;
            while left > 0 {
                let x = r.next();
                for (i, c) in line[..76].iter_mut().enumerate() {
                    *c = B64[((x >> (i % 10 * 6)) as usize + i) & 63];
                }
                let k = left.min(77);
                w.write_all(&line[..k]).unwrap();
                left -= k;
            }
            w.write_all(b"\n--b1--\n").unwrap();
            written += len as u64 + 100;
        }
        w.write_all(b"\n").unwrap();
        written += 1;
    }
    w.flush().unwrap();
    eprintln!("wrote {n} messages, {written} bytes to {out}");
}
