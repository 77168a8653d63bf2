//! The presets of `rasp gen --task`: programs in `stdlib/tasks/` (and the
//! addition example), each declaring its tasks in a header comment the
//! original interpreter ignores:
//!
//! `# task NAME: sop=SOP vocab=V len=A..B sampler=S -- what it computes`
//!
//! where the sampler is `uniform`, `distinct`, `brackets:PAIRS` (e.g.
//! `brackets:(){}`) or `addition` (`a+b` strings).

use super::Sampler;
use crate::diag::{Diag, codes};
use crate::ir::Value;

/// Every file that declares tasks: (path for messages, source).
pub const FILES: &[(&str, &str)] = &[
    (
        "stdlib/tasks/reverse.rasp",
        include_str!("../../stdlib/tasks/reverse.rasp"),
    ),
    (
        "stdlib/tasks/histogram.rasp",
        include_str!("../../stdlib/tasks/histogram.rasp"),
    ),
    (
        "stdlib/tasks/double-histogram.rasp",
        include_str!("../../stdlib/tasks/double-histogram.rasp"),
    ),
    (
        "stdlib/tasks/sort.rasp",
        include_str!("../../stdlib/tasks/sort.rasp"),
    ),
    (
        "stdlib/tasks/sort-unique.rasp",
        include_str!("../../stdlib/tasks/sort-unique.rasp"),
    ),
    (
        "stdlib/tasks/most-frequent.rasp",
        include_str!("../../stdlib/tasks/most-frequent.rasp"),
    ),
    (
        "stdlib/tasks/sort-by-frequency.rasp",
        include_str!("../../stdlib/tasks/sort-by-frequency.rasp"),
    ),
    (
        "stdlib/tasks/dyck1.rasp",
        include_str!("../../stdlib/tasks/dyck1.rasp"),
    ),
    (
        "stdlib/tasks/dyck.rasp",
        include_str!("../../stdlib/tasks/dyck.rasp"),
    ),
    (
        "stdlib/tasks/frac-prevs.rasp",
        include_str!("../../stdlib/tasks/frac-prevs.rasp"),
    ),
    (
        "stdlib/tasks/length.rasp",
        include_str!("../../stdlib/tasks/length.rasp"),
    ),
    (
        "examples/addition.rasp",
        include_str!("../../examples/addition.rasp"),
    ),
];

/// One preset.
#[derive(Clone, Debug)]
pub struct Task {
    pub name: String,
    pub file: &'static str,
    pub source: &'static str,
    pub sop: String,
    pub vocab: String,
    pub len: (usize, usize),
    pub sampler: Sampler,
    pub sampler_name: String,
    pub about: String,
}

/// Every preset, in file order (a header that is not well formed, a field
/// given twice included, is a bug in the project's files: a panic, caught
/// by the tests).
pub fn all() -> Vec<Task> {
    let mut out = Vec::new();
    for (file, source) in FILES {
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("# task ") else {
                continue;
            };
            let task = parse(file, source, rest)
                .unwrap_or_else(|| panic!("{file}: bad task header `{line}`"));
            out.push(task);
        }
    }
    out
}

/// The preset called `name`.
pub fn find(name: &str) -> Result<Task, Diag> {
    let all = all();
    if let Some(t) = all.iter().find(|t| t.name == name) {
        return Ok(t.clone());
    }
    let names: Vec<String> = all.iter().map(|t| t.name.clone()).collect();
    let mut d = Diag::error(codes::GEN_TASK, format!("there is no task {name:?}"));
    d = match crate::front::suggest(name, &names) {
        Some(s) => d.help(format!(
            "did you mean {s}? `rasp gen --list` shows them all"
        )),
        None => d.help(format!("the tasks are {}", names.join(", "))),
    };
    Err(d)
}

fn parse(file: &'static str, source: &'static str, rest: &str) -> Option<Task> {
    let (name, rest) = rest.split_once(':')?;
    let (fields, about) = rest.split_once(" -- ")?;
    let mut sop = None;
    let mut vocab = None;
    let mut len = None;
    let mut sampler = None;
    let mut seen = Vec::new();
    for w in fields.split_whitespace() {
        let (key, v) = w.split_once('=')?;
        // Each field once.
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        match key {
            "sop" => sop = Some(v.to_string()),
            "vocab" => vocab = Some(v.to_string()),
            "len" => len = super::parse_len(v).ok(),
            "sampler" => sampler = Some(v.to_string()),
            _ => return None,
        }
    }
    let sampler_name = sampler?;
    Some(Task {
        name: name.trim().to_string(),
        file,
        source,
        sop: sop?,
        vocab: vocab?,
        len: len?,
        sampler: sampler_of(&sampler_name)?,
        sampler_name,
        about: about.trim().to_string(),
    })
}

/// A sampler from its header name.
pub fn sampler_of(name: &str) -> Option<Sampler> {
    match name {
        "uniform" => Some(Sampler::Uniform),
        "distinct" => Some(Sampler::Distinct),
        "addition" => Some(Sampler::Addition),
        _ => {
            let pairs: Vec<char> = name.strip_prefix("brackets:")?.chars().collect();
            if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
                return None;
            }
            Some(Sampler::Brackets(
                pairs
                    .chunks(2)
                    .map(|p| (Value::str(&p[0].to_string()), Value::str(&p[1].to_string())))
                    .collect(),
            ))
        }
    }
}

/// `rasp gen --list`.
pub fn render_list() -> String {
    let mut s = String::new();
    for t in all() {
        s.push_str(&format!(
            "{:<18} {}\n{:<18} sop {} of {}, vocab {}, lengths {}..{}, sampler {}\n",
            t.name, t.about, "", t.sop, t.file, t.vocab, t.len.0, t.len.1, t.sampler_name
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_field_given_twice_is_refused() {
        let ok = "t: sop=x vocab=ab len=1..3 sampler=uniform -- about";
        assert!(parse("f", "", ok).is_some());
        for twice in [
            "t: sop=x vocab=ab vocab=cd len=1..3 sampler=uniform -- about",
            "t: sop=x vocab=ab len=1..3 len=2..3 sampler=uniform -- about",
            "t: sop=x sop=y vocab=ab len=1..3 sampler=uniform -- about",
        ] {
            assert!(parse("f", "", twice).is_none(), "{twice}");
        }
    }
}
