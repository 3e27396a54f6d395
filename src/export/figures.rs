//! The figures the HTML report and the breach summary share, computed once from the analysis:
//! who was exposed (external, internal, with their name shown), how many records, who saw the
//! disclosure, and the mix of personal webmail and organisational domains.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::analysis::fx::FxSet;
use crate::analysis::{Incident, Report};

/// Personal webmail providers (a domain equal to one of these, or a `hotmail.*`-style family).
const WEBMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "ymail.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "mail.com",
    "zoho.com",
    "web.de",
    "btinternet.com",
    "sky.com",
    "virginmedia.com",
    "talktalk.net",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "t-online.de",
    "libero.it",
    "seznam.cz",
    "wp.pl",
];
/// Families whose every country domain is webmail (`hotmail.co.uk`, `yahoo.fr`, …).
const WEBMAIL_FAMILIES: &[&str] = &["hotmail", "live", "yahoo", "gmx", "yandex", "outlook"];

/// True for a personal webmail domain (gmail.com, hotmail.*, yahoo.*, icloud.com, …).
pub fn is_personal_webmail(domain: &str) -> bool {
    let d = domain;
    if WEBMAIL.iter().any(|w| w.eq_ignore_ascii_case(d)) {
        return true;
    }
    // hotmail.fr, hotmail.co.uk, yahoo.com.au: a family name, then a country suffix.
    match d.split_once('.') {
        Some((first, rest)) => {
            WEBMAIL_FAMILIES
                .iter()
                .any(|f| f.eq_ignore_ascii_case(first))
                && rest.split('.').count() <= 2
                && rest.split('.').all(|l| (2..=3).contains(&l.len()))
        }
        None => false,
    }
}

pub fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("", |(_, d)| d)
}

/// External addresses by kind of domain, and the most frequent domains.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DomainMix {
    pub personal_webmail: usize,
    pub organisational: usize,
    /// The most frequent domains (at most 5), most frequent first, then by name.
    #[serde(skip)]
    pub top: Vec<(String, usize)>,
}

impl DomainMix {
    /// The mix of some addresses, with their top domains.
    pub fn of<'a>(addrs: impl Iterator<Item = &'a str>) -> DomainMix {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in addrs {
            *counts.entry(domain_of(a)).or_default() += 1;
        }
        let mut mix = DomainMix::default();
        for (d, n) in &counts {
            if is_personal_webmail(d) {
                mix.personal_webmail += n;
            } else {
                mix.organisational += n;
            }
        }
        let mut top: Vec<(&str, usize)> = counts.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        mix.top = top
            .into_iter()
            .take(5)
            .map(|(d, n)| (d.to_string(), n))
            .collect();
        mix
    }

    /// Share of personal webmail among external addresses, in percent (0 when none).
    pub fn webmail_percent(&self) -> u32 {
        let all = self.personal_webmail + self.organisational;
        (self.personal_webmail * 100)
            .checked_div(all)
            .map_or(0, |p| p as u32)
    }
}

/// Who one incident (or all of them) exposed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Subjects {
    /// Distinct external addresses exposed.
    pub external: usize,
    /// Distinct internal addresses exposed (the organisation's own staff).
    pub internal: usize,
    /// External people whose display name was shown with their address.
    pub external_with_name_shown: usize,
}

/// How urgently an incident needs attention (see [`risk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn label(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// The risk rule (the README states it): **high** when any sensitive-context category was
/// found, or with 3 points or more; **medium** with 1 or 2 points; else **low**. Points: 2 for
/// 100 or more external people exposed (1 for 20 or more), 1 for a reply-all re-exposure, 1 for
/// a repeated send (more than one message), 1 when at least half of the external addresses are
/// personal webmail.
pub fn risk(inc: &Incident, domains: &DomainMix) -> Risk {
    let mut points = match inc.external {
        n if n >= 100 => 2,
        n if n >= 20 => 1,
        _ => 0,
    };
    points += u32::from(inc.reply_all > 0);
    points += u32::from(inc.messages.len() > 1);
    let external = domains.personal_webmail + domains.organisational;
    points += u32::from(external > 0 && domains.personal_webmail * 2 >= external);
    if !inc.sensitive.is_empty() || points >= 3 {
        Risk::High
    } else if points >= 1 {
        Risk::Medium
    } else {
        Risk::Low
    }
}

/// The figures of one incident.
#[derive(Debug, Clone)]
pub struct IncidentFigures {
    pub risk: Risk,
    pub subjects: Subjects,
    /// Personal webmail and organisational counts (top domains: see [`Figures::top_domains`]).
    pub domains: DomainMix,
}

/// The figures of every incident (in report order) and of all together.
pub struct Figures {
    pub incidents: Vec<IncidentFigures>,
    pub total: Subjects,
    pub total_domains: DomainMix,
    /// Exposure rows: one per person and incident.
    pub records: usize,
    /// Distinct people who received an exposing message: the exposed and the Bcc recipients.
    pub audience: usize,
    /// Exposing messages that were replies (a reply-all re-exposes the list).
    pub reply_all: usize,
    /// Incidents of more than one message (the same list sent to again).
    pub repeated: usize,
    /// Distinct sender accounts.
    pub sender_accounts: usize,
    /// Senders that are themselves exposed external addresses (a resident replying to all).
    pub exposed_senders: HashSet<String>,
}

impl Figures {
    /// One pass over the people (in parallel), one over the exposure rows: millions of rows
    /// cost a fraction of writing them.
    pub fn of(report: &Report) -> Figures {
        use rayon::prelude::*;
        // Looked up for every external person: a fast hash (over the few senders of the
        // exposing messages).
        let senders: FxSet<&str> = report
            .messages
            .iter()
            .map(|m| m.finding.from.as_str())
            .collect();
        // Bcc recipients (few): those who were not exposed anywhere add to the audience.
        let bcc: FxSet<&str> = report
            .messages
            .iter()
            .flat_map(|m| m.finding.bcc_only.iter().map(String::as_str))
            .collect();
        // Which string ids are exposed addresses (bit per id), and which of them are external.
        let words = report.strings.len().div_ceil(64);
        let (mut person, mut external) = (vec![0u64; words], vec![0u64; words]);
        for p in &report.people {
            let (w, b) = (p.addr as usize / 64, 1u64 << (p.addr % 64));
            person[w] |= b;
            if !p.internal {
                external[w] |= b;
            }
        }
        let bit = |set: &[u64], id: u32| set[id as usize / 64] >> (id % 64) & 1 == 1;
        // Which are personal webmail addresses, which senders are exposed people, how many Bcc
        // recipients were also exposed: one parallel pass over the strings in the order they
        // are stored (reading them in address order would miss the cache at every row).
        let (found, bcc_exposed) = (0..report.strings.len() as u32)
            .into_par_iter()
            .with_min_len(1 << 14)
            .filter(|&id| bit(&person, id))
            .fold(
                // Addresses stored one after another mostly share their domain with the one
                // before: the last domain's answer is kept.
                || (Vec::new(), 0usize, ("", false)),
                |(mut found, mut n, mut last), id| {
                    let a = report.str(id);
                    if !bcc.is_empty() && bcc.contains(a) {
                        n += 1;
                    }
                    if bit(&external, id) {
                        let domain = domain_of(a);
                        if domain != last.0 {
                            last = (domain, is_personal_webmail(domain));
                        }
                        let web = last.1;
                        let sender = senders.contains(a);
                        if web || sender {
                            found.push((id, web, sender));
                        }
                    }
                    (found, n, last)
                },
            )
            .map(|(found, n, _)| (found, n))
            .reduce(
                || (Vec::new(), 0),
                |(mut a, n), (b, m)| {
                    a.extend(b);
                    (a, n + m)
                },
            );
        drop((person, external));
        let mut webmail = vec![0u64; words];
        let mut exposed_senders = HashSet::new();
        for &(id, web, sender) in &found {
            if web {
                webmail[id as usize / 64] |= 1 << (id % 64);
            }
            if sender {
                exposed_senders.insert(report.str(id).to_string());
            }
        }
        let is_web = |id: u32| webmail[id as usize / 64] >> (id % 64) & 1 == 1;

        let mut incidents: Vec<IncidentFigures> = Vec::with_capacity(report.incidents.len());
        let mut rows = report.exposures.iter().peekable();
        for k in 0..report.incidents.len() {
            let mut s = Subjects::default();
            let mut d = DomainMix::default();
            while let Some(x) = rows.next_if(|x| x.incident as usize == k) {
                if x.internal {
                    s.internal += 1;
                } else {
                    s.external += 1;
                    s.external_with_name_shown += usize::from(x.name != 0);
                    if is_web(x.addr) {
                        d.personal_webmail += 1;
                    } else {
                        d.organisational += 1;
                    }
                }
            }
            incidents.push(IncidentFigures {
                risk: risk(&report.incidents[k], &d),
                subjects: s,
                domains: d,
            });
        }
        let mut total = Subjects::default();
        let mut total_domains = DomainMix::default();
        for p in &report.people {
            if p.internal {
                total.internal += 1;
            } else {
                total.external += 1;
                total.external_with_name_shown += usize::from(p.name != 0);
                if is_web(p.addr) {
                    total_domains.personal_webmail += 1;
                } else {
                    total_domains.organisational += 1;
                }
            }
        }
        let sender_accounts = report
            .incidents
            .iter()
            .flat_map(|i| i.senders.iter().map(String::as_str))
            .collect::<HashSet<&str>>()
            .len();
        Figures {
            incidents,
            total,
            total_domains,
            records: report.exposures.len(),
            audience: report.people.len() + bcc.len() - bcc_exposed,
            reply_all: report.incidents.iter().map(|i| i.reply_all).sum(),
            repeated: report
                .incidents
                .iter()
                .filter(|i| i.messages.len() > 1)
                .count(),
            sender_accounts,
            exposed_senders,
        }
    }

    /// The most frequent domains of an incident's external addresses (at most 5).
    pub fn top_domains(report: &Report, k: usize) -> Vec<(String, usize)> {
        DomainMix::of(
            report
                .exposures_of(k)
                .iter()
                .filter(|x| !x.internal)
                .map(|x| report.str(x.addr)),
        )
        .top
    }
}

/// Incidents in the order a reader should see them: highest risk first, then most external
/// people, then most people, then by id.
pub fn by_weight(incidents: &[Incident], figures: &Figures) -> Vec<usize> {
    let mut order: Vec<usize> = (0..incidents.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&incidents[a], &incidents[b]);
        let risk = |k: usize| figures.incidents[k].risk;
        risk(b)
            .cmp(&risk(a))
            .then(y.external.cmp(&x.external))
            .then(y.exposed.cmp(&x.exposed))
            .then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webmail_domains_are_recognised() {
        for d in [
            "gmail.com",
            "GMail.com",
            "hotmail.co.uk",
            "hotmail.fr",
            "yahoo.com.au",
            "icloud.com",
            "outlook.com",
        ] {
            assert!(is_personal_webmail(d), "{d}");
        }
        for d in [
            "police.example",
            "example.org",
            "yahoo.example.org",
            "mail.hotmail.attacker.test",
            "gmail.com.evil.test",
        ] {
            assert!(!is_personal_webmail(d), "{d}");
        }
    }

    #[test]
    fn domain_mix_counts_and_ranks() {
        let m = DomainMix::of(["a@gmail.com", "b@gmail.com", "c@x.test", "d@yahoo.fr"].into_iter());
        assert_eq!((m.personal_webmail, m.organisational), (3, 1));
        assert_eq!(m.top[0], ("gmail.com".to_string(), 2));
        assert_eq!(m.webmail_percent(), 75);
    }
}
