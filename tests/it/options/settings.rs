//! Each vocabulary token and each `key=` setting is given once.

use super::*;

/// A vocabulary that lists a token twice is refused wherever one is
/// parsed, with the list to give instead.
#[test]
fn a_vocabulary_lists_each_token_once_everywhere() {
    let target = [
        "examples/paper.rasp",
        "reverse",
        "--vocab",
        "aab",
        "--max-len",
        "3",
    ];
    let dir = tempdir("vocab");
    let model = dir.join("model");
    let model = model.to_str().expect("utf-8");
    for cmd in ["compile", "verify", "explain"] {
        let mut args = vec![cmd];
        args.extend_from_slice(&target);
        if cmd == "compile" {
            args.extend(["-o", model]);
        }
        let o = rasp(&args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            stderr(&o).contains("rasp::compile::vocab"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("the vocabulary lists 'a' twice"),
            "{}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("help: list each token once: ab"),
            "{}",
            stderr(&o)
        );
    }
    assert!(!Path::new(model).exists());
    for vocab in ["aab", "a,b,a", "[1, 2, 1]", "\"aba\""] {
        let args = ["gen", "examples/paper.rasp", "reverse", "--vocab", vocab];
        refused(&args, &rasp(&args), 2, "rasp::compile::vocab");
    }
    // `# test compile:` lines.
    let prog = dir.join("t.rasp");
    std::fs::write(
        &prog,
        "# test: \"ab\"\n# test compile: rev vocab=aba max_len=3\n\
         rev = aggregate(select(indices, length - indices - 1, ==), tokens);\n",
    )
    .expect("write");
    let o = rasp_with(&["test", prog.to_str().expect("utf-8")], "", &[("CI", "1")]);
    assert_eq!(o.status.code(), Some(1));
    let all = stdout(&o) + &stderr(&o);
    assert!(all.contains("rasp::test::declaration"), "{all}");
    assert!(
        all.contains("vocab=aba: the vocabulary lists 'a' twice"),
        "{all}"
    );
    assert!(all.contains("t.rasp:2:1"), "{all}");
    // The REPL's :compile and :type.
    let o = rasp_with(
        &["repl", "examples/paper.rasp"],
        &format!(":compile reverse aab 3 {model}\n:type reverse [1,2,1]\n"),
        &[],
    );
    let all = stdout(&o) + &stderr(&o);
    assert_eq!(all.matches("rasp::compile::vocab").count(), 2, "{all}");
    assert!(
        all.contains("lists 'a' twice") && all.contains("lists 1 twice"),
        "{all}"
    );
    assert!(!Path::new(model).exists());
    // The library.
    let e = rasp::vocab("aab").expect_err("a twice");
    assert_eq!(e.code, "rasp::compile::vocab");
    assert!(e.help.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `key=` setting given twice in a `# test compile:` line is a
/// diagnostic at its line, never the last one silently.
#[test]
fn a_setting_given_twice_is_a_diagnostic_at_its_line() {
    let dir = tempdir("settings");
    let prog = dir.join("rev.rasp");
    for (line, says) in [
        (
            "rev vocab=abc vocab=xyz max_len=3",
            "`vocab=` is given twice",
        ),
        (
            "rev vocab=abc max_len=3\n# test sops: rev, rev",
            "names `rev` twice",
        ),
        (
            "rev vocab=abc max_len=3 max-len=5",
            "`max_len=` is given twice",
        ),
        (
            "rev vocab=abc max_len=-2",
            "max_len is a whole number, 1 or more",
        ),
    ] {
        std::fs::write(
            &prog,
            format!(
                "# test: \"ab\"\n# test compile: {line}\n\
                 rev = aggregate(select(indices, length - indices - 1, ==), tokens);\n"
            ),
        )
        .expect("write");
        let o = rasp_with(&["test", prog.to_str().expect("utf-8")], "", &[("CI", "1")]);
        let all = stdout(&o) + &stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{all}");
        assert!(all.contains("rasp::test::declaration"), "{all}");
        assert!(all.contains(says), "{line}: {all}");
        let at = if line.contains("sops") {
            "rev.rasp:3:1"
        } else {
            "rev.rasp:2:1"
        };
        assert!(all.contains(at), "{all}");
        assert!(all.contains("help:"), "{all}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
