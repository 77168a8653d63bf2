//! The layout: nodes into rows (bands of layers, split by same-layer
//! chains), edges through waypoints, rows ordered by barycentre sweeps,
//! then placed horizontally and vertically.

use std::collections::HashMap;

use super::measure::BoxContent;
use super::{
    BAND_FOOT, BAND_HEAD, BAND_MIN_H, GAP_BOXES, GAP_WAYPOINT, HEADER_H, LANE_W, MARGIN,
    POSITION_PASSES, ROW_GAP, WAYPOINT_WEIGHT,
};
use crate::ir::NodeId;
use crate::repl::draw::{Flow, FlowNode};

/// A slot in a row: a node's box, or a waypoint of an edge crossing the row.
pub(super) struct Item {
    pub(super) node: Option<usize>,
    pub(super) w: f64,
    pub(super) row: usize,
    pub(super) x: f64,
}

/// An edge as the items it passes through (source box, waypoints, target
/// box), and whether it carries a selector.
pub(super) struct Chain {
    pub(super) items: Vec<usize>,
    pub(super) selector: bool,
}

/// The computed geometry of a drawing.
pub(super) struct Layout {
    pub(super) items: Vec<Item>,
    rows: Vec<Vec<usize>>,
    pub(super) chains: Vec<Chain>,
    /// Per node index: its box content and item.
    pub(super) boxes: Vec<BoxContent>,
    node_item: Vec<usize>,
    /// Per row: top and height.
    pub(super) row_top: Vec<f64>,
    pub(super) row_h: Vec<f64>,
    /// Per band: layer, top, bottom.
    pub(super) bands: Vec<(usize, f64, f64)>,
    pub(super) width: f64,
    pub(super) content_bottom: f64,
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

    pub(super) fn build(flow: &Flow) -> Layout {
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
    pub(super) fn box_origin(&self, node: usize) -> (f64, f64) {
        let it = &self.items[self.node_item[node]];
        (it.x - it.w / 2.0, self.row_top[it.row])
    }
}

/// Each drawn node's position in `nodes`.
fn index_of(nodes: &[FlowNode]) -> HashMap<NodeId, usize> {
    nodes.iter().enumerate().map(|(i, f)| (f.id, i)).collect()
}

/// Each node's row, and the bands `(layer, first row, rows)`: the present
/// layers in order, and within a layer the rank of a node is the longest
/// chain of same-layer inputs below it.
fn rows(
    nodes: &[FlowNode],
    index: &HashMap<NodeId, usize>,
) -> (Vec<usize>, Vec<(usize, usize, usize)>) {
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
pub(in crate::repl::draw) fn pieces(nodes: &[FlowNode]) -> u128 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
