//! What the server answers, each a function of an analysed document:
//! diagnostics, hover, definition, references, rename, completion,
//! document symbols, formatting, code lenses and the verify command.

use std::collections::{HashMap, HashSet};

use lsp_types::{
    CodeLens, Command, CompletionItem, CompletionItemKind, CompletionList, CompletionResponse,
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbol, Documentation,
    Hover, HoverContents, Location, MarkupContent, MarkupKind, NumberOrString, Range, SymbolKind,
    TextEdit, Uri, WorkspaceEdit,
};
use miette::Severity;

use super::analysis::{Analysis, Found};
use super::convert::{LineIndex, path_to_uri};
use crate::diag::{Diag, Span};
use crate::front::MVal;
use crate::interp::{Output, display};
use crate::syntax::names::{DefKind, ScopeKind, Target};
use crate::syntax::words::{self, Kind};

/// The command the code lenses run: arguments `[uri, sop, vocab, maxLen]`.
pub const VERIFY_COMMAND: &str = "rasp.verify";
/// The longest inputs `rasp.verify` compiles for (it runs inside the
/// editor's server; the command line has no such limit).
pub const MAX_VERIFY_LEN: usize = 64;

/// An atom as JSON, its type kept (`1`, `1.5`, `true`, `"a"`).
fn atom_json(v: &crate::ir::Value) -> serde_json::Value {
    use crate::ir::Value;
    match v {
        Value::Bool(b) => serde_json::json!(b),
        Value::Int(i) => serde_json::json!(i),
        Value::Float(f) => serde_json::json!(f),
        Value::Str(s) => serde_json::json!(s.as_ref()),
    }
}

fn range_of(a: &Analysis, s: Span) -> Range {
    a.lines.range(&a.text, s.start as usize, s.end as usize)
}

/// Every diagnostic of the document, with its code. One in a loaded file
/// is shown on the `load` that brought it in.
pub fn diagnostics(a: &Analysis, uri: &Uri) -> Vec<Diagnostic> {
    // Where each loaded file's diagnostics go, looked up once per file.
    let mut loads: HashMap<String, Range> = HashMap::new();
    a.diags
        .iter()
        .map(|d| diagnostic(a, d, uri, &mut loads))
        .collect()
}

/// The document's `load` of a file (directly, else the first `load`: the
/// file came in through it or through the files it loads).
fn load_of(a: &Analysis, file: &str) -> Option<Range> {
    let dir = a.path.as_deref().and_then(std::path::Path::parent);
    let same = |p: &std::path::Path| {
        let canon = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        canon(p) == canon(std::path::Path::new(file))
    };
    let direct = a
        .index
        .loads
        .iter()
        .find(|l| crate::front::load_path(&l.path, dir).is_ok_and(|p| same(&p)));
    direct
        .or_else(|| a.index.loads.first())
        .map(|l| range_of(a, l.span))
}

fn diagnostic(a: &Analysis, d: &Diag, uri: &Uri, loads: &mut HashMap<String, Range>) -> Diagnostic {
    let (range, prefix) = match d.span {
        Some(s) if s.file == a.file => (range_of(a, s), String::new()),
        Some(s) => {
            let name = a
                .session
                .sources
                .get(s.file)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            let at = *loads
                .entry(name.clone())
                .or_insert_with(|| load_of(a, &name).unwrap_or_default());
            let line = a
                .session
                .sources
                .line_col(s)
                .map_or(String::new(), |(l, c)| format!(":{l}:{c}"));
            (at, format!("in {name}{line}: "))
        }
        None => (Range::default(), String::new()),
    };
    let mut message = format!("{prefix}{}", d.message);
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related = d
        .related
        .iter()
        .filter_map(|r| {
            let s = r.span.filter(|s| s.file == a.file)?;
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri.clone(), range_of(a, s)),
                message: r.message.clone(),
            })
        })
        .collect::<Vec<_>>();
    Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Advice => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("rasp".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Diagnostic::default()
    }
}

/// What is under the cursor: a name's kind, its value on the running
/// example with its type, and the layers and heads it needs (the original
/// interpreter's analysis); a keyword's meaning.
pub fn hover(a: &Analysis, offset: u32) -> Option<Hover> {
    let (name, span, local) = match a.index.at(offset) {
        Some(Target::Def(i)) => {
            let d = &a.index.defs[i];
            (d.name.clone(), d.span, local_kind(a, &d.kind, d.scope))
        }
        Some(Target::Use(u)) => {
            let u = &a.index.uses[u];
            let local = u.def.and_then(|i| {
                let d = &a.index.defs[i];
                local_kind(a, &d.kind, d.scope)
            });
            (u.name.clone(), u.span, local)
        }
        None => return keyword_hover(a, offset),
    };
    let text = match local {
        Some(what) => format!("`{name}`: {what}"),
        None => match a.value(&name) {
            Some(v) => value_hover(a, &name, &v),
            None => format!("`{name}`: not defined"),
        },
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(range_of(a, span)),
    })
}

/// A name that only exists while a function or comprehension runs.
fn local_kind(a: &Analysis, kind: &DefKind, scope: usize) -> Option<String> {
    match kind {
        DefKind::Parameter => Some("parameter".into()),
        DefKind::ComprehensionVariable => Some("comprehension variable".into()),
        _ if a.index.scopes[scope].kind != ScopeKind::File => Some("local variable".into()),
        _ => None,
    }
}

fn value_hover(a: &Analysis, name: &str, v: &MVal) -> String {
    let ex = &a.session.settings.sop_example;
    let example = display::input_short(ex, None);
    match v {
        MVal::Sop(id) | MVal::Sel(id) => {
            let kind = if matches!(v, MVal::Sop(_)) {
                "s-op"
            } else {
                "selector"
            };
            let mut s = format!("**{kind}** `{name}`\n\n");
            // Bidirectional, the original's semantics: a document carries
            // no semantics (causal is a flag of a command or a session).
            let flag = a.session.interrupt.clone();
            let value = super::analysis::with_deadline(&flag, super::analysis::RUN_SECONDS, || {
                a.session.evaluate(*id, ex)
            });
            match value {
                Ok(Output::Sop(col)) => s.push_str(&format!(
                    "on the running example: `{name}({example}) = {}`\n\nvalue type: {}\n\n",
                    display::sequence_str(&col.values),
                    col.ty.name()
                )),
                Ok(Output::Selector(rows)) => s.push_str(&format!(
                    "on the running example {example}:\n```\n{}```\n\n",
                    display::selector_matrix(ex, &rows, "")
                )),
                Err(d) => s.push_str(&format!(
                    "fails on the running example {example}: {} ({})\n\n",
                    d.message, d.code
                )),
            }
            let l = crate::ir::layers::analyse(&a.session.graph, *id);
            let heads: usize = l.heads.iter().sum();
            let mlps: usize = l.mlps.iter().sum();
            s.push_str(&format!(
                "layers: {} ({} attention head{}, {} MLP{}; per layer: heads {:?}, MLPs {:?})",
                l.n_layers,
                heads,
                if heads == 1 { "" } else { "s" },
                mlps,
                if mlps == 1 { "" } else { "s" },
                l.heads,
                l.mlps
            ));
            s
        }
        MVal::Func(f) => format!("**function** `{}({})`", f.name(), f.params().join(", ")),
        MVal::Atom(x) => format!("**value** `{name} = {}` ({})", x.repr(), x.type_name()),
        MVal::List(_) => format!("**list** `{name} = {}`", v.repr()),
        MVal::Dict(_) => format!("**dict** `{name} = {}`", v.repr()),
    }
}

fn keyword_hover(a: &Analysis, offset: u32) -> Option<Hover> {
    let bytes = a.text.as_bytes();
    let (mut s, mut e) = (offset as usize, offset as usize);
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    while s > 0 && word(bytes[s - 1]) {
        s -= 1;
    }
    while e < bytes.len() && word(bytes[e]) {
        e += 1;
    }
    let w = words::lookup(a.text.get(s..e)?)?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("`{}`: {}", w.text, w.doc),
        }),
        range: Some(a.lines.range(&a.text, s, e)),
    })
}

/// Where the name under the cursor is defined.
pub fn definition(a: &Analysis, offset: u32, uri: &Uri) -> Option<Location> {
    let found = a.definition(offset)?;
    location(a, &found, uri)
}

fn location(a: &Analysis, f: &Found, uri: &Uri) -> Option<Location> {
    match &f.path {
        None => Some(Location::new(uri.clone(), range_of(a, f.def.span))),
        Some(p) => {
            let lines = LineIndex::new(&f.text);
            let r = lines.range(&f.text, f.def.span.start as usize, f.def.span.end as usize);
            Some(Location::new(path_to_uri(p)?, r))
        }
    }
}

/// The binding under the cursor: its definitions (a name assigned again
/// in the same scope is one binding) and the uses that refer to them.
fn binding(a: &Analysis, offset: u32) -> Option<(Vec<usize>, Vec<usize>)> {
    let def = match a.index.at(offset)? {
        Target::Def(i) => i,
        Target::Use(u) => a.index.uses[u].def?,
    };
    let defs = a.index.same_binding(def);
    let set: HashSet<usize> = defs.iter().copied().collect();
    let uses = a
        .index
        .uses
        .iter()
        .enumerate()
        .filter(|(_, u)| u.def.is_some_and(|d| set.contains(&d)))
        .map(|(i, _)| i)
        .collect();
    Some((defs, uses))
}

/// Every place the name under the cursor is used (and defined).
pub fn references(a: &Analysis, offset: u32, declarations: bool, uri: &Uri) -> Vec<Location> {
    let Some((defs, uses)) = binding(a, offset) else {
        return Vec::new();
    };
    let mut spans: Vec<Span> = uses.iter().map(|&u| a.index.uses[u].span).collect();
    if declarations {
        spans.extend(defs.iter().map(|&d| a.index.defs[d].span));
    }
    spans.sort_by_key(|s| s.start);
    spans
        .into_iter()
        .map(|s| Location::new(uri.clone(), range_of(a, s)))
        .collect()
}

/// The range a rename would change, or why it cannot.
pub fn prepare_rename(a: &Analysis, offset: u32) -> Result<Range, String> {
    match a.index.at(offset) {
        Some(Target::Def(i)) => Ok(range_of(a, a.index.defs[i].span)),
        Some(Target::Use(u)) => {
            let u = &a.index.uses[u];
            if u.def.is_some() {
                Ok(range_of(a, u.span))
            } else {
                Err(format!(
                    "`{}` is not defined in this file: rename it where it is defined",
                    u.name
                ))
            }
        }
        None => Err("no name here".into()),
    }
}

/// The edits that rename the binding under the cursor.
pub fn rename(
    a: &Analysis,
    offset: u32,
    new_name: &str,
    uri: &Uri,
) -> Result<WorkspaceEdit, String> {
    prepare_rename(a, offset)?;
    let valid = new_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{new_name}` is not a name (letters, digits and _, not starting with a digit)"
        ));
    }
    if words::lookup(new_name).is_some() || words::is_reserved(new_name) {
        return Err(format!(
            "`{new_name}` is a keyword, a builtin or a reserved name"
        ));
    }
    if a.diags.iter().any(|d| d.code.starts_with("rasp::parse::")) {
        return Err(
            "the file has syntax errors: fix them first (their statements are not analysed)".into(),
        );
    }
    // A name already in use here, in the library or in a loaded file:
    // renaming onto it could change what other code refers to.
    let taken = a.index.defs.iter().any(|d| d.name == new_name)
        || a.index.uses.iter().any(|u| u.name == new_name)
        || a.session.library_names().iter().any(|n| n == new_name)
        || a.value(new_name).is_some();
    if taken {
        return Err(format!("`{new_name}` is already a name here: pick another"));
    }
    let (defs, uses) = binding(a, offset).ok_or("no name here")?;
    let mut spans: Vec<Span> = uses.iter().map(|&u| a.index.uses[u].span).collect();
    spans.extend(defs.iter().map(|&d| a.index.defs[d].span));
    spans.sort_by_key(|s| s.start);
    spans.dedup();
    let edits = spans
        .into_iter()
        .map(|s| TextEdit::new(range_of(a, s), new_name.to_string()))
        .collect();
    Ok(WorkspaceEdit::new(HashMap::from([(uri.clone(), edits)])))
}

/// The most names of the document a completion lists: a document with
/// more gets those that start with the word at the cursor, up to this
/// many, as an incomplete list (the editor asks again as the user types).
pub const MAX_COMPLETIONS: usize = 1000;

/// Names in scope at the cursor, the library, the builtins and the
/// keywords.
pub fn completion(a: &Analysis, offset: u32) -> CompletionResponse {
    let visible = a.index.visible_at(offset);
    let scope = a.scope.borrow();
    // A large document: names that start with the word typed, at most
    // MAX_COMPLETIONS of them.
    let large = visible.len() + scope.names().len() > MAX_COMPLETIONS;
    let typed = if large {
        word_before(&a.text, offset as usize)
    } else {
        ""
    };
    let wanted = |label: &str| {
        label
            .get(..typed.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(typed))
    };
    let mut items: Vec<CompletionItem> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut own = 0;
    let push = |items: &mut Vec<CompletionItem>,
                label: String,
                kind: CompletionItemKind,
                detail: String,
                doc: Option<String>| {
        items.push(CompletionItem {
            label,
            kind: Some(kind),
            detail: Some(detail),
            documentation: doc.map(Documentation::String),
            ..CompletionItem::default()
        });
    };
    for i in visible {
        let d = &a.index.defs[i];
        if !wanted(&d.name) || seen.contains(&d.name) {
            continue;
        }
        if own == MAX_COMPLETIONS {
            break;
        }
        own += 1;
        seen.insert(d.name.clone());
        let (kind, detail) = match &d.kind {
            DefKind::Function { params } => (
                CompletionItemKind::FUNCTION,
                format!("{}({})", d.name, params.join(", ")),
            ),
            DefKind::Parameter => (CompletionItemKind::VARIABLE, "parameter".into()),
            _ => match a.value(&d.name) {
                Some(MVal::Sop(_)) => (CompletionItemKind::VARIABLE, "s-op".into()),
                Some(MVal::Sel(_)) => (CompletionItemKind::VARIABLE, "selector".into()),
                Some(MVal::Func(_)) => (CompletionItemKind::FUNCTION, "function".into()),
                _ => (CompletionItemKind::VARIABLE, "variable".into()),
            },
        };
        push(&mut items, d.name.clone(), kind, detail, None);
    }
    // Names the loaded files export (the document's scope holds them).
    for n in scope.names() {
        if n == "out" || !wanted(n) || seen.contains(n) {
            continue;
        }
        if own == MAX_COMPLETIONS {
            break;
        }
        let detail = match scope.get_local(n) {
            Some(v) => v.kind_name().to_string(),
            None => continue,
        };
        own += 1;
        seen.insert(n.clone());
        push(
            &mut items,
            n.clone(),
            CompletionItemKind::VARIABLE,
            detail,
            None,
        );
    }
    for n in a.session.library_names() {
        if seen.insert(n.clone()) {
            push(
                &mut items,
                n.clone(),
                CompletionItemKind::FUNCTION,
                "library".into(),
                None,
            );
        }
    }
    for w in words::WORDS.iter().filter(|w| w.kind != Kind::Special) {
        let kind = match w.kind {
            Kind::Builtin => CompletionItemKind::CONSTANT,
            Kind::Form => CompletionItemKind::FUNCTION,
            _ => CompletionItemKind::KEYWORD,
        };
        if seen.insert(w.text.to_string()) {
            let detail = format!("{:?}", w.kind).to_lowercase();
            push(
                &mut items,
                w.text.to_string(),
                kind,
                detail,
                Some(w.doc.to_string()),
            );
        }
    }
    if large {
        CompletionResponse::List(CompletionList {
            is_incomplete: true,
            items,
        })
    } else {
        CompletionResponse::Array(items)
    }
}

/// The identifier that ends at byte `offset` (empty if none).
fn word_before(text: &str, offset: usize) -> &str {
    let end = crate::diag::floor_boundary(text, offset.min(text.len()));
    let start = text[..end]
        .bytes()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    &text[end - start..end]
}

/// The document's definitions: top-level names (functions with their
/// parameters and locals inside).
#[allow(deprecated)]
pub fn symbols(a: &Analysis) -> Vec<DocumentSymbol> {
    let sym = |d: &crate::syntax::names::Def,
               kind: SymbolKind,
               detail: Option<String>,
               children| DocumentSymbol {
        name: d.name.clone(),
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: range_of(a, d.statement),
        selection_range: range_of(a, d.span),
        children,
    };
    let mut out = Vec::new();
    for (i, d) in a.index.defs.iter().enumerate() {
        if a.index.scopes[d.scope].kind != ScopeKind::File {
            continue;
        }
        match &d.kind {
            DefKind::Function { params } => {
                // The definitions inside a `def` follow it in the index.
                let inner: Vec<DocumentSymbol> = a
                    .index
                    .defs
                    .iter()
                    .skip(i + 1)
                    .take_while(|e| {
                        d.statement.start <= e.span.start && e.span.end <= d.statement.end
                    })
                    .filter(|e| e.scope != 0 && a.index.scopes[e.scope].kind == ScopeKind::Function)
                    .map(|e| {
                        let kind = if e.kind == DefKind::Parameter {
                            SymbolKind::TYPE_PARAMETER
                        } else {
                            SymbolKind::VARIABLE
                        };
                        sym(e, kind, None, None)
                    })
                    .collect();
                let detail = Some(format!("({})", params.join(", ")));
                out.push(sym(d, SymbolKind::FUNCTION, detail, Some(inner)));
            }
            _ => {
                let (kind, detail) = match a.value(&d.name) {
                    Some(MVal::Sop(_)) => (SymbolKind::VARIABLE, "s-op"),
                    Some(MVal::Sel(_)) => (SymbolKind::OBJECT, "selector"),
                    Some(MVal::List(_)) => (SymbolKind::ARRAY, "list"),
                    Some(MVal::Dict(_)) => (SymbolKind::OBJECT, "dict"),
                    Some(MVal::Atom(_)) => (SymbolKind::CONSTANT, "value"),
                    _ => (SymbolKind::VARIABLE, "name"),
                };
                out.push(sym(d, kind, Some(detail.into()), None));
            }
        }
    }
    out
}

/// The edit that formats a document's latest text (`rasp fmt`); none
/// when it is formatted already; an error when it has syntax errors.
pub fn formatting(text: &str) -> Result<Vec<TextEdit>, String> {
    match crate::fmt::format(text, 0) {
        Ok(out) if out == text => Ok(Vec::new()),
        Ok(out) => Ok(vec![TextEdit::new(
            LineIndex::new(text).range(text, 0, text.len()),
            out,
        )]),
        Err(ds) => Err(format!(
            "not formatted: {}",
            ds.first()
                .map_or(String::new(), |d| format!("{} ({})", d.message, d.code))
        )),
    }
}

/// A "verify" lens above each top-level s-op definition: compile it and
/// check the model against the interpreter (`rasp verify`) for the
/// `# test compile:` target the file declares for it, else for the tokens
/// of the running example up to its length.
pub fn code_lenses(a: &Analysis, uri: &Uri) -> Vec<CodeLens> {
    let declared = crate::snapshot::decl::parse(&a.text, a.file).0.compiles;
    let ex = &a.session.settings.sop_example;
    // The example's distinct tokens, as a JSON list (their types kept).
    let mut seen = std::collections::HashSet::new();
    let mut vocab: Vec<serde_json::Value> = Vec::new();
    for v in ex.iter().take(4096) {
        if seen.insert(v.repr()) {
            vocab.push(atom_json(v));
        }
    }
    let default_vocab = serde_json::Value::Array(vocab).to_string();
    let default_len = ex.len().clamp(1, 8);
    let mut lenses = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    for i in a.index.exports() {
        let d = &a.index.defs[i];
        if done.contains(d.name.as_str()) || !matches!(a.value(&d.name), Some(MVal::Sop(_))) {
            continue;
        }
        done.insert(&d.name);
        let (vocab, max_len) = declared
            .iter()
            .find(|c| c.sop == d.name)
            .map_or((default_vocab.clone(), default_len), |c| {
                (c.vocab_text.clone(), c.max_len)
            });
        lenses.push(CodeLens {
            range: range_of(a, d.span),
            command: Some(Command {
                title: format!("verify (vocab {vocab}, max_len {max_len})"),
                command: VERIFY_COMMAND.into(),
                arguments: Some(vec![
                    serde_json::json!(uri.as_str()),
                    serde_json::json!(d.name),
                    serde_json::json!(vocab),
                    serde_json::json!(max_len),
                ]),
            }),
            data: None,
        });
    }
    lenses
}

/// `rasp.verify`: compile the s-op and check the model against the
/// interpreter, as `rasp verify` does; the report's text, or why not.
pub fn verify(a: &Analysis, sop: &str, vocab: &str, max_len: usize) -> Result<String, String> {
    use crate::compile::{self, verify};
    if max_len == 0 || max_len > MAX_VERIFY_LEN {
        return Err(format!(
            "maxLen must be 1 to {MAX_VERIFY_LEN} here; `rasp verify` on the command line takes any"
        ));
    }
    let node = match a.value(sop) {
        Some(MVal::Sop(id)) => id,
        Some(other) => return Err(format!("`{sop}` is {}, not an s-op", other.kind_name())),
        None => return Err(format!("`{sop}` is not defined")),
    };
    let vocab = compile::parse_vocab(vocab).map_err(|d| d.message.clone())?;
    let opts = compile::Options::new(vocab, max_len);
    let source = compile::Source {
        text: a.text.clone(),
        file: a.path.as_ref().map_or("<editor>".into(), |p| {
            crate::workflow::source_label(p, None)
        }),
        sop: sop.to_string(),
    };
    let (graph, sources) = (&a.session.graph, &a.session.sources);
    let show = |d: Diag| format!("{} ({})", d.message, d.code);
    let compiled =
        crate::workflow::compile(graph, sources, node, &opts, &source, compile::Check::Skip)
            .map_err(show)?;
    let mode = verify::Mode::Auto {
        samples: verify::DEFAULT_SAMPLES,
        seed: 0,
    };
    let v = crate::workflow::verify(
        graph,
        sources,
        &compiled,
        node,
        mode,
        crate::gpu::backend::Backend::Cpu,
        false,
    )
    .map_err(show)?;
    let summary = format!(
        "{sop}: {}; {}",
        compile::explain::size_line(&compiled.model),
        v.lines().join(" ")
    );
    v.outcome(graph, node)
        .map_err(|d| format!("{summary}\n{}", show(d)))?;
    Ok(summary)
}
