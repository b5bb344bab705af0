"""Forests bigger than one machine: the driver's peak memory does not grow with the forest.

Data (seeded): 50,000 rows x 10 features, uniform noise, random labels of 10
classes, so every tree grows fully (~19,000 nodes, ~3 MB): 1,000 trees are
a merged forest of about 3 GB. For each tree count, fresh processes:

- ``build``: a lamforest driver creates and runs the build on the local
  backend (2 workers, ``--merge never``): fit, then the streamed finish
  (held-out score, OOB score, manifest). Reports its own peak RSS (VmHWM)
  and the workers' (from their REPORT lines, as on Lambda).
- ``predict``: a fresh driver predicts 20,000 and 100,000 new unlabelled rows
  into .npy files by streaming the groves. Reports its peak RSS.
- ``merge``: a fresh driver finishes the grove set again asked to merge
  (``--merge always``): it votes and writes ``model.tree`` grove by grove,
  never holding the forest. Reports its finish peak and the file's size;
  then a fresh driver predicts 20,000 rows of the merged build (a merged
  forest this large votes grove by grove too).
- ``sklearn``: scikit-learn's ``RandomForestClassifier(n_jobs=-1)`` fit and
  ``predict_proba`` of the same rows, in one process: its peak RSS.
- ``check``: the merged file loaded whole into one scikit-learn forest, whose
  ``predict_proba`` must equal the grove set's predictions, to the bit.

Run: ``python bench/bench_bigforest.py [TREES ...]`` (default 100 1000).
Fitting 1,000 such trees takes several minutes on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS, COLS, CLASSES, NEW_ROWS, GROVE, SEED = 50_000, 10, 10, 100_000, 10, 0
FEW_ROWS = 20_000  # the predict of the goal's bar
TEST_SIZE = 0.02  # a small held-out set: most rows train, as in the tree-size field note

PEAK = r"""
def _peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
"""

# The driver's process as the lamforest command runs it (``cli.console``): one malloc arena, pandas hidden.
AS_COMMAND = r"""
from lamforest.memory import one_arena
from lamforest.worker import boot
one_arena()
boot.hide()
"""

CHILD_BUILD = (
    PEAK
    + AS_COMMAND
    + r"""
import json, sys, time
from lamforest import driver, memory
from lamforest.backend import local_backend
from lamforest.driver.finish import MergePolicy
from lamforest.spec import BuildSpec
home, name, train, trees, grove, test_size = sys.argv[1:7]
# finish starts its own peak over (to report the finish phase): keep the peak before it, so the
# whole process's peak (create, dispatch, watch, finish) is the larger of the two.
before_finish = []
_reset = memory.reset_peak
def _recording_reset():
    before_finish.append(_peak_mb())
    return _reset()
memory.reset_peak = _recording_reset
b = local_backend(home)
try:
    t0 = time.perf_counter()
    driver.create(b, BuildSpec(name=name, data=train, trees=int(trees), grove=int(grove), test_size=float(test_size)))
    st = driver.run(b, name, workers=2, merge=MergePolicy("never"))
    wall = time.perf_counter() - t0
finally:
    b.close()
s = st.summary
print(json.dumps({"state": st.state, "wall_s": wall, "peak_mb": max([_peak_mb(), *before_finish]),
                  "before_finish_peak_mb": max(before_finish, default=None), "finish_peak_mb":
                  s["memory"]["driver_finish_peak_mb"], "worker_peak_mb": s["memory"]["worker_peak_mb"],
                  "forest_mb": s["forest_mb"], "test_score": s["test_score"], "oob_score": s["oob_score"]}))
"""
)

CHILD_PREDICT = (
    PEAK
    + AS_COMMAND
    + r"""
import json, sys, time
from lamforest import driver
from lamforest.backend import local_backend
home, name, rows, out = sys.argv[1:5]
b = local_backend(home)
try:
    t0 = time.perf_counter()
    p = driver.predict(b, name, rows, out=out, force=True)
    wall = time.perf_counter() - t0
finally:
    b.close()
print(json.dumps({"wall_s": wall, "peak_mb": _peak_mb(), "rows": p.rows}))
"""
)

CHILD_MERGE = (
    AS_COMMAND
    + r"""
import json, sys, time
from lamforest import driver
from lamforest.backend import local_backend
from lamforest.driver.finish import MergePolicy
home, name = sys.argv[1:3]
b = local_backend(home)
try:
    t0 = time.perf_counter()
    st = driver.finish(b, name, merge=MergePolicy("always"))
    wall = time.perf_counter() - t0
finally:
    b.close()
s = st.summary
print(json.dumps({"wall_s": wall, "finish_peak_mb": s["memory"]["driver_finish_peak_mb"],
                  "model_kind": s["model_kind"], "model_mb": (s["model_bytes"] or 0) / 1e6,
                  "test_score": s["test_score"], "oob_score": s["oob_score"]}))
"""
)

CHILD_SKLEARN = (
    PEAK
    + r"""
import json, sys, time
import numpy as np
from sklearn.ensemble import RandomForestClassifier
train, rows, trees = sys.argv[1], sys.argv[2], int(sys.argv[3])
with np.load(train) as z:
    X, y = z["X"], z["y"]
t0 = time.perf_counter()
m = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=0).fit(X, y)
t_fit = time.perf_counter() - t0
m.predict_proba(np.load(rows))
print(json.dumps({"fit_s": t_fit, "wall_s": time.perf_counter() - t0, "peak_mb": _peak_mb()}))
"""
)

CHILD_CHECK = (
    PEAK
    + r"""
import json, sys
import numpy as np
from lamforest.backend import local_backend
from lamforest import driver
home, name, rows, out = sys.argv[1:5]
b = local_backend(home)
try:
    merged = driver.load_model(b, name)  # the file finish wrote grove by grove, checked and loaded whole
finally:
    b.close()
merged.n_jobs = None
theirs = merged.predict_proba(np.load(rows))
ours = np.load(out)[:, 1:]
labels = merged.classes_.take(np.argmax(theirs, axis=1))
print(json.dumps({"max_abs_diff": float(np.max(np.abs(ours - theirs))), "equal": bool(np.array_equal(ours, theirs)),
                  "labels_equal": bool(np.array_equal(np.load(out)[:, 0], labels)), "peak_mb": _peak_mb()}))
"""
)


def _run(code: str, *args: object) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=True, capture_output=True, text=True, timeout=7200
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_data(folder: Path) -> tuple[Path, Path, Path]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    X = rng.random((ROWS, COLS), dtype=np.float32)
    y = rng.integers(0, CLASSES, ROWS)
    train = folder / "train.npz"
    np.savez(train, X=X, y=y)
    rows, few = folder / "new_rows.npy", folder / "few_rows.npy"
    new = rng.random((NEW_ROWS, COLS), dtype=np.float32)
    np.save(rows, new)
    np.save(few, new[:FEW_ROWS])
    return train, rows, few


def measure(folder: Path, train: Path, rows: Path, few: Path, trees: int, sklearn: bool = True) -> dict:
    home, name = folder / f"home-{trees}", f"big-{trees}"
    home.mkdir()
    out, few_out = folder / f"pred-{trees}.npy", folder / f"pred-few-{trees}.npy"
    r: dict = {"trees": trees}
    r["build"] = _run(CHILD_BUILD, home, name, train, trees, GROVE, TEST_SIZE)
    print(f"  {trees} trees: build {r['build']}", flush=True)
    r["predict_few"] = _run(CHILD_PREDICT, home, name, few, few_out)
    print(f"  {trees} trees: predict {FEW_ROWS:,} rows {r['predict_few']}", flush=True)
    r["predict"] = _run(CHILD_PREDICT, home, name, rows, out)
    print(f"  {trees} trees: predict {NEW_ROWS:,} rows {r['predict']}", flush=True)
    r["merge"] = _run(CHILD_MERGE, home, name)
    print(f"  {trees} trees: finish --merge always {r['merge']}", flush=True)
    r["merged_predict"] = _run(CHILD_PREDICT, home, name, few, few_out)
    print(f"  {trees} trees: predict {FEW_ROWS:,} rows, merged build {r['merged_predict']}", flush=True)
    r["check"] = _run(CHILD_CHECK, home, name, rows, out)
    print(f"  {trees} trees: check {r['check']}", flush=True)
    if sklearn:
        r["sklearn"] = _run(CHILD_SKLEARN, train, rows, trees)
        print(f"  {trees} trees: sklearn {r['sklearn']}", flush=True)
    return r


def table(results: list[dict]) -> str:
    lines = [
        "| trees | merged size | lamforest build+finish: driver peak | workers' peak | predict 20k rows: driver peak "
        "| predict 100k rows | finish writing model.tree (--merge always): driver peak | predict 20k, merged build "
        "| scikit-learn fit+predict peak (n_jobs=-1) | model.tree vs the grove set's predictions |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        b, f, p, m, mp = r["build"], r["predict_few"], r["predict"], r["merge"], r["merged_predict"]
        c, s = r.get("check"), r.get("sklearn")
        same = "-" if c is None else ("equal to the bit" if c["equal"] else f"max diff {c['max_abs_diff']:.1e}")
        lines.append(
            f"| {r['trees']:,} | {b['forest_mb']:,.0f} MB | {b['peak_mb']:,.0f} MB ({b['wall_s']:.0f} s) | "
            f"{b['worker_peak_mb']:,.0f} MB | {f['peak_mb']:,.0f} MB ({f['wall_s']:.0f} s) | "
            f"{p['peak_mb']:,.0f} MB ({p['wall_s']:.0f} s) | "
            f"{m['finish_peak_mb']:,.0f} MB ({m['wall_s']:.0f} s, file {m['model_mb']:,.0f} MB) | "
            f"{mp['peak_mb']:,.0f} MB ({mp['wall_s']:.0f} s) | "
            + (f"{s['peak_mb']:,.0f} MB ({s['wall_s']:.0f} s) | " if s else "- | ")
            + same
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [100, 1000]
    folder = Path(tempfile.mkdtemp(prefix="bench-bigforest-"))
    train, rows, few = make_data(folder)
    print(f"{ROWS:,} x {COLS} random {CLASSES}-class rows, groves of {GROVE}, {NEW_ROWS:,} new rows; in {folder}")
    t0 = time.perf_counter()
    results = [measure(folder, train, rows, few, n) for n in counts]
    print(table(results))
    if len(results) > 1:
        a, b = results[0]["build"]["peak_mb"], results[-1]["build"]["peak_mb"]
        pa, pb = results[0]["predict"]["peak_mb"], results[-1]["predict"]["peak_mb"]
        print(
            f"driver peak, {counts[-1]} vs {counts[0]} trees: build+finish {b / a - 1:+.0%}, predict {pb / pa - 1:+.0%}"
        )
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
