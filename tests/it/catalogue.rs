//! The error catalogue (`docs/errors.md`): one entry per diagnostic code
//! of `diag::codes::ALL`, in that order, and each entry's trigger, run as a
//! user would (its files in an empty folder, its commands in bash with
//! `rasp` on PATH), really produces its code.

use std::path::Path;
use std::process::{Command, Stdio};

use rasp::diag::catalogue;
use rasp::diag::codes;

/// The codes no program can cause on purpose: each is a bug or a device
/// fault. Adding one here is a decision, not a way to skip a trigger.
const NO_TRIGGER: &[&str] = &[
    codes::COMPILE_INTERNAL,
    codes::COMPILE_MISMATCH,
    codes::GPU_LIMITS,
    codes::GPU_DEVICE,
    codes::FMT_INTERNAL,
];

#[test]
fn every_code_has_one_entry_in_order() {
    let entries = catalogue::parse(catalogue::TEXT);
    let headings: Vec<&str> = entries.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(
        headings,
        codes::ALL,
        "docs/errors.md must have a `## CODE` entry for each code of diag::codes, in order"
    );
    for e in &entries {
        let untriggerable = NO_TRIGGER.contains(&e.code.as_str());
        match (&e.no_trigger, e.commands.is_empty()) {
            (Some(reason), true) => assert!(
                untriggerable,
                "{}: says no program triggers it ({reason}), but it is not a bug or a device fault",
                e.code
            ),
            (None, false) => assert!(!untriggerable, "{}: listed as untriggerable", e.code),
            _ => panic!(
                "{}: needs either a console block of `$ ` commands or a no-trigger reason",
                e.code
            ),
        }
        for part in ["What it means:", "How to fix it:"] {
            assert!(e.text.contains(part), "{}: no `{part}`", e.code);
        }
    }
}

#[test]
fn every_trigger_produces_its_code() {
    let bin = Path::new(env!("CARGO_BIN_EXE_rasp"));
    let bin_dir = bin.parent().expect("the binary's folder");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let entries: Vec<_> = catalogue::parse(catalogue::TEXT)
        .into_iter()
        .filter(|e| e.no_trigger.is_none())
        .collect();
    let run = |e: &catalogue::Entry| -> Option<String> {
        let dir = std::env::temp_dir().join(format!(
            "rasp-catalogue-{}-{}",
            std::process::id(),
            e.code.replace("::", "-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp folder");
        for (name, text) in &e.files {
            std::fs::write(dir.join(name), text).expect("write a program");
        }
        let mut all = String::new();
        for cmd in &e.commands {
            let o = Command::new("bash")
                .arg("-c")
                .arg(cmd)
                .current_dir(&dir)
                .env("PATH", &path)
                .env("CI", "true")
                .env("NO_COLOR", "1")
                .env_remove("RUST_BACKTRACE")
                .stdin(Stdio::null())
                .output()
                .expect("bash runs");
            all.push_str(&String::from_utf8_lossy(&o.stdout));
            all.push_str(&String::from_utf8_lossy(&o.stderr));
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            !all.contains("panicked"),
            "{}: rasp panicked:\n{all}",
            e.code
        );
        (!all.contains(&e.code))
            .then(|| format!("{}: not produced by its trigger; got:\n{all}", e.code))
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let (a, b) = entries.split_at(entries.len() / 2);
        let h = s.spawn(|| a.iter().filter_map(run).collect::<Vec<_>>());
        let mut f: Vec<String> = b.iter().filter_map(run).collect();
        f.extend(h.join().expect("no panic"));
        f
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn explain_error_prints_an_entry_and_lists_the_codes() {
    let rasp = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rasp"))
            .args(args)
            .arg("--color=never")
            .output()
            .expect("rasp runs")
    };
    let o = rasp(&["explain-error", "rasp::name::undefined"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let entry = catalogue::lookup("name::undefined").expect("an entry");
    assert_eq!(text, entry.text);
    assert!(text.starts_with("## rasp::name::undefined\n"));
    let o = rasp(&["explain-error"]);
    let list = String::from_utf8_lossy(&o.stdout);
    assert_eq!(list.lines().count(), codes::ALL.len());
    assert!(
        list.lines().all(|l| l.len() > 40),
        "each code has a summary"
    );
    let o = rasp(&["explain-error", "rasp::name::undefind"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("did you mean `rasp::name::undefined`?"),
        "{err}"
    );
}
