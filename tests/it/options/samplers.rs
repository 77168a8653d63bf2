//! `rasp gen`'s samplers write exactly the requested lengths and vocabulary.

use super::*;

/// `rasp gen` refuses, before writing anything, every sampler that cannot
/// write the requested lengths or vocabulary, presets with overrides
/// included; nothing is written with `-o` either.
#[test]
fn samplers_write_exactly_the_requested_lengths_and_vocabulary() {
    let dir = tempdir("samplers");
    let out = dir.join("out.jsonl");
    let out = out.to_str().expect("utf-8");
    let cases: &[(&[&str], &str)] = &[
        // Length-2 inputs when 5 were asked for.
        (
            &[
                "--task",
                "reverse",
                "--sampler",
                "distinct",
                "--len",
                "5",
                "--vocab",
                "ab",
            ],
            "inputs of length 5 need 5 tokens, the vocabulary has 2",
        ),
        // The preset's distinct sampler, lengths beyond its vocabulary.
        (
            &["--task", "sort-unique", "--len", "1..30"],
            "the vocabulary has 20",
        ),
        // Digits outside the vocabulary.
        (
            &[
                "--task",
                "reverse",
                "--sampler",
                "addition",
                "--vocab",
                "abc",
            ],
            "the addition sampler writes '0', which the vocabulary \"abc\" does not have",
        ),
        (
            &["--task", "addition", "--vocab", "0123456789+-"],
            "never writes the vocabulary's '-'",
        ),
        // `a+b` needs 3 tokens.
        (
            &["--task", "addition", "--len", "1..2"],
            "at least 3 tokens",
        ),
        // Brackets outside the vocabulary, or a vocabulary they never use.
        (
            &["--task", "dyck2", "--vocab", "ab"],
            "the brackets:(){} sampler writes '(', which the vocabulary",
        ),
        (
            &["--task", "dyck1", "--vocab", "()[]"],
            "never writes the vocabulary's '['",
        ),
        (
            &["--task", "dyck1", "--sampler", "brackets:(("],
            "lists the bracket '(' twice",
        ),
        // Ints in the vocabulary, strings from the sampler.
        (
            &[
                "examples/paper.rasp",
                "reverse",
                "--vocab",
                "[1, 2]",
                "--sampler",
                "brackets:12",
            ],
            "writes '1', which the vocabulary",
        ),
        // The BOS token is a vocabulary token.
        (
            &["--task", "reverse", "--vocab", "ab", "--bos", "a"],
            "the BOS token 'a' is also an input token",
        ),
        (
            &["--task", "sort", "--bos", "3"],
            "the BOS token 3 is also an input token",
        ),
        // Tokens the text format cannot separate.
        (
            &[
                "examples/paper.rasp",
                "reverse",
                "--vocab",
                "[\"a b\", \"c\"]",
                "--format",
                "text",
            ],
            "the token 'a b' would not read back",
        ),
        // Already refused, kept so.
        (
            &["--task", "sort", "--shard", "3/2"],
            "shard 3/2 is out of range",
        ),
        (
            &["--task", "sort", "--unique", "--sampler", "distinct"],
            "it works with the uniform sampler",
        ),
        (
            &["--task", "sort", "--len", "0..3"],
            "inputs are never empty",
        ),
        // One JSON key per selector.
        (
            &["--task", "most-frequent", "--selectors", "same,same"],
            "--selectors names `same` twice",
        ),
    ];
    for (args, says) in cases {
        for with_file in [false, true] {
            let mut all = vec!["gen"];
            all.extend_from_slice(args);
            if with_file {
                all.extend(["-o", out]);
            }
            let o = rasp(&all);
            refused(&all, &o, 2, "rasp::gen::options");
            assert!(stderr(&o).contains(says), "{all:?}: {}", stderr(&o));
            assert!(!Path::new(out).exists(), "{all:?} wrote a file");
        }
    }
    // An output token the text format cannot write: addition's blanks.
    let all = ["gen", "--task", "addition", "--format", "text", "-o", out];
    let o = rasp(&all);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("rasp::gen::output"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the output token ' '"),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(out).exists());
    let leftovers = std::fs::read_dir(&dir).expect("dir").count();
    assert_eq!(leftovers, 0, "temporary files left");
    // What the samplers write when they can: the sidecar names the pairs.
    let ok = rasp(&["gen", "--task", "dyck2", "-n", "50", "-o", out]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{out}.info.json")).expect("sidecar"),
    )
    .expect("JSON");
    assert_eq!(info["options"]["sampler"], "brackets:(){}");
    let ok = rasp(&["gen", "--task", "sort-unique", "--len", "20", "-n", "5"]);
    for line in stdout(&ok).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(v["input"].as_array().expect("list").len(), 20, "{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
