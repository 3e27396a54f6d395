//! bccaudit: find sent mail that exposed its recipients' addresses to each other.
//!
//! The pipeline, one module per stage:
//! 1. [`source`]: mbox, Maildir / message files, IMAP → batches of raw messages.
//! 2. [`parse`]: header block → envelope (tolerant address lists, dates, ids).
//! 3. [`detect`]: who is exposed, who is Bcc, is the message exposing?
//! 4. [`analysis`]: copies merged, incidents grouped, people aggregated.
//! 5. [`export`]: CSV notification lists and summary.json, owner-only and atomic.
//!
//! [`scan`] runs stages 1–3 on a rayon pool, keeping source order, one [`model::InputResult`]
//! per input; [`run`] is the orchestration (with an [`run::Observer`] for progress), and
//! [`partial`] writes and reads what one shard of a sharded run yielded. "Same message" is
//! decided in [`identity`]; exposed addresses and names are stored once in [`intern`].

pub mod analysis;
pub(crate) mod cache;
pub mod detect;
pub(crate) mod digits;
pub mod evidence;
pub mod export;
pub mod fsx;
pub mod identity;
pub mod intern;
pub mod model;
pub mod parse;
pub mod partial;
pub mod run;
pub mod scan;
pub mod sensitive;
pub mod source;
pub mod warning;
