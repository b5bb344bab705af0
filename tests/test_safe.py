"""Safe model files: ``lamforest export NAME model.skops`` and ``lamforest.safe.load``."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from lamforest import data, driver, safe
from lamforest.cli import main
from tests.helpers import build


@pytest.fixture(scope="module")
def iris_build(shared_backend) -> str:
    st = build(shared_backend, "safe-iris", data="iris", trees=6, grove=3, seed=3)
    assert st.state == "done"
    return "safe-iris"


def test_export_by_suffix_writes_skops_that_loads_to_the_same_forest(shared_backend, iris_build, tmp_path, capsys):
    out = tmp_path / "model.skops"
    assert main(["export", iris_build, str(out), "--home", shared_backend.store.url]) == 0
    assert "lamforest.safe.load" in capsys.readouterr().out
    loaded = safe.load(out)
    assert safe.load(out.read_bytes()).n_estimators == 6
    ref = driver.load_model(shared_backend, iris_build)
    X, _ = data.get_test(shared_backend.store, iris_build)
    assert type(loaded) is type(ref)
    assert np.array_equal(loaded.predict_proba(X), ref.predict_proba(X))


def test_every_forest_class_needs_only_the_allowed_tree_type() -> None:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    for cls in (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor):
        blob = safe.dumps(cls(n_estimators=2, random_state=0).fit(X, y))
        assert set(safe.untrusted_types(blob)) <= safe.ALLOWED_TYPES
        assert safe.load(blob).n_estimators == 2


def test_an_injected_untrusted_type_is_refused_by_name_and_nothing_runs(
    shared_backend, iris_build, tmp_path: Path
) -> None:
    model = driver.load_model(shared_backend, iris_build)
    marker = tmp_path / "pwned"
    model.evil_ = functools.partial(os.system, f"touch {marker}")  # what a tampered file would carry
    bad = tmp_path / "tampered.skops"
    safe.dump(model, bad)
    with pytest.raises(safe.UntrustedModelError) as info:
        safe.load(bad)
    assert "functools.partial" in info.value.types and "posix.system" in info.value.types
    assert "tampered.skops" in str(info.value) and "posix.system" in str(info.value)
    assert not marker.exists()


def test_not_a_skops_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.skops"
    bad.write_bytes(b"\x80\x04not a zip")
    with pytest.raises(ValueError, match="not a skops file"):
        safe.load(bad)
