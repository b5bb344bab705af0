"""Measure a ``Sample`` of a build's work here: the driver's load and split, then a worker-like process.

``measure_sample(spec)`` does what the driver does (load and split the data),
then starts ``python -m lamforest.worker.probe``, a fresh process that does
what a worker does (see there). As many probe processes start at once as the
local pool has workers: their INIT is the local cold start, and a second round
in which they all fit the same grove gives the local pool's contention.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lamforest import keys
from lamforest.driver.plan import BuildError
from lamforest.estimate.sample import (
    DEFAULT_BUDGET_S,
    MAX_SAMPLE_TREES,
    Sample,
    cached_sample,
    machine_id,
    sample_key,
    save_sample,
)
from lamforest.shards import is_sharded
from lamforest.spec import BuildSpec, SpecError

if TYPE_CHECKING:
    from lamforest.data import Dataset


def measure_sample(
    spec: BuildSpec,
    cache_dir: Path | str | None = None,
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    max_trees: int = MAX_SAMPLE_TREES,
    refresh: bool = False,
    timeout_s: float = 600.0,
    workers: int | None = None,
    dataset: Dataset | None = None,
) -> Sample:
    """Fit a sample grove of ``spec``'s data and parameters here (see the module docstring); cache it.

    ``workers`` processes start together, as the local pool's do, and the cold start is their mean INIT
    (they compete for the same cores); default: this machine's CPUs. ``dataset``: rows already in
    memory (an estimator's arrays), measured instead of loading ``spec.data``, which must then name
    them uniquely (it keys the cache).
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
    if dataset is None and is_sharded(spec.data):
        return _measure_sharded(spec, key, cache_dir, budget_s, max_trees, timeout_s, workers)
    import sklearn.datasets  # imported before the clock starts: a driver has them already
    import sklearn.model_selection  # noqa: F401

    t_start = time.perf_counter()
    ds = dataset or datamod.load(spec.data, spec.target, spec.task, spec.seed, weight=spec.weight)
    make_estimator(spec.model, ds.task, spec.params)  # SpecError naming a bad param, before any fitting
    X_tr, X_te, y_tr, y_te = datamod.split(ds, spec.test_size, spec.seed)
    if datamod.is_sparse(X_tr):  # the probe memory-maps dense .npy files, as a worker maps a file's rows
        X_tr, X_te = np.asarray(X_tr.todense()), np.asarray(X_te.todense())  # type: ignore[attr-defined]
    prepare_s = time.perf_counter() - t_start
    with tempfile.TemporaryDirectory(prefix="lamforest-sample-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        np.save(folder / keys.DATA_X, np.ascontiguousarray(X_tr, dtype=np.float32), allow_pickle=False)
        np.save(folder / keys.DATA_Y, y_tr, allow_pickle=False)
        write_s = time.perf_counter() - t0
        np.save(folder / keys.SAMPLE_X_TEST, X_te, allow_pickle=False)
        np.save(folder / keys.SAMPLE_Y_TEST, y_te, allow_pickle=False)
        train_bytes = (folder / keys.DATA_X).stat().st_size + (folder / keys.DATA_Y).stat().st_size
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
    shape = (int(X_tr.shape[0]), int(X_tr.shape[1]), int(X_te.shape[0]))
    sample = _finish(spec, key, ds.task, shape, classes, train_bytes, prepare_s, write_s, probe, t_start)
    if cache_dir is not None:
        save_sample(cache_dir, sample)
    return sample


def _measure_sharded(
    spec: BuildSpec,
    key: str,
    cache_dir: Path | str | None,
    budget_s: float,
    max_trees: int,
    timeout_s: float,
    workers: int | None,
) -> Sample:
    """A sample of sharded data: the driver reads footers only; the probe process reads the shards one
    grove would (sized to ``--memory`` as the plan sizes them, before the scan knows the classes) and
    fits its sample grove on them, as a worker does."""
    from lamforest import shards
    from lamforest.grove import check_params

    t_start = time.perf_counter()
    sset = shards.resolve(spec.data).with_roles(spec.target, spec.weight)
    prepare_s = time.perf_counter() - t_start
    check_params(spec.model, spec.task, spec.params)
    approx = [round(s.rows * (1 - spec.test_size)) for s in sset.shards]
    if spec.rows_per_grove is not None:
        r = spec.rows_per_grove
        cap = int(r) if r > 1 else max(1, math.ceil(r * sum(approx)))
    else:
        cap = max(1, shards.sample_rows(spec.memory, len(sset.features), 2, spec.grove, spec.params))
    seed = spec.grove_seeds()[0]
    chosen = shards.grove_shards(seed, approx, cap)
    with tempfile.TemporaryDirectory(prefix="lamforest-sample-") as tmp:
        folder = Path(tmp)
        (folder / keys.SHARD_LIST).write_bytes(sset.to_json())
        config = {
            "model": spec.model,
            "task": spec.task,
            "params": spec.params,
            "seed": seed,
            "chunk": spec.chunk,
            "budget_s": budget_s,
            "max_trees": max_trees,
            "sample": {"shards": chosen, "test_size": spec.test_size, "split_seed": spec.seed},
        }
        probe = _run_probe(folder, config, timeout_s, workers or _cpus())
        # This machine's disk, as the local pool writes groves to it (the train set is not written).
        t0 = time.perf_counter()
        (folder / "disk.bin").write_bytes(bytes(16 << 20))
        write_mb_s = 16.777216 / max(time.perf_counter() - t0, 1e-4)
    test_rows = round(sset.rows * spec.test_size)
    shape = (int(probe["rows"]), len(sset.features), test_rows)
    train_bytes = sum(sset.shards[i].bytes for i in chosen)
    sample = _finish(
        spec, key, probe["task"], shape, int(probe["classes"]), train_bytes, prepare_s, 0.0, probe, t_start
    )
    sample = replace(
        sample,
        data_bytes=sset.nbytes,
        shards=len(sset.shards),
        write_mb_s=write_mb_s,
        how=sample.how + f"; sharded: {len(chosen)} of {len(sset.shards)} shards, read by the probe",
    )
    if cache_dir is not None:
        save_sample(cache_dir, sample)
    return sample


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_probe(folder: Path, config: dict[str, Any], timeout_s: float, workers: int) -> dict[str, Any]:
    """The probe process, started together with ``workers - 1`` processes that only time their INIT."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = str(time.time_ns())
    cmd = [sys.executable, "-m", "lamforest.worker.probe"]
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
        bad_input = "lamforest.spec.SpecError: "
        if tail[0].startswith(bad_input):  # bad data the probe found (a shard): bad input, as build says it
            field, _, message = tail[0][len(bad_input) :].partition(": ")
            raise SpecError(field, message)
        raise BuildError(f"the estimate's sample grove failed: {tail[0]}")
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
    shape: tuple[int, int, int],
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
        rows=shape[0],
        features=shape[1],
        test_rows=shape[2],
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
        write_mb_s=(train_bytes / 1e6) / max(write_s, 1e-4) if write_s else 0.0,
        measured_s=time.perf_counter() - t_start,
        machine=machine_id(),
        measured_at=time.time(),
        how=(
            f"{k} trees of {spec.model} on {shape[0]}x{shape[1]} ({spec.data}), one core, "
            f"in a fresh worker-like process, chunks of {spec.chunk}"
        ),
    )
