"""Loading a data file: lamforest's loader (pyarrow, column by column) against np.loadtxt and pandas.

One synthetic table of ROWS x COLS (40 float features and an integer label)
is written as CSV and as Parquet; each reader loads it REPEATS times and the
median is kept. ``data.load`` includes the checks and the float32 matrix a
build uses; the ``pyarrow only`` rows are the floor (read, no conversion).
pandas is measured when it is installed.

Run: ``python bench/bench_data.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROWS, COLS = 50_000, 41
REPEATS = 5


def _median(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from lamforest import data

    rng = np.random.default_rng(0)
    features = {f"x{i}": rng.normal(size=ROWS) for i in range(COLS - 1)}
    table = pa.table({**features, "y": rng.integers(0, 4, size=ROWS)})
    tmp = Path(tempfile.mkdtemp(prefix="bench-data-"))
    csv_path, pq_path = tmp / "d.csv", tmp / "d.parquet"
    pacsv.write_csv(table, csv_path, write_options=pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, pq_path)

    try:
        import pandas as pd
    except ImportError:
        pd = None

    rows: list[tuple[str, str, float | None]] = [
        ("csv", "lamforest data.load", _median(lambda: data.load(str(csv_path), target="y"))),
        ("csv", "np.loadtxt", _median(lambda: np.loadtxt(csv_path, delimiter=",", skiprows=1))),
        ("csv", "pyarrow only (read_csv)", _median(lambda: pacsv.read_csv(csv_path))),
        ("csv", "pandas read_csv", _median(lambda: pd.read_csv(csv_path)) if pd else None),
        ("parquet", "lamforest data.load", _median(lambda: data.load(str(pq_path), target="y"))),
        ("parquet", "pyarrow only (read_table)", _median(lambda: pq.read_table(pq_path))),
        ("parquet", "pandas read_parquet", _median(lambda: pd.read_parquet(pq_path)) if pd else None),
    ]
    mb = {"csv": csv_path.stat().st_size / 1e6, "parquet": pq_path.stat().st_size / 1e6}
    print(f"{ROWS:,} x {COLS} ({mb['csv']:.1f} MB CSV, {mb['parquet']:.1f} MB Parquet), median of {REPEATS}\n")
    print(f"{'format':<8} {'reader':<26} {'seconds':>8} {'rows/s':>12}")
    for fmt, reader, secs in rows:
        if secs is None:
            print(f"{fmt:<8} {reader:<26} {'not installed':>21}")
        else:
            print(f"{fmt:<8} {reader:<26} {secs:>8.3f} {ROWS / secs:>12,.0f}")
    for p in (csv_path, pq_path):
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
