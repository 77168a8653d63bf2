//! Decoding a numerical output by position or by input length
//! (`rasp.json`'s `output_grid`, format versions 5 and 6).
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
//! A mean over every position (`average`, over `select(1, 1, ==)`) has the
//! same fractions at every position, but in an input of one length only
//! those over that length: such a grid is keyed by the input's length
//! instead (`"by": "length"`, format version 6; a grid without `by` is
//! keyed by position).
//!
//! The values are the interpreter's: the default where no key is
//! selected, the selected value itself (an integer) for one key, and the
//! float `s / w` for `w` keys summing to `s`.

use serde::{Deserialize, Serialize};

use crate::ir::Value;

/// What a grid's entries are keyed by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GridKey {
    /// Entry `i`: output position `i` (BOS excluded), at every length.
    #[default]
    Position,
    /// Entry `l - 1`: every position of an input of `l` tokens.
    Length,
}

impl GridKey {
    /// The entry for output position `i` of an input of `len` tokens.
    pub fn slot(self, i: usize, len: usize) -> usize {
        match self {
            GridKey::Position => i,
            GridKey::Length => len.wrapping_sub(1),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GridKey::Position => "position",
            GridKey::Length => "input length",
        }
    }
}

/// The values of a mean of integers at each position (or each input
/// length), by how many keys it averages there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// What an entry of `widths` is for (absent in format version 5:
    /// positions).
    #[serde(default, skip_serializing_if = "is_position")]
    pub by: GridKey,
    /// Per entry (`max_len` of them: output positions, BOS excluded, or
    /// input lengths 1..=max_len), the numbers of keys the mean can
    /// average there, as inclusive ranges `[a, b]`; 0 stands for no key
    /// (the default).
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
        let what = match self.by {
            GridKey::Position => "positions",
            GridKey::Length => "lengths",
        };
        if self.widths.len() != max_len {
            return Err(format!(
                "output_grid lists {} {what} for a max length of {max_len}",
                self.widths.len()
            ));
        }
        for (i, ranges) in self.widths.iter().enumerate() {
            let (entry, most) = match self.by {
                GridKey::Position => (format!("position {i}"), max_len),
                // At length l no more than l keys.
                GridKey::Length => (format!("length {}", i + 1), i + 1),
            };
            if ranges.is_empty() {
                return Err(format!("output_grid {entry} lists no number of keys"));
            }
            for r in ranges {
                if r[0] > r[1] || r[1] as usize > most {
                    return Err(format!(
                        "output_grid {entry}: [{}, {}] is not a range within 0..={most}",
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

    /// Every value the output can take at entry `i` (a position or a
    /// length, [`GridKey::slot`]), in the order of its numbers of keys.
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

    /// How many values [`Grid::values_at`] would list at entry `i`.
    pub fn count_at(&self, i: usize) -> u128 {
        let span = (self.hi - self.lo) as u128;
        self.keys_at(i)
            .map(|w| if w == 0 { 1 } else { span * u128::from(w) + 1 })
            .sum()
    }

    /// The value at output position `i` of an input of `len` tokens
    /// nearest to `x` (the first in [`Grid::values_at`]'s order on ties);
    /// `x` itself when it is not finite or the entry is unknown.
    pub fn decode(&self, i: usize, len: usize, x: f64) -> Value {
        let i = self.by.slot(i, len);
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

fn is_position(k: &GridKey) -> bool {
    *k == GridKey::Position
}

fn default_value(v: &serde_json::Value) -> Option<Value> {
    super::codec::value_from_json(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(n: u32) -> Grid {
        Grid {
            by: GridKey::Position,
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
        assert!(g.decode(0, 512, 0.9999).same(&Value::Int(1)));
        // 510/511 and 511/512 are 3.8e-6 apart, but never at one position.
        assert!(g.decode(510, 512, 0.998).same(&Value::Float(510.0 / 511.0)));
        assert!(g.decode(511, 512, 0.998).same(&Value::Float(511.0 / 512.0)));
        // Out of range: the nearest reachable.
        assert!(g.decode(3, 512, 7.0).same(&Value::Float(1.0)));
        assert!(g.decode(3, 512, -7.0).same(&Value::Float(0.0)));
        assert!(g.decode(3, 512, f64::NAN).as_f64().is_some_and(f64::is_nan));
        assert_eq!(g.values_at(2).len(), 4);
        assert_eq!(g.count_at(2), 4);
    }

    #[test]
    fn several_widths_and_the_default() {
        let g = Grid {
            by: GridKey::Position,
            widths: vec![vec![[0, 0], [2, 3]]; 3],
            lo: -1,
            hi: 1,
            default: serde_json::json!(0.5),
        };
        assert!(g.check(3).is_ok());
        // More keys than positions.
        assert!(g.check(2).is_err());
        assert_eq!(g.count_at(0), 1 + 5 + 7);
        assert!(g.decode(0, 3, 0.49).same(&Value::Float(0.5)));
        assert!(g.decode(0, 3, 0.34).same(&Value::Float(1.0 / 3.0)));
        assert!(g.decode(0, 3, -0.9).same(&Value::Float(-1.0)));
    }

    /// A mean over every position: keyed by length, every position of an
    /// input of `l` tokens has the fractions over `l`.
    #[test]
    fn keyed_by_length() {
        let mut g = prefix(512);
        g.by = GridKey::Length;
        assert!(g.check(512).is_ok());
        // 255/511 and 256/512... at any position of a 511-token input.
        assert!(g.decode(0, 511, 0.499).same(&Value::Float(255.0 / 511.0)));
        assert!(g.decode(400, 512, 0.4999).same(&Value::Float(0.5)));
        assert!(g.decode(0, 1, 0.2).same(&Value::Int(0)));
        // A length past the grid: the number itself.
        assert!(g.decode(0, 513, 0.25).same(&Value::Float(0.25)));
        assert!(g.decode(0, 0, 0.25).same(&Value::Float(0.25)));
        // More keys than the length allows is malformed.
        g.widths[3] = vec![[5, 5]];
        assert!(g.check(512).is_err());
        // Serialized with `by`; a version-5 grid (no `by`) is by position.
        let json = serde_json::to_value(prefix(2)).expect("serializes");
        assert!(json.get("by").is_none());
        let mut l = prefix(2);
        l.by = GridKey::Length;
        let json = serde_json::to_value(&l).expect("serializes");
        assert_eq!(json["by"], "length");
        let back: Grid = serde_json::from_value(json).expect("reads");
        assert_eq!(back, l);
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
