"""A weight column is read by the same reader as the rows, for every file type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lamforest.spec import SpecError
from lamforest.tables import read_xy

X = np.arange(24, dtype=np.float64).reshape(6, 4)
Y = np.array([0, 1, 0, 1, 0, 1])
W = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])


def _files(tmp_path: Path) -> dict[str, tuple[Path, str | None, str]]:
    """One file per type, each with features, a target and a weight column: (path, target, weight)."""
    csv = tmp_path / "d.csv"
    header = "a,b,c,d,y,w"
    csv.write_text("\n".join([header, *(",".join(map(str, [*x, t, w])) for x, t, w in zip(X, Y, W, strict=True))]))
    pq = tmp_path / "d.parquet"
    import pyarrow as pa
    import pyarrow.parquet as papq

    papq.write_table(pa.table({**{k: X[:, i] for i, k in enumerate("abcd")}, "y": Y, "w": W}), pq)
    npy = tmp_path / "d.npy"
    np.save(npy, np.c_[X, W, Y])  # the target last, the weights before it
    npz = tmp_path / "d.npz"
    np.savez(npz, X=X, y=Y, w=W)
    return {"csv": (csv, "y", "w"), "parquet": (pq, "y", "w"), "npy": (npy, None, "4"), "npz": (npz, None, "w")}


@pytest.mark.parametrize("kind", ["csv", "parquet", "npy", "npz"])
def test_the_weights_are_their_column_and_the_features_are_the_rest(tmp_path: Path, kind: str) -> None:
    path, target, weight = _files(tmp_path)[kind]
    features, y, names, w = read_xy(path, target, weight)
    assert np.array_equal(features, X) and np.array_equal(y, Y) and np.array_equal(w, W)
    assert names == (list("abcd") if kind in ("csv", "parquet") else ["x0", "x1", "x2", "x3"])
    if kind in ("csv", "parquet"):  # without --weight the column is a feature, as before
        unweighted, _, unnamed, none = read_xy(path, target)
        assert none is None and unnamed == [*"abcd", "w"] and np.array_equal(unweighted[:, :4], X)


@pytest.mark.parametrize(
    ("kind", "weight", "match"),
    [
        ("csv", "nope", "no column 'nope'"),
        ("csv", "y", "is the target"),
        ("npy", "5", "is the target"),
        ("npy", "9", "out of range"),
        ("npz", "v", "no array named 'v'"),
    ],
)
def test_a_bad_weight_column_is_named(tmp_path: Path, kind: str, weight: str, match: str) -> None:
    path, target, _ = _files(tmp_path)[kind]
    with pytest.raises(SpecError, match=match) as info:
        read_xy(path, target, weight)
    assert info.value.field == "weight"


def test_a_libsvm_file_has_no_weight_column(tmp_path: Path) -> None:
    path = tmp_path / "d.svm"
    path.write_text("0 1:1.5 2:2\n1 1:0.5\n")
    assert read_xy(path, None)[3] is None
    with pytest.raises(SpecError, match="LIBSVM file holds labels and features only") as info:
        read_xy(path, None, "w")
    assert info.value.field == "weight"


def test_weights_whose_sum_overflows_are_refused_before_anything_starts(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import warnings

    from lamforest.cli import main as cli_main
    from lamforest.weights import check_weight

    huge = np.array([1e308, 1e308, 1.0])  # each finite, their sum not: every tree's impurity sums overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # named, not warned about by numpy on the way
        with pytest.raises(SpecError, match="sum overflows") as info:
            check_weight(huge, 3)
    assert info.value.field == "weight"
    path = tmp_path / "w.csv"
    rows = [f"{x[0]},{x[1]},{t},{w}" for x, t, w in zip(X, Y, [1e308, 1e308, 1, 1, 1, 1], strict=True)]
    path.write_text("\n".join(["a,b,y,w", *rows]))
    assert cli_main(["build", "huge", "--data", str(path), "--target", "y", "--weight", "w", "-t", "2", "-g", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error in weight:") and "sum overflows" in err and len(err.splitlines()) == 1
    assert not (home / "builds" / "huge").exists()
