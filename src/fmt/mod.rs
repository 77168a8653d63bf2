//! `rasp fmt`: programs printed in one style (`print.rs`: four-space
//! bodies, one statement per line, spaces around operators, long
//! expressions broken at their outermost operators; `doc.rs`: the layout
//! to 100 columns), every comment kept.
//!
//! The formatter never changes what a program computes: its output is
//! parsed again and must give the same syntax tree (spans aside) and the
//! same comments in the same order, or nothing is written
//! (`rasp::fmt::internal`). Formatting the output again changes nothing.

mod doc;
mod print;

use crate::diag::{Diag, FileId, Span, codes};
use crate::syntax::{self, ast::Stmt};

/// The formatted text of a program; its syntax errors (nothing is
/// formatted then), or a refusal when the result would differ from the
/// program (a bug).
pub fn format(src: &str, file: FileId) -> Result<String, Vec<Diag>> {
    let parsed = syntax::parse_file(src, file);
    if parsed.diags.iter().any(Diag::is_error) {
        return Err(parsed.diags);
    }
    let out = print::Printer::new(src, parsed.comments.clone()).file(&parsed.stmts);
    check_same(src, &parsed.stmts, &parsed.comments, &out).map_err(|why| {
        vec![
            Diag::error(
                codes::FMT_INTERNAL,
                format!("the formatted program would differ from the original ({why}); nothing was written"),
            )
            .at(Span::new(file, 0, 0))
            .label("in this file")
            .help("this is a bug in rasp fmt; please report it with the program"),
        ]
    })?;
    Ok(out)
}

/// The output parses, to the same tree and the same comments.
fn check_same(src: &str, stmts: &[Stmt], comments: &[Span], out: &str) -> Result<(), String> {
    let again = syntax::parse_file(out, 0);
    if let Some(d) = again.diags.iter().find(|d| d.is_error()) {
        return Err(format!("it does not parse: {}", d.message));
    }
    if canonical(stmts) != canonical(&again.stmts) {
        return Err("its syntax tree is not the same".into());
    }
    // Each comment's text, and whether it starts its line (`# test:`
    // declarations are comments that do).
    let texts = |text: &str, cs: &[Span]| -> Vec<(String, bool)> {
        cs.iter()
            .map(|&c| {
                let t = text[c.start as usize..c.end as usize]
                    .trim_end()
                    .to_string();
                (t, starts_line(text, c))
            })
            .collect()
    };
    if texts(src, comments) != texts(out, &again.comments) {
        return Err("its comments are not the same, or not where they were".into());
    }
    Ok(())
}

/// Whether a comment is the first thing on its line (a byte-order mark
/// aside).
fn starts_line(text: &str, c: Span) -> bool {
    let before = &text[..c.start as usize];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    line.chars()
        .all(|ch| ch.is_whitespace() || ch == '\u{feff}')
}

/// The syntax tree as text, every span left out.
fn canonical(stmts: &[Stmt]) -> String {
    let debug = format!("{stmts:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::print::WIDTH;
    use super::*;

    fn fmt(src: &str) -> String {
        let out = format(src, 0).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(format(&out, 0).expect("formats again"), out, "idempotent");
        out
    }

    #[test]
    fn spacing_statements_and_bodies() {
        assert_eq!(fmt("x=1+2*3;y  =x ;"), "x = 1 + 2 * 3;\ny = x;\n");
        assert_eq!(
            fmt("def f(a,b){c=a+b;return c,a;}"),
            "def f(a, b) {\n    c = a + b;\n    return c, a;\n}\n"
        );
        assert_eq!(
            fmt("for i in range(3) { x = x+i; }"),
            "for i in range(3) {\n    x = x + i;\n}\n"
        );
        assert_eq!(
            fmt("s = select( tokens,tokens , == );h=selector_width(s);"),
            "s = select(tokens, tokens, ==);\nh = selector_width(s);\n"
        );
        assert_eq!(
            fmt("y = - -x; z = not(a)and b;"),
            "y = - -x;\nz = not (a) and b;\n"
        );
        assert_eq!(
            fmt("l = [ i*2 for i in range( 3 ) ]; d = {\"a\":1};"),
            "l = [i * 2 for i in range(3)];\nd = {\"a\": 1};\n"
        );
        assert_eq!(
            fmt("load \"lib\" ;draw(x,\"ab\");"),
            "load \"lib\";\ndraw(x, \"ab\");\n"
        );
        // A variable named like a form keeps its space before `(`.
        assert_eq!(
            fmt("n = len ([1]); m = len([1]);"),
            "n = len ([1]);\nm = len([1]);\n"
        );
        assert_eq!(
            fmt(
                "set s-op example [1,2]\nshow example\nselector examples off\nfull  seq display on\nexit"
            ),
            "set s-op example [1, 2];\nshow example\nselector examples off\nfull seq display on\nexit\n"
        );
    }

    #[test]
    fn comments_and_blank_lines_are_kept() {
        let src = "# head\n\n\n# about x\nx = 1; # one\ny = 2;\n\n\n\ndef f(a) { # opens\n    # inside\n    b = a;\n\n    return b; # the result\n    # before the end\n} # after\n# tail\n";
        let want = "# head\n\n# about x\nx = 1;  # one\ny = 2;\n\ndef f(a) {  # opens\n    # inside\n    b = a;\n\n    return b;  # the result\n    # before the end\n}  # after\n# tail\n";
        assert_eq!(fmt(src), want);
        // A comment inside an expression keeps the statement as written.
        let src = "z = [1, # first\n     2];\nw=3;";
        assert_eq!(fmt(src), "z = [1, # first\n     2];\nw = 3;\n");
        // Two statements on a line, the comment goes with the second.
        assert_eq!(fmt("a = 1; b = 2; # b\n"), "a = 1;\nb = 2;  # b\n");
        // A comment after code never starts a line (it could become a
        // `# test:` declaration); trailing spaces go; blank lines are empty.
        assert_eq!(
            fmt("x = tokens;\n; # test: \"hi\"\n"),
            "x = tokens;  # test: \"hi\"\n"
        );
        assert_eq!(
            fmt("def f(a) { # test: \"hello\"\n return a; }"),
            "def f(a) {  # test: \"hello\"\n    return a;\n}\n"
        );
        assert_eq!(fmt("x = 1; # c \r\n"), "x = 1;  # c\n");
        assert_eq!(fmt("z = [1, # c\n\n 2];"), "z = [1, # c\n\n 2];\n");
    }

    #[test]
    fn long_expressions_break_at_their_outermost_operators() {
        let src = "_outranks = _firsts and (select(hist_nobos, hist_nobos, >) or (select(hist_nobos, hist_nobos, ==) and select(indices, indices, <)));";
        let out = fmt(src);
        assert!(out.lines().all(|l| l.len() <= WIDTH), "{out}");
        assert_eq!(
            out,
            "_outranks = _firsts\n    and (\n        select(hist_nobos, hist_nobos, >)\n        or (select(hist_nobos, hist_nobos, ==) and select(indices, indices, <))\n    );\n"
        );
        let args = (0..30)
            .map(|i| format!("arg{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let out = fmt(&format!("x = f({args});"));
        assert!(out.starts_with("x = f(\n    arg0,\n    arg1,\n"), "{out}");
        // set example is never broken (the end of its line ends it).
        let long = format!(
            "set example [{}]",
            (0..60)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(fmt(&long).lines().count(), 1);
    }

    #[test]
    fn syntax_errors_are_reported_not_formatted() {
        let e = format("x = (1;", 0).expect_err("a syntax error");
        assert_eq!(e[0].code, codes::PARSE_UNEXPECTED);
    }

    #[test]
    fn the_safety_net_compares_trees_without_spans() {
        let a = syntax::parse_file("x = (1 + 2);", 0).stmts;
        let b = syntax::parse_file("x  =  ( 1+2 ) ;", 0).stmts;
        let c = syntax::parse_file("x = 1 + 2;", 0).stmts;
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(canonical(&a), canonical(&c), "parentheses count");
    }
}
