"""Builds on sharded data: plan from footers, scan on the workers, score and predict shard by shard.

The driver never holds a row. ``create`` lists the shards and reads their
footers, stores the shard list (content-addressed), sends ``scan`` events and
reduces the summaries (bad data is refused here, naming the shard and the
column, before any grove is dispatched), sizes each grove's sample to the
function's memory, and writes the plan. Groves read a seeded random subset of
the train shards (subsampled bagging); ``score`` sums confusion matrices or
squared errors that workers compute on the held-out rows; ``predict_to``
writes one output per input shard, from the workers.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lamforest import artifacts, keys, memory, shards
from lamforest.backend.base import Backend, Event
from lamforest.driver import stream
from lamforest.driver.jobs import JobTimeout, reports_for, wait_records
from lamforest.driver.plan import BuildError, OnSplit, Plan, claimed, load_plan, validate
from lamforest.driver.plan import create as create_from_source
from lamforest.events import ShardEvent
from lamforest.grove import make_estimator
from lamforest.spec import MEMORY_MAX_MB, BuildSpec, SpecError
from lamforest.store.base import put_json

JOB_TIMEOUT_S = 900.0
MAX_CLASSES = 100  # a numeric target with more distinct whole values is a regression target (as for files)


def create(backend: Backend, spec: BuildSpec, *, workers: int | None = None, on_split: OnSplit | None = None) -> Plan:
    """Create a build from any source: sharded data (a folder, a glob, ``s3://``, a Parquet file of
    several row groups) is planned here; one file, a built-in or synthetic data as always (``on_split``:
    told its train rows and features before they are stored)."""
    spec = spec.validated()
    if not shards.is_sharded(spec.data):
        if spec.rows_per_grove is not None:
            raise SpecError("rows_per_grove", "applies to sharded data (a folder, a glob or s3:// of Parquet files)")
        return create_from_source(backend, spec, on_split)
    return create_sharded(backend, spec, workers=workers)


def create_sharded(backend: Backend, spec: BuildSpec, *, workers: int | None = None) -> Plan:
    """Plan a build on sharded data; nothing of the build is left when a check fails."""
    spec = validate(spec)
    if backend.runs_without_driver and not spec.data.startswith("s3://"):
        raise SpecError(
            "data",
            f"{spec.data}: Lambda workers read shards from S3; upload them "
            "(lamforest shard FILE --out s3://BUCKET/PREFIX/) and pass the s3:// URI",
        )
    sset = shards.resolve(spec.data).with_roles(spec.target, spec.weight)
    _shards_fit(sset, spec)
    blob = sset.to_json()
    ref = keys.data_ref(artifacts.digest(blob))
    job = f"scan-{uuid.uuid4().hex[:8]}"  # its own records: a stopped creation's late ones are never read
    scan_prefix = keys.shard_job(spec.name, job)
    with claimed(backend, spec.name):
        try:
            if not backend.store.exists(keys.shard_list(ref)):
                backend.store.put_bytes(keys.shard_list(ref), blob)
            events = [
                ShardEvent(
                    op="scan",
                    build=spec.name,
                    job=job,
                    batch=b,
                    data=ref,
                    shards=idx,
                    test_size=spec.test_size,
                    split_seed=spec.seed,
                )
                for b, idx in enumerate(_batches(list(range(len(sset.shards))), shards.scan_batch(len(sset.shards))))
            ]
            done = run_job(backend, spec, workers, scan_prefix, events, "scan")
            summaries = sorted((s for r in done.values() for s in r["summaries"]), key=lambda s: s["shard"])
            plan = _plan(backend, spec, sset, ref, summaries)
            put_json(backend.store, keys.spec(spec.name), plan.to_dict())
            return plan
        except BaseException:
            for key in [*backend.store.list(keys.job_files(scan_prefix)), keys.lambda_log(spec.name, "shards")]:
                backend.store.delete(key)
            raise


def _batches(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _shards_fit(sset: shards.ShardSet, spec: BuildSpec) -> None:
    """Every shard must fit one worker's memory to be read at all (the scan reads whole shards)."""
    nf = len(sset.features)
    fits = shards.sample_rows(spec.memory, nf, 1, 0, {})
    if fits < 1:
        raise SpecError(
            "memory",
            f"--memory {spec.memory} MB leaves no room for rows beside a worker's ~{shards.WORKER_FLOOR_MB} MB "
            f"of imports; use at least {shards.memory_needed_mb(1000, nf, 1, 0, {})}",
        )
    biggest = max(sset.shards, key=lambda s: s.rows)
    if biggest.rows > fits:
        need = shards.memory_needed_mb(biggest.rows, nf, 1, 0, {})
        more = f"raise --memory to {need}, or " if need <= MEMORY_MAX_MB else ""
        raise SpecError(
            "memory",
            f"shard {biggest.label} holds {biggest.rows:,} rows, more than a worker of --memory {spec.memory} "
            f"reads ({fits:,}): {more}write smaller shards: lamforest shard {sset.source} --out "
            f"{shards.resharded(sset.source)} --rows-per-shard {max(1, fits // 2)}",
        )


def run_job(
    backend: Backend,
    spec: BuildSpec,
    workers: int | None,
    prefix: str,
    events: list[ShardEvent],
    what: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> Mapping[str, Mapping[str, Any]]:
    """Send a job's events, wait for every record (bounded), and refuse the first failure in one line."""
    compute = backend.make_compute(spec, workers, False)
    compute.submit(list[Event](events))
    try:
        done, failed = wait_records(
            backend.store,
            prefix,
            [e.gid for e in events],
            timeout_s=JOB_TIMEOUT_S,
            on_progress=on_progress,
            should_stop=lambda: compute.broken is not None,  # e.g. a full store: no record will come
        )
    except JobTimeout as exc:
        raise BuildError(f"{what} of {spec.name!r}: {exc}") from None
    if compute.broken is not None and len(done) + len(failed) < len(events):
        raise BuildError(f"{what} of {spec.name!r}: {compute.broken}")
    if failed:
        first = failed[min(failed)]
        message = str(first.get("message", ""))
        if first.get("error") == "SpecError":  # bad data found by a worker: bad input, naming the shard
            field, _, text = message.partition(": ")
            raise SpecError(field or "data", text or message)
        raise BuildError(
            f"{what} of {spec.name!r}: {len(failed)} batch(es) failed; shards {first.get('shards')}: "
            f"{first.get('error')}: {message}"
        )
    return done


def _plan(backend: Backend, spec: BuildSpec, sset: shards.ShardSet, ref: str, summaries: list[dict]) -> Plan:
    task, classes = reduce_scans(sset, summaries, spec)
    if task != spec.task:  # ``auto`` until the scan said: the params, checked for either, now for this one
        make_estimator(spec.model, task, spec.params)
    rows = [int(s["rows"]) for s in summaries]
    tests = [int(s["test_rows"]) for s in summaries]
    train_rows = [r - t for r, t in zip(rows, tests, strict=True)]
    n_train, n_test = sum(train_rows), sum(tests)
    if n_train < 2:
        raise SpecError("test_size", f"{spec.test_size} of {sum(rows)} rows leaves no usable train set")
    nf, nc = len(sset.features), len(classes) if classes else 1
    fits = shards.sample_rows(spec.memory, nf, nc, spec.grove, spec.params)
    if fits < 1:
        raise SpecError(
            "memory",
            f"--memory {spec.memory} MB leaves no room for rows beside a worker's ~{shards.WORKER_FLOOR_MB} MB "
            f"of imports; use at least {shards.memory_needed_mb(1000, nf, nc, spec.grove, spec.params)}",
        )
    asked = spec.rows_per_grove
    reshard = f"lamforest shard {sset.source} --out {shards.resharded(sset.source)} --rows-per-shard"
    if asked is not None:
        want = int(asked) if asked > 1 else max(1, math.ceil(asked * n_train))
        if want > fits:
            need = shards.memory_needed_mb(want, nf, nc, spec.grove, spec.params)
            if need > MEMORY_MAX_MB:
                most = shards.sample_rows(MEMORY_MAX_MB, nf, nc, spec.grove, spec.params)
                how = f"no function has that much: lower --rows-per-grove to {fits} (or {most} with --memory 10240)"
            else:
                how = f"raise --memory to {need} or lower --rows-per-grove to {fits}"
            raise SpecError("rows_per_grove", f"{want:,} rows per grove need about {need:,} MB per worker: {how}")
        cap = want
    else:
        cap = min(fits, n_train)
    biggest = max(range(len(train_rows)), key=lambda i: train_rows[i])
    big = train_rows[biggest]
    if big > cap:
        where = f"shard {sset.shards[biggest].label} holds {big:,} train rows, more than one grove takes ({cap:,})"
        smaller = f"write smaller shards: {reshard} {max(1, cap // 2)}"
        if asked is not None and big <= fits:
            raise SpecError("rows_per_grove", f"{where}: raise --rows-per-grove to {big}, or {smaller}")
        need = shards.memory_needed_mb(big, nf, nc, spec.grove, spec.params)
        more = f"raise --memory to {need}, or " if need <= MEMORY_MAX_MB else ""
        raise SpecError("rows_per_grove" if asked is not None else "memory", f"{where}: {more}{smaller}")
    sharded = {
        "source": sset.source,
        "shards": len(sset.shards),
        "bytes": sset.nbytes,
        "rows": sum(rows),
        "rows_per_shard": rows,
        "train_rows": train_rows,
        "rows_per_grove": cap,
        "rows_fit_memory": fits,
        "target": sset.target,
        "weight": sset.weight,
    }
    plan = Plan(
        spec=spec,
        task=task,
        data_ref=ref,
        n_train=n_train,
        n_test=n_test,
        n_features=nf,
        classes=classes,
        created=time.time(),
        backend=backend.name,
        feature_names=list(sset.features),
        weighted=sset.weight is not None,
        sharded=sharded,
    )
    sharded.update(coverage(plan))
    if classes is not None:
        _every_grove_sees_every_class(plan, summaries, classes, sset)
    return plan


def _every_grove_sees_every_class(plan: Plan, summaries: list[dict], classes: list[Any], sset: shards.ShardSet) -> None:
    """A grove whose sample lacks a class would fail in every attempt (its forest must know every class):
    refuse the plan instead, naming what to change."""
    have = [{_label(v) for v in s["target"].get("train_values", [])} for s in summaries]
    wanted = {_label(c) for c in classes}
    missing = wanted - set().union(*have)
    if missing:
        raise SpecError(
            "test_size",
            f"{sset.source}: no train row holds class {sorted(missing, key=str)[0]!r} once --test-size "
            f"{plan.spec.test_size} rows are held out; lower --test-size",
        )
    for e in plan.events():
        assert e.shards is not None
        lacking = wanted - set().union(*(have[i] for i in e.shards))
        if lacking:
            flag = "rows_per_grove" if plan.spec.rows_per_grove is not None else "memory"
            raise SpecError(
                flag,
                f"grove {e.grove}'s sample ({len(e.shards)} shard(s)) holds no row of class "
                f"{sorted(lacking, key=str)[0]!r}, and every grove must see every class: give groves more rows "
                "(raise --rows-per-grove or --memory), or write shards that mix the classes",
            )


def _label(value: Any) -> Any:
    """A label as the plan's classes hold it (whole numbers as int)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def coverage(plan: Plan) -> dict[str, Any]:
    """How much of the train set the forest sees: rows per grove (mean), and the share of train rows
    in at least one grove's sample."""
    assert plan.sharded is not None
    rows = plan.sharded["train_rows"]
    seen: set[int] = set()
    per: list[int] = []
    for e in plan.events():
        assert e.shards is not None
        seen.update(e.shards)
        per.append(sum(rows[i] for i in e.shards))
    total = sum(rows)
    return {
        "sample_rows_mean": round(sum(per) / len(per), 1) if per else 0,
        "seen_fraction": round(sum(rows[i] for i in seen) / total, 4) if total else 0.0,
    }


def reduce_scans(sset: shards.ShardSet, summaries: list[dict], spec: BuildSpec) -> tuple[str, list[Any] | None]:
    """Refuse bad data by shard and column (one line, the first shard in order); resolve the task and
    the classes from the shards' summaries."""
    kinds: set[str] = set()
    integral = True
    distinct: dict[Any, int] | None = {}
    weight_sum = 0.0
    for s in summaries:
        shard = sset.shards[s["shard"]]
        where = f"shard {shard.label}"
        if s.get("footer_rows") is not None:
            raise SpecError("data", f"{where}: read {s['rows']} rows, its footer says {s['footer_rows']}")
        for col, k in s["inf"].items():
            raise SpecError(
                "data",
                f"{where}: feature column {col!r} has {k} value(s) infinite or past float32's range (3.4e38); "
                "replace or rescale them",
            )
        t = s["target"]
        if t["missing"]:
            raise SpecError(
                "target",
                f"{where}: the target column {sset.target!r} has {t['missing']} missing value(s); "
                "drop or fill those rows",
            )
        if t.get("inf"):
            raise SpecError("target", f"{where}: the target column {sset.target!r} has {t['inf']} infinite value(s)")
        w = s.get("weight")
        if w:
            for what, n in (("missing", w["missing"]), ("infinite", w["inf"]), ("negative", w["negative"])):
                if n:
                    raise SpecError("weight", f"{where}: the weight column {sset.weight!r} has {n} {what} value(s)")
            weight_sum += w["sum"]
        kinds.add(t["kind"])
        integral = integral and t.get("integral", True)
        if distinct is not None and t.get("values") is not None:
            for v, c in t["values"]:
                distinct[v] = distinct.get(v, 0) + c
        else:
            distinct = None
    if sset.weight and not weight_sum > 0:
        raise SpecError("weight", f"{sset.source}: the weights sum to {weight_sum}; at least one must be positive")
    text = "text" in kinds
    task = spec.task
    if task == "auto":
        if text:
            task = "classification"
        else:
            few = distinct is not None and len(distinct) <= MAX_CLASSES
            task = "classification" if integral and few else "regression"
    if task == "regression":
        if text:
            raise SpecError("task", f"{sset.source}: regression needs a numeric target, {sset.target!r} holds text")
        return task, None
    if not text and not integral:
        raise SpecError("task", f"{sset.source}: classification needs class labels, the target is continuous")
    if distinct is None:
        raise SpecError(
            "task",
            f"{sset.source}: the target has more than {shards.MAX_DISTINCT} distinct values in a shard; "
            "not class labels (use --task regression)",
        )
    classes = sorted(distinct)
    if not text:
        classes = [int(c) for c in classes]
    if len(classes) < 2:
        raise SpecError("target", f"{sset.source}: the target has a single class ({classes[0]!r}); need 2")
    return task, classes


# --------------------------------------------------------------------------- score and predict


def _events_by_rows(
    plan: Plan, op: str, job: str, indices: list[int], rows: list[int], cap: int, **fields: Any
) -> list[ShardEvent]:
    """Batches of shards whose rows fit one worker (``cap``), one event each."""
    batches: list[list[int]] = []
    total = 0
    for i in indices:
        if not batches or total + rows[i] > cap:
            batches.append([])
            total = 0
        batches[-1].append(i)
        total += rows[i]
    return [
        ShardEvent(op=op, build=plan.spec.name, job=job, batch=b, shards=idx, **fields) for b, idx in enumerate(batches)
    ]


def model_id(backend: Backend, name: str) -> str:
    """The sha256 of a finished build's manifest, checked against the plan first: workers check the
    manifest they read against it before they use a grove."""
    found = stream.manifest_and_bytes(backend, name)
    if found is None:
        raise BuildError(f"build {name!r} has no manifest.json; run `lamforest finish {name}`")
    return artifacts.digest(found[1])


def score(backend: Backend, plan: Plan, workers: int | None = None) -> dict[str, Any]:
    """The held-out score, computed by workers shard by shard: accuracy and the confusion matrix, or
    R², RMSE and MAE. The driver adds the sums."""
    assert plan.sharded is not None
    name = plan.spec.name
    tests = [r - t for r, t in zip(_rows(plan), plan.sharded["train_rows"], strict=True)]
    held = [i for i, t in enumerate(tests) if t > 0]
    prefix = keys.shard_job(name, "score")
    for key in backend.store.list(keys.job_files(prefix)):  # an earlier finish's records belong to another forest
        backend.store.delete(key)
    found = stream.manifest_and_bytes(backend, name)  # read once: its groves size the calls, its hash names it
    if found is None:
        raise BuildError(f"build {name!r} has no manifest.json; run `lamforest finish {name}`")
    manifest, blob = found
    biggest = max((int(g.get("tree_bytes", 0)) for g in manifest["groves"]), default=0)
    per_call = shards.score_rows(plan.spec.memory, plan.n_features, len(plan.classes or []), biggest)
    events = _events_by_rows(
        plan,
        "score",
        "score",
        held,
        tests,
        max(1, per_call),
        data=plan.data_ref,
        test_size=plan.spec.test_size,
        split_seed=plan.spec.seed,
        task=plan.task,
        classes=plan.classes,
        model=artifacts.digest(blob),
    )
    done = run_job(backend, plan.spec, workers, prefix, events, "score")
    return reduce_scores([r for r in done.values() if r.get("n")], plan.task, plan.classes)


def _rows(plan: Plan) -> list[int]:
    assert plan.sharded is not None
    per = plan.sharded.get("rows_per_shard")
    if per is not None:
        return list(per)
    raise BuildError(f"build {plan.spec.name!r}: its plan does not list rows per shard")


def reduce_scores(parts: list[Mapping[str, Any]], task: str, classes: list[Any] | None) -> dict[str, Any]:
    """Add batches' score sums: exact integer counts for a classifier; for a regressor the pooled
    variance by Chan's formula (order changes only float rounding)."""
    if not parts:
        return {"n": 0, "score": None}
    if task == "classification":
        confusion = sum((np.asarray(p["confusion"], dtype=np.int64) for p in parts), np.zeros((1, 1), np.int64))
        n = int(sum(p["n"] for p in parts))
        unseen = int(sum(p.get("unseen", 0) for p in parts))
        unlabelled = int(sum(p.get("unlabelled", 0) for p in parts))
        right = int(np.trace(confusion))
        return {
            "n": n,
            "score": right / n if n else None,
            "confusion": confusion.tolist(),
            "unseen": unseen,
            "unlabelled": unlabelled,
        }
    n, mean, m2, sse, sae = 0, 0.0, 0.0, 0.0, 0.0
    for p in parts:
        k = p["n"]
        delta = p["mean"] - mean
        total = n + k
        m2 += p["m2"] + delta * delta * n * k / total
        mean += delta * k / total
        n = total
        sse += p["sse"]
        sae += p["sae"]
    r2 = 1.0 - sse / m2 if m2 > 0 else None
    return {"n": n, "score": r2, "rmse": math.sqrt(sse / n), "mae": sae / n}


@dataclass
class ShardPrediction:
    """What ``predict_to`` did: outputs written and skipped, the score of labelled rows, costs."""

    source: str
    out: str
    shards: int
    rows: int
    written: list[str]
    skipped: list[str]
    score: dict[str, Any] | None
    wall_s: float
    driver_peak_mb: int | None
    worker_peak_mb: float
    cost_usd: float
    job: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "shards": self.shards,
            "rows": self.rows,
            "written": len(self.written),
            "skipped": len(self.skipped),
            "outputs": self.written + self.skipped,
            "score": self.score,
            "wall_s": round(self.wall_s, 3),
            "driver_peak_mb": self.driver_peak_mb,
            "worker_peak_mb": self.worker_peak_mb,
            "cost_usd": self.cost_usd,
            "job": self.job,
        }


def predict_to(
    backend: Backend,
    name: str,
    source: str,
    out: str,
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ShardPrediction:
    """Predict every shard of ``source`` with a finished build; the workers write one Parquet file per
    input shard into ``out`` (a folder or ``s3://`` prefix). Outputs that already hold this forest's
    predictions of the same input are skipped, so an interrupted predict resumes."""
    from lamforest.cost import total_usd
    from lamforest.driver.watch import status

    exact = memory.reset_peak()
    t0 = time.perf_counter()
    plan = load_plan(backend, name)
    if plan.outputs > 1:
        raise SpecError("data", f"build {name!r} has {plan.outputs} outputs: predict files or rows with it, not shards")
    st = status(backend, name)
    if st.state != "done":
        raise BuildError(f"build {name!r} is {st.state}; predict needs a finished build")
    if backend.runs_without_driver and not (source.startswith("s3://") and out.startswith("s3://")):
        raise SpecError("out", "Lambda workers read and write S3: give --data and --out as s3:// URIs")
    if not out.strip() or out.strip() == "-":
        raise SpecError("out", "sharded predictions go to a folder or an s3:// prefix, one file per input shard")
    sset = shards.resolve(source)
    shards.check_out(sset, out.strip(), what="predictions")
    names = shards.out_names(sset)
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise SpecError("out", f"two input shards would both write {twice} in {out}; rename one of them")
    features = stream.feature_names(backend, plan)
    missing = [f for f in features if f not in sset.columns]
    if missing:
        raise SpecError("data", f"shard {sset.shards[0].label}: no column {missing[0]!r} the model was trained on")
    target = plan.spec.target if plan.spec.target in sset.columns else None
    sset = shards.ShardSet(sset.source, sset.shards, sset.columns, sset.types, target, None, list(features))
    blob = sset.to_json()
    ref = keys.data_ref(artifacts.digest(blob))
    if not backend.store.exists(keys.shard_list(ref)):
        backend.store.put_bytes(keys.shard_list(ref), blob)
    job = f"p{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    prefix = keys.shard_job(name, job)
    events = [
        ShardEvent(
            op="predict",
            build=name,
            job=job,
            batch=i,
            data=ref,
            shards=[i],
            task=plan.task,
            classes=plan.classes,
            model=model_id(backend, name),
            out=out.rstrip("/"),
        )
        for i in range(len(sset.shards))
    ]
    done = run_job(backend, plan.spec, workers, prefix, events, "predict", on_progress=on_progress)
    written = [p for r in done.values() for p in r.get("written", [])]
    skipped = [p for r in done.values() for p in r.get("skipped", [])]
    sums = [s for r in done.values() for s in r.get("sums", []) if s.get("n")]
    rids = {r["request_id"] for r in done.values() if r.get("request_id")}
    reports = reports_for(backend, name, "shards", rids) if rids else {}
    result = ShardPrediction(
        source=sset.source,
        out=out,
        shards=len(sset.shards),
        rows=sset.rows,
        written=sorted(written),
        skipped=sorted(skipped),
        score=reduce_scores(sums, plan.task, plan.classes) if sums else None,
        wall_s=time.perf_counter() - t0,
        driver_peak_mb=memory.peak_mb() if exact else None,
        worker_peak_mb=max((float(r.get("max_memory_mb") or 0) for r in done.values()), default=0.0),
        cost_usd=total_usd(reports.values(), backend.price_arch(plan.spec.arch)),
        job=job,
    )
    put_json(backend.store, keys.job_result(prefix), result.to_json())
    return result


def shard_summary(plan: Plan) -> dict[str, Any]:
    """The sharded part of a plan as status and the summary show it (without the per-shard lists)."""
    assert plan.sharded is not None
    return {k: v for k, v in plan.sharded.items() if k not in ("train_rows", "rows_per_shard")}
