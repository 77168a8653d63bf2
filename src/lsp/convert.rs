//! Positions and addresses as the protocol has them: lines and UTF-16
//! code units (the protocol's default encoding), and `file:` URIs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lsp_types::{Position, Range, Uri};

/// Byte offsets of a text's line starts, to convert between byte offsets
/// and (line, UTF-16 column) positions. Lines end at `\n`, `\r\n` or a
/// lone `\r`, as the protocol counts them.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
            if b == b'\n' || lone_cr {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// The position of a byte offset (clamped to the text).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = crate::diag::floor_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let col: usize = text[self.starts[line]..offset]
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(line as u32, col as u32)
    }

    /// The byte offset of a position (a column past the line's end is its
    /// end; a line past the text's end is the text's end).
    pub fn offset(&self, text: &str, p: Position) -> usize {
        let Some(&start) = self.starts.get(p.line as usize) else {
            return text.len();
        };
        let end = self
            .starts
            .get(p.line as usize + 1)
            .map_or(text.len(), |&s| {
                // Before the line's end: `\r\n`, `\n` or `\r`.
                let t = &text[start..s];
                s - (t.len() - t.trim_end_matches(['\n', '\r']).len())
            });
        let mut units = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            if units >= p.character {
                return start + i;
            }
            units += ch.len_utf16() as u32;
        }
        end
    }

    /// The range of a byte range.
    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }
}

/// The path of a `file:` URI.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let s = uri.as_str();
    let rest = s.strip_prefix("file://")?;
    // `file:///home/x` (empty host) or `file://localhost/home/x`.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The `file:` URI of a path (made absolute).
pub fn path_to_uri(path: &Path) -> Option<Uri> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut s = String::from("file://");
    for b in abs.to_str()?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    Uri::from_str(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_round_trip() {
        let text = "ab\n§x = \"😀\";\nlast";
        let idx = LineIndex::new(text);
        // `x` is after `§` (2 bytes, 1 UTF-16 unit).
        let x = text.find('x').expect("x");
        assert_eq!(idx.position(text, x), Position::new(1, 1));
        assert_eq!(idx.offset(text, Position::new(1, 1)), x);
        // After the emoji (4 bytes, 2 UTF-16 units).
        let q = text.rfind('"').expect("quote");
        assert_eq!(idx.position(text, q), Position::new(1, 8));
        assert_eq!(idx.offset(text, Position::new(1, 8)), q);
        // Past a line's end, past the text's end.
        assert_eq!(idx.offset(text, Position::new(0, 99)), 2);
        assert_eq!(idx.offset(text, Position::new(9, 0)), text.len());
        assert_eq!(idx.position(text, text.len()), Position::new(2, 4));
        // Lone `\r` and `\r\n` end lines too.
        let text = "x=1;\ry=2;\r\nz";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 5), Position::new(1, 0));
        assert_eq!(idx.offset(text, Position::new(1, 99)), 9);
        assert_eq!(idx.position(text, text.len()), Position::new(2, 1));
    }

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/a dir/prog é.rasp");
        let uri = path_to_uri(p).expect("a uri");
        assert_eq!(uri.as_str(), "file:///tmp/a%20dir/prog%20%C3%A9.rasp");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(p));
        let u = Uri::from_str("untitled:Untitled-1").expect("uri");
        assert_eq!(uri_to_path(&u), None);
    }
}
