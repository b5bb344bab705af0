"""lamforest's scikit-learn estimators on the local backend: same trees as the CLI and as scikit-learn,
searches, DataFrames, sample weights, OOB, pickling, loading, listing, cancelling."""

from __future__ import annotations

import inspect
import json
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import sklearn.ensemble
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lamforest
from lamforest import driver, keys
from lamforest.backend.shared import close_shared, shared
from lamforest.cli import main
from lamforest.estimators import ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from lamforest.spec import BuildSpec, SpecError
from tests.helpers import store_files

QUIET = {"progress": False, "workers": 2}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One store and one warm local pool for the module; LAMFOREST_HOME points the CLI there too."""
    root = tmp_path_factory.mktemp("estimators")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAMFOREST_HOME", str(root))
        try:
            yield root
        finally:
            close_shared()


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


def same_trees(a: Any, b: Any) -> None:
    assert len(a.estimators_) == len(b.estimators_)
    for i, (s, t) in enumerate(zip(a.estimators_, b.estimators_, strict=True)):
        for attr in ("feature", "threshold", "value", "children_left", "children_right", "n_node_samples"):
            assert np.array_equal(getattr(s.tree_, attr), getattr(t.tree_, attr)), f"tree {i}: {attr} differs"


# --------------------------------------------------------------------------- the same trees everywhere


def test_estimator_predictions_equal_a_cli_build_of_the_same_spec_and_seed(home: Path, tmp_path: Path) -> None:
    X, y = load_wine(return_X_y=True, as_frame=True)
    frame = X.assign(label=y)
    csv = tmp_path / "wine.csv"
    frame.to_csv(csv, index=False)
    argv = ["build", "cli-wine", "--data", str(csv), "--target", "label", "--seed", "7", "-t", "12", "-g", "4"]
    assert main([*argv, "--test-size", "0", "--param", "max_depth=6", "--workers", "2", "--json"]) == 0

    est = RandomForestClassifier(n_estimators=12, grove_size=4, max_depth=6, random_state=7, **QUIET).fit(X, y)
    cli = driver.load_model(shared("local"), "cli-wine")
    same_trees(est, cli)
    rows = X.to_numpy(dtype=np.float32)
    assert np.array_equal(est.predict_proba(X), cli.predict_proba(rows))  # bit for bit
    assert np.array_equal(est.predict(X), cli.predict(rows))
    assert list(est.feature_names_in_) == list(X.columns)
    assert lamforest.load("cli-wine").feature_names_in_.tolist() == list(X.columns)  # the CSV's header


def test_a_cli_build_with_weight_column_equals_the_estimator_with_sample_weight(home: Path, tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    w = np.random.default_rng(3).integers(0, 4, size=len(y)).astype(np.float64)
    csv = tmp_path / "diabetes.csv"
    X.assign(w=w, target=y).to_csv(csv, index=False)
    argv = ["build", "cli-dia", "--data", str(csv), "--target", "target", "--weight", "w", "--seed", "3"]
    assert main([*argv, "-t", "6", "-g", "3", "--test-size", "0", "--workers", "2", "--json"]) == 0
    plan = driver.load_plan(shared("local"), "cli-dia")
    assert plan.weighted and plan.feature_names == list(X.columns)  # the weight column is not a feature

    est = RandomForestRegressor(n_estimators=6, grove_size=3, random_state=3, **QUIET).fit(X, y, sample_weight=w)
    same_trees(est, driver.load_model(shared("local"), "cli-dia"))
    unweighted = RandomForestRegressor(n_estimators=6, grove_size=3, random_state=3, **QUIET).fit(X, y)
    assert not np.array_equal(unweighted.predict(X), est.predict(X))


def test_sample_weight_changes_the_trees_as_scikit_learn_does_whatever_the_grove_size(home: Path, iris: Any) -> None:
    X, y = iris
    w = np.random.default_rng(0).uniform(0, 3, size=len(y))
    ours = RandomForestClassifier(n_estimators=8, grove_size=3, random_state=11, **QUIET).fit(X, y, sample_weight=w)
    # The forest is scikit-learn's with the same random_state, fitted with the same weights.
    ref = sklearn.ensemble.RandomForestClassifier(n_estimators=8, random_state=11)
    ref.fit(X.astype(np.float32), y, sample_weight=w)
    same_trees(ours, ref)
    assert np.array_equal(ours.predict_proba(X), ref.predict_proba(X))
    plain = sklearn.ensemble.RandomForestClassifier(n_estimators=8, random_state=11).fit(X, y)
    assert not np.array_equal(plain.estimators_[0].tree_.threshold, ref.estimators_[0].tree_.threshold)


def test_weighted_chunks_grow_the_trees_of_one_fit() -> None:
    """Groves are fitted in chunks (warm start, cancel checks between them); with weights too."""
    from lamforest import grove
    from lamforest.events import FitEvent

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    w = np.random.default_rng(1).uniform(0.1, 2, size=len(y))
    event = FitEvent(build="b", grove=0, seed=5, trees=7, data="data/" + "0" * 64, model="rf", task="classification")
    chunked = grove.fit(FitEvent(**{**event.__dict__, "chunk": 2}), X, y, sample_weight=w)
    whole = sklearn.ensemble.RandomForestClassifier(n_estimators=7, random_state=5).fit(X, y, sample_weight=w)
    same_trees(chunked.estimator, whole)
    # The OOB sums follow the weighted bootstrap: equal to scikit-learn's OOB decision on these trees.
    ref = sklearn.ensemble.RandomForestClassifier(n_estimators=7, random_state=5, oob_score=True)
    ref.fit(X, y, sample_weight=w)
    assert np.allclose(chunked.oob_sum / np.maximum(chunked.oob_count, 1)[:, None], ref.oob_decision_function_)


def test_oob_attributes_equal_scikit_learn_whatever_the_grove_size(home: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    ours = RandomForestRegressor(n_estimators=10, grove_size=3, random_state=4, oob_score=True, **QUIET).fit(X, y)
    ref = sklearn.ensemble.RandomForestRegressor(n_estimators=10, random_state=4, oob_score=True)
    ref.fit(X.astype(np.float32), y)
    assert ours.oob_prediction_.shape == ref.oob_prediction_.shape
    assert np.allclose(ours.oob_prediction_, ref.oob_prediction_, rtol=1e-12)
    assert ours.oob_score_ == pytest.approx(ref.oob_score_, rel=1e-12)


def test_oob_decision_of_a_classifier_and_a_callable_oob_score(home: Path, iris: Any) -> None:
    X, y = iris
    calls = []

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        calls.append((y_true, y_pred))
        return float(np.mean(y_true == y_pred))

    est = RandomForestClassifier(n_estimators=12, grove_size=4, random_state=2, oob_score=score, **QUIET).fit(X, y)
    assert est.oob_decision_function_.shape == (150, 3)
    assert len(calls) == 1 and 0.8 < est.oob_score_ <= 1.0
    assert np.array_equal(calls[0][0], y)  # encoded labels, as scikit-learn passes them
    with pytest.raises(ValueError, match="bootstrap=True"):
        RandomForestClassifier(bootstrap=False, oob_score=True, **QUIET).fit(X, y)


# --------------------------------------------------------------------------- scikit-learn's machinery


def _rows(build: str) -> str:
    """The label of a build's rows in a search's names: ``rows`` and the start of its train set's address."""
    return "rows" + driver.load_plan(shared("local"), build).data_ref.rsplit("/", 1)[-1][:6]


def test_grid_search_over_max_depth_names_each_fit_after_its_candidate_and_rows(home: Path, iris: Any) -> None:
    X, y = iris
    base = RandomForestClassifier(n_estimators=6, grove_size=3, random_state=0, name="irisdepth", **QUIET)
    search = GridSearchCV(base, {"max_depth": [1, 4]}, cv=3).fit(X, y)
    assert search.best_params_ == {"max_depth": 4}
    assert search.cv_results_["mean_test_score"][0] < search.cv_results_["mean_test_score"][1]
    names = {b["name"] for b in lamforest.builds(as_frame=False)}
    fits = {n for n in names if n.startswith("irisdepth-max_depth_")}
    refit = search.best_estimator_.build_name_  # the refit on every row: the best candidate, on all the rows
    assert refit.startswith("irisdepth-max_depth_4-rows") and refit in fits
    folds = {n.rsplit("-", 1)[1] for n in fits - {refit}}
    assert len(folds) == 3  # one build per candidate and fold: 2 x 3 fits and the refit
    assert fits == {f"irisdepth-max_depth_{d}-{f}" for d in (1, 4) for f in folds} | {refit}
    for name in fits:  # a name says the candidate and the rows its build holds
        depth = int(name.removeprefix("irisdepth-max_depth_").split("-")[0])
        plan = driver.load_plan(shared("local"), name)
        assert plan.spec.params == {"max_depth": depth} and plan.spec.seed == 0
        assert name.endswith(_rows(name))
    assert driver.load_plan(shared("local"), refit).n_train == 150
    # The same search again: the same names (each taken, so each gets -2), whatever the objects' ids.
    again = GridSearchCV(clone(base), {"max_depth": [1, 4]}, cv=3).fit(X, y)
    assert again.best_estimator_.build_name_ == f"{refit}-2"
    # Without a name, the fits of one search share the prefix generated for its copies.
    unnamed = GridSearchCV(clone(base).set_params(name=None), {"min_samples_leaf": [1, 5]}, cv=2).fit(X, y)
    prefix = unnamed.best_estimator_.build_name_.split("-min_samples_leaf_")[0]
    assert re.fullmatch(r"rf-\d{8}-\d{6}-[0-9a-f]{6}", prefix), prefix
    names = {b["name"] for b in lamforest.builds(as_frame=False)}
    fits = {n for n in names if n.startswith(prefix + "-")}
    assert len(fits) == 5 and {n.split("-")[4] for n in fits} == {"min_samples_leaf_1", "min_samples_leaf_5"}


def test_pipeline_cross_val_score_clone_and_pickle(home: Path, iris: Any) -> None:
    X, y = iris
    pipe = make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=6, grove_size=3, random_state=1, **QUIET)
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.7
    est = pipe.fit(X, y)[-1]
    copy = clone(est)
    assert copy.get_params() == est.get_params() and not hasattr(copy, "build_name_")
    restored = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    assert est.predict_log_proba(X[:5]).shape == (5, 3)
    assert est.apply(X).shape == (150, 6)
    assert est.decision_path(X)[1].shape == (7,)
    assert est.feature_importances_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("make_frame", [pd.DataFrame, pl.DataFrame], ids=["pandas", "polars"])
def test_dataframe_feature_names_round_trip(home: Path, make_frame: Any) -> None:
    X, y = load_iris(return_X_y=True)
    cols = ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    frame = make_frame({c: X[:, i] for i, c in enumerate(cols)})
    est = RandomForestClassifier(n_estimators=6, grove_size=3, random_state=3, **QUIET).fit(frame, y)
    assert est.feature_names_in_.tolist() == cols
    assert driver.load_plan(shared("local"), est.build_name_).feature_names == cols
    loaded = lamforest.load(est.build_name_)
    assert loaded.feature_names_in_.tolist() == cols
    assert np.array_equal(loaded.predict(frame), est.predict(frame))
    reordered = make_frame({c: X[:, cols.index(c)] for c in reversed(cols)})
    with pytest.raises(ValueError, match="feature names"):
        est.predict(reordered)
    # Fitted on a plain array: no names, as scikit-learn.
    plain = RandomForestClassifier(n_estimators=3, grove_size=3, random_state=3, **QUIET).fit(X, y)
    assert not hasattr(plain, "feature_names_in_")


def test_string_labels_and_classes(home: Path, iris: Any) -> None:
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    est = RandomForestClassifier(n_estimators=6, grove_size=3, random_state=5, **QUIET).fit(X, labels)
    assert est.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(est.predict(X)) <= set(est.classes_) and est.score(X, labels) > 0.9


# --------------------------------------------------------------------------- parameters


def test_every_scikit_learn_parameter_with_the_same_default() -> None:
    for cls in (RandomForestClassifier, RandomForestRegressor, lamforest.ExtraTreesClassifier, ExtraTreesRegressor):
        theirs = inspect.signature(getattr(sklearn.ensemble, cls.__name__)).parameters
        ours = inspect.signature(cls).parameters
        for name, p in theirs.items():
            assert name in ours, f"{cls.__name__} lacks {name}"
            assert ours[name].default == p.default, f"{cls.__name__}.{name}"
        extra = [n for n in ours if n not in theirs]
        assert extra == ["backend", "grove_size", "name", "workers", "memory", "arch", "max_cost", "progress"]
        documented = [line.split(" : ")[0].strip() for line in cls.__doc__.splitlines() if " : " in line]
        assert [n for n in ours if n not in documented] == [], f"{cls.__name__}: undocumented parameters"


def test_random_state_none_draws_a_seed_and_records_it(home: Path, iris: Any) -> None:
    X, y = iris
    a = RandomForestClassifier(n_estimators=3, grove_size=3, **QUIET).fit(X, y)
    b = RandomForestClassifier(n_estimators=3, grove_size=3, **QUIET).fit(X, y)
    assert a.seed_ != b.seed_
    assert driver.load_plan(shared("local"), a.build_name_).spec.seed == a.seed_
    again = RandomForestClassifier(n_estimators=3, grove_size=3, random_state=a.seed_, **QUIET).fit(X, y)
    same_trees(again, a)


def test_a_taken_name_gets_a_suffix(home: Path, iris: Any) -> None:
    X, y = iris
    est = RandomForestClassifier(n_estimators=3, grove_size=3, random_state=0, name="twice", **QUIET)
    assert est.fit(X, y).build_name_ == "twice"
    assert est.fit(X, y).build_name_ == "twice-2"


@pytest.mark.parametrize("name", ["../x", "a" * 101, "-lead", "two words"])
def test_a_bad_name_is_refused_naming_it_before_anything_is_written(home: Path, iris: Any, name: str) -> None:
    X, y = iris
    before = store_files(home)
    with pytest.raises(SpecError) as info:
        RandomForestClassifier(n_estimators=4, name=name, **QUIET).fit(X, y)
    assert info.value.field == "name"
    assert store_files(home) == before


def test_a_long_name_is_kept_whole_and_refused_when_taken_without_room_for_a_number(home: Path, iris: Any) -> None:
    X, y = iris
    long = "n" * 100  # the longest name the CLI takes: never cut
    assert RandomForestClassifier(n_estimators=2, name=long, **QUIET).fit(X, y).build_name_ == long
    before = store_files(home)
    with pytest.raises(SpecError, match="no room") as info:
        RandomForestClassifier(n_estimators=2, name=long, **QUIET).fit(X, y)
    assert info.value.field == "name" and store_files(home) == before
    assert RandomForestClassifier(n_estimators=2, name="n" * 95, **QUIET).fit(X, y).build_name_ == "n" * 95


def test_refusals_are_clear(home: Path, iris: Any) -> None:
    X, y = iris
    with pytest.raises(ValueError, match="Found array with dim 3"):  # 2-D y is multi-output; 3-D is nothing
        RandomForestRegressor(**QUIET).fit(X, y.reshape(-1, 1, 1))
    with pytest.raises(ValueError, match="max_depth"):
        RandomForestClassifier(max_depth=-1, **QUIET).fit(X, y)


# --------------------------------------------------------------------------- builds, load, cancel


def test_load_and_builds(home: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    est = ExtraTreesRegressor(n_estimators=6, grove_size=2, random_state=9, max_depth=5, **QUIET).fit(X, y)
    loaded = lamforest.load(est.build_name_)
    assert type(loaded) is ExtraTreesRegressor
    assert loaded.get_params()["max_depth"] == 5 and loaded.n_estimators == 6 and loaded.random_state == 9
    assert np.array_equal(loaded.predict(X), est.predict(X))
    frame = lamforest.builds()
    assert isinstance(frame, pd.DataFrame)
    row = frame.set_index("name").loc[est.build_name_]
    assert row["state"] == "done" and row["trees"] == 6 and row["groves"] == 3 and row["model"] == "et"
    records = lamforest.builds(as_frame=False)
    assert records[0]["name"] == est.build_name_  # newest first
    with pytest.raises(driver.BuildError, match="no build named"):
        lamforest.load("never-built")


def test_a_forest_without_a_merged_model_explains_and_streams_its_groves(home: Path, iris: Any) -> None:
    """Above the merge limit no model.tree exists: estimators_ says why; apply and importances
    come from the groves, one at a time."""
    X, y = iris
    est = RandomForestClassifier(n_estimators=9, grove_size=3, random_state=8, **QUIET).fit(X, y)
    shared("local").store.delete(keys.model(est.build_name_))
    big = lamforest.load(est.build_name_)
    with pytest.raises(AttributeError, match="merge limit"):
        big.estimators_  # noqa: B018
    assert not hasattr(big, "estimators_")
    assert np.array_equal(big.apply(X), est.apply(X))
    assert np.array_equal(big.feature_importances_, est.feature_importances_)  # the same sums, in tree order
    assert big.classes_.tolist() == [0, 1, 2]
    # predict streams the groves (bounded memory) and gives the merged forest's numbers, to the bit
    assert np.array_equal(big.predict_proba(X), est.predict_proba(X))
    assert np.array_equal(big.predict(X), est.predict(X))


def test_keyboard_interrupt_cancels_the_build(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamforest.estimators import progress

    X, y = load_diabetes(return_X_y=True)
    seen: list[str] = []

    def interrupt(self: Any, st: driver.BuildStatus) -> None:
        seen.append(st.state)
        raise KeyboardInterrupt  # what Ctrl+C (or a notebook's interrupt) raises in the watch loop

    monkeypatch.setattr(progress.BuildProgress, "update", interrupt)
    est = RandomForestRegressor(n_estimators=400, grove_size=5, random_state=0, name="interrupted", **QUIET)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    st = driver.status(shared("local"), "interrupted")
    assert st.state == "cancelled" and "KeyboardInterrupt" in (st.cancel_reason or "")
    assert st.count("done") < 80 and not any(r.state == "running" for r in st.rows)
    assert not hasattr(est, "build_name_")


def test_importing_lamforest_loads_no_driver_until_an_estimator_is_asked_for() -> None:
    code = (
        "import json, sys; import lamforest, lamforest.worker; before = sorted(sys.modules);"
        "cls = lamforest.RandomForestClassifier; after = sorted(sys.modules);"
        "print(json.dumps([before, after, cls.__module__]))"
    )
    before, after, module = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert not [m for m in before if m.startswith(("lamforest.driver", "lamforest.estimators", "lamforest.backend"))]
    assert "lamforest.estimators" in after and module == "lamforest.estimators"
    with pytest.raises(AttributeError):
        lamforest.NoSuchThing  # noqa: B018


def test_a_progress_bar_in_a_terminal_and_none_when_piped(
    home: Path, iris: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = iris
    RandomForestClassifier(n_estimators=6, grove_size=3, random_state=0, name="quiet", workers=2).fit(X, y)
    assert capsys.readouterr().err == ""  # not a terminal, not a notebook: nothing drawn
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat the output as a terminal
    RandomForestClassifier(n_estimators=6, grove_size=3, random_state=0, name="bar", workers=2).fit(X, y)
    err = capsys.readouterr().err
    assert "bar" in err and "2/2 groves" in err and "100%" in err and "done" in err
    RandomForestClassifier(n_estimators=6, grove_size=3, random_state=0, name="off", progress=False).fit(X, y)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("weights", "weight", "data", "match"),
    [
        (None, "w", "iris", "from a column of a data file"),
        ([1.0] * 6, "nope", None, "no column 'nope'"),
        ([1.0] * 6, "y", None, "is the target"),
        ([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], "w", None, "non-negative"),
        ([0.0] * 6, "w", None, "sum to zero"),
        ([1.0, float("nan"), 1.0, 1.0, 1.0, 1.0], "w", None, "finite"),
    ],
)
def test_bad_weight_columns_are_refused_before_anything_is_written(
    tmp_path: Path, weights: list[float] | None, weight: str, data: str | None, match: str
) -> None:
    from lamforest.backend import local_backend
    from lamforest.spec import SpecError

    csv = tmp_path / "d.csv"
    rows = ["a,b,w,y"] + [f"{i},{i * 2},{w},{i % 2}" for i, w in enumerate(weights or [1.0] * 6)]
    csv.write_text("\n".join(rows) + "\n")
    with local_backend(tmp_path / "store") as backend:
        spec = BuildSpec(name="weighted", data=data or str(csv), target="y", weight=weight, test_size=0)
        with pytest.raises(SpecError, match=match) as info:
            driver.create(backend, spec)
        assert info.value.field == "weight"
        assert not backend.store.list("")


def test_n_jobs_is_the_number_of_local_workers_and_workers_wins() -> None:
    from lamforest.backend.pool import default_workers

    assert RandomForestClassifier()._workers() is None  # the backend's default: one per core
    assert RandomForestClassifier(n_jobs=1)._workers() == 1
    assert RandomForestClassifier(n_jobs=-1)._workers() == default_workers()
    assert RandomForestClassifier(n_jobs=-2)._workers() == max(1, default_workers() - 1)
    assert RandomForestClassifier(n_jobs=-1, workers=3)._workers() == 3
    assert RandomForestClassifier(n_jobs=-1000)._workers() == 1  # joblib's reading: at least one
    with pytest.raises(ValueError, match=r"'n_jobs' parameter of RandomForestClassifier must be .* Got 0 instead"):
        RandomForestClassifier(n_jobs=0).fit([[0.0], [1.0]], [0, 1])  # refused before any store is opened
    with pytest.raises(ValueError, match=r"'backend' parameter of RandomForestClassifier must be a str among"):
        RandomForestClassifier(backend="gcp").fit([[0.0], [1.0]], [0, 1])


def test_create_from_arrays_keeps_every_row_in_order_and_refuses_bad_shapes(tmp_path: Path) -> None:
    from lamforest import data
    from lamforest.backend import local_backend
    from lamforest.spec import SpecError

    X, y = load_iris(return_X_y=True)
    w = np.linspace(0.5, 2.0, len(y))
    with local_backend(tmp_path / "store") as backend:
        for bad, field in (
            ({"X": X[:, 0]}, "data"),
            ({"y": y.reshape(-1, 1, 1)}, "target"),
            ({"y": np.c_[y, y][:, :0]}, "target"),
            ({"feature_names": ["a"]}, "data"),
            ({"sample_weight": w[:-1]}, "weight"),
        ):
            args = {"X": X, "y": y, "sample_weight": None, "feature_names": None, **bad}
            with pytest.raises(SpecError) as info:
                driver.create_from_arrays(backend, BuildSpec(name="arr", trees=2, grove=1), **args)
            assert info.value.field == field
        assert not backend.store.list("")
        plan = driver.create_from_arrays(backend, BuildSpec(name="arr", trees=2, grove=1), X, y, w, list("abcd"))
        assert (plan.n_train, plan.n_test, plan.weighted, plan.feature_names) == (150, 0, True, list("abcd"))
        X_tr, y_tr = data.open_train(backend.store, plan.data_ref)
        assert np.array_equal(X_tr, X.astype(np.float32)) and np.array_equal(y_tr, y)  # every row, in order
        assert np.array_equal(data.open_weight(backend.store, plan.data_ref), w)
        assert plan.data_ref != data.put_train(backend.store, X_tr, y_tr, plan.task, list("abcd"))  # w is hashed
        assert driver.run(backend, "arr", sync=True).summary["test_score"] is None


def test_a_class_weight_dict_grows_scikit_learns_trees(home: Path, iris: Any) -> None:
    """A dict's int labels would turn into text in JSON: it travels as sample weights, with the same arithmetic."""
    X, y = iris
    cw = {0: 1.0, 1: 5.0, 2: 0.5}
    ours = RandomForestClassifier(n_estimators=5, grove_size=2, random_state=6, class_weight=cw, **QUIET).fit(X, y)
    ref = sklearn.ensemble.RandomForestClassifier(n_estimators=5, random_state=6, class_weight=cw)
    same_trees(ours, ref.fit(X.astype(np.float32), y))
    assert "class_weight" not in driver.load_plan(shared("local"), ours.build_name_).spec.params


def test_max_cost_below_the_estimate_refuses_the_fit_before_anything_is_written(home: Path, iris: Any) -> None:
    X, y = iris
    before = store_files(home)
    est = RandomForestClassifier(n_estimators=4, max_cost=1e-300, name="refused", **QUIET)
    with pytest.raises(SpecError) as info:
        est.fit(X, y)
    assert info.value.field == "max_cost" and "above max_cost $1e-300" in info.value.message
    assert "--max-cost" not in str(info.value) and "projected cost $0.0" in info.value.message
    assert store_files(home) == before and not hasattr(est, "build_name_")


def test_max_cost_stops_the_build_and_fit_says_why(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lamforest.driver import estimate

    # A budget the estimate allows but the actual cost passes is stopped mid-build, by the run's guard.
    monkeypatch.setattr(estimate, "check_budget", lambda *a, **k: None)
    X, y = load_diabetes(return_X_y=True)
    est = RandomForestRegressor(n_estimators=200, grove_size=2, max_cost=1e-12, name="thrifty", **QUIET)
    with pytest.raises(RuntimeError, match="ended cancelled: budget") as info:
        est.fit(X, y)
    assert "max_cost $1e-12" in str(info.value) and "--max-cost" not in str(info.value)
    st = driver.status(shared("local"), "thrifty")
    assert st.state == "cancelled" and st.trees_done < 200


def test_an_altered_weight_file_is_caught_by_the_integrity_check(tmp_path: Path) -> None:
    from lamforest import data
    from lamforest.store.local import LocalStore
    from lamforest.worker import env

    store = LocalStore(tmp_path)
    X, y = load_iris(return_X_y=True)
    w = np.linspace(0.5, 2.0, len(y))
    ref = data.put_train(store, X, y, "classification", list("abcd"), w)
    np.save(store.local_path(keys.data_file(ref, "w.npy")), w[::-1].copy())  # same shape, other weights
    with pytest.raises(data.DataIntegrityError, match="does not match its content address"):
        env.load_train(store, ref)
    assert data.put_train(store, X, y, "classification", list("abcd"), w) == ref  # stored again, rightly
    assert np.array_equal(env.load_train(store, ref)[2], w)
