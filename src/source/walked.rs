//! A source whose file is walked on a thread of its own (a PST, an archive): its batches come
//! through a bounded channel while the workers classify the previous ones, and the file's
//! SHA-256 is computed on another thread at the same time (not after the walk).

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use super::Batch;

/// Batches a walk may run ahead of the workers.
const AHEAD: usize = 4;

pub struct Walked<T> {
    rx: Receiver<Batch>,
    walk: Option<JoinHandle<T>>,
    hash: Option<JoinHandle<Option<String>>>,
    done: Option<(Option<T>, Option<String>)>,
}

impl<T: Clone + Send + 'static> Walked<T> {
    /// Start `walk` on a thread named `thread` (it hands its batches to the emitter it is
    /// given), and with `hash_of` the SHA-256 of that file on another.
    pub fn spawn(
        thread: &str,
        hash_of: Option<PathBuf>,
        walk: impl FnOnce(&mut dyn FnMut(Batch)) -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Batch>(AHEAD);
        let walk = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                walk(&mut |b: Batch| {
                    // A closed channel means the scan stopped: the rest is not wanted.
                    let _ = tx.send(b);
                })
            })?;
        let hash = match hash_of {
            Some(p) => Some(
                std::thread::Builder::new()
                    .name(format!("{thread}-hash"))
                    .spawn(move || crate::fsx::sha256_file(&p).ok())?,
            ),
            None => None,
        };
        Ok(Walked {
            rx,
            walk: Some(walk),
            hash,
            done: None,
        })
    }

    pub fn next_batch(&mut self) -> Option<Batch> {
        self.rx.recv().ok()
    }

    /// After the last batch: what the walk returned (none if it panicked) and the SHA-256
    /// (none if not asked for or the file could not be read again).
    pub fn finish(&mut self) -> (Option<T>, Option<String>) {
        if self.done.is_none() {
            let walked = self.walk.take().and_then(|h| h.join().ok());
            let sha = self.hash.take().and_then(|h| h.join().ok()).flatten();
            self.done = Some((walked, sha));
        }
        self.done.clone().unwrap_or((None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_in_order_then_the_result_and_the_hash() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let mut w = Walked::spawn("test", Some(p), |emit| {
            for bytes in 0..10u64 {
                emit(Batch {
                    bytes,
                    ..Batch::default()
                });
            }
            "walked"
        })
        .unwrap();
        let got: Vec<u64> = std::iter::from_fn(|| w.next_batch())
            .map(|b| b.bytes)
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(w.finish(), (Some("walked"), Some(sha.to_string())));
        assert_eq!(w.finish(), (Some("walked"), Some(sha.to_string())));
    }
}
