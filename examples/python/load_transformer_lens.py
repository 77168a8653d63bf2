#!/usr/bin/env python3
"""Load a model compiled by `rasp compile` into TransformerLens and run it.

Targets
    TransformerLens 4.x: `TransformerBridgeConfig.from_dict` +
        `TransformerBridge.boot_native` + `convert_tl_checkpoint` (the
        native bridge model must honour `attention_dir` and
        `normalization_type: null`, as the current 4.x releases do);
    TransformerLens 3.x: `HookedTransformer(HookedTransformerConfig(**cfg))`
        + `load_state_dict` / `load_and_process_state_dict`.
    Written from the TransformerLens API documentation and sources; it is
    not run in this project's CI (torch is too big for it), which checks
    the same conventions in numpy instead (tests/python/test_export.py).
    Also needs numpy and safetensors.

What it does, for each input:
    1. encodes the input with BOS from rasp.json (ids = [bos_id] + the
       index of each token in `vocab`);
    2. runs the model without weight processing and with TransformerLens's
       default processing (`enable_compatibility_mode()` in TL 4,
       `load_and_process_state_dict` in TL 3: the unembedding is centred,
       value biases folded), both through `run_with_cache`;
    3. decodes the output from the logits (docs/model-format.md:
       categorical argmax; numerical (logit0 - logit1) / 2, snapped to the
       output's values, the type decided by the attention pattern, or
       decoded by the output grid position by position or by length);
    4. reads an intermediate s-op from `blocks.{l}.hook_resid_mid` (written
       by attention) or `hook_resid_post` (by an MLP) and the
       placement's dims;
    5. checks the logits against a plain numpy forward pass of the same
       weights (so a TransformerLens version that computes a different
       function says so), and, with --rasp, the outputs against
       `rasp exec --json`.

Usage:
    rasp compile examples/paper.rasp frac_prev_l --vocab helo --max-len 8 -o /tmp/frac
    python3 examples/python/load_transformer_lens.py /tmp/frac hello '"hell"' \\
        [--sop NAME] [--tl auto|3|4] [--rasp target/release/rasp]

Exit status: 0 when everything agrees, 1 on a mismatch.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np


# ---------------------------------------------------------------------------
# The files, encoding and decoding (numpy only; docs/model-format.md)


# The format versions this script decodes (docs/model-format.md; version 4
# is version 5 without output grids, version 5 version 6 without grids
# keyed by length).
READS = (4, 5, 6)


def load_folder(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "rasp.json")) as f:
        meta = json.load(f)
    if meta.get("format") != "rasp-model" or meta.get("format_version") not in READS:
        sys.exit(f"{folder}: not a rasp model of format version 4, 5 or 6 (compile the program again)")
    return config, meta


def parse_input(text):
    """As `rasp exec`: JSON (a string is one token per character, a list
    gives the tokens), or a bare word taken as a string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    return list(value) if isinstance(value, str) else value


def encode(meta, tokens):
    if not tokens:
        raise ValueError("the input is empty: RASP sequences are never empty")
    if len(tokens) > meta["max_len"]:
        raise ValueError(f"{len(tokens)} tokens, but the model takes at most {meta['max_len']}")
    # JSON forms tell 1, 1.0, true and "1" apart, as rasp does.
    index = {json.dumps(t): i for i, t in enumerate(meta["vocab"])}
    try:
        return [meta["bos_id"]] + [index[json.dumps(t)] for t in tokens]
    except KeyError as e:
        raise ValueError(f"token {e.args[0]} is not in the vocabulary {meta['vocab']}") from None


def number(v):
    return None if isinstance(v, str) else float(v)


def snap(values, x):
    """Every listed value equal to the listed number nearest to x (the
    first listed on ties), or [x] when none is listed."""
    best = None
    for v in values:
        p = number(v)
        if p is not None and math.isfinite(p) and (best is None or abs(p - x) < abs(best - x)):
            best = p
    return [x] if best is None else [v for v in values if number(v) == best]


def has_twins(values):
    nums = [number(v) for v in values if number(v) is not None]
    return len(nums) != len(set(nums))


def one_head(p):
    if p["encoding"] == "numerical" and p["sublayer"] == "attn" and len(p["heads"]) == 1:
        return (p["layer"], p["heads"][0])
    return None


def kind_heads(meta):
    """The heads whose attention decides whether a numerical output is a
    float (a mean of several keys) or not (one key, or the default)."""
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
    """A gridded output at output position i of an input of `length`
    tokens: the nearest candidate over the numbers of keys w listed for
    the position (or for the length, with "by": "length"; the first on
    ties): the default (w = 0), the integer itself (w = 1), s / w with
    s = round(x * w)."""
    best = None
    slot = length - 1 if grid.get("by") == "length" else i
    for a, b in grid["widths"][slot]:
        for w in range(a, b + 1):
            if w == 0:
                v = grid["default"]
            else:
                y = x * w  # rounded half away from zero
                s = int(math.copysign(math.floor(abs(y) + 0.5), y))
                s = min(max(s, grid["lo"] * w), grid["hi"] * w)
                v = s if w == 1 else s / w
            if best is None or abs(v - x) < abs(best - x):
                best = v
    return best


def decode_output(meta, logits, patterns):
    """logits [pos, d_vocab_out] of one unpadded input (BOS, then one row
    per token: a grid keyed by length reads the length off the rows);
    patterns[l] [head, q, k]. Positions 1..."""
    out = meta["output"]
    rows = logits[1:]
    if out["encoding"] == "categorical":
        return [out["values"][int(np.argmax(r))] for r in rows]
    if meta.get("output_grid"):
        grid = meta["output_grid"]
        return [grid_value(grid, i, len(rows), float(r[0] - r[1]) / 2) for i, r in enumerate(rows)]
    heads = kind_heads(meta)
    result = []
    for i, r in enumerate(rows):
        same = snap(out["values"], float(r[0] - r[1]) / 2)
        value = same[0]
        if len(same) > 1 and heads:
            mean = False
            for layer, h in heads:
                w = patterns[layer][h, i + 1]
                mean |= int((w >= 0.5 * w.max()).sum()) != 1
            kinds = [v for v in same if isinstance(v, float) == mean]
            value = kinds[0] if kinds else same[0]
        result.append(value)
    return result


def read_placement(p, resid):
    """An s-op from a residual [pos, d_model] (positions 1..)."""
    rows = resid[1:]
    if p["encoding"] == "categorical":
        return [p["values"][int(np.argmax(r[p["dims"]]))] for r in rows]
    coefs = p.get("coefs") or [1.0] * len(p["dims"])
    return [snap(p["values"], float(np.dot(r[p["dims"]], coefs)))[0] for r in rows]


def reference_logits(weights, config, meta, ids):
    """The forward pass of docs/model-format.md, in float64 numpy."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    ids = np.asarray(ids)
    n = len(ids)
    x = w["embed.W_E"][ids] + w["pos_embed.W_pos"][:n]
    masked = np.zeros((n, n), dtype=bool) | (ids == meta["pad_id"])[None, :]
    if config["attention_dir"] == "causal":
        masked |= np.triu(np.ones((n, n), dtype=bool), k=1)
    scale = config["attn_scale"] if config["use_attn_scale"] else 1.0
    for l in range(config["n_layers"]):
        a, m = f"blocks.{l}.attn.", f"blocks.{l}.mlp."
        q = np.einsum("pd,hde->hpe", x, w[a + "W_Q"]) + w[a + "b_Q"][:, None]
        k = np.einsum("pd,hde->hpe", x, w[a + "W_K"]) + w[a + "b_K"][:, None]
        v = np.einsum("pd,hde->hpe", x, w[a + "W_V"]) + w[a + "b_V"][:, None]
        s = np.where(masked[None], -np.inf, np.einsum("hpe,hqe->hpq", q, k) / scale)
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        x = x + np.einsum("hpq,hqe,hed->pd", p, v, w[a + "W_O"]) + w[a + "b_O"]
        if not config["attn_only"]:
            x = x + np.maximum(x @ w[m + "W_in"] + w[m + "b_in"], 0) @ w[m + "W_out"] + w[m + "b_out"]
    return x @ w["unembed.W_U"] + w["unembed.b_U"]


def same(a, b):
    """Equal values of equal JSON types (floats within 1e-6: a number no
    value list snaps is the raw float)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and not abs(x - y) <= 1e-6 * max(1.0, abs(y)):
            return False
        if not isinstance(x, float) and x != y:
            return False
    return True


# ---------------------------------------------------------------------------
# TransformerLens


def tl_models(folder, config, which):
    """[(label, model)] for the raw and the processed model, and the TL
    line used ("3" or "4")."""
    import torch  # noqa: F401  (TransformerLens needs it; fail here if absent)
    from safetensors.torch import load_file

    weights = load_file(os.path.join(folder, "model.safetensors"))

    bridge = None
    if which in ("auto", "4"):
        try:
            from transformer_lens.config import TransformerBridgeConfig
            from transformer_lens.model_bridge import TransformerBridge

            bridge = (TransformerBridgeConfig, TransformerBridge)
        except ImportError:
            if which == "4":
                raise
    if bridge is not None and hasattr(bridge[1], "boot_native"):
        TransformerBridgeConfig, TransformerBridge = bridge
        try:
            from transformer_lens.conversion_utils import convert_tl_checkpoint
        except ImportError:
            from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

        def boot():
            cfg = TransformerBridgeConfig.from_dict(dict(config))
            model = TransformerBridge.boot_native(cfg)
            # The native unembedding has no bias; compiled models' b_U is 0.
            sd = {k: v for k, v in weights.items() if k != "unembed.b_U"}
            if weights["unembed.b_U"].abs().max() > 0:
                print("warning: b_U is not zero and the bridge has no unembedding bias", file=sys.stderr)
            missing, unexpected = model.load_state_dict(convert_tl_checkpoint(sd, cfg), strict=False)
            real = [k for k in missing if not any(s in k for s in ("ln", "norm", "mask", "IGNORE"))]
            if real or unexpected:
                print(f"warning: missing {real}, unexpected {unexpected}", file=sys.stderr)
            model.eval()
            return model

        raw = boot()
        processed = boot()
        processed.enable_compatibility_mode()
        return [("raw", raw), ("enable_compatibility_mode()", processed)], "4"

    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(**config)
    raw = HookedTransformer(cfg)
    raw.load_state_dict(weights, strict=False)  # strict=False: mask buffers
    processed = HookedTransformer(cfg)
    processed.load_and_process_state_dict(
        weights, fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True
    )
    for m in (raw, processed):
        m.eval()
    return [("raw", raw), ("load_and_process_state_dict", processed)], "3"


def cached(cache, names):
    """The first of `names` the cache has (TL 3 and TL 4 compatibility mode
    use the HookedTransformer names; a plain TL 4 bridge its own)."""
    for name in names:
        try:
            return cache[name]
        except (KeyError, IndexError, AttributeError):
            continue
    raise KeyError(f"none of {names} in the activation cache")


def run_tl(model, meta, config, ids):
    import torch

    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.tensor([ids]))
    patterns = [
        cached(cache, [f"blocks.{l}.attn.hook_pattern"])[0].double().cpu().numpy()
        for l in range(config["n_layers"])
    ]
    resid_post = [
        cached(cache, [f"blocks.{l}.hook_resid_post", f"blocks.{l}.hook_out"])[0].double().cpu().numpy()
        for l in range(config["n_layers"])
    ]
    resid_mid = [
        cached(cache, [f"blocks.{l}.hook_resid_mid"])[0].double().cpu().numpy()
        for l in range(config["n_layers"])
    ]
    return logits[0].double().cpu().numpy(), patterns, (resid_mid, resid_post)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="Run a rasp model in TransformerLens.")
    ap.add_argument("folder", help="a folder written by `rasp compile`")
    ap.add_argument("inputs", nargs="+", help='inputs as for `rasp exec`: "hello", \'[1, 2]\', ...')
    ap.add_argument("--sop", help="an intermediate s-op to read from the residual (default: the first one written by a layer)")
    ap.add_argument("--tl", choices=["auto", "3", "4"], default="auto", help="TransformerLens line (default: 4 when available)")
    ap.add_argument("--rasp", help="a rasp binary: compare the outputs with `rasp exec --json`")
    a = ap.parse_args()

    config, meta = load_folder(a.folder)
    placements = [p for p in meta["sops"] if p["name"] == a.sop] if a.sop else [
        p for p in meta["sops"] if p["layer"] is not None and p["name"] != meta["output"]["name"]
    ] or [meta["output"]]
    if not placements:
        sys.exit(f"no s-op {a.sop!r} in rasp.json; it has {[p['name'] for p in meta['sops']]}")
    inner = placements[0]

    models, line = tl_models(a.folder, config, a.tl)
    print(f"TransformerLens {line}.x; {meta['sop']} from {meta['file']}; intermediate s-op {inner['name']}")
    from safetensors.numpy import load_file as load_numpy

    weights = load_numpy(os.path.join(a.folder, "model.safetensors"))

    want = None
    if a.rasp:
        out = subprocess.run([a.rasp, "exec", a.folder, "--json"] + a.inputs, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"rasp exec failed: {out.stderr}")
        want = [json.loads(line)["output"] for line in out.stdout.splitlines()]

    failed = False
    for k, text in enumerate(a.inputs):
        tokens = parse_input(text)
        ids = encode(meta, tokens)
        reference = reference_logits(weights, config, meta, ids)
        for label, model in models:
            logits, patterns, (resid_mid, resid_post) = run_tl(model, meta, config, ids)
            output = decode_output(meta, logits, patterns)
            # Read an s-op right after the sublayer that writes it: a later
            # MLP may reuse its dims (its placement's `cleared_in`).
            layer = 0 if inner["layer"] is None else inner["layer"]
            after = resid_mid if inner["sublayer"] == "attn" else resid_post
            value = read_placement(inner, after[layer])
            print(f"{json.dumps(tokens)} [{label}]: {meta['sop']} = {json.dumps(output)}; {inner['name']} = {json.dumps(value)}")
            # Processing may shift every logit of a position by the same
            # amount: compare the decodings, and the raw logits for "raw".
            ref_out = decode_output(meta, reference, patterns)
            if label == "raw" and not np.allclose(logits, reference, atol=1e-3 * max(1.0, np.abs(reference).max())):
                print("  MISMATCH: TransformerLens's logits differ from the documented forward pass "
                      "(an always-causal mask or a layer norm in this TL version?)")
                failed = True
            if not same(output, ref_out):
                print(f"  MISMATCH: the documented forward pass decodes to {json.dumps(ref_out)}")
                failed = True
            if want is not None and not same(output, want[k]):
                print(f"  MISMATCH: rasp exec gives {json.dumps(want[k])}")
                failed = True
    print("all outputs agree" if not failed else "some outputs disagree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
