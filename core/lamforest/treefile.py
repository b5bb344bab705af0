"""Tree files: groves and models stored as numbers and names, so that reading one cannot run code.

A pickle (joblib) file runs whatever code it names when it is loaded; a
store is only as trustworthy as everyone who can write to it. A tree file
holds only plain numeric and string arrays and one JSON header; no record
may have an object dtype, and estimators are rebuilt from an allow-list of
scikit-learn classes, by name.

Layout: ``MAGIC`` + format version (``<H``), then one lz4 frame holding
``.npy`` records one after another (not an ``.npz``: a zip must be
decompressed whole before it can be read, which made loading 2-3x slower
than joblib; records are read straight from the stream into their arrays):

- ``header`` (first): UTF-8 JSON (as uint8) naming the classes, their
  constructor params, their fitted attributes, the shape of the trees, the
  ``extra`` values and the names of the records that follow, in order;
  arrays are referred to by record name.
- ``nodes``: scikit-learn's node records (``left_child``, ``threshold``,
  ``missing_go_to_left``, ...), every tree's nodes one after another;
  ``node_count`` and ``max_depth`` per tree say where each tree starts.
- ``values``: every tree's node values, ``(nodes, n_outputs, max_n_classes)``.
- ``v0``, ``v1``, ...: arrays of fitted attributes and of ``extra``.

Node fields are matched by name, not position, so files stay readable when
scikit-learn reorders its node record; a field the running scikit-learn needs
and the file lacks is refused rather than guessed (every supported
scikit-learn, 1.6 onwards, writes all of them).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import mmap
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, BinaryIO

import numpy as np

MAGIC = b"LAMFTREE"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sH")  # magic, format version
_CHUNK = 1 << 20  # bytes decompressed at a time: large arrays never sit in memory twice
# A record's own mapping (see _buffer), private, its pages mapped at once (fewer faults: decoding a
# 10-tree grove of fully grown trees took 0.105 s with them, 0.07 from malloc, 0.09 populated).
_MAP: dict[str, int] = (
    {"flags": mmap.MAP_PRIVATE | getattr(mmap, "MAP_POPULATE", 0)} if hasattr(mmap, "MAP_PRIVATE") else {}
)

# Forest class -> the tree class its estimators_ hold.
FORESTS: dict[str, str] = {
    "RandomForestClassifier": "DecisionTreeClassifier",
    "RandomForestRegressor": "DecisionTreeRegressor",
    "ExtraTreesClassifier": "ExtraTreeClassifier",
    "ExtraTreesRegressor": "ExtraTreeRegressor",
}
TREES: frozenset[str] = frozenset(FORESTS.values())

# Fitted attributes kept, by name; an attribute the estimator lacks is skipped
# (feature_names_in_ without a DataFrame, oob_* without oob_score, classes_ on
# regressors). _n_samples, _n_samples_bootstrap and _sample_weight let
# estimators_samples_ and OOB sums find each tree's bootstrap rows.
FOREST_ATTRS: tuple[str, ...] = (
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "classes_",
    "n_classes_",
    "_n_samples",
    "_n_samples_bootstrap",
    "_sample_weight",
    "oob_score_",
    "oob_decision_function_",
    "oob_prediction_",
)
TREE_ATTRS: tuple[str, ...] = (
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "classes_",
    "n_classes_",
    "max_features_",
)

# Array dtypes a file may hold: bool, ints, floats, unicode. Never object.
_KINDS = frozenset("biufU")
_TAGS = frozenset({"list", "tuple", "dict", "array", "strings", "scalar"})


class TreeFileError(ValueError):
    """The bytes are not a tree file this lamforest can read, or the estimator cannot be written as one."""


@cache
def _classes() -> dict[str, type]:
    # scikit-learn is imported on first use, not with lamforest.
    import sklearn.ensemble
    import sklearn.tree

    found = {name: getattr(sklearn.ensemble, name) for name in FORESTS}
    found.update({name: getattr(sklearn.tree, name) for name in TREES})
    return found


# ---------------------------------------------------------------- writing


class _Arrays:
    """Members of the archive being written; ``add`` names an array ``v<n>``."""

    def __init__(self) -> None:
        self.members: dict[str, np.ndarray] = {}
        self._n = 0

    def add(self, arr: np.ndarray) -> str:
        name = f"v{self._n}"
        self._n += 1
        self.members[name] = arr
        return name


def _encode_json(value: Any, where: str) -> Any:
    """A constructor param as JSON; containers are tagged so tuples and int-keyed dicts come back as they were."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.bool_ | np.integer | np.floating):
        # A numpy scalar from a grid search: the Python value compares equal and is JSON.
        return value.item()
    if isinstance(value, list | tuple):
        tag = "list" if isinstance(value, list) else "tuple"
        return {tag: [_encode_json(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not (k is None or isinstance(k, bool | int | float | str)):
                raise TreeFileError(f"{where}: dict key {k!r} is {type(k).__name__}, not a JSON scalar")
            items.append([k, _encode_json(v, f"{where}[{k!r}]")])
        return {"dict": items}
    raise TreeFileError(
        f"{where} is {type(value).__module__}.{type(value).__qualname__}; only JSON values can be stored"
    )


def _encode_value(value: Any, arrays: _Arrays, where: str) -> Any:
    """A fitted attribute or an ``extra`` value: JSON, with arrays and numpy scalars as members."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _KINDS:
            return {"array": arrays.add(value)}
        if value.dtype == object and all(isinstance(v, str) for v in value.flat):
            # Feature names are object arrays of str in scikit-learn; stored as <U, read back as object.
            return {"strings": arrays.add(value.astype(str))}
        raise TreeFileError(f"{where}: arrays of dtype {value.dtype} cannot be stored (bool, int, float or str only)")
    if isinstance(value, np.generic):
        if value.dtype.kind in _KINDS:
            return {"scalar": arrays.add(np.asarray(value))}
        raise TreeFileError(f"{where}: numpy scalar of dtype {value.dtype} cannot be stored")
    if isinstance(value, list | tuple):
        tag = "list" if isinstance(value, list) else "tuple"
        return {tag: [_encode_value(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not (k is None or isinstance(k, bool | int | float | str)):
                raise TreeFileError(f"{where}: dict key {k!r} is {type(k).__name__}, not a JSON scalar")
            items.append([k, _encode_value(v, arrays, f"{where}[{k!r}]")])
        return {"dict": items}
    raise TreeFileError(f"{where} is {type(value).__module__}.{type(value).__qualname__}; it cannot be stored")


def _same(a: Any, b: Any) -> bool:
    """Equal in type and value, arrays included (dtype and NaNs too)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _params(est: Any, where: str) -> dict[str, Any]:
    return {k: _encode_json(v, f"{where} param {k!r}") for k, v in est.get_params(deep=False).items()}


def _fitted(est: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(est, n) for n in names if hasattr(est, n)}


def _check_class(est: Any, allowed: Any, what: str) -> str:
    name = type(est).__name__
    if name not in allowed or type(est) is not _classes()[name]:
        raise TreeFileError(
            f"cannot store {type(est).__module__}.{type(est).__qualname__} as {what}; "
            f"supported: {', '.join(sorted(allowed))}"
        )
    return name


# A file's records: (name, dtype, shape, chunks).
_Records = list[tuple[str, np.dtype, tuple[int, ...], Iterable[Any]]]


def dumps(estimator: Any, extra: Mapping[str, Any] | None = None) -> bytes:
    """A fitted forest (``RandomForest*``, ``ExtraTrees*``) or single tree as tree-file bytes.

    ``extra`` maps names to numpy arrays (bool, int, float or str) or JSON
    values, stored alongside and returned by ``loads`` as they were.
    Raises ``TreeFileError`` for an unsupported or unfitted estimator, or a
    param or value that cannot be stored without pickle.
    """
    name = _check_class(estimator, set(FORESTS) | TREES, "a tree file")
    if extra is not None and not all(isinstance(k, str) for k in extra):
        raise TreeFileError("extra keys must be str")
    arrays = _Arrays()
    if name in FORESTS:
        trees = getattr(estimator, "estimators_", None)
        if not trees:
            raise TreeFileError(f"{name} is not fitted (no estimators_)")
        for t in trees:
            _check_class(t, {FORESTS[name]}, f"a tree of {name}")
        top = {
            "params": _params(estimator, name),
            "attrs": {k: _encode_value(v, arrays, f"{name}.{k}") for k, v in _fitted(estimator, FOREST_ATTRS).items()},
        }
    else:
        trees = [estimator]
        top = None
    tree_name = type(trees[0]).__name__
    if any(not hasattr(t, "tree_") for t in trees):
        raise TreeFileError(f"{tree_name} is not fitted (no tree_)")

    # Trees share their fitted attributes and shape; params may vary (random_state does).
    first_attrs = _fitted(trees[0], TREE_ATTRS)
    shape = _tree_shape(trees[0].tree_)
    per_tree = [_params(t, tree_name) for t in trees]
    for i, t in enumerate(trees[1:], start=1):
        attrs = _fitted(t, TREE_ATTRS)
        if attrs.keys() != first_attrs.keys() or not all(_same(attrs[k], first_attrs[k]) for k in attrs):
            raise TreeFileError(f"tree {i} disagrees with tree 0 on its fitted attributes")
        if _tree_shape(t.tree_) != shape:
            raise TreeFileError(f"tree {i} disagrees with tree 0 on n_features, n_classes or n_outputs")
    common = {k: v for k, v in per_tree[0].items() if all(_same(p.get(k), v) for p in per_tree)}
    varying = {k: [p[k] for p in per_tree] for k in per_tree[0] if k not in common}

    states = [t.tree_.__getstate__() for t in trees]
    node_dtype = states[0]["nodes"].dtype
    if any(st["nodes"].dtype != node_dtype for st in states):
        raise TreeFileError("trees disagree on their node record dtype")
    # Records: (name, dtype, shape, chunks). Trees' nodes and values go out tree after tree as one
    # record each, without first being concatenated.
    records: _Records = [
        _record("node_count", np.array([st["node_count"] for st in states], dtype=np.int64)),
        _record("max_depth", np.array([st["max_depth"] for st in states], dtype=np.int64)),
        ("nodes", node_dtype, (sum(len(st["nodes"]) for st in states),), [st["nodes"] for st in states]),
        (
            "values",
            np.dtype(np.float64),
            (sum(len(st["values"]) for st in states), *states[0]["values"].shape[1:]),
            [st["values"] for st in states],
        ),
    ]

    header: dict[str, Any] = {
        "class": name,
        "top": top,
        "trees": {
            "class": tree_name,
            "count": len(trees),
            "shape": shape,
            "params": common,
            "params_per_tree": varying,
            "attrs": {k: _encode_value(v, arrays, f"{tree_name}.{k}") for k, v in first_attrs.items()},
        },
        "extra": {k: _encode_value(v, arrays, f"extra[{k!r}]") for k, v in (extra or {}).items()},
        "sklearn": _sklearn_version(),
    }
    records += [_record(k, v) for k, v in arrays.members.items()]
    header["members"] = [r[0] for r in records]
    records.insert(0, _record("header", np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)))

    out = io.BytesIO()
    _write(out, records)
    return out.getvalue()


def _write(out: BinaryIO, records: _Records) -> None:
    """The file: preamble, then the records in one lz4 frame. A record's chunks are arrays (checked
    against its dtype and shape) or bytes already in its layout (a spooled record)."""
    out.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION))
    # Level 1 as the joblib files had; the checksum makes a flipped bit an error, not a wrong model.
    with _lz4().LZ4FrameFile(out, "wb", compression_level=1, content_checksum=True) as f:
        for rname, dtype, rshape, chunks in records:
            np.lib.format.write_array_header_2_0(
                f, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": rshape}
            )
            for chunk in chunks:
                if isinstance(chunk, bytes):
                    f.write(chunk)
                    continue
                if chunk.dtype != dtype or chunk.shape[1:] != rshape[1:]:
                    raise TreeFileError(f"trees disagree on the dtype or shape of their {rname} array")
                f.write(np.ascontiguousarray(chunk).reshape(-1).view(np.uint8))


def _record(name: str, arr: np.ndarray) -> tuple[str, np.dtype, tuple[int, ...], list[np.ndarray]]:
    return name, arr.dtype, arr.shape, [arr]


def _tree_shape(tree: Any) -> dict[str, Any]:
    return {
        "n_features": int(tree.n_features),
        "n_classes": [int(c) for c in tree.n_classes],
        "n_outputs": int(tree.n_outputs),
    }


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def _lz4() -> Any:
    import lz4.frame

    return lz4.frame


# ---------------------------------------------------------------- reading


def _fail(message: str) -> TreeFileError:
    return TreeFileError(" ".join(message.split()))  # one line, whatever the cause printed


def _buffer(nbytes: int) -> np.ndarray:
    """Room for one record. A large one gets its own anonymous mapping, returned to the system when the
    last array using it goes: from malloc, records of tens of MB raise glibc's mmap threshold, and
    the next groves' records then fragment the heap (measured: a driver streaming 10-tree groves of
    fully grown trees crept up by 45 MB over its first groves)."""
    if nbytes < _CHUNK:
        return np.empty(nbytes, dtype=np.uint8)
    return np.frombuffer(mmap.mmap(-1, nbytes, **_MAP), dtype=np.uint8)


def _read_record(f: Any, budget: list[int]) -> np.ndarray:
    """One .npy record; its size is checked against what the compressed bytes could still hold before allocating.

    ``budget`` is a one-item list, the bytes all further records may hold between them.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise _fail(f"tree file holds an .npy record of version {version}")
    except (TreeFileError, RuntimeError, EOFError, OSError):
        raise  # our own refusals, and the lz4 stream's: reported by _unarchive
    except Exception as e:
        # numpy parses the record header with ast.literal_eval; what it raises on garbage varies by
        # numpy version (ValueError, SyntaxError, tokenize errors), and all of it means a bad file.
        raise _fail(f"tree file has an unreadable record header: {type(e).__name__}: {e}") from None
    if dtype.hasobject or fortran or dtype.itemsize == 0:
        raise _fail(f"tree file holds a record of dtype {dtype} (fortran order {fortran}), which is never written")
    nbytes = dtype.itemsize * math.prod(shape)
    if not 0 <= nbytes <= budget[0]:
        raise _fail(f"tree file record claims {nbytes} bytes, more than its compressed size could hold")
    budget[0] -= nbytes
    try:
        raw = _buffer(nbytes)
    except (MemoryError, OSError):
        raise _fail(f"tree file record claims {nbytes} bytes, which cannot be allocated") from None
    view = memoryview(raw.data)
    pos = 0
    while pos < nbytes:
        got = f.readinto(view[pos : pos + _CHUNK])
        if not got:
            raise _fail(f"tree file is truncated: a record stops after {pos} of {nbytes} bytes")
        pos += got
    return raw.view(dtype).reshape(shape)


def _unarchive(blob: bytes) -> tuple[Any, dict[str, np.ndarray]]:
    if len(blob) < _PREAMBLE.size:
        raise _fail(f"not a tree file: {len(blob)} bytes is shorter than the header")
    magic, version = _PREAMBLE.unpack_from(blob)
    if magic != MAGIC:
        hint = ""
        if blob[:1] == b"\x80":
            hint = " (it looks like a pickle; those are never loaded)"
        elif blob[:4] == b"\x04\x22\x4d\x18":
            hint = " (it looks like lz4-compressed joblib/pickle data; those are never loaded)"
        raise _fail(f"not a tree file: bad magic {bytes(blob[:8])!r}{hint}")
    if version != FORMAT_VERSION:
        raise _fail(f"tree file format version {version} is not supported (this lamforest reads {FORMAT_VERSION})")
    # No record can be larger than lz4 could expand the whole body to (at most ~255x).
    budget = [255 * (len(blob) - _PREAMBLE.size) + (1 << 16)]
    # BytesIO shares the buffer of a bytes object (a memoryview or bytearray would be copied: a second
    # blob in memory while the records are decoded).
    body = io.BytesIO(blob if isinstance(blob, bytes) else bytes(blob))
    body.seek(_PREAMBLE.size)
    try:
        with _lz4().LZ4FrameFile(body, "rb") as f:
            header_bytes = _read_record(f, budget)
            if header_bytes.dtype != np.uint8 or header_bytes.ndim != 1:
                raise _fail("tree file does not start with its header")
            header = json.loads(header_bytes.tobytes())
            names = _list(_dict(header, "header").get("members"))
            members: dict[str, np.ndarray] = {"header": header_bytes}
            for name in names:
                if not isinstance(name, str) or name in members:
                    raise _fail(f"tree file member name {str(name)[:40]!r} is invalid or repeated")
                members[name] = _read_record(f, budget)
            if f.read(1):
                raise _fail("tree file has bytes after its last record")
    except TreeFileError:
        raise
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        # lz4 reports truncation and corruption as RuntimeError/EOFError, numpy a bad record as ValueError.
        raise _fail(f"tree file is truncated or corrupt: {type(e).__name__}: {e}") from None
    return header, members


def _member(members: dict[str, np.ndarray], name: Any, kinds: str = "biufU") -> np.ndarray:
    if not isinstance(name, str) or name not in members:
        raise _fail(f"tree file lacks member {name!r}")
    arr = members[name]
    if arr.dtype.kind not in kinds or arr.dtype.fields is not None:
        raise _fail(f"tree file member {name!r} has dtype {arr.dtype}, expected kind {kinds}")
    return arr


def _decode_json(spec: Any) -> Any:
    if spec is None or isinstance(spec, bool | int | float | str):
        return spec
    tag, body = _tag(spec)
    if tag in ("list", "tuple"):
        items = [_decode_json(v) for v in _list(body)]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        return {_key(p): _decode_json(p[1]) for p in _list(body)}
    raise _fail(f"tree file params hold a {tag!r}, only JSON values are allowed there")


def _decode_value(spec: Any, members: dict[str, np.ndarray]) -> Any:
    if spec is None or isinstance(spec, bool | int | float | str):
        return spec
    tag, body = _tag(spec)
    if tag == "array":
        return _member(members, body)
    if tag == "strings":
        return _member(members, body, "U").astype(object)
    if tag == "scalar":
        arr = _member(members, body)
        if arr.ndim != 0:
            raise _fail(f"tree file member {body!r} should be a scalar, has shape {arr.shape}")
        return arr[()]
    if tag in ("list", "tuple"):
        items = [_decode_value(v, members) for v in _list(body)]
        return items if tag == "list" else tuple(items)
    return {_key(p): _decode_value(p[1], members) for p in _list(body)}


def _tag(spec: Any) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in _TAGS:
        raise _fail(f"tree file header holds an unknown value {str(spec)[:60]!r}")
    return next(iter(spec.items()))


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise _fail("tree file header: a list was expected")
    return body


def _key(pair: Any) -> Any:
    if not (
        isinstance(pair, list) and len(pair) == 2 and (pair[0] is None or isinstance(pair[0], bool | int | float | str))
    ):
        raise _fail("tree file header: a dict item should be [scalar key, value]")
    return pair[0]


def _int(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise _fail(f"tree file {what} should be an int >= {low}, got {str(value)[:40]!r}")
    return int(value)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"tree file {what} should be a JSON object")
    return value


def _build(cls: type, params: dict[str, Any], attrs: dict[str, Any], allowed: tuple[str, ...], what: str) -> Any:
    try:
        est = cls(**params)
    except TypeError as e:
        raise _fail(f"tree file params do not fit {what}: {e}") from None
    for k, v in attrs.items():
        if k not in allowed:
            raise _fail(f"tree file sets {what}.{k}, which is not an attribute it may set")
        setattr(est, k, v)
    return est


def _nodes(members: dict[str, np.ndarray], total: int) -> np.ndarray:
    """Every tree's nodes in the running scikit-learn's node record, fields matched by name."""
    from sklearn.tree._tree import NODE_DTYPE

    nodes = members.get("nodes")
    if nodes is None or nodes.dtype.names is None or nodes.shape != (total,):
        raise _fail(f"tree file lacks a nodes record of {total} nodes")
    if nodes.dtype == NODE_DTYPE:
        return nodes
    stored, wanted = set(nodes.dtype.names), set(NODE_DTYPE.names)
    if stored - wanted:
        raise _fail(
            f"tree file has node field(s) {', '.join(sorted(stored - wanted))} this scikit-learn does not know "
            f"(written with a newer scikit-learn?)"
        )
    if wanted - stored:
        # Not guessed: missing_go_to_left=0 would send NaN right, where scikit-learn sends it to the
        # larger child when training saw no NaN.
        raise _fail(f"tree file lacks node field(s) {', '.join(sorted(wanted - stored))} that this scikit-learn needs")
    # Same names, other layout (order, padding, byte order, int width): copy field by field, by name.
    out = np.empty(total, dtype=NODE_DTYPE)
    have_fields: Mapping[str, Any] = nodes.dtype.fields or {}  # structured dtypes: never None
    want_fields: Mapping[str, Any] = NODE_DTYPE.fields or {}
    for field in NODE_DTYPE.names or ():
        have, want = have_fields[field][0], want_fields[field][0]
        if have.kind != want.kind:
            raise _fail(f"tree file node field {field} is {have}, this scikit-learn has {want}")
        out[field] = nodes[field]
    return out


def _check_outputs(attrs: dict[str, Any], n_outputs: int, n_classes: list[int], what: str) -> None:
    """n_outputs_, n_classes_ and classes_ as the tree arrays have them: predict sizes its buffers by them."""
    if _int(attrs.get("n_outputs_"), f"{what}.n_outputs_", 1) != n_outputs:
        raise _fail(f"tree file: {what}.n_outputs_ disagrees with the tree arrays ({n_outputs})")
    if what.endswith("Regressor"):
        if "classes_" in attrs or "n_classes_" in attrs or n_classes != [1] * n_outputs:
            raise _fail(f"tree file: {what} holds classes")
        return
    counts, classes = attrs.get("n_classes_"), attrs.get("classes_")
    if n_outputs == 1:
        counts, classes = [counts], [classes]
    if not isinstance(counts, list | np.ndarray) or not isinstance(classes, list):
        raise _fail(f"tree file: {what}.n_classes_/classes_ do not fit {n_outputs} outputs")
    if len(counts) != n_outputs or [_int(c, f"{what}.n_classes_", 1) for c in counts] != n_classes:
        raise _fail(f"tree file: {what}.n_classes_ disagrees with the tree arrays ({n_classes})")
    if len(classes) != n_outputs or any(
        not isinstance(c, np.ndarray) or c.shape != (n,) for c, n in zip(classes, n_classes, strict=True)
    ):
        raise _fail(f"tree file: {what}.classes_ disagrees with the tree arrays ({n_classes})")


def _check_nodes(nodes: np.ndarray, counts: np.ndarray, depths: np.ndarray, n_features: int) -> None:
    """Refuse nodes that scikit-learn's Cython could follow out of bounds.

    It walks child indices and feature numbers without bounds checks, and
    sizes decision_path's buffer by ``max_depth``: so children must lie in
    their tree and after their parent (no cycles), features inside X, every
    node must be reached exactly once from its root, and each tree's stored
    ``max_depth`` must be its real depth.
    """
    index = np.arange(int(counts.max()))
    start = 0
    for t, n in enumerate(counts.tolist()):
        # Tree by tree, on contiguous copies: each tree's links stay in cache across the passes.
        part = nodes[start : start + n]
        start += n
        left = np.ascontiguousarray(part["left_child"])
        right = np.ascontiguousarray(part["right_child"])
        feature = part["feature"]
        i = index[:n]
        leaf = left == -1
        bad = leaf != (right == -1)
        bad |= ~leaf & (
            (left <= i) | (left >= n) | (right <= i) | (right >= n) | (feature < 0) | (feature >= n_features)
        )
        if bad.any():
            node = int(np.argmax(bad))
            raise _fail(f"tree file node {node} of tree {t} links outside its tree or to a feature outside X")
        # Level by level from the root: how deep the tree is, and whether it is one.
        seen = np.zeros(n, dtype=bool)
        level, depth, visits = np.zeros(1, dtype=np.intp), -1, 0
        while len(level):
            depth += 1
            visits += len(level)
            seen[level] = True
            level = level[~leaf[level]]
            level = np.concatenate([left[level], right[level]])
        if visits != n or not seen.all():
            raise _fail(f"tree file nodes of tree {t} do not form a tree: some are shared or unreachable")
        if depth != depths[t]:
            raise _fail(f"tree file max_depth of tree {t} is {int(depths[t])}, its nodes are {depth} deep")


def loads(blob: bytes) -> tuple[Any, dict[str, Any]]:
    """The estimator and ``extra`` dict from ``dumps`` bytes; nothing in them is ever unpickled.

    Raises ``TreeFileError`` (a ``ValueError``) with a one-line message for
    anything that is not a well-formed tree file of this format version.
    """
    header, members = _unarchive(blob)
    try:
        return _rebuild(header, members)
    except TreeFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        # A header that parses but does not hold together; say so on one line.
        raise _fail(f"tree file is malformed: {type(e).__name__}: {e}") from None


@dataclass(frozen=True)
class _Parsed:
    """A tree file's header and arrays, checked: everything either reader builds from."""

    name: str
    tree_name: str
    n_trees: int
    n_features: int
    n_outputs: int
    n_classes: list[int]
    counts: np.ndarray
    depths: np.ndarray
    values: np.ndarray
    tree_attrs: dict[str, Any]
    top: dict[str, Any]


def _parse(header: dict[str, Any], members: dict[str, np.ndarray]) -> _Parsed:
    name = header.get("class")
    if name not in FORESTS and name not in TREES:
        raise _fail(f"tree file holds a {str(name)[:60]!r}, which is not an allowed estimator class")
    t = _dict(header.get("trees"), "trees")
    tree_name = t.get("class")
    if tree_name != FORESTS.get(name, name):
        raise _fail(f"tree file: a {name} cannot hold {str(tree_name)[:60]!r} trees")
    n_trees = _int(t.get("count"), "tree count", 1)
    if name in TREES and n_trees != 1:
        raise _fail(f"tree file: a {name} is one tree, the file has {n_trees}")

    shape = _dict(t.get("shape"), "tree shape")
    n_features = _int(shape.get("n_features"), "n_features", 1)
    n_outputs = _int(shape.get("n_outputs"), "n_outputs", 1)
    n_classes = [_int(c, "n_classes", 1) for c in _list(shape.get("n_classes"))]
    if len(n_classes) != n_outputs:
        raise _fail(f"tree file: {len(n_classes)} n_classes for {n_outputs} outputs")

    counts = _member(members, "node_count", "i")
    depths = _member(members, "max_depth", "i")
    if counts.shape != (n_trees,) or depths.shape != (n_trees,) or (counts < 1).any() or (depths < 0).any():
        raise _fail(f"tree file node_count/max_depth do not describe {n_trees} trees")
    total = int(counts.sum())
    values = _member(members, "values", "f")
    if values.shape != (total, n_outputs, max(n_classes)):
        raise _fail(f"tree file values have shape {values.shape}, expected {(total, n_outputs, max(n_classes))}")
    if values.dtype != np.float64:
        raise _fail(f"tree file values are {values.dtype}, expected float64")
    nodes = members.get("nodes")
    if nodes is None or nodes.dtype.names is None or nodes.shape != (total,):
        raise _fail(f"tree file lacks a nodes record of {total} nodes")
    missing = [f for f in RAW_NODE_FIELDS if f not in nodes.dtype.names]
    if missing:
        raise _fail(f"tree file lacks node field(s) {', '.join(missing)}")
    _check_nodes(nodes, counts, depths, n_features)

    tree_attrs = {k: _decode_value(v, members) for k, v in _dict(t.get("attrs"), "tree attrs").items()}
    # X is checked against n_features_in_ (a tree without one checks nothing), and the Cython that
    # walks the nodes indexes X's columns unchecked: it must be there and match the nodes' bound.
    if _int(tree_attrs.get("n_features_in_"), "trees' n_features_in_", 1) != n_features:
        raise _fail("tree file: trees' n_features_in_ disagrees with their node arrays")
    _check_outputs(tree_attrs, n_outputs, n_classes, tree_name)
    top: dict[str, Any] = {}
    if name in FORESTS:
        top = _dict(header.get("top"), "forest")
        attrs = {k: _decode_value(v, members) for k, v in _dict(top.get("attrs"), "forest attrs").items()}
        # The forest checks X against its own n_features_in_, the trees do not: they must agree.
        if _int(attrs.get("n_features_in_"), "n_features_in_", 1) != n_features:
            raise _fail("tree file: the forest's n_features_in_ disagrees with its trees")
        _check_outputs(attrs, n_outputs, n_classes, name)
        top = {"params": _dict(top.get("params"), "forest params"), "attrs": attrs}
    return _Parsed(name, tree_name, n_trees, n_features, n_outputs, n_classes, counts, depths, values, tree_attrs, top)


def _extra(header: dict[str, Any], members: dict[str, np.ndarray]) -> dict[str, Any]:
    return {str(k): _decode_value(v, members) for k, v in _dict(header.get("extra", {}), "extra").items()}


def _rebuild(header: dict[str, Any], members: dict[str, np.ndarray]) -> tuple[Any, dict[str, Any]]:
    from sklearn.base import clone
    from sklearn.tree._tree import Tree

    f = _parse(header, members)
    nodes = _nodes(members, int(f.counts.sum()))
    t = _dict(header.get("trees"), "trees")
    params = {k: _decode_json(v) for k, v in _dict(t.get("params"), "tree params").items()}
    per_tree = {k: _list(v) for k, v in _dict(t.get("params_per_tree"), "per-tree params").items()}
    if any(len(v) != f.n_trees for v in per_tree.values()):
        raise _fail(f"tree file per-tree params do not have {f.n_trees} entries")
    per_tree = {k: [_decode_json(x) for x in v] for k, v in per_tree.items()}

    classes = _classes()
    class_array = np.array(f.n_classes, dtype=np.intp)
    trees = []
    ends = np.cumsum(f.counts)
    for i in range(f.n_trees):
        p = dict(params, **{k: v[i] for k, v in per_tree.items()})
        tree = _build(classes[f.tree_name], p, copy.deepcopy(f.tree_attrs), TREE_ATTRS, f.tree_name)
        a, b = int(ends[i] - f.counts[i]), int(ends[i])
        tree.tree_ = Tree(f.n_features, class_array, f.n_outputs)
        # node_count comes from the offsets, so it always matches the arrays handed over.
        tree.tree_.__setstate__(
            {"max_depth": int(f.depths[i]), "node_count": b - a, "nodes": nodes[a:b], "values": f.values[a:b]}
        )
        trees.append(tree)

    if f.name in TREES:
        est = trees[0]
    else:
        top_params = {k: _decode_json(v) for k, v in f.top["params"].items()}
        est = _build(classes[f.name], top_params, f.top["attrs"], FOREST_ATTRS, f.name)
        est.estimator_ = clone(est.estimator)
        est.estimators_ = trees
    return est, _extra(header, members)


# The node fields prediction reads; every supported scikit-learn (1.6 onwards) writes them.
RAW_NODE_FIELDS = ("left_child", "right_child", "feature", "threshold", "missing_go_to_left")


class RawTree:
    """One tree of a tree file as its arrays (views into the file's records), predicting as scikit-learn's
    tree does: the same leaf for every row, so the same values to the bit, without scikit-learn.

    A row goes left when its feature (read as float32, compared as float64, as scikit-learn's Cython
    does) is at most the node's threshold, and a NaN goes where ``missing_go_to_left`` says.
    """

    def __init__(self, nodes: np.ndarray, values: np.ndarray, n_classes: list[int], classifier: bool) -> None:
        self.left = nodes["left_child"]
        self.right = nodes["right_child"]
        self.feature = nodes["feature"]
        self.threshold = nodes["threshold"]
        self.missing_left = nodes["missing_go_to_left"]
        self.values = values
        self.n_classes = n_classes
        self.classifier = classifier

    def apply(self, X: np.ndarray) -> np.ndarray:
        """The leaf each row of dense float32 ``X`` lands in."""
        node = np.zeros(X.shape[0], dtype=np.intp)
        active = np.arange(X.shape[0]) if self.left[0] != -1 else np.zeros(0, dtype=np.intp)
        while active.size:  # one level of the tree per pass, for the rows not yet at a leaf
            at = node[active]
            x = X[active, self.feature[at]]
            go_left = x <= self.threshold[at]
            nan = np.isnan(x)
            if nan.any():
                go_left = np.where(nan, self.missing_left[at] != 0, go_left)
            nxt = np.where(go_left, self.left[at], self.right[at])
            node[active] = nxt
            active = active[self.left[nxt] != -1]
        return node

    def predict_proba(self, X: np.ndarray, check_input: bool = False) -> Any:
        """A classifier's leaf values, as scikit-learn's ``predict_proba`` gives them."""
        out = self.values.take(self.apply(X), axis=0)
        if len(self.n_classes) == 1:
            return out[:, 0, : self.n_classes[0]]
        return [out[:, k, :n] for k, n in enumerate(self.n_classes)]

    def predict(self, X: np.ndarray, check_input: bool = False) -> np.ndarray:
        """A regressor's leaf values, as scikit-learn's ``predict`` gives them."""
        out = self.values.take(self.apply(X), axis=0)
        return out[:, 0, 0] if len(self.n_classes) == 1 else out[:, :, 0]


@dataclass
class RawForest:
    """A forest of ``RawTree``: what ``forest.Votes`` needs (``classes_`` for a classifier, ``estimators_``)."""

    estimators_: list[RawTree]
    n_features_in_: int
    n_outputs_: int
    attrs: dict[str, Any]
    kind: str  # the scikit-learn class the file holds: RandomForestClassifier, ...
    header: dict[str, Any] = dataclasses.field(default_factory=dict)  # the file's, checked: what ForestWriter reads
    members: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # its records (the trees are views)

    def __getattr__(self, name: str) -> Any:
        # classes_, n_classes_, feature_names_in_, ...: the forest's fitted attributes, as stored.
        try:
            return self.__dict__["attrs"][name]
        except KeyError:
            raise AttributeError(name) from None


def loads_raw(blob: bytes) -> tuple[RawForest, dict[str, Any]]:
    """A forest file's trees as arrays and its ``extra`` dict, checked as ``loads`` checks them, built
    without scikit-learn: it holds the file's records once (``loads`` copies each tree's nodes into
    scikit-learn's own), which is what streaming a forest through predict needs."""
    header, members = _unarchive(blob)
    try:
        f = _parse(header, members)
        if f.name not in FORESTS:
            raise _fail(f"tree file holds a {f.name}, not a forest")
        nodes = members["nodes"]
        classifier = f.name.endswith("Classifier")
        trees, start = [], 0
        for n in f.counts.tolist():
            trees.append(RawTree(nodes[start : start + n], f.values[start : start + n], f.n_classes, classifier))
            start += n
        forest = RawForest(trees, f.n_features, f.n_outputs, f.top["attrs"], f.name, header, members)
        return forest, _extra(header, members)
    except TreeFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        raise _fail(f"tree file is malformed: {type(e).__name__}: {e}") from None


# Fitted attributes of one fit that a forest of several fits' trees does not have (forest.merge drops them).
PER_FIT_ATTRS = ("oob_score_", "oob_decision_function_", "oob_prediction_")


class ForestWriter:
    """One forest file written from its parts, given in order and held one at a time: the files of one
    forest's groves (read by ``loads_raw``, so checked), whose trees it holds in that order.

    Each part's nodes and values go to temporary files as it is added, with its trees' counts, depths
    and params; ``write`` then streams the file out. It holds the records of ``dumps`` of
    ``forest.merge`` of the parts, byte for byte (the compressed blocks may be cut
    elsewhere), while memory holds one part instead of the forest.
    """

    def __init__(self) -> None:
        import tempfile

        # Open as long as the writer: closed by write, close, or leaving its with block.
        self._nodes = tempfile.TemporaryFile()  # noqa: SIM115
        self._values = tempfile.TemporaryFile()  # noqa: SIM115
        self._counts: list[np.ndarray] = []
        self._depths: list[np.ndarray] = []
        self._params: list[dict[str, Any]] = []  # each tree's params, as stored (JSON)
        self._first: dict[str, Any] | None = None
        self.trees = 0

    def add(self, part: RawForest) -> None:
        """Spool ``part``'s trees; it must be the same kind of forest, fitted on the same rows, as the first."""
        header, members = part.header, part.members
        t = _dict(header.get("trees"), "trees")
        count = _int(t.get("count"), "tree count", 1)
        common = _dict(t.get("params"), "tree params")
        varying = {k: _list(v) for k, v in _dict(t.get("params_per_tree"), "per-tree params").items()}
        names = sorted({*common, *varying})  # scikit-learn's get_params order, as dumps writes them
        params = [{k: varying[k][i] if k in varying else common[k] for k in names} for i in range(count)]
        nodes = _nodes(members, int(members["node_count"].sum()))
        values = members["values"]
        shape = {
            "class": header.get("class"),
            "trees": t.get("class"),
            "shape": t.get("shape"),
            "nodes": nodes.dtype,
            "values": (values.dtype, values.shape[1:]),
        }
        tree_attrs = {k: _decode_value(v, members) for k, v in _dict(t.get("attrs"), "tree attrs").items()}
        if self._first is None:
            top = _dict(header.get("top"), "forest")
            self._first = {"shape": shape, "tree_attrs": tree_attrs, "params": top.get("params"), "attrs": part.attrs}
        elif (
            shape != self._first["shape"]
            or not _same(tree_attrs, self._first["tree_attrs"])
            # The trees see encoded labels: the forest's classes_ are the labels (forest.merge checks them).
            or not _same(part.attrs.get("classes_"), self._first["attrs"].get("classes_"))
        ):
            raise TreeFileError("not one forest with the parts before it: its classes, shapes or attributes differ")
        self._nodes.write(np.ascontiguousarray(nodes).view(np.uint8).data)
        self._values.write(np.ascontiguousarray(values).reshape(-1).view(np.uint8).data)
        self._counts.append(members["node_count"].astype(np.int64))
        self._depths.append(members["max_depth"].astype(np.int64))
        self._params += params
        self.trees += count

    def write(self, out: BinaryIO) -> None:
        """The forest's file, to ``out``; the temporary files are closed."""
        first = self._first
        if first is None:
            raise TreeFileError("no parts to write")
        shape = first["shape"]
        common = {k: v for k, v in self._params[0].items() if all(_same(p.get(k), v) for p in self._params)}
        varying = {k: [p[k] for p in self._params] for k in self._params[0] if k not in common}
        arrays = _Arrays()
        top_params = dict(_dict(first["params"], "forest params"), n_estimators=self.trees)
        attrs = {k: v for k, v in first["attrs"].items() if k not in PER_FIT_ATTRS}
        header: dict[str, Any] = {
            "class": shape["class"],
            "top": {
                "params": top_params,
                "attrs": {k: _encode_value(v, arrays, f"{shape['class']}.{k}") for k, v in attrs.items()},
            },
            "trees": {
                "class": shape["trees"],
                "count": self.trees,
                "shape": shape["shape"],
                "params": common,
                "params_per_tree": varying,
                "attrs": {k: _encode_value(v, arrays, f"{shape['trees']}.{k}") for k, v in first["tree_attrs"].items()},
            },
            "extra": {},
            "sklearn": _sklearn_version(),
        }
        counts, depths = np.concatenate(self._counts), np.concatenate(self._depths)
        total = int(counts.sum())
        vdtype, vshape = shape["values"]
        records: _Records = [
            _record("node_count", counts),
            _record("max_depth", depths),
            ("nodes", shape["nodes"], (total,), _spooled(self._nodes)),
            ("values", vdtype, (total, *vshape), _spooled(self._values)),
        ]
        records += [_record(k, v) for k, v in arrays.members.items()]
        header["members"] = [r[0] for r in records]
        records.insert(0, _record("header", np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)))
        try:
            _write(out, records)
        finally:
            self.close()

    def close(self) -> None:
        self._nodes.close()
        self._values.close()

    def __enter__(self) -> ForestWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _spooled(f: BinaryIO) -> Iterator[bytes]:
    f.seek(0)
    while chunk := f.read(_CHUNK):
        yield chunk
