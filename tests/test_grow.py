"""Growing a finished forest (`lamforest grow`, `warm_start=True`): only the new trees are fitted,
and the grown forest is the forest of all its trees fitted at once."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_hastie_10_2

from lamforest import ExtraTreesRegressor, RandomForestClassifier, driver, keys
from lamforest.backend import local_backend
from lamforest.cli import main as cli_main
from lamforest.spec import BuildSpec
from tests.helpers import assert_same_forest, store_files

X, Y = make_hastie_10_2(n_samples=300, random_state=1)
QUIET = {"progress": False}


def invocations(home: Path, name: str) -> int:
    log = home / keys.lambda_log(name)
    return sum(line.startswith("REPORT") for line in log.read_text().splitlines())


def test_grow_fits_only_the_new_trees_and_gives_the_forest_of_one_build(home, capsys):
    build = ["--data", "digits", "-g", "2", "--seed", "3", "--json"]
    assert cli_main(["build", "small", "-t", "5", *build]) == 0
    assert cli_main(["build", "whole", "-t", "12", *build]) == 0
    capsys.readouterr()
    assert invocations(home, "small") == 3
    assert cli_main(["grow", "small", "-t", "12", "--json"]) == 0
    grown = json.loads(capsys.readouterr().out)
    assert grown["state"] == "done" and grown["trees"] == 12
    assert invocations(home, "small") == 3 + 4  # the 3 groves it had are kept, not refitted
    whole = driver.status(local_backend(home), "whole")
    assert grown["test_score"] == whole.test_score and grown["oob_score"] == whole.summary["oob_score"]
    with local_backend(home) as backend:
        assert_same_forest(driver.load_model(backend, "small"), driver.load_model(backend, "whole"))
        assert driver.load_plan(backend, "small").spec.grove_sizes() == [2, 2, 1, 2, 2, 2, 1]


def test_grow_refusals_name_the_flag_and_change_nothing(home, capsys):
    assert cli_main(["build", "g", "--data", "iris", "-t", "4", "-g", "2", "--json"]) == 0
    capsys.readouterr()
    spec = (home / keys.spec("g")).read_bytes()
    before = store_files(home)
    assert cli_main(["grow", "g", "-t", "3"]) == 2
    err = capsys.readouterr().err
    assert "in trees" in err and "does not shrink" in err and "-t 3" in err
    assert cli_main(["grow", "g", "-t", "2000000"]) == 2
    assert "trees" in capsys.readouterr().err
    assert cli_main(["grow", "g", "-t", str(10**30)]) == 2  # was an OverflowError after taking the build
    assert "error in trees: must be at most" in capsys.readouterr().err
    assert store_files(home) == before  # refused before the build was taken: not even a driver claim
    assert cli_main(["grow", "g", "-t", "4"]) == 0
    assert "nothing to grow" in capsys.readouterr().out
    assert (home / keys.spec("g")).read_bytes() == spec
    with local_backend(home) as backend:
        driver.create(backend, BuildSpec(name="unrun", data="iris", trees=4, grove=2))
    assert cli_main(["grow", "unrun", "-t", "8"]) == 1
    assert "only a finished forest grows" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesRegressor])
def test_warm_start_grows_the_forest_one_fit_would_give(home, cls):
    y = Y if cls is RandomForestClassifier else Y.astype(float) * 2.5
    ws = cls(n_estimators=5, random_state=42, warm_start=True, grove_size=2, **QUIET).fit(X, y)
    name = ws.build_name_
    ws.set_params(n_estimators=10).fit(X, y)
    assert len(ws) == 10 and ws.build_name_ == name  # the same build, grown
    assert invocations(home, name) == 3 + 3
    once = cls(n_estimators=10, random_state=42, grove_size=2, **QUIET).fit(X, y)
    assert np.array_equal(ws.apply(X), once.apply(X))
    assert {t.random_state for t in ws} == {t.random_state for t in once}


def test_warm_start_errors_and_warnings_are_scikit_learns(home):
    est = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=1, warm_start=True, **QUIET).fit(X, Y)
    est.set_params(n_estimators=4)
    with pytest.raises(ValueError, match="must be larger or equal to len"):
        est.fit(X, Y)
    est.set_params(n_estimators=5, random_state=2)
    before = est.apply(X)
    with pytest.warns(UserWarning, match="Warm-start fitting without increasing n_estimators"):
        est.fit(X, Y)
    assert np.array_equal(est.apply(X), before)
    # What lamforest cannot grow is said, not silently refitted: other parameters or other rows.
    est.set_params(n_estimators=8, max_depth=4)
    with pytest.raises(ValueError, match="changed: max_depth"):
        est.fit(X, Y)
    est.set_params(max_depth=3)
    with pytest.raises(ValueError, match="these rows"):
        est.fit(X[:200], Y[:200])


def test_warm_start_computes_oob_over_all_trees(home):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 15 trees: every row has OOB votes, no warning
        once = RandomForestClassifier(n_estimators=15, max_depth=3, random_state=1, oob_score=True, **QUIET)
        once.fit(X, Y)
        grown = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=1, **QUIET).fit(X, Y)
        grown.set_params(warm_start=True, oob_score=True, n_estimators=15).fit(X, Y)
    assert grown.oob_score_ == once.oob_score_
    # Summed in other groupings of trees (groves of 5 + 10, not 10 + 5): equal to rounding.
    assert np.allclose(grown.oob_decision_function_, once.oob_decision_function_, rtol=1e-12, atol=0)


def test_too_few_trees_for_oob_warns_as_scikit_learn_does(home):
    with pytest.warns(UserWarning, match="Some inputs do not have OOB scores"):
        RandomForestClassifier(n_estimators=1, oob_score=True, random_state=0, **QUIET).fit(X, Y)


def test_the_forest_is_a_sequence_of_its_trees_with_their_samples(home):
    est = RandomForestClassifier(n_estimators=6, random_state=3, max_samples=0.5, grove_size=4, **QUIET).fit(X, Y)
    ref = __import__("sklearn.ensemble", fromlist=["x"]).RandomForestClassifier(
        n_estimators=6, random_state=3, max_samples=0.5
    )
    ref.fit(X.astype(np.float32), Y)
    assert len(est) == 6 and est[0].random_state == ref[0].random_state
    assert [t.random_state for t in est] == [t.random_state for t in ref]
    samples = est.estimators_samples_
    assert len(samples) == 6 and all(
        np.array_equal(a, b) for a, b in zip(samples, ref.estimators_samples_, strict=True)
    )
