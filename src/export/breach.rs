//! breach-summary.md and breach-summary.json: the figures a regulator's breach form asks for
//! (GDPR Art. 33(3), the ICO's form), each labelled with its question, and none of the
//! personal data itself: no address, name or subject (subjects only with
//! `--summary-subjects`), input paths left out (they often name people), senders as a count.
//! What the tool cannot know is there, marked "to be completed".

use std::path::Path;

use serde::Serialize;

use super::figures::{by_weight, DomainMix, Figures, Subjects};
use super::{write_atomic, write_atomic_with, Document, ExportError, Exporter, Zone};
use crate::parse::date::rfc3339;

const TEMPLATE: &str = include_str!("breach-summary.md");
/// Inputs listed by hash in the Markdown (all of them are in the JSON).
const INPUTS_LISTED: usize = 100;
/// Incidents in the Markdown's table (highest risk and size first; all are in the JSON).
const INCIDENTS_LISTED: usize = 200;

pub struct Breach;

impl Exporter for Breach {
    fn files(&self) -> &'static [&'static str] {
        &["breach-summary.md", "breach-summary.json"]
    }
    fn write(&self, doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
        let figures = doc.figures();
        let s = summary(doc, figures);
        // The Markdown lists the incidents of highest risk and size; the JSON all of them,
        // each made as it is written (not all held at once).
        let listed: Vec<IncidentAnswers> = by_weight(&doc.report.incidents, figures)
            .into_iter()
            .take(INCIDENTS_LISTED)
            .map(|k| incident_answers(doc, figures, k))
            .collect();
        let listed: Vec<&IncidentAnswers> = listed.iter().collect();
        let md = markdown(
            &s,
            &listed,
            doc.report.incidents.len(),
            doc.options.summary_subjects,
        )?;
        write_atomic(dir, "breach-summary.md", md.as_bytes())?;
        let s = Summary {
            incidents: AllIncidents(Some((doc, figures))),
            ..s
        };
        write_atomic_with(dir, "breach-summary.json", |w| {
            // The serializer's many small writes land in a buffer it can see into, not one
            // dynamic call each. One incident a line.
            let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
            super::json_rows::to_writer(&mut w, &s).map_err(std::io::Error::other)?;
            std::io::Write::write_all(&mut w, b"\n")?;
            std::io::Write::flush(&mut w)
        })
    }
}

/// The JSON document (its keys are documented in the README and stable).
#[derive(Serialize)]
pub struct Summary<'a> {
    pub format: &'static str,
    pub version: u32,
    pub tool_version: &'static str,
    pub organisation: Option<String>,
    pub generated_utc: String,
    pub time_zone: String,
    pub total: Answers,
    pub incidents: AllIncidents<'a>,
    pub method: Method,
    pub to_be_completed: ToBeCompleted,
}

/// The answers to the form's questions, for one incident or for all.
#[derive(Debug, Serialize)]
pub struct Answers {
    /// When did the breach happen: first and last exposing send.
    pub when: When,
    /// Number of data subjects affected.
    pub data_subjects: Subjects,
    /// Approximate number of personal data records: exposure rows (person × incident).
    pub records: usize,
    /// Who received the disclosure: distinct recipients of the exposing messages, Bcc included.
    pub recipients: usize,
    pub incidents: usize,
    pub messages: usize,
    pub reply_all_re_exposures: usize,
    /// Incidents of more than one message (for one incident: its messages after the first).
    pub repeated_sends: usize,
    pub sender_accounts: usize,
    pub domains: DomainMix,
    /// Special-category data that may be inferable from the context (when detected).
    pub sensitive_categories: Vec<String>,
    /// The highest risk level (see the README's rule).
    pub risk: super::figures::Risk,
}

#[derive(Debug, Serialize)]
pub struct When {
    pub first_sent_utc: Option<String>,
    pub last_sent_utc: Option<String>,
    pub first_sent_local: Option<String>,
    pub last_sent_local: Option<String>,
}

impl When {
    fn of(first: Option<i64>, last: Option<i64>, tz: &Zone) -> When {
        let utc = |t: Option<i64>| t.map(|t| (t, rfc3339(t)));
        let local = |u: &Option<(i64, String)>| u.as_ref().map(|(t, s)| tz.local_of(*t, s));
        let first = utc(first);
        let first_local = local(&first);
        // Most incidents are one send: their last date is their first.
        let (last, last_local) = if last == first.as_ref().map(|u| u.0) {
            (first.clone(), first_local.clone())
        } else {
            let last = utc(last);
            let l = local(&last);
            (last, l)
        };
        When {
            first_sent_utc: first.map(|u| u.1),
            last_sent_utc: last.map(|u| u.1),
            first_sent_local: first_local,
            last_sent_local: last_local,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct IncidentAnswers {
    pub id: String,
    #[serde(flatten)]
    pub answers: Answers,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Every incident's answers, in incident order, each made when serialized (`None`: none,
/// as the Markdown's summary has them: it lists its own).
pub struct AllIncidents<'a>(Option<(&'a Document<'a>, &'a Figures)>);

impl Serialize for AllIncidents<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let Some((doc, figures)) = self.0 else {
            return ser.serialize_seq(Some(0))?.end();
        };
        // Made and rendered a block at a time on the pool: one thread serializing forty
        // thousand incidents was the report's last file to finish.
        super::json_rows::par_seq(ser, doc.report.incidents.len(), |k| {
            incident_answers(doc, figures, k)
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Method {
    pub tool: &'static str,
    pub tool_version: &'static str,
    pub scan_started_utc: String,
    pub scan_finished_utc: String,
    pub inputs: Vec<MethodInput>,
    pub messages_read: u64,
    pub unique_messages: u64,
    pub mail_dated_from_utc: Option<String>,
    pub mail_dated_to_utc: Option<String>,
    pub inputs_unreadable: usize,
    pub warnings: u64,
    pub rule: Rule,
}

#[derive(Debug, Serialize)]
pub struct MethodInput {
    pub kind: crate::source::InputKind,
    pub size: u64,
    pub sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Rule {
    pub min_exposed: usize,
    pub internal_domains: Vec<String>,
    pub jaccard: f64,
    pub since_utc: Option<String>,
    pub until_utc: Option<String>,
    pub sender_filter: bool,
}

#[derive(Debug, Serialize)]
pub struct ToBeCompleted {
    pub discovered: Option<String>,
    pub categories_of_data_subjects: Option<String>,
    pub likely_consequences: Option<String>,
    pub measures_taken_or_proposed: Option<String>,
    pub dpo_contact: Option<String>,
}

pub fn summary<'a>(doc: &Document<'_>, figures: &Figures) -> Summary<'a> {
    let (scan, report, run, opts) = (doc.scan, doc.report, doc.run, doc.options);
    let tz = &opts.tz;
    let first = report.incidents.iter().filter_map(|i| i.first_sent).min();
    let last = report.incidents.iter().filter_map(|i| i.last_sent).max();
    let total = Answers {
        when: When::of(first, last, tz),
        data_subjects: figures.total.clone(),
        records: figures.records,
        recipients: figures.audience,
        incidents: report.incidents.len(),
        messages: report.messages.len(),
        reply_all_re_exposures: figures.reply_all,
        repeated_sends: figures.repeated,
        sender_accounts: figures.sender_accounts,
        domains: figures.total_domains.clone(),
        sensitive_categories: report
            .incidents
            .iter()
            .flat_map(|i| i.sensitive.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        risk: figures
            .incidents
            .iter()
            .map(|f| f.risk)
            .max()
            .unwrap_or(super::figures::Risk::Low),
    };
    let d = &run.detection;
    Summary {
        format: "bccaudit-breach-summary",
        version: 1,
        tool_version: env!("CARGO_PKG_VERSION"),
        organisation: opts.org.clone(),
        generated_utc: rfc3339(run.finished),
        time_zone: tz.name().to_string(),
        total,
        incidents: AllIncidents(None),
        method: Method {
            tool: "bccaudit",
            tool_version: env!("CARGO_PKG_VERSION"),
            scan_started_utc: rfc3339(run.started),
            scan_finished_utc: rfc3339(run.finished),
            inputs: scan
                .inputs
                .iter()
                .map(|i| MethodInput {
                    kind: i.kind,
                    size: i.size,
                    sha256: i.sha256.clone(),
                })
                .collect(),
            messages_read: scan.stats.messages_read,
            unique_messages: scan.stats.unique,
            mail_dated_from_utc: scan.stats.first_date.map(rfc3339),
            mail_dated_to_utc: scan.stats.last_date.map(rfc3339),
            inputs_unreadable: scan.errors.len(),
            warnings: scan.warnings.total(),
            rule: Rule {
                min_exposed: d.min_exposed,
                internal_domains: d.internal_domains.clone(),
                jaccard: d.jaccard,
                since_utc: d.since.map(rfc3339),
                until_utc: d.until.map(rfc3339),
                sender_filter: !d.senders.is_empty(),
            },
        },
        to_be_completed: ToBeCompleted {
            discovered: None,
            categories_of_data_subjects: None,
            likely_consequences: None,
            measures_taken_or_proposed: None,
            dpo_contact: opts.dpo_contact.clone(),
        },
    }
}

/// The answers for incident `k` alone.
fn incident_answers(doc: &Document<'_>, figures: &Figures, k: usize) -> IncidentAnswers {
    let (i, f) = (&doc.report.incidents[k], &figures.incidents[k]);
    IncidentAnswers {
        id: i.id.clone(),
        answers: Answers {
            when: When::of(i.first_sent, i.last_sent, &doc.options.tz),
            data_subjects: f.subjects.clone(),
            records: i.exposed,
            recipients: i.audience,
            incidents: 1,
            messages: i.messages.len(),
            reply_all_re_exposures: i.reply_all,
            repeated_sends: i.messages.len().saturating_sub(1),
            sender_accounts: i.senders.len(),
            domains: f.domains.clone(),
            sensitive_categories: i.sensitive.clone(),
            risk: f.risk,
        },
        subject: doc.options.summary_subjects.then(|| i.subject.clone()),
    }
}

/// Markdown text from mail (a subject) made inert: no markup, links or images, one line.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '<' | '>' | '&' | '~' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn markdown(
    s: &Summary<'_>,
    incidents: &[&IncidentAnswers],
    total: usize,
    subjects: bool,
) -> Result<String, ExportError> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("md", |v: String| md_text(&v));
    env.add_template("breach-summary.md", TEMPLATE)
        .and_then(|()| env.get_template("breach-summary.md"))
        .and_then(|t| {
            t.render(minijinja::context! {
                s => minijinja::value::Serde(s),
                incidents => minijinja::value::Serde(incidents),
                incidents_total => total,
                subjects => subjects,
                inputs_listed => INPUTS_LISTED,
            })
        })
        .map_err(|e| ExportError::Refused(format!("breach-summary.md: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_inert_markdown() {
        assert_eq!(
            md_text("![x](http://a.test/t.png) <b>|"),
            "\\!\\[x\\]\\(http\\://a\\.test/t\\.png\\) \\<b\\>\\|"
        );
        assert_eq!(md_text("a\nb"), "a b");
    }
}
