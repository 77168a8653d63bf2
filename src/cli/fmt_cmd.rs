//! `rasp fmt [--check] [FILE...]`: programs rewritten in the house style
//! (`crate::fmt`), or standard input to standard output.

use std::io::Read;
use std::path::PathBuf;

use crate::diag::{Diag, Reporter, SourceMap, codes};

/// `rasp fmt`'s arguments.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// The program files (folders: every `.rasp` file under them); none:
    /// standard input to standard output.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Change nothing: print the diff of each file that is not formatted
    /// and fail if there is one.
    #[arg(long)]
    pub check: bool,
}

pub(super) fn fmt_cmd(reporter: &Reporter, a: &FmtArgs) -> i32 {
    if a.paths.is_empty() {
        return stdin(reporter, a.check);
    }
    crate::fsio::stdio::keep_working();
    let files = match crate::snapshot::collect_as(&a.paths, codes::LOAD_IO) {
        Ok(f) => f,
        Err(d) => {
            reporter.report(&d);
            return 2;
        }
    };
    let mut status = 0;
    let mut changed = 0;
    for file in &files {
        let text = match crate::front::read_source(file) {
            Ok(t) => t,
            Err(d) => {
                reporter.report(&d);
                status = 1;
                continue;
            }
        };
        let name = file.display().to_string();
        let out = match format(reporter, &name, &text) {
            Some(out) => out,
            None => {
                status = 1;
                continue;
            }
        };
        if out == text {
            continue;
        }
        changed += 1;
        if a.check {
            out!(
                "{}",
                crate::snapshot::diff::unified(&text, &out, &name, &name, reporter.colored())
            );
            status = status.max(1);
        } else if let Err(d) =
            crate::fsio::atomic::rewrite_in_place(file, out.as_bytes(), codes::OUTPUT_WRITE)
        {
            reporter.report(&d);
            status = 1;
        }
    }
    if a.check && changed > 0 {
        errln!(
            "{changed} of {} file(s) not formatted: `rasp fmt` formats them",
            files.len()
        );
    }
    status
}

/// Format one text, reporting why not.
fn format(reporter: &Reporter, name: &str, text: &str) -> Option<String> {
    let sources = SourceMap::new();
    let id = sources.add(name, text);
    match crate::fmt::format(text, id) {
        Ok(out) => Some(out),
        Err(ds) => {
            for d in ds {
                reporter.report(&d.with_sources(&sources));
            }
            None
        }
    }
}

fn stdin(reporter: &Reporter, check: bool) -> i32 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        reporter.report(&Diag::error(
            codes::CLI_INPUT,
            format!("cannot read standard input: {e}"),
        ));
        return 2;
    }
    let Some(out) = format(reporter, "<stdin>", &text) else {
        return 1;
    };
    if check {
        if out == text {
            return 0;
        }
        out!(
            "{}",
            crate::snapshot::diff::unified(&text, &out, "<stdin>", "<stdin>", reporter.colored())
        );
        return 1;
    }
    out!("{out}");
    0
}
