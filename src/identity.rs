//! "Same message", decided in one place.
//!
//! Two messages are copies of one message when they share
//! - a **Message-ID with the same exposed recipients** (some mailers reuse ids, and list
//!   software rewrites copies: merging those would drop people from the notification list), or
//! - a **content key**: normalised Date + From + To + Cc + Subject (archive conversions mint new
//!   Message-IDs), only for messages that carry a Date.
//!
//! Keys are a specified hash (see `KeyHash`), not `std`'s `DefaultHasher`, whose output Rust
//! does not promise across releases.
//!
//! Copies are merged transitively ([`Copies`] is a union-find over keys). The scan's
//! unique/duplicate counts and the analysis' merged messages both come from [`Copies`], so they
//! cannot disagree.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use sha2::{Digest, Sha256};

/// Keys that identify one message across copies. Serialised (in a partial result) as three
/// 16-digit hex strings or nulls: `[msgid, content, id_only]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys {
    /// From the Message-ID and the exposed recipients.
    pub msgid: Option<u64>,
    /// From the normalised Date+From+To+Cc+Subject (only when the message has a Date).
    pub content: Option<u64>,
    /// From the Message-ID alone: to count ids reused with other recipients.
    pub id_only: Option<u64>,
}

impl serde::Serialize for Keys {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = |k: Option<u64>| k.map(|k| format!("{k:016x}"));
        (hex(self.msgid), hex(self.content), hex(self.id_only)).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        let (a, b, c): (Option<String>, Option<String>, Option<String>) =
            serde::Deserialize::deserialize(d)?;
        let parse = |v: Option<String>| -> Result<Option<u64>, D::Error> {
            v.map(|h| u64::from_str_radix(&h, 16).map_err(serde::de::Error::custom))
                .transpose()
        };
        Ok(Keys {
            msgid: parse(a)?,
            content: parse(b)?,
            id_only: parse(c)?,
        })
    }
}

/// What a message's identity is made of.
pub struct Parts<'a> {
    pub message_id: Option<&'a str>,
    /// Exposed addresses (To/Cc minus the sender, distinct), any order.
    pub exposed: Vec<&'a str>,
    /// Date (seconds) when the message has a Date header.
    pub date: Option<i64>,
    pub from: &'a str,
    pub to: Vec<&'a str>,
    pub cc: Vec<&'a str>,
    pub subject: &'a [u8],
}

/// A key: the first 8 bytes (big-endian) of the SHA-256 of the parts, each written as its
/// length (8 bytes, little-endian) and its bytes; a list as its length and its elements sorted
/// (order-independent). Specified, so keys made by other builds and machines agree (a partial
/// result made on one machine merges with one made on another).
struct KeyHash(Sha256);

impl KeyHash {
    fn new(kind: &[u8]) -> KeyHash {
        let mut h = KeyHash(Sha256::new());
        h.part(kind);
        h
    }

    fn part(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    fn list(&mut self, v: &mut [&str]) {
        v.sort_unstable();
        self.0.update((v.len() as u64).to_le_bytes());
        for a in v.iter() {
            self.part(a.as_bytes());
        }
    }

    fn finish(self) -> u64 {
        let d = self.0.finalize();
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[..8]);
        u64::from_be_bytes(w)
    }
}

pub fn keys(mut p: Parts<'_>) -> Keys {
    let msgid = p.message_id.map(|m| {
        let mut h = KeyHash::new(b"id");
        h.part(m.as_bytes());
        let id_only = KeyHash(h.0.clone()).finish();
        h.list(&mut p.exposed);
        (h.finish(), id_only)
    });
    Keys {
        msgid: msgid.map(|m| m.0),
        id_only: msgid.map(|m| m.1),
        content: p.date.map(|d| {
            let mut h = KeyHash::new(b"content");
            h.part(&d.to_le_bytes());
            h.part(p.from.as_bytes());
            h.list(&mut p.to);
            h.list(&mut p.cc);
            h.part(p.subject);
            h.finish()
        }),
    }
}

/// Keys are already hash outputs: hashing them again is wasted work.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Messages grouped into copies, one message at a time (union-find over keys).
#[derive(Default)]
pub struct Copies {
    node: HashMap<u64, u32, KeyHasher>,
    parent: Vec<u32>,
    /// Distinct messages so far.
    unique: u64,
}

impl Copies {
    /// Room for `messages` messages' keys before the index grows.
    pub fn with_capacity(messages: usize) -> Copies {
        Copies {
            node: HashMap::with_capacity_and_hasher(2 * messages, KeyHasher),
            parent: Vec::with_capacity(messages),
            unique: 0,
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Add a message; true when it is a copy of one added before.
    pub fn add(&mut self, k: &Keys) -> bool {
        if k.msgid.is_none() && k.content.is_none() {
            // Nothing to recognise a copy by: a message of its own.
            self.unique += 1;
            return false;
        }
        // At most two keys: fixed arrays, no allocation per message.
        let mut roots: [Option<u32>; 2] = [None; 2];
        let mut fresh: [Option<u64>; 2] = [None; 2];
        for (i, key) in [k.msgid, k.content].into_iter().enumerate() {
            let Some(key) = key else { continue };
            // Message-ID and content keys are hashed with different prefixes: one key space.
            match self.node.get(&key).copied() {
                Some(n) => {
                    let r = self.find(n);
                    if !roots.contains(&Some(r)) {
                        roots[i] = Some(r);
                    }
                }
                None => fresh[i] = Some(key),
            }
        }
        let mut roots = roots.into_iter().flatten();
        let first = roots.next();
        let copy = first.is_some();
        let root = match first {
            Some(r) => r,
            None => {
                let n = self.parent.len() as u32;
                self.parent.push(n);
                self.unique += 1;
                n
            }
        };
        // A message that links two earlier groups makes them one message.
        for r in roots {
            self.parent[r as usize] = root;
            self.unique -= 1;
        }
        for key in fresh.into_iter().flatten() {
            self.node.insert(key, root);
        }
        copy
    }

    /// The group a message added before belongs to (`None` for a message without keys).
    pub fn group(&mut self, k: &Keys) -> Option<u32> {
        let n = [k.msgid, k.content]
            .into_iter()
            .flatten()
            .find_map(|key| self.node.get(&key).copied())?;
        Some(self.find(n))
    }

    /// Distinct messages among those added.
    pub fn unique(&self) -> u64 {
        self.unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(id: Option<&str>, exposed: &[&str], date: Option<i64>) -> Keys {
        keys(Parts {
            message_id: id,
            exposed: exposed.to_vec(),
            date,
            from: "me@x.test",
            to: exposed.to_vec(),
            cc: Vec::new(),
            subject: b"s",
        })
    }

    #[test]
    fn reused_id_with_other_recipients_is_another_message() {
        let mut c = Copies::default();
        assert!(!c.add(&k(Some("a@x"), &["p@x.test"], None)));
        assert!(!c.add(&k(Some("a@x"), &["q@x.test"], None)));
        assert!(c.add(&k(Some("a@x"), &["p@x.test"], None)));
        assert_eq!(c.unique(), 2);
    }

    #[test]
    fn a_message_linking_two_groups_merges_them() {
        let mut c = Copies::default();
        let by_id = k(Some("a@x"), &["p@x.test"], None);
        let by_content = k(None, &["p@x.test"], Some(5));
        let both = k(Some("a@x"), &["p@x.test"], Some(5));
        assert!(!c.add(&by_id));
        assert!(!c.add(&by_content));
        assert_eq!(c.unique(), 2);
        assert!(c.add(&both));
        assert_eq!(c.unique(), 1);
        assert_eq!(c.group(&by_id), c.group(&by_content));
        // No keys: always a message of its own.
        assert!(!c.add(&Keys::default()));
        assert!(!c.add(&Keys::default()));
        assert_eq!(c.unique(), 3);
    }
}
