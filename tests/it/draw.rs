//! `draw`: the computation flow of programs as DOT and as SVG. The SVG must
//! be well-formed XML naming every node, with one band per layer and no
//! overlapping boxes; the DOT must name every node and have one cluster per
//! layer.

use std::path::Path;

use rasp::front::{MVal, Session, value::lookup};
use rasp::interp::Semantics::{self, Bidirectional, Causal};
use rasp::ir::Value;
use rasp::repl::draw::{self, Flow, NodeKind, NodeValue};

fn chars(s: &str) -> Vec<Value> {
    s.chars().map(|c| Value::str(&c.to_string())).collect()
}

/// An input evaluated bidirectionally.
fn bidi(input: Option<&[Value]>) -> Option<(&[Value], Semantics)> {
    input.map(|i| (i, Bidirectional))
}

/// Run `src` and build the flow of `name` (on `input`, if given).
fn flow_of(src: &str, name: &str, input: Option<&str>) -> Flow {
    let mut s = Session::new();
    let scope = s.new_scope();
    let r = s.run_source("test.rasp", src, &scope, None);
    assert!(r.diags.is_empty(), "{:?}", r.diags);
    let id = match lookup(&scope, name) {
        Some(MVal::Sop(id) | MVal::Sel(id)) => id,
        other => panic!("{name} is not an s-op: {other:?}"),
    };
    let input = input.map(chars);
    draw::flow(&s.graph, &s.sources, id, bidi(input.as_deref())).expect("the program evaluates")
}

/// The flow of `name` in examples/paper.rasp.
fn paper_flow(name: &str, input: Option<&str>) -> Flow {
    let mut s = Session::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/paper.rasp");
    let (scope, r) = s.run_path(&path).expect("paper.rasp reads");
    assert!(r.diags.is_empty(), "{:?}", r.diags);
    let Some(MVal::Sop(id)) = lookup(&scope, name) else {
        panic!("{name} is not an s-op");
    };
    let input = input.map(chars);
    draw::flow(&s.graph, &s.sources, id, bidi(input.as_deref())).expect("the program evaluates")
}

/// A box: x, y, width, height.
type Rect = (f64, f64, f64, f64);

fn attr(node: roxmltree::Node, name: &str) -> f64 {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a number: {e}"))
}

fn has_class(node: roxmltree::Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

/// Parse the SVG and check what every drawing must satisfy; returns the
/// contents of its `<text>` elements.
fn check_svg(flow: &Flow) -> Vec<String> {
    let svg = flow.to_svg();
    assert!(svg.starts_with("<?xml "), "an XML declaration first");
    let doc = roxmltree::Document::parse(&svg)
        .unwrap_or_else(|e| panic!("the SVG is not well-formed XML: {e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let (width, height) = (attr(root, "width"), attr(root, "height"));
    assert_eq!(
        root.attribute("viewBox"),
        Some(
            format!(
                "0 0 {} {}",
                root.attribute("width").unwrap_or(""),
                root.attribute("height").unwrap_or("")
            )
            .as_str()
        )
    );
    assert!(
        root.children().any(|n| n.has_tag_name("style")),
        "an embedded style sheet"
    );

    // One band per layer (and one for the inputs when any are drawn).
    let bands: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && has_class(*n, "band"))
        .collect();
    let layers = bands.iter().filter(|n| has_class(**n, "layer")).count();
    assert_eq!(layers, flow.n_layers(), "one band per layer");
    let inputs = bands.iter().filter(|n| has_class(**n, "inputs")).count();
    let has_inputs = flow.nodes().iter().any(|n| n.layer == 0);
    assert_eq!(inputs, usize::from(has_inputs));
    for l in 1..=flow.n_layers() {
        assert!(
            bands
                .iter()
                .any(|b| b.attribute("id") == Some(&format!("layer-{l}"))),
            "a band for layer {l}"
        );
    }

    // Every node is drawn once, as a box inside the page; no two overlap.
    let mut rects: Vec<(String, Rect)> = Vec::new();
    for (i, n) in flow.nodes().iter().enumerate() {
        let id = format!("n{i}");
        let groups: Vec<roxmltree::Node> = doc
            .descendants()
            .filter(|g| g.has_tag_name("g") && g.attribute("id") == Some(id.as_str()))
            .collect();
        assert_eq!(groups.len(), 1, "node {id} ({}) is drawn once", n.title);
        let g = groups[0];
        assert!(has_class(g, "node"));
        let rect = g
            .children()
            .find(|c| c.has_tag_name("rect"))
            .expect("a node is a box");
        let r = (
            attr(rect, "x"),
            attr(rect, "y"),
            attr(rect, "width"),
            attr(rect, "height"),
        );
        assert!(r.0 >= 0.0 && r.1 >= 0.0, "{id} inside the page");
        assert!(
            r.0 + r.2 <= width && r.1 + r.3 <= height,
            "{id} inside the page"
        );
        rects.push((n.title.clone(), r));
    }
    for (i, (ta, a)) in rects.iter().enumerate() {
        for (tb, b) in &rects[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "boxes of `{ta}` {a:?} and `{tb}` {b:?} overlap");
        }
    }

    // An edge per input, each with an arrowhead.
    let edges: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("path") && has_class(*n, "edge") && n.attribute("data-to").is_some()
        })
        .collect();
    let n_inputs: usize = flow.nodes().iter().map(|n| n.inputs.len()).sum();
    assert_eq!(edges.len(), n_inputs);
    assert!(edges.iter().all(|e| e.attribute("marker-end").is_some()));

    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// Check the DOT output: every node named and declared, one cluster per
/// layer, an edge per input.
fn check_dot(flow: &Flow) -> String {
    let dot = flow.to_dot();
    assert!(dot.starts_with("digraph "));
    assert!(dot.trim_end().ends_with('}'));
    for (i, n) in flow.nodes().iter().enumerate() {
        assert_eq!(flow.index_of(n.id), Some(i));
        assert_eq!(
            dot.matches(&format!("n{i} [label=")).count(),
            1,
            "node {} declared once",
            n.title
        );
    }
    let clusters = dot
        .lines()
        .filter(|l| l.trim_start().starts_with("subgraph cluster_layer") && !l.contains("_head"))
        .count();
    assert_eq!(clusters, flow.n_layers(), "one cluster per layer:\n{dot}");
    let n_inputs: usize = flow.nodes().iter().map(|n| n.inputs.len()).sum();
    assert_eq!(dot.matches(" -> ").count(), n_inputs);
    // Braces balance outside quoted strings.
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for c in dot.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '{' if !in_str => depth += 1,
            '}' if !in_str => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0);
    }
    assert_eq!((depth, in_str), (0, false), "balanced braces and quotes");
    dot
}

fn titles(flow: &Flow) -> Vec<&str> {
    flow.nodes().iter().map(|n| n.title.as_str()).collect()
}

#[test]
fn histogram() {
    let f = flow_of(
        "hist = selector_width(select(tokens, tokens, ==));",
        "hist",
        Some("hello"),
    );
    assert_eq!(f.n_layers(), 1);
    assert_eq!(f.heads(), &[1]);
    assert_eq!(
        titles(&f),
        vec!["tokens", "select(tokens, tokens, ==)", "hist"]
    );
    let texts = check_svg(&f);
    for t in [
        "hist",
        "tokens",
        "select(tokens, tokens, ==)",
        "[1, 1, 2, 2, 1] (ints)",
    ] {
        assert!(texts.iter().any(|x| x == t), "`{t}` is a <text>: {texts:?}");
    }
    check_dot(&f);
    // The selector's value is its matrix; the head groups the select and
    // the selector width.
    let sel = &f.nodes()[1];
    assert_eq!(sel.kind, NodeKind::Select);
    assert_eq!(sel.head, Some(1));
    assert_eq!(f.nodes()[2].head, Some(1));
    let Some(NodeValue::Selector { rows, .. }) = &sel.value else {
        panic!("a selector value: {:?}", sel.value);
    };
    assert_eq!(rows[2], vec![false, false, true, true, false]);
}

#[test]
fn histogram_dot_snapshot() {
    let f = flow_of(
        "hist = selector_width(select(tokens, tokens, ==));",
        "hist",
        Some("hey"),
    );
    insta::assert_snapshot!("hist_dot", check_dot(&f));
}

#[test]
fn library_sort() {
    let f = flow_of("sorted = sort(tokens, tokens);", "sorted", Some("hello"));
    assert_eq!(f.n_layers(), 2);
    assert_eq!(f.heads(), &[1, 1]);
    let texts = check_svg(&f);
    for t in [
        "sorted",
        "goes_before",
        "target",
        "tokens",
        "indices",
        "[e, h, l, l, o] (strings)",
    ] {
        assert!(texts.iter().any(|x| x == t), "`{t}` is a <text>: {texts:?}");
    }
    check_dot(&f);
    let layer_of = |t: &str| {
        f.nodes()
            .iter()
            .find(|n| n.title == t)
            .map(|n| n.layer)
            .unwrap_or_else(|| panic!("no node {t}"))
    };
    assert_eq!(layer_of("goes_before"), 1);
    assert_eq!(layer_of("target"), 1);
    assert_eq!(layer_of("sorted"), 2);
}

const DYCK: &str = r#"
upto = select(indices, indices, <=);
opens = aggregate(upto, indicator(tokens == "("));
closes = aggregate(upto, indicator(tokens == ")"));
balance = opens - closes;
same = select(balance, balance, ==) and not select(indices, indices, ==);
either = same or select(tokens, "(", ==);
paired = selector_width(either and upto);
"#;

#[test]
fn dyck_style_selector_combinators() {
    let f = flow_of(DYCK, "paired", Some("(()"));
    assert_eq!(f.n_layers(), 2);
    // `opens` and `closes` attend with one selector: one head.
    assert_eq!(f.heads(), &[1, 1]);
    let kinds = |k: NodeKind| f.nodes().iter().filter(|n| n.kind == k).count();
    assert_eq!(kinds(NodeKind::SelectorCombinator), 4);
    assert_eq!(kinds(NodeKind::Select), 4);
    assert_eq!(kinds(NodeKind::SelectorWidth), 1);
    let texts = check_svg(&f);
    for t in [
        "upto", "opens", "closes", "balance", "same", "either", "paired",
    ] {
        assert!(texts.iter().any(|x| x == t), "`{t}` is a <text>: {texts:?}");
    }
    check_dot(&f);
    // Constants are folded into the select that uses them.
    let inputs: Vec<&str> = f
        .nodes()
        .iter()
        .filter(|n| n.kind == NodeKind::Input)
        .map(|n| n.title.as_str())
        .collect();
    assert_eq!(inputs, vec!["tokens", "indices"]);
    assert!(titles(&f).contains(&"select(tokens, \"(\", ==)"));
    // An unnamed node's operation is not repeated under its source text.
    let opens_in = f
        .nodes()
        .iter()
        .find(|n| n.title == "tokens == \"(\"")
        .expect("a node");
    assert_eq!(opens_in.op, "");
    let either = f
        .nodes()
        .iter()
        .find(|n| n.title == "either")
        .expect("a node");
    assert_eq!(either.op, "same or select(tokens, \"(\", ==)");
}

#[test]
fn paper_dyck2() {
    let f = paper_flow("dyck2_ptf", Some("({)}"));
    assert_eq!(f.n_layers(), 4);
    let texts = check_svg(&f);
    for t in [
        "dyck2_ptf",
        "depth",
        "same_level",
        "nth_at_level",
        "previous_at_level",
        "broken",
    ] {
        assert!(texts.iter().any(|x| x == t), "`{t}` is a <text>");
    }
    check_dot(&f);
    // Without an input there are no values.
    let f = paper_flow("dyck2_ptf", None);
    assert!(f.nodes().iter().all(|n| n.value.is_none()));
    check_svg(&f);
    check_dot(&f);
}

#[test]
fn markup_in_strings_is_escaped() {
    let src = r#"
amp = tokens == "<&>";
picks = select(tokens, "<a href='x'>", ==) or select(tokens, "&", ==);
marked = aggregate(picks, indicator(amp), 0);
"#;
    let f = flow_of(src, "marked", Some("<&>'\""));
    let svg = f.to_svg();
    assert!(svg.contains("&lt;&amp;&gt;"));
    assert!(svg.contains("&apos;"));
    let texts = check_svg(&f);
    // Operations show atoms as Python reprs, as the REPL does.
    assert!(texts.iter().any(|t| t == "tokens == '<&>'"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("<a href='x'>")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "\""),
        "the input token `\"` labels the matrix"
    );
    let dot = check_dot(&f);
    assert!(
        dot.contains(r#"select(tokens, \"<a href='x'>\", ==)"#),
        "{dot}"
    );
}

#[test]
fn control_characters_stay_valid_xml() {
    let f = flow_of("x = tokens + \"!\";", "x", Some("a\u{1}\u{7}\tb"));
    let texts = check_svg(&f);
    assert!(texts.iter().any(|t| t.contains("\\x01")), "{texts:?}");
    check_dot(&f);
}

#[test]
fn inputs_only_and_selector_targets() {
    let f = flow_of("x = indices * 2 + 1;", "x", Some("ab"));
    assert_eq!(f.n_layers(), 0);
    assert!(f.heads().is_empty());
    check_svg(&f);
    check_dot(&f);

    let f = flow_of(
        "s = select(indices, indices, <) and select(tokens, tokens, ==);",
        "s",
        Some("aab"),
    );
    assert_eq!(f.n_layers(), 1);
    assert_eq!(f.heads(), &[0]);
    check_svg(&f);
    check_dot(&f);

    // `length` is attention over the full selector, as `full_s` is.
    let f = flow_of("m = aggregate(full_s, indices) + length;", "m", None);
    assert_eq!(f.heads(), &[1]);
    check_svg(&f);
    check_dot(&f);
}

#[test]
fn long_inputs_skip_matrices() {
    let input = "abcdefghijklmnopqrstuvwxyz".repeat(2);
    let f = flow_of(
        "hist = selector_width(select(tokens, tokens, ==));",
        "hist",
        Some(&input),
    );
    let sel = &f.nodes()[1];
    assert_eq!(sel.value, Some(NodeValue::LargeSelector { n: 52 }));
    let texts = check_svg(&f);
    assert!(
        texts.iter().any(|t| t.contains('…')),
        "long values are cut: {texts:?}"
    );
}

#[test]
fn evaluation_errors_are_diagnostics() {
    let mut s = Session::new();
    let scope = s.new_scope();
    let r = s.run_source("t.rasp", "bad = 10 / (tokens_int - 1);", &scope, None);
    assert!(r.diags.is_empty());
    let Some(MVal::Sop(id)) = lookup(&scope, "bad") else {
        panic!("bad is an s-op");
    };
    let err =
        draw::flow(&s.graph, &s.sources, id, bidi(Some(&chars("312")))).expect_err("1 - 1 = 0");
    assert_eq!(err.code, "rasp::eval::division_by_zero");
    let err = draw::flow(&s.graph, &s.sources, id, bidi(Some(&[]))).expect_err("empty input");
    assert_eq!(err.code, "rasp::eval::empty_input");
    // Without an input nothing is evaluated.
    assert!(draw::flow(&s.graph, &s.sources, id, None).is_ok());
}

#[test]
fn every_example_draws() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (file, input) in [("paper.rasp", "(a{b)}c"), ("addition.rasp", "123+989")] {
        let mut s = Session::new();
        let (scope, r) = s.run_path(&dir.join(file)).expect("the example reads");
        assert!(r.diags.is_empty(), "{:?}", r.diags);
        let names: Vec<String> = scope.borrow().names().to_vec();
        for name in names {
            let id = match lookup(&scope, &name) {
                Some(MVal::Sop(id) | MVal::Sel(id)) => id,
                _ => continue,
            };
            let input = chars(input);
            // Programs for a BOS input may fail on this one: draw them
            // without values then.
            let f = draw::flow(&s.graph, &s.sources, id, bidi(Some(&input)))
                .or_else(|_| draw::flow(&s.graph, &s.sources, id, None))
                .expect("a flow without an input always builds");
            let texts = check_svg(&f);
            assert!(
                texts.iter().any(|t| t == f.title()),
                "{file}: {name} titled"
            );
            check_dot(&f);
        }
    }
}

#[test]
fn operations_keep_their_grouping() {
    let f = flow_of(
        "p = indices + 1; d = indices - (length - p);",
        "d",
        Some("ab"),
    );
    let d = f.nodes().last().expect("the target is drawn");
    assert_eq!(d.title, "d");
    assert_eq!(d.op, "indices - (length - p)");
    let inner = f
        .nodes()
        .iter()
        .find(|n| n.title == "length - p")
        .expect("unnamed, titled by its source");
    assert_eq!(inner.op, "");
}

#[test]
fn spaces_in_values_are_kept() {
    let f = flow_of("x = tokens;", "x", Some("a  b"));
    let texts = check_svg(&f);
    assert!(
        texts.iter().any(|t| t == "[a,  ,  , b] (strings)"),
        "{texts:?}"
    );
}

#[test]
fn call_arguments_are_not_parenthesised() {
    let f = flow_of(
        "s = aggregate(select(indices, indices, <) and select(tokens, tokens, ==), indices);",
        "s",
        None,
    );
    let s = f.nodes().last().expect("the target is drawn");
    assert_eq!(
        s.op,
        "aggregate(select(indices, indices, <) and select(tokens, tokens, ==), indices, 0)"
    );
}

/// A causal drawing (`rasp draw --causal`, the REPL under `:set causal
/// on`) shows the causal values and says so; the same program drawn
/// bidirectionally shows the others.
#[test]
fn causal_values_are_drawn_as_causal() {
    let src = "last = aggregate(select(indices, length - 1, ==), tokens);";
    let mut s = Session::new();
    let scope = s.new_scope();
    assert!(s.run_source("t.rasp", src, &scope, None).diags.is_empty());
    let Some(MVal::Sop(id)) = lookup(&scope, "last") else {
        panic!("last is an s-op");
    };
    let input = chars("abc");
    let value = |f: &Flow, title: &str| {
        let n = f.nodes().iter().find(|n| n.title == title).expect(title);
        n.value.clone()
    };
    let causal = draw::flow(&s.graph, &s.sources, id, Some((&input, Causal))).expect("draws");
    let both = draw::flow(&s.graph, &s.sources, id, bidi(Some(&input))).expect("draws");
    assert!(causal.causal() && !both.causal());
    let sop = |text: &str| {
        Some(NodeValue::Sop {
            text: text.into(),
            ty: "strings",
        })
    };
    assert_eq!(value(&causal, "last"), sop("[a, b, c]"));
    assert_eq!(value(&both, "last"), sop("[c]*3"));
    // Each query sees the keys up to itself: the diagonal, not the last
    // column.
    let sel = causal
        .nodes()
        .iter()
        .find(|n| n.kind == NodeKind::Select)
        .expect("the select is drawn");
    let Some(NodeValue::Selector { rows, .. }) = &sel.value else {
        panic!("a selector value: {:?}", sel.value);
    };
    assert_eq!(rows[0], vec![true, false, false]);
    assert!(check_dot(&causal).contains("on \\\"abc\\\" (causal)"));
    assert!(!check_dot(&both).contains("(causal)"));
    check_svg(&causal);
}
