//! The IMAP source: ordered parallel UID batches over several connections, with retries.

use super::*;
use crate::warning::WarningKind;

struct WorkItem {
    folder: usize,
    uids: Vec<u32>,
}

struct PlannedFolder {
    folder: Folder,
    uidvalidity: u32,
    mailbox_url: Arc<str>,
    coverage: Coverage,
}

/// One fetched batch: headers, warnings, or the error that stopped it.
enum Fetched {
    Read(Vec<FetchedHeader>, Vec<Warning>),
    /// Retries exhausted: the batch, named.
    Failed(InputError),
    /// Not attempted: an earlier batch exhausted its retries, the server is gone.
    Skipped,
}

/// Fetched batches waiting to be handed on in order, and how many have been.
#[derive(Default)]
struct Pending {
    ready: BTreeMap<usize, Fetched>,
    handed_on: usize,
}

struct Shared {
    results: Mutex<Pending>,
    cond: Condvar,
    next: AtomicUsize,
    reconnects: AtomicU64,
    /// Set when a batch exhausted its retries: the remaining batches are not attempted (each
    /// would wait out its own retries against a server that is gone).
    gave_up: std::sync::atomic::AtomicBool,
}

/// The IMAP source for one URL.
pub struct ImapSource {
    url: ImapUrl,
    folders: Vec<PlannedFolder>,
    items: Arc<Vec<WorkItem>>,
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
    emitted: usize,
    warnings: Vec<Warning>,
    /// Per folder, the UID range of batches skipped after giving up.
    skipped: BTreeMap<usize, (u32, u32)>,
}

impl ImapSource {
    /// Connect, choose the folders and plan the UID batches. Fails early (before any report is
    /// written) on a bad URL, a refused login or a missing folder.
    pub fn open(
        url: ImapUrl,
        opts: ImapOptions,
        state: Option<&State>,
    ) -> Result<ImapSource, ImapError> {
        let server = url.server();
        let perr = |e: imap::Error| ImapError::Protocol {
            server: server.clone(),
            message: e.to_string(),
        };
        let mut session = connect(&url, &opts)?;
        let list = list_folders(&mut session, &server)?;
        let chosen = choose_folders(&url, &opts, &list)?;
        let account = url.account();
        let mut folders = Vec::new();
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        for (fi, f) in chosen.into_iter().enumerate() {
            let mb = session.examine(&f.raw).map_err(perr)?;
            let uidvalidity = mb.uid_validity.unwrap_or(0);
            let prior = state
                .and_then(|s| s.accounts.get(&account))
                .and_then(|a| a.get(&f.name));
            let (after, changed) = match prior {
                Some(p) if p.uidvalidity == uidvalidity => (p.last_uid, false),
                Some(_) => (0, true),
                None => (0, false),
            };
            let mailbox_url: Arc<str> = url.mailbox_url(&f.name).into();
            if changed {
                warnings.push(Warning::new(
                    WarningKind::ImapUidvalidityChanged,
                    mailbox_url.to_string(),
                ));
            }
            let mut uids: Vec<u32> = if mb.exists == 0 {
                Vec::new()
            } else {
                let q = if after > 0 {
                    format!("UID {}:*", after + 1)
                } else {
                    "ALL".to_string()
                };
                session
                    .uid_search(q)
                    .map_err(perr)?
                    .into_iter()
                    .filter(|&u| u > after)
                    .collect()
            };
            uids.sort_unstable();
            for chunk in uids.chunks(opts.batch.max(1)) {
                items.push(WorkItem {
                    folder: fi,
                    uids: chunk.to_vec(),
                });
            }
            folders.push(PlannedFolder {
                coverage: Coverage {
                    folder: f.name.clone(),
                    mailbox_url: mailbox_url.to_string(),
                    uidvalidity,
                    first_uid: uids.first().copied().unwrap_or(0),
                    last_uid: uids.last().copied().unwrap_or(0),
                    messages: uids.len() as u64,
                    after_uid: after,
                    uidvalidity_changed: changed,
                    complete: true,
                },
                folder: f,
                uidvalidity,
                mailbox_url,
            });
        }
        let _ = session.logout();
        let items = Arc::new(items);
        let shared = Arc::new(Shared {
            results: Mutex::new(Pending::default()),
            cond: Condvar::new(),
            next: AtomicUsize::new(0),
            reconnects: AtomicU64::new(0),
            gave_up: Default::default(),
        });
        let n = opts.connections.max(1).min(items.len().max(1));
        let window = 4 * n;
        let plan: Arc<Vec<(String, u32, Arc<str>)>> = Arc::new(
            folders
                .iter()
                .map(|p| (p.folder.raw.clone(), p.uidvalidity, p.mailbox_url.clone()))
                .collect(),
        );
        let workers = (0..n)
            .map(|_| {
                let (items, shared, plan, url, opts) = (
                    items.clone(),
                    shared.clone(),
                    plan.clone(),
                    url.clone(),
                    opts.clone(),
                );
                std::thread::spawn(move || worker(&url, &opts, &items, &plan, &shared, window))
            })
            .collect();
        Ok(ImapSource {
            url,
            folders,
            items,
            shared,
            workers,
            emitted: 0,
            warnings,
            skipped: BTreeMap::new(),
        })
    }

    pub fn coverage(&self) -> Vec<Coverage> {
        self.folders.iter().map(|f| f.coverage.clone()).collect()
    }
}

/// A fetch connection: takes the next batch, fetches it (reconnecting as needed), hands it in.
fn worker(
    url: &ImapUrl,
    opts: &ImapOptions,
    items: &[WorkItem],
    plan: &[(String, u32, Arc<str>)],
    shared: &Shared,
    window: usize,
) {
    let mut session: Option<(Conn, usize)> = None;
    let mut reader = ResponseReader::default();
    loop {
        let k = shared.next.fetch_add(1, Ordering::SeqCst);
        if k >= items.len() {
            break;
        }
        {
            // Do not run more than `window` batches ahead of what has been handed on.
            let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
            while k >= g.handed_on + window {
                g = shared.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        }
        if shared.gave_up.load(Ordering::SeqCst) {
            let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
            g.ready.insert(k, Fetched::Skipped);
            shared.cond.notify_all();
            continue;
        }
        let item = &items[k];
        let (raw, uidvalidity, mailbox_url) = &plan[item.folder];
        let mut attempt = 0;
        let result = loop {
            match fetch_batch(
                url,
                opts,
                &mut session,
                &mut reader,
                item,
                raw,
                *uidvalidity,
                mailbox_url,
            ) {
                Ok(r) => break Ok(r),
                Err(e) => {
                    session = None;
                    reader = ResponseReader::default();
                    if attempt >= opts.retries {
                        shared.gave_up.store(true, Ordering::SeqCst);
                        break Err(InputError {
                            location: format!(
                                "{mailbox_url};UIDVALIDITY={uidvalidity}/;UID={}:{}",
                                item.uids.first().copied().unwrap_or(0),
                                item.uids.last().copied().unwrap_or(0)
                            ),
                            message: format!(
                                "could not be read after {} attempts: {e}",
                                attempt + 1
                            ),
                        });
                    }
                    attempt += 1;
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    let backoff =
                        Duration::from_millis(100u64 << attempt.min(6)).min(Duration::from_secs(5));
                    std::thread::sleep(backoff);
                }
            }
        };
        let entry = match result {
            Ok((h, w)) => Fetched::Read(h, w),
            Err(e) => Fetched::Failed(e),
        };
        let mut g = shared.results.lock().unwrap_or_else(|e| e.into_inner());
        g.ready.insert(k, entry);
        shared.cond.notify_all();
    }
    if let Some((mut c, _)) = session {
        let _ = c.session.logout();
    }
}

#[allow(clippy::too_many_arguments)]
fn fetch_batch(
    url: &ImapUrl,
    opts: &ImapOptions,
    session: &mut Option<(Conn, usize)>,
    reader: &mut ResponseReader,
    item: &WorkItem,
    raw_folder: &str,
    uidvalidity: u32,
    mailbox_url: &Arc<str>,
) -> Result<(Vec<FetchedHeader>, Vec<Warning>), String> {
    if session.as_ref().is_none_or(|(_, f)| *f != item.folder) {
        let mut s = match session.take() {
            Some((s, _)) => s,
            None => connect_raw(url, opts).map_err(|e| e.to_string())?,
        };
        let mb = s.session.examine(raw_folder).map_err(|e| e.to_string())?;
        if mb.uid_validity.unwrap_or(0) != uidvalidity {
            return Err(format!(
                "UIDVALIDITY of {raw_folder} changed during the scan"
            ));
        }
        *session = Some((s, item.folder));
    }
    let (s, _) = session.as_mut().ok_or("no session")?;
    let fetched = s.fetch_headers(reader, &uid_set(&item.uids))?;
    if fetched.is_empty() && !item.uids.is_empty() {
        // Not "all of them vanished": a server that answers OK with nothing has not been read.
        return Err(format!(
            "the server answered with none of the {} messages asked for",
            item.uids.len()
        ));
    }
    let mut got: HashMap<u32, FetchedHeader> = HashMap::new();
    for f in fetched {
        let Some(uid) = f.uid else { continue };
        got.insert(
            uid,
            FetchedHeader {
                header: f.header.unwrap_or_default(),
                location: Location::Imap {
                    mailbox_url: mailbox_url.clone(),
                    uidvalidity,
                    uid,
                },
                size: u64::from(f.size.unwrap_or(0)),
                internal_date: f.internal_date,
                sha256: None,
            },
        );
    }
    let mut out = Vec::with_capacity(item.uids.len());
    let mut warnings = Vec::new();
    for uid in &item.uids {
        match got.remove(uid) {
            Some(h) => out.push(h),
            // Expunged by someone else between SEARCH and FETCH.
            None => warnings.push(Warning::new(
                WarningKind::ImapMessageVanished,
                format!("{mailbox_url};UIDVALIDITY={uidvalidity}/;UID={uid}"),
            )),
        }
    }
    Ok((out, warnings))
}

impl Source for ImapSource {
    fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = Batch {
            warnings: std::mem::take(&mut self.warnings),
            ..Batch::default()
        };
        if self.emitted >= self.items.len() {
            // Batches not attempted after the server was given up on, one range per folder.
            for (f, (first, last)) in std::mem::take(&mut self.skipped) {
                let pf = &self.folders[f];
                batch.errors.push(InputError {
                    location: format!(
                        "{};UIDVALIDITY={}/;UID={first}:{last}",
                        pf.mailbox_url, pf.uidvalidity
                    ),
                    message: "not read: the server was given up on after an earlier batch failed"
                        .into(),
                });
            }
            return (!batch.warnings.is_empty() || !batch.errors.is_empty()).then_some(batch);
        }
        let k = self.emitted;
        let fetched = {
            let mut g = self
                .shared
                .results
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(r) = g.ready.remove(&k) {
                    g.handed_on = k + 1;
                    self.shared.cond.notify_all();
                    break r;
                }
                g = self.shared.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        self.emitted += 1;
        let item = &self.items[k];
        batch.folder = Some(item.folder);
        let (headers, warnings) = match fetched {
            Fetched::Read(h, w) => (h, w),
            Fetched::Failed(e) => {
                self.folders[item.folder].coverage.complete = false;
                batch.errors.push(e);
                return Some(batch);
            }
            Fetched::Skipped => {
                self.folders[item.folder].coverage.complete = false;
                let (first, last) = (item.uids[0], item.uids[item.uids.len() - 1]);
                let r = self.skipped.entry(item.folder).or_insert((first, last));
                r.0 = r.0.min(first);
                r.1 = r.1.max(last);
                return Some(batch);
            }
        };
        batch.warnings.extend(warnings);
        batch.bytes = headers.iter().map(|h| h.size).sum();
        batch.units = headers
            .into_iter()
            .map(|h| Unit::Header(Box::new(h)))
            .collect();
        Some(batch)
    }

    fn folders(&self) -> Vec<(String, u64)> {
        self.folders
            .iter()
            .map(|f| (f.mailbox_url.to_string(), f.coverage.messages))
            .collect()
    }

    fn info(&mut self) -> InputInfo {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        InputInfo {
            path: self.url.mailbox_url("").trim_end_matches('/').to_string(),
            kind: crate::source::InputKind::Imap,
            size: 0,
            sha256: None,
            files: 0,
            detail: None,
            imap: Some(ImapRecord {
                account: self.url.account(),
                folders: self.coverage(),
                reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            }),
            errors: Vec::new(),
        }
    }
}

/// Whole messages per FETCH for `--evidence` (a mass mailing may carry a 10 MB attachment).
/// One per FETCH: every response is bounded by --max-response.
const FULL_MESSAGES_PER_FETCH: usize = 1;

/// Fetch raw messages (`BODY.PEEK[]`, so nothing is marked read): whole for `--evidence`, or
/// only their first `limit` bytes (`BODY.PEEK[]<0.limit>`: headers and the start of the text,
/// for the sensitive context).
pub fn fetch_full(
    url: &ImapUrl,
    opts: &ImapOptions,
    wanted: &[(String, u32, u32)],
    limit: Option<usize>,
) -> Result<HashMap<(String, u32), Vec<u8>>, ImapError> {
    let query = match limit {
        Some(n) => format!("(UID BODY.PEEK[]<0.{n}>)"),
        None => "(UID BODY.PEEK[])".to_string(),
    };
    let server = url.server();
    let perr = |e: imap::Error| ImapError::Protocol {
        server: server.clone(),
        message: e.to_string(),
    };
    let mut session = connect(url, opts)?;
    let list = list_folders(&mut session, &server)?;
    let mut by_folder: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
    for (f, v, u) in wanted {
        by_folder.entry(f.as_str()).or_default().push((*v, *u));
    }
    let mut out = HashMap::new();
    for (name, mut uids) in by_folder {
        let Some(f) = list.iter().find(|f| f.name == name) else {
            continue;
        };
        let mb = session.examine(&f.raw).map_err(perr)?;
        uids.retain(|(v, _)| Some(*v) == mb.uid_validity);
        let mut just: Vec<u32> = uids.iter().map(|(_, u)| *u).collect();
        just.sort_unstable();
        // The crate holds a whole response in memory: few whole messages per FETCH.
        for chunk in just.chunks(FULL_MESSAGES_PER_FETCH) {
            let fetches = session.uid_fetch(uid_set(chunk), &query).map_err(perr)?;
            for m in fetches.iter() {
                if let (Some(uid), Some(body)) = (m.uid, m.body()) {
                    out.insert((name.to_string(), uid), body.to_vec());
                }
            }
        }
    }
    let _ = session.logout();
    Ok(out)
}
