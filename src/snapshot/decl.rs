//! Test declarations: comment lines in a program file, which the original
//! interpreter ignores like any other comment.
//!
//! ```text
//! # test: "hello" "abc" [3, 1, 2]       inputs (JSON values, several lines add up)
//! # test sops: hist, sorted             the names to show (default: every public one)
//! # test compile: hist vocab=abc max_len=5 [causal] [max_params=N]
//! ```
//!
//! A `# test` line that is none of these (`# test sop: x`, a bad input)
//! is a `rasp::test::declaration` diagnostic pointing at it. A comment that
//! merely starts with the word (`# test the sort: ...`) is prose, not a
//! declaration: a declaration is `test:` or `test WORD:`.

use crate::diag::{Diag, FileId, Span, codes};
use crate::ir::Value;

/// What to compile, and for which inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileDecl {
    pub sop: String,
    /// The vocabulary as written (`abc`, `a,b`, `[1,2]`) and as values.
    pub vocab_text: String,
    pub vocab: Vec<Value>,
    pub max_len: usize,
    pub causal: bool,
    pub max_params: Option<u64>,
}

/// A file's declarations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decls {
    /// Each input as JSON and as tokens.
    pub inputs: Vec<(serde_json::Value, Vec<Value>)>,
    /// The names to show, with where each was declared.
    pub sops: Option<Vec<(String, Span)>>,
    pub compiles: Vec<CompileDecl>,
}

impl Decls {
    /// Whether the file declares any test.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.compiles.is_empty()
    }
}

/// The forms, for the help of a bad declaration.
const FORMS: &str = "declarations are `# test: INPUT...` (JSON inputs: \"hello\" [1, 2]), \
     `# test sops: NAME, ...` and `# test compile: SOP vocab=V max_len=N [causal] [max_params=P]`";

/// Read the declarations of `text` (file `file` in the source map).
/// Every bad line is reported; the good ones are kept.
pub fn parse(text: &str, file: FileId) -> (Decls, Vec<Diag>) {
    let mut decls = Decls::default();
    let mut diags = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let Some((kind, rest, rest_at)) = declaration(line) else {
            continue;
        };
        let body = line.trim_end_matches(['\n', '\r']);
        let span = Span::new(file, start, start + body.len());
        let rest_span = Span::new(file, start + rest_at, start + body.len());
        let bad = |m: String| {
            Diag::error(codes::TEST_DECLARATION, m)
                .at(span)
                .label("this declaration")
                .help(FORMS)
        };
        match kind {
            None => match inputs(rest) {
                Ok(mut xs) => decls.inputs.append(&mut xs),
                Err(Bad::Decl(m)) => diags.push(bad(m)),
                // An integer beyond 64 bits: the code every input parser gives.
                Err(Bad::Diag(d)) => diags.push(d.at(span).label("this declaration")),
            },
            Some("sops") => {
                let names: Vec<(String, Span)> = rest
                    .split([',', ' ', '\t'])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| (n.to_string(), rest_span))
                    .collect();
                let known = decls.sops.iter().flatten().map(|(n, _)| n.as_str());
                let twice = names.iter().map(|(n, _)| n.as_str()).find(|n| {
                    known.clone().any(|k| k == *n)
                        || names.iter().filter(|(m, _)| m == n).count() > 1
                });
                if names.is_empty() {
                    diags.push(bad("`# test sops:` names no s-op".into()));
                } else if let Some(n) = twice {
                    diags.push(bad(format!(
                        "`# test sops:` names `{n}` twice: name each once"
                    )));
                } else {
                    decls.sops.get_or_insert_with(Vec::new).extend(names);
                }
            }
            Some("compile") => match compile(rest) {
                Ok(c) => decls.compiles.push(c),
                Err(Bad::Decl(m)) => diags.push(bad(m)),
                Err(Bad::Diag(d)) => diags.push(d.at(span).label("this declaration")),
            },
            Some(other) => diags.push(bad(format!("unknown test declaration `{other}`"))),
        }
    }
    (decls, diags)
}

/// `# test: rest` → `(None, rest)`; `# test WORD: rest` → `(Some(WORD),
/// rest)`; anything else is not a declaration. Also gives where `rest`
/// starts in the line.
fn declaration(line: &str) -> Option<(Option<&str>, &str, usize)> {
    // A byte-order mark is not text.
    let t = line.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let t = t.strip_prefix('#')?.trim_start();
    let after = t.strip_prefix("test")?;
    let at = |rest: &str| line.len() - rest.len();
    if let Some(rest) = after.strip_prefix(':') {
        return Some((None, rest.trim_end(), at(rest)));
    }
    let word_part = after.strip_prefix([' ', '\t'])?.trim_start();
    let end = word_part
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(word_part.len());
    let (word, rest) = word_part.split_at(end);
    let rest = rest.strip_prefix(':')?;
    if word.is_empty() {
        return None;
    }
    Some((Some(word), rest.trim_end(), at(rest)))
}

/// Why a declaration is refused: a `rasp::test::declaration` message, or
/// another code's diagnostic (an integer beyond 64 bits is
/// `rasp::eval::overflow` wherever inputs are read).
enum Bad {
    Decl(String),
    Diag(Diag),
}

impl From<String> for Bad {
    fn from(m: String) -> Bad {
        Bad::Decl(m)
    }
}

impl From<&str> for Bad {
    fn from(m: &str) -> Bad {
        Bad::Decl(m.to_string())
    }
}

/// A sequence of JSON inputs separated by white space.
fn inputs(rest: &str) -> Result<Vec<(serde_json::Value, Vec<Value>)>, Bad> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    for item in stream {
        let json = item.map_err(|e| format!("bad input: {e} (inputs are JSON values)"))?;
        let tokens =
            crate::front::input_from_json(&json).map_err(|m| format!("input {json}: {m}"))?;
        if tokens.is_empty() {
            return Err(format!("input {json} is empty (RASP inputs are never empty)").into());
        }
        out.push((json, tokens));
    }
    if out.is_empty() {
        return Err("`# test:` gives no input".into());
    }
    crate::front::check_json_ints(rest).map_err(|d| Bad::Diag(d.prefix("`# test:`")))?;
    Ok(out)
}

/// `SOP vocab=V max_len=N [causal] [max_params=P]`; each setting once.
fn compile(rest: &str) -> Result<CompileDecl, Bad> {
    let mut words = rest.split_whitespace();
    let sop = words
        .next()
        .ok_or("`# test compile:` names no s-op")?
        .to_string();
    let (mut vocab_text, mut max_len, mut causal, mut max_params) = (None, None, false, None);
    // The settings seen, by their canonical name.
    let mut seen: Vec<&str> = Vec::new();
    for w in words {
        let key = match w.split_once('=') {
            Some(("vocab", _)) => "vocab",
            Some(("max_len" | "max-len", _)) => "max_len",
            Some(("max_params" | "max-params", _)) => "max_params",
            None if w == "causal" => "causal",
            _ => return Err(format!("unknown compile option `{w}`").into()),
        };
        if seen.contains(&key) {
            let what = if key == "causal" {
                "`causal`".to_string()
            } else {
                format!("`{key}=`")
            };
            return Err(format!("{what} is given twice: give each setting once").into());
        }
        seen.push(key);
        let value = w.split_once('=').map_or("", |(_, v)| v);
        let number = |v: &str, least: u64| -> Result<u64, String> {
            match v.parse::<u64>() {
                Ok(n) if n >= least => Ok(n),
                _ => Err(format!(
                    "{key}={v}: {key} is a whole number, {least} or more"
                )),
            }
        };
        match key {
            "vocab" => vocab_text = Some(value.to_string()),
            "max_len" => {
                let n = number(value, 1)?;
                max_len =
                    Some(usize::try_from(n).map_err(|_| format!("max_len={value} is too large"))?);
            }
            "max_params" => max_params = Some(number(value, 0)?),
            _ => causal = true,
        }
    }
    let vocab_text = vocab_text.ok_or("`# test compile:` needs vocab=V")?;
    let vocab = crate::compile::parse_vocab(&vocab_text).map_err(|d| {
        if d.code == codes::COMPILE_VOCAB {
            let help = d
                .help
                .as_deref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            Bad::Decl(format!("vocab={vocab_text}: {}{help}", d.message))
        } else {
            Bad::Diag(d)
        }
    })?;
    let max_len = max_len.ok_or("`# test compile:` needs max_len=N")?;
    Ok(CompileDecl {
        sop,
        vocab_text,
        vocab,
        max_len,
        causal,
        max_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;

    fn run(text: &str) -> (Decls, Vec<Diag>) {
        let sources = SourceMap::new();
        let file = sources.add("t.rasp", text);
        parse(text, file)
    }

    #[test]
    fn declarations_and_prose() {
        let (d, diags) = run(concat!(
            "# test: \"hello\" [1, 2.5, true]\n",
            "x = 1;  # not a declaration: test: \"no\"\n",
            "#test: \"a b\"\n",
            "# test the sort: prose, not a declaration\n",
            "# testing: prose too\n",
            "# test sops: a, b c\n",
            "# test compile: a vocab=abc max_len=4 causal\n",
        ));
        assert!(diags.is_empty(), "{diags:?}");
        let inputs: Vec<String> = d.inputs.iter().map(|(j, _)| j.to_string()).collect();
        assert_eq!(inputs, ["\"hello\"", "[1,2.5,true]", "\"a b\""]);
        assert_eq!(d.inputs[2].1.len(), 3);
        let names: Vec<&str> = d.sops.iter().flatten().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(d.compiles.len(), 1);
        let c = &d.compiles[0];
        assert_eq!((c.sop.as_str(), c.max_len, c.causal), ("a", 4, true));
        assert_eq!(c.vocab.len(), 3);
    }

    #[test]
    fn bad_declarations_point_at_their_line() {
        let text = "# test: [1, {}]\n# test sop: x\n# test compile: y vocab=ab\n# test: \"\"\n";
        let (d, diags) = run(text);
        assert!(d.is_empty());
        assert_eq!(diags.len(), 4, "{diags:?}");
        for (diag, line) in diags.iter().zip(text.lines()) {
            assert_eq!(diag.code, codes::TEST_DECLARATION);
            let span = diag.span.expect("a span");
            assert_eq!(&text[span.start as usize..span.end as usize], line);
        }
        assert!(diags[1].message.contains("unknown test declaration `sop`"));
        assert!(diags[2].message.contains("max_len"));
    }

    /// Each `key=` setting once (`max_len` and `max-len` are one key), at
    /// the line that repeats it; numbers say what they must be; a
    /// vocabulary lists each token once.
    #[test]
    fn repeated_settings_and_bad_values_point_at_their_line() {
        for (line, says) in [
            (
                "rev vocab=abc vocab=xyz max_len=3",
                "`vocab=` is given twice",
            ),
            (
                "rev vocab=abc max_len=3 max-len=4",
                "`max_len=` is given twice",
            ),
            (
                "rev vocab=abc max_len=3 max_params=9 max_params=9",
                "`max_params=` is given twice",
            ),
            (
                "rev vocab=abc max_len=3 causal causal",
                "`causal` is given twice",
            ),
            (
                "rev vocab=abc max_len=-1",
                "max_len is a whole number, 1 or more",
            ),
            ("rev vocab=abc max_len=0", "1 or more"),
            (
                "rev vocab=abc max_len=3 max_params=-5",
                "max_params is a whole number, 0 or more",
            ),
            (
                "rev vocab=aab max_len=3",
                "vocab=aab: the vocabulary lists 'a' twice",
            ),
        ] {
            let text = format!("# test: \"ab\"\n# test compile: {line}\n");
            let (d, diags) = run(&text);
            assert!(d.compiles.is_empty(), "{line}");
            assert_eq!(diags.len(), 1, "{line}: {diags:?}");
            assert_eq!(diags[0].code, codes::TEST_DECLARATION);
            assert!(
                diags[0].message.contains(says),
                "{line}: {}",
                diags[0].message
            );
            let span = diags[0].span.expect("a span");
            assert_eq!(
                &text[span.start as usize..span.end as usize],
                format!("# test compile: {line}")
            );
        }
    }

    /// A name shown twice (on one `# test sops:` line or across two) is a
    /// diagnostic at the line that repeats it.
    #[test]
    fn a_name_listed_twice_in_sops_is_refused() {
        for text in [
            "# test sops: a, a\n",
            "# test sops: a, b\n# test sops: c a\n",
        ] {
            let (d, diags) = run(text);
            assert_eq!(diags.len(), 1, "{text}: {diags:?}");
            assert!(
                diags[0].message.contains("names `a` twice"),
                "{}",
                diags[0].message
            );
            let span = diags[0].span.expect("a span");
            let line = text.lines().last().expect("a line");
            assert_eq!(&text[span.start as usize..span.end as usize], line);
            assert!(d.sops.iter().flatten().filter(|(n, _)| n == "a").count() <= 1);
        }
    }

    /// An integer beyond 64 bits is `rasp::eval::overflow`, as wherever
    /// inputs are read, at its line.
    #[test]
    fn huge_integers_in_inputs_overflow_at_their_line() {
        let text = "# test: \"ab\"\n# test: [1, 18446744073709551616]\n";
        let (d, diags) = run(text);
        assert_eq!(d.inputs.len(), 1);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, codes::EVAL_OVERFLOW);
        let span = diags[0].span.expect("a span");
        assert_eq!(
            &text[span.start as usize..span.end as usize],
            "# test: [1, 18446744073709551616]"
        );
        let (d, diags) = run("# test: [1e30, 2.5]\n");
        assert!(diags.is_empty());
        assert!(d.inputs[0].1[0].same(&Value::Float(1e30)));
    }
}
