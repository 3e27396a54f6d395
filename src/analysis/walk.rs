//! The two halves of the walk over incidents ([`super::people::aggregate`]), run side by side
//! on a stretch of incidents at a time: each incident's exposure rows and counts (written in
//! incident order), and each person's totals (added up in the same order, over rows scattered
//! in address order: the half that waits on memory).

use super::fx::{FxMap, FxSet};
use super::{Exposure, Incident, Message, Person, When};
use crate::cache::prefetch;
use crate::intern::Strings;

/// The rows of one incident at a time.
pub(super) struct IncidentSide<'a> {
    pub(super) local: &'a [u32],
    pub(super) strings: &'a Strings,
    /// The rows of the incident being walked (to the table when it is done).
    pub(super) rows: Vec<Exposure>,
    /// (row in `rows`, name, 1) for the incident being walked, when it has several messages.
    row_names: Vec<(u32, u32, u32)>,
}

impl<'a> IncidentSide<'a> {
    pub(super) fn new(local: &'a [u32], strings: &'a Strings) -> Self {
        IncidentSide {
            local,
            strings,
            rows: Vec::new(),
            row_names: Vec::new(),
        }
    }

    /// Incident `k`: its exposure rows in `self.rows` (sorted by address, named) and its
    /// counts, from its messages (their exposed lists still in place).
    pub(super) fn tally(&mut self, k: usize, inc: &mut Incident, msgs: &[Message]) {
        let IncidentSide {
            local,
            strings,
            rows: exposures,
            row_names,
        } = self;
        let (local, strings) = (*local, *strings);
        exposures.clear();
        row_names.clear();
        // One message (most incidents): its exposed people are distinct (`Finding::exposed`),
        // so each is a new row and the audience is their number: no map, no set.
        let single = inc.messages.len() == 1;
        // Person → its row in `exposures`.
        let mut rows: FxMap<u32, u32> = FxMap::default();
        // Who saw the list: the exposed (by id) and the Bcc recipients not exposed in it.
        let mut audience: FxSet<u32> = FxSet::default();
        let mut bcc_audience: FxSet<&str> = FxSet::default();
        let on = || inc.messages.iter().map(|&mi| &msgs[mi]);
        let senders = distinct(
            on().map(|m| m.finding.from.as_str())
                .filter(|s| !s.is_empty()),
        );
        let custodians = distinct(on().flat_map(|m| &m.custodians));
        let sensitive = distinct(on().flat_map(|m| &m.finding.sensitive).map(|h| &h.category));
        for &mi in &inc.messages {
            let m = &msgs[mi];
            let f = &m.finding;
            if let Some(d) = f.date {
                inc.first_sent = Some(inc.first_sent.map_or(d, |x: i64| x.min(d)));
                inc.last_sent = Some(inc.last_sent.map_or(d, |x: i64| x.max(d)));
            }
            inc.reply_all += usize::from(m.reply_all);
            for e in &f.exposed {
                let r = local[e.addr as usize];
                let mut new_row = || {
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
                };
                let row = if single {
                    new_row()
                } else {
                    audience.insert(e.addr);
                    *rows.entry(r).or_insert_with(new_row)
                };
                let x = &mut exposures[row as usize];
                x.fields |= e.fields;
                x.first_sent = x.first_sent.min(f.date);
                x.messages += 1;
                x.audience = x.audience.max(f.audience as u32);
                if e.name != 0 {
                    if single {
                        // One message: one exposure per row, its name is the name.
                        x.name = e.name;
                    } else {
                        row_names.push((row, e.name, 1));
                    }
                }
            }
            for h in &f.bcc_only {
                bcc_audience.insert(h);
            }
        }
        inc.senders = senders.into_iter().map(str::to_string).collect();
        inc.custodians = custodians.into_iter().cloned().collect();
        inc.sensitive = sensitive.into_iter().cloned().collect();
        inc.exposed = exposures.len();
        inc.external = exposures.iter().filter(|x| !x.internal).count();
        inc.audience = if single {
            exposures.len()
        } else {
            audience.len()
        };
        if !bcc_audience.is_empty() {
            let shown: FxSet<&str> = exposures.iter().map(|x| strings.get(x.addr)).collect();
            inc.audience += bcc_audience.iter().filter(|h| !shown.contains(*h)).count();
        }
        // Row names (kept only for several messages): the most frequent, ties to the
        // alphabetically first.
        for (row, name) in super::people::best_names(std::mem::take(row_names), strings) {
            exposures[row as usize].name = name;
        }
        // This incident's rows by address.
        exposures.sort_unstable_by_key(|x| local[x.addr as usize]);
    }
}

/// The distinct items, in order: a set built only when there are two or more (most
/// incidents have one sender, one custodian, no sensitive term).
fn distinct<'a, T: Ord + ?Sized>(items: impl Iterator<Item = &'a T> + Clone) -> Vec<&'a T> {
    let mut it = items.clone();
    let Some(first) = it.next() else {
        return Vec::new();
    };
    if it.all(|x| x == first) {
        return vec![first];
    }
    let mut v: Vec<&T> = items.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Every person's totals, one message at a time.
pub(super) struct PersonSide<'a> {
    pub(super) local: &'a [u32],
    pub(super) people: &'a mut [Person],
    /// (person, name, weight) for every named exposure of a person seen under several names:
    /// best names, later.
    pub(super) names: Vec<(u32, u32, u32)>,
}

impl PersonSide<'_> {
    /// Message `m`'s exposed people: their counts, dates, audience, names.
    pub(super) fn add(&mut self, m: &Message) {
        let f = &m.finding;
        let (local, people) = (self.local, &mut *self.people);
        // Messages come incident by incident: a person's incidents are counted in
        // `incidents.end`, `incidents.start` holding the last one counted (plus one) until each
        // person's list is laid out.
        let mark = (m.incident as u32).wrapping_add(1);
        for (j, e) in f.exposed.iter().enumerate() {
            // People are in address order, messages walked by incident: ask for the row a few
            // entries ahead so the misses overlap.
            if let Some(ahead) = f.exposed.get(j + 8) {
                prefetch(people, local[ahead.addr as usize] as usize);
            }
            let r = local[e.addr as usize];
            let a = &mut people[r as usize];
            if e.name != 0 {
                if a.name == 0 {
                    a.name = e.name;
                    a.name_count = 1;
                } else if a.name == e.name && !a.name_conflict {
                    a.name_count += 1;
                } else {
                    if !a.name_conflict {
                        a.name_conflict = true;
                        self.names.push((r, a.name, a.name_count));
                    }
                    self.names.push((r, e.name, 1));
                }
            }
            if a.incidents.start != mark {
                a.incidents.start = mark;
                a.incidents.end += 1;
            }
            if a.messages == 0 {
                a.internal = e.internal;
            }
            a.messages += 1;
            a.first_exposed = a.first_exposed.min(f.date);
            a.last_exposed = a.last_exposed.max(f.date);
            a.max_audience = a.max_audience.max(f.audience as u32);
        }
    }
}
