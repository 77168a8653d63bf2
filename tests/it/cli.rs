//! The command-line contract of `rasp eval`, `rasp run` and `rasp check`.

use std::path::Path;
use std::process::{Command, Output};

fn rasp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(args)
        .arg("--color=never")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("rasp runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn eval_json_lines_keep_types_and_echo_inputs() {
    let o = rasp(&[
        "eval",
        "examples/paper.rasp",
        "frac_prev_l",
        "--json",
        "--example",
        "\"abc\"",
        "\"hello\"",
        "[\"l\", \"x\"]",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["input"], "hello");
    assert_eq!(lines[1]["input"], serde_json::json!(["l", "x"]));
    // one selected key keeps the int; a mean is a float (2/3 at "l" of "hel")
    let out0 = lines[0]["output"].as_array().expect("list");
    assert!(out0[0].is_i64(), "0 stays an int: {out0:?}");
    assert!(out0[2].is_f64(), "a mean is a float: {out0:?}");
    // 2.0 must print as a float
    let o = rasp(&[
        "eval",
        "examples/paper.rasp",
        "frac_prev_l",
        "--json",
        "\"ll\"",
    ]);
    assert_eq!(
        stdout(&o).trim(),
        "{\"input\": \"ll\", \"output\": [1, 1.0]}"
    );
}

#[test]
fn eval_selector_gives_rows_of_booleans() {
    let dir = tempdir("sel");
    let f = dir.join("s.rasp");
    std::fs::write(&f, "prevs = select(indices, indices, <);\n").unwrap();
    let o = rasp(&["eval", f.to_str().unwrap(), "prevs", "--json", "\"abc\""]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        "{\"input\": \"abc\", \"output\": [[false, false, false], [true, false, false], [true, true, false]]}"
    );
}

#[test]
fn run_prints_every_named_sop_in_the_original_format() {
    let dir = tempdir("run");
    let f = dir.join("h.rasp");
    std::fs::write(
        &f,
        "hist = selector_width(select(tokens, tokens, ==));\nfrac = aggregate(full_s, indicator(tokens == \"e\"));\nprevs = select(indices, indices, <);\nn = 3;\n",
    )
    .unwrap();
    let o = rasp(&["run", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(
        text.contains("hist(\"hello\") = [1, 1, 2, 2, 1] (ints)"),
        "{text}"
    );
    assert!(
        text.contains("frac(\"hello\") = [0.2]*5 (floats)"),
        "{text}"
    );
    assert!(
        text.contains("prevs(\"hello\") =\n\t    h e l l o\n\th |\n\te | 1\n"),
        "{text}"
    );
    let o = rasp(&["run", f.to_str().unwrap(), "\"hey\""]);
    assert!(stdout(&o).contains("frac(\"hey\") = [0.333]*3 (floats)"));
}

#[test]
fn check_reports_ok_and_errors() {
    let o = rasp(&["check", "examples/paper.rasp", "examples/addition.rasp"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("examples/paper.rasp: ok"));
    let dir = tempdir("check");
    let f = dir.join("bad.rasp");
    std::fs::write(&f, "a = 1 +;\nb = 2;\nc = (;\n").unwrap();
    let o = rasp(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("rasp::parse").count(), 2, "{err}");
}

#[test]
fn a_100k_token_input_is_refused_with_a_diagnostic() {
    let long = format!("\"{}\"", "ab".repeat(50_000));
    let o = rasp(&["eval", "examples/paper.rasp", "hist_nobos", "--json", &long]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rasp::eval::input_too_long"), "{err}");
    assert!(err.contains("--max-len"), "{err}");
}

#[test]
fn inputs_that_are_not_json_are_strings_and_bad_json_is_reported() {
    let o = rasp(&["eval", "examples/paper.rasp", "reverse", "--json", "abc"]);
    assert_eq!(
        stdout(&o).trim(),
        "{\"input\": \"abc\", \"output\": [\"c\", \"b\", \"a\"]}"
    );
    let o = rasp(&["eval", "examples/paper.rasp", "reverse", "--json", "[1, 2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rasp::cli::bad_input"));
}

/// `--causal` on `eval`, `run` and `draw`: RASP-L's semantics, where each
/// selector sees the keys at or before its query and `length` at position
/// i is i + 1; without it, the original's. Each case: the command, then
/// the output with and without `--causal`.
#[test]
fn causal_flag_on_every_evaluating_command() {
    let dir = tempdir("causal");
    let f = dir.join("p.rasp");
    std::fs::write(
        &f,
        "last = aggregate(select(indices, length - 1, ==), tokens);\n\
         n = length;\n\
         first = aggregate(select(indices, 0, ==), tokens);\n\
         x = last(\"xyz\");\n\
         check = tokens + x[0];\n",
    )
    .unwrap();
    let file = f.to_str().unwrap();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["eval", file, "last", "\"abc\""],
            "last(\"abc\") = [a, b, c] (strings)\n",
            "last(\"abc\") = [c]*3 (strings)\n",
        ),
        (
            &["eval", file, "n", "--json", "\"abcd\"", "[1]"],
            "{\"input\": \"abcd\", \"output\": [1, 2, 3, 4]}\n{\"input\": [1], \"output\": [1]}\n",
            "{\"input\": \"abcd\", \"output\": [4, 4, 4, 4]}\n{\"input\": [1], \"output\": [1]}\n",
        ),
        // A causal program is the same either way.
        (
            &["eval", file, "first", "\"abc\""],
            "first(\"abc\") = [a]*3 (strings)\n",
            "first(\"abc\") = [a]*3 (strings)\n",
        ),
        // The program's own call (`last(\"xyz\")`) is evaluated causally too.
        (
            &["eval", file, "check", "\"ab\""],
            "check(\"ab\") = [ax, bx] (strings)\n",
            "check(\"ab\") = [az, bz] (strings)\n",
        ),
        (
            &["run", file, "\"ab\""],
            "last(\"ab\") = [a, b] (strings)\nn(\"ab\") = [1, 2] (ints)\nfirst(\"ab\") = [a]*2 (strings)\ncheck(\"ab\") = [ax, bx] (strings)\n",
            "last(\"ab\") = [b]*2 (strings)\nn(\"ab\") = [2]*2 (ints)\nfirst(\"ab\") = [a]*2 (strings)\ncheck(\"ab\") = [az, bz] (strings)\n",
        ),
    ];
    for (args, causal, bidirectional) in cases {
        let with = rasp(&[&args[..], &["--causal"]].concat());
        assert!(with.status.success(), "{args:?}: {}", stderr(&with));
        assert_eq!(stdout(&with), *causal, "{args:?} --causal");
        let without = rasp(args);
        assert_eq!(stdout(&without), *bidirectional, "{args:?}");
    }
    // draw: the causal values, and the subtitle says so.
    let dot = dir.join("last.dot");
    let o = rasp(&[
        "draw",
        file,
        "last",
        "--input",
        "\"abc\"",
        "--causal",
        "-o",
        dot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(text.contains("on \\\"abc\\\" (causal)"), "{text}");
    assert!(text.contains("[a, b, c]"), "{text}");
    // Each command's help says what the flag means.
    for cmd in ["eval", "run", "draw", "gen", "test"] {
        let help = stdout(&rasp(&[cmd, "--help"]));
        assert!(help.contains("--causal"), "{cmd}: {help}");
        assert!(help.contains("at or before its query"), "{cmd}: {help}");
    }
    // check builds the program without evaluating s-ops: no flag.
    let o = rasp(&["check", file, "--causal"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rasp-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn rasp_json_names_the_source_relative_to_the_model() {
    // An absolute source path is recorded relative to the model folder
    // (no compiling machine's layout in the file); a folder beside it
    // gives `../name`.
    let dir = tempdir("label");
    let src = dir.join("prog.rasp");
    std::fs::write(
        &src,
        "rev = aggregate(select(indices, length - indices - 1, ==), tokens);\n",
    )
    .unwrap();
    let model = dir.join("models").join("rev");
    std::fs::create_dir_all(model.parent().unwrap()).unwrap();
    let o = rasp(&[
        "compile",
        src.to_str().unwrap(),
        "rev",
        "--vocab",
        "ab",
        "--max-len",
        "3",
        "-o",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("rasp.json")).unwrap()).unwrap();
    assert_eq!(meta["file"], "../../prog.rasp");
    assert_eq!(
        rasp::workflow::source_label(&src, None),
        "prog.rasp",
        "no folder: the file name alone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compile_then_exec_matches_eval() {
    let dir = tempdir("compile");
    let model = dir.join("hist_model");
    let o = rasp(&[
        "compile",
        "tests/compile/hist.rasp",
        "counts",
        "--vocab",
        "abcde",
        "--max-len",
        "6",
        "-o",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["model.safetensors", "config.json", "rasp.json"] {
        assert!(model.join(f).is_file(), "{f} written");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["act_fn"], "relu");
    assert_eq!(config["n_ctx"], 7);
    let exec = rasp(&[
        "exec",
        model.to_str().unwrap(),
        "--json",
        "\"abca\"",
        "\"eee\"",
    ]);
    assert!(
        exec.status.success(),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    let eval = rasp(&[
        "eval",
        "tests/compile/hist.rasp",
        "counts",
        "--json",
        "\"abca\"",
        "\"eee\"",
    ]);
    assert_eq!(stdout(&exec), stdout(&eval));
    // a token outside the vocab is a diagnostic
    let bad = rasp(&["exec", model.to_str().unwrap(), "--json", "\"abz\""]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rasp::model::input"));
    // a missing model folder is a diagnostic
    let missing = rasp(&["exec", dir.join("nope").to_str().unwrap(), "\"a\""]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn verify_and_explain_report() {
    let o = rasp(&[
        "verify",
        "tests/compile/reverse.rasp",
        "flipped",
        "--vocab",
        "abc",
        "--max-len",
        "4",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout(&o).lines().next(),
        Some("verified 120 inputs, 0 mismatches (every input up to length 4)")
    );
    let o = rasp(&[
        "verify",
        "tests/compile/reverse.rasp",
        "flipped",
        "--vocab",
        "abc",
        "--max-len",
        "4",
        "--samples",
        "50",
        "--seed",
        "3",
    ]);
    assert!(
        stdout(&o).starts_with(
            "verified 50 inputs, 0 mismatches (seeded samples of lengths 1..4, seed 3)"
        ),
        "{}",
        stdout(&o)
    );
    // a causal model has RASP-L's causal semantics: verify checks exactly
    // that, and explain lists the s-ops whose causal values differ, each
    // with a witness
    let causal = [
        "tests/compile/reverse.rasp",
        "flipped",
        "--vocab",
        "ab",
        "--max-len",
        "3",
        "--causal",
    ];
    let o = rasp(&[&["verify"][..], &causal[..]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("(every input up to length 3; causal semantics)"));
    let o = rasp(&[&["explain"][..], &causal[..]].concat());
    let text = stdout(&o);
    for line in [
        "causal: 4 s-op(s) differ from their bidirectional values",
        "  `n` (tests/compile/reverse.rasp:1:5): on \"aa\", position 0: causal 1, bidirectional 2",
        "  `flipped` (tests/compile/reverse.rasp:3:11): on \"ab\", position 0: causal 'a', bidirectional 'b'",
        "inputs longer than 3 tokens cannot be run",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // verify fails when the program itself rejects most inputs
    let o = rasp(&[
        "verify",
        "tests/compile/reverse.rasp",
        "flipped",
        "--vocab",
        "ab",
        "--max-len",
        "3",
        "--samples",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1), "verifying nothing fails");
    assert!(
        stderr(&o).contains("rasp::verify::vacuous"),
        "{}",
        stderr(&o)
    );
    let o = rasp(&[
        "explain",
        "tests/compile/hist.rasp",
        "counts",
        "--vocab",
        "abc",
        "--max-len",
        "5",
    ]);
    let text = stdout(&o);
    assert!(text.contains("layout: A1 M11"), "{text}");
    assert!(text.contains("residual width 7"), "{text}");
}

/// Every string over `vocab` of length 1..=n, as JSON inputs.
fn all_inputs(vocab: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut layer = vec![String::new()];
    for _ in 0..n {
        layer = layer
            .iter()
            .flat_map(|s| vocab.chars().map(move |c| format!("{s}{c}")))
            .collect();
        out.extend(layer.iter().map(|s| format!("\"{s}\"")));
    }
    out
}

#[test]
fn exec_prints_exactly_what_eval_prints() {
    let dir = tempdir("exec_eval");
    let f = dir.join("p.rasp");
    std::fs::write(
        &f,
        "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n\
         prev = aggregate(select(indices, indices, <), indicator(tokens == \"a\"));\n\
         hist = selector_width(select(tokens, tokens, ==));\n\
         rev = aggregate(select(indices, length - indices - 1, ==), tokens);\n\
         isa = tokens == \"a\";\n\
         mix = hist + frac;\n",
    )
    .unwrap();
    let file = f.to_str().unwrap();
    // Floats and ints mixed (1 vs 1.0 at integral means), ints, strings,
    // bools, a sum of an int and a mean; and causal models, compared with
    // `rasp eval --causal`: of a program whose causal values are its
    // bidirectional ones (`frac`), and of programs whose values differ
    // (`rev` reads position `length - i - 1`, which is 0 causally; `hist`
    // counts only the earlier tokens).
    let cases: [(&str, bool); 9] = [
        ("frac", false),
        ("frac", true),
        ("prev", false),
        ("hist", false),
        ("hist", true),
        ("rev", false),
        ("rev", true),
        ("isa", false),
        ("mix", false),
    ];
    let mut inputs = all_inputs("abc", 3);
    inputs.extend(["\"aaaa\"", "\"abab\"", "\"bbbb\"", "[\"a\", \"a\"]"].map(String::from));
    for (sop, causal) in cases {
        let model = dir.join(format!("{sop}_{causal}"));
        let mut args = vec![
            "compile",
            file,
            sop,
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "-o",
            model.to_str().unwrap(),
        ];
        if causal {
            args.push("--causal");
        }
        let o = rasp(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for json in [true, false] {
            // The empty input last: both print the others, then refuse it.
            let mut with_empty: Vec<&str> = inputs.iter().map(String::as_str).collect();
            with_empty.push("\"\"");
            let tail: Vec<&str> = if json {
                std::iter::once("--json").chain(with_empty).collect()
            } else {
                with_empty
            };
            let mut e_args = vec!["eval", file, sop];
            if causal {
                e_args.push("--causal");
            }
            e_args.extend(&tail);
            let mut x_args = vec!["exec", model.to_str().unwrap()];
            x_args.extend(&tail);
            let (eval, exec) = (rasp(&e_args), rasp(&x_args));
            let what = format!("{sop} (causal {causal}, json {json})");
            assert_eq!(stdout(&exec), stdout(&eval), "{what}");
            if causal && sop != "frac" {
                // The comparison means something: the bidirectional
                // values differ.
                let plain: Vec<&str> = e_args
                    .iter()
                    .copied()
                    .filter(|a| *a != "--causal")
                    .collect();
                assert_ne!(stdout(&rasp(&plain)), stdout(&eval), "{what}");
            }
            assert_eq!(stdout(&eval).lines().count(), inputs.len(), "{what}");
            assert_eq!(exec.status.code(), Some(1), "{what}");
            assert_eq!(eval.status.code(), exec.status.code(), "{what}");
            assert_eq!(
                String::from_utf8_lossy(&exec.stderr),
                String::from_utf8_lossy(&eval.stderr),
                "{what}"
            );
            assert!(
                String::from_utf8_lossy(&exec.stderr).contains("rasp::eval::empty_input"),
                "{what}"
            );
        }
    }
    // The cases above hit both types of integral means.
    let o = rasp(&[
        "exec",
        dir.join("frac_false").to_str().unwrap(),
        "--json",
        "\"aab\"",
        "\"bb\"",
    ]);
    assert_eq!(
        stdout(&o),
        "{\"input\": \"aab\", \"output\": [1, 1.0, 0.6666666666666666]}\n\
         {\"input\": \"bb\", \"output\": [0, 0.0]}\n"
    );
    let o = rasp(&["exec", dir.join("frac_false").to_str().unwrap(), "\"aab\""]);
    assert_eq!(stdout(&o), "frac(\"aab\") = [1, 1.0, 0.667] (floats)\n");
}

/// `rasp compile` verifies before writing and records it; `--no-verify`
/// writes an unverified model and says so; a model over `--max-params` is
/// refused before anything is written, naming what costs most.
#[test]
fn compile_verifies_records_and_respects_the_size_limit() {
    let dir = std::env::temp_dir().join(format!("rasp-cli-compile-{}", std::process::id()));
    let out = dir.join("m");
    let out_s = out.to_string_lossy().into_owned();
    let base = [
        "compile",
        "examples/paper.rasp",
        "reverse",
        "--vocab",
        "abcde",
        "--max-len",
        "8",
        "-o",
        &out_s,
    ];
    let o = rasp(&base);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 mismatches"), "{}", stdout(&o));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("rasp.json")).expect("rasp.json"))
            .expect("json");
    assert_eq!(meta["verified"]["mismatches"], 0);
    assert!(meta["verified"]["inputs"].as_u64().unwrap_or(0) > 1000);
    let o = rasp(&[&base[..], &["--no-verify"][..]].concat());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("not verified (--no-verify)"));
    let meta = std::fs::read_to_string(out.join("rasp.json")).expect("rasp.json");
    assert!(
        !meta.contains("\"verified\""),
        "no record of a check that did not run"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let o = rasp(&[&base[..], &["--max-params", "1000"][..]].concat());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("rasp::compile::size"), "{err}");
    assert!(err.contains("over the limit of 1000"), "{err}");
    assert!(!out.exists(), "nothing written");
    let o = rasp(&[
        "explain",
        "examples/paper.rasp",
        "reverse",
        "--vocab",
        "abcde",
        "--max-len",
        "8",
        "--margins",
    ]);
    let text = stdout(&o);
    assert!(text.contains("largest costs:"), "{text}");
    assert!(text.contains("layer 1 head 0  reverse"), "{text}");
    assert!(text.contains("layer 0 MLP     length"), "{text}");
}

/// `rasp` with these environment variables (shared with `dataset.rs`).
pub(crate) fn rasp_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasp"));
    c.args(args)
        .arg("--color=never")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("rasp runs")
}

/// `--backend`: every backend prints what the CPU prints; without an
/// adapter, `wgpu` is a diagnostic that suggests the CPU and `auto` falls
/// back to the CPU, saying so on stderr; `--info` names the device.
#[test]
fn exec_and_verify_on_every_backend() {
    let dir = tempdir("backend");
    let model = dir.join("reverse_model");
    let o = rasp(&[
        "compile",
        "tests/compile/reverse.rasp",
        "flipped",
        "--vocab",
        "abcde",
        "--max-len",
        "6",
        "-o",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = model.to_str().unwrap();
    let inputs = ["\"abca\"", "\"e\"", "\"edcba\""];
    let run = |backend: &str, env: &[(&str, &str)]| {
        let mut args = vec!["exec", m, "--backend", backend, "--info"];
        args.extend(inputs);
        rasp_env(&args, env)
    };
    let cpu = run("cpu", &[]);
    assert!(cpu.status.success(), "{}", stderr(&cpu));
    assert!(stderr(&cpu).contains("device: cpu"), "{}", stderr(&cpu));
    // No adapter: Metal does not exist on Linux.
    let none = [("WGPU_BACKEND", "metal")];
    let wgpu = run("wgpu", &none);
    assert_eq!(wgpu.status.code(), Some(1));
    let err = stderr(&wgpu);
    assert!(err.contains("rasp::gpu::no_adapter"), "{err}");
    assert!(err.contains("--backend cpu"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let auto = run("auto", &none);
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert_eq!(stdout(&auto), stdout(&cpu));
    assert!(stderr(&auto).contains("--backend auto: running on the CPU"));
    // With a driver (lavapipe in CI), wgpu prints exactly the same.
    let have_gpu = rasp::gpu::device::device().is_ok();
    if have_gpu {
        let wgpu = run("wgpu", &[]);
        assert!(wgpu.status.success(), "{}", stderr(&wgpu));
        assert_eq!(stdout(&wgpu), stdout(&cpu));
        assert!(
            stderr(&wgpu).contains("device: wgpu: "),
            "{}",
            stderr(&wgpu)
        );
    }
    // verify --backend
    let backends: &[&str] = if have_gpu { &["cpu", "wgpu"] } else { &["cpu"] };
    for &backend in backends {
        let v = rasp(&[
            "verify",
            "tests/compile/reverse.rasp",
            "flipped",
            "--vocab",
            "abc",
            "--max-len",
            "4",
            "--backend",
            backend,
        ]);
        assert!(v.status.success(), "{backend}: {}", stderr(&v));
        assert!(
            stdout(&v).starts_with("verified 120 inputs, 0 mismatches"),
            "{backend}: {}",
            stdout(&v)
        );
    }
    let bad = rasp(&["exec", m, "--backend", "tpu", "\"a\""]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Every argument of every command says what it is, and every command's
/// `--help` ends with examples (the grammar in `src/cli/args.rs`).
#[test]
fn every_argument_is_described_and_every_help_has_examples() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path}: argument `{id}` has no description"));
            }
        }
        let help = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !(help.starts_with("Examples:\n  ") && help.contains("rasp")) {
            missing.push(format!("{path}: --help does not end with examples"));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    let cmd = rasp::cli::Cli::command();
    walk(&cmd, "rasp", &mut missing);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // And the real --help shows them.
    let o = rasp(&["eval", "--help"]);
    assert!(stdout(&o).contains("Examples:\n  rasp eval examples/paper.rasp reverse"));
}

#[test]
fn completions_source_in_bash_and_the_man_page_renders() {
    let script = stdout(&rasp(&["completions", "bash"]));
    let dir = tempdir("completions");
    let path = dir.join("rasp.bash");
    std::fs::write(&path, &script).expect("write");
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p rasp", path.display()))
        .output()
        .expect("bash runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("rasp"), "{}", stdout(&o));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = rasp(&["completions", shell]);
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
    let man = stdout(&rasp(&["man"]));
    assert!(man.starts_with(".ie"), "{man}");
    assert!(man.contains(".TH rasp 1"), "{man}");
    assert!(man.contains("completions"), "subcommands are listed: {man}");
}

#[test]
fn inputs_from_files_and_stdin() {
    let dir = tempdir("inputs");
    let file = dir.join("in.jsonl");
    std::fs::write(&file, "\"ab\"\n\n[1, 2]\n").expect("write");
    let f = file.to_str().expect("utf-8");
    let o = rasp(&[
        "eval",
        "examples/paper.rasp",
        "reverse",
        "--json",
        "--inputs",
        f,
    ]);
    assert_eq!(
        stdout(&o),
        "{\"input\": \"ab\", \"output\": [\"b\", \"a\"]}\n{\"input\": [1,2], \"output\": [\"2\", \"1\"]}\n"
    );
    let at = format!("@{f}");
    let o = rasp(&["run", "examples/paper.rasp", &at]);
    assert!(
        stdout(&o).contains("reverse([1, 2]) = [2, 1] (strings)"),
        "{}",
        stdout(&o)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args([
            "eval",
            "examples/paper.rasp",
            "reverse",
            "-",
            "--color=never",
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rasp runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\"xyz\"\n")
        .expect("write");
    let o = child.wait_with_output().expect("rasp finishes");
    assert_eq!(stdout(&o), "reverse(\"xyz\") = [z, y, x] (strings)\n");
    // A bad line names its file and line; no inputs at all is an error.
    std::fs::write(&file, "\"ab\"\n[1, {}]\n").expect("write");
    let o = rasp(&["eval", "examples/paper.rasp", "reverse", "--inputs", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("in.jsonl:2:"), "{}", stderr(&o));
    let o = rasp(&["eval", "examples/paper.rasp", "reverse"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no inputs to evaluate"));
    let o = rasp(&["exec", "no_such_model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no inputs to run the model on"));
}

#[test]
fn a_file_instead_of_a_command_opens_the_repl() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasp"))
        .args(["examples/paper.rasp", "--color=never"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rasp runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"reverse(\"abc\");\n")
        .expect("write");
    let o = child.wait_with_output().expect("rasp finishes");
    assert!(stdout(&o).contains("[c, b, a]"), "{}", stdout(&o));
    // `--color` after the file is the global option, not a file to load.
    assert!(!stderr(&o).contains("--color=never.rasp"), "{}", stderr(&o));
    let o = rasp(&["examples/paper.rasp", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown option `--bogus`"),
        "{}",
        stderr(&o)
    );
    let o = rasp(&["evl", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `rasp eval`?"),
        "{}",
        stderr(&o)
    );
}

/// `WGPU_ADAPTER_NAME` naming no adapter is a diagnostic that lists the
/// adapters (wgpu's own helper panics there).
#[test]
fn an_unknown_adapter_name_is_a_diagnostic() {
    let dir = tempdir("adapter_name");
    let m = dir.join("m");
    let m = m.to_str().expect("utf-8");
    let o = rasp(&[
        "compile",
        "examples/paper.rasp",
        "reverse",
        "--vocab",
        "ab",
        "--max-len",
        "3",
        "-o",
        m,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rasp_env(
        &["exec", m, "--backend", "wgpu", "\"ab\""],
        &[("WGPU_ADAPTER_NAME", "no-such-adapter-anywhere")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rasp::gpu::no_adapter"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// `rasp check --format short`: one `FILE:LINE:COL: error[CODE]: MESSAGE`
/// line per diagnostic, for editors' quickfix lists.
#[test]
fn check_short_format_for_editors() {
    let o = rasp(&[
        "check",
        "--format",
        "short",
        "tests/errors/syntax_many.rasp",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(
        lines[0],
        "tests/errors/syntax_many.rasp:2:15: error[rasp::parse::unexpected_token]: unexpected `;`, expected an expression"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        !stderr(&o).contains('╭'),
        "no human rendering: {}",
        stderr(&o)
    );
}
