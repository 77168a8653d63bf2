//! Checksums of a model folder. `rasp.json` records, under `checksums`,
//! an XXH3 (64-bit, seed 0) hash of each of the three files, as 16
//! lowercase hex digits:
//!
//! - `model.safetensors`: the file's bytes, all of them;
//! - `config.json`: the file's JSON in canonical form ([`canonical_json`]);
//! - `rasp.json`: the file's JSON in canonical form, without the
//!   `checksums` entry `"rasp.json"` itself (so it covers the other two
//!   checksums, and every other field).
//!
//! The canonical form is Python's `json.dumps(v, sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)` encoded as UTF-8, so
//! reformatting a JSON file (whitespace, key order) changes nothing, while
//! any changed field does; `docs/model-format.md` shows how to recompute
//! them in Python. The checksums catch accidents and hand edits, not
//! tampering: anyone can recompute them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::{CONFIG_FILE, META_FILE, WEIGHTS_FILE};
use crate::ir::value::push_py_float;

/// The hash family the checksums use.
pub const ALGORITHM: &str = "xxh3-64";

/// The `rasp.json` field that holds the [`Checksums`].
pub const FIELD: &str = "checksums";

/// `rasp.json`'s `checksums`: the algorithm, then one hash per file, named
/// by the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// Of `model.safetensors`'s bytes.
    #[serde(rename = "model.safetensors")]
    pub weights: String,
    /// Of `config.json`'s canonical form.
    #[serde(rename = "config.json")]
    pub config: String,
    /// Of `rasp.json`'s canonical form without this entry (empty while it
    /// is being computed, and then not written).
    #[serde(
        rename = "rasp.json",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub meta: String,
}

/// Whether a model's files are the ones rasp wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// Every checksum matches.
    Verified,
    /// Opened although the files changed after rasp wrote them (or carry
    /// no checksums): what differs, one line each.
    Modified(Vec<String>),
}

impl Integrity {
    /// Whether every checksum matched.
    pub fn is_verified(&self) -> bool {
        matches!(self, Integrity::Verified)
    }

    /// One line for `--info` and summaries.
    pub fn describe(&self) -> String {
        match self {
            Integrity::Verified => "verified (every checksum matches)".to_string(),
            Integrity::Modified(why) => format!("not verified: {}", why.join("; ")),
        }
    }
}

/// The checksum of some bytes: XXH3-64 as 16 lowercase hex digits.
pub fn hash(bytes: &[u8]) -> String {
    format!("{:016x}", xxh3_64(bytes))
}

/// [`hash`] of bytes given piece by piece.
pub struct Hasher(Xxh3);

impl Hasher {
    pub fn new() -> Hasher {
        Hasher(Xxh3::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of everything given, as [`hash`] writes it.
    pub fn finish(&self) -> String {
        format!("{:016x}", self.0.digest())
    }
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::new()
    }
}

/// The canonical text of a JSON value: no whitespace, object keys sorted
/// by code point, strings escaped as serde_json and Python's `json` both
/// escape them (`"`, `\`, and control characters; everything else as is),
/// integers in decimal, other numbers as Python's `repr(float)`.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            if let Some(i) = n.as_u64() {
                let _ = write!(out, "{i}");
            } else if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                push_py_float(out, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
    }
}

/// The checksum of `config.json`: of its canonical form.
pub fn config_sum(config: &Value) -> String {
    hash(canonical_json(config).as_bytes())
}

/// The checksum of `rasp.json`: of its canonical form without
/// `checksums["rasp.json"]`.
pub fn meta_sum(meta: &Value) -> String {
    let own = meta
        .get(FIELD)
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key(META_FILE));
    if !own {
        return hash(canonical_json(meta).as_bytes());
    }
    let mut meta = meta.clone();
    if let Some(c) = meta.get_mut(FIELD).and_then(Value::as_object_mut) {
        c.remove(META_FILE);
    }
    hash(canonical_json(&meta).as_bytes())
}

/// What differs between the checksums `rasp.json` records and the files'
/// (`weights`, `config`, `meta`: the files' checksums as [`hash`],
/// [`config_sum`] and [`meta_sum`] compute them): one line per problem,
/// none when every checksum matches.
pub fn mismatches(
    recorded: Option<&Value>,
    weights: &str,
    config: &str,
    meta: &str,
) -> Vec<String> {
    let Some(recorded) = recorded else {
        return vec![format!("{META_FILE} records no checksums")];
    };
    let sums: Checksums = match serde_json::from_value(recorded.clone()) {
        Ok(s) => s,
        Err(e) => return vec![format!("the checksums in {META_FILE} cannot be read: {e}")],
    };
    if sums.algorithm != ALGORITHM {
        return vec![format!(
            "the checksums in {META_FILE} use {:?}, which this rasp does not know (it uses {ALGORITHM:?})",
            sums.algorithm
        )];
    }
    let mut out = Vec::new();
    for (file, want, got) in [
        (WEIGHTS_FILE, &sums.weights, weights),
        (CONFIG_FILE, &sums.config, config),
        (META_FILE, &sums.meta, meta),
    ] {
        if want.is_empty() {
            out.push(format!("{META_FILE} records no checksum of {file}"));
        } else if !want.eq_ignore_ascii_case(got) {
            out.push(format!("{file} changed (checksum {got}, recorded {want})"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_is_pythons_json_dumps() {
        // json.dumps(v, sort_keys=True, separators=(",", ":"),
        // ensure_ascii=False) gives exactly these.
        let v = json!({
            "b": [1, 1.0, -2, 0.1, 1e-5, 1e16, 123456789012345.0, true, null],
            "a": "é\"\\\n\t\u{1}/",
            "A": {"z": [], "y": {}},
        });
        assert_eq!(
            canonical_json(&v),
            "{\"A\":{\"y\":{},\"z\":[]},\"a\":\"é\\\"\\\\\\n\\t\\u0001/\",\
             \"b\":[1,1.0,-2,0.1,1e-05,1e+16,123456789012345.0,true,null]}"
        );
    }

    #[test]
    fn whitespace_does_not_matter_but_fields_do() {
        let a: Value = serde_json::from_str("{\"x\": [1, 2.5], \"y\": \"s\"}").unwrap();
        let b: Value = serde_json::from_str("{ \"y\":\"s\",\n\"x\":[ 1,2.50 ] }").unwrap();
        assert_eq!(config_sum(&a), config_sum(&b));
        for c in [
            "{\"x\": [2, 1.0], \"y\": \"s\"}",
            "{\"x\": [1, 2.5], \"y\": \"t\"}",
            "{\"x\": [1.0, 2.5], \"y\": \"s\"}",
            "{\"x\": [1, 2.5], \"y\": \"s\", \"z\": null}",
        ] {
            let c: Value = serde_json::from_str(c).unwrap();
            assert_ne!(config_sum(&a), config_sum(&c), "{c}");
        }
    }

    #[test]
    fn the_meta_checksum_leaves_out_only_itself() {
        let base = json!({"f": 1, "checksums": {"algorithm": ALGORITHM, "model.safetensors": "00", "config.json": "11"}});
        let mut with_own = base.clone();
        with_own["checksums"]["rasp.json"] = json!("whatever");
        assert_eq!(meta_sum(&base), meta_sum(&with_own));
        let mut other = base.clone();
        other["checksums"]["config.json"] = json!("12");
        assert_ne!(meta_sum(&base), meta_sum(&other));
    }

    #[test]
    fn hashes_are_xxh3_64_in_hex() {
        // XXH3_64bits("") with seed 0, as the reference implementation
        // (and Python's xxhash.xxh3_64_hexdigest) gives it.
        assert_eq!(hash(b""), "2d06800538d394c2");
        assert_eq!(hash(b"abc").len(), 16);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = Hasher::new();
        for piece in data.chunks(3000) {
            h.update(piece);
        }
        assert_eq!(h.finish(), hash(&data));
    }

    #[test]
    fn mismatches_name_the_files() {
        let rec = json!({"algorithm": ALGORITHM, "model.safetensors": "aa", "config.json": "bb", "rasp.json": "cc"});
        assert!(mismatches(Some(&rec), "aa", "bb", "cc").is_empty());
        let m = mismatches(Some(&rec), "ab", "bb", "cd");
        assert_eq!(m.len(), 2);
        assert!(m[0].starts_with("model.safetensors changed"), "{m:?}");
        assert!(m[1].starts_with("rasp.json changed"), "{m:?}");
        assert!(mismatches(None, "", "", "")[0].contains("no checksums"));
        let bad = json!({"algorithm": "md5", "model.safetensors": "aa", "config.json": "bb"});
        assert!(mismatches(Some(&bad), "aa", "bb", "")[0].contains("md5"));
        assert!(mismatches(Some(&json!(3)), "", "", "")[0].contains("cannot be read"));
    }
}
