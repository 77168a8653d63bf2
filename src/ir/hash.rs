//! A fast hash for tables keyed by a few machine words (exact rationals,
//! float bits, residual indices): a multiplicative mix per word. The
//! standard library's SipHash resists adversarial keys, which none of
//! these are, and costs several times more per word.

use std::hash::{BuildHasherDefault, Hasher};

/// The hasher; `BuildHasherDefault<WordHash>` ([`Words`]) builds it.
#[derive(Default)]
pub struct WordHash(u64);

/// Builds [`WordHash`]es, for `HashMap`/`HashSet`.
pub type Words = BuildHasherDefault<WordHash>;

impl Hasher for WordHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }

    fn write_i128(&mut self, x: i128) {
        self.write_u128(x as u128);
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    fn finish(&self) -> u64 {
        // The high bits feed hashbrown's control bytes: fold them down too.
        self.0 ^ (self.0 >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hash};

    fn hash<T: Hash + ?Sized>(x: &T) -> u64 {
        Words::default().hash_one(x)
    }

    /// Equal keys hash equal; nearby keys (consecutive ratios, slices
    /// differing in one word or in length) spread over distinct hashes.
    #[test]
    fn words_hash_apart() {
        assert_eq!(hash(&(3i128, 7i128)), hash(&(3i128, 7i128)));
        let ratios: HashSet<u64> = (0..1000i128)
            .flat_map(|p| (1..20i128).map(move |q| hash(&(p, q))))
            .collect();
        assert_eq!(ratios.len(), 19_000);
        assert_ne!(hash(&[1u64, 2][..]), hash(&[1u64, 2, 0][..]));
        assert_ne!(hash(&b"abc"[..]), hash(&b"abc\0"[..]));
    }
}
