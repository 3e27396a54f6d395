//! Per person and per (incident, person): the rows of affected.csv and exposures.csv, added
//! up in place over dense ids, people in address order (numbers compared, not strings).

use super::table::{Sorter, Table};
use super::walk::{IncidentSide, PersonSide};
use super::{Exposure, Incident, Message, Person, RowSink, When};
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

/// One row per person, in address order, and each address number's rank (its row).
pub(super) fn rows(by_rank: Vec<u32>, addr_of: Vec<u32>) -> (Vec<Person>, Vec<u32>) {
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
    (people, rank)
}

/// From here on a string id leads straight to its person's row: `local` (string id → address
/// number) renumbered by [`rows`]' ranks.
pub(super) fn renumber(local: &mut [u32], rank: &[u32]) {
    use rayon::prelude::*;
    local
        .par_iter_mut()
        .with_min_len(1 << 16)
        .filter(|l| **l != u32::MAX)
        .for_each(|l| *l = rank[*l as usize]);
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
    mut sink: Option<&mut dyn RowSink>,
) -> std::io::Result<Rows> {
    // At most one row per exposed entry: reserved once (no doubling of millions of rows).
    let mut exposures = Table::new(budget / 2);
    exposures.reserve(msgs.iter().map(|m| m.finding.exposed.len()).sum());
    let mut side = IncidentSide::new(local, strings);
    let mut persons = PersonSide {
        local,
        people,
        names: Vec::new(),
    };
    // Incidents a stretch at a time (about STRETCH exposed entries): its rows and its people's
    // totals on two threads at once, then its messages' exposed lists are freed (handed back
    // to the system every RELEASE_ENTRIES, so the rows' growth reuses them instead of adding
    // to the peak; a smaller run keeps them, spared faulting pages in anew).
    const STRETCH: usize = 1 << 16;
    let (mut freed_since, mut released) = (0usize, false);
    let mut incident_rows = Vec::with_capacity(incidents.len() + 1);
    let mut k0 = 0;
    while k0 < incidents.len() {
        let mut order: Vec<usize> = Vec::new();
        let mut entries = 0;
        let mut k1 = k0;
        while k1 < incidents.len() && (k1 == k0 || entries < STRETCH) {
            for &mi in &incidents[k1].messages {
                order.push(mi);
                entries += msgs[mi].finding.exposed.len();
            }
            k1 += 1;
        }
        let walked: &[Message] = msgs;
        let (rows, ()) = rayon::join(
            || -> std::io::Result<()> {
                // Room for the stretch's rows at once (at most one per exposed entry).
                let mut stretch = Vec::with_capacity(if sink.is_some() { entries } else { 0 });
                for (k, inc) in (k0..).zip(&mut incidents[k0..k1]) {
                    incident_rows.push(exposures.len());
                    side.tally(k, inc, walked);
                    exposures.extend(&side.rows)?;
                    if sink.is_some() {
                        stretch.extend_from_slice(&side.rows);
                    }
                }
                if let Some(sink) = sink.as_deref_mut() {
                    sink.rows(stretch);
                }
                Ok(())
            },
            || {
                for &mi in &order {
                    persons.add(&walked[mi]);
                }
            },
        );
        rows?;
        for &mi in &order {
            let m = &mut msgs[mi];
            m.exposed_count = m.finding.exposed.len();
            freed_since += m.exposed_count;
            m.finding.exposed = Vec::new();
        }
        if freed_since >= RELEASE_ENTRIES {
            crate::cache::release_freed();
            freed_since = 0;
            released = true;
        }
        k0 = k1;
    }
    incident_rows.push(exposures.len());
    let PersonSide { people, names, .. } = persons;
    exposures.finish()?;
    // Best names: the most frequent, ties to the alphabetically first.
    for (r, name) in best_names(names, strings) {
        people[r as usize].name = name;
    }
    if released {
        crate::cache::release_freed();
    }
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

/// Exposed entries (12 bytes each) freed between hand-backs of memory to the system.
const RELEASE_ENTRIES: usize = 500_000;

/// Each person's incidents, from the exposure rows (one per incident and person, in incident
/// order, so each person's list comes out ascending); people in order.
fn incident_lists(exposures: &[Exposure], local: &[u32], people: &mut [Person]) -> Vec<u32> {
    // Counted into `incidents.end` by the walk (`PersonSide::add`), then filled with
    // `name_count` as the cursor (it has done its work): no extra per-person arrays at this, the
    // fullest moment.
    let person_of = |x: &Exposure| local[x.addr as usize] as usize;
    // Rows go by incident, people by address: fetch a few rows ahead so the misses overlap.
    const AHEAD: usize = 16;
    let ahead = |i: usize, people: &[Person]| {
        if let Some(x) = exposures.get(i + AHEAD) {
            crate::cache::prefetch(people, person_of(x));
        }
    };
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

/// For each key, the most frequent name (counting weights); ties to the alphabetically first.
pub(super) fn best_names<'a>(
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
