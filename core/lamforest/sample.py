"""A measured sample of one build's work, fitted here, for ``estimate`` to extrapolate.

``measure_sample(spec)`` does what the driver does (load and split the data),
then starts a fresh Python process that does what a worker does: it imports
``lamforest.worker`` (the environment's INIT, timed as the local pool times
it), memory-maps the train set, fits a small grove with the build's
parameters on one core through ``grove.fit``, and dumps it as a worker
would. The same process also times what the driver does per tree when it
finishes (load a grove, predict the test set, write the model), and reports
its peak RSS at each step so that a worker's peak memory can be
extrapolated to any grove size.

The sample grows until it takes about ``budget_s`` (at least two trees), so
tiny trees are measured over many and big ones over two or three.

Samples are cached as small JSON files in a directory, keyed by what
determines the work (the data's identity, split and parameters) and by this
machine and its scikit-learn, so the TUI can reuse them without refitting.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from lamforest.spec import BuildSpec, SpecError

SAMPLE_VERSION = 5
DEFAULT_BUDGET_S = 4.0
MAX_SAMPLE_TREES = 64


@dataclass(frozen=True)
class Sample:
    """What one grove's work costs on this machine, per tree and per grove, measured on one core."""

    key: str
    data: str
    task: str
    rows: int  # train rows
    features: int
    test_rows: int
    classes: int  # 0 for regression
    train_bytes: int  # X.npy + y.npy as stored
    trees: int  # trees in the sample grove
    fit_per_tree_s: float  # one core, trees only
    fit_fixed_s: float  # per grove, one core (validation, setup); 0 when not resolvable
    oob_per_tree_s: float  # OOB vote sums, per tree (0 without bootstrap)
    tree_cv: float  # coefficient of variation of one tree's fit time; 0 when too few chunks to tell
    grove_bytes_per_tree: float  # lz4 as workers write groves
    dump_s_per_tree: float
    load_s_per_tree: float  # the driver reading a grove back
    predict_s_per_tree: float  # one core, on the test rows
    oob_add_s: float  # the driver summing one grove's OOB arrays
    tree_mem_mb: float  # one fitted tree in memory
    worker_base_mb: float  # RSS of a worker after its imports
    train_mem_mb: float  # RSS the memory-mapped train set adds once touched
    fit_overhead_mb: float  # fit's working memory beyond data and trees
    init_ms: float  # a local worker's cold start: interpreter + imports, ``init_workers`` starting at once
    init_workers: int
    contention: float  # fit time with ``init_workers`` processes fitting at once / alone (local pool only)
    prepare_s: float  # the driver's load + split
    write_mb_s: float  # this machine's disk, writing the train set
    measured_s: float  # how long measuring took
    machine: str
    measured_at: float
    how: str = ""

    @property
    def train_mb(self) -> float:
        return self.train_bytes / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {"v": SAMPLE_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def machine_id() -> str:
    """This machine as far as timings go: host, CPU count, Python and scikit-learn versions."""
    import sklearn

    return f"{platform.node()}|{os.cpu_count()}|py{platform.python_version()}|sklearn{sklearn.__version__}"


def data_identity(spec: BuildSpec) -> str:
    """What names the data without loading it: a file's path, size and mtime; a built-in or synthetic name."""
    source = spec.data.strip()
    path = Path(source).expanduser()
    if path.is_file():
        st = path.stat()
        return f"file:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return source


def sample_key(spec: BuildSpec) -> str:
    """The cache key: everything that changes one grove's work, and the machine that measured it."""
    parts = {
        "data": data_identity(spec),
        "target": spec.target,
        "task": spec.task,
        "test_size": spec.test_size,
        "seed": spec.seed,
        "model": spec.model,
        "params": spec.params,
        "chunk": spec.chunk,
        "machine": machine_id(),
        "v": SAMPLE_VERSION,
    }
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cache_path(cache_dir: Path | str, key: str) -> Path:
    return Path(cache_dir) / f"sample-{key}.json"


def cached_sample(spec: BuildSpec, cache_dir: Path | str | None) -> Sample | None:
    """The cached sample for this spec's data and parameters, or None (cheap: no data is loaded)."""
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, sample_key(spec))
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if doc.get("v") != SAMPLE_VERSION:
        return None
    try:
        return Sample.from_dict(doc)
    except TypeError:
        return None


def _save(cache_dir: Path | str, sample: Sample) -> None:
    path = cache_path(cache_dir, sample.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sample.to_dict(), indent=1))
    os.replace(tmp, path)


def measure_sample(
    spec: BuildSpec,
    cache_dir: Path | str | None = None,
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    max_trees: int = MAX_SAMPLE_TREES,
    refresh: bool = False,
    timeout_s: float = 600.0,
    workers: int | None = None,
) -> Sample:
    """Fit a sample grove of ``spec``'s data and parameters here (see the module docstring); cache it.

    ``workers`` processes start together, as the local pool's do, and the cold start is their mean INIT
    (they compete for the same cores); default: this machine's CPUs.
    """
    from lamforest import data as datamod
    from lamforest.grove import make_estimator

    if not budget_s > 0:
        raise SpecError("budget_s", f"must be positive, got {budget_s!r}")
    if max_trees < 2:
        raise SpecError("max_trees", f"must be at least 2, got {max_trees!r}")
    if not refresh:
        hit = cached_sample(spec, cache_dir)
        if hit is not None:
            return hit
    key = sample_key(spec)
    import sklearn.datasets  # imported before the clock starts: a driver has them already
    import sklearn.model_selection  # noqa: F401

    t_start = time.perf_counter()
    ds = datamod.load(spec.data, spec.target, spec.task, spec.seed)
    make_estimator(spec.model, ds.task, spec.params)  # SpecError naming a bad param, before any fitting
    X_tr, X_te, y_tr, y_te = datamod.split(ds, spec.test_size, spec.seed)
    prepare_s = time.perf_counter() - t_start
    with tempfile.TemporaryDirectory(prefix="lamforest-sample-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        np.save(folder / "X.npy", np.ascontiguousarray(X_tr, dtype=np.float32), allow_pickle=False)
        np.save(folder / "y.npy", y_tr, allow_pickle=False)
        write_s = time.perf_counter() - t0
        np.save(folder / "X_test.npy", X_te, allow_pickle=False)
        np.save(folder / "y_test.npy", y_te, allow_pickle=False)
        train_bytes = (folder / "X.npy").stat().st_size + (folder / "y.npy").stat().st_size
        config = {
            "model": spec.model,
            "task": ds.task,
            "params": spec.params,
            "seed": spec.grove_seeds()[0] if spec.n_groves else spec.seed,
            "chunk": spec.chunk,
            "budget_s": budget_s,
            "max_trees": max_trees,
        }
        probe = _run_probe(folder, config, timeout_s, workers or _cpus())
    classes = len(np.unique(y_tr)) if ds.task == "classification" else 0
    sample = _finish(spec, key, ds.task, X_tr, X_te, classes, train_bytes, prepare_s, write_s, probe, t_start)
    if cache_dir is not None:
        _save(cache_dir, sample)
    return sample


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_probe(folder: Path, config: dict[str, Any], timeout_s: float, workers: int) -> dict[str, Any]:
    """The probe process, started together with ``workers - 1`` processes that only time their INIT."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = str(time.time_ns())
    cmd = [sys.executable, "-m", "lamforest.sample_probe"]
    others = [
        subprocess.Popen([*cmd, "-", "{}", started], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(max(0, workers - 1))
    ]
    proc = subprocess.run(
        [*cmd, str(folder), json.dumps(config), started],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    inits = []
    for other in others:
        out, _ = other.communicate(timeout=timeout_s)
        if other.returncode == 0 and out.strip():
            inits.append(json.loads(out.strip().splitlines()[-1])["init_ms"])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise RuntimeError(f"sample grove failed: {tail[0]}")
    probe = json.loads(lines[-1])
    inits.append(probe["init_ms"])
    probe["init_ms"] = sum(inits) / len(inits)
    probe["init_workers"] = len(inits)
    probe["contention"] = _contention(cmd, folder, {**config, "trees": probe["trees"]}, probe, workers, env, timeout_s)
    return probe


def _contention(
    cmd: list[str],
    folder: Path,
    config: dict[str, Any],
    solo: dict[str, Any],
    workers: int,
    env: dict[str, str],
    timeout_s: float,
) -> float:
    """How much slower the same grove fits when ``workers`` processes fit at once, as the local pool's do
    (they share this machine's cores, its memory bandwidth and whatever else runs here)."""
    if workers < 2:
        return 1.0
    started = str(time.time_ns())
    procs = [
        subprocess.Popen([*cmd, str(folder), json.dumps(config), started], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(workers)
    ]
    times = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout_s)
        if proc.returncode == 0 and out.strip():
            times.append(json.loads(out.strip().splitlines()[-1])["fit_s"])
    if not times or solo["fit_s"] <= 0:
        return 1.0
    return max(1.0, sum(times) / len(times) / solo["fit_s"])


def _finish(
    spec: BuildSpec,
    key: str,
    task: str,
    X_tr: np.ndarray,
    X_te: np.ndarray,
    classes: int,
    train_bytes: int,
    prepare_s: float,
    write_s: float,
    probe: dict[str, Any],
    t_start: float,
) -> Sample:
    k = int(probe["trees"])
    fit_s = max(0.0, probe["fit_s"] - probe["oob_s"])
    per_tree = fit_s / k
    fixed = 0.0
    pilot_fit = probe["pilot_fit_s"] - probe["oob_s"] / k
    if k >= 5:  # enough trees that the pilot's difference is not just one tree's noise
        per_tree = max(1e-6, (fit_s - pilot_fit) / (k - 1))
        fixed = max(0.0, pilot_fit - per_tree)
    chunk_times = probe.get("chunk_s") or []
    tree_cv = 0.0
    if len(chunk_times) >= 3:
        arr = np.asarray(chunk_times)  # full chunks only: the last, maybe partial, one is not marked
        if arr.mean() > 0:
            tree_cv = float(arr.std() / arr.mean() * math.sqrt(max(1, spec.chunk)))
    return Sample(
        key=key,
        data=spec.data,
        task=task,
        rows=int(X_tr.shape[0]),
        features=int(X_tr.shape[1]),
        test_rows=int(X_te.shape[0]),
        classes=int(classes),
        train_bytes=int(train_bytes),
        trees=k,
        fit_per_tree_s=per_tree,
        fit_fixed_s=fixed,
        oob_per_tree_s=probe["oob_s"] / k,
        tree_cv=tree_cv,
        grove_bytes_per_tree=probe["grove_bytes"] / k,
        dump_s_per_tree=probe["dump_s"] / k,
        load_s_per_tree=probe["load_s"] / k,
        predict_s_per_tree=probe["predict_s"] / k,
        oob_add_s=probe["oob_add_s"],
        tree_mem_mb=probe["tree_mem_mb"],
        worker_base_mb=probe["rss_base_mb"],
        train_mem_mb=max(0.0, probe["rss_data_mb"] - probe["rss_base_mb"]),
        fit_overhead_mb=max(0.0, probe["rss_fit_mb"] - probe["rss_data_mb"] - k * probe["tree_mem_mb"]),
        init_ms=probe["init_ms"],
        init_workers=int(probe["init_workers"]),
        contention=float(probe["contention"]),
        prepare_s=prepare_s,
        write_mb_s=(train_bytes / 1e6) / max(write_s, 1e-4),
        measured_s=time.perf_counter() - t_start,
        machine=machine_id(),
        measured_at=time.time(),
        how=(
            f"{k} trees of {spec.model} on {X_tr.shape[0]}x{X_tr.shape[1]} ({spec.data}), one core, "
            f"in a fresh worker-like process, chunks of {spec.chunk}"
        ),
    )
