//! Long source lines, shortened for display. A diagnostic whose span sits
//! near a line longer than [`MAX_LINE`] bytes is rendered from an excerpt:
//! the span's lines and one line of context each side, every line cut to a
//! window around the span with `…` where text was left out. The excerpt
//! reports the original line and column numbers, so `[file:line:col]` and
//! the gutter stay true.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Lines longer than this (bytes) are cut.
pub const MAX_LINE: usize = 160;
/// Bytes kept each side of the span on a cut line.
const MARGIN: usize = 60;
/// Most bytes of a span underlined; a longer span is underlined from its
/// start (the message still describes all of it).
const MAX_SPAN: usize = 120;
/// Most lines of a span shown.
const MAX_SPAN_LINES: usize = 8;
const ELLIPSIS: &str = "…";

/// An excerpt of a source file that renders with the file's own line and
/// column numbers.
#[derive(Debug, Clone)]
pub struct Excerpt {
    name: String,
    text: String,
    /// The file's 0-based line number of the excerpt's first line.
    first_line: usize,
    /// Per excerpt line: what to add to a byte column in the excerpt to get
    /// the byte column in the file.
    shifts: Vec<usize>,
}

/// The excerpt of `text` to show for the span `[start, end)`, and the span
/// within it; `None` when every line near the span is short enough to show
/// whole.
pub fn excerpt(name: &str, text: &str, start: usize, end: usize) -> Option<(Excerpt, SourceSpan)> {
    let start = floor_boundary(text, start.min(text.len()));
    let end = floor_boundary(text, end.clamp(start, text.len()));
    let lines = line_ranges(text);
    let line_of = |pos: usize| lines.partition_point(|&(s, _)| s <= pos).saturating_sub(1);
    let first = line_of(start);
    // The span, cut to MAX_SPAN bytes and MAX_SPAN_LINES lines.
    let mut end = floor_boundary(text, end.min(start + MAX_SPAN));
    let last_allowed = (first + MAX_SPAN_LINES - 1).min(lines.len() - 1);
    if line_of(end.saturating_sub(1).max(start)) > last_allowed {
        end = lines[last_allowed].1;
    }
    let last = line_of(end.saturating_sub(1).max(start));
    let from = first.saturating_sub(1);
    let to = (last + 1).min(lines.len() - 1);
    if lines[from..=to].iter().all(|&(s, e)| e - s <= MAX_LINE) {
        return None;
    }
    let mut out = Excerpt {
        name: name.to_string(),
        text: String::new(),
        first_line: from,
        shifts: Vec::new(),
    };
    let (mut span_start, mut span_end) = (0, 0);
    for (i, &(ls, le)) in lines.iter().enumerate().take(to + 1).skip(from) {
        let (ws, we) = if le - ls <= MAX_LINE {
            (ls, le)
        } else if i < first || i > last {
            (ls, ceil_boundary(text, ls + MAX_LINE))
        } else {
            let ws = if i == first {
                start.saturating_sub(MARGIN).max(ls)
            } else {
                ls
            };
            let we = if i == last {
                (end + MARGIN).min(le)
            } else {
                (ls + MAX_LINE).min(le)
            };
            (floor_boundary(text, ws), ceil_boundary(text, we))
        };
        let prefix = if ws > ls { ELLIPSIS } else { "" };
        let base = out.text.len() + prefix.len();
        out.shifts.push(ws - ls - prefix.len().min(ws - ls));
        out.text.push_str(prefix);
        out.text.push_str(&text[ws..we]);
        if we < le {
            out.text.push_str(ELLIPSIS);
        }
        if i == first {
            span_start = base + (start - ws);
        }
        if i == last {
            span_end = base + (end.max(ws) - ws);
        }
        if i < to {
            out.text.push('\n');
        }
    }
    let span = SourceSpan::new(span_start.into(), span_end.saturating_sub(span_start));
    Some((out, span))
}

/// Each line's byte range, newline excluded.
fn line_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            let e = if i > s && text.as_bytes()[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            out.push((s, e));
            s = i + 1;
        }
    }
    out.push((s, text.len()));
    out
}

/// The largest char boundary of `s` at or before `i` (at most its length).
pub fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or after `i` (at most its length).
pub fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let c = self.text.as_str().read_span(span, before, after)?;
        let line = c.line();
        let column = c.column() + self.shifts.get(line).copied().unwrap_or(0);
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            c.data(),
            *c.span(),
            line + self.first_line,
            column,
            c.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_shown_whole() {
        assert!(excerpt("f", "x = 1;\ny = 2;\n", 7, 8).is_none());
    }

    #[test]
    fn a_long_line_is_cut_around_the_span_with_its_position_kept() {
        let long = format!("x = [{}];", "1, ".repeat(10_000));
        let text = format!("a = 1;\n{long}\nb = 2;\n");
        let at = 7 + long.len() / 2;
        let (ex, span) = excerpt("f.rasp", &text, at, at + 2).expect("cut");
        assert!(ex.text.len() < 3 * MAX_LINE, "{}", ex.text);
        assert!(ex.text.starts_with("a = 1;\n…"));
        assert!(ex.text.ends_with("…\nb = 2;"));
        assert_eq!(
            &ex.text[span.offset()..span.offset() + span.len()],
            &text[at..at + 2]
        );
        let c = ex.read_span(&span, 0, 0).expect("read");
        assert_eq!(c.line(), 1);
        assert_eq!(c.column(), at - 7);
        assert_eq!(c.name(), Some("f.rasp"));
        // With context, the first line is the file's line 0.
        let c = ex.read_span(&span, 1, 1).expect("read");
        assert_eq!(c.line(), 0);
    }

    #[test]
    fn a_huge_span_is_underlined_from_its_start() {
        let text = format!("y = {};\n", "a + ".repeat(50_000));
        let (ex, span) = excerpt("f", &text, 4, text.len() - 2).expect("cut");
        assert!(span.len() <= MAX_SPAN);
        assert!(ex.text.len() <= MAX_SPAN + MARGIN + 8);
        let multi = "z = (\n".to_string() + &"  1 +\n".repeat(1000) + &"w".repeat(500) + ")\n";
        // Only the span's first lines are shown: the long line far below
        // is never reached.
        assert!(excerpt("f", &multi, 4, multi.len()).is_none());
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let text = format!("s = \"{}\";", "é".repeat(1000));
        let (ex, span) = excerpt("f", &text, 500, 502).expect("cut");
        assert!(ex.text.is_char_boundary(span.offset()));
        let _ = ex.read_span(&span, 1, 1).expect("read");
    }
}
