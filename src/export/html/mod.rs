//! report.html: one self-contained page for the people who decide. Inline CSS, JS and SVG, a
//! Content-Security-Policy that allows nothing but them (by hash), no request of any kind.
//! Everything taken from mail is escaped by the template engine (auto-escaping on), and the
//! exposed addresses appear only with `--report-addresses`.

mod timeline;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::figures::{by_weight, domain_of, Figures};
use super::{base64, write_atomic_with, Document, ExportError, Exporter};
use crate::analysis::Report;
use crate::parse::date::rfc3339;

const TEMPLATE: &str = include_str!("report.html");
const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");
/// Incidents detailed (largest first); the rest point to the CSVs.
const DETAILED: usize = 300;
const MESSAGES_PER_DETAIL: usize = 50;
const ADDRESSES_PER_DETAIL: usize = 2000;
const INPUTS_LISTED: usize = 500;
/// Incident rows in the table at first (the script shows more, and sorts and filters them all).
const PAGE: usize = 500;
const LOCATIONS_PER_WARNING: usize = 5;
/// Where the two large parts go in the template's text, written straight to the file rather
/// than through the template engine (40,000 incidents make ~18 MB of them). Both contain `<`,
/// which auto-escaping turns into `&lt;` in anything taken from mail, so only the template
/// itself can hold them.
const TIMELINE_SLOT: &str = "<!--bccaudit:timeline-->";
const DATA_SLOT: &str = "<!--bccaudit:incident-data-->";

/// report.html.
pub struct Html;

impl Exporter for Html {
    fn files(&self) -> &'static [&'static str] {
        &["report.html"]
    }
    fn write(&self, doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
        let figures = doc.figures();
        let order = by_weight(&doc.report.incidents, figures);
        // The first page of rows is in the page itself; all of them in its data.
        let rows: Vec<IncidentRow<'_>> = (0..order.len().min(PAGE))
            .map(|j| incident_row(doc.report, figures, &order, j))
            .collect();
        let text = render_page(doc, figures, &order, &rows)?;
        let all = AllRows {
            report: doc.report,
            figures,
            order: &order,
        };
        write_atomic_with(dir, "report.html", |w| {
            write_page(&text, doc.report, &all, w)
        })
    }
}

#[derive(Serialize)]
struct Page<'a> {
    csp: String,
    style: &'static str,
    script: &'static str,
    org: Option<String>,
    version: &'static str,
    generated: String,
    started: String,
    finished: String,
    covered: Option<String>,
    rule: String,
    inputs: Vec<InputRow>,
    inputs_omitted: usize,
    tiles: Vec<Tile>,
    /// [`TIMELINE_SLOT`]: the SVG is written in its place.
    timeline: &'static str,
    /// The first page of rows (all of them are in the incident data).
    incidents: &'a [IncidentRow<'a>],
    incidents_total: usize,
    page: usize,
    /// [`DATA_SLOT`]: every incident row as JSON is written in its place, for the script (a
    /// data block: never executed).
    incident_data: &'static str,
    details: Vec<Detail>,
    details_omitted: usize,
    report_addresses: bool,
    warnings: Vec<WarningRow>,
    errors: Vec<String>,
}

#[derive(Serialize)]
struct InputRow {
    path: String,
    kind: String,
    size: String,
    sha256: String,
}

#[derive(Serialize)]
struct Tile {
    value: String,
    label: &'static str,
    note: Option<String>,
    alert: bool,
}

/// One incident's row of the table (in the page's data as an array: see [`Packed`], whose
/// order report.js's `FIELDS` follows).
#[derive(Serialize)]
struct IncidentRow<'a> {
    id: &'a str,
    detailed: bool,
    first: String,
    first_ts: i64,
    last: String,
    last_ts: i64,
    senders: String,
    subject: &'a str,
    messages: usize,
    exposed: usize,
    external: usize,
    audience: usize,
    reply_all: usize,
    custodians: String,
    sensitive: String,
    risk: &'static str,
    /// 2 high, 1 medium, 0 low (for sorting).
    risk_rank: u8,
}

#[derive(Serialize)]
struct Detail {
    id: String,
    risk: &'static str,
    sensitive: Vec<String>,
    subject: String,
    external: usize,
    exposed: usize,
    messages: Vec<MessageRow>,
    more_messages: usize,
    domains: Vec<(String, usize)>,
    personal: usize,
    organisational: usize,
    webmail_percent: u32,
    addresses: Vec<String>,
    more_addresses: usize,
}

#[derive(Serialize)]
struct MessageRow {
    date: String,
    sender: String,
    subject: String,
    to: usize,
    cc: usize,
    bcc: usize,
    reply_all: bool,
    sources: Vec<String>,
    sha256: Vec<String>,
}

#[derive(Serialize)]
struct WarningRow {
    kind: String,
    count: u64,
    locations: Vec<String>,
}

/// The template rendered, with the two slots where the large parts go.
fn render_page(
    doc: &Document<'_>,
    figures: &Figures,
    order: &[usize],
    rows: &[IncidentRow<'_>],
) -> Result<String, ExportError> {
    let page = page(doc, figures, order, rows);
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .and_then(|()| env.get_template("report.html"))
        .and_then(|t| t.render(minijinja::value::Serde(&page)))
        .map_err(|e| ExportError::Refused(format!("report.html: {e}")))
}

/// The rendered page with the timeline and the incident data written into their slots.
fn write_page(
    text: &str,
    report: &Report,
    rows: &AllRows<'_>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let missing = || std::io::Error::other("report.html: the template lost a slot");
    let (head, rest) = text.split_once(TIMELINE_SLOT).ok_or_else(missing)?;
    let (middle, tail) = rest.split_once(DATA_SLOT).ok_or_else(missing)?;
    w.write_all(head.as_bytes())?;
    timeline::write_svg(report, w)?;
    w.write_all(middle.as_bytes())?;
    write_json_data(rows, w)?;
    w.write_all(tail.as_bytes())
}

/// `'sha256-…'` of an inline element's text, for the Content-Security-Policy.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// JSON for a `<script type="application/json">` block: nothing in it can close the element or
/// open a comment (`<` is written `\u003c`), so text from mail stays data.
fn write_json_data<T: Serialize + ?Sized>(value: &T, w: &mut dyn Write) -> std::io::Result<()> {
    // serde writes many small pieces: buffered first, so `<` is looked for in large blocks.
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, NoLessThan(w));
    serde_json::to_writer(&mut buffered, value).map_err(std::io::Error::other)?;
    buffered.flush()
}

/// A writer that writes `<` as the JSON escape `\u003c` (only ever inside JSON strings: `<`
/// is no JSON syntax).
struct NoLessThan<'w>(&'w mut dyn Write);

impl Write for NoLessThan<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'<', rest) {
            self.0.write_all(&rest[..i])?;
            self.0.write_all(b"\\u003c")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn size_text(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// `2024-01-31 09:30:00` (UTC), or "(undated)".
fn date_text(t: Option<i64>) -> String {
    let Some(t) = t else {
        return "(undated)".into();
    };
    // The RFC 3339 form with a space for the `T` and without the `Z`.
    let mut s = rfc3339(t);
    if let Some(at) = s.find('T') {
        s.replace_range(at..=at, " ");
    }
    s.pop();
    s
}

/// A sender as shown: in full (staff accounts), unless it is itself an exposed external address
/// (a member of the public who replied to all): then only its domain.
struct Senders<'a> {
    exposed: &'a HashSet<String>,
}

impl Senders<'_> {
    fn show(&self, addr: &str) -> String {
        if self.exposed.contains(addr) {
            format!("an exposed recipient (…@{})", domain_of(addr))
        } else {
            addr.to_string()
        }
    }
}

fn page<'a>(
    doc: &'a Document<'_>,
    figures: &Figures,
    order: &[usize],
    rows: &'a [IncidentRow<'a>],
) -> Page<'a> {
    let (scan, report, run, opts) = (doc.scan, doc.report, doc.run, doc.options);
    let d = &run.detection;
    let mut rule = format!(
        "exposing when at least {} external addresses are visible in To/Cc; incidents joined by reply links or exposed-set overlap (Jaccard) ≥ {}",
        d.min_exposed, d.jaccard
    );
    if d.internal_domains.is_empty() {
        rule.push_str("; no internal domain given (every address counts as external)");
    } else {
        rule.push_str(&format!("; internal: {}", d.internal_domains.join(", ")));
    }
    if let Some(t) = d.since {
        rule.push_str(&format!("; sent on or after {}", rfc3339(t)));
    }
    if let Some(t) = d.until {
        rule.push_str(&format!("; sent before {}", rfc3339(t)));
    }
    if !d.senders.is_empty() {
        rule.push_str(&format!("; senders: {}", d.senders.join(", ")));
    }
    let inputs = scan
        .inputs
        .iter()
        .take(INPUTS_LISTED)
        .map(|i| InputRow {
            path: i.path.clone(),
            kind: serde_json::to_value(i.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            size: size_text(i.size),
            sha256: i.sha256.clone().unwrap_or_else(|| "(not computed)".into()),
        })
        .collect();
    let st = &scan.stats;
    let t = &figures.total;
    let tiles = vec![
        Tile {
            value: st.messages_read.to_string(),
            label: "messages read",
            note: Some(format!("{} unique", st.unique)),
            alert: false,
        },
        Tile {
            value: report.messages.len().to_string(),
            label: "exposing messages",
            note: None,
            alert: !report.messages.is_empty(),
        },
        Tile {
            value: report.incidents.len().to_string(),
            label: "incidents",
            note: Some(format!("{} sent more than once", figures.repeated)),
            alert: false,
        },
        Tile {
            value: t.external.to_string(),
            label: "external people exposed",
            note: Some(format!(
                "{}% personal webmail",
                figures.total_domains.webmail_percent()
            )),
            alert: t.external > 0,
        },
        Tile {
            value: t.internal.to_string(),
            label: "internal people exposed",
            note: None,
            alert: false,
        },
        Tile {
            value: figures.reply_all.to_string(),
            label: "reply-all re-exposures",
            note: None,
            alert: figures.reply_all > 0,
        },
    ];
    let senders = Senders {
        exposed: &figures.exposed_senders,
    };
    let details = order
        .iter()
        .take(DETAILED)
        .map(|&k| detail(report, figures, k, &senders, opts.report_addresses))
        .collect();
    let warnings = scan
        .warnings
        .by_kind
        .iter()
        .map(|(kind, t)| WarningRow {
            kind: kind.clone(),
            count: t.count,
            locations: t
                .locations
                .iter()
                .take(LOCATIONS_PER_WARNING)
                .cloned()
                .collect(),
        })
        .collect();
    Page {
        csp: format!(
            "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
            csp_hash(STYLE),
            csp_hash(SCRIPT)
        ),
        style: STYLE,
        script: SCRIPT,
        org: opts.org.clone(),
        version: env!("CARGO_PKG_VERSION"),
        generated: date_text(Some(run.finished)) + " UTC",
        started: date_text(Some(run.started)),
        finished: date_text(Some(run.finished)),
        covered: st
            .first_date
            .zip(st.last_date)
            .map(|(a, b)| format!("{} to {} (UTC)", date_text(Some(a)), date_text(Some(b)))),
        rule,
        inputs,
        inputs_omitted: scan.inputs.len().saturating_sub(INPUTS_LISTED),
        tiles,
        timeline: TIMELINE_SLOT,
        incidents: rows,
        incidents_total: report.incidents.len(),
        page: PAGE,
        incident_data: DATA_SLOT,
        details,
        details_omitted: report.incidents.len().saturating_sub(DETAILED),
        report_addresses: opts.report_addresses,
        warnings,
        errors: scan.errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// The table's row of the incident at place `j` of `order` (the first [`DETAILED`] have
/// details on the page).
fn incident_row<'a>(
    report: &'a Report,
    figures: &Figures,
    order: &[usize],
    j: usize,
) -> IncidentRow<'a> {
    let senders = Senders {
        exposed: &figures.exposed_senders,
    };
    let k = order[j];
    let i = &report.incidents[k];
    IncidentRow {
        id: &i.id,
        detailed: j < DETAILED,
        first: date_text(i.first_sent),
        first_ts: i.first_sent.unwrap_or(0),
        last: date_text(i.last_sent),
        last_ts: i.last_sent.unwrap_or(0),
        senders: i
            .senders
            .iter()
            .map(|s| senders.show(s))
            .collect::<Vec<_>>()
            .join(", "),
        subject: &i.subject,
        messages: i.messages.len(),
        exposed: i.exposed,
        external: i.external,
        audience: i.audience,
        reply_all: i.reply_all,
        custodians: i.custodians.join(", "),
        sensitive: i.sensitive.join(", "),
        risk: figures.incidents[k].risk.label(),
        risk_rank: figures.incidents[k].risk as u8,
    }
}

/// Every incident's row in `order`, each made as it is serialized (not all held at once).
struct AllRows<'a> {
    report: &'a Report,
    figures: &'a Figures,
    order: &'a [usize],
}

impl Serialize for AllRows<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        crate::export::json_rows::par_seq(ser, self.order.len(), |j| {
            Packed(incident_row(self.report, self.figures, self.order, j))
        })
    }
}

/// A row in the page's data as an array, its values in [`IncidentRow`]'s field order (the
/// names once, in report.js, rather than in each of forty thousand rows).
struct Packed<'a>(IncidentRow<'a>);

impl Serialize for Packed<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let r = &self.0;
        let mut t = ser.serialize_tuple(17)?;
        t.serialize_element(r.id)?;
        t.serialize_element(&r.detailed)?;
        t.serialize_element(&r.first)?;
        t.serialize_element(&r.first_ts)?;
        t.serialize_element(&r.last)?;
        t.serialize_element(&r.last_ts)?;
        t.serialize_element(&r.senders)?;
        t.serialize_element(r.subject)?;
        t.serialize_element(&r.messages)?;
        t.serialize_element(&r.exposed)?;
        t.serialize_element(&r.external)?;
        t.serialize_element(&r.audience)?;
        t.serialize_element(&r.reply_all)?;
        t.serialize_element(&r.custodians)?;
        t.serialize_element(&r.sensitive)?;
        t.serialize_element(r.risk)?;
        t.serialize_element(&r.risk_rank)?;
        t.end()
    }
}

fn detail(
    report: &Report,
    figures: &Figures,
    k: usize,
    senders: &Senders<'_>,
    with_addresses: bool,
) -> Detail {
    let inc = &report.incidents[k];
    let f = &figures.incidents[k];
    let messages = inc
        .messages
        .iter()
        .take(MESSAGES_PER_DETAIL)
        .map(|&mi| {
            let m = &report.messages[mi];
            MessageRow {
                date: date_text(m.finding.date),
                sender: senders.show(&m.finding.from),
                subject: m.finding.subject.clone(),
                to: m.finding.to,
                cc: m.finding.cc,
                bcc: m.finding.bcc,
                reply_all: m.reply_all,
                sources: m.sources.iter().map(|s| s.to_string()).collect(),
                sha256: m.sha256.clone(),
            }
        })
        .collect();
    let addresses = if with_addresses {
        report
            .exposures_of(k)
            .iter()
            .take(ADDRESSES_PER_DETAIL)
            .map(|x| match x.name {
                0 => report.str(x.addr).to_string(),
                n => format!("{} <{}>", report.str(n), report.str(x.addr)),
            })
            .collect()
    } else {
        Vec::new()
    };
    Detail {
        id: inc.id.clone(),
        risk: f.risk.label(),
        sensitive: inc.sensitive.clone(),
        subject: inc.subject.clone(),
        external: inc.external,
        exposed: inc.exposed,
        more_messages: inc.messages.len().saturating_sub(MESSAGES_PER_DETAIL),
        messages,
        domains: Figures::top_domains(report, k),
        personal: f.domains.personal_webmail,
        organisational: f.domains.organisational,
        webmail_percent: f.domains.webmail_percent(),
        more_addresses: if with_addresses {
            inc.exposed.saturating_sub(ADDRESSES_PER_DETAIL)
        } else {
            0
        },
        addresses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn json_data_cannot_close_its_element() {
        let mut out = Vec::new();
        write_json_data(
            &vec!["</script><script>alert(1)</script>", "<!--"],
            &mut out,
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('<'), "{s}");
        let back: Vec<String> = serde_json::from_str(&s).unwrap();
        assert_eq!(back[0], "</script><script>alert(1)</script>");
    }

    #[test]
    fn assets_make_no_request() {
        for text in [TEMPLATE, STYLE, SCRIPT] {
            assert!(!text.contains("http:") && !text.contains("https:"));
            assert!(!text.contains("url(") && !text.contains("@import"));
        }
    }
}
