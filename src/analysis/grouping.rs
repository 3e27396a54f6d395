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
//! - Each candidate is checked exactly (a merge of two sorted lists), and only when it is not
//!   already in the same group: grouping is transitive, so a message joined to a group need not
//!   be compared with the group's other members.
//!
//! The result is exactly that of comparing every pair (see the property test below). The cost
//! is the number of candidates sharing a *rare* address in their prefixes, times a union-find
//! lookup, plus one exact check per pair that joins two groups (at most n − 1 of them) or fails.

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

/// Size of the overlap of two ascending lists.
fn overlap(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
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
    n
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
    let mut freq = vec![0u32; n_tokens];
    for s in sets {
        for &a in s {
            freq[a as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..n_tokens as u32).collect();
    order.sort_unstable_by_key(|&a| (freq[a as usize], a));
    let mut rank = vec![0u32; n_tokens];
    for (r, &a) in order.iter().enumerate() {
        rank[a as usize] = r as u32;
    }
    drop(order);
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
    let mut start = vec![0u32; n_tokens + 1];
    for s in &ranked {
        for &tok in &s[..prefix_len(s)] {
            start[tok as usize + 1] += 1;
        }
    }
    for k in 0..n_tokens {
        start[k + 1] += start[k];
    }
    let mut postings = vec![0u32; start[n_tokens] as usize];
    let mut filled = vec![0u32; n_tokens];
    // Last message that probed each candidate (dedupes candidates without a set).
    let mut seen = vec![u32::MAX; sets.len()];
    for (i, s) in ranked.iter().enumerate() {
        let n = s.len();
        for &tok in &s[..prefix_len(s)] {
            let run = start[tok as usize] as usize;
            let earlier = run..run + filled[tok as usize] as usize;
            for &j in &postings[earlier] {
                let j = j as usize;
                if seen[j] == i as u32 {
                    continue;
                }
                seen[j] = i as u32;
                let m = ranked[j].len();
                // Size filter: t·|S| ≤ |R| ≤ |S|/t.
                if (m as f64) < t * n as f64 - 1e-9 || (n as f64) < t * m as f64 - 1e-9 {
                    continue;
                }
                if uf.find(i) == uf.find(j) {
                    continue;
                }
                if similar(overlap(s, &ranked[j]), n, m, t) {
                    uf.union(i, j);
                }
            }
            postings[run + filled[tok as usize] as usize] = i as u32;
            filled[tok as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
