"""``lamforest shard``: a big CSV or Parquet file, or sharded Parquet, into Parquet shards, streamed.

The source is read in record batches (pyarrow's streaming CSV reader, or the
batches of each Parquet file in order) and written as ``part-00000.parquet``,
``part-00001.parquet``, ... of at most ``rows_per_shard`` rows each, one row
group per file, into a folder or an ``s3://`` prefix. Memory holds one shard
at most, whatever the source's size.

Nothing half-done is left: locally the shards are written into a hidden
folder inside ``out`` and moved into place once every row was read; on S3
the parts written are deleted again when the source turns out to be bad.
With ``force``, the ``part-*.parquet`` files already in ``out`` are replaced
(the old ones past the new count removed), so ``out`` holds exactly the new
shards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lamforest import shards
from lamforest.spec import SpecError, as_int
from lamforest.tables import check_file, one_line

BLOCK_BYTES = 8 << 20  # CSV bytes per batch
MAX_ROWS_PER_SHARD = 100_000_000
PART_PREFIX = "part-"


def _csv_batches(path: Path) -> Iterator[Any]:
    """A CSV's batches, whole numbers read as float64: a column of integers whose later rows hold decimals
    (which a streaming reader, typing from the first block, would refuse) reads whole."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(block_size=BLOCK_BYTES)
    first = pacsv.open_csv(path, read_options=read)
    names = first.schema.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError("source", f"{path.name}: the column name {twice[0]!r} appears twice; rename one")
    ints = {f.name: pa.float64() for f in first.schema if pa.types.is_integer(f.type)}
    first.close()
    yield from pacsv.open_csv(path, read_options=read, convert_options=pacsv.ConvertOptions(column_types=ints))


def _batches(source: str) -> Iterator[Any]:
    import pyarrow.parquet as pq

    if _many_files(source):  # sharded Parquet: every file's batches, in the listed order
        sset = shards.resolve(source)
        for path in dict.fromkeys(s.path for s in sset.shards):
            fs, inner = shards.filesystem(path)
            with fs.open_input_file(inner) as f:
                yield from pq.ParquetFile(f).iter_batches(batch_size=65_536)
        return
    file = Path(source).expanduser()
    check_file(file)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        yield from _csv_batches(file)
    elif suffix in shards.SUFFIXES:
        yield from pq.ParquetFile(file).iter_batches(batch_size=65_536)
    else:
        raise SpecError("source", f"{file.name}: lamforest shard reads a .csv or .parquet file, or Parquet shards")


def _many_files(source: str) -> bool:
    """A folder, glob or prefix of Parquet files; one file (of any number of row groups) is read as one."""
    return source.startswith("s3://") or (not Path(source).expanduser().is_file() and shards.is_sharded(source))


def _existing(out: str) -> list[str]:
    """The Parquet files directly in ``out`` (full paths as the filesystem names them)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    fs, base = shards.filesystem(out)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base.rstrip("/"), recursive=False, allow_not_found=True))
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("out", f"cannot list {out}: {one_line(exc)}") from None
    return [i.path for i in infos if i.type == pafs.FileType.File and i.path.lower().endswith(shards.SUFFIXES)]


def _write(table: Any, target: str) -> int:
    """One shard, one row group, written whole; its size on storage."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, inner = shards.filesystem(target)
    try:
        pq.write_table(table, inner, filesystem=fs, row_group_size=max(1, table.num_rows))
        return int(fs.get_file_info(inner).size)
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("out", f"cannot write {target}: {one_line(exc)}") from None


def _local_out(out: str) -> Path:
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise SpecError("out", f"{out} is a file; give a folder")
    shards.check_writable(folder)
    return folder


def write_shards(source: str, out: str, *, rows_per_shard: Any = 250_000, force: bool = False) -> dict[str, Any]:
    """Split ``source`` into shards of at most ``rows_per_shard`` rows in ``out``; return what was written."""
    import pyarrow as pa

    per = as_int("rows_per_shard", rows_per_shard, 1, MAX_ROWS_PER_SHARD)
    source, out = source.strip(), out.strip()
    if not out or out == "-":
        raise SpecError("out", "give a folder or an s3:// prefix for the shards")
    if _many_files(source):
        shards.check_out(shards.resolve(source), out, what="the new shards")
    s3 = out.startswith("s3://")
    if not s3:
        _local_out(out)
    old = _existing(out)
    if old and not force:
        raise SpecError("out", f"{out} already holds {len(old)} Parquet file(s); use an empty folder or pass --force")
    others = [p for p in old if not p.rsplit("/", 1)[-1].startswith(PART_PREFIX)]
    if others:
        raise SpecError(
            "out", f"{out} holds Parquet files not written by lamforest shard (e.g. {others[0]}); use another folder"
        )
    # A hidden folder (prefix) inside out, moved into place once every row was read; readers of
    # sharded data skip hidden names, so a crash mid-way leaves nothing that looks like data.
    hidden = f".lamforest-shard-{uuid.uuid4().hex[:8]}"
    staging = shards.join(out, hidden) if s3 else str(Path(out).expanduser() / hidden)
    written: list[str] = []
    pending: list[Any] = []
    held = rows = nbytes = 0
    schema = None

    def flush() -> None:
        nonlocal pending, held, nbytes
        table = pa.Table.from_batches(pending, schema=schema)
        target = shards.join(staging, f"{PART_PREFIX}{len(written):05d}.parquet")
        if not s3:
            Path(staging).mkdir(parents=True, exist_ok=True)
        nbytes += _write(table, target)
        written.append(target)
        pending, held = [], 0

    try:
        try:
            for batch in _batches(source):
                if schema is None:
                    schema = batch.schema
                elif batch.schema != schema:
                    batch = batch.cast(schema)  # the same columns typed otherwise by another file
                start = 0
                while start < batch.num_rows:
                    take = min(per - held, batch.num_rows - start)
                    pending.append(batch.slice(start, take))
                    held, start, rows = held + take, start + take, rows + take
                    if held == per:
                        flush()
            if held:
                flush()
        except (pa.ArrowException, OSError) as exc:
            raise SpecError("source", f"{source}: cannot be read as a table ({one_line(exc)})") from None
        if not rows:
            raise SpecError("source", f"{source}: no rows to shard")
    except BaseException:
        _discard(staging, s3)
        raise
    names = [f"{PART_PREFIX}{i:05d}.parquet" for i in range(len(written))]
    finals = [shards.join(out, n) for n in names]
    for src, dst in zip(written, finals, strict=True):  # over an old part of the same number, with --force
        if s3:
            fs, inner = shards.filesystem(src)
            fs.copy_file(inner, shards.filesystem(dst)[1])  # server-side copy: no bytes through here
        else:
            os.replace(src, dst)
    _discard(staging, s3)
    # With --force, old parts past the new count would mix into the data: remove them.
    for path in old:
        if path.rsplit("/", 1)[-1] not in names:
            fs, inner = shards.filesystem("s3://" + path if s3 else path)
            with contextlib.suppress(OSError):
                fs.delete_file(inner)
    return {"source": source, "out": out, "shards": len(finals), "rows": rows, "bytes": nbytes, "rows_per_shard": per}


def _discard(staging: str, s3: bool) -> None:
    """The staging folder (prefix) and what it holds: after the move, or when the source turned out bad."""
    if not s3:
        shutil.rmtree(staging, ignore_errors=True)
        return
    fs, inner = shards.filesystem(staging)
    with contextlib.suppress(OSError):
        fs.delete_dir(inner)  # the parts and the folder marker pyarrow leaves
