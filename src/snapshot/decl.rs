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
                Err(m) => diags.push(bad(m)),
            },
            Some("sops") => {
                let names: Vec<(String, Span)> = rest
                    .split([',', ' ', '\t'])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| (n.to_string(), rest_span))
                    .collect();
                if names.is_empty() {
                    diags.push(bad("`# test sops:` names no s-op".into()));
                } else {
                    decls.sops.get_or_insert_with(Vec::new).extend(names);
                }
            }
            Some("compile") => match compile(rest) {
                Ok(c) => decls.compiles.push(c),
                Err(m) => diags.push(bad(m)),
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

/// A sequence of JSON inputs separated by white space.
fn inputs(rest: &str) -> Result<Vec<(serde_json::Value, Vec<Value>)>, String> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    for item in stream {
        let json = item.map_err(|e| format!("bad input: {e} (inputs are JSON values)"))?;
        let tokens =
            crate::front::input_from_json(&json).map_err(|m| format!("input {json}: {m}"))?;
        if tokens.is_empty() {
            return Err(format!(
                "input {json} is empty (RASP inputs are never empty)"
            ));
        }
        out.push((json, tokens));
    }
    if out.is_empty() {
        return Err("`# test:` gives no input".into());
    }
    Ok(out)
}

/// `SOP vocab=V max_len=N [causal] [max_params=P]`.
fn compile(rest: &str) -> Result<CompileDecl, String> {
    let mut words = rest.split_whitespace();
    let sop = words
        .next()
        .ok_or("`# test compile:` names no s-op")?
        .to_string();
    let (mut vocab_text, mut max_len, mut causal, mut max_params) = (None, None, false, None);
    for w in words {
        match w.split_once('=') {
            Some(("vocab", v)) => vocab_text = Some(v.to_string()),
            Some(("max_len" | "max-len", v)) => {
                max_len = Some(
                    v.parse::<usize>()
                        .map_err(|_| format!("bad max_len {v:?}"))?,
                )
            }
            Some(("max_params" | "max-params", v)) => {
                max_params = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("bad max_params {v:?}"))?,
                )
            }
            None if w == "causal" => causal = true,
            _ => return Err(format!("unknown compile option `{w}`")),
        }
    }
    let vocab_text = vocab_text.ok_or("`# test compile:` needs vocab=V")?;
    let vocab = crate::compile::parse_vocab(&vocab_text).map_err(|d| d.message.clone())?;
    let max_len = max_len.ok_or("`# test compile:` needs max_len=N")?;
    if max_len == 0 {
        return Err("max_len must be at least 1".into());
    }
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
}
