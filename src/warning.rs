//! Damage found in the input: counted by kind, located, never fatal.

use std::collections::BTreeMap;

/// Every kind of damage or doubt bccaudit reports (summary.json `warnings`, by these names).
macro_rules! kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum WarningKind {
            $($(#[doc = $doc])* $variant,)*
        }

        impl WarningKind {
            pub const ALL: &'static [WarningKind] = &[$(WarningKind::$variant,)*];

            /// The name in summary.json and on the terminal.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(WarningKind::$variant => $name,)*
                }
            }
        }
    };
}

kinds! {
    // Address lists (To, Cc, Bcc, From): the rest of the list is still read.
    /// An entry with a name but no address.
    NoAddress = "address-entry-without-address",
    /// Text where an address should be that is none.
    InvalidAddress = "invalid-address",
    /// `<` without its `>`: the address was taken up to the end of the entry.
    UnclosedAngle = "unclosed-angle-bracket",
    /// An address written inside a display name.
    BareAddressInPhrase = "bare-address-in-display-name",
    /// A quote or comment left open.
    Unbalanced = "unbalanced-quote-or-comment",
    /// An address cut in two by a line fold, joined again.
    JoinedAcrossFold = "address-joined-across-fold",
    // Header blocks.
    /// A header line that is not `Name: value`.
    MalformedHeaderLine = "malformed-header-line",
    /// A header block with no blank line after it (the message ends inside it).
    HeaderBlockNotTerminated = "header-block-not-terminated",
    /// No usable Date: kept under `--since`/`--until`, counted as undated.
    UndatedMessage = "undated-message",
    /// Nothing that looks like a mail header.
    NoUsableHeaders = "no-usable-headers",
    /// An exposing message too large to copy under `--evidence` (its hash is still recorded).
    EvidenceTooLarge = "evidence-not-saved-message-too-large",
    // Mailbox files.
    /// A `Content-Length` that would swallow the next message: `From ` lines were used.
    ContentLengthDisagrees = "content-length-disagrees",
    /// Bytes before an mbox's first `From ` line.
    MboxJunkBeforeFirstMessage = "mbox-junk-before-first-message",
    /// A message larger than the read window, streamed through its hash.
    OversizeMessageStreamed = "oversize-message-streamed",
    // Directory trees.
    /// A symbolic link in a tree (never followed).
    SymlinkNotFollowed = "symlink-not-followed",
    /// A FIFO, socket or device in a tree.
    NotARegularFile = "not-a-regular-file",
    /// A file in a tree that is not mail (skipped, counted by type).
    FileNotMailSkipped = "file-not-mail-skipped",
    // Archives.
    /// A member whose expanded size or ratio is absurd (a zip bomb), or too large to read.
    ArchiveMemberRefused = "archive-member-refused",
    /// A member that could not be read.
    ArchiveMemberUnreadable = "archive-member-unreadable",
    /// An archive inside an archive inside an archive.
    ArchiveNestedTooDeep = "archive-nested-too-deep",
    // IMAP.
    /// A message listed by the server that was gone when fetched.
    ImapMessageVanished = "imap-message-vanished",
    /// The folder's UIDVALIDITY changed since the last run: it was read again whole.
    ImapUidvalidityChanged = "imap-uidvalidity-changed-folder-rescanned",
    // Outlook (PST, MSG).
    /// A contact, appointment, note or post (skipped, counted by class).
    OutlookItemNotMail = "outlook-item-not-mail",
    /// A `.msg` compound file that could not be read.
    OutlookMsgUnreadable = "outlook-msg-unreadable",
    /// A recipient row with no address of any kind.
    RecipientWithoutAddress = "recipient-without-address",
    /// An Exchange recipient known only by its legacy DN (kept as the identifier, internal).
    ExchangeAddressWithoutSmtp = "exchange-address-without-smtp",
    /// A distribution list in To/Cc: one visible address (its members were not shown).
    DistributionListRecipient = "distribution-list-recipient",
    /// No recipient table: the visible names stand for the people; look at this message.
    NamesOnly = "names-only",
    /// Neither a recipient table nor display names: who saw it cannot be told.
    NoRecipientTable = "no-recipient-table",
    /// Folders nested deeper than bccaudit follows.
    PstFolderTooDeep = "pst-folder-too-deep",
    /// A PST folder (or its contents table) that could not be read; the rest was.
    PstFolderUnreadable = "pst-folder-unreadable",
    /// A PST message that could not be read; the rest was.
    PstMessageUnreadable = "pst-message-unreadable",
    // Sensitive context.
    /// A body or attachment name that could not be read for sensitive terms.
    SensitiveContextNotRead = "sensitive-context-not-read",
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with the input, where it is, and (optionally) what exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub location: String,
}

impl Warning {
    pub fn new(kind: WarningKind, location: impl Into<String>) -> Self {
        Warning {
            kind,
            location: location.into(),
        }
    }
}

/// How many locations are kept per kind (counts stay exact beyond it).
pub const LOCATIONS_KEPT: usize = 1000;

/// Warnings tallied by kind, with the first locations of each.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct WarningTally {
    #[serde(flatten)]
    pub by_kind: BTreeMap<String, KindTally>,
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct KindTally {
    pub count: u64,
    pub locations: Vec<String>,
}

impl WarningTally {
    pub fn add(&mut self, w: Warning) {
        let t = self.by_kind.entry(w.kind.as_str().to_string()).or_default();
        t.count += 1;
        if t.locations.len() < LOCATIONS_KEPT {
            t.locations.push(w.location);
        }
    }
    /// Add a later input's tally: counts add up, locations are kept in order up to the limit.
    pub fn merge(&mut self, o: WarningTally) {
        for (kind, t) in o.by_kind {
            let mine = self.by_kind.entry(kind).or_default();
            mine.count += t.count;
            let room = LOCATIONS_KEPT.saturating_sub(mine.locations.len());
            mine.locations.extend(t.locations.into_iter().take(room));
        }
    }

    pub fn total(&self) -> u64 {
        self.by_kind.values().map(|t| t.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_kebab_case_names() {
        let mut names: Vec<&str> = WarningKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WarningKind::ALL.len());
    }
}
