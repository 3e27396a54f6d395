//! JSON laid out for people and for line tools at once: the document indented as
//! `serde_json`'s pretty printer does, except that each element of an array held directly by
//! the top-level object is written on one line of its own, without spaces. Forty thousand
//! incidents are forty thousand lines (`grep INC-00042` gives one whole incident) instead of a
//! million, and the file is less than half the size. Any JSON reader sees the same document.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io::{self, Write};

/// Elements rendered at once by [`par_seq`] (a few hundred KB).
const ELEMENTS_PER_BLOCK: usize = 1024;

/// The sequence `make(0), …, make(n - 1)` serialized with `ser`: a block of elements made and
/// rendered compact on the pool, then written in order as they were rendered. The bytes are
/// those of serializing each element in turn (serde_json writes a raw value where the element
/// would have gone, and a compact element is what a row or a compact document holds), without
/// one thread doing forty thousand of them. For serde_json's serializers only: any other would
/// see each element as serde_json's raw-value wrapper.
pub fn par_seq<S, T, F>(ser: S, n: usize, make: F) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: Serialize,
    F: Fn(usize) -> T + Sync,
{
    use rayon::prelude::*;
    use serde::ser::SerializeSeq;
    let mut seq = ser.serialize_seq(Some(n))?;
    for start in (0..n).step_by(ELEMENTS_PER_BLOCK) {
        let rendered: Vec<Box<serde_json::value::RawValue>> = (start
            ..n.min(start + ELEMENTS_PER_BLOCK))
            .into_par_iter()
            .map(|k| serde_json::value::to_raw_value(&make(k)))
            .collect::<Result<_, _>>()
            .map_err(serde::ser::Error::custom)?;
        for r in &rendered {
            seq.serialize_element(r)?;
        }
    }
    seq.end()
}

/// Serialize `value` into `w` in this layout.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> serde_json::Result<()> {
    let f = Rows {
        pretty: PrettyFormatter::new(),
        open: Vec::new(),
        row: None,
    };
    value.serialize(&mut serde_json::Serializer::with_formatter(w, f))
}

struct Rows {
    pretty: PrettyFormatter<'static>,
    /// The containers open, outermost first: `true` for an array.
    open: Vec<bool>,
    /// How many containers were open when the current one-line row began.
    row: Option<usize>,
}

impl Rows {
    /// Whether the container about to open starts a row (or sits inside one).
    fn opening(&mut self, array: bool) -> bool {
        if self.row.is_none() && self.open == [false, true] {
            self.row = Some(self.open.len());
        }
        self.open.push(array);
        self.row.is_some()
    }

    /// Whether the container just closed ends a row (or sat inside one).
    fn closing(&mut self) -> bool {
        self.open.pop();
        let inside = self.row.is_some();
        if self.row == Some(self.open.len()) {
            self.row = None;
        }
        inside
    }

    fn compact(&self) -> bool {
        self.row.is_some()
    }
}

/// Each call goes to the compact formatter inside a row, to the pretty one elsewhere (which
/// never sees a row's insides, so its indentation stays right).
macro_rules! either {
    ($self:ident, $inside:expr, $method:ident ($($arg:expr),*)) => {
        if $inside {
            CompactFormatter.$method($($arg),*)
        } else {
            $self.pretty.$method($($arg),*)
        }
    };
}

impl Formatter for Rows {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let inside = self.opening(true);
        either!(self, inside, begin_array(w))
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let inside = self.closing();
        either!(self, inside, end_array(w))
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        either!(self, self.compact(), begin_array_value(w, first))
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, self.compact(), end_array_value(w))
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let inside = self.opening(false);
        either!(self, inside, begin_object(w))
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let inside = self.closing();
        either!(self, inside, end_object(w))
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        either!(self, self.compact(), begin_object_key(w, first))
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, self.compact(), begin_object_value(w))
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        either!(self, self.compact(), end_object_value(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_arrays_hold_one_element_a_line() {
        let v = serde_json::json!({
            "total": {"when": {"first": 1}, "list": [1, 2]},
            "incidents": [{"id": "A", "when": {"first": 1}, "c": []}, {"id": "B", "c": [1, {"x": 2}]}],
            "none": [],
            "tail": {"inputs": [{"k": 1}]}
        });
        let mut out = Vec::new();
        to_writer(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\n  \"incidents\": [\n    {\"c\":[],\"id\":\"A\",\"when\":{\"first\":1}},\n    \
             {\"c\":[1,{\"x\":2}],\"id\":\"B\"}\n  ],\n  \"none\": [],\n  \"tail\": {\n    \
             \"inputs\": [\n      {\n        \"k\": 1\n      }\n    ]\n  },\n  \"total\": {\n    \
             \"list\": [\n      1,\n      2\n    ],\n    \"when\": {\n      \"first\": 1\n    }\n  }\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    /// Elements serialized one by one, or rendered in parallel blocks by [`par_seq`].
    struct Seq(usize, bool);

    impl Serialize for Seq {
        fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
            let make = |k: usize| serde_json::json!({"id": format!("INC-{k:05}"), "n": k, "t": ["<a>", "é\n"], "w": {"x": null}});
            if self.1 {
                return par_seq(ser, self.0, make);
            }
            use serde::ser::SerializeSeq;
            let mut seq = ser.serialize_seq(Some(self.0))?;
            for k in 0..self.0 {
                seq.serialize_element(&make(k))?;
            }
            seq.end()
        }
    }

    #[test]
    fn sequences_rendered_in_parallel_blocks_are_the_same_bytes() {
        for n in [0, 1, ELEMENTS_PER_BLOCK, 2 * ELEMENTS_PER_BLOCK + 3] {
            #[derive(Serialize)]
            struct Doc {
                a: u8,
                list: Seq,
                z: [u8; 1],
            }
            let doc = |par| Doc {
                a: 1,
                list: Seq(n, par),
                z: [1],
            };
            let (mut rows, mut rows_par) = (Vec::new(), Vec::new());
            to_writer(&mut rows, &doc(false)).unwrap();
            to_writer(&mut rows_par, &doc(true)).unwrap();
            assert_eq!(rows, rows_par, "{n}");
            let compact = |par| serde_json::to_string(&Seq(n, par)).unwrap();
            assert_eq!(compact(false), compact(true), "{n}");
        }
    }
}
