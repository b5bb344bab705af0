"""Datasets: built-ins, synthetic, files; the build's one split; the content-addressed train set.

Files are read by ``lamforest.tables``; ``load`` (training) and ``load_rows``
(rows to predict) are the entries the rest of the code calls.

The driver loads and splits; only the train set is written to the store
(``data/<sha256>/X.npy``, ``y.npy``, optional ``w.npy`` sample weights,
``meta.json``) where workers memory-map it. The test set stays with the
driver (``builds/<name>/test.npz``). A test size of 0 keeps every row for
training, in the order given, and leaves no test set.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamforest import keys, tables, weights
from lamforest.spec import SpecError
from lamforest.store.base import Store

BUILTINS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
SYNTHETIC_RE = re.compile(r"^synthetic:(\d+)x(\d+)(?::(\d+))?$")
FILE_SUFFIXES = tables.SUFFIXES


@dataclass
class Dataset:
    X: Any  # float32, C order; or a canonical CSR matrix (data.canonical_csr) for sparse rows
    y: np.ndarray  # labels (int or str) for classification, float64 for regression
    task: str
    source: str
    feature_names: list[str]
    weight: np.ndarray | None = None  # per-row sample weights (float64), when the data has them
    named: bool = True  # False when feature_names were generated (x0, x1, ...) rather than read


def describe_sources() -> str:
    return f"a built-in ({', '.join(BUILTINS)}), synthetic:ROWSxCOLS[:CLASSES], or a .csv/.parquet/.npz/.npy file"


def load(
    source: str, target: str | None = None, task: str = "auto", seed: int = 0, weight: str | None = None
) -> Dataset:
    """Load a dataset and resolve ``task``; raise SpecError naming the bad field.

    ``weight`` names a column of a CSV/Parquet file (a column index of an .npy
    file) holding per-row sample weights; it is neither a feature nor the target.
    """
    source = source.strip()
    w = None
    named = True
    if weight is not None and not _is_file(source):
        raise SpecError("weight", f"sample weights come from a column of a data file, not from {source!r}")
    if source in BUILTINS:
        X, y, names = _builtin(source)
        natural = BUILTINS[source]
    elif m := SYNTHETIC_RE.match(source):
        X, y, names, natural = _synthetic(m, task, seed)
        named = False
    elif source.startswith("synthetic:"):
        raise SpecError("data", f"{source!r}: expected synthetic:ROWSxCOLS[:CLASSES], e.g. synthetic:5000x20:3")
    elif _is_file(source):
        path = Path(source).expanduser()
        X, y, names, w = tables.read_xy(path, target, weight)
        named = path.suffix.lower() not in (".npy", ".npz")
        natural = None
    else:
        raise SpecError("data", f"unknown dataset {source!r}; use {describe_sources()}")
    ds = _finish(X, y, names, task, natural, source, target=target)
    ds.named = named
    if w is not None:
        ds.weight = weights.check_weight(w, X.shape[0], source)
    return ds


def shape_hint(source: str) -> tuple[int, int] | None:
    """A dataset's (rows, columns) told without loading it, where that is cheap: exact for synthetic
    data and .npy files (their header), guessed for CSV from the file's size and its first lines;
    None otherwise (built-ins are small; other formats, folders and bad paths: unknown). A hint
    for starting workers early, never a check: ``load`` says what the data is."""
    source = source.strip()
    if m := SYNTHETIC_RE.match(source):
        return int(m.group(1)), int(m.group(2))
    if not _is_file(source):
        return None
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        return None
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return None  # a FIFO or a device is never opened here: its open could block
        with open(path, "rb") as f:
            if suffix == ".npy":
                fmt = np.lib.format
                v1 = fmt.read_magic(f) == (1, 0)
                shape = (fmt.read_array_header_1_0 if v1 else fmt.read_array_header_2_0)(f)[0]
                return (int(shape[0]), int(shape[1])) if len(shape) == 2 else None
            head = f.read(1 << 16)
    except (OSError, ValueError):
        return None
    lines = head.splitlines()[1:-1]  # past the header, short of a line the read may have cut
    if not lines:
        return None
    per_row = sum(len(line) + 1 for line in lines) / len(lines)
    return max(1, int(st.st_size / per_row)), lines[0].count(b",") + 1


def _is_file(source: str) -> bool:
    return source.lower().endswith(FILE_SUFFIXES) or os.sep in source or "/" in source


def missing_path(source: str) -> bool:
    """A local file or folder named by ``source`` that is not there (``load`` will say so at once);
    False for synthetic and built-in data and for URLs (``s3://...``)."""
    source = source.strip()
    if "://" in source or SYNTHETIC_RE.match(source) or not _is_file(source):
        return False
    return not os.path.lexists(Path(source).expanduser())


def _builtin(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n) for n in getattr(bunch, "feature_names", [])] or [f"x{i}" for i in range(bunch.data.shape[1])]
    return np.asarray(bunch.data), np.asarray(bunch.target), names


def _synthetic(m: re.Match[str], task: str, seed: int) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    from sklearn.datasets import make_classification, make_regression

    rows, cols = int(m.group(1)), int(m.group(2))
    classes = int(m.group(3)) if m.group(3) else None
    if rows < 2 or cols < 1:
        raise SpecError("data", f"synthetic data needs at least 2 rows and 1 column, got {rows}x{cols}")
    if rows * cols > 2_000_000_000:
        raise SpecError("data", f"synthetic {rows}x{cols} is too large")
    names = [f"x{i}" for i in range(cols)]
    if task == "regression" or (classes is None and task == "regression"):
        X, y = make_regression(
            n_samples=rows,
            n_features=cols,
            n_informative=max(1, min(cols, 10)),
            noise=5.0,
            random_state=seed,
        )
        return X.astype(np.float32), y, names, "regression"
    classes = classes or 2
    if classes < 2:
        raise SpecError("data", f"synthetic data needs at least 2 classes, got {classes}")
    # Enough informative columns for the classes' clusters, and well separated
    # classes, so that the data is learnable rather than noise.
    informative = min(cols, max(math.ceil(math.log2(classes * 2)) + 1, cols // 10))
    if 2**informative < classes * 2:
        raise SpecError("data", f"{cols} columns cannot separate {classes} classes; add columns")
    X, y = make_classification(
        n_samples=rows,
        n_features=cols,
        n_informative=informative,
        n_redundant=0,
        n_classes=classes,
        n_clusters_per_class=2,
        class_sep=2.0,
        flip_y=0.01,
        random_state=seed,
    )
    return X.astype(np.float32), y, names, "classification"


def from_arrays(X: np.ndarray, y: np.ndarray, feature_names: list[str] | None, task: str, source: str) -> Dataset:
    """A dataset of arrays already in memory, checked and typed as a loaded file's would be."""
    names = feature_names if feature_names is not None else [f"x{i}" for i in range(X.shape[1])]
    # One class is learnable from arrays, as scikit-learn fits it (every prediction is that class); a
    # file's one-class target column is more often the wrong column, so files still refuse it.
    ds = _finish(X, y, names, task, None, source, one_class=True)
    ds.named = feature_names is not None
    return ds


def _finish(
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    task: str,
    natural: str | None,
    source: str,
    one_class: bool = False,
    target: str | None = None,
) -> Dataset:
    if X.shape[0] == 0 or y.shape[0] == 0:
        raise SpecError("data", f"{source}: the dataset is empty")
    if X.shape[0] != y.shape[0]:
        raise SpecError("data", f"{source}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    X = _features(X, source)
    numeric_y = np.issubdtype(y.dtype, np.number)
    _target_values(y, source, target)
    if task == "auto":
        if natural:
            task = natural
        elif not numeric_y:
            task = "classification"
        else:
            integral = np.all(np.equal(np.mod(y, 1), 0))
            task = "classification" if integral and len(np.unique(y)) <= 100 else "regression"
    if task == "regression":
        if not numeric_y:
            raise SpecError("task", f"{source}: regression needs a numeric target")
        y = y.astype(np.float64)
    else:
        if numeric_y:
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise SpecError("task", f"{source}: classification needs class labels, the target is continuous")
            y = y.astype(np.int64)
        else:
            y = y.astype(str)
        for k, col in enumerate(y.reshape(len(y), -1).T):  # every output (a column of 2-D y) on its own
            if len(np.unique(col)) < 2 and not one_class:
                which = f"target column {k + 1}" if y.ndim == 2 else "target"
                raise SpecError(
                    "target",
                    f"{source}: the {which} has a single class ({col[0].item()!r}); one class cannot be learned; "
                    "need 2",
                )
    return Dataset(X=X, y=y, task=task, source=source, feature_names=list(names))


def is_sparse(X: Any) -> bool:
    """A scipy sparse matrix or array (without importing scipy for dense data)."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _features(X: Any, source: str) -> Any:
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise SpecError("data", f"{source}: features must be real numbers, got dtype {X.dtype}")
    if is_sparse(X):
        X = canonical_csr(X)
        if np.isinf(X.data).any():
            raise SpecError("data", f"{source}: features contain infinite values")
        return X
    X = np.ascontiguousarray(X, dtype=np.float32)
    if np.isinf(X).any():
        raise SpecError("data", f"{source}: features contain infinite values")
    return X


def canonical_csr(X: Any) -> Any:
    """Sparse rows as the store keeps them: CSR, float32, sorted indices, no duplicates, no explicit
    zeros; the same matrix gives the same arrays, hence the same content address."""
    from scipy.sparse import csr_matrix

    X = csr_matrix(X, dtype=np.float32, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    X.sort_indices()
    return X


SPARSE_PARTS = keys.DATA_SPARSE_X


def _sparse_parts(X: Any) -> list[np.ndarray]:
    return [X.data, X.indices, X.indptr, np.asarray(X.shape, dtype=np.int64)]


def _target_values(y: np.ndarray, source: str, target: str | None = None) -> None:
    """Refuse missing or infinite target values, which no model can learn from or be scored on."""
    if y.ndim == 2:  # several outputs: say which column, by name when the target names them
        names = [t.strip() for t in target.split(",")] if target else []
        for k in range(y.shape[1]):
            which = f"target column {names[k]!r}" if len(names) == y.shape[1] else f"target column {k + 1}"
            try:
                _target_values(y[:, k], source)
            except SpecError as exc:
                raise SpecError("target", exc.message.replace("the target", which, 1)) from None
        return
    if np.issubdtype(y.dtype, np.number):
        values = y.astype(np.float64)
        if np.isnan(values).any():
            raise SpecError("target", f"{source}: the target has {int(np.isnan(values).sum())} missing (NaN) values")
        if np.isinf(values).any():
            raise SpecError("target", f"{source}: the target has {int(np.isinf(values).sum())} infinite values")
    elif (y == "").any():
        raise SpecError("target", f"{source}: the target has empty values")


def load_rows(
    source: str, feature_names: list[str], target: str | None, *, task: str = "auto", seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows to predict with a fitted model: X (float32, columns in ``feature_names`` order) and y, or None.

    ``source`` is a file, a built-in or a synthetic set (``task`` and ``seed`` as
    for :func:`load`). A CSV or Parquet file must have exactly the model's columns
    in its order, and may add the ``target`` column; missing, unknown or reordered
    columns are refused, naming them, rather than guessed (a column silently
    moved would predict nonsense). An .npy file needs the model's column count,
    plus one for the target; an .npz file needs ``X``, and ``y`` is optional.

    y is None when the source has no target column or it is entirely empty (a
    file to be labelled); a partly empty target is refused. Unlike training
    data, a single class is fine.
    """
    source = source.strip()
    if _is_file(source):
        X, y = tables.read_rows(Path(source).expanduser(), feature_names, target)
    else:
        ds = load(source, target, task, seed)
        if ds.X.shape[1] != len(feature_names):
            raise SpecError("data", f"{source}: {ds.X.shape[1]} features, the model expects {len(feature_names)}")
        X, y = ds.X, ds.y
    if X.shape[0] == 0:
        raise SpecError("data", f"{source}: no rows to predict")
    X = _features(X, source)
    if y is not None:
        if y.shape[0] != X.shape[0]:
            raise SpecError("data", f"{source}: X has {X.shape[0]} rows but y has {y.shape[0]}")
        empty = np.isnan(y.astype(np.float64)) if np.issubdtype(y.dtype, np.number) else y == ""
        if empty.all():
            return X, None
        _target_values(y, source, target)
    return X, y


def split(ds: Dataset, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The build's one split, stratified for classification where every class allows it."""
    X_tr, X_te, y_tr, y_te, _ = split_weighted(ds, test_size, seed)
    return X_tr, X_te, y_tr, y_te


def split_weighted(
    ds: Dataset, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``split`` that also returns the train rows' sample weights (None without weights).

    A ``test_size`` of 0 keeps every row for training, in the order given (no
    shuffle: the trees are those a fit on the same arrays grows), and an empty
    test set.
    """
    from sklearn.model_selection import train_test_split

    if test_size == 0:
        X = ds.X if is_sparse(ds.X) else np.ascontiguousarray(ds.X)
        return X, X[:0], ds.y, ds.y[:0], ds.weight
    n = ds.X.shape[0]
    n_test = math.ceil(test_size * n)
    if n_test < 1 or n - n_test < 2:
        raise SpecError("test_size", f"{test_size} of {n} rows leaves no usable train or test set")
    stratify = None
    if ds.task == "classification" and ds.y.ndim == 1:  # multi-output rows are split unstratified
        _, counts = np.unique(ds.y, return_counts=True)
        if counts.min() >= 2 and n_test >= len(counts) and n - n_test >= len(counts):
            stratify = ds.y
    arrays = [ds.X, ds.y] if ds.weight is None else [ds.X, ds.y, ds.weight]
    parts = train_test_split(*arrays, test_size=test_size, random_state=seed, stratify=stratify)
    X_tr, X_te, y_tr, y_te = parts[:4]
    w_tr = parts[4] if ds.weight is not None else None
    if ds.task == "classification" and len(np.unique(y_tr)) < 2:
        raise SpecError("test_size", "the train set would hold a single class; use a smaller test size")
    if is_sparse(X_tr):
        return canonical_csr(X_tr), canonical_csr(X_te), y_tr, y_te, w_tr
    return np.ascontiguousarray(X_tr), np.ascontiguousarray(X_te), y_tr, y_te, w_tr


def content_hash(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> str:
    """The train set's address: its arrays' dtypes, shapes and bytes (weights only when given, so
    unweighted sets keep the addresses they always had)."""
    h = hashlib.sha256()
    rest = [y] if weight is None else [y, weight]
    if is_sparse(X):
        h.update(b"csr")  # a sparse set never shares an address with a dense one
        arrays = [*_sparse_parts(X), *rest]
    else:
        arrays = [X, *rest]
    for arr in arrays:
        h.update(json.dumps([str(arr.dtype), list(arr.shape)]).encode())
        h.update(np.ascontiguousarray(arr).data)
    return h.hexdigest()


def input_hash(X: np.ndarray) -> str:
    """The content address of rows stored to predict (float32 X alone, tagged apart from train sets)."""
    h = hashlib.sha256(json.dumps(["input", str(X.dtype), list(X.shape)]).encode())
    h.update(np.ascontiguousarray(X).data)
    return h.hexdigest()


class DataIntegrityError(ValueError):
    """A stored data set is not the content its address names (altered or truncated): never used."""


def check_train(ref: str, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> None:
    """Raise ``DataIntegrityError`` unless ``X``, ``y`` (and the weights, if any), as read from the store,
    hash to ``ref``."""
    if keys.data_ref(content_hash(X, y, weight)) != ref:
        raise DataIntegrityError(
            f"train set {ref} does not match its content address (altered or truncated in the store); "
            f"it is not used: creating any build from the same data stores it again"
        )


def check_input(ref: str, X: np.ndarray) -> None:
    """Raise ``DataIntegrityError`` unless rows stored by ``put_input`` hash to ``ref``."""
    if keys.data_ref(input_hash(X)) != ref:
        raise DataIntegrityError(
            f"input rows {ref} do not match their content address (altered or truncated in the store); "
            f"they are not used: predicting the same rows again stores them again"
        )


def _stored_train_is(store: Store, ref: str, weighted: bool = False, sparse: bool = False) -> bool:
    """Whether ``ref``'s stored arrays are whole and hash to ``ref`` (a reused copy is checked, not trusted)."""

    def load(name: str) -> np.ndarray:
        key = keys.data_file(ref, name)
        path = store.local_path(key)
        if path is not None:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(io.BytesIO(store.get_bytes(key)), allow_pickle=False)

    try:
        X = _csr(*(load(n) for n in SPARSE_PARTS)) if sparse else load(keys.DATA_X)
        check_train(ref, X, load(keys.DATA_Y), load(keys.DATA_WEIGHT) if weighted else None)
    except (KeyError, OSError, ValueError, EOFError):
        return False
    return True


def _csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: np.ndarray) -> Any:
    """A CSR matrix over stored arrays, as they are (their hash is the address)."""
    from scipy.sparse import csr_matrix

    if shape.shape != (2,) or indptr.ndim != 1 or len(indptr) != int(shape[0]) + 1:
        raise ValueError("the sparse train set's arrays do not agree")
    X = csr_matrix((data, indices, indptr), shape=(int(shape[0]), int(shape[1])), copy=False)
    X.has_sorted_indices = True  # canonical_csr sorted them; the hash check refuses any other arrays
    return X


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def put_train(
    store: Store,
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    feature_names: list[str],
    weight: np.ndarray | None = None,
) -> str:
    """Store the train set once, addressed by its content; return its ref ``data/<sha256>``.

    ``weight`` (float64, one per row) is stored as ``w.npy`` and is part of the
    address. A copy already stored under the ref is re-hashed before it is
    reused; one that is altered or truncated is written again with the right content.
    """
    sparse = is_sparse(X)
    # As stored, so that the stored copy hashes to the ref. Sparse rows keep their CSR arrays (no pickle).
    X = canonical_csr(X) if sparse else np.ascontiguousarray(X, dtype=np.float32)
    if weight is not None:
        weight = np.ascontiguousarray(weight, dtype=np.float64)
    ref = keys.data_ref(content_hash(X, y, weight))
    stored = store.exists(keys.data_file(ref, keys.DATA_META))
    if not (stored and _stored_train_is(store, ref, weight is not None, sparse)):
        if sparse:
            for name, arr in zip(SPARSE_PARTS, _sparse_parts(X), strict=True):
                store.put_bytes(keys.data_file(ref, name), _npy_bytes(arr))
        else:
            store.put_bytes(keys.data_file(ref, keys.DATA_X), _npy_bytes(X))
        store.put_bytes(keys.data_file(ref, keys.DATA_Y), _npy_bytes(y))
        if weight is not None:
            store.put_bytes(keys.data_file(ref, keys.DATA_WEIGHT), _npy_bytes(weight))
        meta = {
            "rows": int(X.shape[0]),
            "cols": int(X.shape[1]),
            "task": task,
            "features": feature_names,
            "y_dtype": str(y.dtype),
            "weighted": weight is not None,
            **({"sparse": "csr"} if sparse else {}),
        }
        # meta.json last: its presence means the arrays are complete.
        store.put_bytes(keys.data_file(ref, keys.DATA_META), json.dumps(meta).encode())
    return ref


def put_input(store: Store, X: np.ndarray) -> str:
    """Store rows to predict once, addressed by their content; return ``data/<sha256>``."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    ref = keys.data_ref(input_hash(X))
    if not store.exists(keys.data_file(ref, keys.DATA_META)):
        store.put_bytes(keys.data_file(ref, keys.DATA_X), _npy_bytes(X))
        meta = {"rows": int(X.shape[0]), "cols": int(X.shape[1]), "kind": "input"}
        store.put_bytes(keys.data_file(ref, keys.DATA_META), json.dumps(meta).encode())
    return ref


def cache_dir() -> Path:
    """Where S3-backed workers keep downloaded train sets: /tmp on Lambda."""
    return Path(os.environ.get("LAMFOREST_CACHE", Path(tempfile.gettempdir()) / "lamforest-cache"))


def _open_array(store: Store, ref: str, name: str) -> np.ndarray:
    """Memory-map one stored array: in place for a local store, from the /tmp cache for S3."""
    key = keys.data_file(ref, name)
    path = store.local_path(key)
    if path is None:
        path = cache_dir() / ref / name
        if not path.is_file():
            store.get_file(key, path)
    elif not path.is_file():
        raise KeyError(key)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def open_train(store: Store, ref: str) -> tuple[Any, np.ndarray]:
    """The train set (or a validation set) at ``ref``, memory-mapped: X dense, or a CSR matrix over
    the stored arrays for a sparse set."""
    try:
        X = _open_array(store, ref, keys.DATA_X)
    except KeyError:
        try:
            parts = [_open_array(store, ref, name) for name in SPARSE_PARTS]
        except KeyError:
            raise KeyError(keys.data_file(ref, keys.DATA_X)) from None
        X = _csr(*parts)
    return X, _open_array(store, ref, keys.DATA_Y)


def open_weight(store: Store, ref: str) -> np.ndarray | None:
    """The train set's sample weights, memory-mapped, or None when it has none."""
    if not store.exists(keys.data_file(ref, keys.DATA_WEIGHT)):
        return None
    return _open_array(store, ref, keys.DATA_WEIGHT)


def open_input(store: Store, ref: str) -> np.ndarray:
    """Rows stored by ``put_input``, memory-mapped."""
    return _open_array(store, ref, keys.DATA_X)


def put_test(store: Store, build: str, X: Any, y: np.ndarray) -> str:
    """The held-out rows as an .npz of plain arrays: ``X`` and ``y``, or a sparse X's CSR arrays; return
    the file's sha256, which the plan keeps (the rows are scored as the build's test set)."""
    buf = io.BytesIO()
    if is_sparse(X):
        X = canonical_csr(X)
        np.savez(buf, X_data=X.data, X_indices=X.indices, X_indptr=X.indptr, X_shape=np.asarray(X.shape), y=y)
    else:
        np.savez(buf, X=X, y=y)
    blob = buf.getvalue()
    store.put_bytes(keys.test_set(build), blob)
    return hashlib.sha256(blob).hexdigest()


def get_test(store: Store, build: str, sha256: str | None = None) -> tuple[Any, np.ndarray]:
    """The build's held-out rows; ``KeyError`` for a build without a test set (test size 0), and
    ``DataIntegrityError`` when ``sha256`` (the plan's) is not the file's."""
    blob = store.get_bytes(keys.test_set(build))
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        raise DataIntegrityError(f"{keys.test_set(build)} is not the file the build held out (its sha256 differs)")
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        if "X_indptr" in z:
            return _csr(z["X_data"], z["X_indices"], z["X_indptr"], z["X_shape"]), z["y"]
        return z["X"], z["y"]
