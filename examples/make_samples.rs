//! Writes `samples/`: the Sent folder of a fictional police force (police.example), once as an
//! mbox and once as a Maildir holding the same messages. Deterministic: run it again and the
//! files are byte-identical. Only reserved domains (.example, example.org, .test) are used.
//!
//!     cargo run --example make_samples
//!
//! What is in it (and what a scan with `--internal-domain police.example` must find):
//! - INC-0001: a survey to 418 residents in To (2025-03-03), then a senior officer's reply-all
//!   to all of them ("can we retrieve these?"); the apology went out properly with Bcc.
//! - INC-0002: an event registration confirmation with 62 attendees in To: 40 residents,
//!   10 press, 10 council, 2 police colleagues (internal).
//! - INC-0003: a ward-panel meeting reminder to 230 residents in To, sent twice.
//! - Ordinary mail that must not be flagged: an internal mail to 20 colleagues, a newsletter to
//!   300 residents in Bcc, an `undisclosed-recipients:;` notice, a mailing-list post, one-to-one
//!   replies, and a message to 9 external people (one under the threshold of 10).

#[path = "../tests/common/msg_writer.rs"]
mod msg_writer;
#[path = "../tests/common/pst_writer.rs"]
mod pst_writer;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const FIRST: &[&str] = &[
    "Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Jamie", "Morgan", "Taylor", "Casey", "Jordan",
    "Charlie", "Avery", "Riley", "Quinn", "Rowan", "Sasha", "Kim", "Lee", "Dana", "Noor", "Zoë",
    "Jürgen", "Siobhán", "Amara", "Tomasz",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Johnson",
    "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green",
    "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke", "O'Neill", "Nowak",
];
const DOMAINS: &[&str] = &[
    "mail.example",
    "example.org",
    "example.net",
    "inbox.test",
    "post.test",
];

struct Person {
    name: String,
    addr: String,
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ë' => 'e',
            'ü' => 'u',
            'á' => 'a',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// Residents 0..n, deterministic. Some names need RFC 2047 or quoting; see `mailbox`.
fn residents(n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            let f = FIRST[i % FIRST.len()];
            let l = LAST[(i * 7 + i / FIRST.len()) % LAST.len()];
            Person {
                name: format!("{f} {l}"),
                addr: format!(
                    "{}.{}{}@{}",
                    ascii(f),
                    ascii(l),
                    i,
                    DOMAINS[i % DOMAINS.len()]
                ),
            }
        })
        .collect()
}

/// How a person is written in a header: a mix of the forms real clients produce.
fn mailbox(p: &Person, i: usize) -> String {
    let non_ascii = !p.name.is_ascii();
    match i % 6 {
        _ if non_ascii => {
            // RFC 2047, Q encoding, "Last, First" so the comma is inside the encoded word.
            let (f, l) = p.name.split_once(' ').unwrap();
            let mut q = String::new();
            for b in format!("{l}, {f}").bytes() {
                match b {
                    b' ' => q.push('_'),
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => q.push(b as char),
                    _ => write!(q, "={b:02X}").unwrap(),
                }
            }
            format!("=?UTF-8?Q?{q}?= <{}>", p.addr)
        }
        0 => format!("\"{}\" <{}>", p.name, p.addr),
        1 => p.addr.clone(),
        2 => format!("{} <{}>", p.name.replace('\'', ""), p.addr.to_uppercase()),
        3 => {
            let (f, l) = p.name.split_once(' ').unwrap();
            format!("\"{l}, {f}\" <{}>", p.addr)
        }
        4 => format!("{} ({})", p.addr, p.name.replace('\'', "")),
        _ => format!("<{}>", p.addr),
    }
}

/// A folded address-list header.
fn addr_header(name: &str, list: &[String]) -> String {
    let mut out = format!("{name}: ");
    let mut line = out.len();
    for (i, a) in list.iter().enumerate() {
        let piece = if i + 1 < list.len() {
            format!("{a},")
        } else {
            a.clone()
        };
        if line + piece.len() > 76 && i > 0 {
            out.push_str("\r\n ");
            line = 1;
        } else if i > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(&piece);
        line += piece.len();
    }
    out.push_str("\r\n");
    out
}

struct Msg {
    date: &'static str,
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    raw_to: Option<&'static str>,
    subject: &'static str,
    id: String,
    in_reply_to: Option<String>,
    body: String,
    /// (file name, content): the message becomes multipart/mixed with this attachment.
    attachment: Option<(&'static str, &'static str)>,
}

impl Msg {
    fn new(date: &'static str, from: &str, subject: &'static str, id: &str) -> Msg {
        Msg {
            date,
            from: from.to_string(),
            to: vec![],
            cc: vec![],
            bcc: vec![],
            raw_to: None,
            subject,
            id: format!("<{id}@police.example>"),
            in_reply_to: None,
            body: String::new(),
            attachment: None,
        }
    }

    fn render(&self) -> String {
        let mut h = String::new();
        write!(h, "Date: {}\r\nFrom: {}\r\n", self.date, self.from).unwrap();
        if let Some(raw) = self.raw_to {
            write!(h, "To: {raw}\r\n").unwrap();
        }
        if !self.to.is_empty() {
            h.push_str(&addr_header("To", &self.to));
        }
        if !self.cc.is_empty() {
            h.push_str(&addr_header("Cc", &self.cc));
        }
        if !self.bcc.is_empty() {
            h.push_str(&addr_header("Bcc", &self.bcc));
        }
        write!(
            h,
            "Subject: {}\r\nMessage-ID: {}\r\n",
            self.subject, self.id
        )
        .unwrap();
        if let Some(p) = &self.in_reply_to {
            write!(h, "In-Reply-To: {p}\r\nReferences: {p}\r\n").unwrap();
        }
        if let Some((name, content)) = self.attachment {
            let b = "=_sample_boundary";
            write!(
                h,
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
                 --{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\
                 --{b}\r\nContent-Type: text/plain; charset=utf-8; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{}\r\n--{b}--\r\n",
                self.body.replace('\n', "\r\n"),
                content.replace('\n', "\r\n"),
            )
            .unwrap();
            return h;
        }
        h.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        h.push_str(&self.body.replace('\n', "\r\n"));
        h
    }
}

/// `Name <addr>`, `"Name" <addr>`, `addr (Name)` or a bare address, as (name, address).
fn split_mailbox(s: &str) -> (String, String) {
    if let Some((n, rest)) = s.split_once('<') {
        let n = n.trim().trim_matches('"');
        let n = if n.starts_with("=?") { "" } else { n };
        (n.to_string(), rest.trim_end_matches('>').to_string())
    } else if let Some((a, n)) = s.split_once(" (") {
        (n.trim_end_matches(')').to_string(), a.to_string())
    } else {
        (String::new(), s.to_string())
    }
}

/// A message as Outlook would save it: the recipient table from its To/Cc/Bcc.
fn outlook_copy(m: &Msg) -> msg_writer::Msg {
    let (sender_name, sender) = split_mailbox(&m.from);
    let mut recipients = Vec::new();
    for (kind, list) in [(1, &m.to), (2, &m.cc), (3, &m.bcc)] {
        for e in list.iter() {
            let (name, addr) = split_mailbox(e);
            let shown = if name.is_empty() { addr.clone() } else { name };
            recipients.push(msg_writer::Recip::smtp(kind, &shown, &addr));
        }
    }
    msg_writer::Msg {
        subject: m.subject.to_string(),
        message_id: Some(m.id.clone()),
        sent: Some(unix_time(m.date)),
        sender_name,
        sender_smtp: sender,
        recipients,
        body: m.body.clone(),
        attachments: m.attachment.iter().map(|(n, _)| n.to_string()).collect(),
        in_reply_to: m.in_reply_to.clone(),
        ..msg_writer::Msg::default()
    }
}

/// `Mon, 03 Mar 2025 09:00:00 +0000` (the samples' only date form) as Unix seconds.
fn unix_time(date: &str) -> i64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let f: Vec<&str> = date.split_whitespace().collect();
    let (d, y): (i64, i64) = (f[1].parse().unwrap(), f[3].parse().unwrap());
    let m = MONTHS.iter().position(|x| *x == f[2]).unwrap() as i64 + 1;
    let hms: Vec<i64> = f[4].split(':').map(|x| x.parse().unwrap()).collect();
    let off: i64 = f[5].parse().unwrap();
    // Days from the civil date (proleptic Gregorian).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset = (off / 100 * 60 + off % 100) * 60;
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - offset
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let people = residents(700);
    let staff = |n: &str| format!("{n}@police.example");
    let list = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| mailbox(&people[i], i)).collect()
    };
    let engagement = "Community Engagement Team <community.engagement@police.example>";
    let mut msgs: Vec<Msg> = Vec::new();

    // INC-0001: survey to 418 residents in To, reply-all, apology in Bcc.
    let mut m = Msg::new(
        "Mon, 03 Mar 2025 09:00:00 +0000",
        engagement,
        "Community safety survey 2025",
        "survey-2025",
    );
    m.to = list(0..418);
    m.body = "Dear resident,\n\nPlease take five minutes to answer our community safety survey.\n\nFrom the Chief Constable: thank you for helping us.\n".into();
    msgs.push(m);
    let mut m = Msg::new(
        "Mon, 03 Mar 2025 10:12:00 +0000",
        "Supt. Dana Harris <dana.harris@police.example>",
        "RE: Community safety survey 2025",
        "reply-survey-2025",
    );
    m.to = list(0..418);
    m.to.push(engagement.to_string());
    m.in_reply_to = Some("<survey-2025@police.example>".into());
    m.body = "Can we retrieve these?\n\n> Dear resident,\n".into();
    msgs.push(m);
    let mut m = Msg::new(
        "Mon, 03 Mar 2025 15:30:00 +0000",
        engagement,
        "Our apologies",
        "apology-2025",
    );
    m.raw_to = Some("undisclosed-recipients:;");
    m.bcc = list(0..418);
    m.body = "This morning's survey showed every recipient's address. We apologise.\n".into();
    msgs.push(m);

    // INC-0002: registration confirmation, 62 attendees in To.
    let mut m = Msg::new(
        "Thu, 10 Apr 2025 16:45:00 +0100",
        "Events <events@police.example>",
        "Registration confirmed: Neighbourhood Open Day",
        "open-day-confirm",
    );
    let mut to = list(408..448); // 40 residents; 408..418 were also in the survey
    to.extend((1..=10).map(|i| format!("Reporter {i} <reporter{i}@newsdesk.example>")));
    to.extend((1..=10).map(|i| format!("Cllr. Member {i} <cllr{i}@council.example>")));
    to.push("PC Lee Wood <lee.wood@police.example>".into());
    to.push("pcso.ann.hall@police.example".into());
    m.to = to;
    m.body = "You are registered for the Neighbourhood Open Day on 26 April.\n".into();
    msgs.push(m);

    // INC-0003: meeting reminder to 230 residents in To, sent twice.
    for (date, id, subject) in [
        (
            "Mon, 12 May 2025 08:00:00 +0100",
            "ward-panel-1",
            "Ward panel meeting on Thursday",
        ),
        (
            "Thu, 15 May 2025 07:30:00 +0100",
            "ward-panel-2",
            "Reminder: ward panel meeting tonight",
        ),
    ] {
        let mut m = Msg::new(
            date,
            "North Ward Team <north.ward@police.example>",
            subject,
            id,
        );
        m.to = list(318..548); // 100 of them also got the survey
        m.body = "The ward panel meets at the community centre at 19:00.\n\nFrom 18:30 tea will be served.\n".into();
        msgs.push(m);
    }

    // INC-0004: a support group for victims of crime, 15 members in To: being on this list
    // says something about each of them (sensitive context: crime and victims).
    let mut m = Msg::new(
        "Mon, 16 Jun 2025 18:00:00 +0100",
        "Victim Care Unit <victim.care@police.example>",
        "Peer support group: next meeting",
        "peer-support-june",
    );
    m.to = list(670..685);
    m.body = "Dear member,\n\nThe peer support group for victims of crime meets again on Tuesday at 18:30.\n".into();
    msgs.push(m);

    // INC-0005: an ordinary-looking note to 12 residents whose only sensitive signal is the
    // attachment's name.
    let mut m = Msg::new(
        "Wed, 18 Jun 2025 12:00:00 +0100",
        "PC Lee Wood <lee.wood@police.example>",
        "Notes from Tuesday",
        "notes-tuesday",
    );
    m.to = list(685..697);
    m.body = "Hello all,\n\nThe notes from Tuesday are attached.\n".into();
    m.attachment = Some((
        "safeguarding-referrals-june.txt",
        "Notes of the meeting of 17 June.\n",
    ));
    msgs.push(m);

    // Ordinary mail.
    let mut m = Msg::new(
        "Tue, 04 Mar 2025 11:00:00 +0000",
        "Supt. Dana Harris <dana.harris@police.example>",
        "Lessons learned: survey mailing",
        "internal-1",
    );
    m.to = (1..=20).map(|i| staff(&format!("officer{i}"))).collect();
    m.body = "Team, from now on every mailing to the public goes in Bcc.\n".into();
    msgs.push(m);
    let mut m = Msg::new(
        "Fri, 02 May 2025 12:00:00 +0100",
        engagement,
        "Newsletter May 2025",
        "newsletter-may",
    );
    m.to = vec![engagement.to_string()];
    m.bcc = list(0..300);
    m.body = "News from your neighbourhood team.\n".into();
    msgs.push(m);
    let mut m = Msg::new(
        "Fri, 06 Jun 2025 09:00:00 +0100",
        "North Ward Team <north.ward@police.example>",
        "Road closure notice",
        "closure",
    );
    m.raw_to = Some("undisclosed-recipients:;");
    m.bcc = list(600..650);
    m.body = "Mill Lane is closed on Saturday.\n".into();
    msgs.push(m);
    let mut m = Msg::new(
        "Mon, 09 Jun 2025 10:00:00 +0100",
        "North Ward Team <north.ward@police.example>",
        "[watch] Summer patrol plan",
        "list-post",
    );
    m.to = vec!["Neighbourhood Watch <watch@lists.example.org>".into()];
    m.body = "Summer patrol plan attached.\n".into();
    msgs.push(m);
    for (i, p) in people[650..655].iter().enumerate() {
        let mut m = Msg::new(
            "Tue, 10 Jun 2025 14:00:00 +0100",
            "PC Lee Wood <lee.wood@police.example>",
            "Re: Your report",
            "",
        );
        m.id = format!("<reply-{i}@police.example>");
        m.to = vec![mailbox(p, i)];
        m.in_reply_to = Some(format!(
            "<report-{i}@{}>",
            p.addr.split('@').nth(1).unwrap()
        ));
        m.body = "Thank you, we have logged your report.\n".into();
        msgs.push(m);
    }
    let mut m = Msg::new(
        "Wed, 11 Jun 2025 09:15:00 +0100",
        "PC Lee Wood <lee.wood@police.example>",
        "Panel volunteers",
        "nine",
    );
    m.to = list(660..669);
    m.cc = vec![staff("north.ward")];
    m.body = "Nine of you volunteered; thank you.\n".into();
    msgs.push(m);

    // mbox (mboxrd, CRLF like many Windows exports).
    let mut mbox = String::new();
    for m in &msgs {
        let who = m
            .from
            .rsplit_once('<')
            .map_or(m.from.as_str(), |(_, a)| a.trim_end_matches('>'));
        write!(mbox, "From {who} Mon Jan  1 00:00:00 2025\r\n").unwrap();
        for line in m.render().split_inclusive("\r\n") {
            let body_from = line.trim_start_matches('>').starts_with("From ");
            if body_from {
                mbox.push('>');
            }
            mbox.push_str(line);
        }
        mbox.push_str("\r\n");
    }
    // Two of the messages also as Outlook .msg files (dragged out of Outlook): the same
    // messages, so a scan lists them once with the .msg as one more source.
    let _ = fs::remove_dir_all(root.join("outlook"));
    fs::create_dir_all(root.join("outlook")).unwrap();
    for (id, file) in [
        ("open-day-confirm", "registration-confirmed.msg"),
        ("peer-support-june", "peer-support-group.msg"),
    ] {
        let m = msgs
            .iter()
            .find(|m| m.id == format!("<{id}@police.example>"))
            .unwrap();
        fs::write(
            root.join("outlook").join(file),
            msg_writer::write(&outlook_copy(m)),
        )
        .unwrap();
    }
    // The whole Sent folder once more as an Outlook PST (File > Export), a third source of
    // the same messages.
    let pst = root.join("police-sent.pst");
    let (mut w, top) = pst_writer::PstWriter::create(&pst, "Community Engagement").unwrap();
    let sent = w.folder(top, "Sent Items");
    for m in &msgs {
        w.message(sent, &outlook_copy(m)).unwrap();
    }
    w.finish().unwrap();
    // Only what this generator writes is replaced (samples/README.md stays).
    let _ = fs::remove_dir_all(root.join("maildir"));
    let _ = fs::remove_file(root.join("police-sent.mbox"));
    fs::create_dir_all(root.join("maildir/.Sent/cur")).unwrap();
    fs::create_dir_all(root.join("maildir/.Sent/new")).unwrap();
    fs::create_dir_all(root.join("maildir/.Sent/tmp")).unwrap();
    for d in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join("maildir").join(d)).unwrap();
        fs::write(root.join("maildir").join(d).join(".keep"), "").unwrap();
    }
    fs::write(root.join("maildir/.Sent/new/.keep"), "").unwrap();
    fs::write(root.join("maildir/.Sent/tmp/.keep"), "").unwrap();
    fs::write(root.join("police-sent.mbox"), mbox).unwrap();
    for (i, m) in msgs.iter().enumerate() {
        let name = format!("17400000{i:02}.M{i}P1.police:2,S");
        fs::write(root.join("maildir/.Sent/cur").join(name), m.render()).unwrap();
    }
    eprintln!("wrote {} messages to {}", msgs.len(), root.display());
}
