//! The program generator: its types, and programs, atoms, base s-ops,
//! operands and expressions.

use rasp::ir::Value;

use super::env_or;

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/// The verifier's seeded generator (splitmix64), with what generation needs.
pub(super) struct Rng(rasp::compile::verify::Rng);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(rasp::compile::verify::Rng::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in 0..n (n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// Uniform in lo..=hi.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub(super) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The value type of a generated s-op (as the interpreter's sequence
/// check sees it; bools count as ints there, so an int s-op may hold bools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Str,
    Bool,
    Int,
    Float,
}

/// What an operand must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Want {
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
pub(super) struct Sop {
    /// Source text: a name, an atom, or a parenthesised expression.
    pub(super) e: String,
    pub(super) ty: Ty,
    /// Bounds of the values (numbers and bools; bools are 0..1).
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// Possible values (strings).
    pub(super) strs: Vec<String>,
    /// An atom, not an s-op.
    pub(super) atom: bool,
}

impl Sop {
    pub(super) fn num(e: String, ty: Ty, lo: f64, hi: f64) -> Sop {
        Sop {
            e,
            ty,
            lo,
            hi,
            strs: Vec::new(),
            atom: false,
        }
    }

    pub(super) fn boolean(e: String) -> Sop {
        Sop::num(e, Ty::Bool, 0.0, 1.0)
    }

    pub(super) fn string(e: String, strs: Vec<String>) -> Sop {
        Sop {
            e,
            ty: Ty::Str,
            lo: 0.0,
            hi: 0.0,
            strs,
            atom: false,
        }
    }

    pub(super) fn bound(&self) -> f64 {
        self.lo.abs().max(self.hi.abs())
    }

    pub(super) fn contains_zero(&self) -> bool {
        self.lo <= 0.0 && self.hi >= 0.0
    }
}

/// One generated program and what to compile it for.
#[derive(Clone, Debug)]
pub(super) struct Prog {
    pub(super) src: String,
    pub(super) vocab: Vec<Value>,
    /// The vocab as `parse_vocab` reads it (for headers and printouts).
    pub(super) vocab_text: String,
    pub(super) max_len: usize,
    /// Compiled as a causal model, checked against the causal semantics.
    pub(super) causal: bool,
}

impl Prog {
    pub(super) fn header(&self) -> String {
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
pub(super) struct Shape {
    vocab: (usize, usize),
    pub(super) max_len: (usize, usize),
    statements: (usize, usize),
    pub(super) causal: bool,
}

pub(super) const SHORT: Shape = Shape {
    vocab: (2, 3),
    max_len: (3, 5),
    statements: (1, 5),
    causal: false,
};

pub(super) const LONG: Shape = Shape {
    vocab: (2, 4),
    max_len: (4, 6),
    statements: (1, 6),
    causal: false,
};

impl Shape {
    /// `LONG`, with the max lengths of `RASP_GENPROG_LEN` (`A-B`) and the
    /// causal semantics when `RASP_GENPROG_CAUSAL` is 1.
    pub(super) fn from_env() -> Shape {
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

pub(super) struct Gen<'r> {
    pub(super) rng: &'r mut Rng,
    pub(super) n: usize,
    int_vocab: bool,
    /// String tokens (letters) or int tokens.
    letters: Vec<String>,
    ints: Vec<i64>,
    /// Named s-ops defined so far, in order.
    pool: Vec<Sop>,
    /// Named selectors defined so far.
    pub(super) sels: Vec<String>,
    lines: Vec<String>,
}

pub(super) const CMPS: [&str; 5] = ["==", "<", ">", "<=", ">="];
pub(super) const SEL_CMPS: [&str; 6] = ["==", "!=", "<", ">", "<=", ">="];

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

pub(super) fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut v = a.to_vec();
    for s in b {
        if !v.contains(s) {
            v.push(s.clone());
        }
    }
    v
}

pub(super) fn num_ty(a: Ty, b: Ty) -> Ty {
    if a == Ty::Float || b == Ty::Float {
        Ty::Float
    } else {
        Ty::Int
    }
}

impl Gen<'_> {
    pub(super) fn program(rng: &mut Rng, shape: Shape) -> Prog {
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

    pub(super) fn indices(&self) -> Sop {
        Sop::num("indices".into(), Ty::Int, 0.0, (self.n - 1) as f64)
    }

    pub(super) fn length(&self) -> Sop {
        Sop::num("length".into(), Ty::Int, 1.0, self.n as f64)
    }

    pub(super) fn str_sop_base(&self) -> Sop {
        if self.int_vocab {
            let strs = self.ints.iter().map(i64::to_string).collect();
            Sop::string("tokens_str".into(), strs)
        } else {
            self.tokens()
        }
    }

    pub(super) fn int_atom(&mut self, lo: i64, hi: i64) -> Sop {
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

    pub(super) fn num_atom(&mut self) -> Sop {
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

    pub(super) fn bool_atom(&mut self) -> Sop {
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
    pub(super) fn atom_like(&mut self, s: &Sop) -> Sop {
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
    pub(super) fn operand(&mut self, want: Want, lvl: usize) -> Sop {
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
    pub(super) fn operand_or_atom(&mut self, want: Want, lvl: usize, p_atom: f64) -> Sop {
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
}
