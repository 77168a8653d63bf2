//! Drives the real line editor in a pseudo-terminal: a multi-line entry
//! with the `.. ` continuation, history recall, Ctrl-C on a partial entry,
//! and Ctrl-D to leave (which saves the history).

use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

/// Type a line and press Enter (a terminal sends CR).
fn enter(p: &mut PtySession, line: &str) -> Result<(), rexpect::error::Error> {
    p.send(&format!("{line}\r"))?;
    p.flush()?;
    Ok(())
}

#[test]
fn line_editor_in_a_terminal() -> Result<(), rexpect::error::Error> {
    let dir = std::env::temp_dir().join(format!("rasp-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let history = dir.join("history");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rasp"));
    cmd.arg("repl")
        .env("RASP_HISTORY", &history)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .current_dir(&dir);
    let mut p = spawn_command(cmd, Some(20_000))?;
    p.exp_string("running example is: \"hello\"")?;
    p.exp_string(">> ")?;

    // A multi-line def: Enter on an incomplete entry continues it.
    enter(&mut p, "def twice(s) {")?;
    p.exp_string(".. ")?;
    enter(&mut p, "return s * 2;")?;
    p.exp_string(".. ")?;
    enter(&mut p, "}")?;
    p.exp_string("console function: twice(s)")?;
    // The first character on a continuation line brings four spaces per
    // open block; a closing `}` one level less.
    enter(&mut p, "def thrice(s) {")?;
    enter(&mut p, "for i in range(2) {")?;
    p.exp_string("..     for i in range(2) {")?;
    enter(&mut p, "t = s;")?;
    p.exp_string("..         t = s;")?;
    p.send("}")?;
    p.flush()?;
    p.exp_string("..     }")?;
    enter(&mut p, "")?;
    enter(&mut p, "return s * 3;")?;
    p.exp_string("..     return s * 3;")?;
    enter(&mut p, "}")?;
    p.exp_string("console function: thrice(s)")?;

    p.exp_string(">> ")?;
    enter(&mut p, "d = twice(indices);")?;
    p.exp_string("Example: d(\"hello\") = [0, 2, 4, 6, 8] (ints)")?;
    p.exp_string(">> ")?;

    // History: the up arrow brings back the last entry.
    p.send("\x1b[A")?;
    enter(&mut p, "")?;
    p.exp_string("Example: d(\"hello\") = [0, 2, 4, 6, 8] (ints)")?;
    p.exp_string(">> ")?;

    // Tab completes names in scope.
    enter(
        &mut p,
        "histogram_of = selector_width(select(tokens, tokens, ==));",
    )?;
    p.exp_string("Example: histogram_of(\"hello\") = [1, 1, 2, 2, 1] (ints)")?;
    p.exp_string(">> ")?;
    // Several candidates: the second Tab lists them all.
    p.send("select_from_\t\t")?;
    p.flush()?;
    p.exp_string("select_from_first")?;
    p.exp_string("select_from_last")?;
    p.exp_string(">> select_from_")?;
    // Ctrl-U clears the line (the same readline goes on).
    p.send_control('u')?;
    p.send("histo\t")?;
    p.flush()?;
    p.exp_string("histogram_of")?;
    enter(&mut p, "(\"aab\");")?;
    p.exp_string("=  [2, 2, 1] (ints)")?;
    p.exp_string(">> ")?;

    // Ctrl-C drops a partial entry; the session (and `d`) survive.
    p.send("x = d +")?;
    p.flush()?;
    p.exp_string("x = d +")?;
    p.send_control('c')?;
    p.exp_string(">> ")?;
    enter(&mut p, "d(\"ab\");")?;
    p.exp_string("=  [0, 2] (ints)")?;
    p.exp_string(">> ")?;

    // Ctrl-C during a long evaluation interrupts it; the session survives.
    enter(
        &mut p,
        "for i in range(100000) { for j in range(100000) { k = j; } }",
    )?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    p.send_control('c')?;
    p.exp_string("interrupted")?;
    p.exp_string(">> ")?;
    enter(&mut p, "d(\"abc\");")?;
    p.exp_string("=  [0, 2, 4] (ints)")?;
    p.exp_string(">> ")?;

    // Ctrl-D leaves and saves the history.
    p.send_control('d')?;
    p.exp_eof()?;
    let saved = std::fs::read_to_string(&history).expect("history saved");
    assert!(saved.contains("d = twice(indices);"), "{saved}");
    Ok(())
}

/// The history is written as every file is (a link to it is kept and its
/// target replaced), and SIGTERM or SIGHUP end the REPL (Ctrl-C only
/// interrupts an entry there) with 128 + the signal.
#[cfg(unix)]
#[test]
fn history_through_a_link_and_termination_signals() -> Result<(), rexpect::error::Error> {
    let dir = std::env::temp_dir().join(format!("rasp-pty-signals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("real")).expect("temp dir");
    std::fs::write(dir.join("real/history"), "").expect("history");
    std::os::unix::fs::symlink("real/history", dir.join("history")).expect("link");
    let spawn = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rasp"));
        cmd.arg("repl")
            .env("RASP_HISTORY", dir.join("history"))
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .current_dir(&dir);
        spawn_command(cmd, Some(20_000))
    };
    let mut p = spawn()?;
    p.exp_string(">> ")?;
    enter(&mut p, "kept = tokens;")?;
    p.exp_string(">> ")?;
    p.send_control('d')?;
    p.exp_eof()?;
    let link = std::fs::symlink_metadata(dir.join("history")).expect("the link");
    assert!(link.file_type().is_symlink(), "the history link is kept");
    let saved = std::fs::read_to_string(dir.join("real/history")).expect("history");
    assert!(saved.contains("kept = tokens;"), "{saved}");

    for (signal, status) in [
        (rexpect::process::Signal::SIGTERM, 143),
        (rexpect::process::Signal::SIGHUP, 129),
    ] {
        let mut p = spawn()?;
        p.exp_string(">> ")?;
        p.process_mut().signal(signal)?;
        match p.process().wait()? {
            rexpect::process::WaitStatus::Exited(_, code) => {
                assert_eq!(code, status, "{signal:?}")
            }
            other => panic!("{signal:?}: {other:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
