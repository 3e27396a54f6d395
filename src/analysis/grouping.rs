//! Incident grouping by list overlap, exact and near-linear.
//!
//! Two messages belong together when the Jaccard overlap of their exposed sets is at least `t`.
//! Walking, for every message, all earlier messages that share *any* address is quadratic when
//! an address recurs (a team mailbox Cc'd on every mail). Instead, the standard prefix filter of
//! set-similarity joins (Chaudhuri et al. 2006; Bayardo et al., "All-Pairs", 2007) is used:
//!
//! - Addresses are ranked rarest first. If J(S, R) ≥ t then |S ∩ R| ≥ ⌈t·|S|⌉ and ≥ ⌈t·|R|⌉,
//!   so the first |S| − ⌈t·|S|⌉ + 1 addresses of S (in that order) and the first
//!   |R| − ⌈t·|R|⌉ + 1 of R share at least one address. Only those prefixes are indexed and
//!   probed; an address in every message is last in every order and never in a prefix (unless
//!   a set is that small).
//! - Sizes: J(S, R) ≥ t needs t·|S| ≤ |R| ≤ |S|/t.
//! - Positions (PPJoin, Xiao et al., "Efficient similarity joins for near duplicate
//!   detection", 2008): the index keeps each prefix token's position; a candidate whose
//!   common tokens so far plus what could still follow cannot reach the overlap Jaccard ≥ t
//!   needs is dropped at once. Mass mails to random slices of one population (every address
//!   in a few percent of them) share prefix tokens by the thousand, nearly none of them
//!   similar: this keeps them from each costing a merge of two long lists.
//! - Each remaining candidate is checked exactly (a merge of two sorted lists), and only when
//!   it is not already in the same group: grouping is transitive, so a message joined to a
//!   group need not be compared with the group's other members.
//!
//! The result is exactly that of comparing every pair (see the property test below). The cost
//! is the number of (candidate, shared prefix token) hits — addresses rare first, so few —
//! plus one exact check per candidate that survives the filters.

/// Disjoint sets with path halving; the smaller index is always the root, so a group is named
/// by its first member whatever order the unions come in.
pub struct UnionFind(Vec<usize>);

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }

    pub fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }

    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra < rb {
            self.0[rb] = ra;
        } else if rb < ra {
            self.0[ra] = rb;
        }
    }
}

/// Is `inter / union ≥ t`, computed exactly as the pairwise definition does.
fn similar(inter: usize, a: usize, b: usize, t: f64) -> bool {
    let union = a + b - inter;
    union > 0 && inter as f64 / union as f64 >= t
}

/// The overlap of two ascending lists, or `None` as soon as it cannot reach `need` (what is
/// left of the shorter rest could not make it up).
fn overlap_at_least(a: &[u32], b: &[u32], need: usize) -> Option<usize> {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if n + (a.len() - i).min(b.len() - j) < need {
            return None;
        }
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    Some(n)
}

/// Addresses a set must share with any set it is similar to: ⌈t·n⌉, rounded down where the
/// floating-point product sits on an integer (so the prefix is never too short).
fn min_overlap(t: f64, n: usize) -> usize {
    ((t * n as f64) - 1e-9).ceil().max(0.0) as usize
}

/// Join, in `uf`, every pair of sets (ids `0..n_tokens`, each set sorted and distinct) whose
/// Jaccard overlap is at least `t`.
pub fn group_by_overlap(sets: &[Vec<u32>], n_tokens: usize, t: f64, uf: &mut UnionFind) {
    if t <= 0.0 {
        // Every pair with a non-empty union is similar.
        let non_empty: Vec<usize> = (0..sets.len()).filter(|&i| !sets[i].is_empty()).collect();
        if let Some(&first) = non_empty.first() {
            for i in 0..sets.len() {
                uf.union(first, i);
            }
        }
        return;
    }
    // Rank addresses rarest first (ties by id: deterministic).
    // Counters and runs below are read before they are written: see `crate::cache::filled`.
    let mut freq = crate::cache::filled(n_tokens, 0u32);
    for s in sets {
        for &a in s {
            freq[a as usize] += 1;
        }
    }
    // A counting sort by frequency, ids ascending within one (linear; frequencies are at most
    // the number of sets): the same ranks as sorting by (frequency, id).
    let mut at = crate::cache::filled(sets.len() + 2, 0u32);
    for &f in &freq {
        at[f as usize + 1] += 1;
    }
    for k in 1..at.len() {
        at[k] += at[k - 1];
    }
    let mut rank = freq;
    for r in rank.iter_mut() {
        let slot = &mut at[*r as usize];
        *r = *slot;
        *slot += 1;
    }
    let ranked: Vec<Vec<u32>> = sets
        .iter()
        .map(|s| {
            let mut v: Vec<u32> = s.iter().map(|&a| rank[a as usize]).collect();
            v.sort_unstable();
            v
        })
        .collect();
    drop(rank);

    // The index of prefix tokens, flat: each token's postings are a run of `postings`, filled
    // in message order, so while message i is probed a run holds exactly the earlier messages.
    let prefix_len = |s: &[u32]| {
        (s.len() + 1)
            .saturating_sub(min_overlap(t, s.len()))
            .min(s.len())
    };
    let mut start = crate::cache::filled(n_tokens + 1, 0u32);
    for s in &ranked {
        for &tok in &s[..prefix_len(s)] {
            start[tok as usize + 1] += 1;
        }
    }
    for k in 0..n_tokens {
        start[k + 1] += start[k];
    }
    // Each posting: the earlier message and the position of the token in its ranked list.
    let mut postings = vec![(0u32, 0u32); start[n_tokens] as usize];
    let mut filled = crate::cache::filled(n_tokens, 0u32);
    // Per candidate, while message i probes: the prefix tokens counted in common so far, or
    // PRUNED; `seen[j] == i` marks `common[j]` as belonging to this probe.
    let mut seen = vec![u32::MAX; sets.len()];
    let mut common = vec![0u32; sets.len()];
    // Per candidate: the overlap it needs with message i.
    let mut need = vec![0u32; sets.len()];
    let len: Vec<u32> = ranked.iter().map(|r| r.len() as u32).collect();
    let mut candidates: Vec<u32> = Vec::new();
    const PRUNED: u32 = u32::MAX;
    for (i, s) in ranked.iter().enumerate() {
        let n = s.len();
        candidates.clear();
        for (p, &tok) in s[..prefix_len(s)].iter().enumerate() {
            let run = start[tok as usize] as usize;
            let earlier = run..run + filled[tok as usize] as usize;
            for &(j, q) in &postings[earlier] {
                let ju = j as usize;
                let m = len[ju] as usize;
                if seen[ju] != i as u32 {
                    seen[ju] = i as u32;
                    // Size filter: t·|S| ≤ |R| ≤ |S|/t.
                    if (m as f64) < t * n as f64 - 1e-9 || (n as f64) < t * m as f64 - 1e-9 {
                        common[ju] = PRUNED;
                        continue;
                    }
                    common[ju] = 0;
                    need[ju] = required_overlap(t, n, m) as u32;
                    candidates.push(j);
                } else if common[ju] == PRUNED {
                    continue;
                }
                // Positional filter: the common tokens so far are exactly those before `p` in
                // S and before `q` in R (the order is global, and R's were all indexed), and
                // at most min(rest of S, rest of R) follow.
                let rest = (n - p - 1).min(m - q as usize - 1);
                if common[ju] as usize + 1 + rest < need[ju] as usize {
                    common[ju] = PRUNED;
                } else {
                    common[ju] += 1;
                }
            }
            postings[run + filled[tok as usize] as usize] = (i as u32, p as u32);
            filled[tok as usize] += 1;
        }
        for &j in &candidates {
            let j = j as usize;
            if common[j] == PRUNED || uf.find(i) == uf.find(j) {
                continue;
            }
            let r = &ranked[j];
            if overlap_at_least(s, r, need[j] as usize).is_some_and(|o| similar(o, n, r.len(), t)) {
                uf.union(i, j);
            }
        }
    }
}

/// The overlap two sets of sizes `a` and `b` need for Jaccard ≥ `t`: o / (a + b − o) ≥ t ⟺
/// o ≥ t·(a + b) / (1 + t), rounded so that it is never more than needed.
fn required_overlap(t: f64, a: usize, b: usize) -> usize {
    (t * (a + b) as f64 / (1.0 + t) - 1e-9).ceil().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Size of the overlap of two ascending lists (needing nothing, the merge runs to the end).
    fn overlap(a: &[u32], b: &[u32]) -> usize {
        overlap_at_least(a, b, 0).unwrap_or(0)
    }

    /// The definition: every pair compared.
    fn brute(sets: &[Vec<u32>], t: f64) -> Vec<usize> {
        let mut uf = UnionFind::new(sets.len());
        for i in 0..sets.len() {
            for j in 0..i {
                if similar(overlap(&sets[i], &sets[j]), sets[i].len(), sets[j].len(), t) {
                    uf.union(i, j);
                }
            }
        }
        (0..sets.len()).map(|i| uf.find(i)).collect()
    }

    fn fast(sets: &[Vec<u32>], n_tokens: usize, t: f64) -> Vec<usize> {
        let mut uf = UnionFind::new(sets.len());
        group_by_overlap(sets, n_tokens, t, &mut uf);
        (0..sets.len()).map(|i| uf.find(i)).collect()
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn equals_the_pairwise_definition_on_random_inputs() {
        let mut rng = Rng(0x2545F4914F6CDD1D);
        let thresholds = [
            0.0,
            0.1,
            0.25,
            1.0 / 3.0,
            0.5,
            0.6,
            2.0 / 3.0,
            0.75,
            0.8,
            0.9,
            1.0,
        ];
        for case in 0..3000 {
            let n_tokens = 1 + rng.below(40) as usize;
            let n_sets = 1 + rng.below(30) as usize;
            let everywhere = case % 3 == 0;
            let mut sets: Vec<Vec<u32>> = (0..n_sets)
                .map(|_| {
                    let size = rng.below(12) as usize;
                    let mut v: Vec<u32> = (0..size)
                        .map(|_| rng.below(n_tokens as u64) as u32)
                        .collect();
                    if everywhere {
                        // One address in every message (a team mailbox in Cc).
                        v.push(0);
                    }
                    v.sort_unstable();
                    v.dedup();
                    v
                })
                .collect();
            if case % 5 == 0 {
                // Repeated sends to the same list.
                let dup = sets[0].clone();
                sets.push(dup);
            }
            let t = thresholds[case % thresholds.len()];
            assert_eq!(
                fast(&sets, n_tokens, t),
                brute(&sets, t),
                "case {case}: t={t} {sets:?}"
            );
        }
    }

    #[test]
    fn equals_the_pairwise_definition_on_long_overlapping_lists() {
        // Lists of 20–80 from 120 addresses, many of them edits of a few base lists (so pairs
        // sit on both sides of every threshold and the positional filter has work to do).
        let mut rng = Rng(0x9E3779B97F4A7C15);
        let (mut joined, mut apart) = (0, 0);
        for case in 0..400 {
            let n_tokens = 120;
            let bases: Vec<Vec<u32>> = (0..3)
                .map(|_| {
                    let size = 20 + rng.below(60);
                    (0..size).map(|_| rng.below(n_tokens) as u32).collect()
                })
                .collect();
            let sets: Vec<Vec<u32>> = (0..25)
                .map(|_| {
                    let mut v = bases[rng.below(3) as usize].clone();
                    for _ in 0..rng.below(12) {
                        let k = rng.below(v.len() as u64) as usize;
                        v[k] = rng.below(n_tokens) as u32;
                    }
                    for _ in 0..rng.below(6) {
                        v.push(rng.below(n_tokens) as u32);
                    }
                    v.sort_unstable();
                    v.dedup();
                    v
                })
                .collect();
            let t = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95][case % 8];
            let groups = brute(&sets, t);
            assert_eq!(
                fast(&sets, n_tokens as usize, t),
                groups,
                "case {case}: t={t}"
            );
            let distinct = groups
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len();
            joined += usize::from(distinct < sets.len());
            apart += usize::from(distinct > 3);
        }
        // The inputs exercise both outcomes.
        assert!(joined > 300 && apart > 100, "{joined} {apart}");
    }

    #[test]
    fn a_shared_address_in_every_message_makes_no_candidates() {
        // 2,000 disjoint lists of 10 that all Cc address 0: no two are similar at 0.8.
        let sets: Vec<Vec<u32>> = (0..2000u32)
            .map(|i| {
                let mut v: Vec<u32> = (0..10).map(|k| 1 + i * 10 + k).collect();
                v.push(0);
                v.sort_unstable();
                v
            })
            .collect();
        let groups = fast(&sets, 20_001, 0.8);
        assert!(groups.iter().enumerate().all(|(i, &g)| g == i));
    }
}
