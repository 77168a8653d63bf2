use super::ast::*;
use super::*;

/// A compact rendering of an expression tree for assertions.
fn sx(e: &Expr) -> String {
    let list = |v: &[Expr]| v.iter().map(sx).collect::<Vec<_>>().join(" ");
    let names = |v: &[Ident]| {
        v.iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Var(v) => v.clone(),
        ExprKind::List(v) => format!("[{}]", list(v)),
        ExprKind::Dict(v) => format!(
            "{{{}}}",
            v.iter()
                .map(|(k, v)| format!("{}:{}", sx(k), sx(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ExprKind::ListComp {
            elem,
            names: n,
            iter,
        } => {
            format!("[{} for {} in {}]", sx(elem), names(n), sx(iter))
        }
        ExprKind::DictComp {
            key,
            value,
            names: n,
            iter,
        } => format!(
            "{{{}:{} for {} in {}}}",
            sx(key),
            sx(value),
            names(n),
            sx(iter)
        ),
        ExprKind::Select { keys, queries, op } => {
            format!("(select {} {} {})", sx(keys), sx(queries), op.symbol())
        }
        ExprKind::Aggregate(v) => format!("(aggregate {})", list(v)),
        ExprKind::Range(v) => format!("(range {})", list(v)),
        ExprKind::Zip(v) => format!("(zip {})", list(v)),
        ExprKind::Len(v) => format!("(len {})", list(v)),
        ExprKind::Round(e) => format!("(round {})", sx(e)),
        ExprKind::Indicator(e) => format!("(indicator {})", sx(e)),
        ExprKind::Index(a, i) => format!("(idx {} {})", sx(a), sx(i)),
        ExprKind::Call(f, v) if v.is_empty() => format!("(call {})", sx(f)),
        ExprKind::Call(f, v) => format!("(call {} {})", sx(f), list(v)),
        ExprKind::Unary(op, e) => format!("({} {})", op.symbol(), sx(e)),
        ExprKind::Binary(op, l, r) => format!("({} {} {})", op.symbol(), sx(l), sx(r)),
        ExprKind::Cond {
            then,
            cond,
            otherwise,
        } => format!("(ifelse {} {} {})", sx(then), sx(cond), sx(otherwise)),
        ExprKind::In(a, b) => format!("(in {} {})", sx(a), sx(b)),
        // Grouping shows in the structure already.
        ExprKind::Paren(e) => sx(e),
    }
}

fn parse_ok(src: &str) -> Vec<Stmt> {
    let (stmts, diags) = parse_program(src, 3);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics for {src:?}: {diags:#?}"
    );
    stmts
}

/// Parse `src` as one expression statement and render it.
fn expr(src: &str) -> String {
    let stmts = parse_ok(&format!("{src};"));
    assert_eq!(stmts.len(), 1, "{src}");
    match &stmts[0].kind {
        StmtKind::Expr(e) => sx(e),
        other => panic!("not an expression statement: {other:?}"),
    }
}

fn diags(src: &str) -> Vec<Diag> {
    parse_program(src, 0).1
}

fn codes_of(src: &str) -> Vec<&'static str> {
    diags(src).iter().map(|d| d.code).collect()
}

#[test]
fn precedence() {
    let cases = [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("2 ^ 3 ^ 2", "(^ (^ 2 3) 2)"),
        ("-2^2", "(^ (- 2) 2)"),
        ("- 2 ^ 2", "(^ (- 2) 2)"),
        ("not x == 1", "(== (not x) 1)"),
        ("not tokens == \"a\"", "(== (not tokens) \"a\")"),
        ("+x * -y", "(* (+ x) (- y))"),
        ("7 % 3 * 2", "(% 7 (* 3 2))"),
        ("t % 3 * 2", "(% t (* 3 2))"),
        ("a * b % c", "(% (* a b) c)"),
        ("a + b % c", "(+ a (% b c))"),
        ("a / b * c", "(* (/ a b) c)"),
        ("t < 5 < 1", "(< (< t 5) 1)"),
        ("a + 1 == b * 2", "(== (+ a 1) (* b 2))"),
        ("1 or 0 and 0", "(and (or 1 0) 0)"),
        ("a == 1 and b <= 2", "(and (== a 1) (<= b 2))"),
        (
            "a if c1 else b if c2 else d",
            "(ifelse (ifelse a c1 b) c2 d)",
        ),
        ("a if x in y else b", "(ifelse a (in x y) b)"),
        ("a if c else b and d", "(ifelse a c (and b d))"),
        ("a or b if c else d", "(ifelse (or a b) c d)"),
        ("x in a if c else b", "(in x (ifelse a c b))"),
        ("t in [1] + [3]", "(in t (+ [1] [3]))"),
        (
            "\"a\" in tokens or \"e\" in tokens",
            "(in (in \"a\" (or tokens \"e\")) tokens)",
        ),
        ("a in b in c", "(in (in a b) c)"),
        ("-f(x)[0]", "(- (idx (call f x) 0))"),
        ("not a[1]", "(not (idx a 1))"),
        ("f(1)(2)", "(call (call f 1) 2)"),
        ("three()", "(call three)"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("- - x", "(- (- x))"),
        ("not not x", "(not (not x))"),
        ("x >= 1 > 2 <= 3", "(<= (> (>= x 1) 2) 3)"),
    ];
    for (src, want) in cases {
        assert_eq!(expr(src), want, "{src}");
    }
}

#[test]
fn primaries() {
    let cases = [
        ("select(indices, indices, <)", "(select indices indices <)"),
        ("select(k, q, !=)", "(select k q !=)"),
        ("select(1,1,==)", "(select 1 1 ==)"),
        ("aggregate(s, v, 0)", "(aggregate s v 0)"),
        ("range(1, 5)", "(range 1 5)"),
        ("range()", "(range )"),
        ("zip(a, b)", "(zip a b)"),
        ("len(l)", "(len l)"),
        ("round (x / 2)", "(round (/ x 2))"),
        ("indicator(x == 1)", "(indicator (== x 1))"),
        ("select (a, b)", "(call select a b)"),
        ("len (x)", "(call len x)"),
        ("[]", "[]"),
        ("[1, 2.5, \"s\", True]", "[1 2.5 \"s\" True]"),
        ("{}", "{}"),
        ("{\"a\": 1, 2: b}", "{\"a\":1 2:b}"),
        ("[x * 2 for x in l]", "[(* x 2) for x in l]"),
        (
            "[a + b for a, b in zip(l, m)]",
            "[(+ a b) for a,b in (zip l m)]",
        ),
        ("[x in l for x in m]", "[(in x l) for x in m]"),
        ("{k: v for k in d}", "{k:v for k in d}"),
        ("x[0][1]", "(idx (idx x 0) 1)"),
        (
            "offset + ones + settle + format",
            "(+ (+ (+ offset ones) settle) format)",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(expr(src), want, "{src}");
    }
}

#[test]
fn statements() {
    let stmts = parse_ok("a = 1; b = 2;");
    assert_eq!(stmts.len(), 2);
    let src = "x, y = f(1), 2;";
    match &parse_ok(src)[0].kind {
        StmtKind::Assign { targets, values } => {
            assert_eq!(targets.len(), 2);
            assert_eq!(targets[1].name, "y");
            assert_eq!(targets[1].span, Span::new(3, 3, 4));
            assert_eq!(values.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    match &parse_ok("a, b = f();")[0].kind {
        StmtKind::Assign { targets, values } => {
            assert_eq!((targets.len(), values.len()), (2, 1));
        }
        other => panic!("{other:?}"),
    }

    let src = "def f(a, b) {\n  # comment\n  c = a + b; # another\n  return c, a;\n}";
    let stmts = parse_ok(src);
    assert_eq!(stmts[0].span, Span::new(3, 0, src.len()));
    match &stmts[0].kind {
        StmtKind::Def {
            name,
            params,
            body,
            results,
            return_span,
            broken: false,
        } => {
            assert_eq!(name.name, "f");
            assert_eq!(params.len(), 2);
            assert_eq!(body.len(), 1);
            assert_eq!(results.len(), 2);
            let r = &src[return_span.start as usize..return_span.end as usize];
            assert_eq!(r, "return c, a;");
        }
        other => panic!("{other:?}"),
    }
    match &parse_ok("def three() { return 3; }")[0].kind {
        StmtKind::Def { params, body, .. } => assert!(params.is_empty() && body.is_empty()),
        other => panic!("{other:?}"),
    }
    let stmts = parse_ok("for x in l { y = x; def g() { return 1; } for a, b in m { z = a; } }");
    match &stmts[0].kind {
        StmtKind::For { names, body, .. } => {
            assert_eq!(names.len(), 1);
            assert_eq!(body.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    let src = "load \"lib/x\";";
    match &parse_ok(src)[0].kind {
        StmtKind::Load { path, path_span } => {
            assert_eq!(path, "lib/x");
            assert_eq!(
                &src[path_span.start as usize..path_span.end as usize],
                "\"lib/x\""
            );
        }
        other => panic!("{other:?}"),
    }
    match &parse_ok("draw(s); draw(s, \"abc\");")[1].kind {
        StmtKind::Draw { args } => assert_eq!(args.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn repl_commands() {
    use ExampleTarget::*;
    let src = "set example \"hello\"\nset s-op example [1, 2];\nset selector example \"ab\"\n\
               show example\nshow s-op example;\nshow selector example\n\
               examples on\ns-op examples off;\nselector examples on\n\
               full seq display on\nfull  seq\tdisplay off;\nexit\nexit();\nquit\nquit()";
    let kinds: Vec<StmtKind> = parse_ok(src).into_iter().map(|s| s.kind).collect();
    assert_eq!(kinds.len(), 15);
    assert!(
        matches!(&kinds[0], StmtKind::SetExample { target: Both, value } if sx(value) == "\"hello\"")
    );
    assert!(
        matches!(&kinds[1], StmtKind::SetExample { target: Sop, value } if sx(value) == "[1 2]")
    );
    assert!(matches!(
        &kinds[2],
        StmtKind::SetExample {
            target: Selector,
            ..
        }
    ));
    assert_eq!(kinds[3], StmtKind::ShowExample { target: Both });
    assert_eq!(kinds[4], StmtKind::ShowExample { target: Sop });
    assert_eq!(kinds[5], StmtKind::ShowExample { target: Selector });
    assert_eq!(
        kinds[6],
        StmtKind::Examples {
            target: Both,
            on: true
        }
    );
    assert_eq!(
        kinds[7],
        StmtKind::Examples {
            target: Sop,
            on: false
        }
    );
    assert_eq!(
        kinds[8],
        StmtKind::Examples {
            target: Selector,
            on: true
        }
    );
    assert_eq!(kinds[9], StmtKind::FullSeqDisplay { on: true });
    assert_eq!(kinds[10], StmtKind::FullSeqDisplay { on: false });
    assert!(kinds[11..].iter().all(|k| *k == StmtKind::Exit));

    // The value of `set example` ends at the end of its line...
    let stmts = parse_ok("set example x\n(1);\n-2;");
    assert_eq!(stmts.len(), 3);
    assert!(matches!(&stmts[0].kind, StmtKind::SetExample { value, .. } if sx(value) == "x"));
    // ...unless a bracket is open or an operator is pending.
    let stmts = parse_ok("set example [1,\n 2] set example \"a\" +\n \"b\"");
    assert_eq!(stmts.len(), 2);
    assert!(
        matches!(&stmts[1].kind, StmtKind::SetExample { value, .. } if sx(value) == "(+ \"a\" \"b\")")
    );
    // Commands and statements on one line.
    assert_eq!(parse_ok("examples off x = 1; show example exit").len(), 4);
}

#[test]
fn comments_and_layout() {
    let src = "x = a +  # note\n  b; y = [1, # one\n 2]; # end";
    let stmts = parse_ok(src);
    assert_eq!(stmts.len(), 2);
    match &stmts[0].kind {
        StmtKind::Assign { values, .. } => assert_eq!(sx(&values[0]), "(+ a b)"),
        other => panic!("{other:?}"),
    }
    assert!(parse_ok("").is_empty());
    assert!(parse_ok("# only a comment").is_empty());
    assert!(parse_ok(";;").is_empty());
    assert_eq!(parse_ok("def f() { return 1; }; x = 1;;").len(), 2);
}

#[test]
fn spans() {
    let src = "x = (a + b) * c;";
    let stmts = parse_ok(src);
    let StmtKind::Assign { values, .. } = &stmts[0].kind else {
        panic!()
    };
    let text = |s: Span| &src[s.start as usize..s.end as usize];
    assert_eq!(text(values[0].span), "(a + b) * c");
    let ExprKind::Binary(_, l, _) = &values[0].kind else {
        panic!()
    };
    assert_eq!(text(l.span), "(a + b)");
    assert_eq!(stmts[0].span, Span::new(3, 0, src.len()));
    assert!(stmts[0].span.file == 3 && values[0].span.file == 3);
}

#[test]
fn several_errors_are_all_reported() {
    let src = "a = 1;\nb = (2 + ;\nc = 3;\nd = 4 5;\ne = 5;\nf = ];\ng = 7;";
    let (stmts, diags) = parse_program(src, 9);
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert!(diags.iter().all(|d| d.code == codes::PARSE_UNEXPECTED));
    let at: Vec<&str> = diags
        .iter()
        .map(|d| {
            let s = d.span.unwrap();
            assert_eq!(s.file, 9);
            &src[s.start as usize..s.end as usize]
        })
        .collect();
    assert_eq!(at, vec![";", "5", "]"]);
    let names: Vec<_> = stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Assign { targets, .. } => targets[0].name.clone(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(names, vec!["a", "c", "e", "g"]);
}

/// The statements that define or run something (not broken).
fn live(stmts: &[Stmt]) -> usize {
    stmts.iter().filter(|s| !s.is_broken()).count()
}

#[test]
fn recovery_inside_bodies() {
    let src = "def f(a) {\n  x = a + ;\n  y = (a;\n  z = a;\n  return a;\n}\nz = 1;\n\
               for i in l { w = ; u = i; }\nv = 2;";
    let (stmts, diags) = parse_program(src, 0);
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert_eq!(live(&stmts), 2);
    // The broken def and for keep what parsed around the errors.
    assert_eq!(stmts.len(), 4);
    match &stmts[0].kind {
        StmtKind::Def {
            body,
            results,
            broken: true,
            ..
        } => {
            assert_eq!(body.len(), 1, "`z = a;` is kept");
            assert_eq!(results.len(), 1, "so is the return");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&stmts[2].kind, StmtKind::For { body, broken: true, .. } if body.len() == 1));
    // A nested broken def breaks its function too.
    let (stmts, _) = parse_program("def f() { def g() { x = ; return 1; } return 2; }", 0);
    assert!(stmts[0].is_broken());
    // A missing `;` before a keyword statement resynchronises at the keyword.
    let (stmts, diags) = parse_program("x = 1\ndef f() { return 1; }\nz = 3;", 0);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(stmts.len(), 2);
    // Errors in a def header skip to its body.
    let (stmts, diags) = parse_program("def f(a b) { return a; }\nx = 1;", 0);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(stmts.len(), 1);
    // Missing `;` before the closing brace.
    let (stmts, diags) = parse_program("for x in l { y = x }\nz = 1;", 0);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(live(&stmts), 1);
    // Stray closing brace at top level.
    let (stmts, diags) = parse_program("x = 1; } y = 2;", 0);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(stmts.len(), 2);
}

#[test]
fn comments_are_kept_apart_and_parentheses_in_the_tree() {
    let src = "x = 1; # one\r\n# two\ny = \"#no\"; z = (x + 1) * 2;";
    let p = parse_file(src, 0);
    assert!(p.diags.is_empty(), "{:?}", p.diags);
    let texts: Vec<&str> = p
        .comments
        .iter()
        .map(|c| &src[c.start as usize..c.end as usize])
        .collect();
    assert_eq!(texts, ["# one", "# two"]);
    assert_eq!(p.stmts.len(), 3);
    match &p.stmts[2].kind {
        StmtKind::Assign { values, .. } => match &values[0].kind {
            ExprKind::Binary(_, l, _) => {
                assert!(matches!(l.kind, ExprKind::Paren(_)));
                assert_eq!(&src[l.span.start as usize..l.span.end as usize], "(x + 1)");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_eq!(blank_lines("a;\n\n  \nb;"), [1, 2]);
}

#[test]
fn body_structure_errors() {
    let d = diags("def f(a) { x = a; }");
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("no `return`"), "{d:?}");
    let d = diags("def f(a) { return a; x = 1; }");
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("after `return`"), "{d:?}");
    let d = diags("for x in l { return x; }");
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("outside a function"), "{d:?}");
    let d = diags("return 1;");
    assert_eq!(d.len(), 1);
    assert!(d[0].help.as_deref().unwrap_or("").contains("function body"));
}

#[test]
fn lexical_errors_are_reported_once() {
    let src = "x = 1.;\ny = $;\nz = \"abc;\nw = 99999999999999999999;\nok = 1;";
    let (stmts, diags) = parse_program(src, 0);
    assert_eq!(codes_of(src), vec![codes::PARSE_TOKEN; 4], "{diags:#?}");
    assert_eq!(stmts.len(), 1);
}

#[test]
fn messages_and_helps() {
    let d = &diags("x = 1 + ;")[0];
    assert_eq!(d.message, "unexpected `;`, expected an expression");
    let d = &diags("x = (1 + 2;")[0];
    assert_eq!(d.message, "unexpected `;`, expected \")\"");
    let d = &diags("x = 1\ny = 2;")[0];
    assert_eq!(
        d.message,
        "unexpected `y`, expected one of \";\", \",\", an operator"
    );
    assert!(
        d.help.as_deref().unwrap().contains("previous line"),
        "{d:?}"
    );
    let d = &diags("x = a != b;")[0];
    assert!(d.help.as_deref().unwrap().contains("not (a == b)"), "{d:?}");
    let d = &diags("s = select (indices, indices, ==);")[0];
    assert!(d.help.as_deref().unwrap().contains("no space"), "{d:?}");
    let d = &diags("in = 3;")[0];
    assert!(d.help.as_deref().unwrap().contains("keyword"), "{d:?}");
    let d = &diags("def f(a, on) { return a; }")[0];
    assert!(d.help.as_deref().unwrap().contains("keyword"), "{d:?}");
    let d = &diags("x = else;")[0];
    assert!(
        !d.help.as_deref().unwrap_or("").contains("keyword"),
        "{d:?}"
    );
    let d = &diags("x = (1));")[0];
    assert!(d.help.as_deref().unwrap().contains("no matching"), "{d:?}");
    let d = &diags("x = select(a, b, =);")[0];
    assert_eq!(
        d.message,
        "unexpected `=`, expected one of \"==\", \"!=\", \"<=\", \">=\", \"<\", \">\""
    );
    let d = &diags("x = (1 +")[0];
    assert_eq!(d.code, codes::PARSE_EOF);
    assert_eq!(d.span, Some(Span::new(0, 7, 8)));
    let d = &diags("x = (1 + 2 # c\n")[0];
    assert_eq!(d.span, Some(Span::new(0, 10, 10)));
    assert_eq!(d.help.as_deref(), Some("a `(` is not closed"));
    // An error whose recovery is later discarded is still reported.
    let d = diags("exit ()\ndef g(a) {\n  return a;\n");
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].help.as_deref().unwrap().contains("without a space"));
    assert_eq!(d[1].code, codes::PARSE_EOF);
    let d = &diags(")")[0];
    assert_eq!(d.message, "unexpected `)`, expected a statement");
    // Rendering works.
    let rendered = diags("x = 1 +\n;")[0].clone().render_plain();
    assert!(rendered.contains("unexpected"), "{rendered}");
}

#[test]
fn incomplete_input() {
    for src in [
        "x = (1 +",
        "def f(a) {",
        "x = 1",
        "x = 1 # comment",
        "x = [1,\n2",
        "for x in l { y = x;",
        "def f(a) { return a;",
        "a = 1; b = select(",
        "x = 1 if c",
        "set example",
    ] {
        assert!(is_incomplete(src), "{src:?}");
    }
    for src in [
        "x = 1;",
        "x = ;",
        "",
        "# c",
        "exit",
        "set example \"abc\"",
        "x = ); y = (",
        "x = \"abc",
        "def f(a) { }",
    ] {
        assert!(!is_incomplete(src), "{src:?}");
    }
}

#[test]
fn nesting_limits() {
    let deep = |src: &str| {
        let (stmts, diags) = parse_program(src, 0);
        assert_eq!(live(&stmts), 0, "{}", &src[..20.min(src.len())]);
        assert_eq!(
            diags.iter().map(|d| d.code).collect::<Vec<_>>(),
            vec![codes::PARSE_TOO_DEEP],
            "{}",
            &src[..20.min(src.len())]
        );
    };
    let n = 100_000;
    deep(&"(".repeat(n));
    deep(&format!("x = {}1{};", "(".repeat(n), ")".repeat(n)));
    deep(&format!("x = {}1{};", "[".repeat(n), "]".repeat(n)));
    deep(&format!("x = {}1;", "-".repeat(n)));
    deep(&format!("x = {}1;", "not ".repeat(n)));
    deep(&format!("x = 1{};", " + 1".repeat(n)));
    deep(&format!("x = a{};", "[0]".repeat(n)));
    deep(&format!("x = f{};", "()".repeat(n)));
    deep(&format!("x = a{};", " if c else a".repeat(n)));
    deep(&format!("x = a{};", " in a".repeat(n)));
    deep(&format!("x = {}a;", "a if ".repeat(n)));
    deep(&format!(
        "{}return 1;{}",
        "def f() {".repeat(300),
        "}".repeat(300)
    ));
    deep(&format!(
        "x = {}1{};",
        "select(".repeat(n),
        ",1,==)".repeat(n)
    ));
    // Within the limits.
    let ok = format!("x = {}1{};", "(".repeat(250), ")".repeat(250));
    assert_eq!(parse_ok(&ok).len(), 1);
    let ok = format!("x = 1{};", " + 1".repeat(4000));
    assert_eq!(parse_ok(&ok).len(), 1);
    // The statement after a too-deep one still parses.
    let (stmts, diags) = parse_program(&format!("x = {}; y = 1;", "(".repeat(n)), 0);
    assert_eq!(diags.len(), 1);
    assert_eq!(stmts.len(), 1);
    let (stmts, diags) = parse_program(&format!("x = a{}; y = 1;", "[0]".repeat(n)), 0);
    assert_eq!(diags.len(), 1);
    assert_eq!(stmts.len(), 1);
}

#[test]
fn realistic_program() {
    let src = r#"
# A small library in the style of the reference's rasplib.
full_s = select(1, 1, ==);
length = round(1 / aggregate(full_s, indicator(indices == 0)));

def selector_width(sel) {
at0 = indicator(indices == 0);
with0 = sel or select(indices, 0, ==);   # also look at position 0
only0 = sel and select(indices, 0, ==);
frac = aggregate(with0, at0);
return round(1 / frac - 1 + aggregate(only0, at0, 0));
}

def shift(seq, n, filler) {
return aggregate(select(indices, indices - n, ==), seq, filler);
}

def pair(a, b) { return a, b; }
first, second = pair(1, 2);
counts = 0;
for c in ["a", "b"] {
counts = counts + indicator(tokens == c);
}
pairs = {p[0]: p[1] for p in zip(["(", "{"], [")", "}"])};
rev = aggregate(select(indices, length - indices - 1, ==), tokens);
prevs = select(indices, indices, <); not_same = select(tokens, tokens, !=);
flags = [x % 2 == 0 for x in range(0, 10)];
big = tokens_int if len([1, 2]) > 1 else -tokens_int ^ 2;
load "paper_examples";
draw(rev, "abc");
set example "hello"
full seq display on
examples off
hist = selector_width(select(tokens, tokens, ==)); hist("abca");
"#;
    let stmts = parse_ok(src);
    assert_eq!(stmts.len(), 21);
    let kinds: Vec<&str> = stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Expr(_) => "expr",
            StmtKind::Assign { .. } => "assign",
            StmtKind::Def { .. } => "def",
            StmtKind::For { .. } => "for",
            StmtKind::Load { .. } => "load",
            StmtKind::Draw { .. } => "draw",
            StmtKind::SetExample { .. } => "set",
            StmtKind::FullSeqDisplay { .. } => "display",
            StmtKind::Examples { .. } => "examples",
            _ => "other",
        })
        .collect();
    assert_eq!(&kinds[..5], &["assign", "assign", "def", "def", "def"]);
    assert_eq!(
        &kinds[16..],
        &["set", "display", "examples", "assign", "expr"][..]
    );
    assert_eq!(kinds[14..16], ["load", "draw"]);
}

#[test]
fn long_recovery_and_long_runs() {
    // Recovery discarding many tokens (the token stream skips ahead).
    let src = format!(
        "x = 1 {}; z = 2; def f() {{ y = 1 {}; return 1; }}",
        "y ".repeat(5000),
        "q ".repeat(5000)
    );
    let (stmts, diags) = parse_program(&src, 0);
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert_eq!(live(&stmts), 1);
    let src = format!(
        "{}{}{}",
        "def f() {".repeat(200),
        "x x ".repeat(20_000),
        "}".repeat(200)
    );
    let (stmts, diags) = parse_program(&src, 0);
    assert_eq!((live(&stmts), diags.len()), (0, 1), "{diags:?}");
    // Long runs of tokens without any expression are not mistaken for recovery.
    let src = format!("{}x = 1;{}y = 2;", ";".repeat(5000), "exit ".repeat(5000));
    assert_eq!(parse_ok(&src).len(), 5002);
    let src = format!("def f() {{{}x = 1; return x; }}", ";".repeat(5000));
    assert_eq!(parse_ok(&src).len(), 1);
}

/// A tiny deterministic generator (no extra dependencies).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn check_invariants(src: &str) {
    let (stmts, diags) = parse_program(src, 7);
    let len = src.len() as u32;
    for d in &diags {
        let s = d.span.expect("every diagnostic has a span");
        assert!(
            s.file == 7 && s.start <= s.end && s.end <= len,
            "{src:?} {d:?}"
        );
    }
    for s in &stmts {
        assert!(s.span.file == 7 && s.span.end <= len, "{src:?}");
        assert!(!matches!(s.kind, StmtKind::Error));
    }
    let _ = is_incomplete(src);
}

#[test]
fn fuzz_never_panics() {
    // Punctuation, literals and broken fragments; the keywords come from
    // the table of words.
    const OTHER: &[&str] = &[
        "x",
        "f",
        "1",
        "2.5",
        "\"s\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        ":",
        "=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "==",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "# c\n",
        "\n",
        " ",
        "$",
        "1.",
        "\"open",
        "é",
        "\u{0}",
        "'",
        "99999999999999999999",
        "def f(a) {",
        "return x;",
        "x = 1;",
        "for a in l {",
        "s-",
        "full seq",
        "\t",
        "!",
        ".",
        "select (",
    ];
    let atoms: Vec<&str> = OTHER
        .iter()
        .copied()
        .chain(super::words::keywords().map(|w| w.text))
        .collect();
    let mut rng = Lcg(0x5eed);
    for _ in 0..4000 {
        let n = 1 + rng.below(40);
        let mut src = String::new();
        for _ in 0..n {
            src.push_str(atoms[rng.below(atoms.len())]);
            if rng.below(3) > 0 {
                src.push(' ');
            }
        }
        check_invariants(&src);
    }
    for _ in 0..2000 {
        let n = rng.below(80);
        let bytes: Vec<u8> = (0..n)
            .map(|_| {
                if rng.below(2) == 0 {
                    let pool = b"x1(){}[];=+-*\"#\n. !<>,:s";
                    pool[rng.below(pool.len())]
                } else {
                    rng.below(256) as u8
                }
            })
            .collect();
        check_invariants(&String::from_utf8_lossy(&bytes));
    }
}
