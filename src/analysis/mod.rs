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

use crate::intern::Strings;
use crate::model::Finding;
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
    pub custodians: Vec<String>,
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
    /// Range of [`Report::person_incidents`]: see [`Report::incidents_of`].
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

/// A time in Unix seconds, or none, in 8 bytes (an `Option<i64>` takes 16: millions of rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(i64);

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
#[derive(Debug, Clone)]
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

impl Exposure {
    pub fn field_label(&self) -> &'static str {
        label(self.fields)
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
    /// Sorted by incident, then address.
    pub exposures: Vec<Exposure>,
    /// Exposing messages that reused another's Message-ID with other recipients (kept apart).
    pub message_id_conflicts: usize,
    /// The addresses and names the rows refer to.
    pub strings: Strings,
    /// Every person's incidents, one run per person.
    person_incidents: Vec<u32>,
}

impl Report {
    pub fn str(&self, id: u32) -> &str {
        self.strings.get(id)
    }

    /// A person's incident indices, ascending.
    pub fn incidents_of(&self, p: &Person) -> &[u32] {
        &self.person_incidents[p.incidents.start as usize..p.incidents.end as usize]
    }
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
                    exposed_count: 0,
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

/// Build the report from the findings of a scan (their addresses and names in `strings`).
pub fn analyse(findings: Vec<Finding>, mut strings: Strings, jaccard: f64) -> Report {
    let (mut msgs, message_id_conflicts) = merge_copies(findings);
    msgs.sort_by_cached_key(sort_key);
    let n = msgs.len();

    // Exposed addresses numbered densely (the string ids also count names).
    let mut local = vec![u32::MAX; strings.len()];
    let mut addr_of: Vec<u32> = Vec::new();
    for m in &msgs {
        for e in &m.finding.exposed {
            let l = &mut local[e.addr as usize];
            if *l == u32::MAX {
                *l = addr_of.len() as u32;
                addr_of.push(e.addr);
            }
        }
    }
    let n_people = addr_of.len();

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
    drop(by_msgid);
    // Overlap: exact Jaccard, candidates from the prefix filter (see `grouping`).
    {
        let sets: Vec<Vec<u32>> = msgs
            .iter()
            .map(|m| {
                let mut v: Vec<u32> = m
                    .finding
                    .exposed
                    .iter()
                    .map(|e| local[e.addr as usize])
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        group_by_overlap(&sets, n_people, jaccard, &mut uf);
    }

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
                sensitive: Vec::new(),
                new: None,
            });
        }
        incidents[m.incident].messages.push(idx);
    }

    // Each address's place in byte order: rows are sorted by comparing numbers, not strings.
    let by_rank: Vec<u32> = {
        // Sorted by the first 12 bytes (numbers, in cache; the id in the low 32 bits), then by
        // whole strings only where those tie: the same order as comparing the strings, with a
        // fraction of the cache misses.
        use rayon::prelude::*;
        let key = |a: u32| {
            let b = strings.get(addr_of[a as usize]).as_bytes();
            let mut w = [0u8; 16];
            let n = b.len().min(12);
            w[..n].copy_from_slice(&b[..n]);
            u128::from_be_bytes(w) | u128::from(a)
        };
        let mut keyed: Vec<u128> = (0..n_people as u32).into_par_iter().map(key).collect();
        keyed.par_sort_unstable();
        keyed
            .par_chunk_by_mut(|x, y| x >> 32 == y >> 32)
            .for_each(|run| {
                if run.len() > 1 {
                    run.sort_unstable_by(|x, y| {
                        strings
                            .get(addr_of[*x as u32 as usize])
                            .cmp(strings.get(addr_of[*y as u32 as usize]))
                    });
                }
            });
        keyed.into_iter().map(|k| k as u32).collect()
    };
    let mut rank = vec![0u32; n_people];
    for (r, &p) in by_rank.iter().enumerate() {
        rank[p as usize] = r as u32;
    }

    // The index that found strings is not needed from here on (only their text is).
    strings.drop_index();
    // Per person, added up in place, in address order (no allocation per person).
    let mut people: Vec<Person> = by_rank
        .iter()
        .map(|&p| Person {
            addr: addr_of[p as usize],
            name: 0,
            internal: false,
            incidents: 0..0,
            messages: 0,
            first_exposed: When::NONE,
            last_exposed: When::NONE,
            max_audience: 0,
            new: None,
            name_count: 0,
            name_conflict: false,
        })
        .collect();
    // From here on a string id leads straight to its person's row (its rank).
    for l in local.iter_mut().filter(|l| **l != u32::MAX) {
        *l = rank[*l as usize];
    }
    drop(rank);
    drop(by_rank);
    drop(addr_of);

    // (person, name) and (exposure row, name) for every named exposure: best names, later.
    // Names counted aside only where one key saw several (with weights).
    let mut person_names: Vec<(u32, u32, u32)> = Vec::new();
    let mut row_names: Vec<(u32, u32, u32)> = Vec::new();
    // At most one row per exposed entry: reserved once (no doubling of millions of rows).
    let mut exposures: Vec<Exposure> =
        Vec::with_capacity(msgs.iter().map(|m| m.finding.exposed.len()).sum());
    for (k, inc) in incidents.iter_mut().enumerate() {
        // Person → its row in `exposures` (rows of this incident start at `first_row`).
        let mut rows: FxMap<u32, u32> = FxMap::default();
        let first_row = exposures.len();
        // Who saw the list: the exposed (by id) and the Bcc recipients not exposed in it.
        let mut audience: FxSet<u32> = FxSet::default();
        let mut bcc_audience: FxSet<&str> = FxSet::default();
        let mut senders: BTreeSet<&str> = BTreeSet::new();
        let mut custodians: BTreeSet<&str> = BTreeSet::new();
        let mut sensitive: BTreeSet<&str> = BTreeSet::new();
        // Each message's exposed people are taken out and freed with the incident: the rows
        // built from them replace them, so memory does not hold both.
        let taken: Vec<Vec<crate::model::Exposed>> = inc
            .messages
            .iter()
            .map(|&mi| {
                let m = &mut msgs[mi];
                m.exposed_count = m.finding.exposed.len();
                std::mem::take(&mut m.finding.exposed)
            })
            .collect();
        for (&mi, exposed) in inc.messages.iter().zip(&taken) {
            let m = &msgs[mi];
            custodians.extend(m.custodians.iter().map(|c| &**c));
            sensitive.extend(m.finding.sensitive.iter().map(|h| h.category.as_str()));
            let f = &m.finding;
            if let Some(d) = f.date {
                inc.first_sent = Some(inc.first_sent.map_or(d, |x: i64| x.min(d)));
                inc.last_sent = Some(inc.last_sent.map_or(d, |x: i64| x.max(d)));
            }
            if !f.from.is_empty() {
                senders.insert(&f.from);
            }
            inc.reply_all += usize::from(m.reply_all);
            for (j, e) in exposed.iter().enumerate() {
                // People are in address order, exposures walked by incident: ask for the
                // row a few entries ahead so the misses overlap.
                if let Some(ahead) = exposed.get(j + 8) {
                    crate::cache::prefetch(&people, local[ahead.addr as usize] as usize);
                }
                let r = local[e.addr as usize];
                audience.insert(e.addr);
                let row = *rows.entry(r).or_insert_with(|| {
                    exposures.push(Exposure {
                        incident: k as u32,
                        addr: e.addr,
                        name: 0,
                        internal: e.internal,
                        fields: 0,
                        first_sent: When::NONE,
                        messages: 0,
                        audience: 0,
                    });
                    (exposures.len() - 1) as u32
                });
                let x = &mut exposures[row as usize];
                x.fields |= e.fields;
                x.first_sent = x.first_sent.min(f.date);
                x.messages += 1;
                x.audience = x.audience.max(f.audience as u32);
                if e.name != 0 {
                    if inc.messages.len() == 1 {
                        // One message: one exposure per row, its name is the name.
                        exposures[row as usize].name = e.name;
                    } else {
                        row_names.push((row, e.name, 1));
                    }
                    let a = &mut people[r as usize];
                    if a.name == 0 {
                        a.name = e.name;
                        a.name_count = 1;
                    } else if a.name == e.name && !a.name_conflict {
                        a.name_count += 1;
                    } else {
                        if !a.name_conflict {
                            a.name_conflict = true;
                            person_names.push((r, a.name, a.name_count));
                        }
                        person_names.push((r, e.name, 1));
                    }
                }
                let a = &mut people[r as usize];
                if a.messages == 0 {
                    a.internal = e.internal;
                }
                a.messages += 1;
                a.first_exposed = a.first_exposed.min(f.date);
                a.last_exposed = a.last_exposed.max(f.date);
                a.max_audience = a.max_audience.max(f.audience as u32);
            }
            for h in &f.bcc_only {
                bcc_audience.insert(h);
            }
        }
        inc.senders = senders.into_iter().map(str::to_string).collect();
        inc.custodians = custodians.into_iter().map(str::to_string).collect();
        inc.sensitive = sensitive.into_iter().map(str::to_string).collect();
        let mine = &mut exposures[first_row..];
        inc.exposed = mine.len();
        inc.external = mine.iter().filter(|x| !x.internal).count();
        inc.audience = audience.len();
        if !bcc_audience.is_empty() {
            let shown: FxSet<&str> = mine.iter().map(|x| strings.get(x.addr)).collect();
            inc.audience += bcc_audience.iter().filter(|h| !shown.contains(*h)).count();
        }
        // Rows of this incident by address; row names must follow their rows.
        let mut order: Vec<u32> = (0..mine.len() as u32).collect();
        order.sort_unstable_by_key(|&i| local[mine[i as usize].addr as usize]);
        let mut moved_to = vec![0u32; mine.len()];
        for (to, &from) in order.iter().enumerate() {
            moved_to[from as usize] = (first_row + to) as u32;
        }
        let sorted: Vec<Exposure> = order.iter().map(|&i| mine[i as usize].clone()).collect();
        mine.clone_from_slice(&sorted);
        for (row, _, _) in row_names.iter_mut().rev() {
            if (*row as usize) < first_row {
                break;
            }
            *row = moved_to[*row as usize - first_row];
        }
    }
    // Best names: the most frequent, ties to the alphabetically first.
    for (row, name) in best_names(row_names, &strings) {
        exposures[row as usize].name = name;
    }
    for (r, name) in best_names(person_names, &strings) {
        people[r as usize].name = name;
    }

    // Each person's incidents, from the exposure rows (one per incident and person, in
    // incident order, so each person's list comes out ascending); people in order.
    release_freed_memory();
    // Counted into `incidents.end`, then filled with `name_count` as the cursor (it has done its
    // work): no extra per-person arrays at this, the fullest moment.
    let person_of = |x: &Exposure| local[x.addr as usize] as usize;
    for x in &exposures {
        people[person_of(x)].incidents.end += 1;
    }
    let mut at = 0u32;
    for person in &mut people {
        let c = person.incidents.end;
        person.incidents = at..at;
        person.name_count = at;
        at += c;
    }
    let mut person_incidents = vec![0u32; exposures.len()];
    for x in &exposures {
        let person = &mut people[person_of(x)];
        person_incidents[person.name_count as usize] = x.incident;
        person.name_count += 1;
        person.incidents.end = person.name_count;
    }
    drop(local);
    Report {
        messages: msgs,
        incidents,
        people,
        exposures,
        message_id_conflicts,
        strings,
        person_incidents,
    }
}

/// Give memory freed by the aggregation (the findings' exposed lists, many small blocks) back
/// to the system before the last large allocation, so the peak is not both.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no pointer is affected.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// For each key, the most frequent name (counting weights); ties to the alphabetically first.
fn best_names<'a>(
    mut triples: Vec<(u32, u32, u32)>,
    strings: &'a Strings,
) -> impl Iterator<Item = (u32, u32)> + 'a {
    triples.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    let mut i = 0;
    while i < triples.len() {
        let key = triples[i].0;
        let mut best: Option<(u32, u64)> = None;
        while i < triples.len() && triples[i].0 == key {
            let name = triples[i].1;
            let mut n = 0u64;
            while i < triples.len() && (triples[i].0, triples[i].1) == (key, name) {
                n += u64::from(triples[i].2);
                i += 1;
            }
            best = match best {
                Some((b, bn)) if bn > n || (bn == n && strings.get(b) <= strings.get(name)) => {
                    Some((b, bn))
                }
                _ => Some((name, n)),
            };
        }
        if let Some((name, _)) = best {
            out.push((key, name));
        }
    }
    out.into_iter()
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

fn label(fields: u8) -> &'static str {
    use crate::detect::{IN_CC, IN_TO};
    match (fields & IN_TO != 0, fields & IN_CC != 0) {
        (true, true) => "to+cc",
        (true, false) => "to",
        _ => "cc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse_with(f: Vec<Finding>, s: &mut Strings, t: f64) -> Report {
        analyse(f, std::mem::take(s), t)
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
