//! Unified diffs of snapshots (the `similar` crate), coloured for a
//! terminal.

/// A unified diff of `old` to `new`, 3 lines of context, with `---` /
/// `+++` headers; coloured (red removals, green additions, cyan hunk
/// headers) when `color`.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str, color: bool) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    if !color {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let code = if body.starts_with("+++") || body.starts_with("---") {
            "1"
        } else if body.starts_with('+') {
            "32"
        } else if body.starts_with('-') {
            "31"
        } else if body.starts_with("@@") {
            "36"
        } else {
            ""
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("\x1b[{code}m{body}\x1b[0m{nl}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_show_changed_lines_with_context() {
        let old = "a\nb\nc\nd\n";
        let new = "a\nb\nC\nd\n";
        let d = unified(old, new, "old.snap", "new", false);
        assert!(
            d.starts_with("--- old.snap\n+++ new\n@@ -1,4 +1,4 @@\n"),
            "{d}"
        );
        assert!(d.contains("\n-c\n+C\n"), "{d}");
        let c = unified(old, new, "old.snap", "new", true);
        assert!(
            c.contains("\x1b[31m-c\x1b[0m\n\x1b[32m+C\x1b[0m\n"),
            "{c:?}"
        );
        assert_eq!(unified(old, old, "a", "b", false), "");
    }
}
