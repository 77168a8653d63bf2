//! The error catalogue: `docs/errors.md`, one entry per diagnostic code
//! (what it means, a program that triggers it, how to fix it), embedded in
//! the binary for `rasp explain-error CODE`.
//!
//! The file's shape is fixed so that it can be checked: a `## CODE`
//! heading per code, in the order of [`super::codes::ALL`]; in each entry
//! any number of ```` ```rasp [NAME] ```` blocks (files, `prog.rasp` when
//! unnamed) and one ```` ```console ```` block whose `$ ` lines trigger the
//! code, or a `<!-- no trigger: REASON -->` line for a code no program can
//! cause on purpose. `tests/it/catalogue.rs` runs every trigger.

/// The catalogue's text.
pub const TEXT: &str = include_str!("../../docs/errors.md");

/// One entry of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The code, as in the heading.
    pub code: String,
    /// The whole entry, heading included, as written.
    pub text: String,
    /// The program files its commands run on: (name, contents).
    pub files: Vec<(String, String)>,
    /// The commands (the `$ ` lines of its console block, without `$ `).
    pub commands: Vec<String>,
    /// Why no program triggers it, for codes that cannot be caused on
    /// purpose.
    pub no_trigger: Option<String>,
}

/// Every entry of a catalogue text, in order.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut fence: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((info, body)) = &mut fence {
            if line.trim_end() == "```" {
                let (info, body) = (std::mem::take(info), std::mem::take(body));
                fence = None;
                if let Some(e) = entries.last_mut() {
                    e.text.push_str(line);
                    e.text.push('\n');
                    close_block(e, &info, body);
                }
                continue;
            }
            body.push_str(line);
            body.push('\n');
        } else if let Some(code) = line.strip_prefix("## ") {
            entries.push(Entry {
                code: code.trim().to_string(),
                text: String::new(),
                files: Vec::new(),
                commands: Vec::new(),
                no_trigger: None,
            });
        } else if let Some(info) = line.strip_prefix("```") {
            fence = Some((info.trim().to_string(), String::new()));
        } else if let Some(reason) = line
            .trim()
            .strip_prefix("<!-- no trigger:")
            .and_then(|r| r.strip_suffix("-->"))
            && let Some(e) = entries.last_mut()
        {
            e.no_trigger = Some(reason.trim().to_string());
            continue;
        }
        if let Some(e) = entries.last_mut() {
            e.text.push_str(line);
            e.text.push('\n');
        }
    }
    for e in &mut entries {
        let trimmed = e.text.trim_end().len();
        e.text.truncate(trimmed);
        e.text.push('\n');
    }
    entries
}

fn close_block(e: &mut Entry, info: &str, body: String) {
    let mut words = info.split_whitespace();
    match words.next() {
        Some("rasp") => {
            let name = words.next().unwrap_or("prog.rasp").to_string();
            e.files.push((name, body));
        }
        Some("console") => e.commands.extend(
            body.lines()
                .filter_map(|l| l.strip_prefix("$ "))
                .map(str::to_string),
        ),
        _ => {}
    }
}

/// The entry of a code: `rasp::parse::invalid_token`, or the same without
/// its `rasp::` prefix.
pub fn lookup(code: &str) -> Option<Entry> {
    let full = full_code(code);
    parse(TEXT).into_iter().find(|e| e.code == full)
}

/// A code as diagnostics print it: `name::undefined` →
/// `rasp::name::undefined`.
pub fn full_code(code: &str) -> String {
    let code = code.trim();
    if code.starts_with("rasp::") {
        code.to_string()
    } else {
        format!("rasp::{code}")
    }
}

/// The first sentence of an entry's meaning, for a list of codes.
pub fn summary(e: &Entry) -> String {
    let body = e
        .text
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let body = body.strip_prefix("What it means:").unwrap_or(&body).trim();
    match body.find(". ") {
        Some(i) => body[..=i].to_string(),
        None => body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_files_commands_and_reasons() {
        let text = "# Codes\n\nintro\n\n## rasp::a::b\n\nWhat it means: one. Two.\n\n\
                    ```rasp\nx = 1;\n```\n\n```rasp other.rasp\ny;\n```\n\n\
                    ```console\n$ rasp check prog.rasp\n$ echo hi\n```\n\nFix it.\n\n\
                    ## rasp::c::d\n\nMeans.\n\n<!-- no trigger: a bug -->\n";
        let es = parse(text);
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].code, "rasp::a::b");
        assert_eq!(
            es[0].files,
            vec![
                ("prog.rasp".to_string(), "x = 1;\n".to_string()),
                ("other.rasp".to_string(), "y;\n".to_string())
            ]
        );
        assert_eq!(es[0].commands, vec!["rasp check prog.rasp", "echo hi"]);
        assert!(es[0].text.starts_with("## rasp::a::b\n"));
        assert!(es[0].text.ends_with("Fix it.\n"));
        assert_eq!(summary(&es[0]), "one.");
        assert_eq!(es[1].no_trigger.as_deref(), Some("a bug"));
        assert!(!es[1].text.contains("no trigger"));
        // A `## ` line inside a fence is not a heading.
        let es = parse("## rasp::x\n```console\n## not\n```\n");
        assert_eq!(es.len(), 1);
    }
}
