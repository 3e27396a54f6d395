//! A small Outlook PST writer for tests, the samples and benchmarks (MS-PST, Unicode format,
//! no encryption): a message store, a folder tree under "Top of Outlook data file", and
//! messages with their properties, recipient table and attachment table. Written from the
//! specification so that bccaudit, `readpst` and `pffexport` can each read what it writes.
//! Shared by `tests/` and `examples/` (`#[path]`).
//!
//! Messages are written as they come ([`PstWriter::message`]); only the folders' table rows
//! are kept until [`PstWriter::finish`], so a file of any size can be written in little memory.
#![allow(dead_code)]

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::msg_writer::Msg;

const MAX_DATA: usize = 8176;
const MAX_ALLOC: usize = 3580;
const AMAP_FIRST: u64 = 0x4400;
const AMAP_SPAN: u64 = 496 * 8 * 64;
const PMAP_FIRST: u64 = 0x4600;
const PMAP_SPAN: u64 = AMAP_SPAN * 8;
const FIRST_DATA: u64 = 0x4800;

fn crc(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    data.iter().fold(0u32, |c, &b| {
        table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn sig(ib: u64, bid: u64) -> u16 {
    let v = (ib as u32) ^ (bid as u32);
    ((v >> 16) as u16) ^ (v as u16)
}

fn align(n: u64, a: u64) -> u64 {
    n.div_ceil(a) * a
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn filetime(unix: i64) -> u64 {
    ((unix + 11_644_473_600) * 10_000_000) as u64
}

/// A property value.
#[derive(Clone)]
pub enum V {
    Long(u32),
    Bool(bool),
    Time(i64),
    Str(String),
    Bin(Vec<u8>),
}

impl V {
    fn ty(&self) -> u16 {
        match self {
            V::Long(_) => 0x0003,
            V::Bool(_) => 0x000B,
            V::Time(_) => 0x0040,
            V::Str(_) => 0x001F,
            V::Bin(_) => 0x0102,
        }
    }
}

/// A heap-on-node being built: blocks of allocations.
struct Heap {
    sig: u8,
    blocks: Vec<Vec<Vec<u8>>>,
    root: u32,
    /// Values too large for the heap: (subnode id, bytes).
    big: Vec<(u32, Vec<u8>)>,
}

fn heap_header_len(block: usize) -> usize {
    if block == 0 {
        12
    } else if block >= 8 && (block - 8).is_multiple_of(128) {
        66
    } else {
        2
    }
}

impl Heap {
    fn new(sig: u8) -> Heap {
        Heap {
            sig,
            blocks: vec![Vec::new()],
            root: 0,
            big: Vec::new(),
        }
    }

    fn alloc(&mut self, data: Vec<u8>) -> u32 {
        assert!(data.len() <= MAX_ALLOC);
        let b = self.blocks.len() - 1;
        let used: usize = self.blocks[b].iter().map(Vec::len).sum();
        let n = self.blocks[b].len();
        if heap_header_len(b) + used + data.len() + 1 + 4 + 2 * (n + 2) > MAX_DATA {
            self.blocks.push(Vec::new());
        }
        let b = self.blocks.len() - 1;
        self.blocks[b].push(data);
        ((self.blocks[b].len() as u32) << 5) | ((b as u32) << 16)
    }

    /// A value: in the heap when it fits, else in a subnode of its own.
    fn value(&mut self, bytes: Vec<u8>) -> u32 {
        if bytes.len() <= MAX_ALLOC {
            self.alloc(bytes)
        } else {
            let nid = (((self.big.len() as u32) + 1) << 5) | 0x1F;
            self.big.push((nid, bytes));
            nid
        }
    }

    /// A BTH of sorted records (key + value bytes): the hid of its header.
    fn bth(&mut self, cb_key: u8, cb_ent: u8, recs: Vec<Vec<u8>>) -> u32 {
        let mut level = 0u8;
        let mut root = 0u32;
        if !recs.is_empty() {
            let per = MAX_ALLOC / (cb_key + cb_ent) as usize;
            let mut items: Vec<(Vec<u8>, u32)> = recs
                .chunks(per)
                .map(|c| (c[0][..cb_key as usize].to_vec(), self.alloc(c.concat())))
                .collect();
            while items.len() > 1 {
                level += 1;
                let per = MAX_ALLOC / (cb_key as usize + 4);
                items = items
                    .chunks(per)
                    .map(|c| {
                        let mut b = Vec::new();
                        for (k, h) in c {
                            b.extend_from_slice(k);
                            b.extend_from_slice(&h.to_le_bytes());
                        }
                        (c[0].0.clone(), self.alloc(b))
                    })
                    .collect();
            }
            root = items[0].1;
        }
        let mut h = vec![0xB5, cb_key, cb_ent, level];
        h.extend_from_slice(&root.to_le_bytes());
        self.alloc(h)
    }

    /// The heap's blocks as bytes.
    fn blocks(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (i, allocs) in self.blocks.iter().enumerate() {
            let hl = heap_header_len(i);
            let mut b = vec![0u8; hl];
            let mut offsets = vec![hl as u16];
            for a in allocs {
                b.extend_from_slice(a);
                offsets.push(b.len() as u16);
            }
            if b.len() % 2 == 1 {
                b.push(0);
            }
            let hnpm = b.len() as u16;
            b[0..2].copy_from_slice(&hnpm.to_le_bytes());
            if i == 0 {
                b[2] = 0xEC;
                b[3] = self.sig;
                b[4..8].copy_from_slice(&self.root.to_le_bytes());
            }
            b.extend_from_slice(&(allocs.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            for o in offsets {
                b.extend_from_slice(&o.to_le_bytes());
            }
            out.push(b);
        }
        out
    }
}

/// A property context of these properties.
fn pc(props: &[(u16, V)]) -> Heap {
    let mut h = Heap::new(0xBC);
    let mut props = props.to_vec();
    props.sort_by_key(|p| p.0);
    let mut recs = Vec::new();
    // Empty values are left out (a zero-size allocation would count as a freed one).
    props.retain(|(_, v)| {
        !matches!(v, V::Str(s) if s.is_empty()) && !matches!(v, V::Bin(b) if b.is_empty())
    });
    for (id, v) in props {
        let hnid = match &v {
            V::Long(n) => *n,
            V::Bool(b) => *b as u32,
            V::Time(t) => h.alloc(filetime(*t).to_le_bytes().to_vec()),
            V::Str(s) => h.value(utf16(s)),
            V::Bin(b) => h.value(b.clone()),
        };
        let mut r = id.to_le_bytes().to_vec();
        r.extend_from_slice(&v.ty().to_le_bytes());
        r.extend_from_slice(&hnid.to_le_bytes());
        recs.push(r);
    }
    h.root = h.bth(2, 6, recs);
    h
}

const ROW_ID: u32 = 0x67F2_0003;
const ROW_VER: u32 = 0x67F3_0003;

/// A table context: columns (property tags) and rows (row id, a value per column).
fn tc(cols: &[u32], rows: &[(u32, Vec<Option<V>>)]) -> (Heap, Option<(Vec<u8>, usize)>) {
    let mut h = Heap::new(0x7C);
    let size = |tag: u32| match tag & 0xFFFF {
        0x0040 | 0x0014 => 8,
        0x000B => 1,
        0x0002 => 2,
        _ => 4,
    };
    // Layout: row id, row version, 8-byte, 4-byte, 2-byte, 1-byte columns, existence bitmap.
    let mut all: Vec<u32> = vec![ROW_ID, ROW_VER];
    for want in [8, 4, 2, 1] {
        all.extend(cols.iter().filter(|&&t| size(t) == want));
    }
    let mut desc = Vec::new(); // (tag, ib, cb, ibit)
    let mut ib = 0u16;
    let mut ends = [0u16; 4];
    for (i, &tag) in all.iter().enumerate() {
        let cb = size(tag) as u16;
        desc.push((tag, ib, cb as u8, i as u8));
        ib += cb;
        match cb {
            8 | 4 => ends[0] = ib,
            2 => ends[1] = ib,
            _ => ends[2] = ib,
        }
    }
    ends[1] = ends[1].max(ends[0]);
    ends[2] = ends[2].max(ends[1]);
    ends[3] = ends[2] + all.len().div_ceil(8) as u16;
    let row_size = ends[3] as usize;
    let mut matrix = Vec::with_capacity(rows.len() * row_size);
    let mut index = Vec::new();
    for (n, (id, values)) in rows.iter().enumerate() {
        let mut row = vec![0u8; row_size];
        let put = |i: usize, bytes: &[u8], row: &mut Vec<u8>| {
            let (_, ib, _, bit) = desc[i];
            row[ib as usize..ib as usize + bytes.len()].copy_from_slice(bytes);
            row[ends[2] as usize + bit as usize / 8] |= 0x80 >> (bit % 8);
        };
        put(0, &id.to_le_bytes(), &mut row);
        put(1, &0u32.to_le_bytes(), &mut row);
        for (i, &tag) in all.iter().enumerate().skip(2) {
            let k = cols.iter().position(|&t| t == tag).unwrap();
            let Some(v) = values[k]
                .as_ref()
                .filter(|v| !matches!(v, V::Str(s) if s.is_empty()))
            else {
                continue;
            };
            let bytes = match v {
                V::Long(x) => x.to_le_bytes().to_vec(),
                V::Bool(b) => vec![*b as u8],
                V::Time(t) => filetime(*t).to_le_bytes().to_vec(),
                V::Str(s) => h.value(utf16(s)).to_le_bytes().to_vec(),
                V::Bin(b) => h.value(b.clone()).to_le_bytes().to_vec(),
            };
            put(i, &bytes, &mut row);
        }
        matrix.extend_from_slice(&row);
        let mut r = id.to_le_bytes().to_vec();
        r.extend_from_slice(&(n as u32).to_le_bytes());
        index.push(r);
    }
    index.sort();
    let hid_index = h.bth(4, 4, index);
    let (rows_hnid, rows_sub) = if matrix.is_empty() {
        (0, None)
    } else if matrix.len() <= MAX_ALLOC {
        (h.alloc(matrix), None)
    } else {
        (MATRIX_NID, Some(matrix))
    };
    let mut info = vec![0x7C, all.len() as u8];
    for e in ends {
        info.extend_from_slice(&e.to_le_bytes());
    }
    info.extend_from_slice(&hid_index.to_le_bytes());
    info.extend_from_slice(&rows_hnid.to_le_bytes());
    info.extend_from_slice(&0u32.to_le_bytes());
    desc.sort_by_key(|d| d.0);
    for (tag, ib, cb, bit) in desc {
        info.extend_from_slice(&tag.to_le_bytes());
        info.extend_from_slice(&ib.to_le_bytes());
        info.push(cb);
        info.push(bit);
    }
    h.root = h.alloc(info);
    (h, rows_sub.map(|m| (m, row_size)))
}

/// The subnode holding a large table's row matrix.
const MATRIX_NID: u32 = (0x10000 << 5) | 0x1F;

/// Column tags of the tables bccaudit and the reference readers look at.
const HIERARCHY_COLS: &[u32] = &[0x3001_001F, 0x3602_0003, 0x3603_0003, 0x360A_000B];
const CONTENTS_COLS: &[u32] = &[
    0x001A_001F,
    0x0037_001F,
    0x0039_0040,
    0x0E06_0040,
    0x0E07_0003,
    0x0E08_0003,
    0x0042_001F,
    0x0E04_001F,
];
const RECIPIENT_COLS: &[u32] = &[
    0x0C15_0003,
    0x3001_001F,
    0x3002_001F,
    0x3003_001F,
    0x39FE_001F,
    0x0FFE_0003,
    0x3900_0003,
    0x3000_0003,
];
const ATTACHMENT_COLS: &[u32] = &[0x0E20_0003, 0x3704_001F, 0x3705_0003, 0x370B_0003];

/// A folder being written: its messages' table rows and its children.
struct FolderState {
    nid: u32,
    parent: u32,
    name: String,
    rows: Vec<(u32, Vec<Option<V>>)>,
    children: Vec<usize>,
}

/// Which folder ([`PstWriter::folder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderId(usize);

pub struct PstWriter {
    f: BufWriter<std::fs::File>,
    pos: u64,
    next_bid: u64,
    next_pid: u64,
    bbt: Vec<(u64, u64, u16)>,
    nbt: Vec<(u32, u64, u64, u32)>,
    folders: Vec<FolderState>,
    next_folder: u32,
    next_message: u32,
    uid: [u8; 16],
    store_name: String,
}

/// Raw bytes of an entry id for a node of this store.
fn entry_id(uid: &[u8; 16], nid: u32) -> Vec<u8> {
    let mut e = vec![0u8; 4];
    e.extend_from_slice(uid);
    e.extend_from_slice(&nid.to_le_bytes());
    e
}

impl PstWriter {
    /// Start a PST: the root folder, "Top of Outlook data file" (returned) with "Deleted
    /// Items", and a search root.
    pub fn create(path: &Path, store_name: &str) -> std::io::Result<(PstWriter, FolderId)> {
        let mut f = BufWriter::new(std::fs::File::create(path)?);
        f.write_all(&vec![0u8; FIRST_DATA as usize])?;
        let mut uid = [0u8; 16];
        for (i, b) in uid.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0x5A;
        }
        let mut w = PstWriter {
            f,
            pos: FIRST_DATA,
            next_bid: 4,
            next_pid: 4,
            bbt: Vec::new(),
            nbt: Vec::new(),
            folders: Vec::new(),
            next_folder: 0x400,
            next_message: 0x10000,
            uid,
            store_name: store_name.to_string(),
        };
        w.folders.push(FolderState {
            nid: 0x122,
            parent: 0x122,
            name: String::new(),
            rows: Vec::new(),
            children: Vec::new(),
        });
        let top = w.folder(FolderId(0), "Top of Outlook data file");
        w.folder(top, "Deleted Items");
        w.folder(FolderId(0), "Search Root");
        Ok((w, top))
    }

    /// A folder under `parent`.
    pub fn folder(&mut self, parent: FolderId, name: &str) -> FolderId {
        let nid = (self.next_folder << 5) | 0x02;
        self.next_folder += 1;
        let p = self.folders[parent.0].nid;
        self.folders.push(FolderState {
            nid,
            parent: p,
            name: name.to_string(),
            rows: Vec::new(),
            children: Vec::new(),
        });
        let id = self.folders.len() - 1;
        self.folders[parent.0].children.push(id);
        FolderId(id)
    }

    /// Reserve `size` bytes aligned to `a`, clear of the allocation-map pages: the offset.
    fn alloc(&mut self, size: u64, a: u64) -> std::io::Result<u64> {
        let mut p = align(self.pos, a);
        loop {
            let clash = [(AMAP_FIRST, AMAP_SPAN), (PMAP_FIRST, PMAP_SPAN)]
                .into_iter()
                .filter_map(|(first, span)| {
                    let k = p.saturating_sub(first) / span;
                    [k, k + 1]
                        .into_iter()
                        .map(|k| first + k * span)
                        .find(|&r| r < p + size && p < r + 512)
                })
                .max();
            match clash {
                Some(r) => p = align(r + 512, a),
                None => break,
            }
        }
        let pad = p - self.pos;
        std::io::copy(&mut std::io::repeat(0).take(pad), &mut self.f)?;
        self.pos = p + size;
        Ok(p)
    }

    fn block(&mut self, data: &[u8], internal: bool) -> std::io::Result<u64> {
        let bid = self.next_bid | if internal { 2 } else { 0 };
        self.next_bid += 4;
        let total = align(data.len() as u64 + 16, 64);
        let ib = self.alloc(total, 64)?;
        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(data);
        b.resize(total as usize - 16, 0);
        b.extend_from_slice(&(data.len() as u16).to_le_bytes());
        b.extend_from_slice(&sig(ib, bid).to_le_bytes());
        b.extend_from_slice(&crc(data).to_le_bytes());
        b.extend_from_slice(&bid.to_le_bytes());
        self.f.write_all(&b)?;
        self.bbt.push((bid, ib, data.len() as u16));
        Ok(bid)
    }

    /// Node data made of these pieces (each one block; an XBLOCK tree above several).
    fn data_tree(&mut self, pieces: &[Vec<u8>]) -> std::io::Result<u64> {
        if pieces.len() == 1 {
            return self.block(&pieces[0], false);
        }
        let total: usize = pieces.iter().map(Vec::len).sum();
        let mut bids = Vec::new();
        for p in pieces {
            bids.push((self.block(p, false)?, p.len()));
        }
        let per = (MAX_DATA - 8) / 8;
        let x = |w: &mut Self, level: u8, items: &[(u64, usize)]| {
            let mut b = vec![0x01, level];
            b.extend_from_slice(&(items.len() as u16).to_le_bytes());
            let n: usize = items.iter().map(|i| i.1).sum();
            b.extend_from_slice(&(n as u32).to_le_bytes());
            for (bid, _) in items {
                b.extend_from_slice(&bid.to_le_bytes());
            }
            w.block(&b, true).map(|bid| (bid, n))
        };
        if bids.len() <= per {
            return x(self, 1, &bids).map(|b| b.0);
        }
        let mut xs = Vec::new();
        for c in bids.chunks(per) {
            xs.push(x(self, 1, c)?);
        }
        assert_eq!(xs.iter().map(|i| i.1).sum::<usize>(), total);
        x(self, 2, &xs).map(|b| b.0)
    }

    fn data(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        let pieces: Vec<Vec<u8>> = if bytes.is_empty() {
            vec![Vec::new()]
        } else {
            bytes.chunks(MAX_DATA).map(<[u8]>::to_vec).collect()
        };
        self.data_tree(&pieces)
    }

    /// A subnode tree of these (nid, data bid, subnode bid) entries: its bid (0 if none).
    fn subnodes(&mut self, mut entries: Vec<(u32, u64, u64)>) -> std::io::Result<u64> {
        if entries.is_empty() {
            return Ok(0);
        }
        entries.sort();
        let per = (MAX_DATA - 8) / 24;
        let mut leaves = Vec::new();
        for c in entries.chunks(per) {
            let mut b = vec![0x02, 0x00];
            b.extend_from_slice(&(c.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            for (nid, data, sub) in c {
                b.extend_from_slice(&(*nid as u64).to_le_bytes());
                b.extend_from_slice(&data.to_le_bytes());
                b.extend_from_slice(&sub.to_le_bytes());
            }
            leaves.push((c[0].0, self.block(&b, true)?));
        }
        if leaves.len() == 1 {
            return Ok(leaves[0].1);
        }
        let mut b = vec![0x02, 0x01];
        b.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for (nid, bid) in leaves {
            b.extend_from_slice(&(nid as u64).to_le_bytes());
            b.extend_from_slice(&bid.to_le_bytes());
        }
        self.block(&b, true)
    }

    /// Write a heap (and its large values) as node data: (data bid, subnode bid).
    fn heap(&mut self, h: &Heap, mut extra: Vec<(u32, u64, u64)>) -> std::io::Result<(u64, u64)> {
        let data = self.data_tree(&h.blocks())?;
        for (nid, bytes) in &h.big {
            let bid = self.data(bytes)?;
            extra.push((*nid, bid, 0));
        }
        let sub = self.subnodes(extra)?;
        Ok((data, sub))
    }

    /// A table as a node: (data bid, subnode bid).
    fn table(
        &mut self,
        cols: &[u32],
        rows: &[(u32, Vec<Option<V>>)],
    ) -> std::io::Result<(u64, u64)> {
        let (h, matrix) = tc(cols, rows);
        let mut extra = Vec::new();
        if let Some((m, row_size)) = matrix {
            // Blocks hold whole rows.
            let per = MAX_DATA / row_size * row_size;
            let pieces: Vec<Vec<u8>> = m.chunks(per).map(<[u8]>::to_vec).collect();
            let bid = self.data_tree(&pieces)?;
            extra.push((MATRIX_NID, bid, 0));
        }
        self.heap(&h, extra)
    }

    /// Write one message into `folder`.
    pub fn message(&mut self, folder: FolderId, m: &Msg) -> std::io::Result<()> {
        let nid = (self.next_message << 5) | 0x04;
        self.next_message += 1;
        let to_names = |kind: u32| {
            m.recipients
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let display_to = m.display_to.clone().unwrap_or_else(|| to_names(1));
        let display_cc = m.display_cc.clone().unwrap_or_else(|| to_names(2));
        let size = (m.body.len() + 1024) as u32;
        let mut props = vec![
            (0x001A, V::Str(m.class.to_string())),
            (0x0037, V::Str(m.subject.clone())),
            (0x0E07, V::Long(1)),
            (0x0E08, V::Long(size)),
            (0x0E04, V::Str(display_to.clone())),
            (0x0E03, V::Str(display_cc)),
            (0x0E02, V::Str(to_names(3))),
            (0x1000, V::Str(m.body.clone())),
            (0x0C1A, V::Str(m.sender_name.clone())),
            (0x0C1F, V::Str(m.sender_smtp.clone())),
            (0x0C1E, V::Str("SMTP".into())),
            (0x5D01, V::Str(m.sender_smtp.clone())),
            (0x0042, V::Str(m.sender_name.clone())),
            (0x0065, V::Str(m.sender_smtp.clone())),
            (0x0064, V::Str("SMTP".into())),
            (0x300B, V::Bin(nid.to_le_bytes().repeat(4))),
        ];
        if let Some(t) = m.sent {
            props.extend([
                (0x0039, V::Time(t)),
                (0x0E06, V::Time(t)),
                (0x3007, V::Time(t)),
                (0x3008, V::Time(t)),
            ]);
        }
        if let Some(id) = &m.message_id {
            props.push((0x1035, V::Str(id.clone())));
        }
        if let Some(id) = &m.in_reply_to {
            props.push((0x1042, V::Str(id.clone())));
        }
        let h = pc(&props);
        let mut subs = Vec::new();
        if !m.no_recipient_table {
            let rows: Vec<(u32, Vec<Option<V>>)> = m
                .recipients
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let list = r.object_type == 8;
                    (
                        i as u32,
                        vec![
                            Some(V::Long(r.kind)),
                            Some(V::Str(r.name.clone())),
                            Some(V::Str(r.addrtype.to_string())),
                            Some(V::Str(r.email.clone())),
                            r.smtp.clone().map(V::Str),
                            Some(V::Long(r.object_type)),
                            Some(V::Long(if list { 1 } else { 0 })),
                            Some(V::Long(i as u32)),
                        ],
                    )
                })
                .collect();
            let (d, s) = self.table(RECIPIENT_COLS, &rows)?;
            subs.push((0x692, d, s));
        }
        if !m.attachments.is_empty() || m.no_recipient_table {
            let mut rows = Vec::new();
            for (i, name) in m.attachments.iter().enumerate() {
                let anid = ((i as u32 + 1) << 5) | 0x05;
                let content = format!("attachment {i}").into_bytes();
                let ah = pc(&[
                    (0x3704, V::Str(name.clone())),
                    (0x3707, V::Str(name.clone())),
                    (0x3705, V::Long(1)),
                    (0x0E20, V::Long(content.len() as u32)),
                    (0x370B, V::Long(u32::MAX)),
                    (0x3701, V::Bin(content.clone())),
                    (0x0FFE, V::Long(7)),
                ]);
                let (d, s) = self.heap(&ah, Vec::new())?;
                subs.push((anid, d, s));
                rows.push((
                    anid,
                    vec![
                        Some(V::Long(content.len() as u32)),
                        Some(V::Str(name.clone())),
                        Some(V::Long(1)),
                        Some(V::Long(u32::MAX)),
                    ],
                ));
            }
            let (d, s) = self.table(ATTACHMENT_COLS, &rows)?;
            subs.push((0x671, d, s));
        }
        let (data, sub) = self.heap(&h, subs)?;
        let parent = self.folders[folder.0].nid;
        self.nbt.push((nid, data, sub, parent));
        self.folders[folder.0].rows.push((
            nid,
            vec![
                Some(V::Str(m.class.to_string())),
                Some(V::Str(m.subject.clone())),
                m.sent.map(V::Time),
                m.sent.map(V::Time),
                Some(V::Long(1)),
                Some(V::Long(size)),
                Some(V::Str(m.sender_name.clone())),
                Some(V::Str(display_to)),
            ],
        ));
        Ok(())
    }

    /// Write a BTree (leaf entries sorted by key): its (bid, ib).
    fn btree(
        &mut self,
        ptype: u8,
        leaf_cb: u8,
        leaf_max: usize,
        entries: Vec<(u64, Vec<u8>)>,
    ) -> std::io::Result<(u64, u64)> {
        let mut level = 0u8;
        let mut items = Vec::new();
        let chunks: Vec<&[(u64, Vec<u8>)]> = if entries.is_empty() {
            vec![&[]]
        } else {
            entries.chunks(leaf_max).collect()
        };
        for c in chunks {
            let bytes: Vec<u8> = c.iter().flat_map(|e| e.1.clone()).collect();
            let r = self.page(ptype, &bytes, c.len(), leaf_max, leaf_cb, 0)?;
            items.push((c.first().map_or(0, |e| e.0), r));
        }
        while items.len() > 1 {
            level += 1;
            let mut next = Vec::new();
            for c in items.chunks(20) {
                let mut bytes = Vec::new();
                for (key, (bid, ib)) in c {
                    bytes.extend_from_slice(&key.to_le_bytes());
                    bytes.extend_from_slice(&bid.to_le_bytes());
                    bytes.extend_from_slice(&ib.to_le_bytes());
                }
                let r = self.page(ptype, &bytes, c.len(), 20, 24, level)?;
                next.push((c[0].0, r));
            }
            items = next;
        }
        Ok(items[0].1)
    }

    fn page(
        &mut self,
        ptype: u8,
        entries: &[u8],
        n: usize,
        max: usize,
        cb: u8,
        level: u8,
    ) -> std::io::Result<(u64, u64)> {
        let bid = self.next_pid;
        self.next_pid += 4;
        let ib = self.alloc(512, 512)?;
        let mut p = vec![0u8; 512];
        p[..entries.len()].copy_from_slice(entries);
        p[488] = n as u8;
        p[489] = max as u8;
        p[490] = cb;
        p[491] = level;
        p[496] = ptype;
        p[497] = ptype;
        p[498..500].copy_from_slice(&sig(ib, bid).to_le_bytes());
        let c = crc(&p[..496]);
        p[500..504].copy_from_slice(&c.to_le_bytes());
        p[504..512].copy_from_slice(&bid.to_le_bytes());
        self.f.write_all(&p)?;
        Ok((bid, ib))
    }

    /// Write the folders, the store, the B-trees, the allocation maps and the header.
    pub fn finish(mut self) -> std::io::Result<()> {
        let uid = self.uid;
        // Store, name-to-id map.
        let ipm = self.folders[1].nid;
        let deleted = self.folders[2].nid;
        let finder = self.folders[3].nid;
        let store = pc(&[
            (0x0FF9, V::Bin(uid.to_vec())),
            (0x3001, V::Str(self.store_name.clone())),
            (0x35E0, V::Bin(entry_id(&uid, ipm))),
            (0x35E3, V::Bin(entry_id(&uid, deleted))),
            (0x35E7, V::Bin(entry_id(&uid, finder))),
            (0x35DF, V::Long(0x89)),
            (0x6633, V::Bool(true)),
        ]);
        let (d, s) = self.heap(&store, Vec::new())?;
        self.nbt.push((0x21, d, s, 0));
        let names = pc(&[
            (0x0001, V::Long(251)),
            // One named property (0x8000): a numeric one in a GUID of its own.
            (
                0x0002,
                V::Bin((0u8..16).map(|i| i.wrapping_mul(17) ^ 0xA5).collect()),
            ),
            (
                0x0003,
                V::Bin([0x8501u32.to_le_bytes(), [3 << 1, 0, 0, 0]].concat()),
            ),
            (0x0004, V::Bin(vec![0; 4])),
        ]);
        let (d, s) = self.heap(&names, Vec::new())?;
        self.nbt.push((0x61, d, s, 0));
        // Folders and their tables.
        let folders = std::mem::take(&mut self.folders);
        for f in &folders {
            let props = [
                (0x3001, V::Str(f.name.clone())),
                (0x3602, V::Long(f.rows.len() as u32)),
                (0x3603, V::Long(0)),
                (0x360A, V::Bool(!f.children.is_empty())),
                (0x3613, V::Str("IPF.Note".into())),
            ];
            let (d, s) = self.heap(&pc(&props), Vec::new())?;
            self.nbt.push((f.nid, d, s, f.parent));
            let rows: Vec<(u32, Vec<Option<V>>)> = f
                .children
                .iter()
                .map(|&c| {
                    let c = &folders[c];
                    (
                        c.nid,
                        vec![
                            Some(V::Str(c.name.clone())),
                            Some(V::Long(c.rows.len() as u32)),
                            Some(V::Long(0)),
                            Some(V::Bool(!c.children.is_empty())),
                        ],
                    )
                })
                .collect();
            let base = f.nid & !0x1F;
            let (d, s) = self.table(HIERARCHY_COLS, &rows)?;
            self.nbt.push((base | 0x0D, d, s, 0));
            let (d, s) = self.table(CONTENTS_COLS, &f.rows)?;
            self.nbt.push((base | 0x0E, d, s, 0));
            let (d, s) = self.table(&CONTENTS_COLS[..2], &[])?;
            self.nbt.push((base | 0x0F, d, s, 0));
        }
        // B-trees.
        let mut nbt = std::mem::take(&mut self.nbt);
        nbt.sort();
        let nbt: Vec<(u64, Vec<u8>)> = nbt
            .into_iter()
            .map(|(nid, d, s, p)| {
                let mut e = (nid as u64).to_le_bytes().to_vec();
                e.extend_from_slice(&d.to_le_bytes());
                e.extend_from_slice(&s.to_le_bytes());
                e.extend_from_slice(&p.to_le_bytes());
                e.extend_from_slice(&0u32.to_le_bytes());
                (nid as u64, e)
            })
            .collect();
        let nbt_root = self.btree(0x81, 32, 15, nbt)?;
        let mut bbt = std::mem::take(&mut self.bbt);
        bbt.sort();
        let bbt: Vec<(u64, Vec<u8>)> = bbt
            .into_iter()
            .map(|(bid, ib, cb)| {
                let mut e = bid.to_le_bytes().to_vec();
                e.extend_from_slice(&ib.to_le_bytes());
                e.extend_from_slice(&cb.to_le_bytes());
                e.extend_from_slice(&2u16.to_le_bytes());
                e.extend_from_slice(&0u32.to_le_bytes());
                (bid, e)
            })
            .collect();
        let bbt_root = self.btree(0x80, 24, 20, bbt)?;
        let eof = align(self.pos, 512);
        let pad = eof - self.pos;
        std::io::copy(&mut std::io::repeat(0).take(pad), &mut self.f)?;
        // Allocation maps: everything below the end of file is in use.
        let mut last_amap = AMAP_FIRST;
        let mut k = 0;
        while AMAP_FIRST + k * AMAP_SPAN < eof {
            let a = AMAP_FIRST + k * AMAP_SPAN;
            let mut p = vec![0u8; 512];
            let used = ((eof - a).min(AMAP_SPAN) / 64) as usize;
            for slot in 0..used {
                p[slot / 8] |= 0x80 >> (slot % 8);
            }
            p[496] = 0x84;
            p[497] = 0x84;
            let c = crc(&p[..496]);
            p[500..504].copy_from_slice(&c.to_le_bytes());
            p[504..512].copy_from_slice(&a.to_le_bytes());
            self.f.seek(SeekFrom::Start(a))?;
            self.f.write_all(&p)?;
            last_amap = a;
            k += 1;
        }
        let mut k = 0;
        while PMAP_FIRST + k * PMAP_SPAN < eof {
            let a = PMAP_FIRST + k * PMAP_SPAN;
            let mut p = vec![0xFFu8; 512];
            p[496..512].fill(0);
            p[496] = 0x83;
            p[497] = 0x83;
            let c = crc(&p[..496]);
            p[500..504].copy_from_slice(&c.to_le_bytes());
            p[504..512].copy_from_slice(&a.to_le_bytes());
            self.f.seek(SeekFrom::Start(a))?;
            self.f.write_all(&p)?;
            k += 1;
        }
        // Header.
        let mut h = vec![0u8; 564];
        h[0..4].copy_from_slice(b"!BDN");
        h[8..10].copy_from_slice(b"SM");
        h[10..12].copy_from_slice(&23u16.to_le_bytes());
        h[12..14].copy_from_slice(&19u16.to_le_bytes());
        h[14] = 1;
        h[15] = 1;
        h[32..40].copy_from_slice(&self.next_pid.to_le_bytes());
        h[40..44].copy_from_slice(&1u32.to_le_bytes());
        for (i, n) in h[44..172].chunks_exact_mut(4).enumerate() {
            let next: u32 = match i {
                0x02 | 0x0D | 0x0E | 0x0F => self.next_folder,
                0x04 => self.next_message,
                _ => 0x400,
            };
            n.copy_from_slice(&next.to_le_bytes());
        }
        let root = 180;
        h[root + 4..root + 12].copy_from_slice(&eof.to_le_bytes());
        h[root + 12..root + 20].copy_from_slice(&last_amap.to_le_bytes());
        h[root + 36..root + 44].copy_from_slice(&nbt_root.0.to_le_bytes());
        h[root + 44..root + 52].copy_from_slice(&nbt_root.1.to_le_bytes());
        h[root + 52..root + 60].copy_from_slice(&bbt_root.0.to_le_bytes());
        h[root + 60..root + 68].copy_from_slice(&bbt_root.1.to_le_bytes());
        h[root + 68] = 0x02;
        h[256..512].fill(0xFF);
        h[512] = 0x80;
        h[513] = 0x00;
        h[516..524].copy_from_slice(&self.next_bid.to_le_bytes());
        let partial = crc(&h[8..8 + 471]);
        h[4..8].copy_from_slice(&partial.to_le_bytes());
        let full = crc(&h[8..8 + 516]);
        h[524..528].copy_from_slice(&full.to_le_bytes());
        self.f.seek(SeekFrom::Start(0))?;
        self.f.write_all(&h)?;
        self.f.flush()
    }
}
