//! Stage 4: analysis. Merges copies of the same message, groups exposing messages into
//! incidents, and aggregates per exposed person. Pure and deterministic: the output depends only
//! on the set of findings, never on thread scheduling.
//!
//! - Copies: the same Message-ID, or (for copies that were given new ids, as in exported
//!   archives) the same Date+From+To+Cc+Subject, are one message with several locations.
//! - Incidents: two messages belong together when one replies to the other (In-Reply-To /
//!   References) or when their exposed sets overlap with Jaccard ≥ the threshold (a reminder to
//!   the same list, a reply-all). Grouping is transitive.
//! - Reply-all: an exposing message that is itself a reply (it names a parent message, or its
//!   subject starts with `Re:` or a translation), i.e. someone answered to the whole list.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use crate::intern::Strings;
use crate::model::Finding;
use crate::parse::date::rfc3339;
use crate::source::Location;

mod copies;
pub(crate) mod fx;
mod grouping;
mod incidents;
mod people;
pub mod table;
mod walk;

pub use table::Table;

/// One unique exposing message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The first copy found (source order).
    pub finding: Finding,
    /// Every location, in source order.
    pub sources: Vec<Location>,
    /// SHA-256 of each location's bytes, where known (same order as `sources`).
    pub sha256: Vec<String>,
    /// Custodian of each location (same order as `sources`).
    pub custodians: Vec<Arc<str>>,
    pub incident: usize,
    pub reply_all: bool,
    /// How many people it exposed (`finding.exposed` is released by the analysis).
    pub exposed_count: usize,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: String,
    /// Indices into [`Report::messages`], in send order.
    pub messages: Vec<usize>,
    pub first_sent: Option<i64>,
    pub last_sent: Option<i64>,
    pub senders: Vec<String>,
    pub subject: String,
    pub exposed: usize,
    pub external: usize,
    pub audience: usize,
    pub reply_all: usize,
    /// Custodians of its messages' locations, sorted, distinct.
    pub custodians: Vec<Arc<str>>,
    /// Sensitive-context categories found in its messages, sorted, distinct.
    pub sensitive: Vec<String>,
    /// With a baseline: true when none of its messages was in it.
    pub new: Option<bool>,
}

/// One exposed person (an affected.csv row). Strings are ids into [`Report::strings`].
#[derive(Debug, Clone)]
pub struct Person {
    pub addr: u32,
    /// The most frequent display name (0: none).
    pub name: u32,
    pub internal: bool,
    /// Range of [`Report::person_incidents`]: see [`Report::incidents_of`]. While the
    /// incidents are walked: the last one counted (plus one), and how many.
    incidents: std::ops::Range<u32>,
    pub messages: u32,
    pub first_exposed: When,
    pub last_exposed: When,
    pub max_audience: u32,
    /// With a baseline: true when the address was not exposed in it.
    pub new: Option<bool>,
    /// While the incidents are walked: how often `name` was seen, and whether other names
    /// were too (then the names are counted in a side list).
    name_count: u32,
    name_conflict: bool,
}

impl Person {
    /// In how many incidents the person was exposed.
    pub fn incident_count(&self) -> usize {
        self.incidents.len()
    }
}

/// A time in Unix seconds, or none, in 8 bytes (an `Option<i64>` takes 16: millions of rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(i64);

impl From<Option<i64>> for When {
    fn from(t: Option<i64>) -> When {
        When::NONE.min(t)
    }
}

impl When {
    pub const NONE: When = When(i64::MIN);

    pub fn get(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }

    fn min(self, t: Option<i64>) -> When {
        match (self.get(), t) {
            (Some(a), Some(b)) => When(a.min(b)),
            (a, b) => When(a.or(b).unwrap_or(i64::MIN)),
        }
    }

    fn max(self, t: Option<i64>) -> When {
        match (self.get(), t) {
            (Some(a), Some(b)) => When(a.max(b)),
            (a, b) => When(a.or(b).unwrap_or(i64::MIN)),
        }
    }
}

/// One (incident, person) pair (an exposures.csv row).
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    pub incident: u32,
    pub addr: u32,
    pub name: u32,
    pub internal: bool,
    /// [`crate::detect::IN_TO`] | [`crate::detect::IN_CC`] | [`crate::detect::AS_LIST`].
    pub fields: u8,
    pub first_sent: When,
    pub messages: u32,
    pub audience: u32,
}

/// 32 bytes on file: incident, addr, name, internal, fields, 2 unused, first_sent, messages,
/// audience (little-endian).
impl table::Record for Exposure {
    const SIZE: usize = 32;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.incident.to_le_bytes());
        out.extend_from_slice(&self.addr.to_le_bytes());
        out.extend_from_slice(&self.name.to_le_bytes());
        out.extend_from_slice(&[u8::from(self.internal), self.fields, 0, 0]);
        out.extend_from_slice(&self.first_sent.0.to_le_bytes());
        out.extend_from_slice(&self.messages.to_le_bytes());
        out.extend_from_slice(&self.audience.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        let u = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[16..24]);
        Exposure {
            incident: u(0),
            addr: u(4),
            name: u(8),
            internal: b[12] != 0,
            fields: b[13],
            first_sent: When(i64::from_le_bytes(t)),
            messages: u(24),
            audience: u(28),
        }
    }
}

impl Exposure {
    pub fn field_label(&self) -> &'static str {
        crate::detect::field_label(self.fields)
    }

    /// A distribution list (its members were not shown to each other).
    pub fn is_list(&self) -> bool {
        self.fields & crate::detect::AS_LIST != 0
    }
}

#[derive(Default)]
pub struct Report {
    /// Sorted by incident, then date, then Message-ID.
    pub messages: Vec<Message>,
    pub incidents: Vec<Incident>,
    /// Sorted by address.
    pub people: Vec<Person>,
    /// Sorted by incident, then address (in memory, or past `--memory-limit` on file).
    pub exposures: Table<Exposure>,
    /// Where each incident's rows start in `exposures`, and where the last one ends.
    incident_rows: Vec<usize>,
    /// Exposing messages that reused another's Message-ID with other recipients (kept apart).
    pub message_id_conflicts: usize,
    /// The addresses and names the rows refer to.
    pub strings: Arc<Strings>,
    /// Every person's incidents, one run per person.
    person_incidents: Table<u32>,
}

impl Report {
    pub fn str(&self, id: u32) -> &str {
        self.strings.get(id)
    }

    /// A person's incident indices, ascending.
    pub fn incidents_of(&self, p: &Person) -> Cow<'_, [u32]> {
        self.person_incidents
            .rows(p.incidents.start as usize, p.incidents.end as usize)
    }

    /// The incidents of some people next to each other in `people` (in order), one person
    /// after the other (each `Person::incident_count` long).
    pub fn incident_lists_of(&self, people: &[Person]) -> Cow<'_, [u32]> {
        match (people.first(), people.last()) {
            (Some(a), Some(b)) => self
                .person_incidents
                .rows(a.incidents.start as usize, b.incidents.end as usize),
            _ => Cow::Borrowed(&[]),
        }
    }

    /// Incident `k`'s exposure rows, by address.
    pub fn exposures_of(&self, k: usize) -> Cow<'_, [Exposure]> {
        match self.incident_rows.get(k..k + 2) {
            Some(&[s, e]) => self.exposures.rows(s, e),
            _ => Cow::Borrowed(&[]),
        }
    }

    /// The row of `addr` in incident `k`.
    pub fn exposure(&self, k: usize, addr: &str) -> Option<Exposure> {
        let (s, e) = match self.incident_rows.get(k..k + 2) {
            Some(&[s, e]) => (s, e),
            _ => return None,
        };
        let i = self
            .exposures
            .partition_point(s, e, |x| self.str(x.addr) < addr);
        (i < e)
            .then(|| self.exposures.get(i))
            .flatten()
            .filter(|x| self.str(x.addr) == addr)
    }

    /// Whether every row kept on file could be read back (a report written from rows that
    /// could not be read would be short: it is refused instead).
    pub fn check_rows(&self) -> std::io::Result<()> {
        self.exposures.check()?;
        self.person_incidents.check()
    }

    /// Whether rows went to a temporary file (`--memory-limit`).
    pub fn spilled(&self) -> bool {
        self.exposures.spilled()
    }
}

/// The digits of the ids of `n` incidents: as wide as the largest (at least 4), so ids sort
/// as numbers.
pub fn id_width(n: usize) -> usize {
    n.to_string().len().max(4)
}

/// The id of incident `k` (from 0), `INC-0001`, appended to `out`; `width` from [`id_width`].
pub fn push_incident_id(out: &mut String, k: usize, width: usize) {
    // `INC-{:0width$}` of k + 1, digit by digit (an id for every row of two reports).
    const ZEROS: &str = "00000000000000000000";
    let mut buf = [0u8; 20];
    let digits = crate::digits::decimal(k as u64 + 1, &mut buf);
    out.push_str("INC-");
    out.push_str(&ZEROS[..width.saturating_sub(digits.len()).min(ZEROS.len())]);
    // Decimal digits: ASCII.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

pub fn date_cell(t: Option<i64>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

/// People from whom on memory freed in bulk is handed back at once (see
/// [`crate::cache::release_freed`]).
const RELEASE_PEOPLE: usize = 1 << 22;

/// Where the exposure rows go as the walk over incidents makes them, besides the report: in
/// their final order (by incident, then address), a stretch of whole incidents at a time,
/// called from the walk. exposures.csv is written from here (on a thread of the sink's own, so
/// its disk writes overlap the rest of the analysis). The report keeps every row as well.
pub trait RowSink: Send {
    /// Before the first rows: how many incidents there are, and the strings rows refer to.
    fn start(&mut self, incidents: usize, strings: Arc<Strings>);
    /// The next rows.
    fn rows(&mut self, rows: Vec<Exposure>);
}

/// Build the report from the findings of a scan (their addresses and names in `strings`).
/// The rows that grow with the mailbox rather than with its people are kept within
/// `memory_limit` bytes and go to a temporary file beyond it; writing that file may fail.
/// Every exposure row also goes to `sink`, when there is one, as it is made.
pub fn analyse(
    findings: Vec<Finding>,
    mut strings: Strings,
    jaccard: f64,
    memory_limit: u64,
    mut sink: Option<&mut dyn RowSink>,
) -> std::io::Result<Report> {
    let (mut msgs, message_id_conflicts) = copies::merge_copies(findings);
    copies::sort(&mut msgs);
    let (mut local, addr_of) = incidents::number_addresses(&msgs, strings.len());
    // Grouping, and ordering people by address then making their rows, read different data:
    // both at once.
    let n_addresses = addr_of.len();
    let (mut incidents, (mut people, rank)) = rayon::join(
        || incidents::group(&mut msgs, &local, n_addresses, jaccard),
        || {
            let by_rank = people::by_address(&addr_of, &strings);
            // What ordering people freed (16 bytes each) goes back to the system before their
            // rows are built, when that is tens of megabytes (millions of people): worth the
            // pages' faulting in anew, which a small run would pay for nothing.
            if n_addresses >= RELEASE_PEOPLE {
                crate::cache::release_freed();
            }
            people::rows(by_rank, addr_of)
        },
    );
    people::renumber(&mut local, &rank);
    drop(rank);
    // The index that found strings is not needed from here on (only their text is), and
    // the text is read by the sink's thread too.
    strings.drop_index();
    let strings = Arc::new(strings);
    if let Some(sink) = sink.as_deref_mut() {
        sink.start(incidents.len(), strings.clone());
    }
    let rows = people::aggregate(
        &mut msgs,
        &mut incidents,
        &local,
        &mut people,
        &strings,
        memory_limit,
        sink,
    )?;
    drop(local);
    // And what the walk's address numbering and scratch held, before the exporters' buffers.
    if people.len() >= RELEASE_PEOPLE {
        crate::cache::release_freed();
    }
    Ok(Report {
        messages: msgs,
        incidents,
        people,
        exposures: rows.exposures,
        incident_rows: rows.incident_rows,
        message_id_conflicts,
        strings,
        person_incidents: rows.person_incidents,
    })
}

/// Mark what is new since an earlier audit (its partial result, with its strings): an
/// incident none of whose messages was in it (by identity key), a person whose address was not
/// exposed in it.
pub fn mark_new(report: &mut Report, baseline: &[crate::model::InputResult], strings: &Strings) {
    let mut keys: HashSet<u64> = HashSet::new();
    let mut addrs: HashSet<&str> = HashSet::new();
    for f in baseline.iter().flat_map(|p| &p.findings) {
        keys.extend(f.keys.msgid);
        keys.extend(f.keys.content);
        addrs.extend(f.exposed.iter().map(|e| strings.get(e.addr)));
    }
    for inc in &mut report.incidents {
        let seen = inc.messages.iter().any(|&m| {
            let k = report.messages[m].finding.keys;
            [k.msgid, k.content]
                .into_iter()
                .flatten()
                .any(|k| keys.contains(&k))
        });
        inc.new = Some(!seen);
    }
    let new: Vec<bool> = report
        .people
        .iter()
        .map(|p| !addrs.contains(report.strings.get(p.addr)))
        .collect();
    for (p, n) in report.people.iter_mut().zip(new) {
        p.new = Some(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse_with(f: Vec<Finding>, s: &mut Strings, t: f64) -> Report {
        analyse(f, std::mem::take(s), t, u64::MAX, None).unwrap()
    }

    fn finding(
        s: &mut Strings,
        id: &str,
        date: i64,
        to: &[&str],
        parents: &[&str],
        subject: &str,
    ) -> Finding {
        Finding {
            location: Location::File {
                path: format!("/m/{id}").into(),
            },
            custodian: "c".into(),
            sha256: None,
            size: 1,
            date: Some(date),
            from: "me@police.example".into(),
            subject: subject.into(),
            message_id: Some(id.into()),
            parents: parents.iter().map(|s| s.to_string()).collect(),
            subject_is_reply: crate::scan::is_reply_subject(subject),
            to: to.len(),
            cc: 0,
            bcc: 0,
            exposed: to
                .iter()
                .map(|a| crate::model::Exposed {
                    addr: s.intern(a),
                    name: 0,
                    fields: 1,
                    internal: false,
                })
                .collect(),
            external: to.len(),
            audience: to.len(),
            bcc_only: Vec::new(),
            sensitive: Vec::new(),
            keys: crate::identity::keys(crate::identity::Parts {
                message_id: Some(id),
                exposed: to.to_vec(),
                date: None,
                from: "me@police.example",
                to: to.to_vec(),
                cc: Vec::new(),
                subject: subject.as_bytes(),
            }),
        }
    }

    #[test]
    fn incident_ids_are_padded_as_the_formatter_pads_them() {
        for (k, width) in [
            (0, 5),
            (9, 5),
            (99_999, 5),
            (123_456, 5),
            (0, 1),
            (41, 0),
            (7, 12),
        ] {
            let mut s = String::new();
            push_incident_id(&mut s, k, width);
            assert_eq!(s, format!("INC-{:0width$}", k + 1));
        }
    }

    #[test]
    fn messages_are_walked_by_date_then_id_then_location_stably() {
        let mut s = Strings::default();
        // Pseudo-random dates, ids and paths with many ties, in a scrambled order.
        let mut msgs: Vec<Message> = (0..300u64)
            .map(|i| {
                let r = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                let mut f = finding(
                    &mut s,
                    &format!("id{}", r % 7),
                    (r % 5) as i64,
                    &["a@example.org"],
                    &[],
                    "s",
                );
                f.date = (r % 11 != 0).then_some((r % 5) as i64);
                f.location = Location::File {
                    path: format!("/m/{}", r % 13).into(),
                };
                Message {
                    sources: vec![f.location.clone()],
                    finding: f,
                    sha256: vec![i.to_string()],
                    custodians: Vec::new(),
                    incident: 0,
                    reply_all: false,
                    exposed_count: 0,
                }
            })
            .collect();
        let expected: Vec<String> = {
            let mut v: Vec<&Message> = msgs.iter().collect();
            v.sort_by_cached_key(|m| {
                let f = &m.finding;
                (
                    f.date.is_none(),
                    f.date.unwrap_or(0),
                    f.message_id.clone().unwrap_or_default(),
                    m.sources[0].clone(),
                )
            });
            v.iter().map(|m| m.sha256[0].clone()).collect()
        };
        copies::sort(&mut msgs);
        let got: Vec<String> = msgs.iter().map(|m| m.sha256[0].clone()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn reminders_to_the_same_list_are_one_incident() {
        let mut s = Strings::default();
        let list: Vec<String> = (0..10).map(|i| format!("r{i}@x.test")).collect();
        let l: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
        let other: Vec<String> = (0..10).map(|i| format!("o{i}@x.test")).collect();
        let o: Vec<&str> = other.iter().map(|s| s.as_str()).collect();
        let mut nine = l.clone();
        nine.pop(); // 9/10 overlap = 0.9
        let r = analyse_with(
            vec![
                finding(&mut s, "b", 200, &nine, &[], "Reminder"),
                finding(&mut s, "a", 100, &l, &[], "Meeting"),
                finding(&mut s, "c", 300, &o, &[], "Other"),
            ],
            &mut s,
            0.8,
        );
        assert_eq!(r.incidents.len(), 2);
        assert_eq!(r.incidents[0].id, "INC-0001");
        assert_eq!(r.incidents[0].messages.len(), 2);
        assert_eq!(r.incidents[0].subject, "Meeting");
        assert_eq!(r.incidents[0].exposed, 10);
        assert_eq!(r.people.len(), 20);
        let p0 = &r.people[r
            .people
            .iter()
            .position(|p| r.str(p.addr) == "r0@x.test")
            .unwrap()];
        assert_eq!((p0.messages, p0.incidents.len()), (2, 1));
    }

    #[test]
    fn reply_links_join_and_mark_reply_all() {
        let mut s = Strings::default();
        let a: Vec<&str> = vec!["a@x.test", "b@x.test"];
        let b: Vec<&str> = vec!["c@x.test", "d@x.test"];
        let r = analyse_with(
            vec![
                finding(&mut s, "p", 100, &a, &[], "Survey"),
                finding(&mut s, "q", 200, &b, &["p"], "Re: Survey"),
            ],
            &mut s,
            0.8,
        );
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].reply_all, 1);
        assert!(!r.messages[0].reply_all && r.messages[1].reply_all);
    }

    #[test]
    fn a_reused_message_id_with_other_recipients_is_not_a_copy() {
        let mut s = Strings::default();
        let a: Vec<&str> = vec!["a@x.test", "b@x.test"];
        let b: Vec<&str> = vec!["c@x.test", "d@x.test"];
        let mut second = finding(&mut s, "p", 100, &b, &[], "S");
        second.location = Location::File {
            path: "/other/p".into(),
        };
        let r = analyse_with(
            vec![finding(&mut s, "p", 100, &a, &[], "S"), second],
            &mut s,
            0.8,
        );
        assert_eq!(r.messages.len(), 2);
        assert_eq!(
            r.people.len(),
            4,
            "nobody may be dropped from the notification list"
        );
        assert_eq!(r.message_id_conflicts, 1);
    }

    #[test]
    fn copies_are_merged_with_all_locations() {
        let mut s = Strings::default();
        let a: Vec<&str> = vec!["a@x.test"];
        let mut f2 = finding(&mut s, "p", 100, &a, &[], "S");
        f2.location = Location::File {
            path: "/other/p".into(),
        };
        let r = analyse_with(
            vec![finding(&mut s, "p", 100, &a, &[], "S"), f2],
            &mut s,
            0.8,
        );
        assert_eq!(r.messages.len(), 1);
        let s: Vec<String> = r.messages[0]
            .sources
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(s, ["/m/p", "/other/p"]);
    }
}
