//! The abstract syntax tree. Spans are byte offsets into the file the parser
//! was given (`Span::file` is set by the parser's caller).

use crate::diag::Span;

/// Comparison operators of `select(keys, queries, op)` and of expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Cmp(CmpOp),
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Cmp(c) => c.symbol(),
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
}

impl UnOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Plus => "+",
            UnOp::Not => "not",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// A name with its span (assignment targets, parameters, loop names).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Var(String),
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    /// `[elem for names in iter]`
    ListComp {
        elem: Box<Expr>,
        names: Vec<Ident>,
        iter: Box<Expr>,
    },
    /// `{key: value for names in iter}`
    DictComp {
        key: Box<Expr>,
        value: Box<Expr>,
        names: Vec<Ident>,
        iter: Box<Expr>,
    },
    /// `select(keys, queries, op)`
    Select {
        keys: Box<Expr>,
        queries: Box<Expr>,
        op: CmpOp,
    },
    /// `aggregate(args...)`; the arity (2 or 3) is checked by the front end.
    Aggregate(Vec<Expr>),
    /// `range(args...)`
    Range(Vec<Expr>),
    /// `zip(args...)`
    Zip(Vec<Expr>),
    /// `len(args...)`
    Len(Vec<Expr>),
    /// `round(e)`
    Round(Box<Expr>),
    /// `indicator(e)`
    Indicator(Box<Expr>),
    /// `e[i]`
    Index(Box<Expr>, Box<Expr>),
    /// `f(args)`
    Call(Box<Expr>, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `then if cond else otherwise`
    Cond {
        then: Box<Expr>,
        cond: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `item in collection`
    In(Box<Expr>, Box<Expr>),
    /// `( e )`, kept so that the source can be printed back as written.
    Paren(Box<Expr>),
}

impl Stmt {
    /// A `def` or `for` whose body had a syntax error (see `broken`).
    pub fn is_broken(&self) -> bool {
        matches!(
            self.kind,
            StmtKind::Def { broken: true, .. } | StmtKind::For { broken: true, .. }
        )
    }
}

impl Expr {
    /// The expression inside any parentheses.
    pub fn unparen(&self) -> &Expr {
        match &self.kind {
            ExprKind::Paren(e) => e.unparen(),
            _ => self,
        }
    }
}

/// Which example a REPL `set`/`show` command refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExampleTarget {
    Both,
    Sop,
    Selector,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `expr;`
    Expr(Expr),
    /// `a = e;`, `a, b = e1, e2;`, `a, b = f();`
    Assign {
        targets: Vec<Ident>,
        values: Vec<Expr>,
    },
    /// `def name(params) { body... return results; }`
    Def {
        name: Ident,
        params: Vec<Ident>,
        body: Vec<Stmt>,
        results: Vec<Expr>,
        /// span of the `return` statement (the closing `}` when there is
        /// none)
        return_span: Span,
        /// The body had a syntax error (reported), or its `return` is
        /// missing or not last: the statements that parsed are kept for
        /// tools, but the function is not defined.
        broken: bool,
    },
    /// `for names in iter { body }`
    For {
        names: Vec<Ident>,
        iter: Expr,
        body: Vec<Stmt>,
        /// The body had a syntax error or a `return` (reported): kept for
        /// tools, not run.
        broken: bool,
    },
    /// `load "path";` (the string's span is `path_span`)
    Load { path: String, path_span: Span },
    /// `draw(sop);` / `draw(sop, input);`
    Draw { args: Vec<Expr> },
    /// `set [s-op|selector] example E`
    SetExample { target: ExampleTarget, value: Expr },
    /// `show [s-op|selector] example`
    ShowExample { target: ExampleTarget },
    /// `[s-op|selector] examples on|off`
    Examples { target: ExampleTarget, on: bool },
    /// `full seq display on|off`
    FullSeqDisplay { on: bool },
    /// `exit`, `exit()`, `quit`, `quit()`
    Exit,
    /// A statement that failed to parse (its error was reported).
    Error,
}
