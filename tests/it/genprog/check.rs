//! Compiling a generated program, verifying it and classifying the outcome
//! (in this process or in a child process).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;
use std::time::{Duration, Instant};

use rasp::compile::verify::{Mode, verify};
use rasp::compile::{Options, Source, compile, parse_vocab};
use rasp::front::{MVal, ScopeRef, Session, value::lookup};
use rasp::ir::Value;

use super::generator::Prog;

// ---------------------------------------------------------------------------
// Compiling and classifying
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Class {
    Verified,
    /// Refused with a diagnostic (its code, and its message).
    Refused(String, String),
    /// The interpreter fails on every input: nothing to compare.
    NoInputs,
    /// Compile + verify ran past the time limit (killed; not a failure).
    Timeout,
    /// Failures:
    Wrong(String),
    Internal(String),
    Panic(String),
    VerifyError(String),
    Estimate(String),
}

impl Class {
    pub(super) fn is_failure(&self) -> bool {
        matches!(
            self,
            Class::Wrong(_)
                | Class::Internal(_)
                | Class::Panic(_)
                | Class::VerifyError(_)
                | Class::Estimate(_)
        )
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Class::Verified => "verified",
            Class::Refused(..) => "refused",
            Class::NoInputs => "no_inputs",
            Class::Timeout => "timeout",
            Class::Wrong(_) => "wrong",
            Class::Internal(_) => "internal",
            Class::Panic(_) => "panic",
            Class::VerifyError(_) => "verify_error",
            Class::Estimate(_) => "estimate",
        }
    }

    pub(super) fn detail(&self) -> &str {
        match self {
            Class::Wrong(s)
            | Class::Internal(s)
            | Class::Panic(s)
            | Class::VerifyError(s)
            | Class::Estimate(s) => s,
            _ => "",
        }
    }
}

pub(super) struct Outcome {
    pub(super) class: Class,
    /// Compile and verify wall times.
    pub(super) compile_secs: f64,
    pub(super) verify_secs: f64,
    /// Inputs compared, and inputs the program itself fails on.
    pub(super) checked: usize,
    pub(super) skipped: usize,
    /// The size estimate over the built model's dense parameter count,
    /// when a model was built.
    pub(super) ratio: Option<f64>,
    /// The residual width of the model built (none when refused).
    pub(super) width: Option<usize>,
    /// Its dense parameter count.
    pub(super) params: Option<usize>,
}

fn is_internal(d: &rasp::diag::Diag) -> bool {
    d.code == "rasp::compile::internal" || d.message.contains("internal compiler error")
}

/// The parameter count a size refusal states ("would have at most N
/// parameters").
fn stated_params(msg: &str) -> Option<u64> {
    msg.split_once("at most ")?
        .1
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Whether the estimate bounds the built model: `built <= estimate <=
/// 2 * built`, or with `upper_only` just the first; the ratio, or what is
/// wrong.
fn estimate_bound(c: &rasp::compile::Compiled, upper_only: bool) -> Result<f64, String> {
    let est = c.estimate.as_ref().map_or(0, |e| e.params);
    let built = rasp::compile::explain::parameter_count(&c.model).0 as u64;
    let ratio = est as f64 / built.max(1) as f64;
    if built <= est && (upper_only || est <= 2 * built) {
        Ok(ratio)
    } else {
        Err(format!(
            "the size estimate is {est} parameters, the built model has {built}"
        ))
    }
}

/// Compile the s-op `sop` of the program run in `scope` and verify it on
/// every input; check the size estimate against the model. `None`: the
/// front end rejects the program.
pub(super) fn check_scope(
    session: &Session,
    scope: &ScopeRef,
    sop: &str,
    vocab: Vec<Value>,
    max_len: usize,
    causal: bool,
) -> Option<Outcome> {
    let Some(MVal::Sop(node)) = lookup(scope, sop) else {
        return None;
    };
    let mut opts = Options::new(vocab, max_len);
    opts.causal = causal;
    // Every input where there are few; else the default check (what
    // `rasp compile` runs) and then another 1,500 inputs of its own seed.
    let exhaustive = rasp::compile::verify::count_inputs(opts.vocab.len(), max_len) <= 20_000;
    let start = Instant::now();
    let mut compile_secs = None;
    let mut inputs = (0, 0);
    let mut ratio = None;
    let mut width = None;
    let mut params = None;
    let run = catch_unwind(AssertUnwindSafe(|| {
        let compiled = compile(
            &session.graph,
            &session.sources,
            node,
            &opts,
            &Source::default(),
        );
        compile_secs = Some(start.elapsed().as_secs_f64());
        let compiled = match compiled {
            Ok(c) => c,
            Err(d) if is_internal(&d) => return Class::Internal(d.render_plain()),
            Err(d) if d.code == rasp::diag::codes::COMPILE_SIZE => {
                // Refused for its size: compiled again with the count the
                // refusal states as the limit (refused by the estimate, the
                // estimate; refused after building, the real count), the
                // estimate must let it through and bound the model. Models
                // over twice the default limit are not built here.
                let stated = stated_params(&d.message);
                if let Some(limit) = stated.filter(|p| *p <= 2 * rasp::compile::DEFAULT_MAX_PARAMS)
                {
                    let mut raised = opts.clone();
                    raised.max_params = limit;
                    let again = compile(
                        &session.graph,
                        &session.sources,
                        node,
                        &raised,
                        &Source::default(),
                    );
                    match again {
                        Ok(c) => match estimate_bound(&c, true) {
                            Ok(r) => ratio = Some(r),
                            Err(e) => return Class::Estimate(e),
                        },
                        Err(d2) if d2.code == rasp::diag::codes::COMPILE_SIZE => {
                            return Class::Estimate(format!(
                                "refused at {limit} parameters, then at a limit of {limit}: {}",
                                d2.message
                            ));
                        }
                        Err(_) => {}
                    }
                }
                return Class::Refused(d.code.to_string(), d.message.clone());
            }
            Err(d) => return Class::Refused(d.code.to_string(), d.message.clone()),
        };
        width = Some(compiled.model.config.d_model);
        params = Some(rasp::compile::explain::parameter_count(&compiled.model).0);
        match estimate_bound(&compiled, false) {
            Ok(r) => ratio = Some(r),
            Err(e) => return Class::Estimate(e),
        }
        let modes: &[Mode] = if exhaustive {
            &[Mode::Exhaustive]
        } else {
            &[
                Mode::Cover {
                    samples: rasp::compile::DEFAULT_CHECK_SAMPLES,
                    seed: 0,
                },
                Mode::Cover {
                    samples: 1_500,
                    seed: 0x5eed,
                },
            ]
        };
        let mut last = None;
        for mode in modes {
            let report = verify(&session.graph, &session.sources, &compiled, node, *mode);
            if let Ok(r) = &report {
                inputs = (inputs.0 + r.checked, inputs.1 + r.program_errors);
            }
            let go_on = matches!(&report, Ok(r) if r.mismatches == 0);
            last = Some(report);
            if !go_on {
                break;
            }
        }
        let report = last.expect("one check at least");
        match report {
            Err(d) => Class::VerifyError(d.render_plain()),
            Ok(r) if r.mismatches > 0 => Class::Wrong(r.render(max_len)),
            Ok(r) if r.checked == 0 => Class::NoInputs,
            Ok(_) => Class::Verified,
        }
    }));
    let class = run.unwrap_or_else(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        Class::Panic(msg)
    });
    let total = start.elapsed().as_secs_f64();
    let compile_secs = compile_secs.unwrap_or(total);
    Some(Outcome {
        class,
        compile_secs,
        verify_secs: total - compile_secs,
        checked: inputs.0,
        skipped: inputs.1,
        ratio,
        width,
        params,
    })
}

fn check_prog(p: &Prog) -> Option<Outcome> {
    let mut session = Session::new();
    let scope = session.new_scope();
    let result = session.run_source("<genprog>", &p.src, &scope, None);
    if result.has_errors() {
        return None;
    }
    check_scope(
        &session,
        &scope,
        "out",
        p.vocab.clone(),
        p.max_len,
        p.causal,
    )
}

/// A precision refusal over a gap below 1e-9: "... values 2.776e-17 apart
/// (out of 1) ...".
pub(super) fn tiny_gap(msg: &str) -> bool {
    msg.split(" apart")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|g| g.parse::<f64>().ok())
        .is_some_and(|g| g < 1e-9)
}

impl Class {
    /// The class as JSON (from a child process to its parent).
    fn to_json(&self) -> serde_json::Value {
        let (code, detail) = match self {
            Class::Refused(code, msg) => (code.as_str(), msg.as_str()),
            c => ("", c.detail()),
        };
        serde_json::json!({"class": self.name(), "code": code, "detail": detail})
    }

    fn from_json(v: &serde_json::Value) -> Option<Class> {
        let detail = v["detail"].as_str()?.to_string();
        Some(match v["class"].as_str()? {
            "verified" => Class::Verified,
            "refused" => Class::Refused(v["code"].as_str()?.to_string(), detail),
            "no_inputs" => Class::NoInputs,
            "timeout" => Class::Timeout,
            "wrong" => Class::Wrong(detail),
            "internal" => Class::Internal(detail),
            "panic" => Class::Panic(detail),
            "verify_error" => Class::VerifyError(detail),
            "estimate" => Class::Estimate(detail),
            _ => return None,
        })
    }
}

const CHILD_ENV: &str = "RASP_GENPROG_CHILD";
const CHILD_BEGIN: &str = "<<<genprog-result";
const CHILD_END: &str = "genprog-result>>>";

/// The child side of `check_prog_isolated`: one program from the
/// environment, its outcome as one JSON line between markers on stdout.
#[test]
#[ignore = "run by the genprog tests in a child process"]
fn genprog_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("child spec is JSON");
    let vocab_text = spec["vocab"].as_str().expect("vocab").to_string();
    let p = Prog {
        src: spec["src"].as_str().expect("src").to_string(),
        vocab: parse_vocab(&vocab_text).expect("vocab parses"),
        vocab_text,
        max_len: spec["max_len"].as_u64().expect("max_len") as usize,
        causal: spec["causal"].as_bool().expect("causal"),
    };
    let out = match check_prog(&p) {
        None => serde_json::json!({"program_error": true}),
        Some(o) => serde_json::json!({
            "outcome": o.class.to_json(),
            "compile_secs": o.compile_secs,
            "verify_secs": o.verify_secs,
            "checked": o.checked,
            "skipped": o.skipped,
            "ratio": o.ratio,
            "width": o.width,
            "params": o.params,
        }),
    };
    println!("{CHILD_BEGIN}\n{out}\n{CHILD_END}");
}

/// `check_prog` in a child process (this test binary running
/// `genprog_child`), killed after `limit`: a runaway compile costs no more
/// than the limit, and a crash (stack overflow, abort) is a `panic`.
pub(super) fn check_prog_isolated(p: &Prog, limit: Duration) -> Option<Outcome> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let spec = serde_json::json!({
        "src": p.src,
        "vocab": p.vocab_text,
        "max_len": p.max_len,
        "causal": p.causal,
    });
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "genprog::check::genprog_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs the test binary");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits for the child") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let out = reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let outcome = |class| Outcome {
        class,
        compile_secs: start.elapsed().as_secs_f64(),
        verify_secs: 0.0,
        checked: 0,
        skipped: 0,
        ratio: None,
        width: None,
        params: None,
    };
    let Some(status) = status else {
        return Some(outcome(Class::Timeout));
    };
    let json = out
        .split_once(CHILD_BEGIN)
        .and_then(|(_, rest)| rest.split_once(CHILD_END))
        .and_then(|(j, _)| serde_json::from_str::<serde_json::Value>(j.trim()).ok());
    let Some(v) = json else {
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        return Some(outcome(Class::Panic(format!(
            "the child process died ({status}) without a result:\n{tail}"
        ))));
    };
    if v["program_error"].as_bool() == Some(true) {
        return None;
    }
    let class = Class::from_json(&v["outcome"]).expect("the child's class");
    Some(Outcome {
        class,
        compile_secs: v["compile_secs"].as_f64().unwrap_or(0.0),
        verify_secs: v["verify_secs"].as_f64().unwrap_or(0.0),
        checked: v["checked"].as_u64().unwrap_or(0) as usize,
        skipped: v["skipped"].as_u64().unwrap_or(0) as usize,
        ratio: v["ratio"].as_f64(),
        width: v["width"].as_u64().map(|w| w as usize),
        params: v["params"].as_u64().map(|w| w as usize),
    })
}
