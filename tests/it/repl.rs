//! Transcript tests of the REPL: every tests/repl/*.txt script is piped
//! into `rasp repl` (run in a scratch copy of tests/repl/), and the script
//! and the transcript (stdout and stderr, in order) are snapshotted together.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn transcripts() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repl");
    let work = std::env::temp_dir().join(format!("rasp-repl-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("scratch dir");
    let mut scripts = Vec::new();
    for entry in fs::read_dir(&src).expect("tests/repl") {
        let path = entry.expect("dir entry").path();
        fs::copy(&path, work.join(path.file_name().expect("file name"))).expect("copy");
        if path.extension().is_some_and(|e| e == "txt") {
            scripts.push(path);
        }
    }
    scripts.sort();
    assert!(scripts.len() >= 8, "transcript scripts present");
    for script in scripts {
        let name = script
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let input = fs::read_to_string(&script).expect("script");
        let log_path = work.join(format!("{name}.log"));
        let log = fs::File::create(&log_path).expect("log");
        let status = Command::new(env!("CARGO_BIN_EXE_rasp"))
            .args(["repl", "--color=never"])
            .current_dir(&work)
            .env("NO_COLOR", "1")
            .stdin(fs::File::open(&script).expect("script"))
            .stdout(Stdio::from(log.try_clone().expect("dup")))
            .stderr(Stdio::from(log))
            .status()
            .expect("rasp repl runs");
        assert!(matches!(status.code(), Some(0 | 1)), "{name}: {status:?}");
        let transcript = fs::read_to_string(&log_path).expect("transcript");
        insta::assert_snapshot!(
            name.clone(),
            format!(
                "{input}--- transcript (exit {}) ---\n{transcript}",
                status.code().unwrap_or(-1)
            )
        );
    }
    let svg = work.join("comp_flows");
    assert!(svg.is_dir(), "draw wrote comp_flows/");
    // causal.txt draws under `:set causal on`: the causal values.
    let causal = fs::read_to_string(svg.join("last-hello.svg")).expect("causal.txt's drawing");
    assert!(causal.contains("(causal)"), "{causal}");
    assert!(causal.contains("[h, e, l, l, o]"), "{causal}");
}
