"""Multi-output y: the estimators give scikit-learn's predictions, probabilities, OOB attributes and
errors, whether the forest is merged or its groves stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sklearn.ensemble as ske
from sklearn.datasets import make_multilabel_classification, make_regression
from sklearn.exceptions import DataConversionWarning

import lamforest
from lamforest import keys
from lamforest.backend.shared import close_shared, shared

QUIET = {"progress": False, "workers": 2}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("multioutput")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAMFOREST_HOME", str(root))
        try:
            yield root
        finally:
            close_shared()


@pytest.fixture(scope="module")
def labels() -> tuple[np.ndarray, np.ndarray]:
    X, Y = make_multilabel_classification(n_samples=150, n_classes=3, random_state=0)
    return X, Y


@pytest.mark.parametrize("name", ["RandomForestClassifier", "ExtraTreesClassifier"])
@pytest.mark.parametrize("grove", [1, 4, 12])
def test_a_multilabel_forest_is_scikit_learns_whatever_the_grove_size(
    home: Path, labels: tuple[np.ndarray, np.ndarray], name: str, grove: int
) -> None:
    X, Y = labels
    kw = {"n_estimators": 12, "random_state": 5, "bootstrap": True, "oob_score": True}
    ours = getattr(lamforest, name)(grove_size=grove, **QUIET, **kw).fit(X, Y)
    theirs = getattr(ske, name)(**kw).fit(X, Y)
    assert ours.n_outputs_ == 3 and ours.n_classes_ == [2, 2, 2]
    assert [c.tolist() for c in ours.classes_] == [c.tolist() for c in theirs.classes_]
    proba = ours.predict_proba(X)
    assert isinstance(proba, list) and len(proba) == 3
    for a, b in zip(proba, theirs.predict_proba(X), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    assert all(
        np.array_equal(a, b) for a, b in zip(ours.predict_log_proba(X), theirs.predict_log_proba(X), strict=True)
    )
    # OOB: scikit-learn's (n_samples, n_classes, n_outputs) decision and subset accuracy, to the bit.
    assert ours.oob_decision_function_.shape == (150, 2, 3)
    assert np.array_equal(ours.oob_decision_function_, theirs.oob_decision_function_)
    assert ours.oob_score_ == theirs.oob_score_


def test_string_labels_per_output_and_the_oob_refusal_before_any_build(
    home: Path, labels: tuple[np.ndarray, np.ndarray]
) -> None:
    X, Y = labels
    y = np.column_stack([np.where(Y[:, 0] == 1, "yes", "no"), np.array(["red", "green", "blue"])[np.arange(150) % 3]])
    ours = lamforest.RandomForestClassifier(n_estimators=8, grove_size=3, random_state=1, **QUIET).fit(X, y)
    theirs = ske.RandomForestClassifier(n_estimators=8, random_state=1).fit(X, y)
    assert [c.tolist() for c in ours.classes_] == [["no", "yes"], ["blue", "green", "red"]]
    assert ours.n_classes_ == [2, 3]
    pred = ours.predict(X)
    assert pred.shape == (150, 2) and np.array_equal(pred, theirs.predict(X))
    # Several classes in several outputs: scikit-learn computes no OOB estimate, and neither do we;
    # the refusal comes before a build is stored.
    before = set(shared("local").store.list(keys.BUILDS))
    with pytest.raises(ValueError, match="type of target cannot be used to compute OOB estimates"):
        lamforest.RandomForestClassifier(n_estimators=4, oob_score=True, **QUIET).fit(X, y)
    assert set(shared("local").store.list(keys.BUILDS)) == before


@pytest.mark.parametrize("name", ["RandomForestRegressor", "ExtraTreesRegressor"])
def test_a_multi_target_regressor_is_scikit_learns(home: Path, name: str) -> None:
    X, Y = make_regression(n_samples=120, n_features=6, n_targets=3, random_state=2)
    kw = {"n_estimators": 10, "random_state": 4, "bootstrap": True, "oob_score": True}
    ours = getattr(lamforest, name)(grove_size=3, **QUIET, **kw).fit(X, Y)
    theirs = getattr(ske, name)(**kw).fit(X, Y)
    assert ours.n_outputs_ == 3 and ours.predict(X).shape == (120, 3)
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    assert np.array_equal(ours.oob_prediction_, theirs.oob_prediction_)
    assert ours.oob_score_ == theirs.oob_score_
    assert ours.score(X, Y) == theirs.score(X, Y)


def test_a_column_vector_y_warns_as_scikit_learn_and_fits_one_output(home: Path) -> None:
    X, Y = make_regression(n_samples=60, n_features=4, n_targets=1, random_state=3)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        ours = lamforest.RandomForestRegressor(n_estimators=4, random_state=0, **QUIET).fit(X, Y.reshape(-1, 1))
    assert ours.n_outputs_ == 1 and ours.predict(X).shape == (60,)


def test_streamed_groves_predict_what_the_merged_multi_output_forest_does(
    home: Path, labels: tuple[np.ndarray, np.ndarray]
) -> None:
    """Above the merge limit the groves' votes are summed per output column: the same numbers."""
    X, Y = labels
    est = lamforest.RandomForestClassifier(n_estimators=9, grove_size=2, random_state=8, **QUIET).fit(X, Y)
    store = shared("local").store
    store.delete(keys.model(est.build_name_))
    big = lamforest.load(est.build_name_)
    assert big.n_outputs_ == 3 and [c.tolist() for c in big.classes_] == [[0, 1]] * 3
    for a, b in zip(big.predict_proba(X), est.predict_proba(X), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(big.predict(X), est.predict(X))
    Xr, Yr = make_regression(n_samples=80, n_features=5, n_targets=2, random_state=1)
    reg = lamforest.RandomForestRegressor(n_estimators=6, grove_size=2, random_state=8, **QUIET).fit(Xr, Yr)
    store.delete(keys.model(reg.build_name_))
    streamed = lamforest.load(reg.build_name_)
    assert np.array_equal(streamed.predict(Xr), reg.predict(Xr))


# --------------------------------------------------------------------------- the command line


def test_the_cli_builds_predicts_and_writes_several_target_columns(home: Path, tmp_path: Path, capsys) -> None:
    """``--target a,b``: one output per column; the held-out score is scikit-learn's subset accuracy of
    the merged forest; predictions are written one column per output."""
    import pandas as pd

    from lamforest import driver
    from lamforest.cli import main

    X, Y = make_multilabel_classification(n_samples=200, n_classes=2, random_state=4)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["spam"] = np.where(Y[:, 0] == 1, "yes", "no")
    frame["size"] = np.array(["s", "m", "l", "xl"])[Y[:, 1] + np.arange(200) % 2 * 2]  # several classes
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.drop(columns=["spam", "size"]).to_csv(tmp_path / "rows.csv", index=False)
    train = str(tmp_path / "train.csv")
    assert main(["build", "mocli", "--data", train, "--target", "spam,size", "-t", "8", "-g", "4"]) == 0
    capsys.readouterr()
    plan = driver.load_plan(shared("local"), "mocli")
    assert plan.outputs == 2 and plan.classes == [["no", "yes"], ["l", "m", "s", "xl"]]
    model = driver.load_model(shared("local"), "mocli")
    X_te, y_te = driver.results.rows_to_predict(shared("local"), "mocli", plan, None)[:2]
    subset = float(np.mean(np.all(model.predict(X_te) == y_te, axis=1)))
    assert driver.status(shared("local"), "mocli").summary["test_score"] == pytest.approx(subset)
    out = tmp_path / "pred.csv"
    assert main(["predict", "mocli", "--data", str(tmp_path / "rows.csv"), "--out", str(out)]) == 0
    capsys.readouterr()
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction_spam", "prediction_size"]
    expected = model.predict(frame.drop(columns=["spam", "size"]).to_numpy(np.float32))
    assert written["prediction_spam"].tolist() == expected[:, 0].tolist()
    assert written["prediction_size"].tolist() == expected[:, 1].tolist()
    assert main(["predict", "mocli", "--data", str(tmp_path / "train.csv"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["metric"] == "accuracy" and scored["outputs"] == ["spam", "size"]


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("spam,nope", "no column 'nope'"),
        ("spam,spam", "names a column twice"),
        ("spam,n", "mix numbers and labels"),  # the store keeps one kind of label: no pickled objects
    ],
)
def test_bad_target_lists_are_refused_naming_the_column(home: Path, tmp_path: Path, capsys, target, needle) -> None:
    from lamforest.cli import main

    (tmp_path / "t.csv").write_text("f0,f1,spam,n\n1,2,a,1\n3,4,b,2\n5,6,a,1\n7,8,b,2\n")
    assert main(["build", "badtarget", "--data", str(tmp_path / "t.csv"), "--target", target]) == 2
    err = capsys.readouterr().err
    assert "target" in err and needle in err
    assert "badtarget" not in shared("local").store.list(keys.BUILDS)


def test_the_tui_preview_shows_one_column_per_output() -> None:
    from rich.console import Console

    from lamforest.driver import Prediction
    from lamforest_tui.screens.prediction import preview_table

    pred = Prediction(predictions=np.array([["no", "s"], ["yes", "xl"]]), rows=2, outputs=["spam", "size"])
    console = Console(width=100, record=True)
    console.print(preview_table(pred))
    text = console.export_text()
    assert "prediction_spam" in text and "prediction_size" in text
    assert text.splitlines()[-1].split() == ["1", "yes", "xl"]


def test_distributed_predict_of_a_multi_output_build_equals_the_local_one(home: Path, tmp_path: Path, capsys) -> None:
    import pandas as pd

    from lamforest.cli import main

    X, Y = make_regression(n_samples=120, n_features=4, n_targets=2, random_state=5)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(u=Y[:, 0], v=Y[:, 1])
    frame.to_csv(tmp_path / "r.csv", index=False)
    assert main(["build", "modist", "--data", str(tmp_path / "r.csv"), "--target", "u,v", "-t", "6", "-g", "2"]) == 0
    capsys.readouterr()
    assert main(["predict", "modist", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["predict", "modist", "--distributed", "--workers", "1", "--json"]) == 0
    dist = json.loads(capsys.readouterr().out)
    assert dist["distributed"] and np.allclose(np.asarray(dist["predictions"]), np.asarray(local["predictions"]))


def test_what_takes_one_target_refuses_several_by_name(home: Path, tmp_path: Path, capsys) -> None:
    import pandas as pd

    from lamforest.cli import main

    X, Y = make_multilabel_classification(n_samples=80, n_classes=2, random_state=1)
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(p=Y[:, 0], q=Y[:, 1])
    frame.to_csv(tmp_path / "m.csv", index=False)
    search = ["search", "mos", "--data", str(tmp_path / "m.csv"), "--target", "p,q", "--grid", "max_depth=2,4"]
    assert main(search) == 2
    assert "a search scores one target" in capsys.readouterr().err
    assert main(["build", "mosh", "--data", str(tmp_path / "m.csv"), "--target", "p,q", "-t", "2", "-g", "1"]) == 0
    (tmp_path / "shards").mkdir()
    frame.drop(columns=["p", "q"]).to_parquet(tmp_path / "shards" / "part-0.parquet")
    capsys.readouterr()
    assert main(["predict", "mosh", "--data", str(tmp_path / "shards"), "--out", str(tmp_path / "out")]) == 2
    assert "has 2 outputs: predict files or rows with it, not shards" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_estimate_of_a_multi_output_build_runs(home: Path, tmp_path: Path, capsys) -> None:
    import pandas as pd

    from lamforest.cli import main

    X, Y = make_multilabel_classification(n_samples=120, n_classes=2, random_state=2)
    pd.DataFrame(X[:, :4], columns=list("abcd")).assign(p=Y[:, 0], q=Y[:, 1]).to_csv(tmp_path / "e.csv", index=False)
    assert main(["estimate", "--data", str(tmp_path / "e.csv"), "--target", "p,q", "-t", "10", "-g", "5"]) == 0


def test_oob_asked_after_a_warm_fit_of_several_outputs_is_scikit_learns(
    home: Path, labels: tuple[np.ndarray, np.ndarray]
) -> None:
    X, Y = labels
    ours = lamforest.RandomForestClassifier(n_estimators=8, grove_size=3, random_state=2, warm_start=True, **QUIET)
    ours.fit(X, Y)
    ours.set_params(oob_score=True)
    ours.fit(X, Y)  # nothing to grow: the OOB attributes from the trees there are, as scikit-learn does
    theirs = ske.RandomForestClassifier(n_estimators=8, random_state=2, oob_score=True).fit(X, Y)
    assert np.array_equal(ours.oob_decision_function_, theirs.oob_decision_function_)


def test_rows_with_only_some_target_columns_or_an_empty_label_are_refused_naming_them(
    home: Path, tmp_path: Path, capsys
) -> None:
    from lamforest.cli import main

    rows = "a,b,p,q\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'},{'u' if i % 3 else 'v'}\n" for i in range(40))
    (tmp_path / "t.csv").write_text(rows)
    assert main(["build", "mosome", "--data", str(tmp_path / "t.csv"), "--target", "p,q", "-t", "2", "-g", "1"]) == 0
    capsys.readouterr()
    (tmp_path / "half.csv").write_text("a,b,p\n1,2,x\n")
    assert main(["predict", "mosome", "--data", str(tmp_path / "half.csv")]) == 2
    assert "has the target column(s) p but not q" in capsys.readouterr().err
    (tmp_path / "gap.csv").write_text(rows.replace(",u\n", ",\n", 1))
    assert main(["build", "mogap", "--data", str(tmp_path / "gap.csv"), "--target", "p,q"]) == 2
    assert "target column 'q' has empty values" in capsys.readouterr().err
