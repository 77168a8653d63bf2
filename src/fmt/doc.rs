//! A document of text and possible line breaks, laid out to a width (the
//! algorithm of Wadler's "A prettier printer": a group is printed flat
//! when it fits on the rest of the line, else its breaks become new lines,
//! outer groups first).

/// A document.
#[derive(Clone, Debug)]
pub enum Doc {
    Text(String),
    /// A space when flat, a new line when broken.
    Line,
    /// Nothing when flat, a new line when broken.
    SoftLine,
    /// Indent the new lines inside by this many columns.
    Nest(usize, Box<Doc>),
    /// Flat if it fits, else broken.
    Group(Box<Doc>),
    Concat(Vec<Doc>),
}

/// Text.
pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

/// Documents one after the other.
pub fn concat(docs: impl IntoIterator<Item = Doc>) -> Doc {
    Doc::Concat(docs.into_iter().collect())
}

/// New lines inside indented by `n` more.
pub fn nest(n: usize, d: Doc) -> Doc {
    Doc::Nest(n, Box::new(d))
}

/// Flat if it fits, else broken.
pub fn group(d: Doc) -> Doc {
    Doc::Group(Box::new(d))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// Lay `doc` out in `width` columns, starting at column `start`.
pub fn render(doc: &Doc, width: usize, start: usize) -> String {
    let mut out = String::new();
    let mut col = start;
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(start, Mode::Break, doc)];
    while let Some((indent, mode, d)) = stack.pop() {
        match d {
            Doc::Text(s) => {
                out.push_str(s);
                col += s.chars().count();
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Flat => {
                if matches!(d, Doc::Line) {
                    out.push(' ');
                    col += 1;
                }
            }
            Doc::Line | Doc::SoftLine => {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
            }
            Doc::Nest(n, inner) => stack.push((indent + n, mode, inner)),
            Doc::Group(inner) => {
                let flat = mode == Mode::Flat || fits(inner, width.saturating_sub(col), &stack);
                stack.push((indent, if flat { Mode::Flat } else { Mode::Break }, inner));
            }
            Doc::Concat(items) => {
                for item in items.iter().rev() {
                    stack.push((indent, mode, item));
                }
            }
        }
    }
    out
}

/// Whether `doc`, flat, and what follows it up to the next possible
/// break fit in `room` columns.
fn fits(doc: &Doc, room: usize, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut room = room as isize;
    let mut todo: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest = rest.iter().rev();
    loop {
        let (mode, d) = match todo.pop() {
            Some(x) => x,
            None => match rest.next() {
                Some(&(_, mode, d)) => (mode, d),
                None => return true,
            },
        };
        match d {
            Doc::Text(s) => {
                room -= s.chars().count() as isize;
                if room < 0 {
                    return false;
                }
            }
            Doc::Line if mode == Mode::Flat => {
                room -= 1;
                if room < 0 {
                    return false;
                }
            }
            Doc::SoftLine if mode == Mode::Flat => {}
            // A break of what follows ends the line: it fits.
            Doc::Line | Doc::SoftLine => return true,
            Doc::Nest(_, inner) | Doc::Group(inner) => todo.push((mode, inner)),
            Doc::Concat(items) => {
                for item in items.iter().rev() {
                    todo.push((mode, item));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*a));
        }
        group(concat([
            text(format!("{name}(")),
            nest(4, concat(inner)),
            Doc::SoftLine,
            text(")"),
        ]))
    }

    #[test]
    fn flat_when_it_fits_broken_when_not() {
        let d = call("f", &["aa", "bb"]);
        assert_eq!(render(&d, 80, 0), "f(aa, bb)");
        assert_eq!(render(&d, 6, 0), "f(\n    aa,\n    bb\n)");
        // The outer group breaks first; the inner one still fits.
        let outer = group(concat([
            text("f("),
            nest(
                4,
                concat([
                    Doc::SoftLine,
                    call("g", &["x", "y"]),
                    text(","),
                    Doc::Line,
                    text("zzzzzz"),
                ]),
            ),
            Doc::SoftLine,
            text(")"),
        ]));
        assert_eq!(render(&outer, 14, 0), "f(\n    g(x, y),\n    zzzzzz\n)");
    }
}
