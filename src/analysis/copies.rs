//! Copies of one message (the same Message-ID with the same exposed people, or the same
//! content key) merged into one message with several locations; the order messages are
//! walked in.

use std::collections::HashMap;

use super::Message;
use crate::model::Finding;
use crate::source::Location;

/// Merge copies; returns unique messages in order of first appearance.
///
/// A shared Message-ID only makes copies when the exposed recipients are the same too: some
/// mailers reuse ids, and merging two different messages would drop the second one's people
/// from the notification list. Such reuses are counted (the second return value).
pub(super) fn merge_copies(findings: Vec<Finding>) -> (Vec<Message>, usize) {
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

pub(super) fn sort_key(m: &Message) -> (bool, i64, String, Location) {
    let f = &m.finding;
    (
        f.date.is_none(),
        f.date.unwrap_or(0),
        f.message_id.clone().unwrap_or_default(),
        m.sources[0].clone(),
    )
}
