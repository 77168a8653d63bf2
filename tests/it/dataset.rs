//! `rasp gen`: reproducible (whatever the thread count), shardable (the
//! shards concatenated are the whole), every line what `rasp eval` says on
//! its input, for every preset and format; bad options are diagnostics.

use std::process::Output;

use crate::cli::rasp_env as rasp;

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tasks() -> Vec<rasp::dataset::tasks::Task> {
    rasp::dataset::tasks::all()
}

#[test]
fn every_preset_is_listed_and_generates() {
    let list = ok(&rasp(&["gen", "--list"], &[]));
    let names: Vec<String> = tasks().iter().map(|t| t.name.clone()).collect();
    for want in [
        "reverse",
        "histogram",
        "double-histogram",
        "sort",
        "sort-unique",
        "most-frequent",
        "sort-by-frequency",
        "dyck1",
        "dyck2",
        "dyck3",
        "frac-prevs",
        "length",
        "addition",
    ] {
        assert!(names.iter().any(|n| n == want), "no task {want}");
        assert!(list.contains(want), "--list lacks {want}");
    }
}

/// The same seed gives the same bytes with 1 or 2 threads; K shards
/// concatenated are the unsharded output.
#[test]
fn reproducible_and_shardable() {
    let args = ["gen", "--task", "sort", "-n", "9000", "--seed", "5"];
    let one = ok(&rasp(&args, &[("RAYON_NUM_THREADS", "1")]));
    let two = ok(&rasp(&args, &[("RAYON_NUM_THREADS", "2")]));
    assert_eq!(one.lines().count(), 9000);
    assert_eq!(one, two);
    let other = ok(&rasp(
        &["gen", "--task", "sort", "-n", "9000", "--seed", "6"],
        &[],
    ));
    assert_ne!(one, other);
    let mut joined = String::new();
    for i in 0..4 {
        let shard = format!("{i}/4");
        let mut a = args.to_vec();
        a.extend(["--shard", &shard]);
        joined.push_str(&ok(&rasp(&a, &[])));
    }
    assert_eq!(joined, one);
}

/// Every line of every preset, in both formats, is what `rasp eval` gives
/// on its input.
#[test]
fn lines_agree_with_eval() {
    for t in tasks() {
        let generated = ok(&rasp(
            &["gen", "--task", &t.name, "-n", "25", "--seed", "1"],
            &[],
        ));
        let lines: Vec<serde_json::Value> = generated
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 25, "{}", t.name);
        let inputs: Vec<String> = lines.iter().map(|l| l["input"].to_string()).collect();
        let mut args = vec!["eval", t.file, t.sop.as_str(), "--json"];
        args.extend(inputs.iter().map(String::as_str));
        let eval = ok(&rasp(&args, &[]));
        for (g, e) in lines.iter().zip(eval.lines()) {
            let e: serde_json::Value = serde_json::from_str(e).expect("eval JSON");
            assert_eq!(g["output"], e["output"], "{}: {}", t.name, g["input"]);
        }
        // The text format: the same examples, tokens joined by spaces; a
        // token that is empty or holds a space (addition's blanks) would
        // not read back, so it is refused.
        let text_run = rasp(
            &[
                "gen", "--task", &t.name, "-n", "25", "--seed", "1", "--format", "text",
            ],
            &[],
        );
        let unwritable = lines.iter().any(|l| {
            l["output"].as_array().expect("a list").iter().any(|x| {
                x.as_str()
                    .is_some_and(|s| s.is_empty() || s.contains(char::is_whitespace))
            })
        });
        if unwritable {
            assert_eq!(text_run.status.code(), Some(1), "{}", t.name);
            let err = String::from_utf8_lossy(&text_run.stderr);
            assert!(err.contains("rasp::gen::output"), "{}: {err}", t.name);
            continue;
        }
        let text = ok(&text_run);
        let plain = |v: &serde_json::Value| -> String {
            v.as_array()
                .expect("a list")
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.into(),
                    other => rasp::model::codec::value_from_json(other)
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (line, j) in text.lines().zip(&lines) {
            assert_eq!(
                line,
                format!("{}\t{}", plain(&j["input"]), plain(&j["output"])),
                "{}",
                t.name
            );
        }
    }
}

/// `--causal`: every preset's labels are what `rasp eval --causal` says on
/// the same inputs, which are the bidirectional file's; the labels differ
/// where the program is not causal already (reverse, sort, histogram);
/// `--selectors` writes causal matrices; the sidecar records the
/// semantics.
#[test]
fn causal_labels_agree_with_eval_causal() {
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    };
    let mut differ = Vec::new();
    for t in tasks() {
        let args = ["gen", "--task", &t.name, "-n", "25", "--seed", "3"];
        let plain = parse(&ok(&rasp(&args, &[])));
        let causal = parse(&ok(&rasp(&[&args[..], &["--causal"]].concat(), &[])));
        assert_eq!(causal.len(), 25, "{}", t.name);
        let inputs: Vec<String> = causal.iter().map(|l| l["input"].to_string()).collect();
        let plain_inputs: Vec<String> = plain.iter().map(|l| l["input"].to_string()).collect();
        assert_eq!(inputs, plain_inputs, "{}: the same inputs", t.name);
        let mut e_args = vec!["eval", t.file, t.sop.as_str(), "--json", "--causal"];
        e_args.extend(inputs.iter().map(String::as_str));
        let eval = parse(&ok(&rasp(&e_args, &[])));
        for (g, e) in causal.iter().zip(&eval) {
            assert_eq!(g["output"], e["output"], "{}: {}", t.name, g["input"]);
        }
        if causal
            .iter()
            .zip(&plain)
            .any(|(c, p)| c["output"] != p["output"])
        {
            differ.push(t.name.clone());
        }
    }
    for name in ["reverse", "sort", "histogram"] {
        assert!(differ.iter().any(|d| d == name), "{name}: {differ:?}");
    }

    let dir = std::env::temp_dir().join(format!("rasp-gen-causal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let prog = dir.join("p.rasp");
    std::fs::write(
        &prog,
        "same = select(tokens, tokens, ==);\nhist = selector_width(same);\n",
    )
    .expect("write");
    let path = dir.join("hist.jsonl");
    let run = |causal: bool| {
        let mut args = vec![
            "gen",
            prog.to_str().expect("utf-8"),
            "hist",
            "--vocab",
            "ab",
            "--len",
            "2..5",
            "-n",
            "30",
            "--selectors",
            "same",
            "-o",
            path.to_str().expect("utf-8"),
        ];
        if causal {
            args.push("--causal");
        }
        ok(&rasp(&args, &[]));
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("hist.jsonl.info.json")).expect("sidecar"),
        )
        .expect("JSON");
        (
            parse(&std::fs::read_to_string(&path).expect("written")),
            info,
        )
    };
    let (lines, info) = run(true);
    assert_eq!(info["options"]["semantics"], "causal");
    for l in &lines {
        let rows = l["selectors"]["same"].as_array().expect("a matrix");
        for (q, row) in rows.iter().enumerate() {
            let row = row.as_array().expect("a row");
            assert!(row[q] == true, "each token matches itself: {l}");
            assert!(row[q + 1..].iter().all(|k| k == false), "causal: {l}");
        }
        // The width counts the matches at or before each position.
        let tokens = l["input"].as_array().expect("tokens");
        let want: Vec<usize> = (0..tokens.len())
            .map(|i| tokens[..=i].iter().filter(|t| *t == &tokens[i]).count())
            .collect();
        assert_eq!(l["output"], serde_json::json!(want), "{l}");
    }
    let (_, info) = run(false);
    assert_eq!(info["options"]["semantics"], "bidirectional");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-o` writes the file and its `.info.json` sidecar, never a partial file;
/// samplers do what they say; `--bos` prefixes the input.
#[test]
fn files_sidecars_and_samplers() {
    let dir = std::env::temp_dir().join(format!("rasp-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("dyck.jsonl");
    let p = path.to_str().expect("utf-8 path");
    let run = rasp(
        &[
            "gen", "--task", "dyck2", "-n", "400", "--seed", "2", "-o", p, "--bos", "BOS",
            "--stats",
        ],
        &[],
    );
    ok(&run);
    let stats = String::from_utf8_lossy(&run.stderr).to_string();
    let text = std::fs::read_to_string(&path).expect("written");
    // --stats: the counts are the file's.
    assert!(stats.starts_with("400 example(s)\nlengths:\n"), "{stats}");
    let (_, tokens) = stats
        .split_once("output tokens (every position): 3 distinct\n")
        .expect(&stats);
    for class in ["T", "F", "P"] {
        let in_file = text.matches(&format!("\"{class}\"")).count();
        let shown = tokens
            .lines()
            .find(|l| l.ends_with(&format!(" \"{class}\"")))
            .and_then(|l| l.split_whitespace().nth(1))
            .expect(&stats);
        assert_eq!(shown, in_file.to_string(), "{class}: {stats}");
    }
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dyck.jsonl.info.json")).expect("sidecar"),
    )
    .expect("JSON");
    assert_eq!(info["examples"], 400);
    assert_eq!(info["options"]["seed"], 2);
    assert_eq!(info["program"]["task"], "dyck2");
    assert_eq!(info["options"]["semantics"], "bidirectional");
    let mut balanced = 0;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        let input = v["input"].as_array().expect("list");
        assert_eq!(input[0], "BOS");
        let out = v["output"].as_array().expect("list");
        assert_eq!(out.len(), input.len() - 1);
        if out.last() == Some(&serde_json::json!("T")) {
            balanced += 1;
        }
    }
    // The bracket sampler makes both answers common.
    assert!((100..300).contains(&balanced), "{balanced} of 400 balanced");
    // Distinct tokens for sort-unique.
    let su = ok(&rasp(&["gen", "--task", "sort-unique", "-n", "200"], &[]));
    for l in su.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        let mut xs: Vec<i64> = v["input"]
            .as_array()
            .expect("list")
            .iter()
            .map(|x| x.as_i64().expect("int"))
            .collect();
        let n = xs.len();
        xs.sort_unstable();
        xs.dedup();
        assert_eq!(xs.len(), n, "repeated tokens in {l}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_diagnostics() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["gen", "--task", "sortt"], 2, "rasp::gen::task"),
        (
            &["gen", "--task", "sort", "--len", "5..3"],
            2,
            "rasp::gen::options",
        ),
        (
            &["gen", "--task", "sort", "--len", "x"],
            2,
            "rasp::gen::options",
        ),
        (
            &["gen", "--task", "sort", "--shard", "4/4"],
            2,
            "rasp::gen::options",
        ),
        (
            &["gen", "--task", "sort", "--sampler", "gaussian"],
            2,
            "rasp::gen::options",
        ),
        (
            &["gen", "examples/paper.rasp", "nope", "--vocab", "abc"],
            1,
            "rasp::cli::no_such_name",
        ),
        (
            &["gen", "examples/paper.rasp", "reverse"],
            2,
            "rasp::gen::options",
        ),
        // Letters where the program reads ints.
        (
            &["gen", "--task", "sort", "--vocab", "abc"],
            1,
            "rasp::gen::program",
        ),
        (
            &["gen", "--task", "sort", "-o", "/nonexistent-dir/f.jsonl"],
            2,
            "rasp::output::target",
        ),
        (
            &["gen", "--task", "sort", "-o", "/dev/full"],
            1,
            "rasp::gen::output",
        ),
    ];
    for (args, code, diag) in cases {
        let o = rasp(args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(diag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let o = rasp(&["gen", "--task", "sort", "--vocab", "abc"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("0 example(s) were written"), "{err}");
}

/// `--trace` writes the s-ops the output is computed from, `--selectors`
/// the named matrices, both as `rasp eval` gives them; `--train-len` and
/// `--test-len` write two files with their own lengths.
#[test]
fn traces_selectors_and_splits() {
    let o = ok(&rasp(
        &[
            "gen",
            "--task",
            "most-frequent",
            "-n",
            "5",
            "--trace",
            "--selectors",
            "same",
        ],
        &[],
    ));
    for l in o.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        let input = v["input"].to_string();
        let trace = v["trace"].as_object().expect("a trace");
        assert!(
            trace.contains_key("count") && trace.contains_key("rank"),
            "{l}"
        );
        assert!(
            !trace.contains_key("most_frequent"),
            "the output is not traced"
        );
        for (name, values) in trace {
            let e = ok(&rasp(
                &[
                    "eval",
                    "stdlib/tasks/most-frequent.rasp",
                    name,
                    "--json",
                    &input,
                ],
                &[],
            ));
            let e: serde_json::Value = serde_json::from_str(e.trim()).expect("JSON");
            assert_eq!(&e["output"], values, "{name} on {input}");
        }
        let n = v["input"].as_array().expect("list").len();
        let sel = v["selectors"]["same"].as_array().expect("a matrix");
        assert_eq!(sel.len(), n);
    }
    let bad = rasp(&["gen", "--task", "sort", "--selectors", "nope"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    let text = rasp(
        &["gen", "--task", "sort", "--trace", "--format", "text"],
        &[],
    );
    assert_eq!(text.status.code(), Some(1));

    let dir = std::env::temp_dir().join(format!("rasp-gen-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sort.jsonl");
    ok(&rasp(
        &[
            "gen",
            "--task",
            "sort",
            "-n",
            "50",
            "--train-len",
            "1..8",
            "--test-len",
            "9..16",
            "-o",
            path.to_str().expect("utf-8"),
        ],
        &[],
    ));
    for (split, lo, hi) in [("train", 1, 8), ("test", 9, 16)] {
        let text = std::fs::read_to_string(dir.join(format!("sort.{split}.jsonl"))).expect(split);
        assert_eq!(text.lines().count(), 50);
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            let n = v["input"].as_array().expect("list").len();
            assert!((lo..=hi).contains(&n), "{split}: length {n}");
        }
        assert!(dir.join(format!("sort.{split}.jsonl.info.json")).is_file());
    }
    let _ = std::fs::remove_dir_all(&dir);
    let no_path = rasp(
        &[
            "gen",
            "--task",
            "sort",
            "--train-len",
            "1..8",
            "--test-len",
            "9..16",
        ],
        &[],
    );
    assert_eq!(no_path.status.code(), Some(2));
}

/// `--unique`: no input twice, all of them when asked for all, the same
/// across shards; too many is a diagnostic.
#[test]
fn unique_inputs() {
    let args = [
        "gen",
        "examples/paper.rasp",
        "reverse",
        "--vocab",
        "abc",
        "--len",
        "1..4",
        "-n",
        "120",
        "--unique",
        "--seed",
        "3",
    ];
    let all = ok(&rasp(&args, &[]));
    let mut inputs: Vec<String> = all
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["input"].to_string()
        })
        .collect();
    assert_eq!(inputs.len(), 120);
    inputs.sort();
    inputs.dedup();
    assert_eq!(inputs.len(), 120, "every input of lengths 1..4 once");
    let mut joined = String::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let mut a = args.to_vec();
        a.extend(["--shard", &shard]);
        joined.push_str(&ok(&rasp(&a, &[])));
    }
    assert_eq!(joined, all);
    let mut too_many = args.to_vec();
    too_many[8] = "121";
    let o = rasp(&too_many, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only 120 distinct inputs"));
}

/// `--format parquet` writes a Parquet file (magic bytes at both ends; the
/// values are checked with pyarrow and Hugging Face datasets by
/// tests/python/test_datasets.py); a column of mixed types is a diagnostic.
#[test]
fn parquet_files() {
    let dir = std::env::temp_dir().join(format!("rasp-gen-pq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sort.parquet");
    ok(&rasp(
        &[
            "gen",
            "--task",
            "sort",
            "-n",
            "5000",
            "--format",
            "parquet",
            "-o",
            path.to_str().expect("utf-8"),
        ],
        &[],
    ));
    let bytes = std::fs::read(&path).expect("written");
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let mixed = rasp(
        &[
            "gen",
            "examples/paper.rasp",
            "reverse",
            "--vocab",
            "[1,\"a\"]",
            "--format",
            "parquet",
            "-o",
            dir.join("mixed.parquet").to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(mixed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&mixed.stderr);
    assert!(
        err.contains("rasp::gen::output") && err.contains("--format jsonl"),
        "{err}"
    );
    assert!(!dir.join("mixed.parquet").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
