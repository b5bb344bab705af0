"""Sharded Parquet bigger than any worker: a build with --memory 512 on 1.6 GB of shards, and predict of 0.5 GB.

Data (seeded, generated once into a cache folder and reused): SHARDS Parquet
files of ROWS rows, FEATURES float32 columns and an int ``label`` of CLASSES
classes. The first INFORMATIVE columns are the class's centre plus unit
noise, the rest are noise: learnable, but random float32 barely compresses,
so the folder is ~1.6 GB on disk and no 512 MB worker could hold it.

Whole processes, cold, as users run them (on the local backend, one worker
per core):

- ``build``: ``lamforest build --data FOLDER --memory 512 -t TREES -g GROVE
  --merge never``: the forest stays its groves, as finish and predict stream
  them (``--merge auto``, the default, would also hold the whole forest in
  the driver to write one file: the forest's size, not the data's). The
  driver's own peak RSS is sampled from ``/proc/PID/status`` every SAMPLE_S
  and split by phase (plan: footers and scan; fit; finish: the manifest and
  the score) at the times the groves' records give. The workers' peaks come
  from the REPORT lines of the build's logs, by operation (scan, fit, score).
- ``scikit-learn``: ``RandomForestClassifier(n_estimators=TREES, n_jobs=-1)``
  in a fresh process, fitted on the largest sample one 512 MB process can
  hold (the build's own ``rows_per_grove``: the train rows of the first
  shards), scored shard by shard on every held-out row (the build's split,
  so both accuracies count the same rows). Its peak RSS sampled the same way.
- ``predict``: ``lamforest predict NAME --data SUBSET --out OUT`` of a folder
  of PREDICT_SHARDS of the shards (~0.5 GB); the workers write one output
  file per input shard. The driver's peak RSS, the workers' (REPORT lines).

Goal: the driver stays under 300 MB whatever the data's size, and every
worker under its --memory. A worker killed for exceeding it
(``Runtime.OutOfMemory``) or a failed build is shown, not hidden.

Run: ``python -m bench shards`` or ``python bench/bench_shards.py [DATA_FOLDER]``
(default: $LAMFOREST_BENCH_SHARDS, else a folder in the system temp dir).
Generating the data takes ~15 s on two cores; the bench 6-10 minutes, with -t 40 -g 4.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SHARDS, ROWS, FEATURES, INFORMATIVE, CLASSES, SEED = 48, 176_000, 48, 8, 10, 0
CENTRE_SCALE = 1.5  # spread of the class centres, in units of the noise
TREES, GROVE, MEMORY_MB = 40, 4, 512
PREDICT_SHARDS = 16
# The forest stays its groves (finish and predict stream them). With --merge auto (the default) the driver
# also merges every forest below 1 GB into one file, holding all of it at once: that is the forest's size,
# not the data's, and this bench measures the data's.
MERGE = "never"
SAMPLE_S = 0.05
DRIVER_GOAL_MB = 300
DATA_TAG = f"bench-shards v2 seed={SEED} rows={ROWS} features={FEATURES} informative={INFORMATIVE} classes={CLASSES}"
TIMEOUT_S = 3600


# --------------------------------------------------------------------------- data


def data_folder() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1]).expanduser()
    env = os.environ.get("LAMFOREST_BENCH_SHARDS")
    if env:
        return Path(env).expanduser()
    return Path(tempfile.gettempdir()) / "lamforest-bench-shards"


def _shard_ok(path: Path) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        return False
    meta = pf.schema_arrow.metadata or {}
    return pf.metadata.num_rows == ROWS and meta.get(b"bench") == DATA_TAG.encode()


def make_shards(folder: Path) -> tuple[list[Path], int, float]:
    """The shards (generated where missing or different), how many were generated, and the seconds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    centres = np.random.default_rng(SEED).normal(0.0, CENTRE_SCALE, (CLASSES, INFORMATIVE)).astype(np.float32)
    paths = [folder / f"part-{i:05d}.parquet" for i in range(SHARDS)]
    made = 0
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        if _shard_ok(path):
            continue
        rng = np.random.default_rng([SEED, i])  # one shard at a time: memory bounded by one shard
        y = rng.integers(0, CLASSES, ROWS)
        X = rng.standard_normal((ROWS, FEATURES), dtype=np.float32)
        X[:, :INFORMATIVE] += centres[y]
        cols: dict[str, Any] = {f"x{j:02d}": X[:, j] for j in range(FEATURES)}
        cols["label"] = y
        table = pa.table(cols).replace_schema_metadata({"bench": DATA_TAG})
        tmp = path.with_suffix(".tmp")
        # Dictionary encoding (pyarrow's default) of ~unique float32 values makes a column half as big again
        # on disk as the values: keep it for the label only.
        pq.write_table(table, tmp, use_dictionary=["label"])
        os.replace(tmp, path)
        made += 1
        del X, y, cols, table
    return paths, made, time.perf_counter() - t0


def disk_bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


# --------------------------------------------------------------------------- measuring a process


def _status(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of ``pid`` in kB; None when it is gone (or a zombie)."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None if rss is None or hwm is None else (rss, hwm)


def run_measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` to its end; its own peak RSS (not its children's) from samples of /proc/PID/status.

    Each sample keeps the larger of VmRSS and VmHWM: the process may start its VmHWM over (the driver
    does for finish), and the kernel updates VmHWM lazily (memory returned with madvise does not
    raise it), so neither alone is the peak. ``samples`` are (epoch seconds, MB).
    """
    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                s = _status(proc.pid)
                if s is not None:
                    samples.append((time.time(), max(s) / 1024))
                stop.wait(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stop.set()
            sampler.join()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    doc = None
    for line in reversed(stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            continue
    return {
        "rc": rc,
        "wall_s": wall,
        "peak_mb": max((mb for _, mb in samples), default=0.0),
        "samples": samples,
        "json": doc,
        "stderr": stderr.strip(),
    }


def peak_between(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    return max((mb for t, mb in samples if start <= t < end), default=None)


def reports(log: Path) -> list[dict[str, Any]]:
    """The REPORT lines of a local log: request id, memory, status, error type."""
    from lamforest.logs import parse_report

    if not log.exists():
        return []
    found = []
    for line in log.read_text(errors="replace").splitlines():
        r = parse_report(line)
        if r is None:
            continue
        error_type = None
        if "Error Type:" in line:
            error_type = line.split("Error Type:", 1)[1].split("\t", 1)[0].strip()
        found.append(
            {"rid": r.request_id, "max_memory_mb": r.max_memory_mb, "status": r.status, "error_type": error_type}
        )
    return found


def _peaks(rs: list[dict[str, Any]], rows: int | None = None) -> dict[str, Any]:
    errors = [r.get("error_type") or r.get("status") for r in rs if r["status"] or r["error_type"]]
    return {
        "calls": len(rs),
        "max_mb": max((r["max_memory_mb"] for r in rs), default=0.0),
        "over": sum(r["max_memory_mb"] > MEMORY_MB for r in rs),
        "errors": errors,
        "rows": rows,  # the most rows one invocation held, where its records say
    }


def worker_peaks(build_dir: Path) -> dict[str, dict[str, Any]]:
    """The workers' REPORT lines by operation: ``fit`` (the build's log), and ``scan``, ``score``,
    ``predict`` (the shard jobs' log, told apart by the request ids their job records keep)."""
    by: dict[str, dict[str, Any]] = {"fit": _peaks(reports(build_dir / "lambda.log"), _grove_rows(build_dir))}
    op_of: dict[str, str] = {}
    rows: dict[str, int] = {}
    for path in build_dir.glob("shards/*/*/*.json"):  # shards/<job>/<done|failed>/<batch>.json
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and rec.get("request_id"):
            op = str(rec.get("op", "?"))
            op_of[rec["request_id"]] = op
            if isinstance(rec.get("n"), int):
                rows[op] = max(rows.get(op, 0), rec["n"])
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in reports(build_dir / "shards" / "lambda.log"):
        grouped.setdefault(op_of.get(r["rid"], "other"), []).append(r)
    for op, rs in grouped.items():
        by[op] = _peaks(rs, rows.get(op))
    return by


def _grove_rows(build_dir: Path) -> int | None:
    found = []
    for path in build_dir.glob("state/*.done"):
        try:
            found.append(int(json.loads(path.read_text()).get("rows") or 0))
        except (OSError, ValueError, TypeError):
            continue
    return max(found, default=None)


def lamforest_cmd() -> list[str]:
    script = Path(sys.executable).parent / "lamforest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lamforest.cli"]


# --------------------------------------------------------------------------- scikit-learn beside it

CHILD_SKLEARN = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import pyarrow.parquet as pq
from sklearn.ensemble import RandomForestClassifier
from lamforest.shards import held_out

def peak_mb():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024

folder, rows, trees, seed, test_size, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
    float(sys.argv[5]), int(sys.argv[6])
paths = sorted(p for p in __import__("pathlib").Path(folder).glob("*.parquet"))
names = [f"x{j:02d}" for j in range(features)]

def shard(path, start):
    t = pq.read_table(path)
    X = np.empty((t.num_rows, len(names)), dtype=np.float32)
    for j, c in enumerate(names):
        X[:, j] = t.column(c).to_numpy()
    y = t.column("label").to_numpy()
    return X, y, held_out(seed, test_size, start, t.num_rows)

# The sample: the train rows of the first shards, up to `rows`, in one preallocated matrix.
X = np.empty((rows, len(names)), dtype=np.float32)
y = np.empty(rows, dtype=np.int64)
n = start = 0
for p in paths:
    if n >= rows:
        break
    Xs, ys, test = shard(p, start)
    start += len(ys)
    k = min(rows - n, int((~test).sum()))
    X[n:n + k], y[n:n + k] = Xs[~test][:k], ys[~test][:k]
    n += k
    del Xs, ys
X, y = X[:n], y[:n]
read_s = time.perf_counter() - t0
t1 = time.perf_counter()
m = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=0).fit(X, y)
fit_s = time.perf_counter() - t1
fit_peak = peak_mb()
nodes = sum(e.tree_.node_count for e in m.estimators_)
del X, y
# Every held-out row of every shard, one shard at a time.
t2 = time.perf_counter()
right = total = start = 0
for p in paths:
    Xs, ys, test = shard(p, start)
    start += len(ys)
    if test.any():
        right += int((m.predict(Xs[test]) == ys[test]).sum())
        total += int(test.sum())
    del Xs, ys
print(json.dumps({"rows": n, "read_s": read_s, "fit_s": fit_s, "score_s": time.perf_counter() - t2,
                  "fit_peak_mb": fit_peak, "peak_mb": peak_mb(), "nodes": nodes, "test_n": total,
                  "accuracy": right / total if total else None}))
"""


# --------------------------------------------------------------------------- the bench


def build(home: Path, name: str, folder: Path) -> dict[str, Any]:
    cmd = [*lamforest_cmd(), "build", name, "--backend", "local", "--home", str(home), "--data", str(folder)]
    cmd += ["--target", "label", "-t", str(TREES), "-g", str(GROVE), "--memory", str(MEMORY_MB), "--merge", MERGE]
    cmd += ["--json"]
    r = run_measured(cmd)
    b = home / "builds" / name
    spec = json.loads((b / "spec.json").read_text()) if (b / "spec.json").exists() else {}
    summary = json.loads((b / "summary.json").read_text()) if (b / "summary.json").exists() else {}
    r["spec"], r["summary"] = spec, summary
    r["workers"] = worker_peaks(b)
    # The driver's phases: plan (footers, scan) until the first grove starts; fit until the last grove
    # is done (its record's time); finish (stream the groves for the manifest, score on the workers).
    done = [p.stat().st_mtime for p in b.glob("state/*.done")]
    first = min((float(json.loads(p.read_text()).get("started") or 0) for p in b.glob("state/*.done")), default=0)
    r["phases_mb"], r["phases_s"] = {}, {}
    if done and first and r["samples"]:
        cut = [r["samples"][0][0], first, max(done), r["samples"][-1][0]]
        for phase, start, end in zip(("plan", "fit", "finish"), cut, cut[1:], strict=False):
            r["phases_mb"][phase] = peak_between(r["samples"], start, end if phase != "finish" else float("inf"))
            r["phases_s"][phase] = end - start
    return r


def sklearn_beside(folder: Path, rows: int, seed: int, test_size: float) -> dict[str, Any]:
    args = [str(folder), str(rows), str(TREES), str(seed), str(test_size), str(FEATURES)]
    return run_measured([sys.executable, "-c", CHILD_SKLEARN, *args])


def predict(home: Path, name: str, paths: list[Path], scratch: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    subset, out = scratch / "predict-in", scratch / "predict-out"
    subset.mkdir()
    for p in paths[:PREDICT_SHARDS]:
        try:
            os.link(p, subset / p.name)  # a folder of the same files, without copying 0.5 GB
        except OSError:
            shutil.copyfile(p, subset / p.name)
    cmd = [*lamforest_cmd(), "predict", name, "--backend", "local", "--home", str(home)]
    cmd += ["--data", str(subset), "--out", str(out), "--json"]
    r = run_measured(cmd)
    r["input_bytes"] = disk_bytes(sorted(subset.glob("*.parquet")))
    outputs = sorted(out.glob("*.parquet")) if out.exists() else []
    r["outputs"] = len(outputs)
    r["output_rows"] = sum(pq.ParquetFile(p).metadata.num_rows for p in outputs)
    r["output_bytes"] = disk_bytes(outputs)
    r["reports"] = worker_peaks(home / "builds" / name).get("predict") or _peaks([])
    return r


def _mb(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f} MB"


def _phases(b: dict[str, Any]) -> str:
    shown = " / ".join(f"{k} {v:,.0f}" for k, v in b["phases_mb"].items() if v is not None)
    return f" ({shown})" if shown else ""


def _phase_times(b: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0f} MB in {b['phases_s'][k]:.0f} s" for k, v in b["phases_mb"].items() if v)


def _acc(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def table(b: dict[str, Any], s: dict[str, Any] | None, p: dict[str, Any] | None) -> str:
    summ, sharded = b["summary"], b["spec"].get("sharded") or {}
    workers = max(w["max_mb"] for w in b["workers"].values())
    lines = [
        "| run | driver (or process) peak | workers' peak | wall | accuracy | rows per grove (cap / mean) "
        "| seen fraction | rows/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| lamforest build (-t {TREES} -g {GROVE}, --memory {MEMORY_MB}) | {_mb(b['peak_mb'])}{_phases(b)} | "
        f"{_mb(workers)} | "
        f"{b['wall_s']:.0f} s | {_acc(summ.get('test_score'))} | "
        f"{sharded.get('rows_per_grove', 0):,} / {sharded.get('sample_rows_mean', 0):,.0f} | "
        f"{sharded.get('seen_fraction', 0):.2f} | - |",
    ]
    if s is not None:
        j = s["json"] or {}
        lines.append(
            f"| scikit-learn, {TREES} trees on one {MEMORY_MB} MB sample ({j.get('rows', 0):,} rows) | "
            f"{_mb(s['peak_mb'])} | - | {s['wall_s']:.0f} s | {_acc(j.get('accuracy'))} | - | - | - |"
        )
    if p is not None:
        j = p["json"] or {}
        rows = j.get("rows") or 0
        lines.append(
            f"| lamforest predict ({PREDICT_SHARDS} shards, {p['input_bytes'] / 1e6:,.0f} MB) | {_mb(p['peak_mb'])} | "
            f"{_mb(p['reports']['max_mb'])} | {p['wall_s']:.0f} s | - | - | - | "
            + (f"{rows / p['wall_s']:,.0f} |" if rows else "- |")
        )
    return "\n".join(lines)


OPS = ("scan", "fit", "score", "predict")


def _workers_line(op: str, rep: dict[str, Any]) -> str:
    rows = f", at most {rep['rows']:,} rows each" if rep["rows"] else ""
    return (
        f"workers, {op}: {rep['calls']} invocations{rows}, peak {rep['max_mb']:.0f} MB, {rep['over']} over "
        f"{MEMORY_MB} MB, errors: {rep['errors'] or 'none'}"
    )


def _failed(what: str, r: dict[str, Any]) -> None:
    if r["rc"] != 0:
        print(f"  {what} exited {r['rc']}: {r['stderr'][-2000:] or (r['json'] or {}).get('error')}")


def main() -> None:
    folder = data_folder()
    paths, made, gen_s = make_shards(folder)
    size = disk_bytes(paths)
    print(
        f"data: {SHARDS} shards x {ROWS:,} rows x {FEATURES} float32 + label ({CLASSES} classes, "
        f"{INFORMATIVE} informative columns) = {SHARDS * ROWS:,} rows, {size / 1e9:.2f} GB on disk "
        f"({size / 2**30:.2f} GiB); {made} generated ({gen_s:.0f} s), {SHARDS - made} reused",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    home, name = scratch / "home", "shards"
    t0 = time.perf_counter()
    try:
        b = build(home, name, folder)
        _failed("build", b)
        summ = b["summary"]
        print(
            f"  build: {summ.get('state', '?')} in {b['wall_s']:.1f} s; driver peak {b['peak_mb']:.0f} MB "
            f"({_phase_times(b)}); summary: "
            f"{json.dumps(summ.get('memory'))}; failures: {summ.get('failures')}",
            flush=True,
        )
        for op in sorted(b["workers"], key=lambda op: (op not in OPS, OPS.index(op) if op in OPS else 0, op)):
            print(f"  {_workers_line(op, b['workers'][op])}", flush=True)
        sharded = b["spec"].get("sharded") or {}
        spec = (b["spec"].get("spec") or {}) if b["spec"] else {}
        s = None
        if sharded:
            print(
                f"  plan: rows_per_grove {sharded['rows_per_grove']:,} (fit memory {sharded['rows_fit_memory']:,}), "
                f"{b['spec']['n_train']:,} train, {b['spec']['n_test']:,} held out; forest "
                f"{summ.get('forest_mb', 0):,.0f} MB in memory, kept as its groves (--merge {MERGE})",
                flush=True,
            )
            s = sklearn_beside(folder, sharded["rows_per_grove"], int(spec.get("seed", 0)), spec.get("test_size", 0.25))
            _failed("scikit-learn", s)
            print(f"  scikit-learn: {s['json']}, sampled peak {s['peak_mb']:.0f} MB", flush=True)
            held = (summ.get("test") or {}).get("n")
            if s["json"] and held is not None and held != s["json"]["test_n"]:
                print(f"  note: held-out rows differ: lamforest {held:,}, scikit-learn {s['json']['test_n']:,}")
        p = None
        if summ.get("state") == "done":
            p = predict(home, name, paths, scratch)
            _failed("predict", p)
            j = p["json"] or {}
            print(
                f"  predict: {j.get('rows', 0):,} rows -> {p['outputs']} files ({p['output_rows']:,} rows, "
                f"{p['output_bytes'] / 1e6:,.0f} MB) in {p['wall_s']:.1f} s; driver peak {p['peak_mb']:.0f} MB "
                f"(its own: {j.get('driver_peak_mb')} MB)",
                flush=True,
            )
            print(f"  {_workers_line('predict', p['reports'])}", flush=True)
        print(table(b, s, p))
        drivers = [b["peak_mb"]] + ([p["peak_mb"]] if p else [])
        workers = [w["max_mb"] for w in b["workers"].values()] + ([p["reports"]["max_mb"]] if p else [])
        print(
            f"driver peak {max(drivers):.0f} MB "
            f"(goal < {DRIVER_GOAL_MB}: {'met' if max(drivers) < DRIVER_GOAL_MB else 'NOT met'}); "
            f"workers' peak {max(workers):.0f} MB (limit {MEMORY_MB}: "
            f"{'within' if max(workers) <= MEMORY_MB else 'EXCEEDED'}); data {size / 1e9:.2f} GB in {SHARDS} shards"
        )
        print(f"total {time.perf_counter() - t0:.0f} s (besides generating the data)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
