//! Text measured without a font at hand: estimated widths, word wrap, and
//! what each box shows with its size.

use super::{
    MIN_BOX_W, OP_CHARS, OP_LINE, OP_MAX_LINES, OP_SIZE, PAD_X, PAD_Y, TITLE_CHARS, TITLE_LINE,
    TITLE_MAX_LINES, TITLE_SIZE, VALUE_CHARS, VALUE_LINE, VALUE_MAX_LINES, VALUE_SIZE,
};
use crate::repl::draw::{FlowNode, NodeValue, visible};

/// Estimated advance of a character, in ems (a little generous, so text
/// fits whichever of the listed fonts the viewer has).
fn char_em(c: char, mono: bool) -> f64 {
    if mono {
        return if c.is_ascii() { 0.61 } else { 0.9 };
    }
    match c {
        'i' | 'j' | 'l' | '.' | ',' | '\'' | '|' | '!' | ':' | ';' => 0.31,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '{' | '}' | ' ' | '"' | '-' | 'I' => 0.4,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.92,
        'A'..='Z' => 0.72,
        '_' | '=' | '<' | '>' | '+' | '~' | '^' | '*' => 0.62,
        c if c.is_ascii() => 0.6,
        _ => 1.0,
    }
}

/// Estimated width of a line of text in pixels.
pub(super) fn text_width(s: &str, size: f64, mono: bool, bold: bool) -> f64 {
    let em: f64 = s.chars().map(|c| char_em(c, mono)).sum();
    em * size * if bold { 1.08 } else { 1.0 }
}

/// Word wrap at `max` characters (long words are split), balanced so the
/// last line is not a stub; at most `max_lines` lines (the last ends in `…`
/// when text was cut).
fn wrap(text: &str, max: usize, max_lines: usize) -> Vec<String> {
    let text = visible(text);
    let mut lines = wrap_greedy(&text, max);
    if lines.len() > 1 && lines.len() <= max_lines {
        // The narrowest width that needs no more lines and splits no word
        // that fits on a line.
        let longest = text
            .split(' ')
            .map(|w| w.chars().count())
            .filter(|&n| n <= max)
            .max()
            .unwrap_or(0);
        for w in (longest.max(max / 2)..max).rev() {
            let narrower = wrap_greedy(&text, w);
            if narrower.len() > lines.len() {
                break;
            }
            lines = narrower;
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let kept: String = last.chars().take(max.saturating_sub(1)).collect();
        *last = format!("{}…", kept.trim_end());
    }
    lines
}

/// Greedy word wrap at `max` characters; words longer than `max` are split.
fn wrap_greedy(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0usize;
    for word in text.split(' ') {
        let wlen = word.chars().count();
        if cur_len > 0 && cur_len + 1 + wlen > max {
            lines.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if cur_len > 0 {
            cur.push(' ');
            cur_len += 1;
        }
        let mut rest: Vec<char> = word.chars().collect();
        while cur_len + rest.len() > max {
            let take = max - cur_len;
            cur.extend(rest.drain(..take));
            lines.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        cur_len += rest.len();
        cur.extend(rest);
    }
    if cur_len > 0 || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// What a box shows, measured.
pub(super) struct BoxContent {
    pub(super) title: Vec<String>,
    pub(super) op: Vec<String>,
    pub(super) value: ValueBlock,
    pub(super) tag: Option<String>,
    pub(super) w: f64,
    pub(super) h: f64,
}

pub(super) enum ValueBlock {
    None,
    Lines(Vec<String>),
    Matrix {
        tokens: Vec<String>,
        rows: Vec<Vec<bool>>,
        cell: f64,
        label_w: f64,
    },
}

pub(super) const MATRIX_HEAD: f64 = 13.0;
pub(super) const MATRIX_LABEL_SIZE: f64 = 9.0;

impl BoxContent {
    pub(super) fn of(n: &FlowNode) -> BoxContent {
        let title = wrap(&n.title, TITLE_CHARS, TITLE_MAX_LINES);
        let op = if n.op.is_empty() {
            vec![]
        } else {
            wrap(&n.op, OP_CHARS, OP_MAX_LINES)
        };
        let value = match &n.value {
            None => ValueBlock::None,
            Some(NodeValue::Sop { text, ty }) => ValueBlock::Lines(wrap(
                &format!("{text} ({ty})"),
                VALUE_CHARS,
                VALUE_MAX_LINES,
            )),
            Some(NodeValue::LargeSelector { n }) => {
                ValueBlock::Lines(vec![format!("{n}×{n} selector (not shown)")])
            }
            Some(NodeValue::Selector { tokens, rows }) => {
                let shown: Vec<String> = tokens
                    .iter()
                    .map(|t| visible(t).chars().take(3).collect())
                    .collect();
                let longest = shown
                    .iter()
                    .map(|t| text_width(t, MATRIX_LABEL_SIZE, true, false))
                    .fold(0.0, f64::max);
                ValueBlock::Matrix {
                    cell: (longest + 4.0).max(11.0),
                    label_w: longest + 6.0,
                    tokens: shown,
                    rows: rows.clone(),
                }
            }
        };
        let tag = n.head.map(|k| format!("head {k}"));
        let mut w: f64 = 0.0;
        for l in &title {
            w = w.max(text_width(l, TITLE_SIZE, false, true));
        }
        for l in &op {
            w = w.max(text_width(l, OP_SIZE, true, false));
        }
        let mut h = PAD_Y * 2.0 + TITLE_LINE * title.len() as f64 + OP_LINE * op.len() as f64;
        match &value {
            ValueBlock::None => {}
            ValueBlock::Lines(lines) => {
                for l in lines {
                    w = w.max(text_width(l, VALUE_SIZE, true, false));
                }
                h += 6.0 + VALUE_LINE * lines.len() as f64;
            }
            ValueBlock::Matrix {
                tokens,
                rows,
                cell,
                label_w,
            } => {
                w = w.max(label_w + cell * tokens.len() as f64);
                h += 8.0 + MATRIX_HEAD + cell * rows.len() as f64;
            }
        }
        if let Some(t) = &tag {
            w = w.max(text_width(t, 9.5, false, true) + 24.0);
        }
        BoxContent {
            title,
            op,
            value,
            tag,
            w: (w + 2.0 * PAD_X).max(MIN_BOX_W).ceil(),
            h: h.ceil(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_splits_words_and_caps_lines() {
        assert_eq!(wrap("aaa bbb ccc d", 11, 5), vec!["aaa bbb", "ccc d"]);
        assert_eq!(wrap("abcdefgh ij", 10, 5), vec!["abcdefgh", "ij"]);
        assert_eq!(wrap_greedy("abc def ghi", 7), vec!["abc def", "ghi"]);
        assert_eq!(wrap_greedy("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4, 2), vec![""]);
        let cut = wrap("one two three four five six", 8, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…'));
    }
}
