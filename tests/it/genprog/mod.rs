//! Generated programs: random well-typed RASP programs, each compiled and
//! either refused with a diagnostic or verified exactly against the
//! interpreter on every input. A compiler may refuse; it must never write a
//! wrong model, report an internal error or panic.
//!
//! * `genprog_short`: 400 programs (vocab 2-3, max length 3-5; debug
//!   profile), each killed after 5 s.
//! * `genprog_long` (ignored): `RASP_GENPROG_COUNT` programs (default
//!   10,000; vocab 2-4, max length 4-6) from `RASP_GENPROG_SEED` (default
//!   1), each killed after `RASP_GENPROG_TIMEOUT` seconds (default 60),
//!   with figures and the source of up to `RASP_GENPROG_SHOW` failures
//!   (default 40); `scripts/genprog` runs it on the release build.
//! * `genprog_regressions`: every file in `tests/compile/regress/` (shrunk
//!   programs the generator found), compiled from its header line
//!   `# compile: sop=NAME vocab=VOCAB max_len=N [expect=verify]`.
//! * `genprog_sample` (ignored): prints generated programs.
//! * `genprog_child` (ignored): the child process that checks one program
//!   (each program runs in its own process, so a runaway compile can be
//!   killed and a crash is caught).
//!
//! Classes: `verified` (no mismatch, something compared), `refused` (a
//! diagnostic that is not an internal error), `no_inputs` (the program
//! fails on every input), `timeout`; failures: `wrong` (mismatches),
//! `internal` (`rasp::compile::internal` or "internal compiler error"),
//! `panic` (also a child that dies), `verify_error`, `estimate` (the size
//! estimate below the built model's dense parameter count, or above twice
//! it; a program refused for its size is compiled again with the count
//! the refusal states as its limit, up to twice the default, and must then
//! compile with its estimate bounding the model). Programs the front end
//! rejects are regenerated (`program_error`).

mod check;
mod gen_ops;
mod generator;
mod regress;
mod stats;

pub(crate) use regress::{parse_header, regression_files};

use std::time::{Duration, Instant};

use rasp::front::Session;

use generator::{Gen, Rng, SHORT, Shape};
use stats::batch;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn genprog_generates_mostly_valid_programs() {
    let mut rng = Rng::new(7);
    let mut ok = 0;
    for _ in 0..300 {
        let p = Gen::program(&mut rng, SHORT);
        let mut session = Session::new();
        let scope = session.new_scope();
        let result = session.run_source("<genprog>", &p.src, &scope, None);
        if !result.has_errors() {
            ok += 1;
        }
    }
    assert!(ok >= 270, "only {ok} of 300 generated programs are valid");
}

#[test]
fn genprog_short() {
    let stats = batch(
        env_or("RASP_GENPROG_SEED", 1),
        400,
        SHORT,
        Duration::from_secs(5),
        false,
    );
    println!("{}", stats.render(0));
    assert!(
        stats.failures.is_empty(),
        "generated programs that fail:\n{}",
        stats.render(20)
    );
}

#[test]
#[ignore = "long: run with scripts/genprog (release build)"]
fn genprog_long() {
    let count = env_or("RASP_GENPROG_COUNT", 10_000);
    let seed = env_or("RASP_GENPROG_SEED", 1);
    let start = Instant::now();
    let limit = Duration::from_secs(env_or("RASP_GENPROG_TIMEOUT", 60));
    let shape = Shape::from_env();
    let stats = batch(seed, count, shape, limit, true);
    println!(
        "genprog: seed {seed}, max lengths {}-{}{}, {:.0} s wall\n{}",
        shape.max_len.0,
        shape.max_len.1,
        if shape.causal { ", causal" } else { "" },
        start.elapsed().as_secs_f64(),
        stats.render(env_or("RASP_GENPROG_SHOW", 40))
    );
    assert!(
        stats.failures.is_empty(),
        "{} failures",
        stats.failures.len()
    );
}
