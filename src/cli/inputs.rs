//! Where inputs come from: the command line, `--inputs FILE`, standard
//! input (`-`) or `@FILE`, one JSON value per line in a file.

use std::io::Read;
use std::path::Path;

use super::args::InputArgs;
use crate::diag::{Diag, codes};
use crate::front::parse_input;
use crate::ir::Value;

/// One input: its JSON and its tokens.
pub type Input = (serde_json::Value, Vec<Value>);

impl InputArgs {
    /// Whether no input was given at all.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.inputs_file.is_none()
    }

    /// Every input, in order: the command line's (a `-` or `@FILE` among
    /// them expands to its lines), then `--inputs FILE`'s. A bad one is a
    /// diagnostic naming the file and line it came from.
    pub fn read(&self) -> Result<Vec<Input>, Diag> {
        let mut out = Vec::new();
        for text in &self.inputs {
            if text == "-" {
                lines(&read_stdin()?, "<stdin>", &mut out)?;
            } else if let Some(path) = text.strip_prefix('@').filter(|p| !p.is_empty()) {
                lines(&read_file(Path::new(path))?, path, &mut out)?;
            } else {
                out.push(parse_input(text)?);
            }
        }
        if let Some(path) = &self.inputs_file {
            if path.as_os_str() == "-" {
                lines(&read_stdin()?, "<stdin>", &mut out)?;
            } else {
                let name = path.display().to_string();
                lines(&read_file(path)?, &name, &mut out)?;
            }
        }
        Ok(out)
    }
}

fn read_stdin() -> Result<String, Diag> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Diag::error(codes::CLI_INPUT, format!("cannot read standard input: {e}")))?;
    Ok(s)
}

fn read_file(path: &Path) -> Result<String, Diag> {
    crate::fsio::read::read_text(path).map_err(|e| {
        if let Some(d) = crate::fsio::read::too_long(&e, path) {
            return d;
        }
        Diag::error(
            codes::CLI_INPUT,
            format!("cannot read inputs from {}: {e}", path.display()),
        )
        .help("give a file of inputs, one JSON value per line (\"hello\" or [1, 2, 3])")
    })
}

/// Each non-blank line of `text` is one JSON input.
fn lines(text: &str, name: &str, out: &mut Vec<Input>) -> Result<(), Diag> {
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let json = serde_json::from_str::<serde_json::Value>(line).map_err(|e| {
            Diag::error(
                codes::CLI_INPUT,
                format!("{name}:{}: not a JSON value: {e}", k + 1),
            )
            .help("one JSON value per line: \"hello\" or [1, 2, 3]")
        })?;
        crate::front::check_json_ints(line).map_err(|d| d.prefix(&format!("{name}:{}", k + 1)))?;
        let tokens = crate::front::input_from_json(&json).map_err(|m| {
            Diag::error(codes::CLI_INPUT, format!("{name}:{}: {m}", k + 1))
                .help("one JSON value per line: \"hello\" or [1, 2, 3]")
        })?;
        out.push((json, tokens));
    }
    Ok(())
}
