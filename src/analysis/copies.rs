//! Copies of one message (the same Message-ID with the same exposed people, or the same
//! content key) merged into one message with several locations; the order messages are
//! walked in.

use super::fx::{FxMap, FxSet};
use super::Message;
use crate::model::Finding;

/// Merge copies; returns unique messages in order of first appearance.
///
/// A shared Message-ID only makes copies when the exposed recipients are the same too: some
/// mailers reuse ids, and merging two different messages would drop the second one's people
/// from the notification list. Such reuses are counted (the second return value).
pub(super) fn merge_copies(findings: Vec<Finding>) -> (Vec<Message>, usize) {
    let n = findings.len();
    let mut copies = crate::identity::Copies::with_capacity(n);
    // Message-ID alone → the first Message-ID-with-recipients key seen with it. The keys are
    // already hashes (SHA-256 prefixes): no need to hash them again with SipHash.
    let mut ids_seen: FxMap<u64, u64> = FxMap::with_capacity_and_hasher(n, Default::default());
    let mut id_keys_seen: FxSet<u64> = FxSet::default();
    let mut conflicts = 0;
    let mut any_copy = false;
    for f in &findings {
        any_copy |= copies.add(&f.keys);
        if let (Some(id), Some(k)) = (f.keys.id_only, f.keys.msgid) {
            if *ids_seen.entry(id).or_insert(k) != k && id_keys_seen.insert(k) {
                conflicts += 1;
            }
        }
    }
    if !any_copy {
        // No finding is a copy of another (the usual case): one message each, in order, made
        // on the pool (moving them is most of this step's time, in fresh pages).
        use rayon::prelude::*;
        let out = findings.into_par_iter().map(Message::of).collect();
        return (out, conflicts);
    }
    let mut out: Vec<Message> = Vec::with_capacity(findings.len());
    let mut slot: FxMap<u32, usize> = FxMap::with_capacity_and_hasher(n, Default::default());
    for f in findings {
        let group = copies.group(&f.keys);
        match group.and_then(|g| slot.get(&g).copied()) {
            Some(m) => {
                let m = &mut out[m];
                m.custodians.push(f.custodian);
                m.sources.push(f.location);
                m.sha256.push(f.sha256.unwrap_or_default());
            }
            None => {
                if let Some(g) = group {
                    slot.insert(g, out.len());
                }
                out.push(Message::of(f));
            }
        }
    }
    (out, conflicts)
}

impl Message {
    /// A message of one copy so far. The finding's own hash is not read after this point: its
    /// place is `Message::sha256`.
    fn of(mut f: Finding) -> Message {
        let sha = f.sha256.take().unwrap_or_default();
        Message {
            custodians: vec![f.custodian.clone()],
            sources: vec![f.location.clone()],
            finding: f,
            sha256: vec![sha],
            incident: 0,
            reply_all: false,
            exposed_count: 0,
        }
    }
}

/// Put messages in the order they are walked in (stable): dated before undated, by date,
/// Message-ID, first location. Their keys are sorted beside their indices, then the messages
/// (large values) are moved once each.
pub(super) fn sort(msgs: &mut [Message]) {
    let mut order: Vec<(bool, i64, &str, u32)> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let f = &m.finding;
            (
                f.date.is_none(),
                f.date.unwrap_or(0),
                f.message_id.as_deref().unwrap_or(""),
                i as u32,
            )
        })
        .collect();
    // Stable, as `sort_by` is (equal keys keep their order): the same order on both cores.
    use rayon::slice::ParallelSliceMut;
    order.par_sort_by(|a, b| {
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| msgs[a.3 as usize].sources[0].cmp(&msgs[b.3 as usize].sources[0]))
            .then(a.3.cmp(&b.3))
    });
    let mut from: Vec<u32> = order.into_iter().map(|k| k.3).collect();
    // Position `i` takes the message now at `from[i]`: each cycle of the permutation is walked
    // with swaps, in place.
    const DONE: u32 = u32::MAX;
    for i in 0..from.len() {
        let mut j = i;
        while from[j] != DONE {
            let k = from[j] as usize;
            from[j] = DONE;
            if k == i {
                break;
            }
            msgs.swap(j, k);
            j = k;
        }
    }
}
