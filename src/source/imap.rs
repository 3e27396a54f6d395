//! IMAP Sent folders (read-only: EXAMINE, BODY.PEEK). See the IMAP issue.

use super::Location;

/// Header bytes fetched from a server for one message.
pub struct FetchedHeader {
    pub header: Vec<u8>,
    pub location: Location,
    pub size: u64,
    pub internal_date: Option<i64>,
}
