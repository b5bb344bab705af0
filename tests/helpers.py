"""Small helpers shared by the core tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lamforest import driver
from lamforest.backend import Backend, local_backend
from lamforest.spec import BuildSpec


def build(
    where: Path | Backend, name: str, *, workers: int | None = 2, sync: bool = False, **spec: Any
) -> driver.BuildStatus:
    """Create and run a build on a backend (or a new local one rooted at a path, closed after)."""
    backend = where if isinstance(where, Backend) else local_backend(where)
    try:
        driver.create(backend, BuildSpec(name=name, **spec))
        return driver.run(backend, name, workers=workers, sync=sync)
    finally:
        if backend is not where:
            backend.close()


def tree_arrays(model: Any) -> list[tuple[np.ndarray, ...]]:
    """Every array that defines every tree, for bit-for-bit comparisons."""
    out = []
    for est in model.estimators_:
        t = est.tree_
        out.append((t.children_left, t.children_right, t.feature, t.threshold, t.value, t.n_node_samples))
    return out


def assert_same_forest(a: Any, b: Any) -> None:
    ta, tb = tree_arrays(a), tree_arrays(b)
    assert len(ta) == len(tb)
    for i, (x, y) in enumerate(zip(ta, tb, strict=True)):
        for k, (u, v) in enumerate(zip(x, y, strict=True)):
            assert np.array_equal(u, v), f"tree {i} array {k} differs"


def store_files(backend_or_home: Backend | Path) -> list[str]:
    root = backend_or_home if isinstance(backend_or_home, Path) else Path(backend_or_home.store.url)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
