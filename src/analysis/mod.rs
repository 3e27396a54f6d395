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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{ExposedAddr, Finding};
use crate::parse::date::rfc3339;
use crate::source::Location;

mod grouping;

/// A fast, non-cryptographic hasher for in-memory maps of this module (FxHash: multiply and
/// rotate a word at a time). Nothing hashed with it is persisted or compared across runs.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxBuild = std::hash::BuildHasherDefault<Fx>;
type FxMap<K, V> = HashMap<K, V, FxBuild>;
type FxSet<K> = HashSet<K, FxBuild>;

use grouping::{group_by_overlap, UnionFind};

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
    /// Interned ids of `finding.exposed`, same order (analysis only).
    pub exposed_ids: Vec<u32>,
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
    pub custodians: Vec<String>,
    /// With a baseline: true when none of its messages was in it.
    pub new: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub addr: Arc<str>,
    pub name: String,
    pub internal: bool,
    /// Incident indices, ascending.
    pub incidents: Vec<usize>,
    pub messages: usize,
    pub first_exposed: Option<i64>,
    pub last_exposed: Option<i64>,
    pub max_audience: usize,
    /// With a baseline: true when the address was not exposed in it.
    pub new: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Exposure {
    pub incident: usize,
    pub addr: Arc<str>,
    pub name: String,
    pub internal: bool,
    pub field: &'static str,
    pub first_sent: Option<i64>,
    pub messages: usize,
    pub audience: usize,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by incident, then date, then Message-ID.
    pub messages: Vec<Message>,
    pub incidents: Vec<Incident>,
    /// Sorted by address.
    pub people: Vec<Person>,
    /// Sorted by incident, then address.
    pub exposures: Vec<Exposure>,
    /// Exposing messages that reused another's Message-ID with other recipients (kept apart).
    pub message_id_conflicts: usize,
}

pub fn date_cell(t: Option<i64>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

/// Merge copies; returns unique messages in order of first appearance.
///
/// A shared Message-ID only makes copies when the exposed recipients are the same too: some
/// mailers reuse ids, and merging two different messages would drop the second one's people
/// from the notification list. Such reuses are counted (the second return value).
fn merge_copies(findings: Vec<Finding>) -> (Vec<Message>, usize) {
    let mut copies = crate::identity::Copies::default();
    // Message-ID alone → the first Message-ID-with-recipients key seen with it.
    let mut ids_seen: HashMap<u64, u64> = HashMap::new();
    let mut id_keys_seen: std::collections::HashSet<u64> = Default::default();
    let mut conflicts = 0;
    for f in &findings {
        copies.add(&f.keys);
        if let (Some(id), Some(k)) = (f.keys.id_only, f.keys.msgid) {
            if *ids_seen.entry(id).or_insert(k) != k && id_keys_seen.insert(k) {
                conflicts += 1;
            }
        }
    }
    let mut out: Vec<Message> = Vec::new();
    let mut slot: HashMap<u32, usize> = HashMap::new();
    for f in findings {
        let loc = f.location.clone();
        let sha = f.sha256.clone().unwrap_or_default();
        match copies
            .group(&f.keys)
            .and_then(|g| slot.get(&g).map(|&m| (g, m)))
        {
            Some((_, m)) => {
                out[m].custodians.push(f.custodian.clone());
                out[m].sources.push(loc);
                out[m].sha256.push(sha);
            }
            None => {
                if let Some(g) = copies.group(&f.keys) {
                    slot.insert(g, out.len());
                }
                out.push(Message {
                    custodians: vec![f.custodian.clone()],
                    finding: f,
                    sources: vec![loc],
                    sha256: vec![sha],
                    incident: 0,
                    reply_all: false,
                    exposed_ids: Vec::new(),
                });
            }
        }
    }
    (out, conflicts)
}

fn sort_key(m: &Message) -> (bool, i64, String, Location) {
    let f = &m.finding;
    (
        f.date.is_none(),
        f.date.unwrap_or(0),
        f.message_id.clone().unwrap_or_default(),
        m.sources[0].clone(),
    )
}

/// Build the report from the findings of a scan.
pub fn analyse(findings: Vec<Finding>, jaccard: f64) -> Report {
    let (mut msgs, message_id_conflicts) = merge_copies(findings);
    msgs.sort_by_cached_key(sort_key);
    let n = msgs.len();

    // Intern addresses once: every per-person and per-exposure structure below works on ids.
    let mut ids: FxMap<Arc<str>, u32> = FxMap::default();
    for m in msgs.iter_mut() {
        m.exposed_ids = m
            .finding
            .exposed
            .iter()
            .map(|e| {
                let next = ids.len() as u32;
                *ids.entry(e.addr.clone()).or_insert(next)
            })
            .collect();
    }
    let sets: Vec<Vec<u32>> = msgs
        .iter()
        .map(|m| {
            let mut v = m.exposed_ids.clone();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();

    let mut uf = UnionFind::new(n);
    // Reply links.
    let mut by_msgid: HashMap<&str, usize> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        if let Some(id) = m.finding.message_id.as_deref() {
            by_msgid.entry(id).or_insert(i);
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        for p in &m.finding.parents {
            if let Some(&j) = by_msgid.get(p.as_str()) {
                uf.union(i, j);
            }
        }
    }
    // Overlap: exact Jaccard, candidates from the prefix filter (see `grouping`).
    group_by_overlap(&sets, ids.len(), jaccard, &mut uf);

    // Incidents, named by first member; messages are already in send order, so incident order
    // is by first send, then Message-ID.
    let mut incident_of_root: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, m) in msgs.iter_mut().enumerate() {
        let r = uf.find(i);
        let next = incident_of_root.len();
        m.incident = *incident_of_root.entry(r).or_insert(next);
        m.reply_all = m.finding.subject_is_reply || !m.finding.parents.is_empty();
    }
    // Final message order: by incident, then send order (a stable sort keeps send order; the
    // cached-key sort moves each message once).
    drop(sets);
    msgs.sort_by_cached_key(|m| m.incident);
    let width = incident_of_root.len().to_string().len().max(4);

    let mut incidents: Vec<Incident> = Vec::with_capacity(incident_of_root.len());
    for (idx, m) in msgs.iter().enumerate() {
        if m.incident == incidents.len() {
            incidents.push(Incident {
                id: format!("INC-{:0width$}", m.incident + 1),
                messages: Vec::new(),
                first_sent: None,
                last_sent: None,
                senders: Vec::new(),
                subject: m.finding.subject.clone(),
                exposed: 0,
                external: 0,
                audience: 0,
                reply_all: 0,
                custodians: Vec::new(),
                new: None,
            });
        }
        incidents[m.incident].messages.push(idx);
    }

    // Each address's place in byte order: rows are sorted by comparing numbers, not strings.
    let mut by_addr: Vec<(Arc<str>, u32)> = ids.into_iter().collect();
    by_addr.sort_unstable();
    let mut rank = vec![0u32; by_addr.len()];
    for (r, (_, id)) in by_addr.iter().enumerate() {
        rank[*id as usize] = r as u32;
    }
    let mut people: Vec<Option<PersonAcc>> = (0..by_addr.len()).map(|_| None).collect();
    let mut exposures: Vec<Exposure> = Vec::new();
    for (k, inc) in incidents.iter_mut().enumerate() {
        let mut exposed: FxMap<u32, ExposureAcc> = FxMap::default();
        let mut audience: FxSet<&str> = FxSet::default();
        let mut senders: BTreeSet<&str> = BTreeSet::new();
        let mut custodians: BTreeSet<&str> = BTreeSet::new();
        for &mi in &inc.messages {
            let m = &msgs[mi];
            custodians.extend(m.custodians.iter().map(|c| &**c));
            let f = &m.finding;
            if let Some(d) = f.date {
                inc.first_sent = Some(inc.first_sent.map_or(d, |x: i64| x.min(d)));
                inc.last_sent = Some(inc.last_sent.map_or(d, |x: i64| x.max(d)));
            }
            if !f.from.is_empty() {
                senders.insert(&f.from);
            }
            inc.reply_all += usize::from(m.reply_all);
            for (e, &id) in f.exposed.iter().zip(&m.exposed_ids) {
                audience.insert(&*e.addr);
                exposed
                    .entry(id)
                    .or_insert_with(|| ExposureAcc::new(e))
                    .add(e, f);
                people[id as usize]
                    .get_or_insert_with(|| PersonAcc::new(e))
                    .add(e, f, k);
            }
            for h in &f.bcc_only {
                audience.insert(h);
            }
        }
        inc.senders = senders.into_iter().map(str::to_string).collect();
        inc.custodians = custodians.into_iter().map(str::to_string).collect();
        inc.exposed = exposed.len();
        inc.external = exposed.values().filter(|a| !a.internal).count();
        inc.audience = audience.len();
        let mut accs: Vec<(u32, ExposureAcc)> = exposed.into_iter().collect();
        accs.sort_unstable_by_key(|(id, _)| rank[*id as usize]);
        for (_, acc) in accs {
            exposures.push(Exposure {
                incident: k,
                addr: acc.addr,
                name: best_name(&acc.names),
                internal: acc.internal,
                field: label(acc.fields),
                first_sent: acc.first,
                messages: acc.messages,
                audience: acc.audience,
            });
        }
    }

    let people = by_addr
        .into_iter()
        .filter_map(|(addr, id)| {
            let a = people[id as usize].take()?;
            Some(Person {
                addr,
                name: best_name(&a.names),
                internal: a.internal,
                incidents: a.incidents,
                messages: a.messages,
                first_exposed: a.first,
                last_exposed: a.last,
                max_audience: a.max_audience,
                new: None,
            })
        })
        .collect();
    Report {
        messages: msgs,
        incidents,
        people,
        exposures,
        message_id_conflicts,
    }
}

/// Mark what is new since an earlier audit (its partial result): an incident none of whose
/// messages was in it (by identity key), a person whose address was not exposed in it.
pub fn mark_new(report: &mut Report, baseline: &[crate::model::InputResult]) {
    let mut keys: HashSet<u64> = HashSet::new();
    let mut addrs: HashSet<&str> = HashSet::new();
    for f in baseline.iter().flat_map(|p| &p.findings) {
        keys.extend(f.keys.msgid);
        keys.extend(f.keys.content);
        addrs.extend(f.exposed.iter().map(|e| &*e.addr));
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
    for p in &mut report.people {
        p.new = Some(!addrs.contains(&*p.addr));
    }
}

fn label(fields: u8) -> &'static str {
    ExposedAddr {
        addr: "".into(),
        name: String::new(),
        fields,
        internal: false,
    }
    .field_label()
}

/// Display names seen for one address, with counts. Almost always zero or one name, so a
/// small vector (a map would allocate a whole node per person).
type Names = Vec<(String, usize)>;

/// The most frequent non-empty display name; ties go to the alphabetically first.
fn best_name(names: &Names) -> String {
    names
        .iter()
        .filter(|(n, _)| !n.is_empty())
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(n, _)| n.clone())
        .unwrap_or_default()
}

fn count_name(names: &mut Names, name: &str) {
    if name.is_empty() {
        return;
    }
    match names.iter_mut().find(|(n, _)| n == name) {
        Some((_, c)) => *c += 1,
        None => names.push((name.to_string(), 1)),
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

struct ExposureAcc {
    addr: Arc<str>,
    names: Names,
    fields: u8,
    first: Option<i64>,
    messages: usize,
    audience: usize,
    internal: bool,
}

impl ExposureAcc {
    fn new(e: &ExposedAddr) -> Self {
        ExposureAcc {
            addr: e.addr.clone(),
            names: Names::new(),
            fields: 0,
            first: None,
            messages: 0,
            audience: 0,
            internal: e.internal,
        }
    }
    fn add(&mut self, e: &ExposedAddr, f: &Finding) {
        count_name(&mut self.names, &e.name);
        self.fields |= e.fields;
        self.first = min_opt(self.first, f.date);
        self.messages += 1;
        self.audience = self.audience.max(f.audience);
    }
}

struct PersonAcc {
    names: Names,
    internal: bool,
    /// Ascending: incidents are visited in order.
    incidents: Vec<usize>,
    messages: usize,
    first: Option<i64>,
    last: Option<i64>,
    max_audience: usize,
}

impl PersonAcc {
    fn new(e: &ExposedAddr) -> Self {
        PersonAcc {
            names: Names::new(),
            internal: e.internal,
            incidents: Vec::new(),
            messages: 0,
            first: None,
            last: None,
            max_audience: 0,
        }
    }
    fn add(&mut self, e: &ExposedAddr, f: &Finding, incident: usize) {
        count_name(&mut self.names, &e.name);
        if self.incidents.last() != Some(&incident) {
            self.incidents.push(incident);
        }
        self.messages += 1;
        self.first = min_opt(self.first, f.date);
        self.last = max_opt(self.last, f.date);
        self.max_audience = self.max_audience.max(f.audience);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, date: i64, to: &[&str], parents: &[&str], subject: &str) -> Finding {
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
                .map(|a| ExposedAddr {
                    addr: (*a).into(),
                    name: String::new(),
                    fields: 1,
                    internal: false,
                })
                .collect(),
            external: to.len(),
            audience: to.len(),
            bcc_only: Vec::new(),
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
    fn reminders_to_the_same_list_are_one_incident() {
        let list: Vec<String> = (0..10).map(|i| format!("r{i}@x.test")).collect();
        let l: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
        let other: Vec<String> = (0..10).map(|i| format!("o{i}@x.test")).collect();
        let o: Vec<&str> = other.iter().map(|s| s.as_str()).collect();
        let mut nine = l.clone();
        nine.pop(); // 9/10 overlap = 0.9
        let r = analyse(
            vec![
                finding("b", 200, &nine, &[], "Reminder"),
                finding("a", 100, &l, &[], "Meeting"),
                finding("c", 300, &o, &[], "Other"),
            ],
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
            .position(|p| &*p.addr == "r0@x.test")
            .unwrap()];
        assert_eq!((p0.messages, p0.incidents.len()), (2, 1));
    }

    #[test]
    fn reply_links_join_and_mark_reply_all() {
        let a: Vec<&str> = vec!["a@x.test", "b@x.test"];
        let b: Vec<&str> = vec!["c@x.test", "d@x.test"];
        let r = analyse(
            vec![
                finding("p", 100, &a, &[], "Survey"),
                finding("q", 200, &b, &["p"], "Re: Survey"),
            ],
            0.8,
        );
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].reply_all, 1);
        assert!(!r.messages[0].reply_all && r.messages[1].reply_all);
    }

    #[test]
    fn a_reused_message_id_with_other_recipients_is_not_a_copy() {
        let a: Vec<&str> = vec!["a@x.test", "b@x.test"];
        let b: Vec<&str> = vec!["c@x.test", "d@x.test"];
        let mut second = finding("p", 100, &b, &[], "S");
        second.location = Location::File {
            path: "/other/p".into(),
        };
        let r = analyse(vec![finding("p", 100, &a, &[], "S"), second], 0.8);
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
        let a: Vec<&str> = vec!["a@x.test"];
        let mut f2 = finding("p", 100, &a, &[], "S");
        f2.location = Location::File {
            path: "/other/p".into(),
        };
        let r = analyse(vec![finding("p", 100, &a, &[], "S"), f2], 0.8);
        assert_eq!(r.messages.len(), 1);
        let s: Vec<String> = r.messages[0]
            .sources
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(s, ["/m/p", "/other/p"]);
    }
}
