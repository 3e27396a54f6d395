//! Parts of the command line that are not argument definitions.

pub mod imap_opts;
pub mod merge;
pub mod progress;
pub mod report;
pub mod scan;

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
