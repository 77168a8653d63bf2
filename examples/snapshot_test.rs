//! A Rust user's snapshot test of a RASP program: `rasp` as a library,
//! `insta` for the snapshots. In your own crate, with `rasp` and `insta`
//! as dependencies, this is a file under `tests/`; here it runs with
//! `cargo test --example snapshot_test` (and with `cargo test`).
//!
//! Each case evaluates every public s-op of `examples/paper.rasp` on one
//! input and snapshots the values in the original interpreter's display;
//! a change to the program (or to `rasp`) shows up as a snapshot diff to
//! review with `cargo insta review`.

fn main() {
    // The same as the test, printed.
    for line in render(&["hello"]) {
        println!("{line}");
    }
}

/// Every public s-op of the paper's programs on each input, one line each.
fn render(inputs: &[&str]) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/paper.rasp");
    let program = rasp::Program::load(path).expect("examples/paper.rasp loads");
    let mut lines = Vec::new();
    for text in inputs {
        let input = rasp::input(text).expect("a valid input");
        for name in program.names() {
            match program.eval(&name, &input) {
                Ok(out) if out.values().is_some() => lines.push(out.named(&name)),
                Ok(_) => {} // selectors: not shown here
                Err(e) => lines.push(format!("{name}: error[{}] {}", e.code, e.message)),
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn paper_programs_on_hello() {
        insta::assert_snapshot!("paper_on_hello", render(&["hello"]).join("\n"));
    }

    #[test]
    fn paper_programs_on_brackets() {
        insta::assert_snapshot!("paper_on_brackets", render(&["({)}", "(())"]).join("\n"));
    }

    #[test]
    fn a_compiled_model_agrees_with_the_interpreter() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/paper.rasp");
        let program = rasp::Program::load(path).expect("loads");
        let target = rasp::Target::new(rasp::vocab("abc").expect("vocab"), 5);
        let model = program.compile("reverse", &target).expect("compiles");
        let inputs: Vec<_> = ["abc", "aab", "c"]
            .iter()
            .map(|t| rasp::input(t).expect("input"))
            .collect();
        let ran = model.run(&inputs).expect("runs");
        for (input, got) in inputs.iter().zip(&ran) {
            let want = program.eval("reverse", input).expect("evaluates");
            assert_eq!(Some(got.as_slice()), want.values());
        }
        insta::assert_snapshot!("reverse_model_size", model.summary());
    }
}
