//! Strings stored once: every exposed address and display name of a scan lives in one arena and
//! is referred to by a `u32` id, so a finding costs 12 bytes per exposed person instead of two
//! heap strings, and the analysis works on numbers.

/// An arena of distinct strings. Id 0 is the empty string.
pub struct Strings {
    text: String,
    /// End offset of each string in `text` (the start is the previous end).
    ends: Vec<u64>,
    /// Open addressing: (high half of the hash) << 32 | (id + 1), or 0 for an empty slot; the
    /// hash half spares a string comparison on most collisions. Length a power of two.
    slots: Vec<u64>,
    /// Per process and random: addresses come from untrusted mail, and a set crafted to
    /// collide in a known hash would make every probe walk a long run. Ids never depend on it.
    seed: u64,
}

impl Default for Strings {
    fn default() -> Self {
        let mut s = Strings {
            text: String::new(),
            ends: Vec::new(),
            slots: vec![0; 1024],
            seed: {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(0x6263_6361_7564_6974u64)
            },
        };
        // Id 0: the empty string (found without the index, see `intern` and `find`).
        s.ends.push(0);
        s
    }
}

fn hash(seed: u64, s: &str) -> u64 {
    // FxHash words from a random start, then murmur3's finaliser so that similar addresses
    // spread over the table. Never persisted.
    let mut h = seed;
    let mut add = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        add(u64::from_le_bytes(w));
    }
    for &b in chunks.remainder() {
        add(u64::from(b));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Strings {
    /// Room for `strings` strings of `bytes` in all before their text and ends are moved (the
    /// index still grows as they come: it is written all over). Space reserved but never
    /// written costs address space, not memory.
    pub fn with_capacity(strings: usize, bytes: usize) -> Strings {
        let mut s = Strings::default();
        s.text.reserve(bytes);
        s.ends.reserve(strings);
        s
    }

    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            // Stored first (most exposed addresses have no name).
            return 0;
        }
        if (self.ends.len() + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        match self.probe(s) {
            Ok(id) => id,
            Err((slot, tag)) => {
                let id = self.ends.len() as u32;
                self.text.push_str(s);
                self.ends.push(self.text.len() as u64);
                self.slots[slot] = tag | u64::from(id + 1);
                id
            }
        }
    }

    /// The id of `s` if it is stored.
    pub fn find(&self, s: &str) -> Option<u32> {
        if s.is_empty() {
            return Some(0);
        }
        if self.slots.is_empty() {
            return (0..self.ends.len() as u32).find(|&id| self.get(id) == s);
        }
        self.probe(s).ok()
    }

    /// Where `s` is in the index: its id, or the empty slot it would take and its hash tag.
    fn probe(&self, s: &str) -> Result<u32, (usize, u64)> {
        let mask = self.slots.len() - 1;
        let h = hash(self.seed, s);
        let tag = h >> 32 << 32;
        let mut i = h as usize & mask;
        loop {
            match self.slots[i] {
                0 => return Err((i, tag)),
                k if k & !0xffff_ffff == tag && self.get(k as u32 - 1) == s => {
                    return Ok(k as u32 - 1)
                }
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Free the index (its text stays readable with [`Strings::get`]; [`Strings::intern`] and
    /// [`Strings::find`] rebuild it when next called).
    pub fn drop_index(&mut self) {
        self.slots = Vec::new();
    }

    fn grow(&mut self) {
        let mut cap = (self.slots.len() * 2).max(1024);
        while (self.ends.len() + 1) * 8 > cap * 7 {
            cap *= 2;
        }
        // Probes read empty slots before they are written.
        let mut slots = crate::cache::filled(cap, 0u64);
        let mask = slots.len() - 1;
        for id in 0..self.ends.len() as u32 {
            let h = hash(self.seed, self.get(id));
            let mut i = h as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (h >> 32 << 32) | u64::from(id + 1);
        }
        self.slots = slots;
    }

    pub fn get(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 {
            0
        } else {
            self.ends[id - 1] as usize
        };
        let end = self.ends[id] as usize;
        // Only whole `&str`s are appended: every range is on character boundaries.
        &self.text[start..end]
    }

    /// Hint that `s` will be interned soon: its place in the index is fetched into the cache
    /// (millions of distinct addresses make every probe a miss otherwise).
    #[inline]
    pub fn prefetch_slot(&self, s: &str) {
        if !self.slots.is_empty() {
            crate::cache::prefetch(
                &self.slots,
                hash(self.seed, s) as usize & (self.slots.len() - 1),
            );
        }
    }

    /// Hint that `id` will be read soon, for walks in an order other than the arena's (by
    /// address, over millions of people): `stage` 0 fetches its place in the offsets, 1 (a few
    /// ids later, once that has arrived) its text. Does nothing but warm the cache.
    #[inline]
    pub fn prefetch(&self, id: u32, stage: u8) {
        let id = id as usize;
        if id == 0 || id >= self.ends.len() {
            return;
        }
        if stage == 0 {
            crate::cache::prefetch(&self.ends, id);
        } else {
            crate::cache::prefetch(self.text.as_bytes(), self.ends[id - 1] as usize);
        }
    }

    /// Number of distinct strings (the empty one included).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.len() <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_reserved_changes_no_id() {
        let (mut a, mut b) = (Strings::default(), Strings::with_capacity(10, 100));
        b.seed = a.seed;
        for i in 0..5_000 {
            let t = format!("p{}@example.org", i % 3_000);
            assert_eq!(a.intern(&t), b.intern(&t));
        }
        assert_eq!((b.get(0), b.len()), ("", 3_001));
    }

    #[test]
    fn ids_do_not_depend_on_the_seed() {
        let (mut a, mut b) = (Strings::default(), Strings::default());
        b.seed = a.seed ^ 0x9e37_79b9_7f4a_7c15;
        for i in 0..5_000 {
            let t = format!("p{}@example.org", i % 3_000);
            assert_eq!(a.intern(&t), b.intern(&t));
        }
        assert_eq!(a.find("p7@example.org"), b.find("p7@example.org"));
    }

    #[test]
    fn interned_once_found_again() {
        let mut s = Strings::default();
        assert_eq!(s.intern(""), 0);
        assert_eq!((s.find(""), s.get(0), s.len()), (Some(0), "", 1));
        let ids: Vec<u32> = (0..100_000)
            .map(|i| s.intern(&format!("p{i}@example.org")))
            .collect();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(s.get(id), format!("p{i}@example.org"));
            assert_eq!(s.intern(&format!("p{i}@example.org")), id);
        }
        assert_eq!(s.len(), 100_001);
        assert_eq!(s.find("nobody@example.org"), None);
        assert_eq!(s.intern("Zoë"), 100_001);
        assert_eq!(s.get(100_001), "Zoë");
        s.drop_index();
        assert_eq!(s.get(100_001), "Zoë");
        assert_eq!(s.find("p7@example.org"), Some(8));
        assert_eq!(s.intern("p7@example.org"), 8);
        assert_eq!(s.intern("new@example.org"), 100_002);
    }
}
