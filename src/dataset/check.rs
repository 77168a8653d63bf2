//! `rasp gen`'s options checked before anything is written: lengths,
//! shards, the vocabulary, that the sampler writes exactly the
//! vocabulary's tokens at every requested length, the BOS token, the text
//! format's tokens; and the `--len` and `--shard` values.

use super::{Format, Sampler, Spec, unique};
use crate::diag::{Diag, codes};
use crate::interp::display;
use crate::ir::Value;

impl Spec {
    /// Check the options for a file in `format`.
    pub fn check_for(&self, format: Format) -> Result<(), Diag> {
        self.check()?;
        if format == Format::Text {
            self.check_text()?;
        }
        Ok(())
    }

    /// Check the options (a diagnostic for each kind of bad input).
    pub fn check(&self) -> Result<(), Diag> {
        check_len(self.max_len)?;
        if self.vocab.is_empty() {
            return Err(Diag::error(codes::GEN_OPTIONS, "the vocabulary is empty")
                .help("give the input tokens with --vocab (e.g. --vocab abc)"));
        }
        crate::compile::check_vocab(&self.vocab)?;
        if self.min_len == 0 {
            return Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "the length range {}..{} starts at 0: inputs are never empty",
                    self.min_len, self.max_len
                ),
            )
            .help("give --len MIN..MAX with 1 <= MIN <= MAX"));
        }
        if self.min_len > self.max_len {
            return Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "the length range {}..{} is empty",
                    self.min_len, self.max_len
                ),
            )
            .help("give --len MIN..MAX with 1 <= MIN <= MAX"));
        }
        if let Some((i, k)) = self.shard
            && (k == 0 || i >= k)
        {
            return Err(
                Diag::error(codes::GEN_OPTIONS, format!("shard {i}/{k} is out of range"))
                    .help("--shard I/K takes 0 <= I < K (shard I of K, counted from 0)"),
            );
        }
        if self.unique {
            if self.sampler != Sampler::Uniform {
                return Err(Diag::error(
                    codes::GEN_OPTIONS,
                    "--unique draws from all inputs: it works with the uniform sampler",
                )
                .help("add --sampler uniform, or drop --unique"));
            }
            unique::check(self.vocab.len(), self.min_len, self.max_len, self.count)?;
        }
        self.check_sampler()?;
        self.check_bos()
    }

    /// The sampler writes exactly the vocabulary's tokens (no token outside
    /// it, none of it never drawn) at every requested length.
    fn check_sampler(&self) -> Result<(), Diag> {
        let name = self.sampler.name();
        if let Sampler::Brackets(pairs) = &self.sampler {
            if pairs.is_empty() {
                return Err(Diag::error(
                    codes::GEN_OPTIONS,
                    "the bracket sampler needs at least one pair",
                )
                .help("give the pairs after the colon: --sampler 'brackets:(){}'"));
            }
            let all = self.sampler.alphabet().unwrap_or_default();
            for (i, b) in all.iter().enumerate() {
                if all[..i].iter().any(|a| a.same(b)) {
                    return Err(Diag::error(
                        codes::GEN_OPTIONS,
                        format!("--sampler {name} lists the bracket {} twice", b.repr()),
                    )
                    .help("each pair is an opening and a different closing character, each used once: brackets:(){}"));
                }
            }
        }
        if let Some(alphabet) = self.sampler.alphabet() {
            let listed = display::input_repr(&self.vocab);
            let wanted = display::input_repr(&alphabet);
            let help = format!(
                "give --vocab '{}' (its tokens, in any order), or a sampler that draws from the vocabulary (--sampler uniform)",
                crate::compile::vocab_text(&alphabet)
            );
            if let Some(extra) = alphabet
                .iter()
                .find(|a| !self.vocab.iter().any(|v| v.same(a)))
            {
                return Err(Diag::error(
                    codes::GEN_OPTIONS,
                    format!(
                        "the {name} sampler writes {}, which the vocabulary {listed} does not have (it writes {wanted})",
                        extra.repr()
                    ),
                )
                .help(help));
            }
            if let Some(unused) = self
                .vocab
                .iter()
                .find(|v| !alphabet.iter().any(|a| a.same(v)))
            {
                return Err(Diag::error(
                    codes::GEN_OPTIONS,
                    format!(
                        "the {name} sampler never writes the vocabulary's {} (it writes only {wanted})",
                        unused.repr()
                    ),
                )
                .help(help));
            }
        }
        if self.min_len < self.sampler.min_len() {
            return Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "the {name} sampler writes `a+b`, at least {} tokens: the lengths {}..{} start below that",
                    self.sampler.min_len(),
                    self.min_len,
                    self.max_len
                ),
            )
            .help(format!(
                "give --len {}..{}",
                self.sampler.min_len(),
                self.max_len.max(self.sampler.min_len())
            )));
        }
        if self.sampler == Sampler::Distinct && self.max_len > self.vocab.len() {
            return Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "the distinct sampler uses each token at most once: inputs of length {} need {} tokens, the vocabulary has {}",
                    self.max_len,
                    self.max_len,
                    self.vocab.len()
                ),
            )
            .help(format!(
                "give --len {}..{} or more tokens with --vocab, or use --sampler uniform",
                self.min_len.min(self.vocab.len()),
                self.vocab.len()
            )));
        }
        Ok(())
    }

    /// A BOS token that is also an input token could not be told apart
    /// from one.
    fn check_bos(&self) -> Result<(), Diag> {
        let Some(bos) = &self.bos else {
            return Ok(());
        };
        // (`check_sampler` made the sampler's tokens the vocabulary's.)
        if self.vocab.iter().any(|t| t.same(bos)) {
            return Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "the BOS token {} is also an input token: a reader could not tell them apart",
                    bos.repr()
                ),
            )
            .help("choose a BOS token outside the vocabulary (e.g. --bos BOS), or drop --bos"));
        }
        Ok(())
    }

    /// `--format text` writes tokens separated by spaces and a tab between
    /// input and output: a token that is empty or holds white space would
    /// not read back.
    fn check_text(&self) -> Result<(), Diag> {
        match self
            .vocab
            .iter()
            .chain(self.bos.as_ref())
            .find(|v| !text_token(v))
        {
            None => Ok(()),
            Some(v) => Err(Diag::error(
                codes::GEN_OPTIONS,
                format!(
                    "--format text separates tokens with spaces: the token {} would not read back",
                    v.repr()
                ),
            )
            .help("use --format jsonl or parquet, which keep every token")),
        }
    }
}

/// Whether `--format text` can write the token: not empty, no white space.
pub(super) fn text_token(v: &Value) -> bool {
    match v {
        Value::Str(s) => !s.is_empty() && !s.chars().any(char::is_whitespace),
        _ => true,
    }
}

/// A `--len` range: `A..B` (inclusive) or `N`.
pub fn parse_len(text: &str) -> Result<(usize, usize), Diag> {
    let bad = || {
        let why = if negative(text) {
            ": lengths are positive (1 or more)"
        } else {
            ""
        };
        Diag::error(
            codes::GEN_OPTIONS,
            format!("bad length range {text:?}{why}"),
        )
        .help("write MIN..MAX (inclusive, e.g. 1..16) or one length N")
    };
    match text.split_once("..") {
        Some((a, b)) => {
            let b = b.strip_prefix('=').unwrap_or(b);
            Ok((
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ))
        }
        None => {
            let n = text.trim().parse().map_err(|_| bad())?;
            Ok((n, n))
        }
    }
}

/// Whether a range or shard has a negative number in it (`-3..4`,
/// `1..-2`, `-1/4`).
/// The longest input asked for, against the length limit (before any
/// input is made) and the memory an input of that length takes.
fn check_len(max_len: usize) -> Result<(), Diag> {
    use crate::diag::limits::{self, Limit};
    Limit::Length.check(max_len as u128, || {
        format!("--len asks for inputs of up to {max_len} tokens")
    })?;
    // Within the memory budget, and granted by the system (a raised limit
    // must still end in a diagnostic, not an abort, in `Spec::input`).
    limits::vec_with_capacity::<Value>(max_len, &format!("an input of {max_len} tokens")).map(drop)
}

fn negative(text: &str) -> bool {
    text.split(['.', '/', '=']).any(|part| {
        part.trim()
            .strip_prefix('-')
            .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// A `--shard` value: `I/K`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), Diag> {
    let bad = || {
        let why = if negative(text) {
            ": I is 0 or more and K 1 or more"
        } else {
            ""
        };
        Diag::error(codes::GEN_OPTIONS, format!("bad shard {text:?}{why}"))
            .help("write I/K: shard I of K, counted from 0 (e.g. 0/8)")
    };
    let (i, k) = text.split_once('/').ok_or_else(bad)?;
    Ok((
        i.trim().parse().map_err(|_| bad())?,
        k.trim().parse().map_err(|_| bad())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tasks;
    use super::*;

    fn spec(vocab: &str, len: (usize, usize), sampler: &str) -> Spec {
        Spec {
            vocab: crate::compile::parse_vocab(vocab).expect("vocab"),
            min_len: len.0,
            max_len: len.1,
            count: 10,
            seed: 0,
            shard: None,
            bos: None,
            sampler: tasks::sampler_of(sampler).expect("sampler"),
            unique: false,
            semantics: crate::interp::Semantics::Bidirectional,
        }
    }

    fn refused(s: &Spec, says: &str) {
        let d = s.check().expect_err(says);
        assert_eq!(d.code, codes::GEN_OPTIONS, "{}", d.message);
        assert!(d.message.contains(says), "{}", d.message);
        assert!(d.help.is_some(), "{}", d.message);
    }

    #[test]
    fn every_sampler_writes_exactly_the_vocabulary_at_every_length() {
        // Accepted: what each sampler can write.
        for s in [
            spec("ab", (1, 9), "uniform"),
            spec("abc", (1, 3), "distinct"),
            spec("(){}", (1, 16), "brackets:(){}"),
            spec("}{)(", (1, 1), "brackets:(){}"),
            spec("0123456789+", (3, 12), "addition"),
            spec("+9876543210", (3, 3), "addition"),
        ] {
            s.check()
                .unwrap_or_else(|d| panic!("{:?}: {}", s.sampler, d.message));
            // And what they write is the vocabulary's.
            for i in 0..200 {
                let input = s.input(i);
                assert!((s.min_len..=s.max_len).contains(&input.len()), "{input:?}");
                assert!(input.iter().all(|t| s.vocab.iter().any(|v| v.same(t))));
            }
        }
        refused(
            &spec("ab", (5, 5), "distinct"),
            "inputs of length 5 need 5 tokens",
        );
        refused(&spec("ab", (1, 3), "distinct"), "the vocabulary has 2");
        refused(
            &spec("abc", (3, 5), "addition"),
            "writes '0', which the vocabulary",
        );
        refused(
            &spec("0123456789+-", (3, 5), "addition"),
            "never writes the vocabulary's '-'",
        );
        refused(
            &spec("0123456789+", (1, 5), "addition"),
            "at least 3 tokens",
        );
        refused(&spec("ab", (1, 5), "brackets:()"), "writes '(', which");
        refused(
            &spec("()[", (1, 5), "brackets:()"),
            "never writes the vocabulary's '['",
        );
        refused(
            &spec("(", (1, 5), "brackets:(("),
            "lists the bracket '(' twice",
        );
        refused(&spec("(){", (1, 5), "brackets:(){("), "twice");
        // Ints in the vocabulary, strings from the sampler.
        refused(&spec("[1, 2]", (1, 5), "brackets:12"), "writes '1'");
    }

    #[test]
    fn lengths_shards_bos_and_text_tokens() {
        refused(&spec("ab", (0, 3), "uniform"), "starts at 0");
        refused(&spec("ab", (4, 3), "uniform"), "is empty");
        let mut s = spec("ab", (1, 3), "uniform");
        s.shard = Some((3, 2));
        refused(&s, "shard 3/2 is out of range");
        s.shard = Some((0, 0));
        refused(&s, "out of range");
        s.shard = None;
        s.bos = Some(Value::str("a"));
        refused(&s, "the BOS token 'a' is also an input token");
        s.bos = Some(Value::Int(1));
        s.check().expect("1 is not 'a'");
        s.bos = Some(Value::str("<s> "));
        s.check().expect("jsonl keeps it");
        let d = s.check_text().expect_err("a space");
        assert!(d.message.contains("'<s> '"), "{}", d.message);
        let s = spec("[\"a b\", \"c\"]", (1, 3), "uniform");
        assert!(s.check_text().is_err());
        assert!(
            spec("[\"\", \"c\"]", (1, 3), "uniform")
                .check_text()
                .is_err()
        );
        assert!(spec("abc", (1, 3), "uniform").check_text().is_ok());
        let mut u = spec("ab", (1, 3), "distinct");
        u.unique = true;
        refused(&u, "--unique");
    }

    #[test]
    fn duplicate_tokens_are_refused() {
        let mut s = spec("ab", (1, 3), "uniform");
        s.vocab.push(Value::str("a"));
        let d = s.check().expect_err("a twice");
        assert_eq!(d.code, codes::COMPILE_VOCAB);
    }

    #[test]
    fn negative_lengths_and_shards_say_so() {
        for (text, says) in [
            ("-3..4", "positive"),
            ("1..-4", "positive"),
            ("-2", "positive"),
        ] {
            let d = parse_len(text).expect_err(text);
            assert!(d.message.contains(says), "{text}: {}", d.message);
        }
        let d = parse_shard("-1/4").expect_err("negative");
        assert!(d.message.contains("0 or more"), "{}", d.message);
        assert!(!parse_len("x").expect_err("x").message.contains("positive"));
        assert_eq!(parse_len("2..=5").ok(), Some((2, 5)));
        assert_eq!(parse_shard("1/4").ok(), Some((1, 4)));
    }

    #[test]
    fn every_preset_passes_its_own_checks() {
        for t in tasks::all() {
            let s = Spec {
                vocab: crate::compile::parse_vocab(&t.vocab).expect("vocab"),
                min_len: t.len.0,
                max_len: t.len.1,
                count: 1,
                seed: 0,
                shard: None,
                bos: None,
                sampler: t.sampler.clone(),
                unique: false,
                semantics: crate::interp::Semantics::Bidirectional,
            };
            s.check()
                .unwrap_or_else(|d| panic!("{}: {}", t.name, d.message));
            assert_eq!(s.sampler.name(), t.sampler_name, "{}", t.name);
        }
    }
}
