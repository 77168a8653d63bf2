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
//!
//! Here: the page's dimensions, the document and its style sheet;
//! `measure.rs`: text widths, wrapping and each box's content, measured;
//! `layout.rs`: rows, order and positions; `paint.rs`: bands, edges, boxes
//! and the legend as SVG elements.

mod layout;
mod measure;
mod paint;

use std::fmt::Write;

use super::{Flow, NodeKind, visible, xml_escape};

use layout::Layout;
pub(super) use layout::pieces;
use measure::{MATRIX_LABEL_SIZE, text_width};
use paint::{LEGEND_ROW, Legend, write_bands, write_box, write_edges};

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
