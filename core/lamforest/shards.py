"""Sharded datasets: Parquet files (or row groups) read by the workers, planned from footers alone.

A *shard* is what one worker reads: a Parquet file, or one row group of a file
that has several. The driver lists the shards and reads their footers (schema,
rows per row group, sizes) and never a row; the list is stored once,
content-addressed (``data/<sha256>/shards.json``), and fit, scan, score and
predict events name shards by their index in it.

Three functions make the statistics work without anyone holding the data:

- ``held_out(seed, test_size, start, n)``: whether each row is held out is a
  seeded hash (splitmix64) of its *global* index, so any worker can tell for
  its own rows, whatever the sharding, and nobody ever holds the split.
- ``grove_shards(seed, rows, cap)``: the seeded random subset of shards a
  grove reads, whole shards up to ``cap`` train rows (subsampled bagging:
  each grove bootstraps within its sample).
- ``sample_rows(...)``: the largest sample a worker of ``memory`` MB can fit.

Sources: a local folder (every ``*.parquet`` below it), a glob, one Parquet
file with several row groups, or ``s3://bucket/prefix/``. S3 is read with
pyarrow's own S3 filesystem (``AWS_ENDPOINT_URL`` honoured, for S3-compatible
servers); pyarrow is imported only when sharded data is used.
"""

from __future__ import annotations

import glob as globmod
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from lamforest.spec import MAX_SHARDS, SpecError
from lamforest.tables import column_floats, column_target, one_line

if TYPE_CHECKING:
    import pyarrow.fs as pafs

FOOTER_THREADS = 16
GLOB_CHARS = set("*?[")
MAX_ROW_GROUPS = 1000  # per file: each row group is a shard whose reader parses the whole footer
SUFFIXES = (".parquet", ".pq")

# A worker's memory that is not for rows: the interpreter and its imports (~130 MB at start-up, in
# the image and in a venv with pandas; reading Parquet imports pyarrow on top) and what reading Parquet leaves
# resident (pyarrow's allocator keeps freed buffers: a worker that has read one 176,000 x 48 float32
# shard stays at ~305-320 MB). The rest of --memory, less HEADROOM for what the model below does not
# count, holds the sample and the grove's trees.
WORKER_FLOOR_MB = 290
HEADROOM = 0.15
# Bytes per train row besides its features: y as float64, the bootstrap's weights and
# indices, the splitter's sample index and feature values.
FIT_BYTES_PER_ROW = 48
# Nodes per row of a fully grown tree: ~0.38 measured on random labels (the worst case: every
# row its own leaf); 0.5 leaves a margin.
NODES_PER_ROW = 0.5
NODE_BYTES = 64  # scikit-learn's Node struct, besides its value array


def is_sharded(source: str) -> bool:
    """Whether ``source`` names sharded Parquet data rather than one file read whole.

    A folder, a glob, an ``s3://`` URI, or a Parquet file with more than one row group
    (a file of one row group is read whole by the driver, as it always was).
    """
    source = source.strip()
    if source.startswith("s3://") or GLOB_CHARS & set(source):
        return True
    path = Path(source).expanduser()
    if path.is_dir():
        return True
    if path.suffix.lower() in SUFFIXES and path.is_file():
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return bool(pq.ParquetFile(path).metadata.num_row_groups > 1)
        except (pa.ArrowException, OSError):
            return False  # the one-file reader says what is wrong with it
    return False


# --------------------------------------------------------------------------- filesystems


def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem, configured as boto3 would be from the environment.

    Credentials come from pyarrow's default chain (the environment, a profile, a
    Lambda role); ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` points at an S3-compatible server.
    """
    import pyarrow.fs as pafs

    kwargs: dict[str, Any] = {
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "connect_timeout": 5,
        "request_timeout": 30,
    }
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urlparse(endpoint)
        kwargs["endpoint_override"] = url.netloc or url.path
        kwargs["scheme"] = url.scheme or "https"
    return pafs.S3FileSystem(**kwargs)


def filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path within it) for a local path or an ``s3://`` URI."""
    import pyarrow.fs as pafs

    if uri.startswith("s3://"):
        return s3_filesystem(), uri[len("s3://") :]
    return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())


def join(base: str, name: str) -> str:
    """``base``/``name`` for a folder or an ``s3://`` prefix."""
    return base.rstrip("/") + "/" + name


# --------------------------------------------------------------------------- the shard list


@dataclass(frozen=True)
class Shard:
    """One unit of reading: a file (``row_group`` None) or one row group of it."""

    path: str  # s3://bucket/key or an absolute local path
    row_group: int | None
    rows: int
    bytes: int  # compressed bytes on storage
    start: int  # global index of its first row (files in listed order, row groups in order)
    version: str  # the file's identity: size and modification time

    @property
    def label(self) -> str:
        """How errors name it: the file, and the row group when a file has several."""
        return self.path if self.row_group is None else f"{self.path} (row group {self.row_group})"


@dataclass
class ShardSet:
    """A sharded dataset as its footers describe it: shards, columns, and the roles of the columns."""

    source: str
    shards: list[Shard]
    columns: list[str]
    types: list[str]
    target: str | None = None
    weight: str | None = None
    features: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def nbytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def to_json(self) -> bytes:
        d = asdict(self)
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, blob: bytes) -> ShardSet:
        d = json.loads(blob)
        d["shards"] = [Shard(**s) for s in d["shards"]]
        return cls(**d)

    def with_roles(self, target: str | None, weight: str | None) -> ShardSet:
        """Name the target and weight columns (refused, naming the column, when absent); the rest are features."""
        where = self.shards[0].label
        if target is None:
            raise SpecError(
                "target", f"{self.source}: name the target column with --target (columns: {_listed(self.columns)})"
            )
        if target not in self.columns and "," in target and all(t.strip() in self.columns for t in target.split(",")):
            raise SpecError(
                "target",
                f"{self.source}: several target columns ({target}) need a train set stored whole; sharded "
                "data fits one target",
            )
        for flag, col in (("target", target), ("weight", weight)):
            if col is not None and col not in self.columns:
                raise SpecError(flag, f"{where}: no column {col!r}; columns are {_listed(self.columns)}")
        if weight is not None and weight == target:
            raise SpecError("weight", f"the weight column {weight!r} is the target")
        features = [c for c in self.columns if c not in (target, weight)]
        if not features:
            raise SpecError("data", f"{where}: no feature columns besides the target")
        for name, typ in zip(self.columns, self.types, strict=True):
            if name in features and not _numeric_type(typ):
                raise SpecError("data", f"{where}: feature column {name!r} is not numeric ({typ}); encode it first")
        return ShardSet(self.source, self.shards, self.columns, self.types, target, weight, features)


def out_names(sset: ShardSet) -> list[str]:
    """Where each shard's predictions go in an output folder: its path below the shards' common folder
    (subfolders kept, so equal file names in different folders stay apart), ``.parquet`` in place of
    ``.parquet``, ``-rgNNNNN`` for one row group of a file."""
    parts = [s.path.split("/")[:-1] for s in sset.shards]
    common = 0
    while all(len(p) > common and p[common] == parts[0][common] for p in parts):
        common += 1
    names = []
    for shard in sset.shards:
        rel = "/".join(shard.path.split("/")[common:])
        if rel.lower().endswith(".parquet"):
            rel = rel[: -len(".parquet")]
        names.append(rel + ("" if shard.row_group is None else f"-rg{shard.row_group:05d}") + ".parquet")
    return names


def _listed(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _numeric_type(typ: str) -> bool:
    t = typ.lower()
    return t.startswith(("int", "uint", "float", "double", "halffloat", "bool", "decimal", "null")) or (
        t.startswith("dictionary") and "value_type=string" not in t
    )


def _list_files(source: str) -> list[str]:
    """The Parquet files a source names, sorted; one line naming the source when there are none."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    if source.startswith("s3://"):
        fs, base = filesystem(source)
        try:
            info = fs.get_file_info(base.rstrip("/"))
            if info.type == pafs.FileType.File:
                found = [base]
            else:
                sel = pafs.FileSelector(base.rstrip("/"), recursive=True, allow_not_found=True)
                found = [i.path for i in fs.get_file_info(sel) if i.type == pafs.FileType.File]
        except (pa.ArrowException, OSError) as exc:
            raise SpecError("data", f"cannot list {source}: {one_line(exc)}; check the URI and your access") from None
        files = ["s3://" + p for p in found if p.lower().endswith(SUFFIXES) and not _hidden(p[len(base) :])]
    elif GLOB_CHARS & set(source):
        files = [str(Path(p).resolve()) for p in globmod.glob(os.path.expanduser(source), recursive=True)]
        files = [f for f in files if Path(f).is_file()]
    else:
        path = Path(source).expanduser().resolve()
        if path.is_dir():
            files = [
                str(p)
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUFFIXES and not _hidden(str(p.relative_to(path)))
            ]
        elif path.is_file():
            files = [str(path)]
        else:
            raise SpecError("data", f"{source}: no such file or folder")
    files = sorted(files)
    if not files:
        raise SpecError("data", f"{source}: no Parquet files (*.parquet) there")
    return files


def _hidden(relative: str) -> bool:
    """Names that hold no data by convention (Spark's, Hive's): a part of the path starting with ``.`` or
    ``_`` (``_SUCCESS``, ``_metadata``, a writer's temporary folder)."""
    return any(part.startswith((".", "_")) for part in relative.strip("/").split("/"))


def _footer(path: str) -> tuple[list[str], list[str], list[tuple[int, int]], str]:
    """(column names, types, (rows, bytes) per row group, version) of one file, from its footer only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, inner = filesystem(path)
    try:
        info = fs.get_file_info(inner)
        with fs.open_input_file(inner) as f:
            pf = pq.ParquetFile(f)
            meta = pf.metadata
            schema = pf.schema_arrow
            groups = [
                (
                    meta.row_group(i).num_rows,
                    sum(meta.row_group(i).column(j).total_compressed_size for j in range(meta.num_columns)),
                )
                for i in range(meta.num_row_groups)
            ]
    except (pa.ArrowException, OSError) as exc:
        raise SpecError(
            "data", f"shard {path}: not a readable Parquet file, corrupt or truncated ({one_line(exc)})"
        ) from None
    version = _version(info)
    names = [str(n) for n in schema.names]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError("data", f"shard {path}: the column name {twice[0]!r} appears twice; rename one")
    if len(groups) > MAX_ROW_GROUPS:
        raise SpecError(
            "data",
            f"shard {path} has {len(groups)} row groups, more than the {MAX_ROW_GROUPS} a file may hold as shards; "
            f"rewrite it in larger shards: lamforest shard {path} --out {resharded(path)}",
        )
    return names, [logical_type(str(t)) for t in schema.types], groups, version


def logical_type(name: str) -> str:
    """A column's Arrow type as a shard schema compares it: the large and view variants of text,
    bytes and lists are the same values (pandas writes ``large_string`` where pyarrow writes ``string``)."""
    for variant, plain in (
        ("large_string", "string"),
        ("string_view", "string"),
        ("large_binary", "binary"),
        ("binary_view", "binary"),
        ("large_list", "list"),
    ):
        name = name.replace(variant, plain)
    return name


def resolve(source: str) -> ShardSet:
    """List a sharded source and read its footers (never its rows); refuse, naming the shard,
    a corrupt footer, a schema that differs from the first file's, or an empty shard."""
    files = _list_files(source.strip())
    with ThreadPoolExecutor(max_workers=min(FOOTER_THREADS, len(files))) as pool:
        footers = list(pool.map(_footer, files))
    columns, types = footers[0][0], footers[0][1]
    shards: list[Shard] = []
    start = 0
    for path, (cols, typs, groups, version) in zip(files, footers, strict=True):
        if cols != columns or typs != types:
            raise SpecError(
                "data",
                f"shard {path}: {_schema_diff(columns, types, cols, typs)} than {files[0]}; write every shard with "
                f"the same columns and types (lamforest shard FILE --out FOLDER does), or move it out of {source}",
            )
        split = len(groups) > 1
        for i, (rows, nbytes) in enumerate(groups):
            shard = Shard(path, i if split else None, rows, nbytes, start, version)
            if rows == 0:
                if split:
                    continue  # an empty row group of a file that has others is nothing to read
                raise SpecError("data", f"shard {shard.label} has no rows; remove it from {source}")
            shards.append(shard)
            start += rows
        if not groups:
            raise SpecError("data", f"shard {path} has no rows; remove it from {source}")
    if len(shards) > MAX_SHARDS:
        raise SpecError("data", f"{source}: {len(shards)} shards, at most {MAX_SHARDS}; write larger shards")
    return ShardSet(source.strip(), shards, columns, types)


def resharded(source: str) -> str:
    """A place beside ``source`` for its data written again in other shards."""
    base = source.rstrip("/")
    for suffix in SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    return base + "-resharded"


def _schema_diff(columns: list[str], types: list[str], cols: list[str], typs: list[str]) -> str:
    missing = [c for c in columns if c not in cols]
    extra = [c for c in cols if c not in columns]
    if missing:
        return f"has no column {missing[0]!r}, another schema"
    if extra:
        return f"has an extra column {extra[0]!r}, another schema"
    if cols != columns:
        return "has its columns in another order"
    for c, a, b in zip(columns, types, typs, strict=True):
        if a != b:
            return f"has column {c!r} as {b}, not {a}: another schema"
    return "has another schema"


SCAN_BATCH_MAX = 16  # shards per scan event, at most


def scan_batch(n_shards: int) -> int:
    """Shards per scan event: one each up to 64 shards, then up to 16 (fewer invocations)."""
    return max(1, min(SCAN_BATCH_MAX, math.ceil(n_shards / 64)))


def check_out(sset: ShardSet, out: str, what: str) -> None:
    """Refuse an output location that would overwrite the input shards or mix with them (their folder,
    inside it, or around it), a local path that is a file or cannot be written; nothing is written."""
    local = not out.startswith("s3://")
    target = (str(Path(out).expanduser().resolve()) if local else out.rstrip("/")) + "/"
    if local and Path(out).expanduser().is_file():
        raise SpecError("out", f"{out} is a file; give a folder for one output per shard")
    for shard in sset.shards:
        folder = shard.path.rsplit("/", 1)[0] + "/"
        if target.startswith(folder) or folder.startswith(target):
            raise SpecError(
                "out",
                f"{out} holds or is inside the input shards' folder {folder}: {what} would overwrite or mix with "
                "them; choose another folder",
            )
    if local:
        check_writable(Path(out).expanduser())


def check_writable(folder: Path) -> None:
    """Refuse, before any work, a local output folder that cannot be made or written (read-only, a file in
    the way, no permission); what this made for the check is removed again."""
    made = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".lamforest-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SpecError("out", f"{folder} cannot be written ({exc.strerror or exc}); choose another folder") from None
    finally:
        for p in made:  # deepest first: only the folders this check made, and only while empty
            try:
                p.rmdir()
            except OSError:
                break


# --------------------------------------------------------------------------- reading a shard


def _version(info: Any) -> str:
    return f"{info.size}:{info.mtime_ns or 0}"


def check_unchanged(shard: Shard) -> None:
    """Refuse a shard whose file changed (size or modification time) since its footer was planned from."""
    import pyarrow as pa

    fs, inner = filesystem(shard.path)
    import pyarrow.fs as pafs

    try:
        info = fs.get_file_info(inner)
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("data", f"shard {shard.label}: cannot be read ({one_line(exc)})") from None
    if info.type == pafs.FileType.NotFound:
        raise SpecError("data", f"shard {shard.label} is missing; it was there when the build was planned")
    now = _version(info)
    if now != shard.version:
        raise SpecError(
            "data",
            f"shard {shard.label} changed since the build was planned ({shard.version} -> {now}); "
            "create a new build from the data as it is now",
        )


def read_table(shard: Shard, columns: list[str]) -> Any:
    """The named columns of one shard, as a pyarrow Table."""
    import pyarrow.parquet as pq

    fs, inner = filesystem(shard.path)
    with fs.open_input_file(inner) as f:
        pf = pq.ParquetFile(f)
        if shard.row_group is None:
            return pf.read(columns=columns)
        return pf.read_row_group(shard.row_group, columns=columns)


def read_shard(
    sset: ShardSet, shard: Shard, *, with_target: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """X (float32, the feature columns in order), y (labels or float64) and the weights of one shard."""
    cols = list(sset.features)
    if with_target and sset.target:
        cols.append(sset.target)
    if sset.weight:
        cols.append(sset.weight)
    import pyarrow as pa

    where = f"shard {shard.label}"
    try:
        table = read_table(shard, cols)
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("data", f"{where}: cannot be read, corrupt or missing ({one_line(exc)})") from None
    X = np.empty((table.num_rows, len(sset.features)), dtype=np.float32)
    for j, name in enumerate(sset.features):
        with np.errstate(over="ignore"):  # past float32's range becomes inf, which the scan names
            X[:, j] = column_floats(table.column(name), name, where)
    y = target_values(table.column(sset.target), sset.target, where) if with_target and sset.target else None
    w = column_floats(table.column(sset.weight), sset.weight, where) if sset.weight else None
    return X, y, w


def target_values(column: Any, name: str, where: str) -> np.ndarray:
    """A shard's target: text labels when the column holds text (missing ""), else float64 (missing NaN).

    Decided by the column's type, which every shard shares, so that one label reads the
    same in every shard (text that looks like a number stays text).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return np.asarray(pc.fill_null(pc.cast(column, pa.string()), "").to_numpy(zero_copy_only=False)).astype(str)
    return column_target(column, name, where)


def labels(y: np.ndarray, task: str) -> np.ndarray:
    """Targets as a fit takes them: int64 or text labels for classification, float64 for regression."""
    if task == "regression":
        return y.astype(np.float64)
    return y if y.dtype.kind in "US" else y.astype(np.int64)


MAX_DISTINCT = 1000  # distinct target values a scan counts per shard; past it the target is not classes


def scan(sset: ShardSet, index: int, seed: int, test_size: float) -> dict[str, Any]:
    """One shard's summary: rows, held-out rows, NaN/inf per feature, the target's values (or range)
    and missing values, the weights' checks. Small: a few numbers per column."""
    shard = sset.shards[index]
    X, y, w = read_shard(sset, shard)
    test = held_out(seed, test_size, shard.start, X.shape[0])
    nan = np.isnan(X).sum(axis=0)
    inf = np.isinf(X).sum(axis=0)
    out: dict[str, Any] = {
        "shard": index,
        "rows": int(X.shape[0]),
        "test_rows": int(test.sum()),
        "nan": {sset.features[j]: int(nan[j]) for j in np.flatnonzero(nan)},
        "inf": {sset.features[j]: int(inf[j]) for j in np.flatnonzero(inf)},
    }
    if X.shape[0] != shard.rows:
        out["footer_rows"] = shard.rows
    assert y is not None  # a scan reads the target
    target: dict[str, Any] = {}
    if y.dtype.kind in "US":
        target["kind"] = "text"
        target["missing"] = int((y == "").sum())
        values, counts = np.unique(y[y != ""], return_counts=True)
    else:
        target["kind"] = "number"
        target["missing"] = int(np.isnan(y).sum())
        target["inf"] = int(np.isinf(y).sum())
        finite = y[np.isfinite(y)]
        target["integral"] = bool(np.all(np.equal(np.mod(finite, 1), 0)))
        target["min"] = float(finite.min()) if finite.size else None
        target["max"] = float(finite.max()) if finite.size else None
        values, counts = np.unique(finite, return_counts=True)
    if len(values) <= MAX_DISTINCT:
        target["values"] = [[v.item(), int(c)] for v, c in zip(values, counts, strict=True)]
        # The labels among the train rows: the plan checks every grove's sample holds every class.
        train = y[~test]
        train = train[train != ""] if y.dtype.kind in "US" else train[np.isfinite(train)]
        target["train_values"] = [v.item() for v in np.unique(train)]
    out["target"] = target
    if w is not None:
        out["weight"] = {
            "missing": int(np.isnan(w).sum()),
            "inf": int(np.isinf(w).sum()),
            "negative": int((w < 0).sum()),
            "sum": float(np.nansum(w[np.isfinite(w)])),
        }
    return out


# --------------------------------------------------------------------------- the split, the samples

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 of each uint64 (wrapping arithmetic): a fast, well-mixed hash."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def held_out(seed: int, test_size: float, start: int, n: int) -> np.ndarray:
    """Whether rows ``start .. start+n-1`` (global indices) are held out: a seeded hash of each index
    below ``test_size``. Independent of sharding and of which process asks."""
    if test_size <= 0:
        return np.zeros(n, dtype=bool)
    key = _splitmix(np.array([seed], dtype=np.uint64))[0]
    u = _splitmix(np.arange(start, start + n, dtype=np.uint64) ^ key) >> np.uint64(11)
    return u.astype(np.float64) * (1.0 / (1 << 53)) < test_size


def grove_shards(seed: int, rows: list[int], cap: int) -> list[int]:
    """The shards one grove reads: a seeded random order of all shards, taken while their rows fit
    ``cap`` (at least one shard), returned in index order."""
    order = np.random.default_rng([seed, 0x5A3]).permutation(len(rows))
    chosen: list[int] = []
    total = 0
    for i in order:
        if chosen and total + rows[i] > cap:
            continue  # a smaller shard later in the order may still fit
        chosen.append(int(i))
        total += rows[i]
        if total >= cap:
            break
    return sorted(chosen)


def nodes_bound(params: dict[str, Any], rows: int) -> float:
    """Nodes one tree grows on ``rows`` rows, at most: fully grown unless the parameters stop it."""
    bound = NODES_PER_ROW * rows
    depth = params.get("max_depth")
    if isinstance(depth, int) and not isinstance(depth, bool) and depth < 40:
        bound = min(bound, 2.0 ** (depth + 1))
    leaves = params.get("max_leaf_nodes")
    if isinstance(leaves, int) and not isinstance(leaves, bool):
        bound = min(bound, 2.0 * leaves)
    msl = params.get("min_samples_leaf")
    if isinstance(msl, int) and not isinstance(msl, bool) and msl > 1:
        bound = min(bound, 2.0 * rows / msl)
    return max(bound, 1.0)


def sample_bytes(rows: int, n_features: int, n_classes: int, trees: int, params: dict[str, Any]) -> float:
    """Bytes a worker needs beyond its floor to fit ``trees`` trees on ``rows`` rows: the rows,
    the fit's working arrays, and the grove's trees (plus one growing and one serialised copy)."""
    node = NODE_BYTES + 8 * max(1, n_classes)
    return rows * (4 * n_features + FIT_BYTES_PER_ROW) + (trees + 2) * node * nodes_bound(params, rows)


def sample_rows(memory_mb: int, n_features: int, n_classes: int, trees: int, params: dict[str, Any]) -> int:
    """The most train rows one grove can hold in ``memory_mb``, by the model above (0: none fit)."""
    budget = (memory_mb - WORKER_FLOOR_MB) * 1e6 * (1 - HEADROOM)
    if budget <= 0:
        return 0
    lo, hi = 0, 1
    while sample_bytes(hi, n_features, n_classes, trees, params) <= budget and hi < 1 << 40:
        hi *= 2
    while lo < hi - 1:  # the model grows with rows: bisect for the largest that fits
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if sample_bytes(mid, n_features, n_classes, trees, params) <= budget else (lo, mid)
    return lo


def score_rows(memory_mb: int, n_features: int, n_classes: int, grove_bytes: int) -> int:
    """Held-out rows one score or predict call holds in ``memory_mb`` beside the largest grove it loads:
    the rows as float32, the running vote sum and one tree's output (float64 per class), the read."""
    budget = (memory_mb - WORKER_FLOOR_MB) * 1e6 * (1 - HEADROOM) - 2 * grove_bytes
    per_row = 8 * n_features + 16 * max(1, n_classes) + FIT_BYTES_PER_ROW
    return max(0, int(budget // per_row))


def memory_needed_mb(rows: int, n_features: int, n_classes: int, trees: int, params: dict[str, Any]) -> int:
    """The smallest --memory whose budget holds a sample of ``rows`` rows."""
    need = sample_bytes(rows, n_features, n_classes, trees, params) / (1 - HEADROOM) / 1e6 + WORKER_FLOOR_MB
    return math.ceil(need)
