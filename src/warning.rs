//! Damage found in the input: counted by kind, located, never fatal.

use std::collections::BTreeMap;

/// One problem with the input, where it is, and (optionally) what exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    pub kind: &'static str,
    pub location: String,
}

impl Warning {
    pub fn new(kind: &'static str, location: impl Into<String>) -> Self {
        Warning {
            kind,
            location: location.into(),
        }
    }
}

/// How many locations are kept per kind (counts stay exact beyond it).
pub const LOCATIONS_KEPT: usize = 1000;

/// Warnings tallied by kind, with the first locations of each.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct WarningTally {
    #[serde(flatten)]
    pub by_kind: BTreeMap<String, KindTally>,
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct KindTally {
    pub count: u64,
    pub locations: Vec<String>,
}

impl WarningTally {
    pub fn add(&mut self, w: Warning) {
        let t = self.by_kind.entry(w.kind.to_string()).or_default();
        t.count += 1;
        if t.locations.len() < LOCATIONS_KEPT {
            t.locations.push(w.location);
        }
    }
    /// Add a later input's tally: counts add up, locations are kept in order up to the limit.
    pub fn merge(&mut self, o: WarningTally) {
        for (kind, t) in o.by_kind {
            let mine = self.by_kind.entry(kind).or_default();
            mine.count += t.count;
            let room = LOCATIONS_KEPT.saturating_sub(mine.locations.len());
            mine.locations.extend(t.locations.into_iter().take(room));
        }
    }

    pub fn total(&self) -> u64 {
        self.by_kind.values().map(|t| t.count).sum()
    }
}
