//! Stage 3: detection. Decides, for one parsed message, who was exposed to whom.
//!
//! The rules (each has a test below):
//! - *Visible* recipients are the addresses of every To and Cc field (any spelling, any number
//!   of lines, Resent-To/Resent-Cc included), group members included. Empty groups such as
//!   `undisclosed-recipients:;` add nobody.
//! - *Bcc* recipients are not exposed, but they received the list: they count in the audience.
//!   An address that is both in Cc and Bcc is visible.
//! - The sender (every From and Sender address) is removed from both sets.
//! - *Exposed* = visible minus sender. *External* = exposed outside `--internal-domain`s.
//! - A message is *exposing* when external ≥ `--min-exposed` (default 10).
//! - *Audience* = distinct recipients (visible ∪ Bcc) minus the sender: the people who saw the list.

use std::collections::HashMap;

use crate::parse::message::Envelope;

/// What makes a message exposing, and what is scanned at all.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Lower-cased domains; subdomains match too.
    pub internal_domains: Vec<String>,
    pub min_exposed: usize,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `addr@x` or `@domain` (subdomains match); empty = every sender.
    pub senders: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            internal_domains: Vec::new(),
            min_exposed: 10,
            since: None,
            until: None,
            senders: Vec::new(),
        }
    }
}

/// True when `domain` is `d` or a subdomain of it.
fn domain_matches(domain: &str, d: &str) -> bool {
    domain == d
        || domain.len() > d.len()
            && domain.ends_with(d)
            && domain.as_bytes()[domain.len() - d.len() - 1] == b'.'
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("", |(_, d)| d)
}

impl Policy {
    pub fn is_internal(&self, addr: &str) -> bool {
        let d = domain_of(addr);
        self.internal_domains.iter().any(|i| domain_matches(d, i))
    }

    /// Does the `--sender` filter accept a message from these addresses?
    pub fn sender_selected(&self, senders: &[&str]) -> bool {
        if self.senders.is_empty() {
            return true;
        }
        senders.iter().any(|a| {
            self.senders
                .iter()
                .any(|rule| match rule.strip_prefix('@') {
                    Some(dom) => domain_matches(domain_of(a), dom),
                    None => a == rule,
                })
        })
    }

    /// Does the date window accept this date? Undated messages are kept (and warned about by
    /// the caller): excluding them could hide an exposure.
    pub fn date_selected(&self, date: Option<i64>) -> bool {
        match date {
            None => true,
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u),
        }
    }
}

/// Bit set of the visible fields an address appeared in.
pub const IN_TO: u8 = 1;
pub const IN_CC: u8 = 2;
/// Not a field: the address is a distribution list (Outlook's recipient table says so), one
/// visible address whose members were not shown to each other.
pub const AS_LIST: u8 = 4;

/// How exposures.csv names the visible fields of a bit set: `to`, `cc` or `to+cc`.
pub fn field_label(fields: u8) -> &'static str {
    match (fields & IN_TO != 0, fields & IN_CC != 0) {
        (true, true) => "to+cc",
        (true, false) => "to",
        _ => "cc",
    }
}

/// One exposed address of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed<'a> {
    pub addr: String,
    pub name: Option<&'a [u8]>,
    pub fields: u8,
    pub internal: bool,
}

/// The verdict on one message.
#[derive(Debug, Clone)]
pub struct Classification<'a> {
    /// Exposed addresses in order of first appearance.
    pub exposed: Vec<Exposed<'a>>,
    pub external: usize,
    pub audience: usize,
    pub exposing: bool,
    /// Distinct addresses in To, Cc and Bcc (sender included), for `messages.csv`.
    pub to_count: usize,
    pub cc_count: usize,
    pub bcc_count: usize,
    /// Bcc recipients who are not visible (they saw the list): sorted, distinct.
    pub bcc_only: Vec<String>,
}

fn distinct(v: &[crate::parse::message::Addr<'_>]) -> usize {
    let mut s: Vec<&str> = v.iter().map(|a| a.addr.as_str()).collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// Apply the rules above to one envelope.
pub fn classify<'a>(env: &Envelope<'a>, policy: &Policy) -> Classification<'a> {
    let is_sender = |a: &str| env.from.iter().chain(&env.sender).any(|s| s.addr == a);
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut exposed: Vec<Exposed<'a>> = Vec::new();
    for (list, bit) in [(&env.to, IN_TO), (&env.cc, IN_CC)] {
        for a in list.iter() {
            if is_sender(&a.addr) {
                continue;
            }
            match index.get(a.addr.as_str()) {
                Some(&i) => {
                    exposed[i].fields |= bit | if a.list { AS_LIST } else { 0 };
                    if exposed[i].name.is_none() {
                        exposed[i].name = a.name;
                    }
                }
                None => {
                    index.insert(&a.addr, exposed.len());
                    exposed.push(Exposed {
                        addr: a.addr.clone(),
                        name: a.name,
                        fields: bit | if a.list { AS_LIST } else { 0 },
                        internal: a.exchange_dn || policy.is_internal(&a.addr),
                    });
                }
            }
        }
    }
    let mut bcc_only: Vec<&str> = env
        .bcc
        .iter()
        .map(|a| a.addr.as_str())
        .filter(|a| !index.contains_key(a) && !is_sender(a))
        .collect();
    bcc_only.sort_unstable();
    bcc_only.dedup();
    let external = exposed.iter().filter(|e| !e.internal).count();
    Classification {
        audience: exposed.len() + bcc_only.len(),
        exposing: external >= policy.min_exposed.max(1),
        external,
        to_count: distinct(&env.to),
        cc_count: distinct(&env.cc),
        bcc_count: distinct(&env.bcc),
        bcc_only: bcc_only.iter().map(|s| s.to_string()).collect(),
        exposed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::message::envelope;

    fn policy(min: usize) -> Policy {
        Policy {
            min_exposed: min,
            internal_domains: vec!["police.example".into()],
            ..Policy::default()
        }
    }

    fn run(h: &str, min: usize) -> (Vec<String>, usize, usize, bool) {
        let env = envelope(h.as_bytes());
        let c = classify(&env, &policy(min));
        (
            c.exposed.iter().map(|e| e.addr.clone()).collect(),
            c.external,
            c.audience,
            c.exposing,
        )
    }

    #[test]
    fn to_and_cc_are_visible_and_deduplicated() {
        let (e, ext, aud, _) = run(
            "From: me@police.example\nTo: A@x.test, b@x.test\nCc: a@X.test, c@x.test\n",
            1,
        );
        assert_eq!(e, ["a@x.test", "b@x.test", "c@x.test"]);
        assert_eq!((ext, aud), (3, 3));
    }

    #[test]
    fn bcc_is_audience_not_exposed_unless_also_visible() {
        let (e, _, aud, _) = run("From: me@police.example\nTo: a@x.test\nCc: b@x.test\nBcc: b@x.test, c@x.test, d@x.test\n", 1);
        assert_eq!(e, ["a@x.test", "b@x.test"]);
        assert_eq!(aud, 4);
    }

    #[test]
    fn undisclosed_recipients_exposes_nobody() {
        let (e, _, aud, exposing) = run(
            "From: me@police.example\nTo: undisclosed-recipients:;\nBcc: a@x.test, b@x.test\n",
            1,
        );
        assert!(e.is_empty());
        assert_eq!(aud, 2);
        assert!(!exposing);
    }

    #[test]
    fn group_members_are_exposed() {
        let (e, ..) = run(
            "From: me@police.example\nTo: Residents: a@x.test, b@x.test;\n",
            1,
        );
        assert_eq!(e, ["a@x.test", "b@x.test"]);
    }

    #[test]
    fn sender_is_not_exposed_to_themselves() {
        let (e, ..) = run("From: Me <ME@police.example>\nSender: desk@police.example\nTo: me@police.example, desk@police.example, a@x.test\n", 1);
        assert_eq!(e, ["a@x.test"]);
    }

    #[test]
    fn internal_addresses_are_reported_but_not_counted() {
        let env = envelope(b"From: me@police.example\nTo: a@police.example, b@hq.police.example, c@x.test, d@notpolice.example\n");
        let c = classify(&env, &policy(3));
        assert_eq!(c.exposed.len(), 4);
        assert_eq!(c.external, 2);
        assert!(!c.exposing);
        assert!(c.exposed[1].internal, "subdomains are internal");
        assert!(
            !c.exposed[3].internal,
            "a suffix that is not a subdomain is external"
        );
    }

    #[test]
    fn threshold_is_inclusive() {
        let to: Vec<String> = (0..10).map(|i| format!("r{i}@x.test")).collect();
        let h = format!("From: me@police.example\nTo: {}\n", to.join(", "));
        assert!(run(&h, 10).3);
        assert!(!run(&h, 11).3);
    }

    #[test]
    fn one_broken_entry_keeps_the_rest_exposed() {
        let (e, ..) = run(
            "From: me@police.example\nTo: Doe, John <j@x.test>, k@x.test, <broken@x.test\n",
            1,
        );
        assert_eq!(e, ["j@x.test", "k@x.test", "broken@x.test"]);
    }

    #[test]
    fn sender_and_date_filters() {
        let p = Policy {
            senders: vec!["@police.example".into(), "boss@x.test".into()],
            since: Some(100),
            until: Some(200),
            ..Policy::default()
        };
        assert!(p.sender_selected(&["a@hq.police.example"]));
        assert!(p.sender_selected(&["boss@x.test"]));
        assert!(!p.sender_selected(&["other@x.test"]));
        assert!(p.date_selected(Some(100)) && !p.date_selected(Some(200)) && p.date_selected(None));
    }
}
