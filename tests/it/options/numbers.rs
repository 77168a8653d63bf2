//! Numbers in: integers beyond 64 bits in JSON inputs, negative numbers on
//! the command line.

use super::*;

/// An integer beyond 64 bits in a JSON input is `rasp::eval::overflow`
/// wherever inputs are read, never a float; floats written as floats stay
/// floats.
#[test]
fn huge_json_integers_overflow_wherever_inputs_are_read() {
    let dir = tempdir("overflow");
    let file = dir.join("in.jsonl");
    std::fs::write(&file, "[1, 2]\n[18446744073709551616]\n").expect("write");
    let f = file.to_str().expect("utf-8");
    let at = format!("@{f}");
    let prog = "examples/paper.rasp";
    let big = "[18446744073709551616]";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["eval", prog, "reverse", "--json", big], ""),
        (
            vec!["eval", prog, "reverse", "--json", "[9223372036854775808]"],
            "",
        ),
        (
            vec!["eval", prog, "reverse", "--json", "[-9223372036854775809]"],
            "",
        ),
        (vec!["eval", prog, "reverse", "--inputs", f], ""),
        (vec!["eval", prog, "reverse", &at], ""),
        (vec!["run", prog, &at], ""),
        (vec!["eval", prog, "reverse", "-"], big),
        (
            vec!["eval", prog, "reverse", "--example", big, "\"ab\""],
            "",
        ),
        (
            vec!["draw", prog, "reverse", "--input", big, "-o", "x.svg"],
            "",
        ),
        (
            vec![
                "compile",
                prog,
                "reverse",
                "--vocab",
                "[1, 18446744073709551616]",
                "--max-len",
                "2",
                "-o",
                "m",
            ],
            "",
        ),
        (
            vec![
                "gen",
                prog,
                "reverse",
                "--vocab",
                "ab",
                "--bos",
                "18446744073709551616",
            ],
            "",
        ),
        (vec!["exec", "no_model", big], ""),
    ];
    for (args, stdin) in &cases {
        let o = rasp_with(args, stdin, &[]);
        let err = stderr(&o);
        assert!(err.contains("rasp::eval::overflow"), "{args:?}: {err}");
        assert!(err.contains("does not fit in 64 bits"), "{args:?}: {err}");
        assert!(
            err.contains("help: rasp integers range from"),
            "{args:?}: {err}"
        );
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("x.svg").exists());
    // `# test:` lines and the REPL.
    let t = dir.join("t.rasp");
    std::fs::write(&t, "# test: [1, 18446744073709551616]\nx = tokens;\n").expect("write");
    let o = rasp_with(&["test", t.to_str().expect("utf-8")], "", &[("CI", "1")]);
    let all = stdout(&o) + &stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(
        all.contains("rasp::eval::overflow") && all.contains("t.rasp:1:1"),
        "{all}"
    );
    let o = rasp_with(&["repl", prog], &format!(":type reverse {big}\n"), &[]);
    let all = stdout(&o) + &stderr(&o);
    assert!(all.contains("rasp::eval::overflow"), "{all}");
    // The library.
    let e = rasp::input(big).expect_err("too big");
    assert_eq!(e.code, "rasp::eval::overflow");
    // Floats written as floats, and the extremes of i64, are kept.
    let o = rasp(&[
        "eval",
        "examples/paper.rasp",
        "reverse",
        "--json",
        "[1e30, 2.5, 9223372036854775807, -9223372036854775808, 18446744073709551616.0]",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("JSON");
    assert_eq!(
        v["output"],
        serde_json::json!([
            "1.8446744073709552e+19",
            "-9223372036854775808",
            "9223372036854775807",
            "2.5",
            "1e+30"
        ])
    );
    let tokens = rasp::input("[1e30, 9223372036854775807]").expect("fits");
    assert_eq!(
        tokens,
        vec![rasp::Value::Float(1e30), rasp::Value::Int(i64::MAX)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Negative numbers (and words) for numeric options say what the value
/// must be, with a code, in every command; clap's "unexpected argument"
/// never.
#[test]
fn negative_numbers_say_the_value_must_be_positive() {
    let p = "examples/paper.rasp";
    let t = ["--vocab", "abc", "--max-len", "3"];
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["gen", "--task", "sort", "-n", "-5"],
            "--count <COUNT>",
            "non-negative (0 or more)",
        ),
        (
            vec!["gen", "--task", "sort", "--count=-5"],
            "--count <COUNT>",
            "non-negative",
        ),
        (
            vec!["gen", "--task", "sort", "--seed", "-1"],
            "--seed <S>",
            "non-negative",
        ),
        (
            vec!["gen", "--task", "sort", "-n", "ten"],
            "--count <COUNT>",
            "a whole number",
        ),
        (
            vec!["eval", p, "reverse", "--max-len", "-1", "abc"],
            "--max-len <N>",
            "positive (1 or more)",
        ),
        (
            vec!["run", p, "--max-len", "-1"],
            "--max-len <N>",
            "positive",
        ),
        (
            vec!["eval", p, "reverse", "--max-len", "0", "abc"],
            "--max-len <N>",
            "positive",
        ),
        (
            [
                &["compile", p, "reverse", "-o", "m"][..],
                &t[..],
                &["--seed", "-1"],
            ]
            .concat(),
            "--seed <S>",
            "non-negative",
        ),
        (
            [
                &["compile", p, "reverse", "-o", "m"][..],
                &t[..],
                &["--verify-samples", "-2"],
            ]
            .concat(),
            "--verify-samples <K>",
            "non-negative",
        ),
        (
            [
                &["compile", p, "reverse", "-o", "m"][..],
                &t[..],
                &["--max-params", "-7"],
            ]
            .concat(),
            "--max-params <P>",
            "non-negative",
        ),
        (
            vec![
                "compile",
                p,
                "reverse",
                "-o",
                "m",
                "--vocab",
                "abc",
                "--max-len",
                "-3",
            ],
            "--max-len <N>",
            "positive",
        ),
        (
            [&["verify", p, "reverse"][..], &t[..], &["--samples", "-2"]].concat(),
            "--samples <K>",
            "non-negative",
        ),
        (
            [&["verify", p, "reverse"][..], &t[..], &["--seed", "-9"]].concat(),
            "--seed <S>",
            "non-negative",
        ),
        (
            vec!["explain", p, "reverse", "--vocab", "abc", "--max-len", "-4"],
            "--max-len <N>",
            "positive",
        ),
        (
            vec!["gen", "--task", "sort", "-n", "18446744073709551616"],
            "--count <COUNT>",
            "at most 18446744073709551615",
        ),
    ];
    for (args, arg, says) in &cases {
        let o = rasp(args);
        refused(args, &o, 2, "rasp::cli::bad_input");
        let err = stderr(&o);
        assert!(err.contains(&format!("{arg} must be")), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
        let command = format!("`rasp {} --help`", args[0]);
        assert!(err.contains(&command), "{args:?}: {err}");
    }
    // `rasp gen`'s ranges and shards: their own code, the same message.
    for (args, says) in [
        (
            ["gen", "--task", "sort", "--len", "-3..4"],
            "lengths are positive (1 or more)",
        ),
        (
            ["gen", "--task", "sort", "--len", "1..-4"],
            "lengths are positive",
        ),
        (
            ["gen", "--task", "sort", "--train-len", "-1..4"],
            "lengths are positive",
        ),
        (
            ["gen", "--task", "sort", "--shard", "-1/4"],
            "I is 0 or more and K 1 or more",
        ),
    ] {
        let mut all = args.to_vec();
        if args[3] == "--train-len" {
            all.extend(["--test-len", "5..6", "-o", "x.jsonl"]);
        }
        let o = rasp(&all);
        refused(&all, &o, 2, "rasp::gen::options");
        assert!(stderr(&o).contains(says), "{all:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("unexpected argument"));
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("m").exists());
    // A negative number is still an ordinary input where inputs go.
    let o = rasp(&["eval", p, "reverse", "--json", "[-5, 3]"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
