"""Writing predictions: CSV, Parquet or NPY by the file's suffix, or CSV to stdout.

Files are written to a temporary file in the same folder and renamed into
place, so a reader never sees half a file. pyarrow is imported when needed,
as in ``lamforest.tables``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lamforest.spec import SpecError
from lamforest.tables import one_line

if TYPE_CHECKING:
    import pyarrow as pa

SUFFIXES = (".csv", ".parquet", ".pq", ".npy")


def write_predictions(
    path: str,
    predictions: np.ndarray,
    proba: np.ndarray | None = None,
    classes: list[Any] | None = None,
    force: bool = False,
    outputs: list[str] | None = None,
) -> str:
    """Write predictions to ``path`` by its suffix and return where they went.

    Columns: ``prediction``, then for a classifier one ``proba_<class>`` column per
    class. ``.csv``, ``.parquet``/``.pq`` and ``.npy`` are written to a temporary
    file in the same folder and renamed into place, so a reader never sees half a
    file; ``-`` writes CSV to stdout. An existing file is refused unless ``force``.

    An ``.npy`` file is one 2-D float64 array in the same column order. Its
    first column is the predicted label when labels are numbers; when they are
    text (which a float array cannot hold) it is the label's index in
    ``classes``, the order of the probability columns.

    Multi-output predictions (2-D, one column per output) are written as one ``prediction_<output>``
    column per name in ``outputs``, without probabilities.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        if outputs is None or len(outputs) != predictions.shape[1] or proba is not None:
            raise ValueError("multi-output predictions need one output name per column and no proba")
        names = [f"prediction_{o}" for o in outputs]
    elif predictions.ndim != 1:
        raise ValueError(f"predictions must be 1-D, got shape {predictions.shape}")
    else:
        names = ["prediction"] + ([f"proba_{c}" for c in classes or []] if proba is not None else [])
    if proba is not None and (classes is None or proba.shape != (len(predictions), len(classes))):
        raise ValueError("proba needs classes and one column per class, one row per prediction")
    if path == "-":
        sys.stdout.write(_csv_text(names, predictions, proba))
        sys.stdout.flush()
        return "-"
    out = check_target(path, force)
    suffix = out.suffix.lower()
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise SpecError(
            "out",
            f"{path}: cannot write in {out.parent} ({exc.strerror or one_line(exc)}); choose a folder you can write to",
        ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if suffix == ".csv":
                f.write(_csv_text(names, predictions, proba).encode())
            elif suffix == ".npy":
                np.save(f, _npy_matrix(predictions, proba, classes), allow_pickle=False)
            else:
                import pyarrow.parquet as pq

                pq.write_table(_arrow_table(names, predictions, proba), f)
        if force:
            os.replace(tmp, out)
        else:
            _link_new(tmp, out, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return str(out)


def check_target(path: str, force: bool = False) -> Path:
    """Refuse, before any work, a path ``write_predictions`` would refuse: unknown suffix, a folder,
    a missing folder, an existing file without ``force``."""
    out = Path(path).expanduser()
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError("out", f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .npy (or - for stdout)")
    if out.is_dir():
        raise SpecError("out", f"{path} is a folder; give a file name ending in {suffix or '.csv'}")
    if not out.parent.is_dir():
        raise SpecError("out", f"{path}: the folder {out.parent} does not exist; create it first")
    if (out.exists() or out.is_symlink()) and not force:
        raise SpecError("out", f"{path} already exists; choose another name or allow overwriting it (force)")
    return out


def _link_new(tmp: str, out: Path, shown: str) -> None:
    """Rename ``tmp`` to ``out`` unless ``out`` appeared meanwhile (a hard link fails on an existing name)."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise SpecError("out", f"{shown} already exists; choose another name or allow overwriting it (force)") from None
    except OSError:  # a filesystem without hard links
        os.replace(tmp, out)


def _arrow_table(names: list[str], predictions: np.ndarray, proba: np.ndarray | None) -> pa.Table:
    import pyarrow as pa

    parts = predictions.T if predictions.ndim == 2 else [predictions]
    cols = [pa.array(p.astype(str) if p.dtype.kind in "USO" else p) for p in parts]
    if proba is not None:
        cols += [pa.array(np.asarray(proba[:, j], dtype=np.float64)) for j in range(proba.shape[1])]
    return pa.Table.from_arrays(cols, names=names)


def _csv_text(names: list[str], predictions: np.ndarray, proba: np.ndarray | None) -> str:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(_arrow_table(names, predictions, proba), sink)
    return sink.getvalue().to_pybytes().decode()


def _npy_matrix(predictions: np.ndarray, proba: np.ndarray | None, classes: list[Any] | None) -> np.ndarray:
    if predictions.ndim == 2:
        if predictions.dtype.kind not in "biuf":
            raise SpecError("out", "text labels of several outputs cannot go in an .npy file; write .csv or .parquet")
        return predictions.astype(np.float64)
    if predictions.dtype.kind in "biuf":
        first = predictions.astype(np.float64)
    elif classes is not None:
        index = {str(c): i for i, c in enumerate(classes)}
        first = np.array([index[str(p)] for p in predictions], dtype=np.float64)
    else:
        raise SpecError("out", "text labels cannot go in an .npy file without their classes; write .csv or .parquet")
    cols = [first] if proba is None else [first, *np.asarray(proba, dtype=np.float64).T]
    return np.column_stack(cols)
