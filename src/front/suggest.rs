//! "Did you mean": the nearest name to a misspelt one, for the front end,
//! the CLI, the REPL and `rasp gen --task`.
//!
//! A candidate is near when its edit distance (in characters) is at most a
//! third of the longer name's length in bytes, and at most
//! [`MAX_SUGGEST_EDITS`]: the distance is computed within that bound only
//! (a band of the table around its diagonal, after the common prefix and
//! suffix are set aside), so two names of 100,000 characters cost a few
//! milliseconds, not a quadratic table.

/// The most edits a suggestion may be away. A third of the length of any
/// name up to 96 bytes is within it, so ordinary names are suggested as
/// by the plain rule; the bound keeps the cost linear in name length.
pub const MAX_SUGGEST_EDITS: usize = 32;

/// The candidate nearest to `name`: the first of those at the smallest
/// edit distance within the limit, else a longer or shorter form of it
/// (`sorting` for `sort`), else none.
pub fn suggest(name: &str, candidates: &[String]) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut best: Option<(usize, &String)> = None;
    for c in candidates {
        let limit = (name.len().max(c.len()) / 3).clamp(1, MAX_SUGGEST_EDITS);
        // Only a strictly nearer candidate replaces the best so far.
        let bound = match best {
            Some((0, _)) => break,
            Some((d, _)) => limit.min(d - 1),
            None => limit,
        };
        if let Some(d) = distance_within(&chars, c, bound) {
            best = Some((d, c));
        }
    }
    if best.is_none() {
        // A longer or shorter form of a name (`sorting` for `sort`).
        let stem = |a: &str, b: &str| a.len() >= 3 && b.starts_with(a);
        best = candidates
            .iter()
            .filter(|c| stem(c, name) || stem(name, c))
            .map(|c| (c.len().abs_diff(name.len()), c))
            .min();
    }
    best.map(|(_, c)| c.clone())
}

/// The edit distance (insertions, deletions, substitutions of characters)
/// between `a` and `b` when it is at most `bound`, else `None`. Time
/// O((|a| + |b|) * bound).
fn distance_within(a: &[char], b: &str, bound: usize) -> Option<usize> {
    // A length difference is at least that many edits: no table needed.
    let b_len = b.chars().count();
    if a.len().abs_diff(b_len) > bound {
        return None;
    }
    let b: Vec<char> = b.chars().collect();
    // The common prefix and suffix change nothing.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        // The difference in length, checked above.
        return Some(n.max(m));
    }
    // Rows of the table, cells further than `bound` from the diagonal
    // left at `over` (anything above the bound is as good as infinite).
    let over = bound + 1;
    let mut prev = vec![over; m + 1];
    for (j, cell) in prev.iter_mut().enumerate().take(bound.min(m) + 1) {
        *cell = j;
    }
    let mut cur = vec![over; m + 1];
    for i in 1..=n {
        let lo = i.saturating_sub(bound).max(1);
        let hi = (i + bound).min(m);
        cur[lo - 1] = if lo == 1 { i.min(over) } else { over };
        let mut row_min = cur[lo - 1];
        for j in lo..=hi {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let v = (prev[j - 1] + cost)
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1)
                .min(over);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if hi < m {
            // The next row reads one cell past this band.
            cur[hi + 1] = over;
        }
        if row_min > bound {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= bound).then_some(prev[m])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The whole table: the reference for the banded distance.
    fn full_distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    /// The rule as it was before the bound: every candidate's full
    /// distance against a third of the longer length.
    fn plain_suggest(name: &str, candidates: &[String]) -> Option<String> {
        let mut best: Option<(usize, &String)> = None;
        for c in candidates {
            let d = full_distance(name, c);
            let limit = (name.len().max(c.len()) / 3).max(1);
            if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
        if best.is_none() {
            let stem = |a: &str, b: &str| a.len() >= 3 && b.starts_with(a);
            best = candidates
                .iter()
                .filter(|c| stem(c, name) || stem(name, c))
                .map(|c| (c.len().abs_diff(name.len()), c))
                .min();
        }
        best.map(|(_, c)| c.clone())
    }

    #[test]
    fn near_names_and_longer_or_shorter_forms() {
        let names: Vec<String> = ["sort", "sort-unique", "histogram", "reverse"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(suggest("revrese", &names).as_deref(), Some("reverse"));
        assert_eq!(suggest("sorting", &names).as_deref(), Some("sort"));
        assert_eq!(suggest("hist", &names).as_deref(), Some("histogram"));
        assert_eq!(suggest("xyz", &names), None);
        // Ties: the first candidate at the smallest distance.
        let tie: Vec<String> = vec!["abd".into(), "abe".into(), "abc".into()];
        assert_eq!(suggest("abx", &tie).as_deref(), Some("abd"));
        assert_eq!(suggest("abc", &tie).as_deref(), Some("abc"));
    }

    #[test]
    fn long_names_are_linear() {
        // Two names of 100,000 characters, one edit apart: found.
        let a = "n".repeat(50_000) + "x" + &"m".repeat(49_999);
        let b = "n".repeat(50_000) + "y" + &"m".repeat(49_999);
        assert_eq!(suggest(&a, std::slice::from_ref(&b)), Some(b.clone()));
        // Far apart (every character differs): refused within the bound.
        let c = "q".repeat(100_000);
        assert_eq!(suggest(&a, &[c]), None);
        // Beyond the bound of edits, even for long names.
        let d = "n".repeat(50_000) + &"z".repeat(MAX_SUGGEST_EDITS + 1) + &"m".repeat(49_999);
        assert_eq!(
            distance_within(&a.chars().collect::<Vec<_>>(), &d, MAX_SUGGEST_EDITS),
            None
        );
    }

    proptest! {
        /// The banded distance is the full one whenever that is within
        /// the bound, and `None` otherwise.
        #[test]
        fn banded_distance_is_exact(a in "[abcé]{0,14}", b in "[abcé]{0,14}", bound in 0usize..16) {
            let full = full_distance(&a, &b);
            let chars: Vec<char> = a.chars().collect();
            prop_assert_eq!(distance_within(&chars, &b, bound), (full <= bound).then_some(full));
        }

        /// Suggestions for ordinary names are those of the plain rule.
        #[test]
        fn same_suggestions_as_the_plain_rule(
            name in "[a-e_]{0,12}",
            candidates in proptest::collection::vec("[a-e_]{0,12}", 0..8),
        ) {
            prop_assert_eq!(suggest(&name, &candidates), plain_suggest(&name, &candidates));
        }
    }
}
