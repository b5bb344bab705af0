"""Sparse X end to end (#19 item 1): stored as CSR arrays (no pickle), fitted by workers, the same
trees as scikit-learn's forest on the same rows, predicted in any sparse format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesRegressor as SkExtraTreesRegressor
from sklearn.ensemble import RandomForestClassifier as SkRandomForestClassifier

from lamforest import ExtraTreesRegressor, RandomForestClassifier, data, driver, keys
from lamforest.backend.shared import shared
from tests.helpers import assert_same_forest

QUIET = {"progress": False}


def rows() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=300, n_features=20, random_state=0)
    X[X < 0.5] = 0.0  # mostly zeros
    return X.astype(np.float32), y


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array])
def test_a_sparse_fit_grows_scikit_learns_trees_and_predicts_any_sparse_format(home: Path, fmt) -> None:
    X, y = rows()
    ours = RandomForestClassifier(n_estimators=6, grove_size=4, random_state=2, oob_score=True, **QUIET)
    ours.fit(fmt(X), y)
    ref = SkRandomForestClassifier(n_estimators=6, random_state=2, oob_score=True).fit(fmt(X), y)
    assert_same_forest(ours, ref)
    assert ours.oob_score_ == ref.oob_score_
    for rows_in in (sp.csr_matrix(X), sp.csc_matrix(X), X):
        assert np.array_equal(ours.predict_proba(rows_in), ref.predict_proba(rows_in))
        assert np.array_equal(ours.apply(rows_in), ref.apply(rows_in))
    path, ptr = ours.decision_path(sp.csr_matrix(X))
    ref_path, ref_ptr = ref.decision_path(sp.csr_matrix(X))
    assert (path != ref_path).nnz == 0 and np.array_equal(ptr, ref_ptr)


def test_sparse_and_dense_rows_give_the_same_forest(home: Path) -> None:
    X, y = rows()
    target = X[:, 0] * 3 + y
    sparse = ExtraTreesRegressor(n_estimators=5, grove_size=2, random_state=4, **QUIET).fit(sp.csr_matrix(X), target)
    dense = ExtraTreesRegressor(n_estimators=5, grove_size=2, random_state=4, **QUIET).fit(X, target)
    assert_same_forest(sparse, dense)
    assert_same_forest(sparse, SkExtraTreesRegressor(n_estimators=5, random_state=4).fit(sp.csr_matrix(X), target))


def test_the_store_keeps_sparse_rows_as_csr_arrays_without_pickle(home: Path) -> None:
    X, y = rows()
    est = RandomForestClassifier(n_estimators=2, grove_size=1, random_state=0, **QUIET).fit(sp.csr_matrix(X), y)
    backend = shared("local")
    ref = driver.load_plan(backend, est.build_name_).data_ref
    folder = home / ref
    assert sorted(p.name for p in folder.iterdir()) == sorted([*data.SPARSE_PARTS, "y.npy", "meta.json"])
    for name in data.SPARSE_PARTS:
        np.load(folder / name, allow_pickle=False)  # plain arrays: loading runs no code
    stored, _ = data.open_train(backend.store, ref)
    assert sp.issparse(stored) and (stored != sp.csr_matrix(X)).nnz == 0


def test_an_altered_sparse_train_set_is_refused_by_the_worker(home: Path) -> None:
    from lamforest.worker.env import load_train

    X, y = rows()
    est = RandomForestClassifier(n_estimators=2, grove_size=1, random_state=0, **QUIET).fit(sp.csr_matrix(X), y)
    backend = shared("local")
    ref = driver.load_plan(backend, est.build_name_).data_ref
    values = np.load(home / keys.data_file(ref, "X.data.npy"))
    values[0] += 1.0
    np.save(home / keys.data_file(ref, "X.data.npy"), values)
    with pytest.raises(data.DataIntegrityError, match="does not match its content address"):
        load_train(backend.store, ref)


def test_the_cli_builds_and_predicts_libsvm_files(home: Path, tmp_path: Path, capsys) -> None:
    import json

    from sklearn.datasets import dump_svmlight_file

    from lamforest.cli import main

    X, y = rows()
    dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    dump_svmlight_file(X[:40], y[:40], str(tmp_path / "new.libsvm"))
    assert main(["build", "svm", "--data", str(tmp_path / "train.svm"), "-t", "6", "-g", "3", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["state"] == "done" and built["test_score"] > 0.6
    plan = driver.load_plan(shared("local"), "svm")
    assert sorted(p.name for p in (home / plan.data_ref).iterdir()) == sorted(
        [*data.SPARSE_PARTS, "y.npy", "meta.json"]
    )
    assert main(["predict", "svm", "--data", str(tmp_path / "new.libsvm"), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    model = driver.load_model(shared("local"), "svm")
    assert pred["rows"] == 40 and pred["predictions"] == model.predict(sp.csr_matrix(X[:40])).tolist()
    (tmp_path / "bad.svm").write_text("this is not libsvm\n")
    assert main(["build", "bad", "--data", str(tmp_path / "bad.svm")]) == 2
    assert "not a LIBSVM file" in capsys.readouterr().err


def test_distributed_predict_of_sparse_rows_is_refused_before_anything_is_sent(
    home: Path, tmp_path: Path, capsys
) -> None:
    from sklearn.datasets import dump_svmlight_file

    from lamforest.cli import main

    X, y = rows()
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"))
    assert main(["build", "svmd", "--data", str(tmp_path / "d.svm"), "-t", "2", "-g", "1"]) == 0
    capsys.readouterr()
    assert main(["predict", "svmd", "--distributed"]) == 2
    assert "sparse rows are predicted without --distributed" in capsys.readouterr().err
    assert not shared("local").store.list(keys.predict_job("svmd", ""))  # no job was written
    assert main(["predict", "svmd"]) == 0
