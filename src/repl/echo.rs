//! What the session prints after an entry: the original's echoes of
//! named values (on the running example), of expressions, of loaded names,
//! `show example`, and `draw`'s files.

use std::io::Write;
use std::path::PathBuf;

use crate::diag::{Diag, codes};
use crate::front::{self, Echo, MVal};
use crate::interp::{self, Output, SeqType, display};
use crate::ir::{NodeId, Value};
use crate::syntax::ast::{ExampleTarget, ExprKind};

use super::{Repl, draw};

impl Repl {
    pub(super) fn echo(&mut self, e: &Echo, out: &mut dyn Write, err: &mut dyn Write) {
        match e {
            Echo::Assigned { name, value } => self.show_value(name, value, true, out, err),
            Echo::Defined { name, func } => {
                let _ = writeln!(
                    out,
                    "     {} function: {name}({})",
                    origin(func),
                    func.params().join(", ")
                );
            }
            Echo::Value { value, expr } => self.show_expression(value, expr, out, err),
            Echo::Loaded { names, .. } => {
                for (name, v) in names {
                    self.show_value(name, v, false, out, err);
                }
            }
            Echo::Draw { node, input, span } => self.draw(*node, input.as_deref(), *span, out, err),
            Echo::ShowExample { target } => {
                let s = &self.session.settings;
                if matches!(target, ExampleTarget::Both | ExampleTarget::Sop) {
                    let _ = writeln!(
                        out,
                        "\ts-op example: {}",
                        display::input_repr(&s.sop_example)
                    );
                }
                if matches!(target, ExampleTarget::Both | ExampleTarget::Selector) {
                    let _ = writeln!(
                        out,
                        "\tselector example: {}",
                        display::input_repr(&s.sel_example)
                    );
                }
            }
            Echo::SetExample { .. } | Echo::Examples { .. } | Echo::FullSeqDisplay { .. } => {}
            Echo::Exit | Echo::Reported(_) => {}
        }
    }

    /// The original's echo of a named value.
    fn show_value(
        &mut self,
        name: &str,
        v: &MVal,
        examples: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        match v {
            MVal::Sop(id) => {
                let _ = writeln!(out, "     s-op: {name}");
                if examples && self.session.settings.sop_examples {
                    self.sop_example(name, *id, out, err);
                }
            }
            MVal::Sel(id) => {
                let _ = writeln!(out, "     selector: {name}");
                if examples && self.session.settings.sel_examples {
                    self.sel_example(name, *id, out, err);
                }
            }
            MVal::Atom(a) => {
                let _ = writeln!(out, "    value: {name} =  {a}");
            }
            MVal::List(_) => {
                let _ = writeln!(out, "     list: {name} = {}", v.repr());
            }
            MVal::Dict(_) => {
                let _ = writeln!(out, "     dict: {name} = {}", v.repr());
            }
            MVal::Func(f) => {
                let _ = writeln!(
                    out,
                    "     {} function: {name}({})",
                    origin(f),
                    f.params().join(", ")
                );
            }
        }
    }

    fn sop_example(&mut self, name: &str, id: NodeId, out: &mut dyn Write, err: &mut dyn Write) {
        let ex = self.session.settings.sop_example.clone();
        match self.session.evaluate(id, &ex) {
            Ok(Output::Sop(col)) => {
                if self.session.settings.full_seq_display {
                    let _ = writeln!(out, " \t Example: {name}({}) =", display::input_repr(&ex));
                    let _ = write!(out, "{}", full_seq(&ex, &col.values, col.ty));
                } else {
                    let _ = writeln!(
                        out,
                        " \t Example: {name}({}) = {}",
                        display::input_repr(&ex),
                        display::column_str(&col)
                    );
                }
            }
            Ok(Output::Selector(_)) => {}
            Err(d) => {
                let _ = writeln!(
                    out,
                    " \t Example: {name}({}) failed (kept; see the warning)",
                    display::input_short(&ex, None)
                );
                self.warn(d, out, err);
            }
        }
    }

    fn sel_example(&mut self, name: &str, id: NodeId, out: &mut dyn Write, err: &mut dyn Write) {
        let ex = self.session.settings.sel_example.clone();
        match self.session.evaluate(id, &ex) {
            Ok(Output::Selector(rows)) => {
                let _ = writeln!(out, " \t Example:");
                let _ = write!(out, "{}", display::selector_matrix(&ex, &rows, " \t\t\t "));
            }
            Ok(Output::Sop(_)) => {}
            Err(d) => {
                let _ = writeln!(
                    out,
                    " \t Example: {name}({}) failed (kept; see the warning)",
                    display::input_short(&ex, None)
                );
                self.warn(d, out, err);
            }
        }
    }

    /// A failure on the running example: the definition is kept, the
    /// failure shown as a warning.
    fn warn(&mut self, d: Diag, out: &mut dyn Write, err: &mut dyn Write) {
        let d = if d.code == codes::INTERRUPTED {
            d
        } else {
            d.into_warning()
        };
        self.diag(&d, out, err);
    }

    fn show_expression(
        &mut self,
        v: &MVal,
        expr: &crate::syntax::ast::Expr,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        // `sop(input);` shows the sequence (or matrix) it computed.
        if let ExprKind::Call(f, args) = &expr.unparen().kind
            && args.len() == 1
            && let MVal::List(items) = v
        {
            let callee = self.session_eval_quiet(f);
            let input = self
                .session_eval_quiet(&args[0])
                .and_then(|a| front::to_input(&a, args[0].span).ok());
            match (callee, input) {
                (Some(MVal::Sop(_)), _) => {
                    let values: Vec<Value> = items
                        .iter()
                        .filter_map(|m| match m {
                            MVal::Atom(a) => Some(a.clone()),
                            _ => None,
                        })
                        .collect();
                    let ty = interp::seq_type(&values).ok();
                    let tag = ty.map(|t| format!(" ({})", t.name())).unwrap_or_default();
                    let _ = writeln!(out, "\t =  {}{tag}", display::sequence_str(&values));
                    return;
                }
                (Some(MVal::Sel(_)), Some(input)) => {
                    let rows: Vec<Vec<bool>> = items
                        .iter()
                        .map(|r| match r {
                            MVal::List(cells) => cells
                                .iter()
                                .map(|c| matches!(c, MVal::Atom(Value::Bool(true))))
                                .collect(),
                            _ => Vec::new(),
                        })
                        .collect();
                    let _ = writeln!(out, "\t = ");
                    let _ = write!(
                        out,
                        "{}",
                        display::selector_matrix(&input, &rows, " \t\t\t ")
                    );
                    return;
                }
                _ => {}
            }
        }
        let name = match v {
            MVal::Func(f) => f.name().to_string(),
            _ => "out".to_string(),
        };
        self.show_value(&name, v, true, out, err);
    }

    /// Evaluate a side-effect-free expression again (to learn what a call's
    /// callee was); `None` on any error.
    fn session_eval_quiet(&mut self, e: &crate::syntax::ast::Expr) -> Option<MVal> {
        self.session.eval_expr(e, &self.scope).ok()
    }

    fn draw(
        &mut self,
        node: NodeId,
        input: Option<&[Value]>,
        _span: crate::diag::Span,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) {
        let input = input
            .map(<[Value]>::to_vec)
            .unwrap_or_else(|| self.session.settings.sop_example.clone());
        let name = interp::node_title(&self.session.graph, &self.session.sources, node);
        match self.draw_files(node, &name, &input) {
            Ok(svg) => {
                let _ = writeln!(out, "\tdrawn: {}", svg.display());
            }
            Err(d) => self.diag(&d, out, err),
        }
    }

    fn draw_files(&self, node: NodeId, name: &str, input: &[Value]) -> Result<PathBuf, Diag> {
        self.session.check_input_len(input)?;
        let flow = draw::flow(
            &self.session.graph,
            &self.session.sources,
            node,
            Some((input, self.session.settings.semantics)),
        )?;
        let dir = self.draw_dir.as_path();
        std::fs::create_dir_all(dir).map_err(|e| {
            Diag::error(
                codes::LOAD_IO,
                format!("could not create {}: {e}", dir.display()),
            )
        })?;
        let stem = file_stem(name, input);
        let svg = dir.join(format!("{stem}.svg"));
        let dot = dir.join(format!("{stem}.dot"));
        let inputs = self.session.read_files();
        for (path, text) in [(&svg, flow.to_svg()), (&dot, flow.to_dot())] {
            let dest = crate::fsio::target::output(path, &inputs, "the drawing")?;
            crate::fsio::write_file(&dest, text.as_bytes(), codes::OUTPUT_WRITE)?;
        }
        Ok(svg)
    }
}

/// Where a function was defined, as the original names it: `console` for
/// the prompt, else the file's stem.
fn origin(f: &front::Func) -> String {
    match f {
        front::Func::User(u) if u.origin.starts_with("<repl") => "console".to_string(),
        front::Func::User(u) => u.origin.to_string(),
        front::Func::SelectorWidth | front::Func::Hint(_) => "rasplib".to_string(),
    }
}

/// For `for` loops at the prompt, show each name once, with its final value.
pub(super) fn dedup_loop_echoes(echoes: &[Echo]) -> Vec<&Echo> {
    // From the end: an assignment is shown unless a later one has its name.
    let mut later: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out: Vec<&Echo> = echoes
        .iter()
        .rev()
        .filter(|e| match e {
            Echo::Assigned { name, .. } => later.insert(name),
            _ => true,
        })
        .collect();
    out.reverse();
    out
}

/// The full-sequence display: input and output aligned in columns.
fn full_seq(input: &[Value], values: &[Value], ty: SeqType) -> String {
    let ins: Vec<String> = input.iter().map(display::small_str).collect();
    let outs: Vec<String> = values.iter().map(display::small_str).collect();
    let widths: Vec<usize> = ins
        .iter()
        .zip(&outs)
        .map(|(a, b)| a.chars().count().max(b.chars().count()))
        .collect();
    let row = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        " \t \t in:  {}\n \t \t out: {}  ({})\n",
        row(&ins).trim_end(),
        row(&outs).trim_end(),
        ty.name()
    )
}

/// A drawing's file name: `NAME-INPUT`, with nothing a shell would
/// interpret (letters, digits, `_`, `-`, `.` only; runs of anything else
/// become one `_`), the input cut to 40 characters (then its length
/// follows).
fn file_stem(name: &str, input: &[Value]) -> String {
    fn clean(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            let c = if c.is_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            };
            if !(c == '_' && out.ends_with('_')) {
                out.push(c);
            }
        }
        out.trim_matches(['_', '.']).to_string()
    }
    let name = match clean(name) {
        n if n.is_empty() => "flow".to_string(),
        n => n,
    };
    let text = clean(&display::input_repr(input));
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        return format!(
            "{name}-{}-{}",
            cut.trim_end_matches(['_', '.']),
            input.len()
        );
    }
    format!("{name}-{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_file_names_have_no_shell_metacharacters() {
        let strs =
            |s: &str| -> Vec<Value> { s.chars().map(|c| Value::str(&c.to_string())).collect() };
        assert_eq!(file_stem("hist", &strs("hello")), "hist-hello");
        assert_eq!(file_stem("a + b", &strs("§x'y")), "a_b-x_y");
        let long = file_stem("rev", &strs(&"ab;".repeat(100)));
        assert_eq!(long, format!("rev-{}-300", "ab_".repeat(13) + "a"));
        for stem in [
            long,
            file_stem("(x)", &[Value::Int(1), Value::str("$(rm -rf)")]),
        ] {
            assert!(
                stem.chars()
                    .all(|c| c.is_alphanumeric() || "_-.".contains(c)),
                "{stem}"
            );
        }
    }
}
