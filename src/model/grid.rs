//! Decoding a numerical output position by position (`rasp.json`'s
//! `output_grid`, format version 5).
//!
//! A mean of integers over a selector that reads only positions (a prefix
//! mean such as tracr's `frac_prevs`) takes, over all inputs, every
//! fraction `s / w` with `w` up to the max length: at N = 512, values
//! 3.8e-6 apart, closer than float32's rounding of a sum of 512 terms can
//! be trusted to keep. At one position, though, only a few numbers of keys
//! `w` occur (exactly `i + 1` for a prefix), so there the values are at
//! least `1 / w` apart. The grid lists, per position, those numbers of
//! keys; an output is decoded to the nearest value at its position, which
//! the compiler has checked float32 resolves.
//!
//! The values are the interpreter's: the default where no key is
//! selected, the selected value itself (an integer) for one key, and the
//! float `s / w` for `w` keys summing to `s`.

use serde::{Deserialize, Serialize};

use crate::ir::Value;

/// The values of a mean of integers at each position, by how many keys it
/// averages there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Per output position (BOS excluded; `max_len` entries), the numbers
    /// of keys the mean can average there, as inclusive ranges `[a, b]`;
    /// 0 stands for no key (the default).
    pub widths: Vec<Vec<[u32; 2]>>,
    /// The smallest and largest integer averaged.
    pub lo: i64,
    pub hi: i64,
    /// The output where no key is selected.
    pub default: serde_json::Value,
}

impl Grid {
    /// Whether the grid is well formed for a model of `max_len` (what
    /// loading checks): one entry per position, ranges in order within
    /// `0..=max_len`, `lo <= hi` within ±2^40, a default that is a number.
    pub fn check(&self, max_len: usize) -> Result<(), String> {
        if self.widths.len() != max_len {
            return Err(format!(
                "output_grid lists {} positions for a max length of {max_len}",
                self.widths.len()
            ));
        }
        for (i, ranges) in self.widths.iter().enumerate() {
            if ranges.is_empty() {
                return Err(format!("output_grid position {i} lists no number of keys"));
            }
            for r in ranges {
                if r[0] > r[1] || r[1] as usize > max_len {
                    return Err(format!(
                        "output_grid position {i}: [{}, {}] is not a range within 0..={max_len}",
                        r[0], r[1]
                    ));
                }
            }
        }
        const BOUND: i64 = 1 << 40;
        if self.lo > self.hi || self.lo < -BOUND || self.hi > BOUND {
            return Err(format!(
                "output_grid averages integers from {} to {}",
                self.lo, self.hi
            ));
        }
        if default_value(&self.default)
            .and_then(|v| v.as_f64())
            .is_none()
        {
            return Err(format!(
                "output_grid's default {} is not a number",
                self.default
            ));
        }
        Ok(())
    }

    /// Every value the output can take at output position `i`, in the
    /// order of its numbers of keys.
    pub fn values_at(&self, i: usize) -> Vec<Value> {
        let mut out = Vec::new();
        for w in self.keys_at(i) {
            if w == 0 {
                out.extend(default_value(&self.default));
                continue;
            }
            let w = i64::from(w);
            for s in self.lo * w..=self.hi * w {
                out.push(mean(s, w));
            }
        }
        out
    }

    /// How many values [`Grid::values_at`] would list.
    pub fn count_at(&self, i: usize) -> u128 {
        let span = (self.hi - self.lo) as u128;
        self.keys_at(i)
            .map(|w| if w == 0 { 1 } else { span * u128::from(w) + 1 })
            .sum()
    }

    /// The value at output position `i` nearest to `x` (the first in
    /// [`Grid::values_at`]'s order on ties); `x` itself when it is not
    /// finite or the position is unknown.
    pub fn decode(&self, i: usize, x: f64) -> Value {
        if !x.is_finite() || i >= self.widths.len() {
            return Value::Float(x);
        }
        let mut best: Option<(f64, Value)> = None;
        let mut consider = |v: Value| {
            let d = (v.as_f64().unwrap_or(f64::INFINITY) - x).abs();
            if best.as_ref().is_none_or(|(b, _)| d < *b) {
                best = Some((d, v));
            }
        };
        for w in self.keys_at(i) {
            if w == 0 {
                if let Some(v) = default_value(&self.default) {
                    consider(v);
                }
                continue;
            }
            let w = i64::from(w);
            // The nearest sum: `round(x · w)` within the reachable sums
            // (`x · w` is finite; the cast saturates, the clamp bounds it).
            let s = ((x * w as f64).round() as i64).clamp(self.lo * w, self.hi * w);
            consider(mean(s, w));
        }
        best.map_or(Value::Float(x), |(_, v)| v)
    }

    fn keys_at(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        self.widths
            .get(i)
            .into_iter()
            .flatten()
            .flat_map(|r| r[0]..=r[1])
    }
}

/// The interpreter's mean of `w` integers summing to `s`: the value
/// itself for one, else the float quotient.
fn mean(s: i64, w: i64) -> Value {
    if w == 1 {
        Value::Int(s)
    } else {
        Value::Float(s as f64 / w as f64)
    }
}

fn default_value(v: &serde_json::Value) -> Option<Value> {
    super::codec::value_from_json(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(n: u32) -> Grid {
        Grid {
            widths: (1..=n).map(|w| vec![[w, w]]).collect(),
            lo: 0,
            hi: 1,
            default: serde_json::json!(0),
        }
    }

    #[test]
    fn decodes_the_nearest_fraction_of_the_position() {
        let g = prefix(512);
        assert!(g.check(512).is_ok());
        // Position 0 averages one key: the integer itself.
        assert!(g.decode(0, 0.9999).same(&Value::Int(1)));
        // 510/511 and 511/512 are 3.8e-6 apart, but never at one position.
        assert!(g.decode(510, 0.998).same(&Value::Float(510.0 / 511.0)));
        assert!(g.decode(511, 0.998).same(&Value::Float(511.0 / 512.0)));
        // Out of range: the nearest reachable.
        assert!(g.decode(3, 7.0).same(&Value::Float(1.0)));
        assert!(g.decode(3, -7.0).same(&Value::Float(0.0)));
        assert!(g.decode(3, f64::NAN).as_f64().is_some_and(f64::is_nan));
        assert_eq!(g.values_at(2).len(), 4);
        assert_eq!(g.count_at(2), 4);
    }

    #[test]
    fn several_widths_and_the_default() {
        let g = Grid {
            widths: vec![vec![[0, 0], [2, 3]]; 3],
            lo: -1,
            hi: 1,
            default: serde_json::json!(0.5),
        };
        assert!(g.check(3).is_ok());
        // More keys than positions.
        assert!(g.check(2).is_err());
        assert_eq!(g.count_at(0), 1 + 5 + 7);
        assert!(g.decode(0, 0.49).same(&Value::Float(0.5)));
        assert!(g.decode(0, 0.34).same(&Value::Float(1.0 / 3.0)));
        assert!(g.decode(0, -0.9).same(&Value::Float(-1.0)));
    }

    #[test]
    fn malformed_grids_are_refused() {
        let mut g = prefix(4);
        assert!(g.check(5).is_err());
        g.widths[1] = vec![[3, 2]];
        assert!(g.check(4).is_err());
        let mut g = prefix(4);
        g.widths[0] = vec![[1, 9]];
        assert!(g.check(4).is_err());
        let mut g = prefix(4);
        g.lo = 2;
        assert!(g.check(4).is_err());
        let mut g = prefix(4);
        g.default = serde_json::json!("a");
        assert!(g.check(4).is_err());
        let mut g = prefix(4);
        g.widths[2].clear();
        assert!(g.check(4).is_err());
    }
}
