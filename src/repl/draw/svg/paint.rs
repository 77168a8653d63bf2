//! The drawing's parts as SVG elements: the layer bands, the edges with
//! their ports, the boxes, the legend.

use std::collections::HashMap;
use std::fmt::Write;

use super::layout::Layout;
use super::measure::{MATRIX_HEAD, ValueBlock, text_width};
use super::{LANE_W, MARGIN, OP_LINE, PAD_Y, PORT_STEP, TITLE_LINE, VALUE_LINE, fmt_num};
use crate::repl::draw::{Flow, FlowNode, NodeKind, plural, xml_escape};

/// The layer bands, each named in the lane on the left.
pub(super) fn write_bands(flow: &Flow, layout: &Layout, width: f64, out: &mut String) {
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
pub(super) fn write_edges(layout: &Layout, out: &mut String) {
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

/// `count` port positions centred on `centre`, within a box of width `w`.
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

/// One entry of the legend.
enum LegendEntry {
    Kind(NodeKind),
    Edge { selector: bool },
}

/// The legend: the kinds of node drawn and the kinds of edge, wrapped to
/// the page width.
pub(super) struct Legend {
    entries: Vec<(LegendEntry, f64)>,
    pub(super) rows: usize,
}

pub(super) const LEGEND_ROW: f64 = 20.0;
const LEGEND_GAP: f64 = 18.0;

impl Legend {
    pub(super) fn new(flow: &Flow, layout: &Layout, width: f64) -> Legend {
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

    pub(super) fn write(&self, top: f64, width: f64, out: &mut String) {
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
pub(super) fn write_box(flow: &Flow, out: &mut String, layout: &Layout, i: usize, node: &FlowNode) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stay_inside_the_box() {
        let p = ports(100.0, 60.0, 5);
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|x| (70.0..=130.0).contains(x)));
        assert_eq!(ports(10.0, 100.0, 1), vec![10.0]);
    }
}
