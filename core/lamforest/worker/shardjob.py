"""Sharded data on the worker: a grove's sample, and the ``shards`` event (scan, score, predict).

Rows never pass through the driver: a worker reads its shards from where they
are (a folder, or S3 with pyarrow), keeps what it needs, and writes back a
small record (a scan summary, score sums) or, for predict, one output file per
input shard. Every op records ``builds/<b>/shards/<job>/done/<batch>.json``
(or ``failed/``), so the driver reduces records and never gathers rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

import numpy as np

from lamforest import artifacts, documents, forest, keys, records, shards
from lamforest.data import DataIntegrityError
from lamforest.events import FitEvent, ShardEvent
from lamforest.memory import peak_mb as peak_memory_mb
from lamforest.store.base import Store

_SETS: dict[tuple[str, str], shards.ShardSet] = {}


def load_shard_set(store: Store, ref: str) -> shards.ShardSet:
    """The shard list at ``ref``, checked once per environment against its content address."""
    key = (store.url, ref)
    if key not in _SETS:
        try:
            blob = store.get_bytes(keys.shard_list(ref))
        except KeyError:
            raise DataIntegrityError(f"sharded dataset {ref} has no shard list in the store") from None
        if keys.data_ref(artifacts.digest(blob)) != ref:
            raise DataIntegrityError(f"shard list {ref} does not match its content address (altered); not used")
        _SETS[key] = shards.ShardSet.from_json(blob)
    return _SETS[key]


def _check_index(sset: shards.ShardSet, indices: list[int]) -> None:
    for i in indices:
        if i >= len(sset.shards):
            raise ValueError(f"shard {i} is outside the dataset's {len(sset.shards)} shards")


def rows_of(
    sset: shards.ShardSet, indices: list[int], seed: int, test_size: float, want_test: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The train (or held-out) rows of these shards, one preallocated X filled shard by shard."""
    _check_index(sset, indices)
    capacity = sum(sset.shards[i].rows for i in indices)
    # np.empty reserves without touching: only the rows written count in memory.
    X = np.empty((capacity, len(sset.features)), dtype=np.float32)
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    n = 0
    for i in indices:
        shard = sset.shards[i]
        shards.check_unchanged(shard)
        Xs, ys_, ws_ = shards.read_shard(sset, shard)
        if Xs.shape[0] != shard.rows:
            raise DataIntegrityError(
                f"shard {shard.label} has {Xs.shape[0]} rows, its footer said {shard.rows}: it changed since the plan"
            )
        _release()  # the read's buffers: pyarrow's pool keeps them otherwise (~100 MB a shard)
        keep = shards.held_out(seed, test_size, shard.start, Xs.shape[0])
        if not want_test:
            keep = ~keep
        k = int(keep.sum())
        X[n : n + k] = Xs[keep]
        assert ys_ is not None
        ys.append(ys_[keep])
        if ws_ is not None:
            ws.append(ws_[keep])
        n += k
        del Xs, ys_, ws_
    y = np.concatenate(ys) if ys else None
    w = np.concatenate(ws) if ws else None
    return X[:n], y, w


def _release() -> None:
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def load_sample(store: Store, event: FitEvent) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A sharded grove's sample: the train rows of its shards, labels as the fit takes them."""
    assert event.shards is not None
    sset = load_shard_set(store, event.data)
    X, y, w = rows_of(sset, event.shards, event.split_seed, event.test_size, want_test=False)
    if y is None or not len(y):
        raise ValueError(f"grove {event.grove}: its shards hold no train rows")
    y = shards.labels(y, event.task)
    if event.classes is not None:
        present = np.unique(y)
        expected = np.asarray(event.classes, dtype=present.dtype)
        if len(present) != len(expected) or not np.array_equal(present, np.sort(expected)):
            missing = sorted(set(expected.tolist()) - set(present.tolist()))
            raise ValueError(
                f"grove {event.grove}: its sample of {len(y)} rows lacks class(es) {missing[:5]}, which every "
                "grove must see; give groves more rows (--rows-per-grove, --memory)"
            )
    return X, y, w


def forest_groves(store: Store, build: str, model: str) -> Iterator[Any]:
    """The finished forest's groves, one at a time, each checked against the manifest (itself checked
    against the sha256 the event carries)."""
    blob = store.get_bytes(keys.manifest(build))
    if artifacts.digest(blob) != model:
        raise DataIntegrityError(f"build {build}: manifest.json is not the one this job was started with")
    manifest = documents.parse_manifest(blob)
    for entry in manifest["groves"]:
        gid = keys.grove_id(int(entry["grove"]))
        data = store.get_bytes(keys.grove(build, gid))
        why = artifacts.mismatch(data, entry)
        if why:
            raise DataIntegrityError(artifacts.grove_error(build, gid, why, store))
        yield artifacts.loads_grove(data).estimator


def _votes(store: Store, event: ShardEvent, X: np.ndarray) -> np.ndarray:
    assert event.model is not None
    classes = np.asarray(event.classes) if event.task == "classification" else None
    votes = forest.Votes(X, classes)
    for est in forest_groves(store, event.build, event.model):
        votes.add(est)
    return votes.mean()


def score_sums(values: np.ndarray, y: np.ndarray, task: str, classes: list[Any] | None) -> dict[str, Any]:
    """What a batch adds to a score: a confusion matrix (rows: true class; ``unseen``: labels the
    forest does not know), or the sums R² and the errors need."""
    missing = (y == "") if y.dtype.kind in "US" else np.isnan(y.astype(np.float64))
    if missing.any():  # an empty label scores nothing: neither right nor wrong
        values, y = values[~missing], y[~missing]
    if task == "classification":
        assert classes is not None
        known = np.asarray(classes)
        y = _as_known(y, known)
        pred = np.argmax(values, axis=1)
        idx = np.searchsorted(known, y)
        idx = np.clip(idx, 0, len(known) - 1)
        seen = known[idx] == y
        confusion = np.zeros((len(known), len(known)), dtype=np.int64)
        np.add.at(confusion, (idx[seen], pred[seen]), 1)
        return {
            "n": len(y),
            "confusion": confusion.tolist(),
            "unseen": int((~seen).sum()),
            "unlabelled": int(missing.sum()),
        }
    y = y.astype(np.float64)
    err = values - y
    mean = float(y.mean()) if len(y) else 0.0
    return {
        "n": len(y),
        "mean": mean,
        "m2": float(((y - mean) ** 2).sum()),
        "sse": float((err**2).sum()),
        "sae": float(np.abs(err).sum()),
    }


def _as_known(y: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Labels as the classes' kind: whole numbers as the classes' ints, text as text; labels that cannot be
    (text where the classes are numbers) stay apart and count as unseen."""
    if known.dtype.kind in "US":
        return np.asarray([str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in y.tolist()])
    if y.dtype.kind in "US":
        out = np.full(len(y), np.iinfo(np.int64).min, dtype=np.int64)  # no class has this label
        for i, v in enumerate(y.tolist()):
            try:
                f = float(v)
            except ValueError:
                continue
            if f.is_integer():
                out[i] = int(f)
        return out.astype(known.dtype)
    return y.astype(known.dtype)


def _score(store: Store, event: ShardEvent) -> dict[str, Any]:
    sset = load_shard_set(store, event.data)
    X, y, _ = rows_of(sset, event.shards, event.split_seed, event.test_size, want_test=True)
    assert event.task is not None and y is not None
    if not len(y):
        return {"n": 0}
    return score_sums(_votes(store, event, X), y, event.task, event.classes)


def _predict(store: Store, event: ShardEvent) -> dict[str, Any]:
    """Each shard's predictions into its own output file; one that exists and matches is skipped."""
    assert event.out is not None and event.task is not None
    sset = load_shard_set(store, event.data)
    _check_index(sset, event.shards)
    written, skipped = [], []
    sums: list[dict[str, Any]] = []
    names = shards.out_names(sset)
    for i in event.shards:
        shard = sset.shards[i]
        target = shards.join(event.out, names[i])
        tag = output_tag(event, shard)
        if output_matches(target, tag, shard.rows):
            skipped.append(target)
            continue
        labelled = sset.target is not None
        X, y, _ = shards.read_shard(sset, shard, with_target=labelled)
        values = _votes(store, event, X)
        if y is not None:
            sums.append(score_sums(values, y, event.task, event.classes))
        write_output(target, values, event.task, event.classes, tag)
        written.append(target)
    return {"written": written, "skipped": skipped, "sums": sums}


def output_tag(event: ShardEvent, shard: shards.Shard) -> str:
    """What makes an output the output of this input and this forest: kept in the file's metadata."""
    return json.dumps(
        {"input": shard.path, "row_group": shard.row_group, "version": shard.version, "model": event.model},
        sort_keys=True,
    )


def output_matches(path: str, tag: str, rows: int) -> bool:
    """An output already written, whole, from the same input and forest, so it is skipped: its footer's
    tag matches and every page reads back (a corrupt page would not), one row per input row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, inner = shards.filesystem(path)
    try:
        with fs.open_input_file(inner) as f:
            pf = pq.ParquetFile(f)
            if (pf.schema_arrow.metadata or {}).get(b"lamforest") != tag.encode():
                return False
            return bool(pf.read().num_rows == rows)  # outputs are a few columns: cheap beside the fit
    except (pa.ArrowException, OSError):
        return False  # missing, or not a whole file: write it (again)


def write_output(path: str, values: np.ndarray, task: str, classes: list[Any] | None, tag: str) -> None:
    """``prediction`` (and one ``proba_<class>`` per class) as one Parquet file, written whole: a local
    file through a temporary name, an S3 object by one upload."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {}
    if task == "classification":
        assert classes is not None
        known = np.asarray(classes)
        cols["prediction"] = known[np.argmax(values, axis=1)]
        for j, c in enumerate(classes):
            cols[f"proba_{c}"] = values[:, j]
    else:
        cols["prediction"] = values
    table = pa.table(cols).replace_schema_metadata({"lamforest": tag})
    fs, inner = shards.filesystem(path)
    if path.startswith("s3://"):
        pq.write_table(table, inner, filesystem=fs)
        return
    import os
    from pathlib import Path

    Path(inner).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{inner}.{os.getpid()}.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, inner)
    finally:
        Path(tmp).unlink(missing_ok=True)


def run_shards(event: ShardEvent, store: Store, request_id: str) -> records.JobRecord:
    """Run one batch to its job record; a batch already done is not run again (at-least-once delivery)."""
    pre = keys.shard_job(event.build, event.job)
    base = {"op": event.op, "batch": event.batch, "shards": event.shards, "request_id": request_id}
    if records.job_done(store, pre, event.gid):
        return cast(records.JobRecord, {**base, "state": "done", "duplicate": True})  # returned, not written
    t0 = time.perf_counter()
    try:
        if event.op == "scan":
            sset = load_shard_set(store, event.data)
            _check_index(sset, event.shards)
            result: dict[str, Any] = {
                "summaries": [shards.scan(sset, i, event.split_seed, event.test_size) for i in event.shards]
            }
        elif event.op == "score":
            result = _score(store, event)
        else:
            result = _predict(store, event)
        record = records.job_record(
            "done",
            **base,
            **result,
            ms=round((time.perf_counter() - t0) * 1000, 2),
            max_memory_mb=peak_memory_mb(),
        )
    except Exception as exc:
        record = records.job_record("failed", **base, **records.error_fields(exc))
    records.write_job(store, pre, event.gid, record)
    return record
