//! Regressions: the shrunk programs of tests/compile/regress/, and samples
//! of the generator.

use std::fmt::Write as _;
use std::path::Path;

use rasp::compile::parse_vocab;
use rasp::front::Session;

use super::check::{Class, check_scope};
use super::env_or;
use super::generator::{Gen, LONG, Rng};

// ---------------------------------------------------------------------------
// Regressions: tests/compile/regress/*.rasp
// ---------------------------------------------------------------------------

/// The header line of a regression program:
/// `# compile: sop=out vocab=abcd max_len=5 [expect=verify] [max_width=W]
/// [max_params=P]`.
/// With `expect=verify` a refusal fails too (the program is one the
/// compiler should handle, e.g. a refusal over a gap that is only float
/// rounding); with `max_width` so does a model wider than W residual dims
/// (a construction that keeps widths down), with `max_params` one of more
/// than P parameters.
pub(crate) struct Header {
    pub(crate) sop: String,
    pub(crate) vocab: String,
    pub(crate) max_len: usize,
    pub(crate) causal: bool,
    must_verify: bool,
    max_width: Option<usize>,
    max_params: Option<usize>,
}

pub(crate) fn parse_header(text: &str) -> Option<Header> {
    let line = text.lines().next()?.strip_prefix("# compile:")?;
    let mut sop = None;
    let mut vocab = None;
    let mut max_len = None;
    let mut must_verify = false;
    let mut causal = false;
    let mut max_width = None;
    let mut max_params = None;
    for w in line.split_whitespace() {
        if w == "causal" {
            causal = true;
            continue;
        }
        let (k, v) = w.split_once('=')?;
        match (k, v) {
            ("sop", _) => sop = Some(v.to_string()),
            ("vocab", _) => vocab = Some(v.to_string()),
            ("max_len", _) => max_len = v.parse().ok(),
            ("expect", "verify") => must_verify = true,
            ("expect", "refuse-or-verify") => must_verify = false,
            ("max_width", _) => max_width = Some(v.parse().ok()?),
            ("max_params", _) => max_params = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some(Header {
        sop: sop?,
        vocab: vocab?,
        max_len: max_len?,
        causal,
        must_verify,
        max_width,
        max_params,
    })
}

/// The programs of tests/compile/regress/, sorted.
pub(crate) fn regression_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compile/regress");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/compile/regress exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rasp"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression programs");
    files
}

/// Every program in tests/compile/regress/ is refused with a diagnostic
/// (unless its header says `expect=verify`) or verifies exactly on every
/// input up to its max length.
#[test]
fn genprog_regressions() {
    let files = regression_files();
    let mut failures = String::new();
    for path in &files {
        let name = path.file_name().expect("name").to_string_lossy();
        let text = std::fs::read_to_string(path).expect("reads");
        let h = parse_header(&text).unwrap_or_else(|| {
            panic!("{name}: the first line is not `# compile: sop=.. vocab=.. max_len=.. [expect=verify] [max_width=..] [max_params=..]`")
        });
        let vocab =
            parse_vocab(&h.vocab).unwrap_or_else(|d| panic!("{name}: {}", d.render_plain()));
        let mut session = Session::new();
        let (scope, result) = session.run_path(path).expect("reads");
        assert!(!result.has_errors(), "{name}: {:?}", result.diags);
        let o = check_scope(&session, &scope, &h.sop, vocab, h.max_len, h.causal)
            .unwrap_or_else(|| panic!("{name}: {} is not an s-op", h.sop));
        println!("{name}: {} ({} inputs compared)", o.class.name(), o.checked);
        match &o.class {
            Class::NoInputs => {
                let _ = writeln!(failures, "--- {name}: no input evaluates");
            }
            Class::Refused(code, msg) if h.must_verify => {
                let _ = writeln!(
                    failures,
                    "--- {name}: refused ({code}) but expect=verify\n{msg}"
                );
            }
            c if c.is_failure() => {
                let _ = writeln!(failures, "--- {name}: {}\n{}", c.name(), c.detail());
            }
            _ => {}
        }
        if let (Some(most), Some(w)) = (h.max_width, o.width)
            && w > most
        {
            let _ = writeln!(
                failures,
                "--- {name}: residual width {w}, over its max_width={most}"
            );
        }
        if let (Some(most), Some(p)) = (h.max_params, o.params)
            && p > most
        {
            let _ = writeln!(
                failures,
                "--- {name}: {p} parameters, over its max_params={most}"
            );
        }
    }
    assert!(failures.is_empty(), "regressions:\n{failures}");
}

/// Print generated programs (`RASP_GENPROG_COUNT`, default 10) with what
/// the front end says of them.
#[test]
#[ignore = "prints samples of the generator"]
fn genprog_sample() {
    let mut rng = Rng::new(env_or("RASP_GENPROG_SEED", 1));
    for _ in 0..env_or("RASP_GENPROG_COUNT", 10) {
        let p = Gen::program(&mut rng, LONG);
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source("<genprog>", &p.src, &scope, None);
        println!("{}\n{}", p.header(), p.src);
        for d in &result.diags {
            println!("  !! {}", d.render_plain().replace('\n', "\n  "));
        }
    }
}
