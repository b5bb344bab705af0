"""Preflight: inputs that pass validation but fail in every grove are refused before dispatch.

And the one input that fails only on a read-only train set (missing values) is fitted
by giving workers a writable copy, only then.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from lamforest import driver
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.driver.plan import PREFLIGHT_ROWS, param_field, preflight_rows
from lamforest.grove import needs_writable
from lamforest.spec import BuildSpec, SpecError
from tests.helpers import store_files


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def refused(backend, field: str, phrase: str, **spec) -> SpecError:
    before = store_files(backend)
    with pytest.raises(SpecError) as info:
        driver.create(backend, BuildSpec(**{"name": "p1", "trees": 4, "grove": 2, **spec}))
    assert info.value.field == field, info.value
    assert phrase in info.value.message, info.value.message
    assert store_files(backend) == before, "a refused build wrote to the store"
    return info.value


# scikit-learn accepts each of these at construction and rejects it only when it fits.
FIT_TIME = [
    ("bootstrap-false-with-max-samples", {"bootstrap": False, "max_samples": 0.5}, "iris", "bootstrap", "max_sample"),
    ("class-weight-names-an-absent-class", {"class_weight": {"7": 1.0}}, "iris", "class_weight", "class_weight"),
    ("monotonic-cst-on-multiclass", {"monotonic_cst": [1, 0, 0, 0]}, "iris", "monotonic_cst", "multiclass"),
]


@pytest.mark.parametrize(("params", "data", "param", "phrase"), [c[1:] for c in FIT_TIME], ids=[c[0] for c in FIT_TIME])
def test_fit_time_parameter_errors_are_bad_input(backend, params, data, param, phrase):
    refused(backend, f"param {param}", phrase, data=data, params=params)


def test_cli_names_the_parameter_and_exits_2(home: Path, capsys):
    code = main(["build", "p2", "--data", "iris", "-t", "4", "-g", "2", "--param", "monotonic_cst=[1,0,0,0]"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "param monotonic_cst" in err[0] and "multiclass" in err[0]
    assert not (home / "builds" / "p2").exists()


@pytest.mark.filterwarnings("ignore:class_weight presets:UserWarning")  # scikit-learn's note on warm_start
def test_valid_parameters_pass_preflight_and_build(backend):
    # An integer max_samples above the preflight's sample size must not be refused by the sample.
    params = {"max_samples": PREFLIGHT_ROWS + 300, "max_depth": 4, "class_weight": "balanced"}
    driver.create(backend, BuildSpec(name="ok", data="digits", trees=2, grove=2, params=params))
    st = driver.run(backend, "ok", sync=True)
    assert st.state == "done"


def test_infinite_regression_target_is_bad_input(backend, tmp_path: Path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] * 2.0
    y[17] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(path, X=X, y=y)
    refused(backend, "target", "infinite", data=str(path), task="regression")


def test_the_sample_keeps_every_class_even_a_rare_one():
    y = np.zeros(5000, dtype=np.int64)
    y[4321] = 1  # one row of class 1 among 5,000
    y[10:13] = 2
    rows = preflight_rows("classification", {}, y, seed=0)
    assert len(rows) == PREFLIGHT_ROWS
    assert set(y[rows]) == {0, 1, 2}
    assert len(np.unique(rows)) == len(rows)
    big = preflight_rows("classification", {"max_samples": 900}, y, seed=0)
    assert len(big) == 900


def test_param_field_finds_the_parameter_or_says_param():
    assert param_field("The classes, [0, 1], are not in class_weight", {"class_weight": {}, "max_depth": 3}) == (
        "param class_weight"
    )
    assert param_field("Monotonicity constraints are not supported", {"monotonic_cst": [1], "max_depth": 2}) == (
        "param monotonic_cst"
    )
    assert param_field("something odd", {"max_depth": 3}) == "param max_depth"  # the only one given
    assert param_field("something odd", {"max_depth": 3, "min_samples_leaf": 2}) == "param"


# --------------------------------------------------------------------------- a writable copy only when needed


def _memmap(tmp_path: Path, X: np.ndarray) -> np.ndarray:
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r")


def test_scikit_learn_needs_a_writable_x_with_missing_values(tmp_path: Path):
    """The fact the worker relies on: a read-only map with NaN fails; without NaN it fits."""
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = X[:, 0].astype(np.float64)
    clean = _memmap(tmp_path, X)
    RandomForestRegressor(n_estimators=2, criterion="absolute_error", random_state=0).fit(clean, y)
    X[::5, 1] = np.nan
    holed = np.load(_save(tmp_path / "holed.npy", X), mmap_mode="r")
    with warnings.catch_warnings(), pytest.raises(ValueError, match="read-only"):
        warnings.simplefilter("ignore")
        RandomForestRegressor(n_estimators=2, criterion="absolute_error", random_state=0).fit(holed, y)
    RandomForestRegressor(n_estimators=2, criterion="absolute_error", random_state=0).fit(np.array(holed), y)
    assert needs_writable(holed) and not needs_writable(clean)
    assert not needs_writable(np.array(holed))  # already writable: no second copy


def _save(path: Path, X: np.ndarray) -> Path:
    np.save(path, X)
    return path


def test_a_build_with_missing_values_and_absolute_error_completes(backend, tmp_path: Path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 4))
    y = X[:, 0] * 3.0 + X[:, 1]
    X[::6, 2] = np.nan
    path = tmp_path / "holes.npz"
    np.savez(path, X=X, y=y)
    spec = BuildSpec(
        name="holes", data=str(path), task="regression", trees=4, grove=2, params={"criterion": "absolute_error"}
    )
    driver.create(backend, spec)
    st = driver.run(backend, "holes", workers=1)
    assert st.state == "done", st.to_json()["failures"]
    assert st.summary["failures"] == []
