//! `draw(sop[, input])`: the computation flow of an s-op, layer by layer,
//! as the original's `draw` shows it, rendered as Graphviz DOT or as a
//! standalone SVG laid out here (no Graphviz needed; see `draw/svg.rs`).
//!
//! The flow holds every node the target depends on, scheduled into layers by
//! [`layers::analyse`]: each node's title (user name, else its source text),
//! its operation, its kind, its attention head (for selectors, aggregates and
//! selector widths), and its value on the input when one is given. Constant
//! nodes are folded into their consumers' operation text (`select(tokens,
//! "(", ==)`) instead of being drawn.

use std::collections::HashMap;
use std::fmt::Write;

use crate::diag::limits::Limit;
use crate::diag::{Diag, SourceMap};
use crate::interp::display::{input_repr, small_str};
use crate::interp::{self, Output, Semantics, display::sequence_str};
use crate::ir::layers::{self, LayerAnalysis};
use crate::ir::{Graph, Kind, NodeId, Op, TokenKind, Value};

/// Selectors are shown as matrices on inputs up to this length.
pub const MAX_MATRIX: usize = 24;

/// What a node computes, for its colour and its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// `tokens_*`, `indices`, a constant.
    Input,
    /// An elementwise op (a map or zipmap: an MLP).
    Elementwise,
    /// `select(keys, queries, cmp)`.
    Select,
    /// `and`, `or`, `not` of selectors.
    SelectorCombinator,
    /// `aggregate(sel, values)` (and `length`, an aggregate over the full
    /// selector).
    Aggregate,
    /// `selector_width(sel)`.
    SelectorWidth,
}

impl NodeKind {
    pub const ALL: [NodeKind; 6] = [
        NodeKind::Input,
        NodeKind::Elementwise,
        NodeKind::Select,
        NodeKind::SelectorCombinator,
        NodeKind::Aggregate,
        NodeKind::SelectorWidth,
    ];

    fn of(op: &Op) -> NodeKind {
        match op {
            Op::Tokens(_) | Op::Indices | Op::Const(_) => NodeKind::Input,
            Op::Length | Op::Aggregate { .. } => NodeKind::Aggregate,
            Op::Map { .. } => NodeKind::Elementwise,
            Op::Select { .. } => NodeKind::Select,
            Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => NodeKind::SelectorCombinator,
            Op::SelectorWidth(_) => NodeKind::SelectorWidth,
        }
    }

    /// A human name (`selector width`).
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Input => "input",
            NodeKind::Elementwise => "elementwise",
            NodeKind::Select => "select",
            NodeKind::SelectorCombinator => "selector combinator",
            NodeKind::Aggregate => "aggregate",
            NodeKind::SelectorWidth => "selector width",
        }
    }

    /// The CSS class of the kind in the SVG.
    fn class(self) -> &'static str {
        match self {
            NodeKind::Input => "input",
            NodeKind::Elementwise => "map",
            NodeKind::Select => "select",
            NodeKind::SelectorCombinator => "combine",
            NodeKind::Aggregate => "aggregate",
            NodeKind::SelectorWidth => "width",
        }
    }

    /// (fill, stroke) colours.
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            NodeKind::Input => ("#eef2f7", "#7d8ba1"),
            NodeKind::Elementwise => ("#e6f4ea", "#4a9463"),
            NodeKind::Select => ("#fff2de", "#d4862a"),
            NodeKind::SelectorCombinator => ("#fdf7ea", "#c39a52"),
            NodeKind::Aggregate => ("#e5eefa", "#4277bd"),
            NodeKind::SelectorWidth => ("#f0e9fa", "#8560bf"),
        }
    }

    fn is_selector(self) -> bool {
        matches!(self, NodeKind::Select | NodeKind::SelectorCombinator)
    }
}

/// A node's value on the drawing's input.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// An s-op: the original's compact display (`[1, 2]`, `[v]*n`) and its
    /// type (`ints`).
    Sop { text: String, ty: &'static str },
    /// A selector: the input tokens (as the original shows them) and one row
    /// of key flags per query.
    Selector {
        tokens: Vec<String>,
        rows: Vec<Vec<bool>>,
    },
    /// A selector on an input longer than [`MAX_MATRIX`]: not shown.
    LargeSelector { n: usize },
}

/// One node of the flow.
#[derive(Clone, Debug)]
pub struct FlowNode {
    pub id: NodeId,
    /// The user's name, else the source text, else the operation.
    pub title: String,
    /// The operation (`select(tokens, tokens, ==)`), empty when it says the
    /// same as the title.
    pub op: String,
    pub kind: NodeKind,
    pub layer: usize,
    /// The drawn nodes this one reads (constants are folded into `op`).
    pub inputs: Vec<NodeId>,
    /// The attention head (1-based, within the layer) this node is part of:
    /// aggregates and selector widths, and the selectors of their layer they
    /// attend with.
    pub head: Option<usize>,
    pub value: Option<NodeValue>,
}

/// The computation flow of one s-op (or selector).
#[derive(Clone, Debug)]
pub struct Flow {
    target: NodeId,
    title: String,
    input: Option<String>,
    /// Whether the values are causal (`--causal`, `:set causal on`).
    causal: bool,
    nodes: Vec<FlowNode>,
    n_layers: usize,
    heads: Vec<usize>,
    mlps: Vec<usize>,
}

/// How a node is titled in a drawing: the user's name, else its source text
/// (as in messages). The library's `tokens` is the node first named
/// `tokens_str`, which programs almost always call `tokens`.
fn draw_title(graph: &Graph, sources: &SourceMap, id: NodeId) -> String {
    let node = graph.node(id);
    if matches!(node.op, Op::Tokens(TokenKind::Str))
        && node.names.first().is_none_or(|n| &**n == "tokens_str")
    {
        return "tokens".into();
    }
    let title = interp::node_title(graph, sources, id);
    if node.names.is_empty() {
        // Source text: `(a - b)` reads as `a - b` in a box.
        strip_parens(&title)
    } else {
        title
    }
}

/// Whether `s` has a space outside brackets and string literals: an
/// expression such as `a - b`, not `f(a, b)` or `x[i]`.
fn has_top_level_space(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ' ' if depth <= 0 => return true,
                _ => {}
            },
        }
    }
    false
}

/// `s` without the parentheses that enclose all of it.
fn strip_parens(s: &str) -> String {
    let mut t = s.trim();
    while t.starts_with('(') && t.ends_with(')') && encloses(t) {
        t = t[1..t.len() - 1].trim();
    }
    t.to_string()
}

/// Build the flow of `target`; with an input, every node is evaluated on it
/// under the semantics given with it (an evaluation error is returned as
/// its diagnostic).
pub fn flow(
    graph: &Graph,
    sources: &SourceMap,
    target: NodeId,
    input: Option<(&[Value], Semantics)>,
) -> Result<Flow, Diag> {
    let causal = input.is_some_and(|(_, sem)| sem.is_causal());
    let analysis: LayerAnalysis = layers::analyse(graph, target);
    let drawn: Vec<(NodeId, usize)> = analysis
        .layer
        .iter()
        .copied()
        .filter(|(id, _)| *id == target || !matches!(graph.op(*id), Op::Const(_)))
        .collect();
    let is_drawn = |id: NodeId| drawn.binary_search_by_key(&id, |(n, _)| *n).is_ok();
    let titles: HashMap<NodeId, String> = drawn
        .iter()
        .map(|(id, _)| (*id, draw_title(graph, sources, *id)))
        .collect();
    // How an input is named inside an operation: its title, parenthesised
    // when it is an expression inside an expression (`indices - (length -
    // p)`), as is in a call's arguments (`aggregate(a and b, v)`).
    let label = |id: NodeId| match titles.get(&id) {
        Some(t) => t.clone(),
        None => graph.label(id),
    };
    let operand = |id: NodeId| {
        let t = label(id);
        if has_top_level_space(&t) {
            format!("({t})")
        } else {
            t
        }
    };

    // Attention heads: aggregates and selector widths by the selector they
    // attend with; the selectors of the same layer that make up that
    // selector join the first head that uses them.
    let mut head: HashMap<NodeId, usize> = HashMap::new();
    for l in 1..=analysis.n_layers {
        let heads = analysis.heads_of(graph, l);
        for &(id, layer) in &drawn {
            if layer != l {
                continue;
            }
            let Some(h) = layers::head_selector(graph, id) else {
                continue;
            };
            let k = heads
                .iter()
                .position(|x| *x == h)
                .expect("heads_of lists every head selector of its layer")
                + 1;
            head.insert(id, k);
            let mut stack: Vec<NodeId> = match graph.op(id) {
                Op::Aggregate { sel, .. } | Op::SelectorWidth(sel) => vec![*sel],
                _ => vec![],
            };
            while let Some(s) = stack.pop() {
                if analysis.layer_of(s) != Some(l) || head.contains_key(&s) {
                    continue;
                }
                head.insert(s, k);
                if let Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) = graph.op(s) {
                    stack.extend(graph.op(s).inputs());
                }
            }
        }
    }

    let mut nodes: Vec<FlowNode> = drawn
        .iter()
        .map(|&(id, layer)| {
            let op = graph.op(id);
            let title = titles.get(&id).cloned().unwrap_or_else(|| graph.label(id));
            let op_text = match op {
                Op::Length if causal => "attention over the positions up to each".to_string(),
                Op::Length => "attention over all positions".to_string(),
                Op::Map { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => {
                    op.describe_with(operand)
                }
                _ => op.describe_with(label),
            };
            let op_text = if squash(&op_text) == squash(&title) {
                String::new()
            } else {
                strip_parens(&op_text)
            };
            let mut inputs: Vec<NodeId> =
                op.inputs().into_iter().filter(|i| is_drawn(*i)).collect();
            inputs.dedup();
            FlowNode {
                id,
                title,
                op: op_text,
                kind: NodeKind::of(op),
                layer,
                inputs,
                head: head.get(&id).copied(),
                value: None,
            }
        })
        .collect();

    // The drawing's size, before it is evaluated or laid out.
    let pieces = svg::pieces(&nodes);
    Limit::Drawing.check(pieces, || {
        format!(
            "the drawing of `{}` would have {pieces} boxes and edge pieces ({} boxes)",
            titles
                .get(&target)
                .cloned()
                .unwrap_or_else(|| graph.label(target)),
            nodes.len()
        )
    })?;

    if let Some((input, sem)) = input {
        let mut values = evaluate_all(graph, sources, input, sem, &drawn)?;
        for n in &mut nodes {
            n.value = values.remove(&n.id);
        }
    }

    Ok(Flow {
        target,
        title: titles
            .get(&target)
            .cloned()
            .unwrap_or_else(|| graph.label(target)),
        input: input.map(|(i, _)| input_repr(i)),
        causal,
        nodes,
        n_layers: analysis.n_layers,
        heads: analysis.heads,
        mlps: analysis.mlps,
    })
}

/// Text with whitespace and enclosing parentheses removed, to compare an
/// operation with a title.
fn squash(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '\'' { '"' } else { c })
        .collect();
    strip_parens(&t)
}

/// Whether the first `(` of `s` closes at its last character (parentheses
/// inside string literals do not count).
fn encloses(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            },
        }
        if depth == 0 {
            return i == s.len() - 1;
        }
    }
    false
}

/// Evaluate every drawn node on `input` (selectors only when their matrix
/// will be shown: a selector's matrix is n×n).
fn evaluate_all(
    graph: &Graph,
    sources: &SourceMap,
    input: &[Value],
    sem: Semantics,
    drawn: &[(NodeId, usize)],
) -> Result<HashMap<NodeId, NodeValue>, Diag> {
    let show_matrix = input.len() <= MAX_MATRIX;
    let targets: Vec<NodeId> = drawn
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| show_matrix || graph.kind(*id) == Kind::Sop)
        .collect();
    let outputs = interp::evaluate_in(graph, input, &targets, sem)
        .map_err(|e| e.to_diag(graph, sources, input))?;
    let tokens: Vec<String> = input.iter().map(small_str).collect();
    let mut values: HashMap<NodeId, NodeValue> = targets
        .iter()
        .zip(outputs)
        .map(|(id, out)| {
            let v = match out {
                Output::Sop(col) => NodeValue::Sop {
                    text: sequence_str(&col.values),
                    ty: col.ty.name(),
                },
                Output::Selector(rows) => NodeValue::Selector {
                    tokens: tokens.clone(),
                    rows,
                },
            };
            (*id, v)
        })
        .collect();
    for (id, _) in drawn {
        values
            .entry(*id)
            .or_insert(NodeValue::LargeSelector { n: input.len() });
    }
    Ok(values)
}

mod svg;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Flow {
    /// The drawn node (its id), the s-op or selector being drawn.
    pub fn target(&self) -> NodeId {
        self.target
    }

    /// The target's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The input the values were computed on, as the REPL writes it.
    pub fn input(&self) -> Option<&str> {
        self.input.as_deref()
    }

    /// Whether the values are causal ones (RASP-L's semantics).
    pub fn causal(&self) -> bool {
        self.causal
    }

    /// The drawn nodes, in topological order. Node `i` is named `n{i}` in
    /// the DOT and SVG outputs.
    pub fn nodes(&self) -> &[FlowNode] {
        &self.nodes
    }

    /// The position of a drawn node in [`Flow::nodes`].
    pub fn index_of(&self, id: NodeId) -> Option<usize> {
        self.nodes.binary_search_by_key(&id, |n| n.id).ok()
    }

    /// The number of layers (0 when the target only reads the input).
    pub fn n_layers(&self) -> usize {
        self.n_layers
    }

    /// Attention heads per layer; index 0 is layer 1.
    pub fn heads(&self) -> &[usize] {
        &self.heads
    }

    /// Elementwise ops (MLPs) per layer; index 0 is layer 1.
    pub fn mlps(&self) -> &[usize] {
        &self.mlps
    }

    /// The title of a layer band (`layer 2 · 1 head · 3 MLPs`).
    fn band_title(&self, layer: usize) -> String {
        if layer == 0 {
            return "inputs".into();
        }
        format!(
            "layer {layer} · {} · {}",
            plural(self.heads[layer - 1], "head", "heads"),
            plural(self.mlps[layer - 1], "MLP", "MLPs")
        )
    }

    /// The subtitle: depth, heads and the input.
    fn summary(&self) -> String {
        let total: usize = self.heads.iter().sum();
        let mut s = format!(
            "{} · {}",
            plural(self.n_layers, "layer", "layers"),
            plural(total, "head", "heads")
        );
        if self.n_layers > 1 {
            let per: Vec<String> = self.heads.iter().map(usize::to_string).collect();
            write!(s, " ({} per layer)", per.join("/")).expect("writing to a String");
        }
        if let Some(input) = &self.input {
            write!(s, " · on {input}").expect("writing to a String");
            if self.causal {
                s.push_str(" (causal)");
            }
        }
        s
    }

    /// The flow as a standalone SVG document (XML declaration, embedded
    /// style sheet), laid out here: no Graphviz needed.
    pub fn to_svg(&self) -> String {
        svg::render(self)
    }

    /// The flow as Graphviz DOT: one cluster per layer (`cluster_layerN`,
    /// inputs in `cluster_inputs`), each head a dashed cluster inside its
    /// layer, edges from inputs to consumers (selector edges dashed).
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "digraph flow {{");
        let _ = writeln!(
            w,
            "  graph [rankdir=TB, newrank=true, fontname=\"Helvetica\", labelloc=t, label=\"{}\\n{}\"];",
            dot_escape(&self.title),
            dot_escape(&self.summary())
        );
        let _ = writeln!(
            w,
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];"
        );
        let _ = writeln!(w, "  edge [color=\"#6b778c\", arrowsize=0.7];");
        for layer in 0..=self.n_layers {
            let members: Vec<&FlowNode> = self.nodes.iter().filter(|n| n.layer == layer).collect();
            if members.is_empty() {
                continue;
            }
            if layer == 0 {
                let _ = writeln!(w, "  subgraph cluster_inputs {{");
                let _ = writeln!(w, "    label=\"inputs\";");
            } else {
                let _ = writeln!(w, "  subgraph cluster_layer{layer} {{");
                let _ = writeln!(
                    w,
                    "    label=\"layer {layer}: {}\";",
                    plural(self.heads[layer - 1], "head", "heads")
                );
            }
            let _ = writeln!(
                w,
                "    style=\"rounded,filled\"; fillcolor=\"{}\"; color=\"#c8ced8\";",
                if layer % 2 == 0 { "#f6f7f9" } else { "#fbfbfc" }
            );
            let n_heads = members.iter().filter_map(|n| n.head).max().unwrap_or(0);
            for k in 1..=n_heads {
                let _ = writeln!(w, "    subgraph cluster_layer{layer}_head{k} {{");
                let _ = writeln!(
                    w,
                    "      label=\"head {k}\"; style=\"dashed,rounded\"; color=\"#8a94a6\"; fillcolor=\"#ffffff\";"
                );
                for n in members.iter().filter(|n| n.head == Some(k)) {
                    let _ = writeln!(w, "      {}", self.dot_node(n));
                }
                let _ = writeln!(w, "    }}");
            }
            for n in members.iter().filter(|n| n.head.is_none()) {
                let _ = writeln!(w, "    {}", self.dot_node(n));
            }
            let _ = writeln!(w, "  }}");
        }
        for (k, n) in self.nodes.iter().enumerate() {
            for &i in &n.inputs {
                let Some(j) = self.index_of(i) else { continue };
                let style = if self.nodes[j].kind.is_selector() {
                    " [style=dashed, color=\"#d4862a\"]"
                } else {
                    ""
                };
                let _ = writeln!(w, "  n{j} -> n{k}{style};");
            }
        }
        let _ = writeln!(w, "}}");
        out
    }

    /// One node statement of the DOT output.
    fn dot_node(&self, n: &FlowNode) -> String {
        let mut label = format!("{}\\n", dot_escape(&n.title));
        if !n.op.is_empty() {
            write!(label, "{}\\n", dot_escape(&n.op)).expect("writing to a String");
        }
        match &n.value {
            None => {}
            Some(NodeValue::Sop { text, ty }) => {
                write!(label, "{}\\n", dot_escape(&format!("{text} ({ty})")))
                    .expect("writing to a String");
            }
            Some(NodeValue::LargeSelector { n }) => {
                write!(label, "({n}×{n} selector)\\n").expect("writing to a String");
            }
            Some(NodeValue::Selector { tokens, rows }) => {
                for line in matrix_lines(tokens, rows) {
                    write!(label, "{}\\l", dot_escape(&line)).expect("writing to a String");
                }
            }
        }
        let (fill, stroke) = n.kind.colours();
        let width = if n.id == self.target { 2.5 } else { 1.0 };
        // A matrix lines up only in a monospace font.
        let font = if matches!(n.value, Some(NodeValue::Selector { .. })) {
            ", fontname=\"monospace\""
        } else {
            ""
        };
        format!(
            "n{} [label=\"{label}\", fillcolor=\"{fill}\", color=\"{stroke}\", penwidth={width}{font}];",
            self.index_of(n.id).expect("a drawn node has an index")
        )
    }
}

/// The original's selector matrix as text: tokens as the header, one line
/// per query, `1` where the query selects the key.
fn matrix_lines(tokens: &[String], rows: &[Vec<bool>]) -> Vec<String> {
    let cell = tokens
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(1)
        .clamp(1, 3);
    let pad = |s: &str| {
        let s: String = s.chars().take(cell).collect();
        format!("{s:>cell$}")
    };
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let header: Vec<String> = tokens.iter().map(|t| pad(t)).collect();
    lines.push(format!("{} | {}", " ".repeat(cell), header.join(" ")));
    for (q, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|b| pad(if *b { "1" } else { "" })).collect();
        let name = tokens.get(q).map_or(String::new(), |t| pad(t));
        lines.push(
            format!("{name} | {}", cells.join(" "))
                .trim_end()
                .to_string(),
        );
    }
    lines
}

/// Make text displayable: control characters as `\xNN` (XML 1.0 cannot
/// hold most of them; DOT would break lines on them).
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else if matches!(c, '\u{fffe}' | '\u{ffff}') {
            out.push('\u{fffd}');
        } else {
            out.push(c);
        }
    }
    out
}

/// Escape text for a DOT double-quoted string.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Escape text for XML character data and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_ignores_spaces_and_outer_parentheses() {
        assert_eq!(squash("((a - b))"), "a-b");
        assert_eq!(squash("(a) - (b)"), "(a)-(b)");
        assert_eq!(squash("f(x)"), "f(x)");
        assert_eq!(squash("(a == '(')"), "a==\"(\"");
        assert_eq!(squash("(a == \")\") or (b)"), "(a==\")\")or(b)");
    }

    #[test]
    fn expressions_are_told_from_atoms() {
        assert!(has_top_level_space("length - p"));
        assert!(has_top_level_space("not select(a, b, ==)"));
        assert!(!has_top_level_space("select(a, b, ==)"));
        assert!(!has_top_level_space("\"a b\"[x]"));
        assert!(!has_top_level_space("hist"));
        assert_eq!(strip_parens(" ((a) - (b)) "), "(a) - (b)");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(xml_escape("\u{1}x"), "\\x01x");
        // Control characters are shown as `\x0a`, whose backslash DOT escapes.
        assert_eq!(dot_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\\\x0ad");
    }

    #[test]
    fn matrix_text_marks_selected_keys() {
        let tokens = vec!["a".to_string(), "b".to_string()];
        let rows = vec![vec![true, false], vec![true, true]];
        assert_eq!(
            matrix_lines(&tokens, &rows),
            vec!["  | a b", "a | 1", "b | 1 1"]
        );
    }
}
