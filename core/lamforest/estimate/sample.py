"""A measured sample of one build's work on this machine, for ``estimate`` to extrapolate, and its cache.

A sample is one small grove of the build's data and parameters, fitted on one core in a fresh
worker-like process (``lamforest.worker.probe``, started by ``lamforest.driver.sample``), with the
driver's per-tree work (read a grove back, predict, write) and the process's peak RSS at each step,
so that a grove of any size, and a worker's peak memory, can be extrapolated. The sample grows
until it takes about ``budget_s`` (at least two trees): tiny trees are measured over many, big ones
over two or three.

Samples are cached as small JSON files in a directory, keyed by what determines the work (the
data's identity, split and parameters) and by this machine and its scikit-learn, so the TUI can
reuse them without refitting. Reading the cache loads no data.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lamforest.spec import BuildSpec

SAMPLE_VERSION = 7  # 7: weighted samples have their own key (6 shared the unweighted one)
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
    # Sharded data: the bytes of every shard (what the scan reads) and how many shards; the sample is
    # then one grove's sample, and ``train_bytes`` the bytes of the shards a grove reads.
    data_bytes: int = 0
    shards: int = 0

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


def work_key(spec: BuildSpec) -> str:
    """What one grove's work depends on: the data's identity, its split and the parameters (any machine)."""
    parts = {
        "data": data_identity(spec),
        "target": spec.target,
        "task": spec.task,
        "test_size": spec.test_size,
        "seed": spec.seed,
        "model": spec.model,
        "params": spec.params,
        "chunk": spec.chunk,
    }
    if spec.weight:  # a weight column is not a feature: other work (unweighted keys stay as they were)
        parts["weight"] = spec.weight
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def sample_key(spec: BuildSpec) -> str:
    """The cache key: the work (``work_key``) and the machine that measured it."""
    blob = json.dumps([work_key(spec), machine_id(), SAMPLE_VERSION]).encode()
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


def save_sample(cache_dir: Path | str, sample: Sample) -> None:
    path = cache_path(cache_dir, sample.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sample.to_dict(), indent=1))
    os.replace(tmp, path)
