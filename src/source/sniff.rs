//! What a file is, from its first bytes (magic numbers), so that a file bccaudit cannot read is
//! named for what it is instead of silently yielding "0 messages".

use crate::parse::header;

/// Bytes needed to recognise every kind below (a tar header's `ustar` is at 257).
pub const SNIFF_BYTES: usize = 512;

const BOM: &[u8] = b"\xef\xbb\xbf";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Starts with an mbox `From ` separator.
    Mbox,
    /// Starts with a header line: one message (`.eml`, Maildir entry).
    Message,
    Empty,
    /// `!BDN`: Outlook PST or OST.
    Pst,
    /// D0 CF 11 E0: a compound file (Outlook `.msg`, or an old Office document).
    Cfb,
    Gzip,
    Zip,
    Tar,
    Bzip2,
    Xz,
    SevenZip,
    Pdf,
    Png,
    /// Anything else.
    Other,
}

impl FileKind {
    /// Short label for counts: "2 PST, 1 zip".
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Mbox => "mbox",
            FileKind::Message => "message",
            FileKind::Empty => "empty",
            FileKind::Pst => "PST",
            FileKind::Cfb => "MSG/OLE",
            FileKind::Gzip => "gzip",
            FileKind::Zip => "zip",
            FileKind::Tar => "tar",
            FileKind::Bzip2 => "bzip2",
            FileKind::Xz => "xz",
            FileKind::SevenZip => "7z",
            FileKind::Pdf => "PDF",
            FileKind::Png => "PNG",
            FileKind::Other => "other",
        }
    }

    /// What the file looks like, for an error message.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Mbox => "an mbox",
            FileKind::Message => "a message file",
            FileKind::Empty => "an empty file (0 bytes)",
            FileKind::Pst => "an Outlook PST/OST file",
            FileKind::Cfb => "an Outlook .msg or other OLE compound file",
            FileKind::Gzip => "a gzip file",
            FileKind::Zip => "a zip archive",
            FileKind::Tar => "a tar archive",
            FileKind::Bzip2 => "a bzip2 file (unpack it first)",
            FileKind::Xz => "an xz file (unpack it first)",
            FileKind::SevenZip => "a 7z archive (unpack it first)",
            FileKind::Pdf => "a PDF document",
            FileKind::Png => "a PNG image",
            FileKind::Other => {
                "neither an mbox nor a message (no `From ` line or header at its start)"
            }
        }
    }

    pub fn is_mail(self) -> bool {
        matches!(self, FileKind::Mbox | FileKind::Message)
    }
}

/// Recognise a file from its first bytes (at least [`SNIFF_BYTES`] when the file is that long).
pub fn sniff(head: &[u8]) -> FileKind {
    if head.is_empty() {
        return FileKind::Empty;
    }
    let magic: &[(&[u8], FileKind)] = &[
        (b"!BDN", FileKind::Pst),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileKind::Cfb),
        (b"\x1f\x8b", FileKind::Gzip),
        (b"PK\x03\x04", FileKind::Zip),
        (b"PK\x05\x06", FileKind::Zip),
        (b"PK\x07\x08", FileKind::Zip),
        (b"BZh", FileKind::Bzip2),
        (b"\xfd7zXZ\x00", FileKind::Xz),
        (b"7z\xbc\xaf\x27\x1c", FileKind::SevenZip),
        (b"%PDF-", FileKind::Pdf),
        (b"\x89PNG\r\n\x1a\n", FileKind::Png),
    ];
    if let Some((_, k)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return *k;
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return FileKind::Tar;
    }
    let text = head.strip_prefix(BOM).unwrap_or(head);
    if text.starts_with(b"From ") {
        FileKind::Mbox
    } else if header::starts_with_header_line(text) {
        FileKind::Message
    } else {
        FileKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"!BDN\x00\x00"), FileKind::Pst);
        assert_eq!(
            sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00"),
            FileKind::Cfb
        );
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), FileKind::Gzip);
        assert_eq!(sniff(b"PK\x03\x04rest"), FileKind::Zip);
        assert_eq!(sniff(b"%PDF-1.7\n"), FileKind::Pdf);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), FileKind::Png);
        assert_eq!(sniff(b""), FileKind::Empty);
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), FileKind::Tar);
        assert_eq!(sniff(b"\xef\xbb\xbfTo: a@x.test\n\n"), FileKind::Message);
        assert_eq!(
            sniff(b"From a@x Mon Jan  1 00:00:00 2024\n"),
            FileKind::Mbox
        );
        assert_eq!(sniff(b"just some text\n"), FileKind::Other);
    }
}
