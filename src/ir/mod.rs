//! The IR: s-ops and selectors as a hash-consed DAG.
//!
//! Nodes are created after their inputs, so node ids are a topological
//! order. Structurally equal nodes share one id. Each node keeps the names
//! the user gave it and the span that first created it, so every back end
//! (interpreter, compiler, GPU executor, dataset generator) can point at the
//! source.

pub mod expr;
pub mod hash;
pub mod layers;
pub mod value;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use expr::{Elem, Expr, Table};
pub use value::Value;

use crate::diag::Span;
use crate::syntax::ast::CmpOp;

/// How `tokens_*` converts each input element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Str,
    Int,
    Float,
    Bool,
    AsIs,
}

impl TokenKind {
    /// Convert one raw input token the way the original's `tokens_*` does
    /// (Python's `str`, `int`, `float`, `bool`, or unchanged).
    pub fn convert(self, token: &Value) -> value::OpResult {
        match self {
            TokenKind::Str => Ok(Value::str(&token.to_string())),
            TokenKind::Int => value::py_int(token),
            TokenKind::Float => value::py_float(token),
            TokenKind::Bool => Ok(Value::Bool(token.truthy())),
            TokenKind::AsIs => Ok(token.clone()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Str => "tokens_str",
            TokenKind::Int => "tokens_int",
            TokenKind::Float => "tokens_float",
            TokenKind::Bool => "tokens_bool",
            TokenKind::AsIs => "tokens_asis",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One IR operation. S-op operations produce a sequence; selector
/// operations a boolean matrix (never materialised unless displayed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Tokens(TokenKind),
    Indices,
    Length,
    /// The same atom at every position.
    Const(Value),
    /// Elementwise function of one or more s-ops (`Map` when one argument,
    /// `Zip` when several). Arguments are distinct.
    Map {
        expr: Expr,
        args: Vec<NodeId>,
    },
    /// Per query: 0 selected -> default, 1 -> that value, >= 2 -> float mean.
    Aggregate {
        sel: NodeId,
        values: NodeId,
        default: Value,
    },
    /// Number of selected keys per query.
    SelectorWidth(NodeId),
    /// Entry (query q, key k) = `cmp(keys[k], queries[q])`.
    Select {
        keys: NodeId,
        queries: NodeId,
        cmp: CmpOp,
    },
    SelAnd(NodeId, NodeId),
    SelOr(NodeId, NodeId),
    SelNot(NodeId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sop,
    Selector,
}

impl Op {
    pub fn kind(&self) -> Kind {
        match self {
            Op::Select { .. } | Op::SelAnd(..) | Op::SelOr(..) | Op::SelNot(_) => Kind::Selector,
            _ => Kind::Sop,
        }
    }

    /// The nodes this one reads.
    pub fn inputs(&self) -> Vec<NodeId> {
        match self {
            Op::Tokens(_) | Op::Indices | Op::Length | Op::Const(_) => vec![],
            Op::Map { args, .. } => args.clone(),
            Op::Aggregate { sel, values, .. } => vec![*sel, *values],
            Op::SelectorWidth(s) | Op::SelNot(s) => vec![*s],
            Op::Select { keys, queries, .. } => vec![*keys, *queries],
            Op::SelAnd(a, b) | Op::SelOr(a, b) => vec![*a, *b],
        }
    }

    /// A short description of the operation (`select(keys, queries, <)`).
    pub fn describe(&self, g: &Graph) -> String {
        self.describe_with(|id| g.label(id))
    }

    /// [`Op::describe`] with inputs named by `label` (e.g. the titles a
    /// drawing shows).
    pub fn describe_with(&self, label: impl Fn(NodeId) -> String) -> String {
        let n = |id: &NodeId| label(*id);
        match self {
            Op::Tokens(k) => k.name().to_string(),
            Op::Indices => "indices".into(),
            Op::Length => "length".into(),
            Op::Const(v) => format!("const {}", v.repr()),
            Op::Map { expr, args } => {
                let names: Vec<String> = args.iter().map(n).collect();
                expr.render(&names)
            }
            Op::Aggregate {
                sel,
                values,
                default,
            } => format!("aggregate({}, {}, {})", n(sel), n(values), default.repr()),
            Op::SelectorWidth(s) => format!("selector_width({})", n(s)),
            Op::Select { keys, queries, cmp } => {
                format!("select({}, {}, {})", n(keys), n(queries), cmp.symbol())
            }
            Op::SelAnd(a, b) => format!("{} and {}", n(a), n(b)),
            Op::SelOr(a, b) => format!("{} or {}", n(a), n(b)),
            Op::SelNot(a) => format!("not {}", n(a)),
        }
    }
}

/// An encoding the user asked the compiler for (`numerical(x)`,
/// `categorical(x)`, as in tracr). The interpreter ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hint {
    /// One residual dim holding the number.
    Numerical,
    /// One residual dim per value (a one-hot).
    Categorical,
}

impl Hint {
    /// The library function that sets it.
    pub fn name(self) -> &'static str {
        match self {
            Hint::Numerical => "numerical",
            Hint::Categorical => "categorical",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    /// Names the user bound to this node, in order.
    pub names: Vec<Arc<str>>,
    /// Where the node was first created.
    pub span: Option<Span>,
    /// The encoding asked for, if any (the last request wins).
    pub hint: Option<Hint>,
}

/// The hash-consed DAG.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    index: HashMap<Op, NodeId>,
    /// Every (node, user name) recorded, so that recording one is O(1)
    /// even when thousands of names are bound to one node.
    named: HashSet<(NodeId, Arc<str>)>,
    /// Selectors a rewrite replaced by an equivalent circuit (the
    /// compiler's digits of an affine key): rewritten node -> the plain
    /// selector it selects exactly as, kept in the graph (unread) for the
    /// analyses that reason about the plain form.
    equivalent: HashMap<NodeId, NodeId>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Add (or find) a node. Inputs must already exist.
    pub fn add(&mut self, op: Op, span: Option<Span>) -> NodeId {
        if let Some(id) = self.index.get(&op) {
            let id = *id;
            if self.nodes[id.index()].span.is_none() {
                self.nodes[id.index()].span = span;
            }
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        self.index.insert(op.clone(), id);
        self.nodes.push(Node {
            op,
            names: Vec::new(),
            span,
            hint: None,
        });
        id
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn op(&self, id: NodeId) -> &Op {
        &self.nodes[id.index()].op
    }

    pub fn kind(&self, id: NodeId) -> Kind {
        self.op(id).kind()
    }

    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (NodeId(i as u32), n))
    }

    /// Ask the compiler for an encoding of `id`.
    pub fn set_hint(&mut self, id: NodeId, hint: Hint) {
        self.nodes[id.index()].hint = Some(hint);
    }

    pub fn hint(&self, id: NodeId) -> Option<Hint> {
        self.nodes[id.index()].hint
    }

    /// Record that selector `rewritten` selects exactly as `plain`.
    pub fn set_equivalent(&mut self, rewritten: NodeId, plain: NodeId) {
        self.equivalent.insert(rewritten, plain);
    }

    /// The plain selector `id` was rewritten from, if any.
    pub fn equivalent(&self, id: NodeId) -> Option<NodeId> {
        self.equivalent.get(&id).copied()
    }

    /// Every (rewritten, plain) pair of [`Graph::set_equivalent`].
    pub fn equivalents(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.equivalent.iter().map(|(a, b)| (*a, *b))
    }

    /// Record a user name for a node (first name wins for display).
    pub fn name(&mut self, id: NodeId, name: &str) {
        let name: Arc<str> = Arc::from(name);
        if self.named.insert((id, name.clone())) {
            self.nodes[id.index()].names.push(name);
        }
    }

    /// The node's first user name, or a description of it.
    pub fn label(&self, id: NodeId) -> String {
        let node = &self.nodes[id.index()];
        match node.names.first() {
            Some(n) => n.to_string(),
            None => match &node.op {
                Op::Tokens(k) => k.name().into(),
                Op::Indices => "indices".into(),
                Op::Length => "length".into(),
                Op::Const(v) => v.repr(),
                _ => format!("#{}", id.0),
            },
        }
    }

    /// All ancestors of `targets` (inclusive), in topological order.
    pub fn ancestors(&self, targets: &[NodeId]) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = targets.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id.index()], true) {
                continue;
            }
            stack.extend(self.op(id).inputs());
        }
        seen.iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    /// The layer of `target` per the original's analysis (for `:layers`
    /// and `draw`); see [`layers::analyse`] for the rules.
    pub fn depth(&self, target: NodeId) -> usize {
        layers::analyse(self, target).n_layers
    }
}
