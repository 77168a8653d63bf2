//! The fuzz run: random edits of the three files of small compiled
//! models (bit flips, truncations, inserted bytes, changed weights, JSON
//! fields changed, removed or added, arrays reordered, reformatting), each
//! model run through `rasp exec` as a user would, without and with
//! `--allow-modified`. 150 models by default; `RASP_FUZZ_MODELS=1000` for
//! the full run.

use std::path::Path;
use std::process::Output;

use rasp::diag::codes;
use serde_json::{Value, json};

use super::{Base, Lcg, base, tensor_ranges, text, try_tensor_ranges};

/// Every path to a leaf or an array of a JSON value.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.clone());
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        v => &mut v[k.as_str()],
    })
}

/// One random edit of a JSON file: a field's value changed, an array
/// reordered, a field removed or added. Returns what it did.
fn edit_json_randomly(v: &mut Value, g: &mut Lcg) -> String {
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let path = all[1 + g.below(all.len() - 1)].clone();
    let name = path.join(".");
    let x = at_path(v, &path);
    match (g.below(4), &mut *x) {
        (0, Value::Array(a)) if a.len() > 1 => {
            let i = g.below(a.len());
            let j = (i + 1 + g.below(a.len() - 1)) % a.len();
            a.swap(i, j);
            format!("{name}: swapped {i} and {j}")
        }
        (1, Value::Array(a)) if !a.is_empty() => {
            a.remove(g.below(a.len()));
            format!("{name}: removed an item")
        }
        (_, Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(0.0);
            let new = match g.below(7) {
                0 => json!(f + 1.0),
                1 => json!(n.as_i64().map_or(json!(f * 2.0), |i| json!(i - 1))),
                2 => json!(-f),
                3 => json!(1e30),
                4 => json!(0),
                5 => json!(f * (1.0 + 1e-6)),
                _ => json!(n.as_i64().map_or(json!(f), |i| json!(i as f64))),
            };
            *x = new.clone();
            format!("{name}: {f} -> {new}")
        }
        (_, Value::String(s)) => {
            let new = match g.below(3) {
                0 => format!("{s}x"),
                1 => s.chars().rev().collect(),
                _ => String::new(),
            };
            *x = json!(new);
            format!("{name}: {new:?}")
        }
        (_, Value::Bool(b)) => {
            *b = !*b;
            format!("{name}: flipped")
        }
        _ => {
            let (parent, key) = path.split_at(path.len() - 1);
            match at_path(v, parent) {
                Value::Object(m) if g.below(2) == 0 => {
                    m.remove(&key[0]);
                    format!("{name}: removed")
                }
                Value::Object(m) => {
                    m.insert("extra".to_string(), json!(1));
                    format!("{}: added a field", parent.join("."))
                }
                other => {
                    *other = json!(null);
                    format!("{}: null", parent.join("."))
                }
            }
        }
    }
}

/// One random edit of one file of a model folder.
fn edit_randomly(dir: &Path, g: &mut Lcg) -> String {
    let files = ["model.safetensors", "config.json", "rasp.json"];
    let file = files[g.below(3)];
    let path = dir.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    // A file an earlier edit left unreadable gets byte edits only.
    let structured = match file {
        "model.safetensors" => try_tensor_ranges(&bytes).is_some(),
        _ => serde_json::from_slice::<Value>(&bytes).is_ok(),
    };
    let kinds = match (file, structured) {
        (_, false) => 3,
        ("model.safetensors", true) => 4,
        _ => 6,
    };
    let kind = g.below(kinds);
    let what = match kind {
        0 => {
            let i = g.below(bytes.len());
            bytes[i] ^= 1 << g.below(8);
            format!("flipped a bit of byte {i}")
        }
        1 => {
            let n = g.below(bytes.len());
            bytes.truncate(n);
            format!("truncated to {n} bytes")
        }
        2 => {
            let i = g.below(bytes.len());
            bytes.insert(i, g.next() as u8);
            format!("inserted a byte at {i}")
        }
        3 if file == "model.safetensors" => {
            // A numeric change of one weight.
            let ranges = tensor_ranges(&bytes);
            let (name, a, b) = &ranges[g.below(ranges.len())];
            if a == b {
                return format!("{file}: nothing ({name} is empty)");
            }
            let i = a + 4 * g.below((b - a) / 4);
            let old = f32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
            let new = match g.below(5) {
                0 => old + 1.0,
                1 => -old,
                2 => 3e38,
                3 => old * (1.0 + 1e-3),
                _ => 0.0,
            };
            bytes[i..i + 4].copy_from_slice(&new.to_le_bytes());
            format!("{name}[{}]: {old} -> {new}", (i - a) / 4)
        }
        3 => {
            // Reformatted: the same JSON, compact.
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            bytes = serde_json::to_vec(&v).unwrap();
            "reformatted".to_string()
        }
        _ => {
            let mut v: Value = serde_json::from_slice(&bytes).unwrap();
            let what = edit_json_randomly(&mut v, g);
            bytes = serde_json::to_vec_pretty(&v).unwrap();
            what
        }
    };
    std::fs::write(&path, &bytes).unwrap();
    format!("{file}: {what}")
}

#[derive(Debug, Default)]
struct Tally {
    tried: usize,
    /// Refused with a diagnostic (without --allow-modified).
    refused: usize,
    /// Accepted, with the interpreter's answers (a reformat, or an edit
    /// that changes no byte that matters).
    correct: usize,
    /// Accepted with other answers and exit 0.
    wrong: Vec<String>,
    /// A panic, a signal, or a failure without a diagnostic.
    crashed: Vec<String>,
    /// With --allow-modified: ran (with the warning) or refused.
    allowed_ran: usize,
    /// Of those that ran, how many gave other answers (as edited).
    allowed_changed: usize,
    allowed_refused: usize,
    /// With --allow-modified: an output that is no JSON value of the
    /// output's list (NaN, Infinity), or no warning.
    allowed_bad: Vec<String>,
}

/// Whether a failed run reported a diagnostic (and nothing panicked).
fn diagnosed(o: &Output) -> bool {
    let err = text(&o.stderr);
    o.status.code() == Some(1) && err.contains("rasp::") && !err.contains("panicked")
}

#[test]
fn fuzzed_model_folders_never_answer_wrongly() {
    let count: usize = std::env::var("RASP_FUZZ_MODELS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150);
    let bases: Vec<Base> = ["rev", "frac", "hist", "smallest"]
        .into_iter()
        .map(base)
        .collect();
    let mut g = Lcg(2016);
    let mut t = Tally::default();
    for i in 0..count {
        let b = &bases[i % bases.len()];
        let dir = b.copy("fuzz");
        let mut what = Vec::new();
        for _ in 0..=g.below(2) {
            what.push(edit_randomly(dir.path(), &mut g));
        }
        let what = format!("model {i} ({}): {}", b.model.display(), what.join("; "));
        t.tried += 1;
        let o = b.exec(dir.path(), false);
        if o.status.success() {
            if text(&o.stdout) == b.expected {
                t.correct += 1;
                eprintln!("accepted, the interpreter's answers: {what}");
            } else {
                t.wrong.push(what.clone());
            }
        } else if diagnosed(&o) {
            t.refused += 1;
        } else {
            t.crashed
                .push(format!("{what}: {:?} {}", o.status, text(&o.stderr)));
        }
        let o = b.exec(dir.path(), true);
        if o.status.success() {
            t.allowed_ran += 1;
            let values = std::fs::read(dir.path().join("rasp.json"))
                .ok()
                .and_then(|s| serde_json::from_slice::<Value>(&s).ok())
                .map(|m| m["output"]["values"].clone())
                .unwrap_or(Value::Null);
            let listed = values.as_array().cloned().unwrap_or_default();
            let changed = text(&o.stdout) != b.expected;
            let warned = text(&o.stderr).contains(codes::MODEL_MODIFIED);
            for line in text(&o.stdout).lines() {
                let ok = serde_json::from_str::<Value>(line).is_ok_and(|l| {
                    l["output"]
                        .as_array()
                        .is_some_and(|out| out.iter().all(|x| listed.contains(x)))
                });
                if !ok {
                    t.allowed_bad.push(format!("{what}: {line}"));
                    break;
                }
            }
            t.allowed_changed += usize::from(changed);
            if changed && !warned {
                t.allowed_bad
                    .push(format!("{what}: other answers, no warning"));
            }
        } else if diagnosed(&o) {
            t.allowed_refused += 1;
        } else {
            t.crashed.push(format!(
                "{what} (allowed): {:?} {}",
                o.status,
                text(&o.stderr)
            ));
        }
    }
    eprintln!(
        "model fuzz: {} edited models: {} refused, {} accepted with the interpreter's answers, {} wrong, {} crashed; with --allow-modified: {} ran ({} with other answers), {} refused, {} bad outputs",
        t.tried,
        t.refused,
        t.correct,
        t.wrong.len(),
        t.crashed.len(),
        t.allowed_ran,
        t.allowed_changed,
        t.allowed_refused,
        t.allowed_bad.len()
    );
    assert!(t.wrong.is_empty(), "wrong answers:\n{}", t.wrong.join("\n"));
    assert!(t.crashed.is_empty(), "crashes:\n{}", t.crashed.join("\n"));
    assert!(
        t.allowed_bad.is_empty(),
        "bad outputs with --allow-modified:\n{}",
        t.allowed_bad.join("\n")
    );
    assert_eq!(t.refused + t.correct, t.tried);
    assert!(t.refused > t.tried / 2, "{t:?}");
}
