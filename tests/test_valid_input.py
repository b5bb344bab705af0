"""Valid input is accepted (#23, class 5): what scikit-learn fits, lamforest fits too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier as SkRandomForestClassifier

from lamforest import RandomForestClassifier, driver
from lamforest.backend import local_backend
from lamforest.cli import main as cli_main
from lamforest.spec import BuildSpec, SpecError, parse_param_value


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    frame["amount"] = 2 * X[:, 0] + rng.normal(size=300)  # a continuous target: regression
    frame["label"] = (X[:, 0] + 0.3 * rng.normal(size=300) > 0.5).astype(int)  # integer classes 0, 1
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_regression_criterion_with_task_auto_is_checked_against_the_regressor(home, table, capsys):
    argv = ["build", "r", "--data", str(table), "--target", "amount", "-t", "4", "-g", "2"]
    assert cli_main([*argv, "--param", "criterion=absolute_error", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "done"
    with local_backend(home) as backend:
        assert driver.load_model(backend, "r").criterion == "absolute_error"
    # Once the data says classification, the classifier checks it: refused naming the parameter.
    argv = ["build", "c", "--data", str(table), "--target", "label", "-t", "4", "-g", "2"]
    assert cli_main([*argv, "--param", "criterion=absolute_error"]) == 2
    assert "param criterion" in capsys.readouterr().err
    # A criterion neither forest knows is refused before the data is read.
    assert cli_main([*argv, "--param", "criterion=nonsense", "--data", "missing.csv"]) == 2
    assert "param criterion" in capsys.readouterr().err


@pytest.mark.parametrize("weights", ['{"0": 1, "1": 5}', "{0: 1, 1: 5}"], ids=["json", "python"])
def test_class_weight_as_a_dict_for_integer_labels(home, table, capsys, weights):
    argv = ["build", "cw", "--data", str(table), "--target", "label", "-t", "6", "-g", "3", "--seed", "4"]
    assert cli_main([*argv, "--param", f"class_weight={weights}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "done"
    with local_backend(home) as backend:
        model = driver.load_model(backend, "cw")
    assert model.class_weight == {0: 1, 1: 5}
    # The weights reached every tree: a tree's weighted class counts at its root are 5:1 per row.
    frame = pd.read_csv(table)
    root = model.estimators_[0].tree_.value[0][0]
    assert root[1] > root[0] * (frame["label"].mean() / (1 - frame["label"].mean())) * 2


def test_parse_param_value_reads_python_literals_and_nothing_else():
    assert parse_param_value("{0: 1, 1: 5}") == {0: 1, 1: 5}
    assert parse_param_value("[{0: 1}, {1: 2}]") == [{0: 1}, {1: 2}]
    assert parse_param_value("{__import__('os')}") == "{__import__('os')}"  # no code runs: a string, refused later
    assert parse_param_value("(1, 2)") == "(1, 2)"
    with pytest.raises(SpecError):
        driver.validate(BuildSpec(name="x", params={"class_weight": "{__import__('os')}"}))


def test_the_python_api_fits_one_class_as_scikit_learn_does(home):
    X = np.random.default_rng(1).random((30, 3))
    for y in (np.zeros(30, dtype=int), np.array(["only"] * 30)):
        ours = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
        theirs = SkRandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
        assert list(ours.classes_) == list(theirs.classes_)
        assert np.array_equal(ours.predict(X), theirs.predict(X))
        assert ours.predict_proba(X).shape == theirs.predict_proba(X).shape == (30, 1)
