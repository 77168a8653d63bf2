#!/usr/bin/env python3
"""The model files, read by someone who has only them and numpy.

Compiles a few programs with `target/release/rasp compile`, then, from
`model.safetensors` + `config.json` alone, re-implements the forward pass
(docs/model-format.md: embeddings, attention with `attn_scale`, the PAD and
causal masks, W_O, the ReLU MLP, the unembedding) and decodes with
`rasp.json`. Checks:

- the decoded outputs equal `rasp exec --json` and, for models that are
  not causal, `rasp eval --json` (values and JSON types);
- they are the same after TransformerLens-style processing: the
  unembedding centred (each row of W_U minus its mean over the output
  columns, b_U minus its mean) and the value biases folded into b_O;
- an intermediate s-op read from the residual stream by its placement
  (`rasp.json` "sops") equals `rasp eval` of that s-op;
- the checksums in `rasp.json` (XXH3-64 of the weights' bytes and of the
  JSON files' canonical form) are what Python computes; `config.json` and
  `rasp.json` rewritten by Python's `json` (other indentation, sorted keys)
  still run as verified; a changed weight is refused by `rasp exec` and
  runs, with a warning, with `--allow-modified`.

Usage: python3 tests/python/test_export.py [--rasp PATH]   (from anywhere)
Needs numpy, safetensors and xxhash (pip install numpy safetensors xxhash).
Prints one line per check and a final `N passed, M failed`; exits 1 on any
failure.
"""

import argparse
import itertools
import json
import math
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import xxhash
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The TransformerLens example's numpy half (reading the folder, decoding),
# checked here against rasp exec: the example itself needs torch.
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import load_transformer_lens as example  # noqa: E402

# name, file (relative to ROOT, or a key of SOURCES), s-op, vocab, max_len,
# causal, intermediate s-op to read from the residual (or None).
SOURCES = {
    "frac.rasp": "frac = aggregate(select(indices, indices, <=), indicator(tokens == \"a\"));\n"
    "hist = selector_width(select(tokens, tokens, ==));\n"
    "mix = hist + frac;\n"
    "share = average(indicator(tokens == \"a\"));\n",
}
CASES = [
    ("frac (numerical mean)", "frac.rasp", "frac", "abc", 5, False, None),
    ("frac (causal)", "frac.rasp", "frac", "abc", 5, True, None),
    ("frac at N = 220 (output grid)", "frac.rasp", "frac", "abc", 220, False, None),
    ("share at N = 220 (output grid by length)", "frac.rasp", "share", "abc", 220, False, None),
    ("mix (a sum of dims)", "frac.rasp", "mix", "abc", 4, False, "frac"),
    ("hist (selector width)", "tests/compile/hist.rasp", "counts", "abc", 5, False, None),
    ("count_less_freq (MLP output)", "tests/compile/count_less_freq.rasp", "n_rare", "abc", 5, False, "freq"),
    ("reverse (categorical)", "tests/compile/reverse.rasp", "flipped", "abc", 5, False, "mirror"),
    ("sort (int tokens)", "tests/compile/sort.rasp", "ascending", "[1,2,3,4]", 4, False, "slot"),
    ("detect_pattern (bools)", "tests/compile/detect_pattern.rasp", "found", "abc", 5, False, None),
]


# ---------------------------------------------------------------------------
# The model, from the files


class Model:
    def __init__(self, folder):
        self.w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        with open(os.path.join(folder, "rasp.json")) as f:
            self.meta = json.load(f)

    def processed(self):
        """A copy as TransformerLens processes it: centred unembedding,
        value biases folded into b_O (no layer norm, so nothing else)."""
        m = Model.__new__(Model)
        m.cfg, m.meta = self.cfg, self.meta
        m.w = dict(self.w)
        w_u = m.w["unembed.W_U"]
        m.w["unembed.W_U"] = w_u - w_u.mean(axis=1, keepdims=True)
        m.w["unembed.b_U"] = m.w["unembed.b_U"] - m.w["unembed.b_U"].mean()
        for l in range(self.cfg["n_layers"]):
            a = f"blocks.{l}.attn."
            m.w[a + "b_O"] = m.w[a + "b_O"] + np.einsum("he,hed->d", m.w[a + "b_V"], m.w[a + "W_O"])
            m.w[a + "b_V"] = np.zeros_like(m.w[a + "b_V"])
        return m

    def forward(self, ids):
        """Residual after each layer ([n_layers + 1] of [pos, d_model]; [0]
        is the embedding) and each layer's attention pattern [head, q, k].
        self.mids holds the residual after each layer's attention."""
        c, w = self.cfg, self.w
        ids = np.asarray(ids)
        n = len(ids)
        x = w["embed.W_E"][ids] + w["pos_embed.W_pos"][:n]
        resids, patterns = [x], []
        self.mids = []
        masked = np.zeros((n, n), dtype=bool)
        masked |= (ids == self.meta["pad_id"])[None, :]
        if c["attention_dir"] == "causal":
            masked |= np.triu(np.ones((n, n), dtype=bool), k=1)
        scale = c["attn_scale"] if c["use_attn_scale"] else 1.0
        for l in range(c["n_layers"]):
            a, p = f"blocks.{l}.attn.", f"blocks.{l}.mlp."
            q = np.einsum("pd,hde->hpe", x, w[a + "W_Q"]) + w[a + "b_Q"][:, None, :]
            k = np.einsum("pd,hde->hpe", x, w[a + "W_K"]) + w[a + "b_K"][:, None, :]
            v = np.einsum("pd,hde->hpe", x, w[a + "W_V"]) + w[a + "b_V"][:, None, :]
            scores = np.einsum("hpe,hqe->hpq", q, k) / scale
            scores = np.where(masked[None], -np.inf, scores)
            scores = scores - scores.max(axis=-1, keepdims=True)
            pattern = np.exp(scores)
            pattern /= pattern.sum(axis=-1, keepdims=True)
            z = np.einsum("hpq,hqe->hpe", pattern, v)
            x = x + np.einsum("hpe,hed->pd", z, w[a + "W_O"]) + w[a + "b_O"]
            self.mids.append(x)
            if not c["attn_only"]:
                hidden = np.maximum(x @ w[p + "W_in"] + w[p + "b_in"], 0.0)
                x = x + hidden @ w[p + "W_out"] + w[p + "b_out"]
            resids.append(x)
            patterns.append(pattern)
        return resids, patterns

    def encode(self, tokens):
        vocab = self.meta["vocab"]
        # JSON forms tell 1, 1.0, True and "1" apart, as rasp does.
        index = {json.dumps(t): i for i, t in enumerate(vocab)}
        return [self.meta["bos_id"]] + [index[json.dumps(t)] for t in tokens]

    def run(self, tokens):
        resids, patterns = self.forward(self.encode(tokens))
        logits = resids[-1] @ self.w["unembed.W_U"] + self.w["unembed.b_U"]
        ours = decode_output(self.meta, logits, patterns)
        theirs = example.decode_output(self.meta, logits, patterns)
        if not same_output(theirs, ours):
            raise AssertionError(f"the TransformerLens example decodes {theirs}, not {ours}")
        return ours


# ---------------------------------------------------------------------------
# Decoding (docs/model-format.md, "Decoding")


def number(v):
    return None if isinstance(v, str) else float(v)


def snap(values, x):
    """The nearest listed number (first on ties) and every value equal to it."""
    best = None
    for v in values:
        p = number(v)
        if p is None or not math.isfinite(p):
            continue
        if best is None or abs(p - x) < abs(best - x):
            best = p
    if best is None:
        return x, [x]
    return best, [v for v in values if number(v) == best]


def has_twins(values):
    """Some number listed with two types (1 and 1.0)."""
    nums = [number(v) for v in values if number(v) is not None]
    return len(nums) != len(set(nums))


def one_head(p):
    if p["encoding"] == "numerical" and p["sublayer"] == "attn" and len(p["heads"]) == 1:
        return (p["layer"], p["heads"][0])
    return None


def kind_heads(meta):
    """The heads whose attention decides the output's type (see
    docs/model-format.md): the output's own head, or the heads of the
    terms of a sum that are themselves such aggregates."""
    out = meta["output"]
    if out["encoding"] != "numerical" or not has_twins(out["values"]):
        return []
    if one_head(out):
        return [one_head(out)]
    heads = []
    if len(out["dims"]) > 1 or out.get("coefs"):
        for d in out["dims"]:
            for p in meta["sops"]:
                if p["encoding"] == "numerical" and p["dims"] == [d] and not p.get("coefs"):
                    h = one_head(p) if has_twins(p["values"]) else None
                    if h and h not in heads:
                        heads.append(h)
                    break
    return heads


def grid_value(grid, i, length, x):
    """The value of a gridded output at output position i of an input of
    `length` tokens: the candidate nearest to x, over the numbers of keys
    w listed for that position (or, with "by": "length", that length; the
    first on ties): the default (w = 0), the integer itself (w = 1), s / w."""
    best = None
    slot = length - 1 if grid.get("by") == "length" else i
    for a, b in grid["widths"][slot]:
        for w in range(a, b + 1):
            if w == 0:
                v = grid["default"]
            else:
                y = x * w  # rounded half away from zero, as rasp does
                s = min(max(int(math.copysign(math.floor(abs(y) + 0.5), y)), grid["lo"] * w), grid["hi"] * w)
                v = s if w == 1 else s / w
            if best is None or abs(v - x) < abs(best - x):
                best = v
    return best


def decode_output(meta, logits, patterns):
    out = meta["output"]
    rows = logits[1:]  # position 0 is BOS
    if out["encoding"] == "categorical":
        return [out["values"][int(np.argmax(r))] for r in rows]
    if meta.get("output_grid"):
        return [grid_value(meta["output_grid"], i, len(rows), float(r[0] - r[1]) / 2) for i, r in enumerate(rows)]
    heads = kind_heads(meta)
    result = []
    for i, r in enumerate(rows):
        _, same = snap(out["values"], (r[0] - r[1]) / 2)
        value = same[0]
        if len(same) > 1 and heads:
            # 1 and 1.0 both possible: an aggregate gives the value itself
            # for one selected key (or its default for none), a float mean
            # for several; a head "sees one key" when one weight is at
            # least half the largest.
            mean = False
            for layer, h in heads:
                weights = patterns[layer][h, i + 1]
                mean |= int((weights >= 0.5 * weights.max()).sum()) != 1
            kinds = [v for v in same if isinstance(v, float) == mean]
            value = kinds[0] if kinds else same[0]
        result.append(value)
    return result


def read_placement(p, resid):
    """An s-op read from a residual [pos, d_model] (positions 1..)."""
    rows = resid[1:]
    if p["encoding"] == "categorical":
        return [p["values"][int(np.argmax(r[p["dims"]]))] for r in rows]
    coefs = p.get("coefs") or [1.0] * len(p["dims"])
    return [snap(p["values"], float(np.dot(r[p["dims"]], coefs)))[1][0] for r in rows]


# ---------------------------------------------------------------------------
# Checksums (docs/model-format.md, "Checksums")


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def checksums(folder):
    """The three checksums as rasp.json should record them."""
    with open(os.path.join(folder, "rasp.json")) as f:
        meta = json.load(f)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        weights = f.read()
    meta["checksums"].pop("rasp.json", None)
    return {
        "algorithm": "xxh3-64",
        "model.safetensors": xxhash.xxh3_64_hexdigest(weights),
        "config.json": xxhash.xxh3_64_hexdigest(canonical(config)),
        "rasp.json": xxhash.xxh3_64_hexdigest(canonical(meta)),
    }


def check_integrity(rasp, folder, res, title, text, want):
    """The checksums recomputed; the JSON files rewritten by Python still
    verified; one weight changed refused, and allowed with a warning."""
    recorded = Model(folder).meta["checksums"]
    res.check(f"{title}: checksums recomputed in Python", checksums(folder) == recorded, f"{checksums(folder)} vs {recorded}")
    copy = folder + "-copy"
    os.makedirs(copy)
    for name in ["config.json", "rasp.json"]:
        with open(os.path.join(folder, name)) as f:
            value = json.load(f)
        with open(os.path.join(copy, name), "w") as f:
            json.dump(value, f, indent=4, sort_keys=True)
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        weights = bytearray(f.read())
    with open(os.path.join(copy, "model.safetensors"), "wb") as f:
        f.write(weights)
    out = subprocess.run([rasp, "exec", copy, "--json", "--info", text], capture_output=True, text=True)
    res.check(
        f"{title}: rewritten by Python's json, still verified",
        out.returncode == 0 and json.loads(out.stdout)["output"] == want and "model: verified" in out.stderr,
        out.stderr.strip(),
    )
    # The first float of unembed.b_U (0 in a compiled model) made a small
    # number: a change no structural check sees, and no answer either.
    n = int.from_bytes(weights[:8], "little")
    start = 8 + n + json.loads(weights[8 : 8 + n])["unembed.b_U"]["data_offsets"][0]
    weights[start : start + 4] = np.float32(1e-3).tobytes()
    with open(os.path.join(copy, "model.safetensors"), "wb") as f:
        f.write(weights)
    out = subprocess.run([rasp, "exec", copy, "--json", text], capture_output=True, text=True)
    res.check(
        f"{title}: a changed weight is refused",
        out.returncode == 1 and "rasp::model::integrity" in out.stderr and not out.stdout,
        out.stderr.strip(),
    )
    out = subprocess.run([rasp, "exec", copy, "--json", "--allow-modified", text], capture_output=True, text=True)
    res.check(
        f"{title}: --allow-modified runs it, with a warning",
        out.returncode == 0 and "rasp::model::modified" in out.stderr and json.loads(out.stdout)["output"] == want,
        out.stderr.strip(),
    )


def same_output(got, want):
    """Equal values of equal JSON types; floats within 1e-6 (a number no
    value set snaps is the raw f32 logit in rasp, f64 here)."""
    if len(got) != len(want):
        return False
    for x, y in zip(got, want):
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not abs(x - y) <= 1e-6 * max(1.0, abs(y)):
                return False
        elif x != y:
            return False
    return True


def numeric_equal(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                return False
        elif abs(float(x) - float(y)) > 1e-6 * max(1.0, abs(float(x))):
            return False
    return True


# ---------------------------------------------------------------------------
# The checks


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")


def rasp_json_lines(rasp, args, cwd):
    out = subprocess.run([rasp] + args, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"rasp {' '.join(args[:3])}... failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def inputs_for(vocab, max_len, seed):
    toks = json.loads(vocab) if vocab.startswith("[") else list(vocab)
    short = [list(t) for n in range(1, min(3, max_len) + 1) for t in itertools.product(toks, repeat=n)]
    g = random.Random(seed)
    longer = [[g.choice(toks) for _ in range(g.randint(4, max_len))] for _ in range(25)] if max_len >= 4 else []
    return short + longer


def run_case(rasp, work, res, case, seed):
    title, src, sop, vocab, max_len, causal, inner = case
    path = os.path.join(work, src) if src in SOURCES else os.path.join(ROOT, src)
    folder = os.path.join(work, f"model{seed}")
    args = ["compile", path, sop, "--vocab", vocab, "--max-len", str(max_len), "-o", folder]
    if causal:
        args.append("--causal")
    out = subprocess.run([rasp] + args, capture_output=True, text=True)
    if out.returncode != 0:
        res.check(f"{title}: compiles", False, out.stderr.strip())
        return
    model = Model(folder)
    cfg = model.cfg
    example.load_folder(folder)  # exits on a format version it cannot read
    if "output grid" in title:
        res.check(f"{title}: rasp.json has an output_grid", bool(model.meta.get("output_grid")), "none")
    res.check(
        f"{title}: config and tensors agree",
        model.w["unembed.W_U"].shape == (cfg["d_model"], cfg["d_vocab_out"])
        and model.w["embed.W_E"].shape == (cfg["d_vocab"], cfg["d_model"])
        and model.w["pos_embed.W_pos"].shape == (cfg["n_ctx"], cfg["d_model"]),
        f"{model.w['unembed.W_U'].shape} / {cfg}",
    )
    res.check(
        f"{title}: attn_scale is sqrt(d_head) in f32",
        cfg["use_attn_scale"] and cfg["attn_scale"] == float(np.sqrt(np.float32(cfg["d_head"]))),
        f"{cfg['attn_scale']} for d_head {cfg['d_head']}",
    )
    inputs = inputs_for(vocab, max_len, seed)
    texts = [json.dumps(t) for t in inputs]
    want = [line["output"] for line in rasp_json_lines(rasp, ["exec", folder, "--json"] + texts, ROOT)]
    check_integrity(rasp, folder, res, title, texts[-1], want[-1])

    for label, m in [("raw", model), ("centred unembedding, folded value biases", model.processed())]:
        bad = None
        for t, w in zip(inputs, want):
            got = m.run(t)
            if not same_output(got, w):
                bad = f"input {json.dumps(t)}: numpy {json.dumps(got)}, rasp exec {json.dumps(w)}"
                break
        res.check(f"{title}: numpy forward == rasp exec ({label}, {len(inputs)} inputs)", bad is None, bad)

    if not causal:
        # The interpreter is the oracle: the decoded values (JSON types
        # included) are what `rasp eval` gives.
        ref = [line["output"] for line in rasp_json_lines(rasp, ["eval", path, sop, "--json"] + texts, ROOT)]
        bad = None
        for t, w in zip(inputs, ref):
            got = model.run(t)
            if not same_output(got, w):
                bad = f"input {json.dumps(t)}: numpy {json.dumps(got)}, rasp eval {json.dumps(w)}"
                break
        out = model.meta["output"]
        how = f"{out['encoding']}, dims {out['dims']}" + (f", coefs {out['coefs']}" if out.get("coefs") else "")
        res.check(f"{title}: numpy forward == rasp eval ({how})", bad is None, bad)

    if model.meta["output"]["encoding"] == "numerical":
        # Why version 2 has two columns: one column centred is all zeros.
        w_u = model.w["unembed.W_U"]
        one = w_u[:, :1] - w_u[:, :1].mean(axis=1, keepdims=True)
        res.check(
            f"{title}: numerical output has columns +x and -x",
            w_u.shape[1] == 2 and np.allclose(w_u[:, 0], -w_u[:, 1]) and not one.any(),
            f"W_U columns {w_u.shape[1]}",
        )

    if inner is not None and not causal:
        places = [p for p in model.meta["sops"] if p["name"] == inner]
        if not places:
            res.check(f"{title}: s-op {inner} has a placement", False, "not in rasp.json sops")
            return
        p = places[0]
        ref = [line["output"] for line in rasp_json_lines(rasp, ["eval", path, inner, "--json"] + texts, ROOT)]
        bad = None
        for t, w in zip(inputs, ref):
            resids, _ = model.forward(model.encode(t))
            # The residual right after the placement's own sublayer
            # (TransformerLens blocks.{l}.hook_resid_mid for attention,
            # hook_resid_post for an MLP), or the embedding: a later MLP may
            # reuse its dims (cleared_in).
            if p["layer"] is None:
                resid = resids[0]
            elif p["sublayer"] == "attn":
                resid = model.mids[p["layer"]]
            else:
                resid = resids[p["layer"] + 1]
            got = read_placement(p, resid)
            exact = p["encoding"] == "categorical"
            if not (same_output(got, w) if exact else numeric_equal(got, w)):
                bad = f"input {json.dumps(t)}: read {json.dumps(got)}, rasp eval {json.dumps(w)}"
                break
        res.check(
            f"{title}: s-op {inner} read from the residual ({p['encoding']}, dims {p['dims']}) == rasp eval",
            bad is None,
            bad,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rasp", default=os.path.join(ROOT, "target", "release", "rasp"))
    a = ap.parse_args()
    res = Results()
    if not os.access(a.rasp, os.X_OK):
        res.check("rasp binary", False, f"{a.rasp} is missing: run cargo build --release")
    else:
        with tempfile.TemporaryDirectory(prefix="rasp-export-") as work:
            for name, text in SOURCES.items():
                with open(os.path.join(work, name), "w") as f:
                    f.write(text)
            for seed, case in enumerate(CASES):
                try:
                    run_case(a.rasp, work, res, case, seed)
                except Exception as e:  # a crash is a failure, not a traceback
                    res.check(f"{case[0]}", False, f"{type(e).__name__}: {e}")
    print(f"{res.passed} passed, {res.failed} failed")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
