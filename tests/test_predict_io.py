"""Rows to predict (data.load_rows) and predictions written out (output.write_predictions)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lamforest import data, output
from lamforest.spec import SpecError

FEATURES = ["a", "b", "c"]


def refused(field: str, phrase: str, fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    assert info.value.field == field, info.value
    assert phrase in str(info.value), info.value
    assert "\n" not in str(info.value)
    return info.value


# --------------------------------------------------------------------------- load_rows


def test_csv_with_and_without_the_target(tmp_path: Path) -> None:
    labelled = tmp_path / "l.csv"
    labelled.write_text("a,label,b,c\n1,x,2,3\n4,x,5,6\n")  # a single class is fine for predicting
    X, y = data.load_rows(str(labelled), FEATURES, "label")
    assert X.dtype == np.float32 and X.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert list(y) == ["x", "x"]
    unlabelled = tmp_path / "u.csv"
    unlabelled.write_text("a,b,c\n1,2,3\n")
    X, y = data.load_rows(str(unlabelled), FEATURES, "label")
    assert X.tolist() == [[1, 2, 3]] and y is None


def test_an_empty_target_column_means_unlabelled(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("a,b,c,y\n1,2,3,\n4,5,6,\n")
    assert data.load_rows(str(p), FEATURES, "y")[1] is None
    p.write_text("a,b,c,y\n1,2,3,0.5\n4,5,6,\n")
    refused("target", "missing (NaN)", data.load_rows, str(p), FEATURES, "y")


def test_parquet_rows(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [3, 4], "c": [5.5, 6.5], "y": [0.25, 0.5]}), p)
    X, y = data.load_rows(str(p), FEATURES, "y")
    assert X.tolist() == [[1, 3, 5.5], [2, 4, 6.5]] and y.tolist() == [0.25, 0.5]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    ("columns", "phrase"),
    [
        (["a", "b"], "missing 'c'"),
        (["a", "b", "c", "d"], "unknown 'd'"),
        (["a", "b", "z"], "missing 'c'; unknown 'z'"),
        (["b", "a", "c"], "another order than the model's; expected a, b, c"),
    ],
    ids=["missing", "extra", "renamed", "reordered"],
)
def test_mismatched_columns_are_named(tmp_path: Path, suffix: str, columns: list[str], phrase: str) -> None:
    p = tmp_path / f"d{suffix}"
    table = pa.table({name: [1.0, 2.0] for name in columns})
    if suffix == ".csv":
        pacsv.write_csv(table, p)
    else:
        pq.write_table(table, p)
    refused("data", phrase, data.load_rows, str(p), FEATURES, "y")


def test_npy_column_count(tmp_path: Path) -> None:
    p = tmp_path / "d.npy"
    np.save(p, np.arange(12.0).reshape(4, 3))
    X, y = data.load_rows(str(p), FEATURES, None)
    assert X.shape == (4, 3) and y is None
    np.save(p, np.arange(16.0).reshape(4, 4))
    X, y = data.load_rows(str(p), FEATURES, "0")  # the target was column 0 when trained
    assert X[:, 0].tolist() == [1, 5, 9, 13] and y.tolist() == [0, 4, 8, 12]
    np.save(p, np.arange(10.0).reshape(2, 5))
    refused(
        "data", "5 columns; the model expects 3 features, or 4 with the target", data.load_rows, str(p), FEATURES, None
    )


def test_npz_y_is_optional(tmp_path: Path) -> None:
    p = tmp_path / "d.npz"
    np.savez(p, X=np.ones((5, 3)))
    X, y = data.load_rows(str(p), FEATURES, None)
    assert X.shape == (5, 3) and y is None
    np.savez(p, X=np.ones((5, 2)), y=np.zeros(5))
    refused("data", "X has 2 columns, the model expects 3", data.load_rows, str(p), FEATURES, None)


def test_builtin_rows() -> None:
    names = data.load("iris").feature_names
    X, y = data.load_rows("iris", names, None)
    assert X.shape == (150, 4) and y is not None
    refused("data", "the model expects 3", data.load_rows, "iris", FEATURES, None)


def test_malformed_rows_file(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("a,b,c\n1,2\n")
    refused("data", "line 2: 2 values", data.load_rows, str(p), FEATURES, None)


# --------------------------------------------------------------------------- write_predictions

CLASSES = ["cat", "dog"]
PRED = np.array(["dog", "cat", "dog"])
PROBA = np.array([[0.25, 0.75], [0.5, 0.5], [0.125, 0.875]])


def test_csv_round_trip(tmp_path: Path) -> None:
    out = output.write_predictions(str(tmp_path / "p.csv"), PRED, PROBA, CLASSES)
    table = pacsv.read_csv(out)
    assert table.column_names == ["prediction", "proba_cat", "proba_dog"]
    assert table.column("prediction").to_pylist() == list(PRED)
    np.testing.assert_array_equal(np.column_stack([table.column(1), table.column(2)]), PROBA)


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path: Path, suffix: str) -> None:
    out = output.write_predictions(str(tmp_path / f"p{suffix}"), PRED, PROBA, CLASSES)
    table = pq.read_table(out)
    assert table.column_names == ["prediction", "proba_cat", "proba_dog"]
    assert table.column("prediction").to_pylist() == list(PRED)
    assert table.column("proba_dog").to_pylist() == list(PROBA[:, 1])


def test_npy_round_trip_text_labels_as_class_index(tmp_path: Path) -> None:
    out = output.write_predictions(str(tmp_path / "p.npy"), PRED, PROBA, CLASSES)
    arr = np.load(out, allow_pickle=False)
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, np.column_stack([[1, 0, 1], PROBA]))


def test_npy_regression_and_numeric_labels(tmp_path: Path) -> None:
    out = output.write_predictions(str(tmp_path / "r.npy"), np.array([1.5, -2.25]), None, None)
    assert np.load(out).tolist() == [[1.5], [-2.25]]
    out = output.write_predictions(str(tmp_path / "c.npy"), np.array([3, 7]), np.array([[1.0, 0], [0, 1]]), [3, 7])
    assert np.load(out).tolist() == [[3, 1, 0], [7, 0, 1]]


def test_regression_csv_has_only_the_prediction(tmp_path: Path) -> None:
    out = output.write_predictions(str(tmp_path / "r.csv"), np.array([0.1, 2.5]), None, None)
    assert Path(out).read_text().splitlines() == ['"prediction"', "0.1", "2.5"]


def test_dash_writes_csv_to_stdout(capsys) -> None:
    assert output.write_predictions("-", PRED, PROBA, CLASSES) == "-"
    table = pacsv.read_csv(io.BytesIO(capsys.readouterr().out.encode()))
    assert table.column_names == ["prediction", "proba_cat", "proba_dog"] and table.num_rows == 3


def test_existing_file_needs_force(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("keep me")
    refused("out", "already exists", output.write_predictions, str(p), PRED, None, None)
    assert p.read_text() == "keep me"
    output.write_predictions(str(p), PRED, None, None, force=True)
    assert p.read_text().splitlines()[0] == '"prediction"'
    assert [f.name for f in tmp_path.iterdir()] == ["p.csv"]  # no temporary file left


def test_bad_output_paths(tmp_path: Path) -> None:
    refused("out", "unknown file type '.txt'", output.write_predictions, str(tmp_path / "p.txt"), PRED, None, None)
    (tmp_path / "dir.csv").mkdir()
    refused("out", "is a folder", output.write_predictions, str(tmp_path / "dir.csv"), PRED, None, None)
    refused("out", "does not exist", output.write_predictions, str(tmp_path / "no" / "p.csv"), PRED, None, None)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs, where no one (root included) creates files")
def test_unwritable_folder() -> None:
    refused("out", "cannot write in /sys", output.write_predictions, "/sys/p.csv", PRED, None, None)


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError):
        output.write_predictions(str(tmp_path / "p.npy"), np.array([1.0]), None, None)
    assert list(tmp_path.iterdir()) == []
