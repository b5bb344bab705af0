"""Malformed data files: every class, for every format, is one SpecError line naming the field, never a traceback."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lamforest import data, tables
from lamforest.spec import SpecError

RNG_BYTES = np.random.default_rng(0).bytes(3000)
GOOD_CSV = "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n"


def refused(source: Path | str, field: str, phrase: str, target: str | None = "y") -> SpecError:
    with pytest.raises(SpecError) as info:
        data.load(str(source), target=target)
    err = info.value
    text = str(err)
    assert err.field == field, text
    assert phrase in text, text
    assert "\n" not in text and "Traceback" not in text, text
    return err


def _write(content: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(content)


def _parquet(table: pa.Table) -> Callable[[Path], None]:
    return lambda p: pq.write_table(table, p)


def _good_parquet_bytes(tmp: Path) -> bytes:
    p = tmp / "good.parquet"
    pq.write_table(pa.table({"a": np.arange(200.0), "b": np.arange(200), "y": np.arange(200) % 2}), p)
    return p.read_bytes()


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, arr, allow_pickle=allow_pickle)

    return write


def _npz(**arrays: np.ndarray) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez(f, **arrays)

    return write


def _zip_of_junk(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("X.npy", b"not numpy")
        z.writestr("y.npy", b"not numpy either")


X = np.random.default_rng(1).normal(size=(20, 3))
Y = np.arange(20) % 2

# (case id, file suffix, writer, field, key phrase, target)
CASES: list[tuple[str, str, Callable[[Path], None], str, str, str | None]] = [
    # CSV
    ("csv-utf16", ".csv", lambda p: p.write_text(GOOD_CSV, encoding="utf-16"), "data", "not UTF-8", "y"),
    (
        "csv-latin1-values",
        ".csv",
        _write("a,b,y\n1,2,caf\xe9\n3,4,th\xe9\n".encode("latin-1")),
        "data",
        "not UTF-8",
        "y",
    ),
    ("csv-latin1-header", ".csv", _write("a,b\xe9,y\n1,2,0\n3,4,1\n".encode("latin-1")), "data", "not UTF-8", "y"),
    ("csv-random-bytes", ".csv", _write(RNG_BYTES), "data", "not UTF-8", "y"),
    ("csv-empty", ".csv", _write(b""), "data", "is empty", "y"),
    ("csv-blank-line", ".csv", _write(b"\n"), "data", "is empty", "y"),
    ("csv-header-only", ".csv", _write(b"a,b,y\n"), "data", "no rows", "y"),
    ("csv-ragged-short", ".csv", _write(b"a,b,y\n1,2,0\n3,4\n5,6,1\n"), "data", "line 3: 2 values, header has 3", "y"),
    ("csv-ragged-long", ".csv", _write(b"a,b,y\n1,2,0\n3,4,5,6\n"), "data", "line 3: 4 values", "y"),
    ("csv-duplicate-column", ".csv", _write(b"a,a,y\n1,2,0\n3,4,1\n"), "data", "'a' appears twice", "y"),
    ("csv-non-numeric", ".csv", _write(b"a,c,y\n1,red,0\n3,blue,1\n"), "data", "'c' is not numeric", "y"),
    ("csv-date-feature", ".csv", _write(b"a,d,y\n1,2020-01-01,0\n3,2020-01-02,1\n"), "data", "'d' is not numeric", "y"),
    ("csv-no-target-column", ".csv", _write(GOOD_CSV.encode()), "target", "no column 'label'", "label"),
    ("csv-target-not-named", ".csv", _write(GOOD_CSV.encode()), "target", "--target", None),
    ("csv-only-target", ".csv", _write(b"y\n0\n1\n"), "data", "no feature columns", "y"),
    ("csv-infinite-feature", ".csv", _write(b"a,b,y\n1,inf,0\n3,4,1\n"), "data", "infinite", "y"),
    ("csv-nan-target", ".csv", _write(b"a,b,y\n1,2,0.5\n3,4,\n5,6,1.5\n"), "target", "missing (NaN)", "y"),
    ("csv-infinite-target", ".csv", _write(b"a,b,y\n1,2,0.5\n3,4,inf\n5,6,1.5\n"), "target", "infinite", "y"),
    ("csv-empty-label", ".csv", _write(b"a,b,y\n1,2,cat\n3,4,\n5,6,dog\n"), "target", "empty values", "y"),
    ("csv-single-class", ".csv", _write(b"a,b,y\n1,2,cat\n3,4,cat\n"), "target", "single class", "y"),
    # Parquet
    ("parquet-random-bytes", ".parquet", _write(RNG_BYTES), "data", "not a readable Parquet file", "y"),
    ("parquet-empty", ".parquet", _write(b""), "data", "is empty", "y"),
    (
        "parquet-truncated",
        ".parquet",
        lambda p: p.write_bytes(_good_parquet_bytes(p.parent)[:-40]),
        "data",
        "truncated",
        "y",
    ),
    (
        "parquet-corrupt-pages",
        ".parquet",
        lambda p: p.write_bytes(_good_parquet_bytes(p.parent)[:4] + bytes(400) + _good_parquet_bytes(p.parent)[404:]),
        "data",
        "corrupt",
        "y",
    ),
    ("parquet-list-column", ".parquet", _parquet(pa.table({"a": [[1], [2, 3]], "y": [0, 1]})), "data", "'a'", "y"),
    (
        "parquet-struct-column",
        ".parquet",
        _parquet(pa.table({"s": [{"p": 1}, {"p": 2}], "b": [1, 2], "y": [0, 1]})),
        "data",
        "lists or structs",
        "y",
    ),
    (
        "parquet-duplicate-column",
        ".parquet",
        _parquet(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4]), pa.array([0, 1])], names=["a", "a", "y"])),
        "data",
        "'a' appears twice",
        "y",
    ),
    (
        "parquet-no-rows",
        ".parquet",
        _parquet(pa.table({"a": pa.array([], pa.float64()), "y": pa.array([], pa.int64())})),
        "data",
        "no rows",
        "y",
    ),
    (
        "parquet-text-feature",
        ".parquet",
        _parquet(pa.table({"c": ["red", "blue"], "y": [0, 1]})),
        "data",
        "'c' is not numeric",
        "y",
    ),
    (
        "parquet-no-target-column",
        ".parquet",
        _parquet(pa.table({"a": [1, 2], "b": [0, 1]})),
        "target",
        "no column 'y'",
        "y",
    ),
    (
        "parquet-infinite-target",
        ".parquet",
        _parquet(pa.table({"a": [1, 2, 3], "y": [0.5, np.inf, 1.5]})),
        "target",
        "infinite",
        "y",
    ),
    # NPY
    ("npy-random-bytes", ".npy", _write(RNG_BYTES), "data", "not an .npy file", None),
    ("npy-empty", ".npy", _write(b""), "data", "is empty", None),
    (
        "npy-truncated",
        ".npy",
        lambda p: (_npy(np.ones((50, 4)))(p), p.write_bytes(p.read_bytes()[:300])),
        "data",
        "truncated",
        None,
    ),
    (
        "npy-object",
        ".npy",
        _npy(np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True),
        "data",
        "Python objects",
        None,
    ),
    ("npy-complex", ".npy", _npy(np.ones((10, 3), dtype=complex)), "data", "complex", None),
    ("npy-text", ".npy", _npy(np.array([["1", "a"], ["2", "b"]])), "data", "text", None),
    ("npy-structured", ".npy", _npy(np.zeros(4, dtype=[("a", "f8"), ("y", "i8")])), "data", "dtype", None),
    ("npy-one-dimensional", ".npy", _npy(np.arange(10.0)), "data", "2-D", None),
    ("npy-target-out-of-range", ".npy", _npy(np.column_stack([X, Y])), "target", "out of range", "7"),
    ("npy-nan-target", ".npy", _npy(np.column_stack([X, np.where(Y, np.nan, 1.0)])), "target", "missing (NaN)", None),
    # NPZ
    ("npz-not-a-zip", ".npz", _write(RNG_BYTES), "data", "not an .npz archive", None),
    ("npz-is-an-npy", ".npz", _npy(np.ones((4, 3))), "data", "not an .npz archive", None),
    ("npz-empty", ".npz", _write(b""), "data", "is empty", None),
    ("npz-missing-y", ".npz", _npz(X=X), "data", "needs arrays named X and y", None),
    ("npz-missing-X", ".npz", _npz(features=X, y=Y), "data", "needs arrays named X and y", None),
    (
        "npz-object-X",
        ".npz",
        lambda p: np.savez(p, X=np.array([[1, "a"]], dtype=object), y=Y[:1]),
        "data",
        "Python objects",
        None,
    ),
    ("npz-complex-X", ".npz", _npz(X=X.astype(complex), y=Y), "data", "complex", None),
    ("npz-X-one-dimensional", ".npz", _npz(X=X[:, 0], y=Y), "data", "X must be 2-D", None),
    ("npz-y-two-dimensional", ".npz", _npz(X=X, y=Y[:, None]), "data", "y must be 1-D", None),
    ("npz-rows-differ", ".npz", _npz(X=X, y=Y[:5]), "data", "X has 20 rows but y has 5", None),
    (
        "npz-truncated",
        ".npz",
        lambda p: (_npz(X=np.ones((500, 8)), y=np.arange(500) % 2)(p), p.write_bytes(p.read_bytes()[:-200])),
        "data",
        "not an .npz archive",
        None,
    ),
    (
        "npz-corrupt-member",
        ".npz",
        _zip_of_junk,
        "data",
        "not a readable .npz file",
        None,
    ),
]


@pytest.mark.parametrize(
    ("suffix", "write", "field", "phrase", "target"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_file(tmp_path: Path, suffix: str, write, field: str, phrase: str, target: str | None) -> None:
    path = tmp_path / f"d{suffix}"
    write(path)
    err = refused(path, field, phrase, target)
    assert "d" + suffix in str(err)  # the file is named


def test_object_npy_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Touch:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.npy"
    arr = np.empty((2, 2), dtype=object)
    arr[:] = Touch()
    path.write_bytes(b"")
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=True)
    assert pickle.dumps(Touch())  # it would run on load
    refused(path, "data", "never unpickled", None)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_directory_given_as_the_file(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"d{suffix}").mkdir()
    refused(tmp_path / f"d{suffix}", "data", "is a folder")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_file_does_not_exist(tmp_path: Path, suffix: str) -> None:
    refused(tmp_path / f"nope{suffix}", "data", "no such file or folder")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_fifo_is_not_opened(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"pipe{suffix}"
    os.mkfifo(path)  # opening it would block until a writer came
    refused(path, "data", "not a regular file")


def test_unreadable_file_as_root(tmp_path: Path, monkeypatch) -> None:
    """Where permissions cannot be made to bind (root), the read is made to fail as it would for another user."""

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tables, "open", denied, raising=False)
    path = tmp_path / "d.csv"
    path.write_text(GOOD_CSV)
    refused(path, "data", "cannot read it (Permission denied); check its permissions")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"PK")
    refused(path, "data", "unsupported file type '.xlsx'")


# --------------------------------------------------------------------------- what still loads


def test_csv_reads_as_before(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("\ufeff a , b ,label\n1,NA,cat\n3,4.5,dog\n,6,cat\n7,8,dog\n")
    ds = data.load(str(p), target="label")
    assert ds.feature_names == ["a", "b"]
    assert ds.task == "classification" and list(ds.y) == ["cat", "dog", "cat", "dog"]
    assert ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    np.testing.assert_array_equal(ds.X, np.array([[1, np.nan], [3, 4.5], [np.nan, 6], [7, 8]], dtype=np.float32))


def test_csv_quoted_line_breaks(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text('a,y\n1,"two\nlines"\n2,one\n3,one\n')
    assert list(data.load(str(p), target="y").y) == ["two\nlines", "one", "one"]


def test_csv_text_booleans_are_labels(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("a,y\n1,true\n2,false\n3,true\n")
    assert sorted(set(data.load(str(p), target="y").y)) == ["false", "true"]


def test_parquet_types_convert_in_bulk(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    table = pa.table(
        {
            "i": pa.array([1, None, 3, 4], pa.int32()),
            "f": pa.array([0.5, 1.5, None, 2.5]),
            "b": [True, False, True, False],
            "s": ["1.5", "2", "", "4"],
            "d": pa.array(["x", "y", "x", "y"]).dictionary_encode(),
        }
    )
    pq.write_table(table, p)
    ds = data.load(str(p), target="d")
    assert ds.feature_names == ["i", "f", "b", "s"] and list(ds.y) == ["x", "y", "x", "y"]
    expected = [[1, 0.5, 1, 1.5], [np.nan, 1.5, 0, 2], [3, np.nan, 1, np.nan], [4, 2.5, 0, 4]]
    np.testing.assert_array_equal(ds.X, np.array(expected, dtype=np.float32))


def test_regression_target_from_csv(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("a,y\n" + "".join(f"{i},{i * 0.25}\n" for i in range(30)))
    ds = data.load(str(p), target="y")
    assert ds.task == "regression" and ds.y.dtype == np.float64 and ds.y[3] == 0.75
