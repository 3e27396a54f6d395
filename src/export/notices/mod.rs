//! `--notices`: one notification draft per affected person (GDPR Art. 34), never one message
//! to the list again. Each draft is an RFC 5322 message addressed to exactly that person, with
//! `X-Unsent: 1` so Outlook opens it as a draft; all of them also go into `notices.mbox` (to
//! import into a mail client's Drafts) and `notices.csv` (a mail-merge list).
//!
//! A draft is rendered from the person's own row and incidents only: it can name no one else.
//! File names are numbers (never addresses). Drafts are rendered in parallel, a block at a
//! time, and written in order: memory does not grow with the number of people.

mod mime;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::{write_atomic_with, Document, ExportError, Exporter};
use crate::analysis::Person;
use crate::parse::date::rfc3339;

/// The built-in draft: its first line `Subject: …` is the subject, the rest the body.
pub const BUILTIN_TEMPLATE: &str = include_str!("notice.txt");
/// Drafts rendered at a time (in parallel), then written in order.
const BLOCK: usize = 2048;

/// How the drafts are made (`--notices` and its options).
#[derive(Debug, Clone)]
pub struct NoticeOptions {
    /// `From:` of every draft (`--notice-from`).
    pub from: String,
    /// The template's text (`--notice-template`, else [`BUILTIN_TEMPLATE`]).
    pub template: String,
    /// Drafts for internal people too (`--notices-include-internal`).
    pub include_internal: bool,
    /// Subjects of the exposing messages in the drafts (`--notice-subjects`).
    pub subjects: bool,
}

/// What a template sees.
#[derive(Serialize)]
struct Context<'a> {
    name: &'a str,
    address: &'a str,
    org: Option<&'a str>,
    dpo_contact: Option<&'a str>,
    incidents: Vec<IncidentContext>,
    /// Their name was shown in at least one of the incidents.
    name_shown: bool,
    /// At least one incident has sensitive context.
    sensitive: bool,
}

#[derive(Serialize)]
struct IncidentContext {
    id: String,
    /// When it was first sent to them (`YYYY-MM-DD`).
    date: String,
    /// How many other people received a message that showed their address.
    others: u32,
    name_shown: bool,
    field: &'static str,
    subject: Option<String>,
    sensitive: Vec<String>,
}

/// A compiled template that has rendered once (so a broken one fails before any scan).
pub struct Template {
    env: minijinja::Environment<'static>,
}

impl Template {
    pub fn new(text: &str) -> Result<Template, String> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_template_owned("notice", text.to_string())
            .map_err(|e| format!("notice template: {e}"))?;
        let t = Template { env };
        let sample = Context {
            name: "Sam Example",
            address: "sam@example.org",
            org: Some("Example Organisation"),
            dpo_contact: Some("dpo@example.org"),
            incidents: vec![IncidentContext {
                id: "INC-0001".into(),
                date: "2025-01-01".into(),
                others: 2,
                name_shown: true,
                field: "To",
                subject: Some("Example".into()),
                sensitive: vec!["health".into()],
            }],
            name_shown: true,
            sensitive: true,
        };
        t.render(&sample)?;
        Ok(t)
    }

    /// (subject, body) of one draft.
    fn render(&self, ctx: &Context<'_>) -> Result<(String, String), String> {
        let text = self
            .env
            .get_template("notice")
            .and_then(|t| t.render(minijinja::value::Serde(ctx)))
            .map_err(|e| format!("notice template: {e}"))?;
        let (subject, body) = match text.strip_prefix("Subject:") {
            Some(rest) => rest.split_once('\n').unwrap_or((rest, "")),
            None => ("About an email we sent you", text.as_str()),
        };
        Ok((
            subject.trim().to_string(),
            body.trim_start_matches('\n').to_string(),
        ))
    }
}

/// notices/, notices.mbox, notices.csv (only with `--notices`).
pub struct Notices;

impl Exporter for Notices {
    fn files(&self) -> &'static [&'static str] {
        &["notices/", "notices.mbox", "notices.csv"]
    }
    fn write(&self, doc: &Document<'_>, dir: &Path) -> Result<(), ExportError> {
        match &doc.options.notices {
            Some(n) => write_notices(doc, n, dir),
            None => Ok(()),
        }
    }
}

fn context<'a>(doc: &'a Document<'_>, p: &'a Person, subjects: bool) -> Context<'a> {
    let report = doc.report;
    let address = report.str(p.addr);
    let incidents: Vec<IncidentContext> = report
        .incidents_of(p)
        .iter()
        .map(|&k| {
            let inc = &report.incidents[k as usize];
            let row = report.exposure(k as usize, address);
            let first = row.and_then(|r| r.first_sent.get()).or(inc.first_sent);
            IncidentContext {
                id: inc.id.clone(),
                date: first
                    .map(|t| rfc3339(t)[..10].to_string())
                    .unwrap_or_else(|| "an unknown date".into()),
                others: row
                    .map_or(inc.audience as u32, |r| r.audience)
                    .saturating_sub(1),
                name_shown: row.is_some_and(|r| r.name != 0),
                field: row.map_or("To", |r| {
                    if r.fields & crate::detect::IN_TO != 0 {
                        "To"
                    } else {
                        "Cc"
                    }
                }),
                subject: subjects.then(|| inc.subject.clone()),
                sensitive: inc.sensitive.clone(),
            }
        })
        .collect();
    Context {
        name: report.str(p.name),
        address,
        org: doc.options.org.as_deref(),
        dpo_contact: doc.options.dpo_contact.as_deref(),
        name_shown: incidents.iter().any(|i| i.name_shown),
        sensitive: incidents.iter().any(|i| !i.sensitive.is_empty()),
        incidents,
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |err| ExportError::Io {
        path: path.display().to_string(),
        err,
    }
}

fn write_notices(doc: &Document<'_>, n: &NoticeOptions, dir: &Path) -> Result<(), ExportError> {
    let report = doc.report;
    let template = Template::new(&n.template).map_err(ExportError::Refused)?;
    let drafts_dir = dir.join("notices");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&drafts_dir)
        .map_err(io_err(&drafts_dir))?;
    let date = mime::date_header(doc.run.finished);
    let people: Vec<&Person> = report
        .people
        .iter()
        .filter(|p| n.include_internal || !p.internal)
        .collect();
    let width = people.len().to_string().len().max(6);
    // The mbox and the CSV are streamed beside the drafts, each made atomic like every file.
    write_atomic_with(dir, "notices.mbox", |mbox| {
        write_atomic_with(dir, "notices.csv", |csv_out| {
            let mut csv = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(csv_out);
            let header = [
                "address",
                "name",
                "incidents",
                "first_exposed",
                "last_exposed",
                "max_audience",
                "draft",
            ];
            csv.write_record(header).map_err(std::io::Error::other)?;
            for (b, block) in people.chunks(BLOCK).enumerate() {
                let rendered: Vec<Result<(String, Vec<u8>), String>> = block
                    .par_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let number = b * BLOCK + i + 1;
                        let ctx = context(doc, p, n.subjects);
                        let (subject, body) = template.render(&ctx)?;
                        let file = format!("notice-{number:0width$}.eml");
                        let draft = mime::draft(&mime::Draft {
                            from: &n.from,
                            org: ctx.org,
                            to_name: ctx.name,
                            to_addr: ctx.address,
                            subject: &subject,
                            date: &date,
                            id_seed: &format!("{}\n{}", ctx.address, doc.run.finished),
                            body: &body,
                        });
                        Ok((file, draft))
                    })
                    .collect();
                for (p, r) in block.iter().zip(rendered) {
                    let (file, draft) = r.map_err(std::io::Error::other)?;
                    let path = drafts_dir.join(&file);
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .custom_flags(libc::O_NOFOLLOW)
                        .open(&path)?;
                    f.write_all(&draft)?;
                    mime::append_to_mbox(mbox, &n.from, doc.run.finished, &draft)?;
                    let incidents = report.incidents_of(p);
                    let ids: Vec<&str> = incidents
                        .iter()
                        .map(|&k| report.incidents[k as usize].id.as_str())
                        .collect();
                    csv.write_record([
                        super::guard_cell(report.str(p.addr)).as_ref(),
                        super::guard_cell(report.str(p.name)).as_ref(),
                        &ids.join(" "),
                        &p.first_exposed.get().map(rfc3339).unwrap_or_default(),
                        &p.last_exposed.get().map(rfc3339).unwrap_or_default(),
                        &p.max_audience.to_string(),
                        &format!("notices/{file}"),
                    ])
                    .map_err(std::io::Error::other)?;
                }
            }
            csv.flush()
        })
        .map_err(|e| match e {
            ExportError::Io { err, .. } => err,
            e => std::io::Error::other(e.to_string()),
        })
    })?;
    // The drafts were written without a sync each: flush the file system once.
    if let Ok(d) = File::open(&drafts_dir) {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs on a descriptor we own; it only asks the kernel to write back.
        unsafe {
            libc::syncfs(d.as_raw_fd());
        }
    }
    Ok(())
}
