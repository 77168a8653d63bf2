//! The editor grammars parse and name every keyword of the language and
//! every library function.

use std::path::Path;

/// Every word of the language the editors must know: keywords, REPL
/// command words, forms (without their `(`), builtins; from the table.
fn keywords() -> Vec<String> {
    rasp::syntax::words::WORDS
        .iter()
        .filter(|w| w.kind != rasp::syntax::words::Kind::Special)
        .flat_map(|w| w.text.trim_end_matches(['(', ')']).split(' '))
        .map(str::to_string)
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect(rel)
}

/// The library's public names, as the front end defines them (builtins
/// such as `selector_width` and `numerical`, and the prelude's).
fn library() -> Vec<String> {
    let session = rasp::front::Session::new();
    let mut names: Vec<String> = session
        .library_names()
        .iter()
        .filter(|n| !n.starts_with("tokens_") && *n != "indices" && *n != "length")
        .cloned()
        .collect();
    assert!(names.iter().any(|n| n == "selector_width"), "{names:?}");
    assert!(names.iter().any(|n| n == "sort"), "{names:?}");
    names.sort();
    names
}

#[test]
fn vscode_grammar_is_valid_and_complete() {
    let grammar: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/syntaxes/rasp.tmLanguage.json")).expect("JSON");
    assert_eq!(grammar["scopeName"], "source.rasp");
    let text = grammar["repository"].to_string();
    for w in keywords().into_iter().chain(library()) {
        assert!(text.contains(&w), "the VS Code grammar misses {w}");
    }
    let package: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/package.json")).expect("JSON");
    assert_eq!(
        package["contributes"]["languages"][0]["extensions"][0],
        ".rasp"
    );
    let _: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/language-configuration.json")).expect("JSON");
}

#[test]
fn vim_syntax_is_complete() {
    let vim = read("editors/vim/syntax/rasp.vim");
    for w in keywords().into_iter().chain(library()) {
        assert!(vim.contains(&w), "the Vim syntax misses {w}");
    }
    assert!(read("editors/vim/ftdetect/rasp.vim").contains("*.rasp"));
}

#[test]
fn tree_sitter_grammar_knows_every_word() {
    let grammar = read("editors/tree-sitter-rasp/grammar.js");
    let highlights = read("editors/tree-sitter-rasp/queries/highlights.scm");
    for w in keywords() {
        assert!(
            highlights.contains(&w),
            "tree-sitter's highlights.scm misses {w}"
        );
    }
    for w in library() {
        assert!(
            highlights.contains(&w),
            "tree-sitter's highlights.scm misses the library's {w}"
        );
    }
    // Every keyword of the lexer is a token of the grammar.
    for w in rasp::syntax::words::keywords() {
        let token = w.text.split(' ').next().unwrap_or(w.text);
        assert!(grammar.contains(token), "grammar.js misses {}", w.text);
    }
    let package: serde_json::Value =
        serde_json::from_str(&read("editors/tree-sitter-rasp/package.json")).expect("JSON");
    assert_eq!(package["name"], "tree-sitter-rasp");
}
