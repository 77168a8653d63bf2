//! The generator's operations: arithmetic, numerical, boolean and string
//! s-ops, locations, selectors.

use super::generator::{CMPS, Gen, SEL_CMPS, Sop, Ty, Want, num_ty, union};

impl Gen<'_> {
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

    pub(super) fn gen_num(&mut self, lvl: usize) -> Option<Sop> {
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

    pub(super) fn gen_bool(&mut self, lvl: usize) -> Option<Sop> {
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

    pub(super) fn gen_str(&mut self, lvl: usize) -> Option<Sop> {
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

    pub(super) fn sel(&mut self, lvl: usize) -> String {
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
