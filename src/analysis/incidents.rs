//! Messages into incidents: two messages belong together when one replies to the other or
//! when their exposed sets overlap with Jaccard ≥ the threshold (exact; candidates from the
//! prefix filter in [`super::grouping`]); incidents are numbered by first send.

use std::collections::HashMap;

use super::grouping::{group_by_overlap, UnionFind};
use super::{Incident, Message};

/// Exposed addresses numbered densely, in order of first sight: `local[string id]` is the
/// number of an address (`u32::MAX` for strings that are none: names), `addr_of[number]`
/// its string id.
pub(super) fn number_addresses(msgs: &[Message], n_strings: usize) -> (Vec<u32>, Vec<u32>) {
    let mut local = vec![u32::MAX; n_strings];
    let mut addr_of: Vec<u32> = Vec::new();
    for m in msgs {
        for e in &m.finding.exposed {
            let l = &mut local[e.addr as usize];
            if *l == u32::MAX {
                *l = addr_of.len() as u32;
                addr_of.push(e.addr);
            }
        }
    }
    (local, addr_of)
}

/// Group `msgs` (in send order) into incidents, marking each message with its incident and
/// whether it is a reply-all; `msgs` end up by incident, then send order.
pub(super) fn group(
    msgs: &mut [Message],
    local: &[u32],
    n_people: usize,
    jaccard: f64,
) -> Vec<Incident> {
    let n = msgs.len();
    let mut uf = UnionFind::new(n);
    // Reply links.
    // Message-IDs come from mail: a seeded hash, so that crafted ids cannot collide at will.
    let mut by_msgid: HashMap<&str, usize> = HashMap::with_capacity(n);
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
    let mut incident_of_root: Vec<usize> = vec![usize::MAX; n];
    let mut n_incidents = 0;
    for (i, m) in msgs.iter_mut().enumerate() {
        let k = &mut incident_of_root[uf.find(i)];
        if *k == usize::MAX {
            *k = n_incidents;
            n_incidents += 1;
        }
        m.incident = *k;
        m.reply_all = m.finding.subject_is_reply || !m.finding.parents.is_empty();
    }
    drop(incident_of_root);
    // Final message order: by incident, then send order (a stable sort keeps send order; the
    // cached-key sort moves each message once).
    msgs.sort_by_cached_key(|m| m.incident);

    let width = super::id_width(n_incidents);
    let mut incidents: Vec<Incident> = Vec::with_capacity(n_incidents);
    for (idx, m) in msgs.iter().enumerate() {
        if m.incident == incidents.len() {
            incidents.push(Incident {
                id: {
                    let mut id = String::with_capacity(12);
                    super::push_incident_id(&mut id, m.incident, width);
                    id
                },
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
    incidents
}
