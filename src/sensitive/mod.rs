//! Sensitive context: does an exposing message's subject, text or attachment names suggest
//! that being on its recipient list reveals something (health, being a victim of crime, a
//! complaint, …)? Run on exposing messages only, after detection, so the scan stays fast.
//!
//! Matching is case-insensitive and by whole words: text and terms are both reduced to
//! lowercase words separated by single spaces (every character that is not a letter or digit
//! separates words), so "Mental\n Health" matches `mental health` and "HIV/AIDS" matches `hiv`.

mod body;
mod remote;

use std::collections::BTreeSet;
use std::path::Path;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use body::{message_text, MAX_BODY};
pub use remote::read_imap_texts;

const BUILTIN: &str = include_str!("terms.txt");

/// Where in a message a term was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    Subject,
    Body,
    AttachmentName,
}

impl Place {
    pub fn label(self) -> &'static str {
        match self {
            Place::Subject => "subject",
            Place::Body => "body",
            Place::AttachmentName => "attachment-name",
        }
    }
}

/// One term found in one place of a message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    pub category: String,
    pub term: String,
    #[serde(rename = "where")]
    pub place: Place,
}

#[derive(Debug, thiserror::Error)]
pub enum TermsError {
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error("{path} line {line}: expected `category,term`, found {text:?}")]
    Syntax {
        path: String,
        line: usize,
        text: String,
    },
    #[error("no sensitive terms left (--no-builtin-terms without --sensitive-terms)")]
    Empty,
}

/// The term list, compiled.
pub struct Matcher {
    /// (category, term as written in the list, normalised term), by pattern id.
    terms: Vec<(String, String)>,
    automaton: Option<AhoCorasick>,
    /// SHA-256 (16 hex digits) of the normalised list: partials made with different lists
    /// do not merge.
    pub fingerprint: String,
}

/// Lowercase words separated by single spaces, with a space at each end.
pub fn normalise(text: &str) -> String {
    if text.is_ascii() {
        return normalise_ascii(text.as_bytes());
    }
    normalise_chars(text)
}

/// [`normalise`], a character at a time (any text).
fn normalise_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

/// [`normalise`] for ASCII text (most mail), a byte at a time.
fn normalise_ascii(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b' ');
    for &b in text {
        if b.is_ascii_alphanumeric() {
            out.push(b.to_ascii_lowercase());
        } else if out.last() != Some(&b' ') {
            out.push(b' ');
        }
    }
    if out.last() != Some(&b' ') {
        out.push(b' ');
    }
    // ASCII in, ASCII out.
    String::from_utf8(out).unwrap_or_default()
}

fn parse_list(text: &str, path: &str, out: &mut Vec<(String, String)>) -> Result<(), TermsError> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((cat, term)) = line.split_once(',') else {
            return Err(TermsError::Syntax {
                path: path.into(),
                line: i + 1,
                text: line.chars().take(80).collect(),
            });
        };
        let (cat, term) = (cat.trim(), term.trim());
        if cat.is_empty() || normalise(term).trim().is_empty() {
            return Err(TermsError::Syntax {
                path: path.into(),
                line: i + 1,
                text: line.chars().take(80).collect(),
            });
        }
        out.push((cat.to_string(), term.to_string()));
    }
    Ok(())
}

impl Matcher {
    /// The built-in list (unless `builtin` is false) plus the terms of `extra` files.
    pub fn new(builtin: bool, extra: &[&Path]) -> Result<Matcher, TermsError> {
        let mut list = Vec::new();
        if builtin {
            parse_list(BUILTIN, "built-in terms", &mut list)?;
        }
        for p in extra {
            let text = std::fs::read_to_string(p).map_err(|err| TermsError::Io {
                path: p.display().to_string(),
                err,
            })?;
            parse_list(&text, &p.display().to_string(), &mut list)?;
        }
        if list.is_empty() {
            return Err(TermsError::Empty);
        }
        Ok(Matcher::from_list(list))
    }

    pub fn builtin() -> Matcher {
        let mut list = Vec::new();
        // The built-in list is part of the program and parses (tested).
        let _ = parse_list(BUILTIN, "built-in terms", &mut list);
        Matcher::from_list(list)
    }

    fn from_list(list: Vec<(String, String)>) -> Matcher {
        let mut seen = BTreeSet::new();
        let mut terms = Vec::new();
        let mut patterns = Vec::new();
        let mut h = Sha256::new();
        for (cat, term) in list {
            let n = normalise(&term);
            if seen.insert((cat.clone(), n.clone())) {
                h.update(format!("{cat}\t{n}\n").as_bytes());
                patterns.push(n);
                terms.push((cat, term.to_lowercase()));
            }
        }
        let digest = h.finalize();
        Matcher {
            // A DFA: the fastest search, and a few hundred terms keep it small.
            automaton: AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&patterns)
                .or_else(|_| AhoCorasick::new(&patterns))
                .ok(),
            terms,
            fingerprint: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The categories of the list, sorted.
    pub fn categories(&self) -> BTreeSet<&str> {
        self.terms.iter().map(|(c, _)| c.as_str()).collect()
    }

    /// The terms found in `text`, each once.
    pub fn find(&self, text: &str, place: Place, hits: &mut BTreeSet<Hit>) {
        let Some(ac) = &self.automaton else { return };
        let n = normalise(text);
        // Patterns carry their surrounding spaces: every match is a run of whole words.
        for m in ac.find_overlapping_iter(&n) {
            let (cat, term) = &self.terms[m.pattern().as_usize()];
            hits.insert(Hit {
                category: cat.clone(),
                term: term.clone(),
                place,
            });
        }
    }

    /// Every hit in a message: its subject, its text parts and its attachment names (from
    /// the raw message, at most [`MAX_BODY`] bytes of it).
    pub fn scan_message(&self, subject: &str, raw: &[u8]) -> Vec<Hit> {
        self.scan_message_split(subject, raw, None)
    }

    /// [`Matcher::scan_message`] of a message whose header block the caller has delimited
    /// already (`header_end`'s answer).
    pub fn scan_message_split(
        &self,
        subject: &str,
        raw: &[u8],
        split: Option<(usize, usize, bool)>,
    ) -> Vec<Hit> {
        let mut hits = BTreeSet::new();
        self.find(subject, Place::Subject, &mut hits);
        let (text, names) = body::message_text_split(raw, split);
        self.find(&text, Place::Body, &mut hits);
        for n in names {
            self.find(&n, Place::AttachmentName, &mut hits);
        }
        hits.into_iter().collect()
    }
}

/// The distinct categories of some hits, sorted.
pub fn categories(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|h| h.category.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_parses_into_the_documented_categories() {
        let m = Matcher::new(true, &[]).unwrap();
        let cats: Vec<&str> = m.categories().into_iter().collect();
        assert_eq!(
            cats,
            [
                "children and safeguarding",
                "complaints against police or council",
                "crime and victims",
                "disability",
                "finance and debt",
                "health",
                "immigration and asylum",
                "political opinion",
                "religion",
                "sexual orientation and gender identity",
                "trade union",
            ]
        );
        assert_eq!(m.fingerprint.len(), 16);
    }

    #[test]
    fn ascii_text_is_normalised_as_any_text() {
        // The byte path gives what the character rule gives.
        for t in [
            "",
            " ",
            "HIV/AIDS",
            "  Mental\r\n\tHealth!! ",
            "a1_B2-c3",
            "x",
            "\x00\x7f~Z",
        ] {
            assert_eq!(normalise(t), normalise_chars(t), "{t:?}");
        }
        assert_eq!(normalise("Café Ünïon"), " café ünïon ");
    }

    #[test]
    fn whole_words_case_insensitive_across_lines() {
        let m = Matcher::builtin();
        let mut h = BTreeSet::new();
        m.find(
            "Our MENTAL\r\n  Health peer group; HIV/AIDS",
            Place::Body,
            &mut h,
        );
        let terms: Vec<&str> = h.iter().map(|x| x.term.as_str()).collect();
        assert_eq!(terms, ["aids", "hiv", "mental health"]);
        let mut h = BTreeSet::new();
        // Not inside words: "thiv", "prehistoric", "debtor"? (debt is a word of its own only).
        m.find(
            "Thivierge wrote about prehistory and debtors",
            Place::Body,
            &mut h,
        );
        assert!(h.is_empty(), "{h:?}");
        let mut h = BTreeSet::new();
        m.find("Victims' forum", Place::Subject, &mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h.first().unwrap().category, "crime and victims");
    }

    #[test]
    fn a_terms_file_adds_or_replaces() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("terms.csv");
        std::fs::write(&f, "# ours\nhousing,Homelessness\nhealth, long covid \n").unwrap();
        let only = Matcher::new(false, &[f.as_path()]).unwrap();
        assert_eq!(only.categories().len(), 2);
        let both = Matcher::new(true, &[f.as_path()]).unwrap();
        assert!(both.categories().contains("housing") && both.categories().len() == 12);
        assert_ne!(only.fingerprint, both.fingerprint);
        let hits = both.scan_message("Homelessness and Long-COVID support", b"To: a@b\r\n\r\n");
        assert_eq!(hits.len(), 2, "{hits:?}");
        std::fs::write(&f, "no comma here\n").unwrap();
        let e = Matcher::new(true, &[f.as_path()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(matches!(Matcher::new(false, &[]), Err(TermsError::Empty)));
    }
}
