//! The SVG rendering of a [`Flow`]: a layered layout computed here.
//!
//! Layers run top to bottom, one band per layer (inputs first), each named
//! in a lane on the left. A band is split into rows by the longest chain of
//! same-layer dependencies (selectors, then attention, then MLPs). An edge
//! that skips rows gets a waypoint in every row it crosses, so it routes
//! between boxes; rows are ordered by barycentre sweeps (keeping the order
//! with the fewest crossings), placed by weighted isotonic regression so
//! each box sits near its neighbours without overlapping, and long edges are
//! then straightened where their rows have room.

use std::collections::HashMap;
use std::fmt::Write;

use super::{Flow, FlowNode, NodeKind, NodeValue, plural, visible, xml_escape};
use crate::ir::NodeId;

const SANS: &str =
    "'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', 'Liberation Sans', sans-serif";
const MONO: &str = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";

/// Font sizes and line heights.
const TITLE_SIZE: f64 = 13.0;
const TITLE_LINE: f64 = 17.0;
const OP_SIZE: f64 = 11.0;
const OP_LINE: f64 = 15.0;
const VALUE_SIZE: f64 = 11.0;
const VALUE_LINE: f64 = 14.0;
/// Wrapping widths in characters, and the most lines shown.
const TITLE_CHARS: usize = 34;
const OP_CHARS: usize = 46;
const VALUE_CHARS: usize = 46;
const TITLE_MAX_LINES: usize = 3;
const OP_MAX_LINES: usize = 4;
const VALUE_MAX_LINES: usize = 3;
/// Box padding and minimum width.
const PAD_X: f64 = 14.0;
const PAD_Y: f64 = 9.0;
const MIN_BOX_W: f64 = 96.0;
/// Page geometry.
const MARGIN: f64 = 24.0;
const MIN_PAGE_W: f64 = 360.0;
/// Edge colours (values, selectors).
const VALUE_EDGE: &str = "#6b778c";
const SELECTOR_EDGE: &str = "#d4862a";
const HEADER_H: f64 = 62.0;
const BAND_HEAD: f64 = 26.0;
/// Width of the lane on the left that names each band.
const LANE_W: f64 = 104.0;
/// Least height of a band (room for its three-line name).
const BAND_MIN_H: f64 = 78.0;
const BAND_FOOT: f64 = 18.0;
const ROW_GAP: f64 = 46.0;
/// Horizontal gaps between neighbours in a row.
const GAP_BOXES: f64 = 30.0;
const GAP_WAYPOINT: f64 = 14.0;
/// Distance between edge ports on a box side.
const PORT_STEP: f64 = 14.0;
/// Passes of the horizontal placement.
const POSITION_PASSES: usize = 12;
/// How much more a waypoint resists being moved than a box.
const WAYPOINT_WEIGHT: f64 = 4.0;

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
fn text_width(s: &str, size: f64, mono: bool, bold: bool) -> f64 {
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
struct BoxContent {
    title: Vec<String>,
    op: Vec<String>,
    value: ValueBlock,
    tag: Option<String>,
    w: f64,
    h: f64,
}

enum ValueBlock {
    None,
    Lines(Vec<String>),
    Matrix {
        tokens: Vec<String>,
        rows: Vec<Vec<bool>>,
        cell: f64,
        label_w: f64,
    },
}

const MATRIX_HEAD: f64 = 13.0;
const MATRIX_LABEL_SIZE: f64 = 9.0;

impl BoxContent {
    fn of(n: &FlowNode) -> BoxContent {
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

/// A slot in a row: a node's box, or a waypoint of an edge crossing the row.
struct Item {
    node: Option<usize>,
    w: f64,
    row: usize,
    x: f64,
}

/// An edge as the items it passes through (source box, waypoints, target
/// box), and whether it carries a selector.
struct Chain {
    items: Vec<usize>,
    selector: bool,
}

/// The computed geometry of a drawing.
struct Layout {
    items: Vec<Item>,
    rows: Vec<Vec<usize>>,
    chains: Vec<Chain>,
    /// Per node index: its box content and item.
    boxes: Vec<BoxContent>,
    node_item: Vec<usize>,
    /// Per row: top and height.
    row_top: Vec<f64>,
    row_h: Vec<f64>,
    /// Per band: layer, top, bottom.
    bands: Vec<(usize, f64, f64)>,
    width: f64,
    content_bottom: f64,
}

/// Weighted isotonic regression (pool adjacent violators): the
/// nondecreasing sequence closest to `z` in weighted least squares.
fn isotonic(z: &[f64], weight: &[f64]) -> Vec<f64> {
    // Blocks of (weighted sum, total weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(z.len());
    for (&v, &w) in z.iter().zip(weight) {
        blocks.push((v * w, w, 1));
        while blocks.len() >= 2 {
            let (s2, c2, l2) = blocks[blocks.len() - 1];
            let (s1, c1, l1) = blocks[blocks.len() - 2];
            if s1 / c1 <= s2 / c2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, c1 + c2, l1 + l2);
        }
    }
    let mut out = Vec::with_capacity(z.len());
    for (s, c, l) in blocks {
        out.extend(std::iter::repeat_n(s / c, l));
    }
    out
}

impl Layout {
    fn gap(&self, a: usize, b: usize) -> f64 {
        let real = |i: usize| self.items[i].node.is_some();
        if real(a) && real(b) {
            GAP_BOXES
        } else {
            GAP_WAYPOINT
        }
    }

    /// Place a row's items as close to `desired` centres as the order and
    /// the gaps allow.
    fn place_row(&mut self, row: usize, desired: &[f64]) {
        let ids = self.rows[row].clone();
        if ids.is_empty() {
            return;
        }
        let mut offset = vec![0.0; ids.len()];
        for i in 1..ids.len() {
            let (a, b) = (ids[i - 1], ids[i]);
            offset[i] = offset[i - 1] + (self.items[a].w + self.items[b].w) / 2.0 + self.gap(a, b);
        }
        let z: Vec<f64> = desired.iter().zip(&offset).map(|(d, o)| d - o).collect();
        // Waypoints resist moving more than boxes, so long edges stay
        // straight and boxes make room.
        let weight: Vec<f64> = ids
            .iter()
            .map(|&id| {
                if self.items[id].node.is_some() {
                    1.0
                } else {
                    WAYPOINT_WEIGHT
                }
            })
            .collect();
        let y = isotonic(&z, &weight);
        for (i, &id) in ids.iter().enumerate() {
            self.items[id].x = y[i] + offset[i];
        }
    }

    /// The positions of an item's neighbours above (`up`) or below.
    fn neighbours(
        &self,
        preds: &[Vec<usize>],
        succs: &[Vec<usize>],
        id: usize,
        up: bool,
        down: bool,
    ) -> Vec<f64> {
        let mut v = Vec::new();
        if up {
            v.extend(preds[id].iter().map(|&p| self.items[p].x));
        }
        if down {
            v.extend(succs[id].iter().map(|&s| self.items[s].x));
        }
        v
    }

    fn build(flow: &Flow) -> Layout {
        let n = flow.nodes.len();
        let index = index_of(&flow.nodes);
        let (node_row, band_rows) = rows(&flow.nodes, &index);
        let n_rows = band_rows.last().map_or(0, |&(_, first, rows)| first + rows);
        let boxes: Vec<BoxContent> = flow.nodes.iter().map(BoxContent::of).collect();
        let mut items: Vec<Item> = Vec::new();
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n_rows];
        let mut node_item = Vec::with_capacity(n);
        for (i, &row) in node_row.iter().enumerate() {
            node_item.push(items.len());
            rows[row].push(items.len());
            items.push(Item {
                node: Some(i),
                w: boxes[i].w,
                row,
                x: 0.0,
            });
        }
        let mut chains = Vec::new();
        for (i, node) in flow.nodes.iter().enumerate() {
            for input in &node.inputs {
                let Some(&j) = index.get(input) else { continue };
                let (from, to) = (items[node_item[j]].row, items[node_item[i]].row);
                let mut chain = vec![node_item[j]];
                for (row, slot) in rows.iter_mut().enumerate().take(to).skip(from + 1) {
                    chain.push(items.len());
                    slot.push(items.len());
                    items.push(Item {
                        node: None,
                        w: 0.0,
                        row,
                        x: 0.0,
                    });
                }
                chain.push(node_item[i]);
                chains.push(Chain {
                    items: chain,
                    selector: flow.nodes[j].kind.is_selector(),
                });
            }
        }
        let mut preds = vec![Vec::new(); items.len()];
        let mut succs = vec![Vec::new(); items.len()];
        for c in &chains {
            for pair in c.items.windows(2) {
                succs[pair[0]].push(pair[1]);
                preds[pair[1]].push(pair[0]);
            }
        }
        let mut layout = Layout {
            items,
            rows,
            chains,
            boxes,
            node_item,
            row_top: vec![0.0; n_rows],
            row_h: vec![0.0; n_rows],
            bands: Vec::new(),
            width: 0.0,
            content_bottom: 0.0,
        };
        layout.order_rows(&preds, &succs);
        layout.position_x(&preds, &succs);
        layout.position_y(&band_rows);
        layout
    }

    /// Crossings between consecutive rows.
    fn crossings(&self, succs: &[Vec<usize>], pos: &[usize]) -> usize {
        let mut total = 0;
        for row in &self.rows {
            let segs: Vec<(usize, usize)> = row
                .iter()
                .flat_map(|&a| succs[a].iter().map(move |&b| (pos[a], pos[b])))
                .collect();
            for (i, &(a, b)) in segs.iter().enumerate() {
                for &(c, d) in &segs[i + 1..] {
                    if (a < c && b > d) || (a > c && b < d) {
                        total += 1;
                    }
                }
            }
        }
        total
    }

    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.items.len()];
        for row in &self.rows {
            for (i, &id) in row.iter().enumerate() {
                pos[id] = i;
            }
        }
        pos
    }

    /// Order each row by the barycentre of its neighbours, sweeping down and
    /// up, keeping the order with the fewest crossings.
    fn order_rows(&mut self, preds: &[Vec<usize>], succs: &[Vec<usize>]) {
        let mut pos = self.positions();
        let mut best = self.rows.clone();
        let mut best_crossings = self.crossings(succs, &pos);
        for sweep in 0..16 {
            let down = sweep % 2 == 0;
            let order: Vec<usize> = if down {
                (1..self.rows.len()).collect()
            } else {
                (0..self.rows.len().saturating_sub(1)).rev().collect()
            };
            for r in order {
                let nbrs = if down { preds } else { succs };
                let mut keyed: Vec<(f64, usize)> = self.rows[r]
                    .iter()
                    .map(|&id| {
                        let ns = &nbrs[id];
                        let key = if ns.is_empty() {
                            pos[id] as f64
                        } else {
                            ns.iter().map(|&x| pos[x] as f64).sum::<f64>() / ns.len() as f64
                        };
                        (key, id)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                self.rows[r] = keyed.into_iter().map(|(_, id)| id).collect();
                for (i, &id) in self.rows[r].iter().enumerate() {
                    pos[id] = i;
                }
            }
            let c = self.crossings(succs, &pos);
            if c < best_crossings {
                best_crossings = c;
                best = self.rows.clone();
            }
            if best_crossings == 0 {
                break;
            }
        }
        self.rows = best;
    }

    /// Horizontal placement: pack rows, then pull each item towards its
    /// neighbours (down, up, then both ways) without breaking the order.
    fn position_x(&mut self, preds: &[Vec<usize>], succs: &[Vec<usize>]) {
        for r in 0..self.rows.len() {
            let ids = self.rows[r].clone();
            let mut x = 0.0;
            for (i, &id) in ids.iter().enumerate() {
                if i > 0 {
                    x += self.gap(ids[i - 1], id);
                }
                self.items[id].x = x + self.items[id].w / 2.0;
                x += self.items[id].w;
            }
            for &id in &ids {
                self.items[id].x -= x / 2.0;
            }
        }
        let n_rows = self.rows.len();
        // Alternate pulls from above and below, then settle between both.
        let passes: Vec<(bool, bool)> = (0..POSITION_PASSES)
            .map(|i| (i % 2 == 0, i % 2 == 1))
            .chain(std::iter::repeat_n((true, true), POSITION_PASSES / 2))
            .collect();
        for (i, &(up, down)) in passes.iter().enumerate() {
            let order: Vec<usize> = if i % 2 == 0 {
                (0..n_rows).collect()
            } else {
                (0..n_rows).rev().collect()
            };
            for r in order {
                let desired: Vec<f64> = self.rows[r]
                    .iter()
                    .map(|&id| {
                        let ns = self.neighbours(preds, succs, id, up, down);
                        if ns.is_empty() {
                            self.items[id].x
                        } else {
                            ns.iter().sum::<f64>() / ns.len() as f64
                        }
                    })
                    .collect();
                self.place_row(r, &desired);
            }
        }
        self.straighten();
        let left = self
            .items
            .iter()
            .map(|it| it.x - it.w / 2.0)
            .fold(f64::INFINITY, f64::min);
        let right = self
            .items
            .iter()
            .map(|it| it.x + it.w / 2.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let (left, right) = if left.is_finite() {
            (left, right)
        } else {
            (0.0, 0.0)
        };
        for it in &mut self.items {
            it.x += LANE_W + MARGIN - left;
        }
        self.width = right - left + LANE_W + 2.0 * MARGIN;
    }

    /// Line up consecutive waypoints of each edge where their row has room,
    /// so long edges run straight instead of wobbling.
    fn straighten(&mut self) {
        let pos = self.positions();
        for _ in 0..3 {
            for ci in 0..self.chains.len() {
                let ws: Vec<usize> = {
                    let items = &self.chains[ci].items;
                    items[1..items.len() - 1].to_vec()
                };
                for k in 1..ws.len() {
                    let x = self.items[ws[k - 1]].x;
                    self.try_move(&pos, ws[k], x);
                }
                for k in (0..ws.len().saturating_sub(1)).rev() {
                    let x = self.items[ws[k + 1]].x;
                    self.try_move(&pos, ws[k], x);
                }
            }
        }
    }

    /// Move an item to `x` if that keeps its row's order and gaps.
    fn try_move(&mut self, pos: &[usize], id: usize, x: f64) {
        let row = &self.rows[self.items[id].row];
        let p = pos[id];
        let half = self.items[id].w / 2.0;
        if p > 0 {
            let l = row[p - 1];
            if x - half < self.items[l].x + self.items[l].w / 2.0 + self.gap(l, id) {
                return;
            }
        }
        if let Some(&r) = row.get(p + 1)
            && x + half > self.items[r].x - self.items[r].w / 2.0 - self.gap(id, r)
        {
            return;
        }
        self.items[id].x = x;
    }

    fn position_y(&mut self, band_rows: &[(usize, usize, usize)]) {
        let mut y = HEADER_H;
        for &(layer, first, count) in band_rows {
            let top = y;
            y += BAND_HEAD;
            for r in first..first + count {
                let h = self.rows[r]
                    .iter()
                    .filter_map(|&id| self.items[id].node)
                    .map(|i| self.boxes[i].h)
                    .fold(0.0, f64::max);
                self.row_top[r] = y;
                self.row_h[r] = h;
                y += h;
                if r + 1 < first + count {
                    y += ROW_GAP;
                }
            }
            y = (y + BAND_FOOT).max(top + BAND_MIN_H);
            self.bands.push((layer, top, y));
        }
        self.content_bottom = y;
    }

    /// Top-left corner of a node's box.
    fn box_origin(&self, node: usize) -> (f64, f64) {
        let it = &self.items[self.node_item[node]];
        (it.x - it.w / 2.0, self.row_top[it.row])
    }
}

/// `count` port positions centred on `centre`, within a box of width `w`.
/// Each drawn node's position in `nodes`.
fn index_of(nodes: &[FlowNode]) -> HashMap<NodeId, usize> {
    nodes.iter().enumerate().map(|(i, f)| (f.id, i)).collect()
}

/// Each node's row, and the bands `(layer, first row, rows)`: the present
/// layers in order, and within a layer the rank of a node is the longest
/// chain of same-layer inputs below it.
fn rows(nodes: &[FlowNode], index: &HashMap<NodeId, usize>) -> (Vec<usize>, Vec<(usize, usize, usize)>) {
    let mut rank = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        rank[i] = node
            .inputs
            .iter()
            .filter_map(|x| index.get(x))
            .filter(|&&j| nodes[j].layer == node.layer)
            .map(|&j| rank[j] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut band_layers: Vec<usize> = nodes.iter().map(|f| f.layer).collect();
    band_layers.sort_unstable();
    band_layers.dedup();
    let mut row_offset: HashMap<usize, usize> = HashMap::new();
    let mut bands: Vec<(usize, usize, usize)> = Vec::new();
    let mut n_rows = 0usize;
    for &l in &band_layers {
        let rows = nodes
            .iter()
            .zip(&rank)
            .filter(|(f, _)| f.layer == l)
            .map(|(_, r)| r + 1)
            .max()
            .unwrap_or(1);
        row_offset.insert(l, n_rows);
        bands.push((l, n_rows, rows));
        n_rows += rows;
    }
    let node_row = nodes
        .iter()
        .zip(&rank)
        .map(|(f, r)| row_offset[&f.layer] + r)
        .collect();
    (node_row, bands)
}

/// What the drawing limit counts: the boxes, plus a piece per row each
/// edge passes (an edge between neighbouring rows is one piece; the
/// layout gives an edge a point in every row it crosses, as Graphviz's
/// `dot` does).
pub(super) fn pieces(nodes: &[FlowNode]) -> u128 {
    let index = index_of(nodes);
    let (node_row, _) = rows(nodes, &index);
    let mut total = nodes.len() as u128;
    for (i, node) in nodes.iter().enumerate() {
        for input in &node.inputs {
            if let Some(&j) = index.get(input) {
                total += node_row[i].abs_diff(node_row[j]).max(1) as u128;
            }
        }
    }
    total
}

fn ports(centre: f64, w: f64, count: usize) -> Vec<f64> {
    if count == 0 {
        return vec![];
    }
    let step = if count > 1 {
        PORT_STEP.min((w - 24.0).max(0.0) / (count - 1) as f64)
    } else {
        0.0
    };
    let start = centre - step * (count - 1) as f64 / 2.0;
    (0..count).map(|i| start + step * i as f64).collect()
}

fn fmt_num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// The flow as a standalone SVG document.
pub(super) fn render(flow: &Flow) -> String {
    let layout = Layout::build(flow);
    let title = format!("Computation flow of {}", flow.title);
    let summary = flow.summary();
    let header_w = text_width(&visible(&title), 17.0, false, true).max(text_width(
        &visible(&summary),
        12.0,
        false,
        false,
    ));
    let width = layout
        .width
        .max(header_w + 2.0 * MARGIN)
        .max(MIN_PAGE_W)
        .ceil();
    let legend = Legend::new(flow, &layout, width);
    let legend_top = layout.content_bottom + 16.0;
    let height = (legend_top + LEGEND_ROW * legend.rows as f64 + 12.0).ceil();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>"
    );
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = fmt_num(width),
        h = fmt_num(height)
    );
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&title));
    out.push_str(&style());
    let _ = writeln!(out, "<defs>");
    for (id, colour) in [("arrow-val", VALUE_EDGE), ("arrow-sel", SELECTOR_EDGE)] {
        let _ = writeln!(
            out,
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,1 L10,5 L0,9 z\" fill=\"{colour}\"/></marker>"
        );
    }
    let _ = writeln!(out, "</defs>");
    let _ = writeln!(
        out,
        "<rect class=\"page\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\"/>",
        fmt_num(width),
        fmt_num(height)
    );
    let _ = writeln!(
        out,
        "<text class=\"heading\" x=\"{}\" y=\"30\">{}</text>",
        fmt_num(MARGIN),
        xml_escape(&title)
    );
    let _ = writeln!(
        out,
        "<text class=\"summary\" x=\"{}\" y=\"49\">{}</text>",
        fmt_num(MARGIN),
        xml_escape(&summary)
    );
    write_bands(flow, &layout, width, &mut out);
    write_edges(&layout, &mut out);
    for (i, node) in flow.nodes.iter().enumerate() {
        write_box(flow, &mut out, &layout, i, node);
    }
    legend.write(legend_top, width, &mut out);
    out.push_str("</svg>\n");
    out
}

/// The layer bands, each named in the lane on the left.
fn write_bands(flow: &Flow, layout: &Layout, width: f64, out: &mut String) {
    for (i, &(layer, top, bottom)) in layout.bands.iter().enumerate() {
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        let (class, id) = if layer == 0 {
            ("band inputs", "inputs".to_string())
        } else {
            ("band layer", format!("layer-{layer}"))
        };
        let _ = writeln!(
            out,
            "<g class=\"{class}\" id=\"{id}\"><title>{}</title>",
            xml_escape(&flow.band_title(layer))
        );
        let _ = writeln!(
            out,
            "<rect class=\"band-bg {parity}\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            fmt_num(top),
            fmt_num(width),
            fmt_num(bottom - top)
        );
        let _ = writeln!(
            out,
            "<rect class=\"lane {parity}\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            fmt_num(top),
            fmt_num(LANE_W),
            fmt_num(bottom - top)
        );
        let _ = writeln!(
            out,
            "<line class=\"band-rule\" x1=\"0\" y1=\"{t}\" x2=\"{}\" y2=\"{t}\"/>",
            fmt_num(width),
            t = fmt_num(top)
        );
        let mut lines: Vec<(&str, String)> = Vec::new();
        if layer == 0 {
            lines.push(("lane-name", "inputs".into()));
        } else {
            lines.push(("lane-name", format!("layer {layer}")));
            lines.push(("lane-info", plural(flow.heads[layer - 1], "head", "heads")));
            lines.push(("lane-info", plural(flow.mlps[layer - 1], "MLP", "MLPs")));
        }
        let mut ty = top + 28.0;
        for (class, text) in lines {
            let _ = writeln!(
                out,
                "<text class=\"{class}\" x=\"{}\" y=\"{}\">{}</text>",
                fmt_num(MARGIN - 6.0),
                fmt_num(ty),
                xml_escape(&text)
            );
            ty += if class == "lane-name" { 20.0 } else { 16.0 };
        }
        let _ = writeln!(out, "</g>");
    }
}

/// Where each edge leaves its source and enters its target: ports spread
/// along the box side, ordered by where the edge comes from or goes to so
/// that edges do not cross at the box.
fn assign_ports(layout: &Layout) -> (Vec<f64>, Vec<f64>) {
    let n = layout.chains.len();
    let (mut out_x, mut in_x) = (vec![0.0; n], vec![0.0; n]);
    let mut outs: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
    let mut ins: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
    for (ci, c) in layout.chains.iter().enumerate() {
        let (first, last) = (c.items[0], c.items[c.items.len() - 1]);
        let next = layout.items[c.items[1]].x;
        let prev = layout.items[c.items[c.items.len() - 2]].x;
        outs.entry(first).or_default().push((next, ci));
        ins.entry(last).or_default().push((prev, ci));
    }
    for (ends, xs) in [(outs, &mut out_x), (ins, &mut in_x)] {
        for (item, mut edges) in ends {
            let it = &layout.items[item];
            edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for ((_, ci), x) in edges.iter().zip(ports(it.x, it.w, edges.len())) {
                xs[*ci] = x;
            }
        }
    }
    (out_x, in_x)
}

/// The edges, under the boxes: smooth curves between rows, straight through
/// the rows an edge crosses.
fn write_edges(layout: &Layout, out: &mut String) {
    let (out_x, in_x) = assign_ports(layout);
    let _ = writeln!(out, "<g class=\"edges\">");
    for (ci, chain) in layout.chains.iter().enumerate() {
        let (first, last) = (chain.items[0], chain.items[chain.items.len() - 1]);
        let src = layout.items[first].node.expect("a chain starts at a box");
        let dst = layout.items[last].node.expect("a chain ends at a box");
        let (_, sy) = layout.box_origin(src);
        let (_, dy) = layout.box_origin(dst);
        let mut pts: Vec<(f64, f64)> = vec![(out_x[ci], sy + layout.boxes[src].h)];
        // Leave a box shorter than its row straight down, clear of its
        // taller neighbours.
        let src_row = layout.items[first].row;
        let row_bottom = layout.row_top[src_row] + layout.row_h[src_row];
        if pts[0].1 < row_bottom - 0.5 {
            pts.push((pts[0].0, row_bottom));
        }
        for &w in &chain.items[1..chain.items.len() - 1] {
            let it = &layout.items[w];
            pts.push((it.x, layout.row_top[it.row]));
            pts.push((it.x, layout.row_top[it.row] + layout.row_h[it.row]));
        }
        pts.push((in_x[ci], dy - 1.0));
        let mut d = format!("M{},{}", fmt_num(pts[0].0), fmt_num(pts[0].1));
        for pair in pts.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if (x0 - x1).abs() < 0.05 {
                let _ = write!(d, " L{},{}", fmt_num(x1), fmt_num(y1));
            } else {
                // Vertical tangents at both ends: joins stay smooth.
                let my = fmt_num((y0 + y1) / 2.0);
                let _ = write!(
                    d,
                    " C{},{my} {},{my} {},{}",
                    fmt_num(x0),
                    fmt_num(x1),
                    fmt_num(x1),
                    fmt_num(y1)
                );
            }
        }
        let (class, marker) = if chain.selector {
            ("edge sel", "arrow-sel")
        } else {
            ("edge val", "arrow-val")
        };
        let _ = writeln!(
            out,
            "<path class=\"{class}\" d=\"{d}\" marker-end=\"url(#{marker})\" data-from=\"n{src}\" data-to=\"n{dst}\"/>"
        );
    }
    let _ = writeln!(out, "</g>");
}

/// One entry of the legend.
enum LegendEntry {
    Kind(NodeKind),
    Edge { selector: bool },
}

/// The legend: the kinds of node drawn and the kinds of edge, wrapped to
/// the page width.
struct Legend {
    entries: Vec<(LegendEntry, f64)>,
    rows: usize,
}

const LEGEND_ROW: f64 = 20.0;
const LEGEND_GAP: f64 = 18.0;

impl Legend {
    fn new(flow: &Flow, layout: &Layout, width: f64) -> Legend {
        let mut entries: Vec<(LegendEntry, f64)> = NodeKind::ALL
            .into_iter()
            .filter(|k| flow.nodes.iter().any(|n| n.kind == *k))
            .map(|k| {
                let w = 26.0 + text_width(k.name(), 11.0, false, false);
                (LegendEntry::Kind(k), w)
            })
            .collect();
        for selector in [false, true] {
            if layout.chains.iter().any(|c| c.selector == selector) {
                let w = 34.0 + text_width(edge_name(selector), 11.0, false, false);
                entries.push((LegendEntry::Edge { selector }, w));
            }
        }
        let mut rows = 1;
        let mut x = MARGIN;
        for (_, w) in &entries {
            if x + w > width - MARGIN && x > MARGIN {
                rows += 1;
                x = MARGIN;
            }
            x += w + LEGEND_GAP;
        }
        Legend { entries, rows }
    }

    fn write(&self, top: f64, width: f64, out: &mut String) {
        let _ = writeln!(out, "<g class=\"legend\">");
        let (mut x, mut y) = (MARGIN, top);
        for (entry, w) in &self.entries {
            if x + w > width - MARGIN && x > MARGIN {
                x = MARGIN;
                y += LEGEND_ROW;
            }
            let (name, text_x) = match entry {
                LegendEntry::Kind(k) => {
                    let _ = writeln!(
                        out,
                        "<rect class=\"node {}\" x=\"{}\" y=\"{}\" width=\"18\" height=\"12\" rx=\"3\"/>",
                        k.class(),
                        fmt_num(x),
                        fmt_num(y + 2.0)
                    );
                    (k.name(), x + 24.0)
                }
                LegendEntry::Edge { selector } => {
                    let (class, marker) = if *selector {
                        ("edge sel", "arrow-sel")
                    } else {
                        ("edge val", "arrow-val")
                    };
                    let _ = writeln!(
                        out,
                        "<path class=\"{class}\" d=\"M{},{} h24\" marker-end=\"url(#{marker})\"/>",
                        fmt_num(x),
                        fmt_num(y + 8.0)
                    );
                    (edge_name(*selector), x + 32.0)
                }
            };
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                fmt_num(text_x),
                fmt_num(y + 12.0),
                xml_escape(name)
            );
            x += w + LEGEND_GAP;
        }
        let _ = writeln!(out, "</g>");
    }
}

fn edge_name(selector: bool) -> &'static str {
    if selector { "selector" } else { "value" }
}

/// One node's box: title, operation, value, head tag.
fn write_box(flow: &Flow, out: &mut String, layout: &Layout, i: usize, node: &FlowNode) {
    let content = &layout.boxes[i];
    let (x, y) = layout.box_origin(i);
    let cx = x + content.w / 2.0;
    let target = if node.id == flow.target {
        " target"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<g class=\"node {}{target}\" id=\"n{i}\">",
        node.kind.class()
    );
    let mut tip = format!(
        "{} ({}, layer {})",
        node.title,
        node.kind.name(),
        node.layer
    );
    if !node.op.is_empty() {
        write!(tip, "\n{}", node.op).expect("writing to a String");
    }
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&tip));
    let _ = writeln!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/>",
        fmt_num(x),
        fmt_num(y),
        fmt_num(content.w),
        fmt_num(content.h)
    );
    let mut ty = y + PAD_Y;
    for line in &content.title {
        let _ = writeln!(
            out,
            "<text class=\"title\" x=\"{}\" y=\"{}\">{}</text>",
            fmt_num(cx),
            fmt_num(ty + 13.0),
            xml_escape(line)
        );
        ty += TITLE_LINE;
    }
    for line in &content.op {
        let _ = writeln!(
            out,
            "<text class=\"op\" x=\"{}\" y=\"{}\">{}</text>",
            fmt_num(cx),
            fmt_num(ty + 11.0),
            xml_escape(line)
        );
        ty += OP_LINE;
    }
    match &content.value {
        ValueBlock::None => {}
        ValueBlock::Lines(lines) => {
            ty += 6.0;
            let _ = writeln!(
                out,
                "<line class=\"sep\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
                fmt_num(x + 10.0),
                fmt_num(ty - 3.0),
                fmt_num(x + content.w - 10.0),
                fmt_num(ty - 3.0)
            );
            for line in lines {
                let _ = writeln!(
                    out,
                    "<text class=\"value\" xml:space=\"preserve\" x=\"{}\" y=\"{}\">{}</text>",
                    fmt_num(cx),
                    fmt_num(ty + 11.0),
                    xml_escape(line)
                );
                ty += VALUE_LINE;
            }
        }
        ValueBlock::Matrix {
            tokens,
            rows,
            cell,
            label_w,
        } => {
            ty += 8.0;
            let grid_w = label_w + cell * tokens.len() as f64;
            let gx = cx - grid_w / 2.0 + label_w;
            let gy = ty + MATRIX_HEAD;
            let _ = writeln!(out, "<g class=\"matrix\">");
            for (k, t) in tokens.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<text class=\"mlabel\" x=\"{}\" y=\"{}\">{}</text>",
                    fmt_num(gx + cell * (k as f64 + 0.5)),
                    fmt_num(gy - 3.0),
                    xml_escape(t)
                );
            }
            for (q, row) in rows.iter().enumerate() {
                let ry = gy + cell * q as f64;
                if let Some(t) = tokens.get(q) {
                    let _ = writeln!(
                        out,
                        "<text class=\"mlabel row\" x=\"{}\" y=\"{}\">{}</text>",
                        fmt_num(gx - 4.0),
                        fmt_num(ry + cell / 2.0 + 3.0),
                        xml_escape(t)
                    );
                }
                for (k, on) in row.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                        if *on { "on" } else { "off" },
                        fmt_num(gx + cell * k as f64),
                        fmt_num(ry),
                        fmt_num(*cell),
                        fmt_num(*cell)
                    );
                }
            }
            let _ = writeln!(out, "</g>");
        }
    }
    if let Some(tag) = &content.tag {
        let tw = text_width(tag, 9.5, false, true) + 12.0;
        let tx = x + content.w - tw - 10.0;
        let _ = writeln!(
            out,
            "<g class=\"tag\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"7.5\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            fmt_num(tx),
            fmt_num(y - 7.5),
            fmt_num(tw),
            fmt_num(tx + tw / 2.0),
            fmt_num(y + 3.5),
            xml_escape(tag)
        );
    }
    let _ = writeln!(out, "</g>");
}

/// The embedded style sheet: colours per kind, fonts.
fn style() -> String {
    let mut css = String::from("<style>\n");
    let _ = writeln!(
        css,
        "text {{ font-family: {SANS}; fill: #1f2733; }}\n\
         .page {{ fill: #ffffff; }}\n\
         .heading {{ font-size: 17px; font-weight: 700; }}\n\
         .summary {{ font-size: 12px; fill: #5b6576; }}\n\
         .band-bg.even {{ fill: #f5f7fa; }}\n\
         .band-bg.odd {{ fill: #fbfcfd; }}\n\
         .band-rule {{ stroke: #dde2e9; stroke-width: 1; }}\n\
         .lane.even {{ fill: #eaeef3; }}\n\
         .lane.odd {{ fill: #f1f4f7; }}\n\
         .lane-name {{ font-size: 14px; font-weight: 700; fill: #2d3748; }}\n\
         .lane-info {{ font-size: 11.5px; fill: #5b6576; }}\n\
         .edge {{ fill: none; stroke-width: 1.4; }}\n\
         .edge.val {{ stroke: {VALUE_EDGE}; }}\n\
         .edge.sel {{ stroke: {SELECTOR_EDGE}; stroke-dasharray: 5 3; }}\n\
         .node rect {{ stroke-width: 1.3; }}\n\
         .node.target > rect {{ stroke-width: 2.8; }}\n\
         .node .title {{ font-size: {TITLE_SIZE}px; font-weight: 700; text-anchor: middle; }}\n\
         .node .op {{ font-family: {MONO}; font-size: {OP_SIZE}px; fill: #4a5568; text-anchor: middle; }}\n\
         .node .value {{ font-family: {MONO}; font-size: {VALUE_SIZE}px; fill: #111827; text-anchor: middle; white-space: pre; }}\n\
         .node .sep {{ stroke-width: 0.8; stroke-dasharray: 2 2; }}\n\
         .matrix .mlabel {{ font-family: {MONO}; font-size: {MATRIX_LABEL_SIZE}px; fill: #4a5568; text-anchor: middle; }}\n\
         .matrix .mlabel.row {{ text-anchor: end; }}\n\
         .matrix rect.off {{ fill: #ffffff; stroke: #e3d6c1; stroke-width: 0.6; }}\n\
         .tag rect {{ fill: #ffffff; stroke-width: 1; }}\n\
         .tag text {{ font-size: 9.5px; font-weight: 700; text-anchor: middle; }}\n\
         .legend text {{ font-size: 11px; fill: #4a5568; }}"
    );
    for k in NodeKind::ALL {
        let (fill, stroke) = k.colours();
        let c = k.class();
        let _ = writeln!(
            css,
            ".node.{c} rect, rect.node.{c} {{ fill: {fill}; stroke: {stroke}; }}\n\
             .node.{c} .sep {{ stroke: {stroke}; }}\n\
             .node.{c} .tag rect {{ fill: #ffffff; stroke: {stroke}; }}\n\
             .node.{c} .tag text {{ fill: {stroke}; }}\n\
             .node.{c} .matrix rect.on {{ fill: {stroke}; stroke: {stroke}; stroke-width: 0.6; }}"
        );
    }
    let _ = writeln!(
        css,
        ".node.combine > rect {{ stroke-dasharray: 4 2; }}\n\
         .node .matrix rect.off {{ fill: #ffffff; stroke: #e3d6c1; stroke-width: 0.6; }}"
    );
    css.push_str("</style>\n");
    css
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

    #[test]
    fn isotonic_pools_violators() {
        let one = [1.0; 4];
        assert_eq!(
            isotonic(&[1.0, 3.0, 2.0, 4.0], &one),
            vec![1.0, 2.5, 2.5, 4.0]
        );
        assert_eq!(isotonic(&[3.0, 2.0, 1.0], &one), vec![2.0, 2.0, 2.0]);
        assert_eq!(isotonic(&[4.0, 1.0], &[3.0, 1.0]), vec![3.25, 3.25]);
        assert!(isotonic(&[], &[]).is_empty());
    }

    #[test]
    fn ports_stay_inside_the_box() {
        let p = ports(100.0, 60.0, 5);
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|x| (70.0..=130.0).contains(x)));
        assert_eq!(ports(10.0, 100.0, 1), vec![10.0]);
    }
}
