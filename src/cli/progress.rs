//! The progress the CLI draws on stderr: one bar in bytes for file inputs, one bar per IMAP
//! folder in messages, then a spinner for each later phase (analysis, export), so no phase is
//! silent. Hidden with `--quiet` and whenever stderr is not a terminal.

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use bccaudit::run::Observer;

pub struct Bars {
    enabled: bool,
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bytes: Option<ProgressBar>,
    /// Per input, per folder.
    folders: Vec<Vec<ProgressBar>>,
    phase: Option<ProgressBar>,
}

impl Bars {
    pub fn new(enabled: bool) -> Bars {
        Bars {
            enabled,
            multi: MultiProgress::with_draw_target(if enabled {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            }),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn styled(b: ProgressBar, template: &str) -> ProgressBar {
    if let Ok(st) = ProgressStyle::with_template(template) {
        b.set_style(st.progress_chars("=> "));
    }
    b
}

impl Observer for Bars {
    fn scan_started(&self, total_bytes: Option<u64>, folders: Vec<Vec<(String, u64)>>) {
        let mut st = self.state();
        if folders.iter().any(Vec::is_empty) {
            let b = match total_bytes {
                Some(t) => styled(
                    ProgressBar::new(t),
                    "{spinner} files {bytes}/{total_bytes} {binary_bytes_per_sec} [{bar:30}] eta {eta}",
                ),
                None => styled(
                    ProgressBar::new_spinner(),
                    "{spinner} files {bytes} {binary_bytes_per_sec}",
                ),
            };
            st.bytes = Some(self.multi.add(b));
        }
        st.folders = folders
            .into_iter()
            .map(|fs| {
                fs.into_iter()
                    .map(|(label, n)| {
                        let b = self.multi.add(styled(
                            ProgressBar::new(n),
                            "{spinner} {msg} {pos}/{len} messages {per_sec} [{bar:30}] eta {eta}",
                        ));
                        b.set_message(bccaudit::export::terminal_safe(&label).into_owned());
                        b
                    })
                    .collect()
            })
            .collect();
    }

    fn bytes(&self, n: u64) {
        if let Some(b) = &self.state().bytes {
            b.inc(n);
        }
    }

    fn messages(&self, input: usize, folder: usize, n: u64) {
        if let Some(b) = self.state().folders.get(input).and_then(|f| f.get(folder)) {
            b.inc(n);
        }
    }

    fn scan_finished(&self) {
        let mut st = self.state();
        if let Some(b) = st.bytes.take() {
            b.finish_and_clear();
        }
        for b in std::mem::take(&mut st.folders).into_iter().flatten() {
            b.finish_and_clear();
        }
    }

    fn phase(&self, what: &str) {
        let mut st = self.state();
        if let Some(b) = st.phase.take() {
            b.finish_and_clear();
        }
        if self.enabled {
            let b = self.multi.add(styled(
                ProgressBar::new_spinner(),
                "{spinner} {msg} {elapsed}",
            ));
            b.set_message(what.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            st.phase = Some(b);
        }
    }

    fn phase_done(&self) {
        if let Some(b) = self.state().phase.take() {
            b.finish_and_clear();
        }
    }
}
