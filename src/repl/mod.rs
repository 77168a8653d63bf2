//! The REPL: the original's interactive session (statements, echoes on the
//! running example, `set example`, `show example`, `examples on|off`,
//! `full seq display`, `load`, `draw`) plus `:` commands, line editing and
//! completion (`line.rs`).
//!
//! The session logic writes to any `Write` pair, so the same code serves the
//! terminal, piped stdin (a transcript without prompts) and the tests.
//! Here: the session and its entries, piped transcripts, `rasp repl`;
//! `echo.rs`: what an entry prints; `commands.rs`: the `:` commands.

mod commands;
pub mod draw;
mod echo;
pub mod line;

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::{Diag, codes};
use crate::front::{Echo, ScopeRef, Session, value};
use crate::interp::display;

// `help_text` is reached from outside only through the `internals` build.
#[allow(unused_imports)]
pub use commands::{COMMANDS, help_text};

/// What the caller should do after an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Exit,
}

/// One REPL session.
pub struct Repl {
    pub session: Session,
    pub scope: ScopeRef,
    color: bool,
    interrupt: Arc<AtomicBool>,
    entries: usize,
    /// How many errors were reported (the exit status of piped sessions).
    pub errors: usize,
    /// Where `:verify` runs models (`:backend`).
    backend: crate::gpu::backend::Backend,
    /// Where `draw` writes its files (`:set draw_dir`).
    draw_dir: PathBuf,
}

/// Where `draw` writes by default, as in the original.
pub const DEFAULT_DRAW_DIR: &str = "comp_flows";

impl Repl {
    pub fn new(color: bool) -> Repl {
        let session = Session::new();
        let scope = session.new_repl_scope();
        let interrupt = session.interrupt.clone();
        Repl {
            session,
            scope,
            color,
            interrupt,
            entries: 0,
            errors: 0,
            backend: crate::gpu::backend::Backend::Cpu,
            draw_dir: PathBuf::from(DEFAULT_DRAW_DIR),
        }
    }

    /// The flag that interrupts the running entry (set it from Ctrl-C).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    pub fn banner(&self) -> String {
        format!(
            "rasp {} (RASP 0.1). :help for help, Ctrl-D to exit.\nrunning example is: {}\n",
            env!("CARGO_PKG_VERSION"),
            display::input_repr(&self.session.settings.sop_example)
        )
    }

    /// Load files given on the command line, as `load` would.
    pub fn load_files(&mut self, files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) {
        for f in files {
            let text = format!("load {};", json_string(&f.display().to_string()));
            self.entry(&text, out, err);
        }
    }

    /// Names visible at the prompt, for completion.
    pub fn visible_names(&self) -> Vec<String> {
        value::visible_names(&self.scope)
    }

    /// Run one complete entry: statements, or a `:` command.
    pub fn entry(&mut self, text: &str, out: &mut dyn Write, err: &mut dyn Write) -> Control {
        self.interrupt.store(false, Ordering::Relaxed);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Control::Continue;
        }
        if let Some(cmd) = trimmed.strip_prefix(':') {
            return self.command(cmd, out, err);
        }
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        // `load` at the prompt resolves against the working directory.
        let result = self.session.run_source(&name, text, &self.scope, None);
        let mut control = Control::Continue;
        for echo in echo::dedup_loop_echoes(&result.echoes) {
            match echo {
                Echo::Reported(i) => {
                    if let Some(d) = result.diags.get(*i) {
                        self.diag(d, out, err);
                    }
                }
                Echo::Exit => control = Control::Exit,
                e => self.echo(e, out, err),
            }
        }
        let _ = out.flush();
        control
    }

    fn diag(&mut self, d: &Diag, out: &mut dyn Write, err: &mut dyn Write) {
        if d.is_error() {
            self.errors += 1;
        }
        let _ = out.flush();
        let _ = err.write_all(self.render(d).as_bytes());
        let _ = err.flush();
    }

    fn render(&self, d: &Diag) -> String {
        d.render(self.color)
    }
}

fn json_string(s: &str) -> String {
    // RASP strings have no escapes: refuse quotes rather than mangle them.
    format!("\"{}\"", s.replace('"', ""))
}

/// Run a REPL over piped input: statements are read and echoed like at the
/// prompt, without prompts. Returns the exit status (1 if any error).
pub fn run_piped(
    repl: &mut Repl,
    input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut buffer = String::new();
    for line in input.lines() {
        let Ok(line) = line else {
            let d = Diag::error(
                codes::PARSE_ENCODING,
                "standard input is not valid UTF-8 text",
            );
            repl.diag(&d, out, err);
            break;
        };
        if buffer.trim().is_empty() && line.trim_start().starts_with(':') {
            if repl.entry(&line, out, err) == Control::Exit {
                return i32::from(repl.errors > 0);
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if crate::syntax::is_incomplete(&buffer) {
            continue;
        }
        let text = std::mem::take(&mut buffer);
        if repl.entry(&text, out, err) == Control::Exit {
            return i32::from(repl.errors > 0);
        }
    }
    if !buffer.trim().is_empty() {
        repl.entry(&buffer, out, err);
    }
    i32::from(repl.errors > 0)
}

/// `rasp repl`: interactive on a terminal, a transcript otherwise.
pub fn main(files: &[PathBuf], color: crate::diag::Color) -> i32 {
    use std::io::IsTerminal;
    let interactive = io::stdin().is_terminal() && io::stdout().is_terminal();
    let mut repl = Repl::new(color.enabled(interactive && io::stderr().is_terminal()));
    if interactive {
        line::interactive(repl, files)
    } else {
        let stderr = io::stderr();
        let mut out = crate::fsio::stdio::Stdout;
        let mut err = stderr.lock();
        repl.load_files(files, &mut out, &mut err);
        run_piped(&mut repl, io::stdin().lock(), &mut out, &mut err)
    }
}
