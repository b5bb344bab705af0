"""Fitting a forest locally: lamforest's pool vs scikit-learn's own n_jobs=-1 vs joblib/loky vs dask.

Same data, parameters and tree count for every contender, all in one
process run, reported as ratios to scikit-learn. Two cases (issue 2):

(a) digits, 500 trees, groves of 10: tiny trees, so overheads dominate;
(b) synthetic:70000x784:10, 100 trees, groves of 10: big trees, so
    scheduling and data movement dominate.

For lamforest the wall time includes dispatch, watching, merge and scoring;
the pool is timed both cold (fresh worker processes, i.e. Lambda cold starts)
and warm (a second build on the same pool). The ideal makespan is the sum
of the groves' measured fit times divided by the worker count.

Run: ``python -m bench.bench_core [--quick]`` (``--quick`` runs case (a) only).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lamforest import data, driver
from lamforest.backend import local_backend
from lamforest.grove import fit
from lamforest.spec import BuildSpec

CASES = {
    "a": ("digits", 500, 10),
    "b": ("synthetic:70000x784:10", 100, 10),
}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def sklearn_fit(X: np.ndarray, y: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, trees: int) -> float:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=0).fit(X, y)
    return float(model.score(X_te, y_te))


def grove_tasks(spec: BuildSpec, task: str) -> list[Any]:
    from lamforest.driver import Plan

    plan = Plan(
        spec=spec,
        task=task,
        data_ref="data/" + "0" * 64,
        n_train=0,
        n_test=0,
        n_features=0,
        classes=None,
        created=0.0,
        backend="bench",
    )
    return plan.events()


def loky_fit(X: np.ndarray, y: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, spec: BuildSpec, workers: int) -> float:
    from joblib import Parallel, delayed

    from lamforest.forest import merge, score

    groves = Parallel(n_jobs=workers, backend="loky")(
        delayed(fit)(t, X, y) for t in grove_tasks(spec, "classification")
    )
    return score(merge(groves), X_te, y_te)


def dask_fit(X: np.ndarray, y: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, spec: BuildSpec, workers: int) -> float:
    from dask.distributed import Client, LocalCluster

    from lamforest.forest import merge, score

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        Xf, yf = client.scatter([X, y], broadcast=True)
        futures = [client.submit(fit, t, Xf, yf, pure=False) for t in grove_tasks(spec, "classification")]
        groves = client.gather(futures)
    return score(merge(groves), X_te, y_te)


def run_case(key: str, workers: int, others: bool = True) -> list[tuple[str, float, float | None, str]]:
    source, trees, grove = CASES[key]
    print(f"\n## case ({key}): {source}, {trees} trees, groves of {grove}, {workers} workers")
    ds = data.load(source, seed=0)
    X_tr, X_te, y_tr, y_te = data.split(ds, 0.2, 0)
    print(f"train {X_tr.shape}, test {X_te.shape}")
    rows: list[tuple[str, float, float | None, str]] = []

    t, acc = timed(lambda: sklearn_fit(X_tr, y_tr, X_te, y_te, trees))
    rows.append(("scikit-learn n_jobs=-1", t, acc, ""))
    print(f"  scikit-learn: {t:.2f} s")

    home = Path(tempfile.mkdtemp(prefix="lamforest-bench-"))
    backend = local_backend(home)
    try:
        for label in ("cold", "warm"):
            spec = BuildSpec(name=f"{key}-{label}", data=source, trees=trees, grove=grove, seed=0, test_size=0.2)
            t_create, _ = timed(lambda spec=spec: driver.create(backend, spec))
            t_run, st = timed(lambda spec=spec: driver.run(backend, spec.name, workers=workers))
            recs = [r.record for r in st.rows]
            work = sum(r["fit_ms"] + r["load_ms"] + r["write_ms"] for r in recs) / 1000
            span = max(r["ended"] for r in recs) - min(r["started"] for r in recs)
            ideal = work / workers
            note = (
                f"create {t_create:.2f}s; fit span {span:.2f}s vs ideal {ideal:.2f}s "
                f"({(span / ideal - 1) * 100:+.1f}%); merge {st.summary['merge_s']:.2f}s"
            )
            rows.append((f"lamforest local ({label} pool)", t_run, st.test_score, note))
            print(f"  lamforest {label}: {t_run:.2f} s  {note}")
    finally:
        backend.close()

    if not others:
        return rows
    spec = BuildSpec(name="x", data=source, trees=trees, grove=grove, seed=0)
    t, acc = timed(lambda: loky_fit(X_tr, y_tr, X_te, y_te, spec, workers))
    rows.append(("joblib/loky", t, acc, "includes loky worker start"))
    print(f"  loky: {t:.2f} s")
    t, acc = timed(lambda: dask_fit(X_tr, y_tr, X_te, y_te, spec, workers))
    rows.append(("dask LocalCluster", t, acc, "includes cluster start"))
    print(f"  dask: {t:.2f} s")
    return rows


def print_table(key: str, rows: list[tuple[str, float, float | None, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    base = rows[0][1]
    source, trees, grove = CASES[key]
    t = Table(title=f"({key}) {source}, {trees} trees, groves of {grove}")
    for col in ("contender", "wall s", "x scikit-learn", "accuracy", "notes"):
        t.add_column(col, justify="left" if col in ("contender", "notes") else "right")
    for name, secs, acc, note in rows:
        t.add_row(name, f"{secs:.2f}", f"{secs / base:.2f}", f"{acc:.4f}" if acc is not None else "-", note)
    Console(width=170).print(t)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="case (a) only")
    p.add_argument("--case", choices=sorted(CASES), action="append")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--only-lamforest", action="store_true", help="skip loky and dask")
    args = p.parse_args(argv)
    cases = args.case or (["a"] if args.quick else ["a", "b"])
    results = {k: run_case(k, args.workers, not args.only_lamforest) for k in cases}
    for k, rows in results.items():
        print_table(k, rows)


if __name__ == "__main__":
    main()
