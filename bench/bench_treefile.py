"""Tree files (``lamforest.treefile``) against joblib lz4 level 1 (how groves were stored before tree files).

Two groves of 10 fully grown trees: 50,000 rows x 10 features with random
10-class labels (trees of ~40,000 nodes, the size a real grove reaches) and
digits; and a merged digits model of 300 trees, where per-tree overhead
shows. Dump and load times are medians of several runs; ratios are
treefile / joblib. The target is loading no slower than 1.5x joblib.

Run: ``python bench/bench_treefile.py``.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from typing import Any

import joblib

TREES = 10
MODEL_TREES = 300
REPEATS = 5


def _median(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _joblib_dumps(model: Any) -> bytes:
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=("lz4", 1))
    return buf.getvalue()


def _groves() -> list[tuple[str, Any, Any]]:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 10)).astype(np.float32)
    y = rng.integers(0, 10, size=50_000)
    noise = RandomForestClassifier(n_estimators=TREES, random_state=0, n_jobs=2).fit(X, y)
    Xd, yd = load_digits(return_X_y=True)
    digits = RandomForestClassifier(n_estimators=TREES, random_state=0, n_jobs=2).fit(Xd, yd)
    model = RandomForestClassifier(n_estimators=MODEL_TREES, random_state=0, n_jobs=2).fit(Xd, yd)
    return [("random 50k x 10", noise, X[:2000]), ("digits", digits, Xd), ("digits model", model, Xd)]


def main() -> None:
    import numpy as np

    from lamforest import treefile

    print(
        f"{'grove':<16} {'format':<10} {'KB':>8} {'dump ms':>8} {'load ms':>8}   "
        f"{'size x':>6} {'dump x':>6} {'load x':>6}"
    )
    for label, model, X in _groves():
        dump_j, jb = _median(lambda m=model: _joblib_dumps(m))
        dump_t, tb = _median(lambda m=model: treefile.dumps(m))
        load_j, _ = _median(lambda b=jb: joblib.load(io.BytesIO(b)))
        load_t, (loaded, _) = _median(lambda b=tb: treefile.loads(b))
        assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
        nodes = sum(t.tree_.node_count for t in model.estimators_) // len(model.estimators_)
        print(f"{label:<16} {'joblib':<10} {len(jb) / 1024:>8,.0f} {dump_j * 1e3:>8.1f} {load_j * 1e3:>8.1f}")
        print(
            f"{'':<16} {'treefile':<10} {len(tb) / 1024:>8,.0f} {dump_t * 1e3:>8.1f} {load_t * 1e3:>8.1f}   "
            f"{len(tb) / len(jb):>6.2f} {dump_t / dump_j:>6.2f} {load_t / load_j:>6.2f}"
        )
        print(f"{'':<16} ({len(model.estimators_)} trees, ~{nodes:,} nodes each)")


if __name__ == "__main__":
    main()
