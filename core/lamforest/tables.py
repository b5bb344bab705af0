"""Table files: reading CSV, Parquet, NPY and NPZ (``lamforest.output`` writes predictions).

Every malformed file is refused with ``SpecError("data", "<file>: <what is
wrong and what to do>")`` on one line, never a traceback. CSV and Parquet are
read with pyarrow and converted column by column to numpy.

pyarrow is imported inside the functions that need it: workers import
``lamforest.data`` (and so this module) in the Lambda image, which has no
pyarrow; only the driver reads these files.
"""

from __future__ import annotations

import csv
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lamforest.spec import SpecError

if TYPE_CHECKING:
    import pyarrow as pa

SVMLIGHT = (".svm", ".libsvm", ".svmlight")  # sparse rows with their label, read by scikit-learn's reader
SUFFIXES = (".csv", ".parquet", ".pq", ".npz", ".npy", *SVMLIGHT)
NPY_MAGIC = b"\x93NUMPY"
SNIFF_BYTES = 4096

# Named columns as read: header names and one pyarrow ChunkedArray per column.
Columns = tuple[list[str], list["pa.ChunkedArray"]]


def one_line(exc: BaseException) -> str:
    """A library's error message cut to one short line, to follow ours."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def check_file(path: Path) -> bytes:
    """Refuse a path that is not a readable, non-empty regular file; return its first bytes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SpecError("data", f"file not found: {path}") from None
    except OSError as exc:
        raise SpecError("data", f"{path}: cannot open it ({exc.strerror or one_line(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError("data", f"{path} is a folder; give a file ({', '.join(SUFFIXES)})")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO or a device could block or never end, so it is not opened.
        raise SpecError("data", f"{path} is not a regular file; give a file ({', '.join(SUFFIXES)})")
    if st.st_size == 0:
        raise SpecError("data", f"{path.name} is empty (0 bytes)")
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except OSError as exc:
        raise SpecError(
            "data", f"{path}: cannot read it ({exc.strerror or one_line(exc)}); check its permissions"
        ) from None


# --------------------------------------------------------------------------- named columns (CSV, Parquet)


def read_columns(path: Path, head: bytes) -> Columns:
    """Read a CSV or Parquet file's columns, refusing malformed files and columns no model can use."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the driver
        raise SpecError("data", f"{path.name}: reading CSV and Parquet needs pyarrow: pip install pyarrow") from None
    if path.suffix.lower() == ".csv":
        header, columns = _read_csv(path, head)
    else:
        header, columns = _read_parquet(path)
    _no_duplicates(header, path.name)
    nested = [n for n, c in zip(header, columns, strict=True) if pa.types.is_nested(c.type)]
    if nested:
        raise SpecError(
            "data", f"{path.name}: column {', '.join(map(repr, nested))} holds lists or structs; flatten it to numbers"
        )
    if not columns or len(columns[0]) == 0:
        raise SpecError("data", f"{path.name} is empty: it has a header but no rows")
    return header, columns


def _no_duplicates(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise SpecError("data", f"{where}: column {name!r} appears twice in the header; rename one")
        seen.add(name)


def _read_csv(path: Path, head: bytes) -> Columns:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise SpecError("data", f"{path.name}: not UTF-8 text (UTF-16 or binary data); save it as UTF-8 CSV")
    # No booleans: "true"/"false" stay text as they are written (labels, or a non-numeric feature).
    convert = pacsv.ConvertOptions(true_values=[], false_values=[])
    try:
        try:
            table = pacsv.read_csv(path, convert_options=convert)
        except pa.ArrowInvalid as exc:
            if "Expected" not in str(exc) or _ragged(path):
                raise
            # Rows look even to Python's csv module: a quoted value holds a line break, which pyarrow
            # only parses when told (it then reads in fewer parallel blocks, so only on this path).
            parse = pacsv.ParseOptions(newlines_in_values=True)
            table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
        header = [str(n).strip() for n in table.column_names]  # decoded here: bytes not UTF-8 fail here
    except UnicodeDecodeError:
        raise SpecError("data", f"{path.name}: the header is not UTF-8 text; save the file as UTF-8") from None
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "Empty CSV file" in msg:
            raise SpecError("data", f"{path.name} is empty: no header row") from None
        if "Expected" in msg and "columns" in msg:
            raise SpecError("data", _ragged(path) or f"{path.name}: rows differ in length ({one_line(exc)})") from None
        raise SpecError("data", f"{path.name}: not a readable CSV file ({one_line(exc)})") from None
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("data", f"{path.name}: not a readable CSV file ({one_line(exc)})") from None
    # pyarrow keeps bytes that are not UTF-8 as a binary column rather than text.
    binary = [n for n, f in zip(header, table.schema, strict=True) if pa.types.is_binary(f.type)]
    if binary:
        raise SpecError(
            "data", f"{path.name}: column {binary[0]!r} is not UTF-8 text (latin-1?); save the file as UTF-8"
        )
    return header, list(table.columns)


def _ragged(path: Path) -> str | None:
    """On the error path only: find the first row whose length differs from the header's, to name its line."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return f"{path.name} line {reader.line_num}: {len(row)} values, header has {len(header)}; fix that row"
    return None


def _read_parquet(path: Path) -> Columns:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        header = [str(n) for n in pf.schema_arrow.names]
        _no_duplicates(header, path.name)  # before reading: pyarrow cannot read duplicate names
        table = pf.read()
    except (pa.ArrowException, OSError) as exc:
        raise SpecError(
            "data", f"{path.name}: not a readable Parquet file, corrupt or truncated ({one_line(exc)})"
        ) from None
    return header, list(table.columns)


def column_floats(column: pa.ChunkedArray, name: str, where: str) -> np.ndarray:
    """One feature column as float64 (missing values NaN); text that is not a number is refused, naming it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_dictionary(t):
        column, t = pc.cast(column, t.value_type), t.value_type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if numeric or pa.types.is_boolean(t) or pa.types.is_null(t):
        # Integers past 2**53 round to the nearest float64, as numpy's own cast does (features end as float32).
        return pc.cast(column, pa.float64(), safe=False).to_numpy()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return pc.cast(column, pa.float64()).to_numpy()
        except pa.ArrowInvalid:
            pass
        # Text pyarrow does not parse as a number ("", "inf", " 1 "): Python's rules, as the file is refused
        # or rare, then the first value neither accepts is named.
        out = np.empty(len(column), dtype=np.float64)
        for i, v in enumerate(column.to_pylist()):
            try:
                out[i] = _num(v)
            except ValueError:
                raise SpecError(
                    "data", f"{where}: feature column {name!r} is not numeric (value {v!r}); encode it first"
                ) from None
        return out
    raise SpecError("data", f"{where}: feature column {name!r} is not numeric ({t}); encode it first")


def column_target(column: pa.ChunkedArray, name: str, where: str) -> np.ndarray:
    """The target column: float64 when every value is a number (missing NaN), else text labels (missing "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_dictionary(t):
        column, t = pc.cast(column, t.value_type), t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return pc.cast(column, pa.float64()).to_numpy()
        except pa.ArrowInvalid:
            pass
        floats = []
        for v in column.to_pylist():  # numbers as text the cast refused (e.g. "" for missing), up to a label
            f = _maybe_num(v)
            if f is None:
                return pc.fill_null(column, "").to_numpy(zero_copy_only=False).astype(str)
            floats.append(f)
        return np.array(floats, dtype=np.float64)
    try:
        return column_floats(column, name, where)
    except SpecError:
        pass
    try:  # dates, times: labels as written
        return pc.fill_null(pc.cast(column, pa.string()), "").to_numpy(zero_copy_only=False).astype(str)
    except pa.ArrowException:
        raise SpecError("target", f"{where}: the target column {name!r} has type {t}; use labels or numbers") from None


def target_names(target: str, header: list[str]) -> list[str]:
    """The target columns ``target`` names: one column, or several (``a,b``: multi-output y) when no
    column is called ``target`` itself."""
    if target in header or "," not in target:
        return [target]
    return [t.strip() for t in target.split(",")]


def targets_of(header: list[str], columns: list[Any], names: list[str], where: str) -> np.ndarray:
    """The target: one column as ``column_target`` reads it, or one column per output (2-D)."""
    ys = [column_target(columns[header.index(n)], n, where) for n in names]
    if len(ys) == 1:
        return ys[0]
    kinds = {np.issubdtype(y.dtype, np.number) for y in ys}
    if len(kinds) > 1:
        raise SpecError(
            "target", f"{where}: the target columns {', '.join(names)} mix numbers and labels; use one kind"
        )
    return np.column_stack(ys)


def check_targets(target: str | None, header: list[str], where: str, also: tuple[str, ...] = ()) -> list[str]:
    """The target columns of a training table, checked: present, distinct, leaving features."""
    if target is None:
        raise SpecError("target", f"{where}: name the target column with --target (columns: {', '.join(header)})")
    names = target_names(target, header)
    for n in names:
        if n not in header:
            raise SpecError("target", f"{where}: no column {n!r}; columns are {', '.join(header)}")
    if len(set(names)) != len(names):
        raise SpecError("target", f"{where}: {target!r} names a column twice")
    return names


def _num(v: Any) -> float:
    if v is None or (isinstance(v, str) and v.strip() in ("", "NA", "NaN", "nan", "null")):
        return float("nan")
    return float(v)


def _maybe_num(v: Any) -> float | None:
    try:
        return _num(v)
    except ValueError:
        return None


def columns_matrix(header: list[str], columns: list[pa.ChunkedArray], names: list[str], where: str) -> np.ndarray:
    """The named columns as one float32 matrix, C order, filled column by column."""
    by_name = dict(zip(header, columns, strict=True))
    rows = len(columns[0]) if columns else 0
    X = np.empty((rows, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        X[:, j] = column_floats(by_name[name], name, where)
    return X


# --------------------------------------------------------------------------- arrays (NPY, NPZ)


def _array_dtype(arr: np.ndarray, what: str, where: str, labels: bool = False) -> None:
    kind = arr.dtype.kind
    if kind in "biuf" or (labels and kind in "US"):
        return
    if kind == "c":
        raise SpecError("data", f"{where}: {what} holds complex numbers; save the real part (or split real/imaginary)")
    if kind in "US":
        raise SpecError("data", f"{where}: {what} holds text (dtype {arr.dtype}); encode it as numbers")
    raise SpecError("data", f"{where}: {what} has dtype {arr.dtype}; save a plain numeric array")


def _load_error(exc: BaseException, where: str, kind: str, how: str) -> SpecError:
    if "Object arrays cannot be loaded" in str(exc):
        return SpecError("data", f"{where}: holds Python objects (dtype object), which are never unpickled; {how}")
    return SpecError("data", f"{where}: not a readable {kind} file, corrupt or truncated ({one_line(exc)}); {how}")


def read_npy(path: Path, head: bytes) -> np.ndarray:
    """A 2-D numeric .npy array; object arrays are refused without being unpickled."""
    how = "save a numeric 2-D array with numpy.save"
    if not head.startswith(NPY_MAGIC):
        raise SpecError("data", f"{path.name}: not an .npy file (no NUMPY header); {how}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _load_error(exc, path.name, ".npy", how) from None
    _array_dtype(arr, "the array", path.name)
    return arr


def read_npz(path: Path, need_y: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``X`` (2-D, numeric) and ``y`` (1-D, numbers or labels) of an .npz archive; ``y`` may be absent
    when ``need_y`` is false."""
    how = "save it with numpy.savez(path, X=..., y=...)"
    if not zipfile.is_zipfile(path):
        raise SpecError("data", f"{path.name}: not an .npz archive (a zip of .npy arrays); {how}")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if "X" not in names or (need_y and "y" not in names):
                raise SpecError("data", f"{path.name}: an .npz file needs arrays named X and y, has {names}")
            X = z["X"]
            y = z["y"] if "y" in names else None
            if not isinstance(X, np.ndarray) or not (y is None or isinstance(y, np.ndarray)):
                # numpy hands back the raw bytes of a member that is not an .npy array
                raise ValueError("a member is not an .npy array")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise _load_error(exc, path.name, ".npz", how) from None
    if X.ndim != 2:
        raise SpecError("data", f"{path.name}: X must be 2-D (rows x features), got shape {X.shape}")
    _array_dtype(X, "X", path.name)
    if y is not None:
        if y.ndim != 1:
            raise SpecError("data", f"{path.name}: y must be 1-D (one label per row), got shape {y.shape}")
        _array_dtype(y, "y", path.name, labels=True)
    return X, y


def column_index(target: str, ncols: int, where: str) -> int:
    """The target of an .npy file: a column index, negative from the end."""
    try:
        col = int(target)
    except ValueError:
        raise SpecError("target", f"{where}: for an .npy file, the target is a column index, got {target!r}") from None
    if not -ncols <= col < ncols:
        raise SpecError("target", f"{where}: column {col} is out of range for {ncols} columns")
    return col % ncols


# --------------------------------------------------------------------------- training files


def must_exist(path: Path) -> None:
    """A data path that is not there is said as such (not as a file type nobody asked for)."""
    if not path.exists():
        where = "folder" if str(path).endswith(("/", "\\")) else "file or folder"
        raise SpecError("data", f"{path}: no such {where}")


def read_svmlight(path: Path, n_features: int | None = None) -> tuple[Any, np.ndarray]:
    """Sparse rows and their labels from a LIBSVM/svmlight text file (scikit-learn's reader), as CSR."""
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(str(path), n_features=n_features, dtype=np.float32)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpecError("data", f"{path.name}: not a LIBSVM file ({one_line(exc)})") from None
    if X.shape[0] == 0:
        raise SpecError("data", f"{path.name} holds no rows")
    return X, np.asarray(y)


def read_xy(
    path: Path, target: str | None, weight: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None]:
    """Features, target, feature names and sample weights (None without ``weight``) of a training file.

    ``weight`` is a column name (CSV, Parquet), a column index (.npy) or an array name (.npz); that
    column is neither a feature nor the target (``weights.check_weight`` checks its values).
    """
    must_exist(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError("data", f"unsupported file type {suffix!r}; use {', '.join(SUFFIXES)}")
    head = check_file(path)
    where = path.name
    if suffix in SVMLIGHT:
        if weight is not None:
            raise SpecError(
                "weight",
                f"{where}: a LIBSVM file holds labels and features only; give weights in a CSV, "
                "Parquet, .npy or .npz file",
            )
        Xs, labels = read_svmlight(path)
        return Xs, labels, [f"x{i}" for i in range(Xs.shape[1])], None
    if suffix == ".npz":
        X, y = read_npz(path)
        assert y is not None
        w = _npz_weight(path, weight) if weight is not None else None
        return X, y, [f"x{i}" for i in range(X.shape[1])], w
    if suffix == ".npy":
        arr = read_npy(path, head)
        if weight is not None and (arr.ndim != 2 or arr.shape[1] < 3):
            raise SpecError("data", f"{where}: with weights, an .npy file needs features, a target and a weight column")
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise SpecError("data", f"{where}: an .npy file must be 2-D with features and a target column")
        col = arr.shape[1] - 1 if target is None else column_index(target, arr.shape[1], where)
        if weight is None:
            X = np.delete(arr, col, axis=1)
            return X, arr[:, col], [f"x{i}" for i in range(X.shape[1])], None
        try:
            wcol = column_index(weight, arr.shape[1], where)
        except SpecError as exc:
            raise SpecError("weight", exc.message) from None
        if wcol == col:
            raise SpecError("weight", f"{where}: column {wcol} is the target; weights need a column of their own")
        X = np.delete(arr, [col, wcol], axis=1)
        return X, arr[:, col], [f"x{i}" for i in range(X.shape[1])], arr[:, wcol]
    header, columns = read_columns(path, head)
    if weight is not None and weight not in header:
        raise SpecError("weight", f"{where}: no column {weight!r}; columns are {', '.join(header)}")
    targets = check_targets(target, header, where)
    if weight is not None and weight in targets:
        raise SpecError("weight", f"{where}: {weight!r} is the target; weights need a column of their own")
    features = [h for h in header if h not in targets and h != weight]
    if not features:
        also = " and the weights" if weight is not None else ""
        raise SpecError("data", f"{where}: no feature columns besides the target{also}")
    X = columns_matrix(header, columns, features, where)
    w = None
    if weight is not None:
        try:
            w = column_floats(columns[header.index(weight)], weight, where)
        except SpecError as exc:
            raise SpecError("weight", exc.message) from None
    return X, targets_of(header, columns, targets, where), features, w


def _npz_weight(path: Path, weight: str) -> np.ndarray:
    """The array of sample weights named ``weight`` in an .npz archive (``read_npz`` checks the archive)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if weight not in names:
                raise SpecError("weight", f"{path.name}: no array named {weight!r}; arrays are {', '.join(names)}")
            return np.asarray(z[weight])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, SpecError):
            raise
        raise _load_error(exc, path.name, ".npz", "save it with numpy.savez(path, X=..., y=..., w=...)") from None


def _listed(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def read_rows(path: Path, feature_names: list[str], target: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of a file to predict, checked against the model's columns; see ``data.load_rows``."""
    must_exist(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError("data", f"unsupported file type {suffix!r}; use {', '.join(SUFFIXES)}")
    head = check_file(path)
    where, k = path.name, len(feature_names)
    if suffix in SVMLIGHT:
        return read_svmlight(path, k)
    if suffix == ".npz":
        X, y = read_npz(path, need_y=False)
        if X.shape[1] != k:
            raise SpecError("data", f"{where}: X has {X.shape[1]} columns, the model expects {k} features")
        return X, y
    if suffix == ".npy":
        arr = read_npy(path, head)
        if arr.ndim != 2:
            raise SpecError("data", f"{where}: an .npy file must be 2-D (rows x columns), got shape {arr.shape}")
        if arr.shape[1] == k:
            return arr, None
        if arr.shape[1] != k + 1:
            raise SpecError(
                "data", f"{where}: {arr.shape[1]} columns; the model expects {k} features, or {k + 1} with the target"
            )
        col = k if target is None else column_index(target, k + 1, where)
        return np.delete(arr, col, axis=1), arr[:, col]
    header, columns = read_columns(path, head)
    targets = target_names(target, header) if target is not None else []
    labelled = bool(targets) and all(t in header for t in targets)
    some = [t for t in targets if t in header]
    if len(targets) > 1 and some and not labelled:
        missing = [t for t in targets if t not in header]
        raise SpecError(
            "data",
            f"{where}: has the target column(s) {', '.join(some)} but not {', '.join(missing)}; give every target "
            f"column ({target}) to score the rows, or none to predict them",
        )
    names = [h for h in header if not (labelled and h in targets)]
    missing = [n for n in feature_names if n not in names]
    unknown = [n for n in names if n not in feature_names]
    if missing or unknown:
        parts = ([f"missing {_listed(missing)}"] if missing else []) + (
            [f"unknown {_listed(unknown)}"] if unknown else []
        )
        raise SpecError("data", f"{where}: columns do not match the model's: {'; '.join(parts)}")
    if names != feature_names:
        raise SpecError(
            "data", f"{where}: the columns are in another order than the model's; expected {', '.join(feature_names)}"
        )
    X = columns_matrix(header, columns, feature_names, where)
    y = targets_of(header, columns, targets, where) if labelled else None
    return X, y
