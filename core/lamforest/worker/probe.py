"""The estimate's sample grove, timed as a worker fits it.

``python -m lamforest.worker.probe FOLDER CONFIG STARTED_NS`` imports what a worker imports
(the INIT, timed from ``STARTED_NS`` as the local pool times it), memory-maps the train set in
FOLDER, fits one grove through ``grove.fit`` on one core, writes it with ``artifacts`` as a worker
does, and times the driver's per-tree work (read a grove back, predict the test set); it prints one
JSON line. With FOLDER ``-`` it only times its INIT; with ``trees`` in CONFIG it only times that
grove again (a contention run).
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _tree_mem_mb(est: Any) -> float:
    total = 0
    for tree in est.estimators_:
        state = tree.tree_.__getstate__()
        total += state["nodes"].nbytes + state["values"].nbytes
    return total / 1e6 / max(1, len(est.estimators_))


def _probe(folder: Path, config: dict[str, Any], started_ns: int) -> dict[str, Any]:
    """Run inside a fresh interpreter: time INIT, then one worker-like grove and the driver's per-tree work."""
    from lamforest.worker.boot import init

    init()  # the environment's INIT, as the local pool times it

    init_ms = (time.time_ns() - started_ns) / 1e6
    from lamforest import artifacts, keys
    from lamforest.events import FitEvent
    from lamforest.grove import bootstraps, fit, oob_sums
    from lamforest.memory import peak_mb as _rss_mb

    rss_base = _rss_mb()
    X_te: np.ndarray | None = None
    if "sample" in config:  # sharded data: read one grove's shards, as a worker does
        X, y, X_te, config = _sharded(folder, config)
    else:
        X = np.load(folder / keys.DATA_X, mmap_mode="r", allow_pickle=False)
        y = np.load(folder / keys.DATA_Y, mmap_mode="r", allow_pickle=False)
    float(np.asarray(X).sum(dtype=np.float64))  # touch every page, as a fit does
    rss_data = _rss_mb()

    def task(trees: int) -> FitEvent:
        return FitEvent(
            build="sample",
            grove=0,
            seed=int(config["seed"]),
            trees=trees,
            data=keys.data_ref("0" * 64),
            model=config["model"],
            task=config["task"],
            params=config["params"],
            chunk=int(config["chunk"]),
        )

    if "trees" in config:  # a contention run: the solo run's grove again, nothing else
        t0 = time.perf_counter()
        fit(task(1), X, y)  # the same warm-up as the solo run
        t0 = time.perf_counter()
        fit(task(int(config["trees"])), X, y)
        return {"fit_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    fit(task(1), X, y)
    pilot_s = time.perf_counter() - t0
    if pilot_s < config["budget_s"] / 5:  # cheap: time it again, warm, as a worker's later groves are
        t0 = time.perf_counter()
        fit(task(1), X, y)
        pilot_s = time.perf_counter() - t0
    k = int(min(config["max_trees"], max(2, math.floor(config["budget_s"] / max(pilot_s, 1e-6)))))
    marks: list[float] = []

    def mark() -> bool:
        marks.append(time.perf_counter())
        return False

    t0 = time.perf_counter()
    grove = fit(task(k), X, y, should_stop=mark)
    fit_s = time.perf_counter() - t0
    rss_fit = _rss_mb()
    chunk_s = [b - a for a, b in itertools.pairwise(marks)][1:]  # the first chunk warms caches up
    oob_s = 0.0
    if bootstraps(config["params"], config["model"]) and np.ndim(y) == 1:  # as grove.fit: 1-D y has sums
        t0 = time.perf_counter()
        oob_sums(grove.estimator, X, y)
        oob_s = time.perf_counter() - t0
        a = grove.oob_sum
        assert a is not None  # a bootstrapped grove carries its OOB sums
        t0 = time.perf_counter()
        _ = a + a
        oob_add_s = time.perf_counter() - t0
    else:
        oob_add_s = 0.0
    t0 = time.perf_counter()
    blob = artifacts.dumps_grove(grove)
    dump_s = time.perf_counter() - t0
    grove_bytes = len(blob)
    t0 = time.perf_counter()
    loaded = artifacts.loads_grove(blob).estimator
    load_s = time.perf_counter() - t0
    if X_te is None:
        X_te = np.load(folder / keys.SAMPLE_X_TEST, allow_pickle=False)
    loaded.n_jobs = 1
    predict_s = 0.0  # no held-out rows (test size 0): the build votes on none, so the score costs nothing
    if len(X_te):
        t0 = time.perf_counter()
        loaded.predict(X_te)
        predict_s = time.perf_counter() - t0
    return {
        "init_ms": init_ms,
        "trees": k,
        "pilot_fit_s": pilot_s,
        "fit_s": fit_s,
        "chunk_s": chunk_s,
        "oob_s": oob_s,
        "oob_add_s": oob_add_s,
        "dump_s": dump_s,
        "grove_bytes": grove_bytes,
        "load_s": load_s,
        "predict_s": predict_s,
        "tree_mem_mb": _tree_mem_mb(grove.estimator),
        "rss_base_mb": rss_base,
        "rss_data_mb": rss_data,
        "rss_fit_mb": rss_fit,
        "rows": int(X.shape[0]),
        "task": config["task"],
        "classes": len(np.unique(y)) if config["task"] == "classification" else 0,
    }


def _sharded(folder: Path, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """A grove's sample of sharded data and the held-out rows of the same shards; the task resolved as the
    scan resolves it (text or few whole values: classification)."""
    from lamforest import keys, shards
    from lamforest.worker.shardjob import rows_of

    sset = shards.ShardSet.from_json((folder / keys.SHARD_LIST).read_bytes())
    s = config["sample"]
    X, y, _ = rows_of(sset, s["shards"], s["split_seed"], s["test_size"], want_test=False)
    X_te, _, _ = rows_of(sset, s["shards"], s["split_seed"], s["test_size"], want_test=True)
    assert y is not None
    from lamforest.spec import SpecError

    missing = (y == "") if y.dtype.kind in "US" else np.isnan(y.astype(np.float64))
    if missing.any():
        raise SpecError(
            "target",
            f"{sset.source}: the target has {int(missing.sum())} missing value(s) in the sample's shards; "
            "`lamforest build` names the shard (its scan refuses them)",
        )
    if not len(X_te):  # no held-out rows (test size 0): time predict on train rows instead
        X_te = X[: min(len(X), 1000)]
    task = config["task"]
    if task == "auto":
        text = y.dtype.kind in "US"
        whole = text or bool(np.all(np.equal(np.mod(y, 1), 0)))
        task = "classification" if text or (whole and len(np.unique(y)) <= 100) else "regression"
    return X, shards.labels(y, task), X_te, {**config, "task": task}


def _init_only(started_ns: int) -> dict[str, Any]:
    from lamforest.worker.boot import init

    init()  # as a local worker starts

    return {"init_ms": (time.time_ns() - started_ns) / 1e6}


if __name__ == "__main__":
    if sys.argv[1] == "-":
        result = _init_only(int(sys.argv[3]))
    else:
        result = _probe(Path(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]))
    sys.stdout.write(json.dumps(result) + "\n")
