//! What flows between the stages, serialisable: a finding (an exposing message with its
//! exposed people), what one input yielded ([`InputResult`]), and the combined scan
//! ([`ScanResult`]). A partial result (`scan --partial`) is these values written out; a merge
//! reads them back and combines them exactly as one run would have.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::identity::Copies;
pub use crate::identity::Keys;
use crate::intern::Strings;
use crate::source::{InputError, InputInfo, Location};
use crate::warning::WarningTally;

/// One exposed address of a finding, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposedAddr {
    /// Shared by every report row about this person (a 5 GB scan can expose 100,000s).
    pub addr: Arc<str>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// [`crate::detect::IN_TO`] | [`crate::detect::IN_CC`] | [`crate::detect::AS_LIST`].
    pub fields: u8,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// One exposed person of a finding: ids into the scan's [`Strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposed {
    pub addr: u32,
    /// Display name (0: none).
    pub name: u32,
    /// [`crate::detect::IN_TO`] | [`crate::detect::IN_CC`] | [`crate::detect::AS_LIST`].
    pub fields: u8,
    pub internal: bool,
}

impl Exposed {
    /// Back to strings (for a partial result).
    pub fn resolve(&self, s: &Strings) -> ExposedAddr {
        ExposedAddr {
            addr: s.get(self.addr).into(),
            name: s.get(self.name).to_string(),
            fields: self.fields,
            internal: self.internal,
        }
    }
}

impl ExposedAddr {
    /// Into ids of `s`.
    pub fn intern(&self, s: &mut Strings) -> Exposed {
        Exposed {
            addr: s.intern(&self.addr),
            name: s.intern(&self.name),
            fields: self.fields,
            internal: self.internal,
        }
    }
}

/// An exposing message, with everything the reports need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub location: Location,
    /// Who the input belongs to (`--custodian`, else the IMAP user or the input path).
    #[serde(default)]
    pub custodian: Arc<str>,
    pub sha256: Option<String>,
    pub size: u64,
    pub date: Option<i64>,
    pub from: String,
    pub subject: String,
    pub message_id: Option<String>,
    pub parents: Vec<String>,
    pub subject_is_reply: bool,
    pub to: usize,
    pub cc: usize,
    pub bcc: usize,
    /// Ids into the scan's [`Strings`], each address once (in order of first appearance);
    /// written out as strings in a partial result ([`FindingRecord`]).
    #[serde(skip)]
    pub exposed: Vec<Exposed>,
    pub external: usize,
    pub audience: usize,
    /// Bcc recipients who saw the list without being exposed.
    pub bcc_only: Vec<String>,
    pub keys: Keys,
    /// Sensitive-context terms found in its subject, text or attachment names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<crate::sensitive::Hit>,
}

/// A finding with its exposed people as strings: how a partial result stores it.
#[derive(Debug, Serialize, Deserialize)]
pub struct FindingRecord {
    #[serde(flatten)]
    pub finding: Finding,
    pub exposed: Vec<ExposedAddr>,
}

impl FindingRecord {
    pub fn new(f: &Finding, s: &Strings) -> FindingRecord {
        FindingRecord {
            finding: f.clone(),
            exposed: f.exposed.iter().map(|e| e.resolve(s)).collect(),
        }
    }

    /// Back to ids. An address listed twice (a partial edited by hand) is kept once, its
    /// fields joined, as the scan would have made it.
    pub fn into_finding(self, s: &mut Strings) -> Finding {
        let mut f = self.finding;
        let mut at: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
        for e in &self.exposed {
            let e = e.intern(s);
            match at.get(&e.addr) {
                Some(&i) => f.exposed[i].fields |= e.fields,
                None => {
                    at.insert(e.addr, f.exposed.len());
                    f.exposed.push(e);
                }
            }
        }
        f
    }
}

/// Counts of a scan (of one input, or of all).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub messages_read: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub filtered_out: u64,
    pub undated: u64,
    pub files_skipped_not_message: u64,
    /// The skipped files by what they look like (`PST`, `zip`, `empty`, …).
    pub files_skipped_by_type: BTreeMap<String, u64>,
    pub bytes: u64,
    /// The earliest and latest send dates among the messages read (filtered ones aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_date: Option<i64>,
}

impl Stats {
    /// Widen the dates covered by one message's date.
    pub fn saw_date(&mut self, date: Option<i64>) {
        if let Some(d) = date {
            self.first_date = Some(self.first_date.map_or(d, |f| f.min(d)));
            self.last_date = Some(self.last_date.map_or(d, |l| l.max(d)));
        }
    }

    /// Add another input's counts (unique/duplicates are decided over all inputs, not added).
    pub fn add(&mut self, o: &Stats) {
        self.messages_read += o.messages_read;
        self.filtered_out += o.filtered_out;
        self.undated += o.undated;
        self.files_skipped_not_message += o.files_skipped_not_message;
        for (k, n) in &o.files_skipped_by_type {
            *self.files_skipped_by_type.entry(k.clone()).or_default() += n;
        }
        self.bytes += o.bytes;
        self.saw_date(o.first_date);
        self.saw_date(o.last_date);
    }
}

/// What one input yielded, in source order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct InputResult {
    /// Its place among all inputs (the line of `--inputs-from` for a shard), for ordering.
    pub seq: u64,
    pub custodian: String,
    /// `None` when the input could not be opened at all.
    pub info: Option<InputInfo>,
    pub stats: Stats,
    pub warnings: WarningTally,
    pub errors: Vec<InputError>,
    /// Exposing messages, copies included, in source order.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// The identity keys of every message read (not filtered out), in order: recorded for a
    /// partial result, so a merge counts unique messages across shards exactly.
    #[serde(skip)]
    pub keys: Vec<Keys>,
}

/// The combined result of all inputs.
#[derive(Default)]
pub struct ScanResult {
    /// The exposed addresses and names the findings refer to.
    pub strings: Strings,
    /// Exposing messages, copies included, in source order.
    pub findings: Vec<Finding>,
    pub stats: Stats,
    pub warnings: WarningTally,
    pub errors: Vec<InputError>,
    pub inputs: Vec<InputInfo>,
}

impl ScanResult {
    /// Combine per-input results in order. `unique` is the number of distinct messages among
    /// those not filtered out (from [`Copies`]).
    pub fn combine(parts: Vec<InputResult>, unique: u64, strings: Strings) -> ScanResult {
        let mut r = ScanResult {
            strings,
            ..ScanResult::default()
        };
        for p in parts {
            r.stats.add(&p.stats);
            r.warnings.merge(p.warnings);
            r.errors.extend(p.errors);
            r.inputs.extend(p.info);
            if r.findings.is_empty() {
                // One input (or the first with findings): taken whole, not copied.
                r.findings = p.findings;
            } else {
                r.findings.extend(p.findings);
            }
        }
        // Filtered-out messages are not compared; each counts as itself.
        r.stats.unique = unique + r.stats.filtered_out;
        r.stats.duplicates = r.stats.messages_read - r.stats.unique;
        r
    }

    /// Combine per-input results whose keys were recorded (shards), deciding copies anew.
    pub fn combine_recorded(parts: Vec<InputResult>, strings: Strings) -> ScanResult {
        let mut copies = Copies::default();
        for p in &parts {
            for k in &p.keys {
                copies.add(k);
            }
        }
        ScanResult::combine(parts, copies.unique(), strings)
    }
}

/// The options that change what is detected: partials made with different ones do not merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionOptions {
    pub min_exposed: usize,
    pub internal_domains: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub senders: Vec<String>,
    pub jaccard: f64,
    /// Fingerprint of the sensitive-context term list (empty: none used).
    #[serde(default)]
    pub sensitive_terms: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{IN_CC, IN_TO};

    #[test]
    fn an_address_listed_twice_in_a_partial_is_one_person() {
        let line = r#"{"location":{"kind":"mbox","path":"/m","offset":0},"custodian":"c",
            "sha256":null,"size":1,"date":1,"from":"s@example.org","subject":"x",
            "message_id":null,"parents":[],"subject_is_reply":false,"to":2,"cc":1,"bcc":0,
            "external":2,"audience":2,"bcc_only":[],"keys":[null,null,null],
            "exposed":[{"addr":"a@example.org","fields":1},{"addr":"b@example.org","fields":1},
                       {"addr":"a@example.org","name":"A","fields":2}]}"#;
        let r: FindingRecord = serde_json::from_str(line).unwrap();
        let mut s = Strings::default();
        let f = r.into_finding(&mut s);
        let got: Vec<(&str, u8)> = f
            .exposed
            .iter()
            .map(|e| (s.get(e.addr), e.fields))
            .collect();
        assert_eq!(
            got,
            [("a@example.org", IN_TO | IN_CC), ("b@example.org", IN_TO)]
        );
    }
}
