//! Per person and per (incident, person): the rows of affected.csv and exposures.csv, added
//! up in place over dense ids, people in address order (numbers compared, not strings).

use std::collections::BTreeSet;

use super::fx::{FxMap, FxSet};
use super::table::{Sorter, Table};
use super::{Exposure, Incident, Message, Person, When};
use crate::intern::Strings;

/// Each exposed address's place in byte order (`addr_of[i]` is the string id of address
/// number `i`): rows are then sorted by comparing numbers, not strings.
pub(super) fn by_address(addr_of: &[u32], strings: &Strings) -> Vec<u32> {
    let n_people = addr_of.len();
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
}

/// One row per person, in address order; from then on `local` (string id → address
/// number) leads straight to a person's row (its rank).
pub(super) fn rows(by_rank: Vec<u32>, addr_of: Vec<u32>, local: &mut [u32]) -> Vec<Person> {
    let n_people = by_rank.len();
    let mut rank = vec![0u32; n_people];
    for (r, &p) in by_rank.iter().enumerate() {
        rank[p as usize] = r as u32;
    }
    // Per person, added up in place, in address order (no allocation per person).
    let people: Vec<Person> = by_rank
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
    people
}

/// What the walk over incidents fills in.
struct Tally<'a> {
    local: &'a [u32],
    people: &'a mut [Person],
    strings: &'a Strings,
    exposures: Table<Exposure>,
    /// The rows of the incident being walked (to the table when it is done).
    scratch: Vec<Exposure>,
    /// (person, name, weight) for every named exposure of a person seen under several names:
    /// best names, later.
    person_names: Vec<(u32, u32, u32)>,
    /// (row in `scratch`, name, 1) for the incident being walked, when it has several messages.
    row_names: Vec<(u32, u32, u32)>,
}

/// What [`aggregate`] returns.
pub(super) struct Rows {
    /// By incident, then address.
    pub(super) exposures: Table<Exposure>,
    /// Where each incident's rows start in `exposures`, and where the last one ends.
    pub(super) incident_rows: Vec<usize>,
    /// Each person's incidents (its range in `Person::incidents`), ascending.
    pub(super) person_incidents: Table<u32>,
}

/// Walk the incidents: their exposure rows (by incident, then address), counts and
/// audience, and each person's totals, best name and incidents. The rows, which grow with the
/// mailbox rather than with its people, are kept within `budget` bytes of memory and go to a
/// temporary file beyond it (`table.rs`).
pub(super) fn aggregate(
    msgs: &mut [Message],
    incidents: &mut [Incident],
    local: &[u32],
    people: &mut [Person],
    strings: &Strings,
    budget: u64,
) -> std::io::Result<Rows> {
    // At most one row per exposed entry: reserved once (no doubling of millions of rows).
    let mut exposures = Table::new(budget / 2);
    exposures.reserve(msgs.iter().map(|m| m.finding.exposed.len()).sum());
    let mut t = Tally {
        local,
        people,
        strings,
        exposures,
        scratch: Vec::new(),
        person_names: Vec::new(),
        row_names: Vec::new(),
    };
    // The findings' exposed lists are freed incident by incident as their rows are built:
    // handed back to the system every few million entries, so the rows' growth reuses them
    // instead of adding to the peak.
    let mut freed_since = 0usize;
    let mut incident_rows = Vec::with_capacity(incidents.len() + 1);
    for (k, inc) in incidents.iter_mut().enumerate() {
        incident_rows.push(t.exposures.len());
        tally_incident(k, inc, msgs, &mut t);
        freed_since += t.scratch.len();
        t.exposures.extend(&t.scratch)?;
        if freed_since >= 2_000_000 {
            release_freed_memory();
            freed_since = 0;
        }
    }
    incident_rows.push(t.exposures.len());
    let Tally {
        people,
        mut exposures,
        person_names,
        ..
    } = t;
    exposures.finish()?;
    // Best names: the most frequent, ties to the alphabetically first.
    for (r, name) in best_names(person_names, strings) {
        people[r as usize].name = name;
    }
    release_freed_memory();
    let person_incidents = match exposures.as_slice() {
        Some(rows) => Table::in_memory(incident_lists(rows, local, people)),
        None => incident_lists_spilled(&exposures, local, people, budget / 4)?,
    };
    Ok(Rows {
        exposures,
        incident_rows,
        person_incidents,
    })
}

/// Each person's incidents, from the exposure rows (one per incident and person, in incident
/// order, so each person's list comes out ascending); people in order.
fn incident_lists(exposures: &[Exposure], local: &[u32], people: &mut [Person]) -> Vec<u32> {
    // Counted into `incidents.end`, then filled with `name_count` as the cursor (it has done its
    // work): no extra per-person arrays at this, the fullest moment.
    let person_of = |x: &Exposure| local[x.addr as usize] as usize;
    // Rows go by incident, people by address: fetch a few rows ahead so the misses overlap.
    const AHEAD: usize = 16;
    let ahead = |i: usize, people: &[Person]| {
        if let Some(x) = exposures.get(i + AHEAD) {
            crate::cache::prefetch(people, person_of(x));
        }
    };
    for (i, x) in exposures.iter().enumerate() {
        ahead(i, people);
        people[person_of(x)].incidents.end += 1;
    }
    let mut at = 0u32;
    for person in people.iter_mut() {
        let c = person.incidents.end;
        person.incidents = at..at;
        person.name_count = at;
        at += c;
    }
    let mut person_incidents = vec![0u32; exposures.len()];
    for (i, x) in exposures.iter().enumerate() {
        ahead(i, people);
        let person = &mut people[person_of(x)];
        person_incidents[person.name_count as usize] = x.incident;
        person.name_count += 1;
        person.incidents.end = person.name_count;
    }
    person_incidents
}

/// The same lists when the rows are on file: (person, incident) pairs sorted in runs within
/// `budget` and merged, the lists written to a table of their own.
fn incident_lists_spilled(
    exposures: &Table<Exposure>,
    local: &[u32],
    people: &mut [Person],
    budget: u64,
) -> std::io::Result<Table<u32>> {
    let mut sorter = Sorter::new(budget);
    for x in exposures.iter() {
        let p = local[x.addr as usize];
        people[p as usize].incidents.end += 1;
        sorter.push(u64::from(p) << 32 | u64::from(x.incident))?;
    }
    exposures.check()?;
    let mut at = 0u32;
    for person in people.iter_mut() {
        let c = person.incidents.end;
        person.incidents = at..at + c;
        at += c;
    }
    let mut lists = Table::new(budget);
    let mut buf = Vec::with_capacity(1 << 14);
    sorter.finish(|v| {
        buf.push(v as u32);
        if buf.len() == buf.capacity() {
            lists.extend(&buf)?;
            buf.clear();
        }
        Ok(())
    })?;
    lists.extend(&buf)?;
    lists.finish()?;
    Ok(lists)
}

/// Incident `k`: its exposure rows in `t.scratch` (sorted by address, named), its counts,
/// and its people's totals.
fn tally_incident(k: usize, inc: &mut Incident, msgs: &mut [Message], t: &mut Tally<'_>) {
    let Tally {
        local,
        people,
        strings,
        scratch: exposures,
        person_names,
        row_names,
        ..
    } = t;
    let (local, strings) = (*local, *strings);
    exposures.clear();
    row_names.clear();
    // One message (most incidents): its exposed people are distinct (`Finding::exposed`), so
    // each is a new row and the audience is their number: no map, no set.
    let single = inc.messages.len() == 1;
    // Person → its row in `exposures`.
    let mut rows: FxMap<u32, u32> = FxMap::default();
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
                crate::cache::prefetch(people, local[ahead.addr as usize] as usize);
            }
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
    for (row, name) in best_names(std::mem::take(row_names), strings) {
        exposures[row as usize].name = name;
    }
    // This incident's rows by address.
    exposures.sort_unstable_by_key(|x| local[x.addr as usize]);
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
