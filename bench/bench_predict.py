"""Distributed vs merged predict: rows/s and the driver's peak memory, in the same run.

One forest is built on the local backend; then two fresh driver processes
predict its held-out rows, one by loading the merged model (``driver.predict``),
one with ``predict.predict_distributed`` (groves stay in the workers). Each
driver reports its own peak RSS (``VmHWM``) and the rows/s it saw; a third
process that only imports the same modules gives the baseline.

Run: ``python bench/bench_predict.py`` (``DATA``/``TREES`` below set the size).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

DATA = "synthetic:40000x20:4"
TREES, GROVE, BATCH = 80, 10, 2

CHILD = r"""
import json, sys, time
from lamforest import driver
from lamforest.driver import distributed as predict
from lamforest.backend import local_backend
mode, home = sys.argv[1], sys.argv[2]
b = local_backend(home)
try:
    t0 = time.perf_counter()
    if mode == "merged":
        p = driver.predict(b, "bp")
        rows = p.rows
    elif mode == "distributed":
        rows = predict.predict_distributed(b, "bp", batch_groves=int(sys.argv[3]), workers=2).prediction.rows
    else:
        rows = 0
    wall = time.perf_counter() - t0
finally:
    b.close()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (the process that built the forest).
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"rows": rows, "wall_s": wall, "peak_mb": hwm / 1024}))
"""


def _child(mode: str, home: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, home, str(BATCH)], check=True, capture_output=True, text=True, timeout=900
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from lamforest import driver
    from lamforest.backend import local_backend
    from lamforest.spec import BuildSpec

    home = tempfile.mkdtemp(prefix="bench-predict-")
    backend = local_backend(home)
    try:
        t0 = time.perf_counter()
        driver.create(backend, BuildSpec(name="bp", data=DATA, trees=TREES, grove=GROVE))
        st = driver.run(backend, "bp", workers=2)
        print(
            f"built {TREES} trees on {DATA} in {time.perf_counter() - t0:.1f} s; model "
            f"{((st.summary or {}).get('model_bytes') or 0) / 1e6:.1f} MB compressed; {st.plan.n_test} rows to predict"
        )
    finally:
        backend.close()
    base = _child("baseline", home)
    rows = [
        ("merged (load model.tree)", _child("merged", home)),
        (f"distributed ({-(-TREES // GROVE // BATCH)} events of {BATCH} groves)", _child("distributed", home)),
    ]
    print(f"\n{'mode':<36} {'rows':>7} {'wall s':>8} {'rows/s':>10} {'driver peak MB':>15} {'above baseline':>15}")
    for label, r in rows:
        print(
            f"{label:<36} {r['rows']:>7} {r['wall_s']:>8.2f} {r['rows'] / r['wall_s']:>10,.0f} "
            f"{r['peak_mb']:>15.0f} {r['peak_mb'] - base['peak_mb']:>15.0f}"
        )
    print(f"{'baseline (imports, open backend)':<36} {'':>7} {'':>8} {'':>10} {base['peak_mb']:>15.0f}")


if __name__ == "__main__":
    main()
