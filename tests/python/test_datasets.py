"""rasp gen's files load as they are: JSON lines with `json` and
`datasets.load_dataset("json", ...)`, Parquet with pyarrow and
`datasets.load_dataset("parquet", ...)`, every preset, the same examples in
both. Prints "N passed, M failed"; exits non-zero on a failure.

Usage: python3 tests/python/test_datasets.py --rasp target/release/rasp
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq

try:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
except ImportError:  # pyarrow alone still checks the files
    datasets = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rasp", required=True)
    args = ap.parse_args()
    rasp = os.path.abspath(args.rasp)
    listing = subprocess.run([rasp, "gen", "--list"], capture_output=True, text=True, check=True)
    tasks = [l.split()[0] for l in listing.stdout.splitlines() if l and not l[0].isspace()]
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {what}")
        else:
            failed += 1
            print(f"FAIL {what}")

    with tempfile.TemporaryDirectory() as tmp:
        if datasets is not None:
            os.environ["HF_DATASETS_CACHE"] = os.path.join(tmp, "hf-cache")
        for task in tasks:
            paths = {}
            for fmt, ext in [("jsonl", "jsonl"), ("parquet", "parquet")]:
                path = os.path.join(tmp, f"{task}.{ext}")
                subprocess.run(
                    [rasp, "gen", "--task", task, "-n", "300", "--seed", "4",
                     "--format", fmt, "-o", path, "-q"],
                    check=True,
                )
                paths[fmt] = path
            with open(paths["jsonl"]) as f:
                rows = [json.loads(l) for l in f]
            table = pq.read_table(paths["parquet"])
            prow = table.to_pylist()
            check(len(rows) == 300 and len(prow) == 300, f"{task}: 300 rows in both")
            # Parquet keeps the values (a column of ints and floats is doubles).
            same = all(
                r["input"] == p["input"]
                and len(r["output"]) == len(p["output"])
                and all(a == b for a, b in zip(r["output"], p["output"]))
                for r, p in zip(rows, prow)
            )
            check(same, f"{task}: parquet rows == json lines")
            info = json.load(open(paths["parquet"] + ".info.json"))
            check(info["examples"] == 300 and info["program"]["task"] == task,
                  f"{task}: sidecar")
            if datasets is not None:
                dj = datasets.load_dataset("json", data_files=paths["jsonl"], split="train")
                dp = datasets.load_dataset("parquet", data_files=paths["parquet"], split="train")
                check(dj.num_rows == 300 and dp.num_rows == 300
                      and dp[0]["input"] == rows[0]["input"]
                      and dj[0]["output"] == rows[0]["output"],
                      f"{task}: datasets.load_dataset json and parquet")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
