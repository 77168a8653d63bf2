//! `--unique`: examples drawn without replacement, still a function of the
//! seed and the example's index (so sharding and threads change nothing).
//!
//! Example i's length is drawn from its own stream among the lengths that
//! still have unused inputs, and it takes the next unused rank of that
//! length (a cursor that walks the indices in order: cheap, one draw per
//! example, so a shard first walks the examples before it). The rank goes
//! through a keyed pseudo-random permutation of `0..v^len` (a Feistel
//! network with cycle walking), and the permuted number, written in base
//! v, is the input.

use super::Stream;
use crate::diag::{Diag, codes};

/// How many inputs of each length there are, capped (u128 saturates).
fn space(v: usize, len: usize) -> u128 {
    (v as u128).checked_pow(len as u32).unwrap_or(u128::MAX)
}

/// Whether `count` distinct inputs exist with lengths in the range.
pub fn check(v: usize, min_len: usize, max_len: usize, count: u64) -> Result<(), Diag> {
    let total = (min_len..=max_len).fold(0u128, |t, l| t.saturating_add(space(v, l)));
    if total < u128::from(count) {
        return Err(Diag::error(
            codes::GEN_OPTIONS,
            format!(
                "--unique: there are only {total} distinct inputs of lengths {min_len}..{max_len} over {v} tokens, fewer than the {count} asked for"
            ),
        )
        .help("ask for fewer examples, or widen the lengths or the vocabulary"));
    }
    Ok(())
}

/// The walk over example indices: which (length, rank) each one takes.
pub struct Cursor {
    seed: u64,
    min_len: usize,
    caps: Vec<u128>,
    used: Vec<u128>,
    next: u64,
}

impl Cursor {
    pub fn new(seed: u64, v: usize, min_len: usize, max_len: usize) -> Cursor {
        let caps: Vec<u128> = (min_len..=max_len).map(|l| space(v, l)).collect();
        Cursor {
            seed,
            min_len,
            used: vec![0; caps.len()],
            caps,
            next: 0,
        }
    }

    /// (length, rank) of the next index. `None` once every input is used
    /// (`check` rules that out).
    pub fn step(&mut self) -> Option<(usize, u128)> {
        let mut r = Stream::new(self.seed ^ 0x0a11_0c47_e5ee_d5ee, self.next);
        self.next += 1;
        let open: Vec<usize> = (0..self.caps.len())
            .filter(|&i| self.used[i] < self.caps[i])
            .collect();
        if open.is_empty() {
            return None;
        }
        let i = open[r.below(open.len())];
        let rank = self.used[i];
        self.used[i] += 1;
        Some((self.min_len + i, rank))
    }

    /// Walk past the indices before `index`.
    pub fn skip_to(&mut self, index: u64) {
        while self.next < index {
            if self.step().is_none() {
                return;
            }
        }
    }
}

/// A keyed bijection of `0..n`.
pub fn permute(x: u128, n: u128, key: u64) -> u128 {
    if n <= 1 {
        return x;
    }
    let bits = 128 - (n - 1).leading_zeros();
    let half = bits.div_ceil(2).max(1);
    let mask = if half >= 64 {
        u128::from(u64::MAX)
    } else {
        (1u128 << half) - 1
    };
    let round = |r: u64, v: u128| -> u128 {
        let mut s = Stream::new(
            key ^ r.wrapping_mul(0x9e37_79b9),
            v as u64 ^ (v >> 64) as u64,
        );
        u128::from(s.next()) & mask
    };
    let mut y = x;
    // Cycle walking: permute within 0..2^(2·half) until the value lands
    // below n (it does, since the permutation of that range is a cycle
    // through n's elements).
    loop {
        let (mut l, mut r) = (y >> half, y & mask);
        for k in 0..4 {
            let t = l ^ round(k, r);
            l = r;
            r = t;
        }
        y = (l << half) | r;
        if y < n {
            return y;
        }
    }
}

/// The input of rank `rank` among those of length `len`: the permuted
/// number in base `v`.
pub fn digits(rank: u128, v: usize, len: usize, key: u64) -> Vec<usize> {
    let n = space(v, len);
    let mut x = permute(rank, n, key ^ (len as u64).wrapping_mul(0x51ed_27f1));
    let mut out = vec![0; len];
    for d in out.iter_mut().rev() {
        *d = (x % v as u128) as usize;
        x /= v as u128;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permutation is a bijection, for sizes that are and are not
    /// powers of two.
    #[test]
    fn permute_is_a_bijection() {
        for n in [1u128, 2, 3, 7, 8, 100, 243, 1000] {
            let mut seen: Vec<u128> = (0..n).map(|x| permute(x, n, 42)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    /// The cursor fills every length exactly, then stops.
    #[test]
    fn cursor_uses_every_input_once() {
        let mut c = Cursor::new(1, 3, 1, 3);
        let mut all = Vec::new();
        while let Some((len, rank)) = c.step() {
            all.push(digits(rank, 3, len, 9));
        }
        assert_eq!(all.len(), 3 + 9 + 27);
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len());
        assert!(check(3, 1, 3, 39).is_ok());
        assert!(check(3, 1, 3, 40).is_err());
    }
}
