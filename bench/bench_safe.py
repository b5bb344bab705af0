"""Safe model files: size and load time of skops (``lamforest.safe``) against the model file builds store
(``lamforest.artifacts``: a tree file, lz4).

One digits forest (fully grown trees) at a few sizes; each file is loaded
several times and the median load time kept.

Run: ``python bench/bench_safe.py``.
"""

from __future__ import annotations

import statistics
import time

TREES = (10, 100, 300)
REPEATS = 5


def _median_load(load, blob: bytes) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        load(blob)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    from lamforest import artifacts, safe

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    print(
        f"{'trees':>6} {'tree file KB':>14} {'skops KB':>10} {'size x':>7} {'tree file ms':>15} "
        f"{'safe.load ms':>13} {'load x':>7}"
    )
    for n in TREES:
        model = RandomForestClassifier(n_estimators=n, random_state=0, n_jobs=2).fit(X, y)
        tf = artifacts.dumps_model(model)
        sk = safe.dumps(model)
        t_t = _median_load(artifacts.loads_model, tf)
        t_s = _median_load(safe.load, sk)
        assert np.array_equal(safe.load(sk).predict_proba(X), model.predict_proba(X))
        assert np.array_equal(artifacts.loads_model(tf).predict_proba(X), model.predict_proba(X))
        print(
            f"{n:>6} {len(tf) / 1024:>14,.0f} {len(sk) / 1024:>10,.0f} {len(sk) / len(tf):>7.2f} "
            f"{t_t * 1000:>15.1f} {t_s * 1000:>13.1f} {t_s / t_t:>7.2f}"
        )


if __name__ == "__main__":
    main()
