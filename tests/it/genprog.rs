//! Generated programs: random well-typed RASP programs, each compiled and
//! either refused with a diagnostic or verified exactly against the
//! interpreter on every input. A compiler may refuse; it must never write a
//! wrong model, report an internal error or panic.
//!
//! * `genprog_short`: 400 programs (vocab 2-3, max length 3-5; debug
//!   profile), each killed after 5 s.
//! * `genprog_long` (ignored): `RASP_GENPROG_COUNT` programs (default
//!   10,000; vocab 2-4, max length 4-6) from `RASP_GENPROG_SEED` (default
//!   1), each killed after `RASP_GENPROG_TIMEOUT` seconds (default 60),
//!   with figures and the source of up to `RASP_GENPROG_SHOW` failures
//!   (default 40); `scripts/genprog` runs it on the release build.
//! * `genprog_regressions`: every file in `tests/compile/regress/` (shrunk
//!   programs the generator found), compiled from its header line
//!   `# compile: sop=NAME vocab=VOCAB max_len=N [expect=verify]`.
//! * `genprog_sample` (ignored): prints generated programs.
//! * `genprog_child` (ignored): the child process that checks one program
//!   (each program runs in its own process, so a runaway compile can be
//!   killed and a crash is caught).
//!
//! Classes: `verified` (no mismatch, something compared), `refused` (a
//! diagnostic that is not an internal error), `no_inputs` (the program
//! fails on every input), `timeout`; failures: `wrong` (mismatches),
//! `internal` (`rasp::compile::internal` or "internal compiler error"),
//! `panic` (also a child that dies), `verify_error`, `estimate` (the size
//! estimate below the built model's dense parameter count, or above twice
//! it; a program refused for its size is compiled again with the count
//! the refusal states as its limit, up to twice the default, and must then
//! compile with its estimate bounding the model). Programs the front end
//! rejects are regenerated (`program_error`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rasp::compile::verify::{Mode, verify};
use rasp::compile::{Options, Source, compile, parse_vocab};
use rasp::front::{MVal, ScopeRef, Session, value::lookup};
use rasp::ir::Value;

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/// The verifier's seeded generator (splitmix64), with what generation needs.
struct Rng(rasp::compile::verify::Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(rasp::compile::verify::Rng::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The value type of a generated s-op (as the interpreter's sequence
/// check sees it; bools count as ints there, so an int s-op may hold bools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Str,
    Bool,
    Int,
    Float,
}

/// What an operand must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Str,
    Bool,
    /// Int or float.
    Num,
    /// Int only.
    Int,
}

impl Want {
    fn accepts(self, ty: Ty) -> bool {
        match self {
            Want::Str => ty == Ty::Str,
            Want::Bool => ty == Ty::Bool,
            Want::Num => matches!(ty, Ty::Int | Ty::Float),
            Want::Int => ty == Ty::Int,
        }
    }
}

/// A generated s-op expression (or atom) with what we know of its values.
#[derive(Clone, Debug)]
struct Sop {
    /// Source text: a name, an atom, or a parenthesised expression.
    e: String,
    ty: Ty,
    /// Bounds of the values (numbers and bools; bools are 0..1).
    lo: f64,
    hi: f64,
    /// Possible values (strings).
    strs: Vec<String>,
    /// An atom, not an s-op.
    atom: bool,
}

impl Sop {
    fn num(e: String, ty: Ty, lo: f64, hi: f64) -> Sop {
        Sop {
            e,
            ty,
            lo,
            hi,
            strs: Vec::new(),
            atom: false,
        }
    }

    fn boolean(e: String) -> Sop {
        Sop::num(e, Ty::Bool, 0.0, 1.0)
    }

    fn string(e: String, strs: Vec<String>) -> Sop {
        Sop {
            e,
            ty: Ty::Str,
            lo: 0.0,
            hi: 0.0,
            strs,
            atom: false,
        }
    }

    fn bound(&self) -> f64 {
        self.lo.abs().max(self.hi.abs())
    }

    fn contains_zero(&self) -> bool {
        self.lo <= 0.0 && self.hi >= 0.0
    }
}

/// One generated program and what to compile it for.
#[derive(Clone, Debug)]
struct Prog {
    src: String,
    vocab: Vec<Value>,
    /// The vocab as `parse_vocab` reads it (for headers and printouts).
    vocab_text: String,
    max_len: usize,
    /// Compiled as a causal model, checked against the causal semantics.
    causal: bool,
}

impl Prog {
    fn header(&self) -> String {
        format!(
            "# compile: sop=out vocab={} max_len={}{}",
            self.vocab_text,
            self.max_len,
            if self.causal { " causal" } else { "" }
        )
    }
}

/// Sizes of the programs generated.
#[derive(Clone, Copy, Debug)]
struct Shape {
    vocab: (usize, usize),
    max_len: (usize, usize),
    statements: (usize, usize),
    causal: bool,
}

const SHORT: Shape = Shape {
    vocab: (2, 3),
    max_len: (3, 5),
    statements: (1, 5),
    causal: false,
};

const LONG: Shape = Shape {
    vocab: (2, 4),
    max_len: (4, 6),
    statements: (1, 6),
    causal: false,
};

impl Shape {
    /// `LONG`, with the max lengths of `RASP_GENPROG_LEN` (`A-B`) and the
    /// causal semantics when `RASP_GENPROG_CAUSAL` is 1.
    fn from_env() -> Shape {
        let mut shape = LONG;
        if let Ok(text) = std::env::var("RASP_GENPROG_LEN") {
            let (a, b) = text
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .filter(|&(a, b): &(usize, usize)| 1 <= a && a <= b)
                .unwrap_or_else(|| panic!("RASP_GENPROG_LEN={text}: expected A-B, 1 <= A <= B"));
            shape.max_len = (a, b);
        }
        shape.causal = env_or("RASP_GENPROG_CAUSAL", 0) == 1;
        shape
    }
}

struct Gen<'r> {
    rng: &'r mut Rng,
    n: usize,
    int_vocab: bool,
    /// String tokens (letters) or int tokens.
    letters: Vec<String>,
    ints: Vec<i64>,
    /// Named s-ops defined so far, in order.
    pool: Vec<Sop>,
    /// Named selectors defined so far.
    sels: Vec<String>,
    lines: Vec<String>,
}

const CMPS: [&str; 5] = ["==", "<", ">", "<=", ">="];
const SEL_CMPS: [&str; 6] = ["==", "!=", "<", ">", "<=", ">="];

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut v = a.to_vec();
    for s in b {
        if !v.contains(s) {
            v.push(s.clone());
        }
    }
    v
}

fn num_ty(a: Ty, b: Ty) -> Ty {
    if a == Ty::Float || b == Ty::Float {
        Ty::Float
    } else {
        Ty::Int
    }
}

impl Gen<'_> {
    fn program(rng: &mut Rng, shape: Shape) -> Prog {
        let n = rng.range(shape.max_len.0 as i64, shape.max_len.1 as i64) as usize;
        let k = rng.range(shape.vocab.0 as i64, shape.vocab.1 as i64) as usize;
        let int_vocab = rng.chance(0.2);
        let mut letters = Vec::new();
        let mut ints = Vec::new();
        if int_vocab {
            let mut all: Vec<i64> = (-1..=5).collect();
            while ints.len() < k {
                let i = rng.below(all.len());
                ints.push(all.remove(i));
            }
            ints.sort_unstable();
        } else {
            let mut all: Vec<char> = "abcdef".chars().collect();
            while letters.len() < k {
                let i = rng.below(all.len());
                letters.push(all.remove(i).to_string());
            }
            letters.sort();
        }
        let (vocab, vocab_text) = if int_vocab {
            let text = format!(
                "[{}]",
                ints.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            (ints.iter().map(|&i| Value::Int(i)).collect(), text)
        } else {
            (
                letters.iter().map(|s| Value::str(s)).collect(),
                letters.concat(),
            )
        };
        let mut g = Gen {
            rng,
            n,
            int_vocab,
            letters,
            ints,
            pool: Vec::new(),
            sels: Vec::new(),
            lines: Vec::new(),
        };
        if int_vocab {
            g.lines.push("tokens = tokens_int;".into());
        }
        let count =
            g.rng
                .range(shape.statements.0 as i64, shape.statements.1 as i64) as usize;
        for i in 1..=count {
            if g.rng.chance(0.15) {
                let s = g.sel(2);
                let name = format!("s{i}");
                g.lines.push(format!("{name} = {s};"));
                g.sels.push(name);
            }
            let want = g.any_want();
            let s = g.expr(want, 2);
            let name = format!("v{i}");
            g.lines.push(format!("{name} = {};", s.e));
            g.pool.push(Sop { e: name, ..s });
        }
        // The output: often several earlier s-ops side by side.
        let out = if g.rng.chance(0.4) {
            g.pool.last().expect("one statement at least").clone()
        } else {
            let want = g.any_want();
            g.expr(want, 2)
        };
        g.lines.push(format!("{};", out.e));
        Prog {
            src: g.lines.join("\n") + "\n",
            vocab,
            vocab_text,
            max_len: n,
            causal: shape.causal,
        }
    }

    fn any_want(&mut self) -> Want {
        match self.rng.below(20) {
            0..=8 => Want::Num,
            9..=14 => Want::Bool,
            _ => Want::Str,
        }
    }

    // --- atoms and base s-ops ----------------------------------------------

    fn tokens(&self) -> Sop {
        if self.int_vocab {
            let lo = *self.ints.first().expect("vocab") as f64;
            let hi = *self.ints.last().expect("vocab") as f64;
            Sop::num("tokens".into(), Ty::Int, lo, hi)
        } else {
            Sop::string("tokens".into(), self.letters.clone())
        }
    }

    fn indices(&self) -> Sop {
        Sop::num("indices".into(), Ty::Int, 0.0, (self.n - 1) as f64)
    }

    fn length(&self) -> Sop {
        Sop::num("length".into(), Ty::Int, 1.0, self.n as f64)
    }

    fn str_sop_base(&self) -> Sop {
        if self.int_vocab {
            let strs = self.ints.iter().map(i64::to_string).collect();
            Sop::string("tokens_str".into(), strs)
        } else {
            self.tokens()
        }
    }

    fn int_atom(&mut self, lo: i64, hi: i64) -> Sop {
        let v = self.rng.range(lo, hi);
        let e = if v < 0 {
            format!("(0 - {})", -v)
        } else {
            v.to_string()
        };
        Sop {
            atom: true,
            ..Sop::num(e, Ty::Int, v as f64, v as f64)
        }
    }

    fn num_atom(&mut self) -> Sop {
        if self.rng.chance(0.15) {
            let v = *self.rng.pick(&[0.5, 1.5, 2.5]);
            Sop {
                atom: true,
                ..Sop::num(format!("{v}"), Ty::Float, v, v)
            }
        } else if self.int_vocab && self.rng.chance(0.5) {
            let v = *self.rng.pick(&self.ints);
            self.int_atom(v, v)
        } else {
            self.int_atom(0, 3)
        }
    }

    fn str_atom(&mut self, of: &[String]) -> Sop {
        let s = if of.is_empty() || self.rng.chance(0.1) {
            "z".to_string()
        } else {
            self.rng.pick(of).clone()
        };
        Sop {
            atom: true,
            ..Sop::string(quote(&s), vec![s])
        }
    }

    fn bool_atom(&mut self) -> Sop {
        let b = self.rng.chance(0.5);
        Sop {
            atom: true,
            ..Sop::num(
                if b { "True" } else { "False" }.into(),
                Ty::Bool,
                b as i64 as f64,
                b as i64 as f64,
            )
        }
    }

    /// An atom of the same kind as `s` (for comparisons, fillers, defaults).
    fn atom_like(&mut self, s: &Sop) -> Sop {
        match s.ty {
            Ty::Str => {
                let strs = s.strs.clone();
                self.str_atom(&strs)
            }
            Ty::Bool => self.bool_atom(),
            Ty::Int | Ty::Float => {
                if self.rng.chance(0.7) && s.bound() < 50.0 {
                    let v = self.rng.range(s.lo.floor() as i64, s.hi.ceil() as i64);
                    self.int_atom(v, v)
                } else {
                    self.num_atom()
                }
            }
        }
    }

    fn base(&mut self, want: Want) -> Sop {
        match want {
            Want::Str => self.str_sop_base(),
            Want::Num | Want::Int => match self.rng.below(5) {
                0 | 1 => self.indices(),
                2 => self.length(),
                _ if self.int_vocab => self.tokens(),
                _ => self.indices(),
            },
            Want::Bool => {
                let t = if self.rng.chance(0.3) {
                    self.indices()
                } else if self.int_vocab {
                    self.tokens()
                } else {
                    self.str_sop_base()
                };
                let a = self.atom_like(&t);
                let op = *self.rng.pick(&CMPS);
                Sop::boolean(format!("({} {op} {})", t.e, a.e))
            }
        }
    }

    /// An operand: an earlier named s-op (preferably a recent one), a
    /// fresh expression, or a base s-op.
    fn operand(&mut self, want: Want, lvl: usize) -> Sop {
        let fits: Vec<usize> = (0..self.pool.len())
            .filter(|&i| want.accepts(self.pool[i].ty))
            .collect();
        if !fits.is_empty() && self.rng.chance(0.7) {
            let i = if self.rng.chance(0.6) {
                fits[fits.len() - 1 - self.rng.below(fits.len().min(2))]
            } else {
                *self.rng.pick(&fits)
            };
            return self.pool[i].clone();
        }
        if lvl > 0 && self.rng.chance(0.5) {
            return self.expr(want, lvl - 1);
        }
        self.base(want)
    }

    /// An operand or (sometimes) an atom of the wanted kind.
    fn operand_or_atom(&mut self, want: Want, lvl: usize, p_atom: f64) -> Sop {
        if self.rng.chance(p_atom) {
            match want {
                Want::Str => {
                    let l = self.str_sop_base().strs;
                    self.str_atom(&l)
                }
                Want::Bool => self.bool_atom(),
                Want::Num => self.num_atom(),
                Want::Int => self.int_atom(0, 3),
            }
        } else {
            self.operand(want, lvl)
        }
    }

    // --- s-op expressions ---------------------------------------------------

    fn expr(&mut self, want: Want, lvl: usize) -> Sop {
        for _ in 0..50 {
            let s = match want {
                Want::Num => self.gen_num(lvl),
                Want::Int => self.gen_num(lvl).filter(|s| s.ty == Ty::Int),
                Want::Bool => self.gen_bool(lvl),
                Want::Str => self.gen_str(lvl),
            };
            if let Some(s) = s
                && !s.atom
            {
                return s;
            }
        }
        self.base(want)
    }

    fn arith(&mut self, a: &Sop, b: &Sop) -> Option<Sop> {
        let op = *self.rng.pick(&["+", "-", "*", "/", "%", "+", "-"]);
        let e = format!("({} {op} {})", a.e, b.e);
        let (ty, lo, hi) = match op {
            "+" => (num_ty(a.ty, b.ty), a.lo + b.lo, a.hi + b.hi),
            "-" => (num_ty(a.ty, b.ty), a.lo - b.hi, a.hi - b.lo),
            "*" => {
                if a.bound() * b.bound() > 200.0 {
                    return None;
                }
                let p = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
                (
                    num_ty(a.ty, b.ty),
                    p.iter().cloned().fold(f64::INFINITY, f64::min),
                    p.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            }
            "/" => {
                if b.contains_zero() {
                    return None;
                }
                let p = [a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi];
                (
                    Ty::Float,
                    p.iter().cloned().fold(f64::INFINITY, f64::min),
                    p.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                )
            }
            _ => {
                if b.contains_zero() {
                    return None;
                }
                let ty = num_ty(a.ty, b.ty);
                if b.lo > 0.0 {
                    (ty, 0.0, b.hi)
                } else {
                    (ty, b.lo, 0.0)
                }
            }
        };
        if lo.abs().max(hi.abs()) > 1000.0 {
            return None;
        }
        Some(Sop::num(e, ty, lo, hi))
    }

    fn gen_num(&mut self, lvl: usize) -> Option<Sop> {
        let n = self.n as f64;
        Some(match self.rng.below(24) {
            // arithmetic with a constant
            0..=3 => {
                let a = self.operand(Want::Num, lvl);
                let c = self.num_atom();
                if self.rng.chance(0.25) {
                    self.arith(&c, &a)?
                } else {
                    self.arith(&a, &c)?
                }
            }
            // arithmetic between s-ops
            4 | 5 => {
                let a = self.operand(Want::Num, lvl);
                let b = self.operand(Want::Num, lvl);
                self.arith(&a, &b)?
            }
            // a zip of three s-ops
            6 => {
                let a = self.operand(Want::Num, lvl);
                let b = self.operand(Want::Num, lvl);
                let c = self.operand(Want::Num, lvl);
                let ab = self.arith(&a, &b)?;
                self.arith(&ab, &c)?
            }
            7 | 8 => {
                let b = self.operand(Want::Bool, lvl);
                Sop::num(format!("indicator({})", b.e), Ty::Int, 0.0, 1.0)
            }
            9 => {
                let a = self.operand(Want::Num, lvl);
                Sop::num(
                    format!("round({})", a.e),
                    Ty::Int,
                    a.lo.floor(),
                    a.hi.ceil(),
                )
            }
            10 => {
                let c = self.operand(Want::Bool, lvl);
                let x = self.operand_or_atom(Want::Num, lvl, 0.3);
                let y = self.operand_or_atom(Want::Num, lvl, 0.3);
                Sop::num(
                    format!("({} if {} else {})", x.e, c.e, y.e),
                    num_ty(x.ty, y.ty),
                    x.lo.min(y.lo),
                    x.hi.max(y.hi),
                )
            }
            // numerical mean
            11 | 12 => {
                let s = self.sel(lvl);
                let v = if self.rng.chance(0.3) {
                    let b = self.operand(Want::Bool, lvl);
                    Sop::num(format!("indicator({})", b.e), Ty::Int, 0.0, 1.0)
                } else if self.rng.chance(0.1) {
                    self.int_atom(1, 2)
                } else {
                    self.operand(Want::Num, lvl)
                };
                let (d, lo, hi) = self.num_default(&v);
                Sop::num(format!("aggregate({s}, {}{d})", v.e), Ty::Float, lo, hi)
            }
            // categorical copy of an int (at most one selected key)
            13 => {
                let s = self.onesel(lvl);
                let v = self.operand(Want::Int, lvl);
                let (d, lo, hi) = self.num_default(&v);
                Sop::num(format!("aggregate({s}, {}{d})", v.e), Ty::Int, lo, hi)
            }
            // a bool copied with a numeric default (or none: 0)
            14 => {
                let s = self.onesel(lvl);
                let v = self.operand(Want::Bool, lvl);
                let d = if self.rng.chance(0.5) { "" } else { ", 0" };
                Sop::num(format!("aggregate({s}, {}{d})", v.e), Ty::Int, 0.0, 1.0)
            }
            15 => {
                let s = self.sel(lvl);
                Sop::num(format!("selector_width({s})"), Ty::Int, 0.0, n)
            }
            16 => {
                let (seq, a) = self.seq_and_atom(lvl);
                Sop::num(format!("count({}, {})", seq.e, a.e), Ty::Int, 0.0, n)
            }
            17 => {
                let a = self.operand(Want::Num, lvl);
                let b = self.operand_or_atom(Want::Num, lvl, 0.4);
                let f = if self.rng.chance(0.5) { "min" } else { "max" };
                let (lo, hi) = if f == "min" {
                    (a.lo.min(b.lo), a.hi.min(b.hi))
                } else {
                    (a.lo.max(b.lo), a.hi.max(b.hi))
                };
                Sop::num(format!("{f}({}, {})", a.e, b.e), num_ty(a.ty, b.ty), lo, hi)
            }
            18 => {
                let a = if self.rng.chance(0.3) {
                    let b = self.operand(Want::Bool, lvl);
                    Sop::num(format!("indicator({})", b.e), Ty::Int, 0.0, 1.0)
                } else {
                    self.operand(Want::Num, lvl)
                };
                Sop::num(format!("average({})", a.e), Ty::Float, a.lo, a.hi)
            }
            19 => {
                let a = self.operand(Want::Num, lvl);
                let k = *self.rng.pick(&[1, 1, 2, -1]);
                let f = self.atom_like(&a);
                Sop::num(
                    format!("shift({}, {}, {})", a.e, fmt_k(k), f.e),
                    num_ty(a.ty, f.ty),
                    a.lo.min(f.lo),
                    a.hi.max(f.hi),
                )
            }
            20 => {
                let a = self.operand(Want::Num, lvl);
                let loc = self.loc(lvl, false);
                Sop::num(
                    format!("load_from_location({}, {})", a.e, loc.e),
                    a.ty,
                    a.lo.min(0.0),
                    a.hi.max(0.0),
                )
            }
            21 => {
                let a = self.operand(Want::Num, lvl);
                let key = self.sort_key(lvl);
                Sop::num(format!("sort({}, {})", a.e, key.e), a.ty, a.lo, a.hi)
            }
            22 => {
                let a = self.operand(Want::Num, lvl);
                if a.ty == Ty::Int && a.bound() <= 10.0 && self.rng.chance(0.3) {
                    let hi = a.lo.abs().max(a.hi.abs()).powi(2);
                    Sop::num(format!("({} ^ 2)", a.e), Ty::Int, 0.0, hi)
                } else {
                    Sop::num(format!("(-{})", a.e), a.ty, -a.hi, -a.lo)
                }
            }
            _ => {
                if self.rng.chance(0.5) {
                    self.length()
                } else {
                    self.indices()
                }
            }
        })
    }

    /// `, d` (or nothing: 0) for a numerical aggregate of `v`, and the
    /// bounds of the result.
    fn num_default(&mut self, v: &Sop) -> (String, f64, f64) {
        if self.rng.chance(0.5) {
            (String::new(), v.lo.min(0.0), v.hi.max(0.0))
        } else {
            let d = self.rng.range(-1, 2);
            (
                format!(", {}", self.int_atom(d, d).e),
                v.lo.min(d as f64),
                v.hi.max(d as f64),
            )
        }
    }

    fn gen_bool(&mut self, lvl: usize) -> Option<Sop> {
        Some(match self.rng.below(18) {
            // comparison with a constant
            0..=3 => {
                let a = if self.rng.chance(0.3) {
                    self.operand(Want::Str, lvl)
                } else {
                    self.operand(Want::Num, lvl)
                };
                let c = self.atom_like(&a);
                let op = *self.rng.pick(&CMPS);
                if self.rng.chance(0.15) {
                    Sop::boolean(format!("(not ({} == {}))", a.e, c.e))
                } else {
                    Sop::boolean(format!("({} {op} {})", a.e, c.e))
                }
            }
            // comparison of two s-ops
            4 | 5 => {
                let want = if self.rng.chance(0.3) {
                    Want::Str
                } else {
                    Want::Num
                };
                let a = self.operand(want, lvl);
                let b = self.operand(want, lvl);
                let op = *self.rng.pick(&CMPS);
                Sop::boolean(format!("({} {op} {})", a.e, b.e))
            }
            6 | 7 => {
                let a = self.operand(Want::Bool, lvl);
                let b = self.operand_or_atom(Want::Bool, lvl, 0.1);
                let op = if self.rng.chance(0.5) { "and" } else { "or" };
                Sop::boolean(format!("({} {op} {})", a.e, b.e))
            }
            8 => {
                let a = self.operand(Want::Bool, lvl);
                Sop::boolean(format!("(not {})", a.e))
            }
            9 => {
                let (seq, a) = self.seq_and_atom(lvl);
                Sop::boolean(format!("contains({}, {})", seq.e, a.e))
            }
            10 => {
                let s = self.sel(lvl);
                Sop::boolean(format!("has_focus({s})"))
            }
            11 => {
                let (seq, a) = self.seq_and_atom(lvl);
                let f = if self.rng.chance(0.5) {
                    "mark_first_instance"
                } else {
                    "mark_last_instance"
                };
                Sop::boolean(format!("{f}({}, {})", seq.e, a.e))
            }
            12 => {
                let c = self.operand(Want::Bool, lvl);
                let x = self.operand_or_atom(Want::Bool, lvl, 0.2);
                let y = self.operand_or_atom(Want::Bool, lvl, 0.2);
                Sop::boolean(format!("({} if {} else {})", x.e, c.e, y.e))
            }
            13 => {
                let a = self.operand(Want::Bool, lvl);
                let k = *self.rng.pick(&[1, 1, 2, -1]);
                let f = self.bool_atom();
                Sop::boolean(format!("shift({}, {}, {})", a.e, fmt_k(k), f.e))
            }
            14 => {
                let a = self.operand(Want::Bool, lvl);
                let key = self.sort_key(lvl);
                Sop::boolean(format!("sort({}, {})", a.e, key.e))
            }
            15 => {
                let s = self.onesel(lvl);
                let v = self.operand(Want::Bool, lvl);
                let d = self.bool_atom();
                Sop::boolean(format!("aggregate({s}, {}, {})", v.e, d.e))
            }
            // a zip: two comparisons joined
            16 => {
                let a = self.operand(Want::Num, lvl);
                let b = self.operand(Want::Num, lvl);
                let c = self.operand(Want::Num, lvl);
                let op1 = *self.rng.pick(&CMPS);
                let op2 = *self.rng.pick(&CMPS);
                let j = if self.rng.chance(0.5) { "and" } else { "or" };
                Sop::boolean(format!(
                    "(({} {op1} {}) {j} ({} {op2} {}))",
                    a.e, b.e, b.e, c.e
                ))
            }
            _ => {
                let a = self.operand(Want::Num, lvl);
                Sop::boolean(format!("({} == {})", a.e, self.atom_like(&a).e))
            }
        })
    }

    fn gen_str(&mut self, lvl: usize) -> Option<Sop> {
        Some(match self.rng.below(12) {
            0 | 1 => {
                let c = self.operand(Want::Bool, lvl);
                let x = self.operand_or_atom(Want::Str, lvl, 0.3);
                let y = self.operand_or_atom(Want::Str, lvl, 0.3);
                Sop::string(
                    format!("({} if {} else {})", x.e, c.e, y.e),
                    union(&x.strs, &y.strs),
                )
            }
            2 | 3 => {
                let a = self.operand(Want::Str, lvl);
                let k = *self.rng.pick(&[1, 1, 2, -1]);
                let f = self.atom_like(&a);
                Sop::string(
                    format!("shift({}, {}, {})", a.e, fmt_k(k), f.e),
                    union(&a.strs, &f.strs),
                )
            }
            4 | 5 => {
                let s = self.onesel(lvl);
                let v = self.operand(Want::Str, lvl);
                if self.rng.chance(0.8) {
                    let d = self.atom_like(&v);
                    Sop::string(
                        format!("aggregate({s}, {}, {})", v.e, d.e),
                        union(&v.strs, &d.strs),
                    )
                } else {
                    Sop::string(format!("aggregate({s}, {})", v.e), v.strs)
                }
            }
            6 | 7 => {
                let a = self.operand(Want::Str, lvl);
                let key = self.sort_key(lvl);
                Sop::string(format!("sort({}, {})", a.e, key.e), a.strs)
            }
            8 => {
                let a = self.operand(Want::Str, lvl);
                let loc = self.loc(lvl, true);
                Sop::string(format!("load_from_location({}, {})", a.e, loc.e), a.strs)
            }
            9 => {
                let a = self.operand(Want::Str, lvl);
                let b = self.operand_or_atom(Want::Str, lvl, 0.3);
                let f = if self.rng.chance(0.5) { "min" } else { "max" };
                Sop::string(format!("{f}({}, {})", a.e, b.e), union(&a.strs, &b.strs))
            }
            10 => {
                let a = self.operand(Want::Str, lvl);
                let b = self.operand_or_atom(Want::Str, lvl, 0.5);
                if a.strs.len() * b.strs.len() > 16 {
                    return None;
                }
                let mut strs = Vec::new();
                for x in &a.strs {
                    for y in &b.strs {
                        let s = format!("{x}{y}");
                        if !strs.contains(&s) {
                            strs.push(s);
                        }
                    }
                }
                Sop::string(format!("({} + {})", a.e, b.e), strs)
            }
            _ => self.str_sop_base(),
        })
    }

    /// A sequence and an atom of its kind (for count, contains, marks).
    fn seq_and_atom(&mut self, lvl: usize) -> (Sop, Sop) {
        let seq = if self.rng.chance(0.6) {
            self.operand(Want::Str, lvl)
        } else {
            self.operand(Want::Num, lvl)
        };
        let a = self.atom_like(&seq);
        (seq, a)
    }

    fn sort_key(&mut self, lvl: usize) -> Sop {
        if self.rng.chance(0.4) {
            self.operand(Want::Str, lvl)
        } else {
            self.operand(Want::Num, lvl)
        }
    }

    /// A location for `load_from_location`; in range when `safe`.
    fn loc(&mut self, lvl: usize, safe: bool) -> Sop {
        let n = self.n as f64;
        match self.rng.below(if safe { 4 } else { 6 }) {
            0 => self.int_atom(0, 0),
            1 => Sop::num("(length - 1)".into(), Ty::Int, 0.0, n - 1.0),
            2 => Sop::num("((length - indices) - 1)".into(), Ty::Int, 0.0, n - 1.0),
            3 => self.indices(),
            4 => Sop::num("(indices + 1)".into(), Ty::Int, 1.0, n),
            _ => self.operand(Want::Int, lvl),
        }
    }

    // --- selectors -------------------------------------------------------------

    fn sel(&mut self, lvl: usize) -> String {
        match self.rng.below(14) {
            0..=7 => self.select(lvl),
            8 if lvl > 0 => format!("({} and {})", self.sel(lvl - 1), self.sel(lvl - 1)),
            9 if lvl > 0 => format!("({} or {})", self.sel(lvl - 1), self.sel(lvl - 1)),
            10 if lvl > 0 => format!("(not {})", self.sel(lvl - 1)),
            11 if !self.sels.is_empty() => self.rng.pick(&self.sels).clone(),
            12 => "full_s".into(),
            13 => self.onesel(lvl),
            _ => self.select(lvl),
        }
    }

    fn select(&mut self, lvl: usize) -> String {
        let want = match self.rng.below(10) {
            0..=2 => Want::Str,
            3 => Want::Bool,
            _ => Want::Num,
        };
        let k = self.operand_or_atom(want, lvl, 0.15);
        let q = self.operand_or_atom(want, lvl, 0.3);
        let op = *self.rng.pick(&SEL_CMPS);
        format!("select({}, {}, {op})", k.e, q.e)
    }

    /// A selector that selects at most one key per query.
    fn onesel(&mut self, lvl: usize) -> String {
        match self.rng.below(9) {
            0..=5 => {
                let q = match self.rng.below(6) {
                    0 => Sop::num("(indices - 1)".into(), Ty::Int, 0.0, 0.0),
                    1 => Sop::num("(indices + 1)".into(), Ty::Int, 0.0, 0.0),
                    2 => Sop::num("((length - indices) - 1)".into(), Ty::Int, 0.0, 0.0),
                    3 => self.int_atom(0, 2),
                    _ => self.operand(Want::Int, lvl),
                };
                format!("select(indices, {}, ==)", q.e)
            }
            6 | 7 => {
                let (seq, a) = self.seq_and_atom(lvl);
                let f = if self.rng.chance(0.5) {
                    "mark_first_instance"
                } else {
                    "mark_last_instance"
                };
                format!("select({f}({}, {}), True, ==)", seq.e, a.e)
            }
            _ => {
                let q = self.operand(Want::Int, lvl);
                let other = self.sel(lvl.saturating_sub(1));
                format!("(select(indices, {}, ==) and {other})", q.e)
            }
        }
    }
}

fn fmt_k(k: i64) -> String {
    if k < 0 {
        format!("(0 - {})", -k)
    } else {
        k.to_string()
    }
}

// ---------------------------------------------------------------------------
// Compiling and classifying
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Verified,
    /// Refused with a diagnostic (its code, and its message).
    Refused(String, String),
    /// The interpreter fails on every input: nothing to compare.
    NoInputs,
    /// Compile + verify ran past the time limit (killed; not a failure).
    Timeout,
    /// Failures:
    Wrong(String),
    Internal(String),
    Panic(String),
    VerifyError(String),
    Estimate(String),
}

impl Class {
    fn is_failure(&self) -> bool {
        matches!(
            self,
            Class::Wrong(_)
                | Class::Internal(_)
                | Class::Panic(_)
                | Class::VerifyError(_)
                | Class::Estimate(_)
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Class::Verified => "verified",
            Class::Refused(..) => "refused",
            Class::NoInputs => "no_inputs",
            Class::Timeout => "timeout",
            Class::Wrong(_) => "wrong",
            Class::Internal(_) => "internal",
            Class::Panic(_) => "panic",
            Class::VerifyError(_) => "verify_error",
            Class::Estimate(_) => "estimate",
        }
    }

    fn detail(&self) -> &str {
        match self {
            Class::Wrong(s)
            | Class::Internal(s)
            | Class::Panic(s)
            | Class::VerifyError(s)
            | Class::Estimate(s) => s,
            _ => "",
        }
    }
}

struct Outcome {
    class: Class,
    /// Compile and verify wall times.
    compile_secs: f64,
    verify_secs: f64,
    /// Inputs compared, and inputs the program itself fails on.
    checked: usize,
    skipped: usize,
    /// The size estimate over the built model's dense parameter count,
    /// when a model was built.
    ratio: Option<f64>,
}

fn is_internal(d: &rasp::diag::Diag) -> bool {
    d.code == "rasp::compile::internal" || d.message.contains("internal compiler error")
}

/// The parameter count a size refusal states ("would have at most N
/// parameters").
fn stated_params(msg: &str) -> Option<u64> {
    msg.split_once("at most ")?
        .1
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Whether the estimate bounds the built model: `built <= estimate <=
/// 2 * built`, or with `upper_only` just the first; the ratio, or what is
/// wrong.
fn estimate_bound(c: &rasp::compile::Compiled, upper_only: bool) -> Result<f64, String> {
    let est = c.estimate.as_ref().map_or(0, |e| e.params);
    let built = rasp::compile::explain::parameter_count(&c.model).0 as u64;
    let ratio = est as f64 / built.max(1) as f64;
    if built <= est && (upper_only || est <= 2 * built) {
        Ok(ratio)
    } else {
        Err(format!(
            "the size estimate is {est} parameters, the built model has {built}"
        ))
    }
}

/// Compile the s-op `sop` of the program run in `scope` and verify it on
/// every input; check the size estimate against the model. `None`: the
/// front end rejects the program.
fn check_scope(
    session: &Session,
    scope: &ScopeRef,
    sop: &str,
    vocab: Vec<Value>,
    max_len: usize,
    causal: bool,
) -> Option<Outcome> {
    let Some(MVal::Sop(node)) = lookup(scope, sop) else {
        return None;
    };
    let mut opts = Options::new(vocab, max_len);
    opts.causal = causal;
    // Every input where there are few; else the default check (what
    // `rasp compile` runs) and then another 1,500 inputs of its own seed.
    let exhaustive = rasp::compile::verify::count_inputs(opts.vocab.len(), max_len) <= 20_000;
    let start = Instant::now();
    let mut compile_secs = None;
    let mut inputs = (0, 0);
    let mut ratio = None;
    let run = catch_unwind(AssertUnwindSafe(|| {
        let compiled = compile(
            &session.graph,
            &session.sources,
            node,
            &opts,
            &Source::default(),
        );
        compile_secs = Some(start.elapsed().as_secs_f64());
        let compiled = match compiled {
            Ok(c) => c,
            Err(d) if is_internal(&d) => return Class::Internal(d.render_plain()),
            Err(d) if d.code == rasp::diag::codes::COMPILE_SIZE => {
                // Refused for its size: compiled again with the count the
                // refusal states as the limit (refused by the estimate, the
                // estimate; refused after building, the real count), the
                // estimate must let it through and bound the model. Models
                // over twice the default limit are not built here.
                let stated = stated_params(&d.message);
                if let Some(limit) = stated.filter(|p| *p <= 2 * rasp::compile::DEFAULT_MAX_PARAMS)
                {
                    let mut raised = opts.clone();
                    raised.max_params = limit;
                    let again = compile(
                        &session.graph,
                        &session.sources,
                        node,
                        &raised,
                        &Source::default(),
                    );
                    match again {
                        Ok(c) => match estimate_bound(&c, true) {
                            Ok(r) => ratio = Some(r),
                            Err(e) => return Class::Estimate(e),
                        },
                        Err(d2) if d2.code == rasp::diag::codes::COMPILE_SIZE => {
                            return Class::Estimate(format!(
                                "refused at {limit} parameters, then at a limit of {limit}: {}",
                                d2.message
                            ));
                        }
                        Err(_) => {}
                    }
                }
                return Class::Refused(d.code.to_string(), d.message.clone());
            }
            Err(d) => return Class::Refused(d.code.to_string(), d.message.clone()),
        };
        match estimate_bound(&compiled, false) {
            Ok(r) => ratio = Some(r),
            Err(e) => return Class::Estimate(e),
        }
        let modes: &[Mode] = if exhaustive {
            &[Mode::Exhaustive]
        } else {
            &[
                Mode::Cover {
                    samples: rasp::compile::DEFAULT_CHECK_SAMPLES,
                    seed: 0,
                },
                Mode::Cover {
                    samples: 1_500,
                    seed: 0x5eed,
                },
            ]
        };
        let mut last = None;
        for mode in modes {
            let report = verify(&session.graph, &session.sources, &compiled, node, *mode);
            if let Ok(r) = &report {
                inputs = (inputs.0 + r.checked, inputs.1 + r.program_errors);
            }
            let go_on = matches!(&report, Ok(r) if r.mismatches == 0);
            last = Some(report);
            if !go_on {
                break;
            }
        }
        let report = last.expect("one check at least");
        match report {
            Err(d) => Class::VerifyError(d.render_plain()),
            Ok(r) if r.mismatches > 0 => Class::Wrong(r.render(max_len)),
            Ok(r) if r.checked == 0 => Class::NoInputs,
            Ok(_) => Class::Verified,
        }
    }));
    let class = run.unwrap_or_else(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        Class::Panic(msg)
    });
    let total = start.elapsed().as_secs_f64();
    let compile_secs = compile_secs.unwrap_or(total);
    Some(Outcome {
        class,
        compile_secs,
        verify_secs: total - compile_secs,
        checked: inputs.0,
        skipped: inputs.1,
        ratio,
    })
}

fn check_prog(p: &Prog) -> Option<Outcome> {
    let mut session = Session::new();
    let scope = session.new_scope();
    let result = session.run_source("<genprog>", &p.src, &scope, None);
    if result.has_errors() {
        return None;
    }
    check_scope(
        &session,
        &scope,
        "out",
        p.vocab.clone(),
        p.max_len,
        p.causal,
    )
}

/// A precision refusal over a gap below 1e-9: "... values 2.776e-17 apart
/// (out of 1) ...".
fn tiny_gap(msg: &str) -> bool {
    msg.split(" apart")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|g| g.parse::<f64>().ok())
        .is_some_and(|g| g < 1e-9)
}

impl Class {
    /// The class as JSON (from a child process to its parent).
    fn to_json(&self) -> serde_json::Value {
        let (code, detail) = match self {
            Class::Refused(code, msg) => (code.as_str(), msg.as_str()),
            c => ("", c.detail()),
        };
        serde_json::json!({"class": self.name(), "code": code, "detail": detail})
    }

    fn from_json(v: &serde_json::Value) -> Option<Class> {
        let detail = v["detail"].as_str()?.to_string();
        Some(match v["class"].as_str()? {
            "verified" => Class::Verified,
            "refused" => Class::Refused(v["code"].as_str()?.to_string(), detail),
            "no_inputs" => Class::NoInputs,
            "timeout" => Class::Timeout,
            "wrong" => Class::Wrong(detail),
            "internal" => Class::Internal(detail),
            "panic" => Class::Panic(detail),
            "verify_error" => Class::VerifyError(detail),
            "estimate" => Class::Estimate(detail),
            _ => return None,
        })
    }
}

const CHILD_ENV: &str = "RASP_GENPROG_CHILD";
const CHILD_BEGIN: &str = "<<<genprog-result";
const CHILD_END: &str = "genprog-result>>>";

/// The child side of `check_prog_isolated`: one program from the
/// environment, its outcome as one JSON line between markers on stdout.
#[test]
#[ignore = "run by the genprog tests in a child process"]
fn genprog_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("child spec is JSON");
    let vocab_text = spec["vocab"].as_str().expect("vocab").to_string();
    let p = Prog {
        src: spec["src"].as_str().expect("src").to_string(),
        vocab: parse_vocab(&vocab_text).expect("vocab parses"),
        vocab_text,
        max_len: spec["max_len"].as_u64().expect("max_len") as usize,
        causal: spec["causal"].as_bool().expect("causal"),
    };
    let out = match check_prog(&p) {
        None => serde_json::json!({"program_error": true}),
        Some(o) => serde_json::json!({
            "outcome": o.class.to_json(),
            "compile_secs": o.compile_secs,
            "verify_secs": o.verify_secs,
            "checked": o.checked,
            "skipped": o.skipped,
            "ratio": o.ratio,
        }),
    };
    println!("{CHILD_BEGIN}\n{out}\n{CHILD_END}");
}

/// `check_prog` in a child process (this test binary running
/// `genprog_child`), killed after `limit`: a runaway compile costs no more
/// than the limit, and a crash (stack overflow, abort) is a `panic`.
fn check_prog_isolated(p: &Prog, limit: Duration) -> Option<Outcome> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let spec = serde_json::json!({
        "src": p.src,
        "vocab": p.vocab_text,
        "max_len": p.max_len,
        "causal": p.causal,
    });
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "genprog::genprog_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the test binary");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits for the child") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let outcome = |class| Outcome {
        class,
        compile_secs: start.elapsed().as_secs_f64(),
        verify_secs: 0.0,
        checked: 0,
        skipped: 0,
        ratio: None,
    };
    let Some(status) = status else {
        return Some(outcome(Class::Timeout));
    };
    let json = out
        .split_once(CHILD_BEGIN)
        .and_then(|(_, rest)| rest.split_once(CHILD_END))
        .and_then(|(j, _)| serde_json::from_str::<serde_json::Value>(j.trim()).ok());
    let Some(v) = json else {
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        return Some(outcome(Class::Panic(format!(
            "the child process died ({status}) without a result:\n{tail}"
        ))));
    };
    if v["program_error"].as_bool() == Some(true) {
        return None;
    }
    let class = Class::from_json(&v["outcome"]).expect("the child's class");
    Some(Outcome {
        class,
        compile_secs: v["compile_secs"].as_f64().unwrap_or(0.0),
        verify_secs: v["verify_secs"].as_f64().unwrap_or(0.0),
        checked: v["checked"].as_u64().unwrap_or(0) as usize,
        skipped: v["skipped"].as_u64().unwrap_or(0) as usize,
        ratio: v["ratio"].as_f64(),
    })
}

/// Figures of a batch.
#[derive(Default)]
struct Stats {
    programs: usize,
    program_errors: usize,
    classes: BTreeMap<&'static str, usize>,
    refusals: BTreeMap<String, usize>,
    /// Precision refusals over a gap below 1e-9 (float rounding, not a
    /// real gap between values).
    tiny_gaps: usize,
    /// The first few refused programs of each code, with the message.
    refused_examples: BTreeMap<String, Vec<(Prog, String)>>,
    failures: Vec<(Prog, Class)>,
    /// Verified programs with some / most inputs failing in the program.
    some_skipped: usize,
    most_skipped: usize,
    inputs_checked: usize,
    /// (compile s, verify s, program) of each program checked.
    times: Vec<(f64, f64, Prog)>,
    /// Models whose estimate was compared, and the largest ratio estimate
    /// / built with its program.
    estimated: usize,
    worst_ratio: Option<(f64, Prog)>,
}

impl Stats {
    fn add(&mut self, p: Prog, o: Outcome) {
        self.programs += 1;
        *self.classes.entry(o.class.name()).or_default() += 1;
        if let Class::Refused(code, msg) = &o.class {
            *self.refusals.entry(code.clone()).or_default() += 1;
            if tiny_gap(msg) {
                self.tiny_gaps += 1;
            }
            let shown = self.refused_examples.entry(code.clone()).or_default();
            if shown.len() < 3 {
                shown.push((p.clone(), msg.clone()));
            }
        }
        self.inputs_checked += o.checked;
        if let Some(r) = o.ratio {
            self.estimated += 1;
            if self.worst_ratio.as_ref().is_none_or(|w| r > w.0) {
                self.worst_ratio = Some((r, p.clone()));
            }
        }
        if o.class == Class::Verified && o.skipped > 0 {
            self.some_skipped += 1;
            if o.skipped > o.checked {
                self.most_skipped += 1;
            }
        }
        self.times.push((o.compile_secs, o.verify_secs, p.clone()));
        if o.class.is_failure() {
            self.failures.push((p, o.class));
        }
    }

    fn render(&self, max_failures: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} programs ({} regenerated: rejected by the front end)",
            self.programs, self.program_errors
        );
        for (c, k) in &self.classes {
            let _ = writeln!(
                s,
                "  {c:<13} {k:>6}  ({:.1}%)",
                100.0 * *k as f64 / self.programs.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "{} inputs compared; verified programs failing on some inputs: {}, on most: {}",
            self.inputs_checked, self.some_skipped, self.most_skipped
        );
        if let Some((r, p)) = &self.worst_ratio {
            let _ = writeln!(
                s,
                "size estimate / built parameters over {} models: worst {r:.3}  {}  {}",
                self.estimated,
                p.header(),
                p.src.trim_end().replace('\n', " ")
            );
        }
        let _ = writeln!(s, "refusal codes:");
        for (c, k) in &self.refusals {
            let _ = writeln!(s, "  {c:<28} {k:>6}");
        }
        if self.tiny_gaps > 0 {
            let _ = writeln!(
                s,
                "  (of the precision refusals, {} over gaps below 1e-9)",
                self.tiny_gaps
            );
        }
        let total = |t: &(f64, f64, Prog)| t.0 + t.1;
        let mut times: Vec<&(f64, f64, Prog)> = self.times.iter().collect();
        times.sort_by(|a, b| total(b).total_cmp(&total(a)));
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
                .map_or(0.0, |t| total(t))
        };
        let slow = times.iter().filter(|t| total(t) > 5.0).count();
        let _ = writeln!(
            s,
            "time: compile {:.1} s + verify {:.1} s in all; per program median {:.3} s, \
             90% {:.3} s, 99% {:.3} s, max {:.2} s; {slow} over 5 s",
            self.times.iter().map(|t| t.0).sum::<f64>(),
            self.times.iter().map(|t| t.1).sum::<f64>(),
            at(0.5),
            at(0.1),
            at(0.01),
            at(0.0),
        );
        let _ = writeln!(s, "slowest (compile + verify):");
        for t in times.iter().take(slow.clamp(5, 20)) {
            let _ = writeln!(
                s,
                "  {:.2} s + {:.2} s  {}  {}",
                t.0,
                t.1,
                t.2.header(),
                t.2.src.trim_end().replace('\n', " ")
            );
        }
        if max_failures > 0 {
            let _ = writeln!(s, "refused, first examples of each code:");
            for (code, shown) in &self.refused_examples {
                for (p, msg) in shown {
                    let _ = writeln!(
                        s,
                        "  {code}: {}\n    {}  {}",
                        msg.lines().next().unwrap_or(""),
                        p.header(),
                        p.src.trim_end().replace('\n', " ")
                    );
                }
            }
        }
        let _ = writeln!(s, "failures: {}", self.failures.len());
        for (p, c) in self.failures.iter().take(max_failures) {
            let _ = writeln!(
                s,
                "--- {} ---\n{}\n{}{}",
                c.name(),
                p.header(),
                p.src,
                c.detail()
            );
        }
        if self.failures.len() > max_failures {
            let _ = writeln!(s, "... and {} more", self.failures.len() - max_failures);
        }
        s
    }
}

/// Generate and check `count` programs from `seed`.
fn batch(seed: u64, count: usize, shape: Shape, limit: Duration, progress: bool) -> Stats {
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let start = Instant::now();
    while stats.programs < count {
        let p = Gen::program(&mut rng, shape);
        match check_prog_isolated(&p, limit) {
            None => stats.program_errors += 1,
            Some(o) => stats.add(p, o),
        }
        if progress && stats.programs % 500 == 0 && stats.programs > 0 {
            eprintln!(
                "[genprog] {} programs, {} failures, {:.0} s",
                stats.programs,
                stats.failures.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    stats
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn genprog_generates_mostly_valid_programs() {
    let mut rng = Rng::new(7);
    let mut ok = 0;
    for _ in 0..300 {
        let p = Gen::program(&mut rng, SHORT);
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source("<genprog>", &p.src, &scope, None);
        if !result.has_errors() {
            ok += 1;
        }
    }
    assert!(ok >= 270, "only {ok} of 300 generated programs are valid");
}

#[test]
fn genprog_short() {
    let stats = batch(
        env_or("RASP_GENPROG_SEED", 1),
        400,
        SHORT,
        Duration::from_secs(5),
        false,
    );
    println!("{}", stats.render(0));
    assert!(
        stats.failures.is_empty(),
        "generated programs that fail:\n{}",
        stats.render(20)
    );
}

#[test]
#[ignore = "long: run with scripts/genprog (release build)"]
fn genprog_long() {
    let count = env_or("RASP_GENPROG_COUNT", 10_000);
    let seed = env_or("RASP_GENPROG_SEED", 1);
    let start = Instant::now();
    let limit = Duration::from_secs(env_or("RASP_GENPROG_TIMEOUT", 60));
    let shape = Shape::from_env();
    let stats = batch(seed, count, shape, limit, true);
    println!(
        "genprog: seed {seed}, max lengths {}-{}{}, {:.0} s wall\n{}",
        shape.max_len.0,
        shape.max_len.1,
        if shape.causal { ", causal" } else { "" },
        start.elapsed().as_secs_f64(),
        stats.render(env_or("RASP_GENPROG_SHOW", 40))
    );
    assert!(
        stats.failures.is_empty(),
        "{} failures",
        stats.failures.len()
    );
}

// ---------------------------------------------------------------------------
// Regressions: tests/compile/regress/*.rasp
// ---------------------------------------------------------------------------

/// The header line of a regression program:
/// `# compile: sop=out vocab=abcd max_len=5 [expect=verify]`. With
/// `expect=verify` a refusal fails too (the program is one the compiler
/// should handle, e.g. a refusal over a gap that is only float rounding).
pub(crate) struct Header {
    pub(crate) sop: String,
    pub(crate) vocab: String,
    pub(crate) max_len: usize,
    pub(crate) causal: bool,
    must_verify: bool,
}

pub(crate) fn parse_header(text: &str) -> Option<Header> {
    let line = text.lines().next()?.strip_prefix("# compile:")?;
    let mut sop = None;
    let mut vocab = None;
    let mut max_len = None;
    let mut must_verify = false;
    let mut causal = false;
    for w in line.split_whitespace() {
        if w == "causal" {
            causal = true;
            continue;
        }
        let (k, v) = w.split_once('=')?;
        match (k, v) {
            ("sop", _) => sop = Some(v.to_string()),
            ("vocab", _) => vocab = Some(v.to_string()),
            ("max_len", _) => max_len = v.parse().ok(),
            ("expect", "verify") => must_verify = true,
            ("expect", "refuse-or-verify") => must_verify = false,
            _ => return None,
        }
    }
    Some(Header {
        sop: sop?,
        vocab: vocab?,
        max_len: max_len?,
        causal,
        must_verify,
    })
}

/// The programs of tests/compile/regress/, sorted.
pub(crate) fn regression_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile/regress");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/compile/regress exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rasp"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression programs");
    files
}

/// Every program in tests/compile/regress/ is refused with a diagnostic
/// (unless its header says `expect=verify`) or verifies exactly on every
/// input up to its max length.
#[test]
fn genprog_regressions() {
    let files = regression_files();
    let mut failures = String::new();
    for path in &files {
        let name = path.file_name().expect("name").to_string_lossy();
        let text = std::fs::read_to_string(path).expect("reads");
        let h = parse_header(&text).unwrap_or_else(|| {
            panic!("{name}: the first line is not `# compile: sop=.. vocab=.. max_len=.. [expect=verify]`")
        });
        let vocab =
            parse_vocab(&h.vocab).unwrap_or_else(|d| panic!("{name}: {}", d.render_plain()));
        let mut session = Session::new();
        let (scope, result) = session.run_path(path).expect("reads");
        assert!(!result.has_errors(), "{name}: {:?}", result.diags);
        let o = check_scope(&session, &scope, &h.sop, vocab, h.max_len, h.causal)
            .unwrap_or_else(|| panic!("{name}: {} is not an s-op", h.sop));
        println!("{name}: {} ({} inputs compared)", o.class.name(), o.checked);
        match &o.class {
            Class::NoInputs => {
                let _ = writeln!(failures, "--- {name}: no input evaluates");
            }
            Class::Refused(code, msg) if h.must_verify => {
                let _ = writeln!(
                    failures,
                    "--- {name}: refused ({code}) but expect=verify\n{msg}"
                );
            }
            c if c.is_failure() => {
                let _ = writeln!(failures, "--- {name}: {}\n{}", c.name(), c.detail());
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "regressions:\n{failures}");
}

/// Print generated programs (`RASP_GENPROG_COUNT`, default 10) with what
/// the front end says of them.
#[test]
#[ignore = "prints samples of the generator"]
fn genprog_sample() {
    let mut rng = Rng::new(env_or("RASP_GENPROG_SEED", 1));
    for _ in 0..env_or("RASP_GENPROG_COUNT", 10) {
        let p = Gen::program(&mut rng, LONG);
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source("<genprog>", &p.src, &scope, None);
        println!("{}\n{}", p.header(), p.src);
        for d in &result.diags {
            println!("  !! {}", d.render_plain().replace('\n', "\n  "));
        }
    }
}
