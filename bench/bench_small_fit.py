"""Small fits from Python, as a notebook makes them: lamforest's estimator beside scikit-learn's.

Rows (each a ratio to scikit-learn measured in the same run):

- *first fit*: a fresh Python process imports the estimator, loads digits and fits 10 trees
  (``n_jobs=-1``, the line users write); timed inside the process from before the import to
  after ``predict``, the ``fit(...).predict(...)`` call alone, and the whole process's wall time.
- *warm fit*: in one process, the median of 10 further fits of 10 trees on digits.

A fit smaller than a worker's start-up runs in the caller's process (``IN_PROCESS_WORK``), so
neither row waits for a worker to start; the trees are those the pool grows (tests/test_in_process.py).

Run: ``python -m bench.bench_small_fit``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SCRIPT = """
import json, statistics, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "lamforest":
    from lamforest import RandomForestClassifier
    extra = {"progress": False}
else:
    from sklearn.ensemble import RandomForestClassifier
    extra = {}
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
t1 = time.perf_counter()
RandomForestClassifier(n_estimators=10, n_jobs=-1, random_state=0, **extra).fit(X, y).predict(X)
first = time.perf_counter() - t0
call = time.perf_counter() - t1
warm = []
for seed in range(1, 11):
    t = time.perf_counter()
    RandomForestClassifier(n_estimators=10, n_jobs=-1, random_state=seed, **extra).fit(X, y)
    warm.append(time.perf_counter() - t)
print(json.dumps({"first": first, "call": call, "warm": statistics.median(warm)}))
"""


def run(kind: str, home: str) -> dict[str, float]:
    env = {**os.environ, "LAMFOREST_HOME": home}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind], env=env, capture_output=True, text=True, check=True, timeout=600
    )
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    doc["process"] = time.perf_counter() - t0
    return doc


def main() -> None:
    rounds = 3
    results: dict[str, list[dict[str, float]]] = {"scikit-learn": [], "lamforest": []}
    with tempfile.TemporaryDirectory() as home:
        for _ in range(rounds):  # interleaved, so that a noisy moment hits both
            results["scikit-learn"].append(run("sklearn", home))
            results["lamforest"].append(run("lamforest", home))
    print(f"\nsmall fits from Python: digits, 10 trees, n_jobs=-1 (median of {rounds} fresh processes)")
    print(f"{'measure':<32}{'scikit-learn':>14}{'lamforest':>12}{'ratio':>9}")
    for key, label in (
        ("first", "first fit in a fresh process"),
        ("call", "  its fit + predict call alone"),
        ("process", "  whole process, wall"),
        ("warm", "warm fit (median of 10)"),
    ):
        sk = statistics.median(r[key] for r in results["scikit-learn"])
        lf = statistics.median(r[key] for r in results["lamforest"])
        print(f"{label:<32}{sk:>13.3f}s{lf:>11.3f}s{lf / sk:>8.2f}x")


if __name__ == "__main__":
    main()
