//! Line editing at the terminal (rustyline): history in the user's state
//! directory, multi-line entries with a `.. ` continuation prompt, Ctrl-C
//! to cancel an entry or interrupt an evaluation, Ctrl-D to exit, and tab
//! completion of names, keywords, builtins and `:` commands (Tab completes
//! the common prefix, a second Tab lists every candidate).
//!
//! Multi-line entries stay one buffer (so history recalls a whole `def`):
//! Enter on an incomplete entry inserts a newline and the continuation
//! marker `.. `, which is removed again before the entry runs. The [`Validator`] makes the same decision for Enter
//! pressed elsewhere than at the end of the entry. The first character
//! typed on a continuation line brings its indentation (four spaces per open
//! block; a closing `}` one level less).

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::PathBuf;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{
    Cmd, CompletionType, ConditionalEventHandler, Config, Context, Editor, Event, EventContext,
    EventHandler, Helper, KeyCode, KeyEvent, Modifiers, RepeatCount,
};

use super::{COMMANDS, Control, Repl};
use crate::syntax;

/// The prompt and the continuation marker.
pub const PROMPT: &str = ">> ";
pub const CONTINUATION: &str = ".. ";

/// Remove the continuation markers the editor inserted.
pub fn strip_continuations(entry: &str) -> String {
    entry
        .split('\n')
        .map(|l| l.strip_prefix(CONTINUATION).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Open `{` blocks at the end of an entry (for the continuation indent).
fn open_blocks(entry: &str) -> usize {
    let mut depth: i64 = 0;
    let mut in_str = false;
    let mut comment = false;
    for c in entry.chars() {
        match c {
            '\n' => {
                comment = false;
                in_str = false;
            }
            _ if comment => {}
            '"' => in_str = !in_str,
            '#' if !in_str => comment = true,
            '{' if !in_str => depth += 1,
            '}' if !in_str => depth -= 1,
            _ => {}
        }
    }
    depth.max(0) as usize
}

fn incomplete(buffer: &str) -> bool {
    let text = strip_continuations(buffer);
    !text.trim_start().starts_with(':') && syntax::is_incomplete(&text)
}

/// Enter at the end of an incomplete entry: new line plus the marker.
struct ContinueOnEnter;

impl ConditionalEventHandler for ContinueOnEnter {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        let line = ctx.line();
        if ctx.pos() == line.len() && incomplete(line) {
            Some(Cmd::Insert(1, format!("\n{CONTINUATION}")))
        } else {
            None
        }
    }
}

/// Indentation of one open block (the house style of `rasp fmt`).
const INDENT: &str = "    ";

/// The first character typed on a continuation line brings the line's
/// indentation with it: one level per open block, one less for a `}`.
/// (Indenting when the line opens would leave a `}` to take indentation
/// back, and rustyline cannot delete and insert in one command with the
/// cursor after the insertion.)
struct IndentOnType;

impl ConditionalEventHandler for IndentOnType {
    fn handle(&self, evt: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        let KeyEvent(KeyCode::Char(c), Modifiers::NONE | Modifiers::SHIFT) = evt.get(0)? else {
            return None;
        };
        let line = ctx.line();
        let current = &line[line.rfind('\n')? + 1..];
        if ctx.pos() != line.len() || current != CONTINUATION || c.is_whitespace() || c.is_control()
        {
            return None;
        }
        let depth = open_blocks(&strip_continuations(line)).saturating_sub(usize::from(*c == '}'));
        (depth > 0).then(|| Cmd::Insert(1, format!("{}{c}", INDENT.repeat(depth))))
    }
}

/// Completion, validation and prompt colour.
pub struct RaspHelper {
    pub names: Vec<String>,
    pub color: bool,
}

impl Completer for RaspHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let mut out: Vec<String> = if word.starts_with(':') {
            COMMANDS
                .iter()
                .filter_map(|(c, _)| c.split_whitespace().next())
                .filter(|c| c.starts_with(word))
                .map(str::to_string)
                .collect()
        } else {
            self.names
                .iter()
                .map(String::as_str)
                .chain(
                    crate::syntax::words::WORDS
                        .iter()
                        .filter(|w| w.kind != crate::syntax::words::Kind::Special)
                        .map(|w| w.text),
                )
                .filter(|c| c.starts_with(word))
                .map(str::to_string)
                .collect()
        };
        out.sort();
        out.dedup();
        Ok((
            start,
            out.into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for RaspHelper {
    type Hint = String;
}

impl Highlighter for RaspHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if self.color {
            Cow::Owned(format!("\x1b[1;36m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }
}

impl Validator for RaspHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for RaspHelper {}

/// Where the history lives: `$RASP_HISTORY`, else the XDG state directory
/// (`$XDG_STATE_HOME/rasp/history`, `~/.local/state/rasp/history`).
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RASP_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("rasp").join("history"))
}

/// The interactive loop. Returns the exit status.
pub fn interactive(mut repl: Repl, files: &[PathBuf]) -> i32 {
    let color = repl.color;
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .build();
    let mut rl: Editor<RaspHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            errln!("rasp: cannot start the line editor ({e}); reading plain lines");
            let stderr = io::stderr();
            return super::run_piped(
                &mut repl,
                io::stdin().lock(),
                &mut crate::fsio::stdio::Stdout,
                &mut stderr.lock(),
            );
        }
    };
    // Enter (CR) and Ctrl-J (LF, what some terminals and pipes send).
    for key in [
        KeyEvent(KeyCode::Enter, Modifiers::NONE),
        KeyEvent::ctrl('J'),
    ] {
        rl.bind_sequence(key, EventHandler::Conditional(Box::new(ContinueOnEnter)));
    }
    rl.bind_sequence(
        Event::Any,
        EventHandler::Conditional(Box::new(IndentOnType)),
    );
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    // Ctrl-C while an entry runs sets the flag; the front end and the
    // interpreter stop at their next check.
    crate::fsio::cleanup::set_interrupt_flag(repl.interrupt_flag());

    let mut stdout = crate::fsio::stdio::Stdout;
    let stderr = io::stderr();
    out!("{}", repl.banner());
    repl.load_files(files, &mut stdout, &mut stderr.lock());
    loop {
        rl.set_helper(Some(RaspHelper {
            names: repl.visible_names(),
            color,
        }));
        match rl.readline(PROMPT) {
            Ok(entry) => {
                if entry.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(entry.as_str());
                let text = strip_continuations(&entry);
                let control = repl.entry(&text, &mut stdout, &mut stderr.lock());
                if control == Control::Exit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C on a partial entry: drop it, keep the session.
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                errln!("rasp: line editor error: {e}");
                break;
            }
        }
    }
    let _ = stdout.flush();
    if let Some(h) = &history {
        save_history(&mut rl, h);
    }
    0
}

/// Save the history as every file is written (`fsio::atomic::write_with`:
/// a temporary name in its folder, synced, renamed over the old one; a
/// history file that is a symbolic link keeps the link and has its target
/// replaced). Best effort: a history that cannot be saved is not an error.
fn save_history(rl: &mut Editor<RaspHelper, DefaultHistory>, h: &std::path::Path) {
    use crate::diag::codes;
    if let Some(dir) = h.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(real) = crate::fsio::atomic::in_place_or_new(h, codes::OUTPUT_WRITE) else {
        return;
    };
    let _ = crate::fsio::atomic::write_with(&real, codes::OUTPUT_WRITE, |tmp| {
        rl.save_history(tmp).map_err(std::io::Error::other)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_markers_round_trip() {
        let typed = "def f(a) {\n..   x = a;\n..   return x;\n.. }";
        assert_eq!(
            strip_continuations(typed),
            "def f(a) {\n  x = a;\n  return x;\n}"
        );
        assert!(incomplete("def f(a) {\n..   x = a;"));
        assert!(!incomplete(typed));
        assert_eq!(open_blocks("def f(a) { for x in l {"), 2);
        assert_eq!(open_blocks("x = \"{\"; # {"), 0);
    }
}
