//! What was read: per account and folder, the UID ranges (summary.json and `--state`).

use super::*;

/// What was read of one account (recorded in summary.json, and in `--state`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ImapRecord {
    /// `user@host:port`.
    pub account: String,
    pub folders: Vec<Coverage>,
    /// Connections reopened after a failure.
    pub reconnects: u64,
}

/// What was read of one folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Coverage {
    pub folder: String,
    /// RFC 5092 URL of the folder (the prefix of its messages' locations).
    pub mailbox_url: String,
    pub uidvalidity: u32,
    /// UIDs read: first and last (0, 0 when none).
    pub first_uid: u32,
    pub last_uid: u32,
    pub messages: u64,
    /// Only UIDs above this were read (from `--state`).
    pub after_uid: u32,
    /// The folder's UIDVALIDITY had changed since the state was saved: it was read whole.
    pub uidvalidity_changed: bool,
    /// Every batch was read.
    pub complete: bool,
}

/// `--state` file contents: per account, per folder, the UIDVALIDITY and the highest UID read.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, BTreeMap<String, FolderState>>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: u32,
    pub last_uid: u32,
}

impl State {
    /// Read a state file; a missing file is an empty state.
    pub fn load(path: &std::path::Path) -> Result<State, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("{}: not a bccaudit state file ({e})", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Remember, per folder read completely, its UIDVALIDITY and the highest UID read.
    pub fn record(&mut self, r: &ImapRecord) {
        let account = self.accounts.entry(r.account.clone()).or_default();
        for c in r.folders.iter().filter(|c| c.complete) {
            account.insert(
                c.folder.clone(),
                FolderState {
                    uidvalidity: c.uidvalidity,
                    last_uid: c.last_uid.max(c.after_uid),
                },
            );
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}
