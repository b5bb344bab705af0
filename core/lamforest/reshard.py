"""``lamforest shard``: one big CSV or Parquet file into Parquet shards, streamed.

The source is read in record batches (pyarrow's streaming CSV reader, or a
Parquet file's batches) and written as ``part-00000.parquet``,
``part-00001.parquet``, ... of at most ``rows_per_shard`` rows each, one row
group per file, into a folder or an ``s3://`` prefix. Memory holds one shard
at most, whatever the file's size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lamforest import shards
from lamforest.spec import SpecError, as_int
from lamforest.tables import check_file, one_line

BLOCK_BYTES = 8 << 20  # CSV bytes per batch
MAX_ROWS_PER_SHARD = 100_000_000


def _batches(path: Path) -> Iterator[Any]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES))
        yield from reader
    elif suffix in shards.SUFFIXES:
        yield from pq.ParquetFile(path).iter_batches(batch_size=65_536)
    else:
        raise SpecError("source", f"{path.name}: lamforest shard reads a .csv or .parquet file")


def _existing(out: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.fs as pafs

    fs, base = shards.filesystem(out)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base.rstrip("/"), recursive=False, allow_not_found=True))
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("out", f"cannot list {out}: {one_line(exc)}") from None
    return [i.path for i in infos if i.path.lower().endswith(shards.SUFFIXES)]


def _write(table: Any, target: str) -> int:
    """One shard, one row group, written whole: a local file through a temporary name."""
    import pyarrow.parquet as pq

    fs, inner = shards.filesystem(target)
    if target.startswith("s3://"):
        pq.write_table(table, inner, filesystem=fs, row_group_size=max(1, table.num_rows))
        return int(fs.get_file_info(inner).size)
    tmp = f"{inner}.{os.getpid()}.tmp"
    try:
        pq.write_table(table, tmp, row_group_size=max(1, table.num_rows))
        os.replace(tmp, inner)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return Path(inner).stat().st_size


def write_shards(source: str, out: str, *, rows_per_shard: Any = 250_000, force: bool = False) -> dict[str, Any]:
    """Split ``source`` into shards of at most ``rows_per_shard`` rows in ``out``; return what was written."""
    import pyarrow as pa

    per = as_int("rows_per_shard", rows_per_shard, 1, MAX_ROWS_PER_SHARD)
    path = Path(source).expanduser()
    check_file(path)
    out = out.strip()
    if not out:
        raise SpecError("out", "give a folder or an s3:// prefix for the shards")
    if not out.startswith("s3://"):
        target = Path(out).expanduser()
        if target.exists() and not target.is_dir():
            raise SpecError("out", f"{out} is a file; give a folder")
        target.mkdir(parents=True, exist_ok=True)
    old = _existing(out)
    if old and not force:
        raise SpecError(
            "out", f"{out} already holds {len(old)} Parquet file(s); choose an empty folder or pass --force"
        )
    pending: list[Any] = []
    held = 0
    count = rows = nbytes = 0
    schema = None

    def flush() -> None:
        nonlocal pending, held, count, nbytes
        table = pa.Table.from_batches(pending, schema=schema)
        nbytes += _write(table, shards.join(out, f"part-{count:05d}.parquet"))
        count += 1
        pending, held = [], 0

    try:
        for batch in _batches(path):
            if schema is None:
                schema = batch.schema
            elif batch.schema != schema:
                batch = batch.cast(schema)  # a later CSV block whose types were inferred otherwise
            start = 0
            while start < batch.num_rows:
                take = min(per - held, batch.num_rows - start)
                pending.append(batch.slice(start, take))
                held += take
                start += take
                rows += take
                if held == per:
                    flush()
        if held:
            flush()
    except (pa.ArrowException, OSError) as exc:
        raise SpecError("source", f"{path.name}: cannot be read as a table ({one_line(exc)})") from None
    if not rows:
        raise SpecError("source", f"{path.name}: no rows to shard")
    return {"source": str(path), "out": out, "shards": count, "rows": rows, "bytes": nbytes, "rows_per_shard": per}
