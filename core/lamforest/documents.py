"""The build's documents beside its grove records: ``summary.json`` (how the build ended) and
``manifest.json`` (the finished forest as its groves).

Each has one type, one builder and one parser here. The builders give the fields their names and
shapes; the parsers check what a store holds before anyone believes it (an object, each field of its
type) and raise ``ValueError`` saying what is wrong: the driver's readers turn that into the one-line
errors that name the file and the way out. Field names are those already stored (``put_json`` sorts
them), so documents written by older builds still read, and new ones read in older builds.

The worker reads manifests (it scores and predicts against one), so this module imports nothing of
the driver.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, Required, TypedDict, Unpack, cast

from lamforest import keys
from lamforest.store.base import Store, put_json

SUMMARY_STATES = ("done", "failed", "cancelled")


class MergeDoc(TypedDict):
    """The merge policy a finish applied: ``auto`` below ``limit_mb``, ``always`` or ``never``."""

    mode: str
    limit_mb: float


class MemoryDoc(TypedDict):
    """Peaks a finish measured: the driver's while it streamed the groves, the workers' (REPORT lines)."""

    driver_finish_peak_mb: float | None
    driver_peak_is_phase: bool
    worker_peak_mb: float | None
    worker_memory_mb: int
    fitted_here: NotRequired[bool]  # the groves were fitted on the finishing process's threads


class DoneDetails(TypedDict, total=False):
    """What a finish that streamed the groves adds to a done summary (a summary written without
    them, as a fixture's, still reads)."""

    stream_s: float
    fit_span_s: float | None
    gb_seconds: float
    model_kind: str
    model_bytes: int | None
    model_sha256: str | None
    groves_bytes: int
    forest_mb: float
    merge: MergeDoc
    memory: MemoryDoc
    init_ms: float | None
    driven_s: float
    estimate: dict[str, Any] | None


class Summary(DoneDetails, total=False):
    """``summary.json``: written once, when the build ends; a build with one has ended.

    Every summary has the first group. A build that ended without a model (``failed``,
    ``cancelled``) adds ``error`` or ``reason`` and ``trees_done``; a ``done`` build its scores,
    timings, cost, model and memory. ``driven_s`` is missing from builds that predate it; what a
    streamed finish adds is ``DoneDetails``.
    """

    # every summary
    state: Required[str]
    failures: Required[list[dict[str, Any]]]
    wall_s: Required[float]
    billed_ms: Required[float]
    cost_usd: Required[float]
    finished: Required[float]
    # a build that ended without a model
    error: str
    reason: str | None
    trees_done: int
    # a done build
    test_score: float | None
    metric: str
    oob_score: float | None
    oob_missing_rows: int
    test: dict[str, Any]  # a sharded build's held-out sums, as its workers returned them
    sharded: dict[str, Any]
    trees: int
    groves: int
    merge_s: float
    cost_is_estimate: bool


def done_summary(
    *,
    test_score: float | None,
    metric: str,
    oob_score: float | None,
    trees: int,
    groves: int,
    merge_s: float,
    wall_s: float,
    billed_ms: float,
    cost_usd: float,
    cost_is_estimate: bool,
    failures: list[dict[str, Any]],
    finished: float,
    oob_missing_rows: int | None = None,
    test: dict[str, Any] | None = None,
    sharded: dict[str, Any] | None = None,
    **details: Unpack[DoneDetails],
) -> Summary:
    """The summary of a build that ended with its forest, and the ``details`` a finish measured.

    ``oob_missing_rows`` (train rows no OOB vote reached) is kept only when some are; ``test`` (the
    held-out sums its workers returned) and ``sharded`` only for a sharded build."""
    doc: dict[str, Any] = {
        "state": "done",
        "test_score": test_score,
        "metric": metric,
        "oob_score": oob_score,
        **({"oob_missing_rows": oob_missing_rows} if oob_missing_rows else {}),
        **({"test": test} if test is not None else {}),
        **({"sharded": sharded} if sharded is not None else {}),
        "trees": trees,
        "groves": groves,
        "merge_s": merge_s,
        "wall_s": wall_s,
        "billed_ms": billed_ms,
        "cost_usd": cost_usd,
        "cost_is_estimate": cost_is_estimate,
        "failures": failures,
        "finished": finished,
        **details,
    }
    return cast(Summary, doc)


def end_summary(
    state: str,
    *,
    failures: list[dict[str, Any]],
    wall_s: float,
    driven_s: float,
    trees_done: int,
    billed_ms: float,
    cost_usd: float,
    finished: float,
    error: str | None = None,
    reason: str | None = None,
) -> Summary:
    """The summary of a build that ended without a model: ``failed`` (with its ``error``) or
    ``cancelled`` (with the cancel's ``reason``, which may be None)."""
    if state == "failed":
        if error is None:
            raise ValueError("a failed build's summary says why: give its error")
        why: dict[str, Any] = {"error": error}
    elif state == "cancelled":
        why = {"reason": reason}
    else:
        raise ValueError(f"a build that ended without a model is failed or cancelled, not {state!r}")
    doc: dict[str, Any] = {
        "state": state,
        **why,
        "failures": failures,
        "wall_s": wall_s,
        "driven_s": driven_s,
        "trees_done": trees_done,
        "billed_ms": billed_ms,
        "cost_usd": cost_usd,
        "finished": finished,
    }
    return cast(Summary, doc)


def write_summary(store: Store, build: str, summary: Summary) -> None:
    """Write the build's summary: from then on the build has ended."""
    put_json(store, keys.summary(build), summary)


_SUMMARY_NUMBERS = (
    "wall_s", "billed_ms", "cost_usd", "finished", "driven_s", "test_score", "oob_score", "stream_s", "merge_s",
    "fit_span_s", "gb_seconds", "forest_mb", "init_ms",
)  # fmt: skip
_SUMMARY_COUNTS = ("trees", "groves", "trees_done", "oob_missing_rows", "model_bytes", "groves_bytes")
_SUMMARY_OBJECTS = ("test", "sharded", "merge", "memory", "estimate")
_SUMMARY_TEXTS = ("metric", "model_kind", "model_sha256", "error", "reason")


def parse_summary(raw: bytes | str) -> Summary:
    """A ``summary.json`` read from the store, checked: an object whose ``state`` is one a build ends
    in and whose fields have their types (None where a value may be missing). ``ValueError`` else."""
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON {type(doc).__name__}, not an object")
    if "state" not in doc:  # every writer sets it: a summary without one says nothing of how the build ended
        raise ValueError("it has no state")
    if doc["state"] not in SUMMARY_STATES:
        raise ValueError(f"its state {str(doc['state'])[:40]!r} is not one of {', '.join(SUMMARY_STATES)}")
    for name in _SUMMARY_NUMBERS:
        value = doc.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"its {name} is {str(value)[:40]!r}, not a number")
    for name in _SUMMARY_COUNTS:
        value = doc.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"its {name} is {str(value)[:40]!r}, not a whole number")
    for name in _SUMMARY_OBJECTS:
        if doc.get(name) is not None and not isinstance(doc[name], dict):
            raise ValueError(f"its {name} is not an object")
    for name in _SUMMARY_TEXTS:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise ValueError(f"its {name} is not text")
    if "failures" in doc and not isinstance(doc["failures"], list):
        raise ValueError("its failures are not a list")
    return cast(Summary, doc)


class ManifestGrove(TypedDict):
    """One grove of a finished forest, as ``manifest.json`` lists it: readers check its file against
    ``sha256`` and ``bytes`` before reading it; ``tree_bytes`` is its trees' size in memory."""

    grove: int
    trees: int
    sha256: str
    bytes: int
    tree_bytes: int


class Manifest(TypedDict, total=False):
    """``manifest.json``: the finished forest as its groves, written by every finish (merged or not).

    ``outputs`` is there only above one target column; ``merged`` says whether ``model.tree`` was
    written from these groves, under the policy ``merge``.
    """

    v: Required[int]
    build: Required[str]
    task: Required[str]
    model: Required[str]
    estimator: Required[str]
    classes: Required[list[Any] | None]
    outputs: int
    n_features: Required[int]
    features: Required[list[str]]
    trees: Required[int]
    groves: Required[list[ManifestGrove]]
    tree_bytes: Required[int]
    merged: Required[bool]
    merge: Required[MergeDoc]


def manifest(
    *,
    build: str,
    task: str,
    model: str,
    estimator: str,
    classes: list[Any] | None,
    outputs: int,
    n_features: int,
    features: list[str],
    groves: list[ManifestGrove],
    trees: int,
    tree_bytes: int,
    merged: bool,
    merge: MergeDoc,
) -> Manifest:
    """The manifest of a finished forest (version 1)."""
    doc: Manifest = {
        "v": 1,
        "build": build,
        "task": task,
        "model": model,
        "estimator": estimator,
        "classes": classes,
        "n_features": n_features,
        "features": features,
        "trees": trees,
        "groves": groves,
        "tree_bytes": tree_bytes,
        "merged": merged,
        "merge": merge,
    }
    if outputs > 1:
        doc["outputs"] = outputs
    return doc


def write_manifest(store: Store, build: str, doc: Manifest) -> None:
    put_json(store, keys.manifest(build), doc)


_GROVE_COUNTS = ("grove", "trees", "bytes", "tree_bytes")
_MANIFEST_COUNTS = ("v", "n_features", "trees", "tree_bytes", "outputs")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_manifest(raw: bytes | str) -> Manifest:
    """A ``manifest.json`` read from the store, checked for its shape: an object listing its groves, each
    with its index, tree count, file size and sha256, and counts that are whole numbers. Whether it is
    this build's forest is the reader's to check against the plan. ``ValueError`` names what is wrong."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or not isinstance(doc.get("groves"), list):
        raise ValueError("is not a manifest (no list of groves)")
    for name in _MANIFEST_COUNTS:
        if name in doc and not _whole(doc[name]):
            raise ValueError(f"its {name} is {str(doc[name])[:40]!r}, not a whole number")
    if doc.get("classes") is not None and not isinstance(doc["classes"], list):
        raise ValueError("its classes are not a list")
    if "features" in doc and not isinstance(doc["features"], list):
        raise ValueError("its features are not a list")
    for i, entry in enumerate(doc["groves"]):
        if not isinstance(entry, dict):
            raise ValueError(f"its grove entry {i} is not an object")
        for name in _GROVE_COUNTS:
            if name in entry and not _whole(entry[name]):
                raise ValueError(f"grove entry {i}: its {name} is {str(entry[name])[:40]!r}, not a whole number")
        if not _whole(entry.get("grove")) or not _whole(entry.get("trees")) or not isinstance(entry.get("sha256"), str):
            raise ValueError(f"grove entry {i} lacks its grove, trees or sha256")
    return cast(Manifest, doc)


class Who(TypedDict, total=False):
    """Which process a lease or claim names, beyond host and pid: its boot and start time (a pid alone
    may be reused) and the token only the driver that took the build knows."""

    boot_id: str | None
    pid_start: int | None
    token: str


class Lease(Who, total=False):
    """``lease.json``: the driving generation's lease, rewritten at every renewal; ``released`` when
    its driver let the build go. Leases written by hand or by older builds may lack any field."""

    renewed: float
    renew_s: float
    gen: int
    host: str
    pid: int
    released: bool


class DriverClaim(Who, total=False):
    """``drivers/<gen>.json``: who took the build as generation ``gen``, and when (``at``)."""

    at: float
    renew_s: float
    gen: int
    host: str
    pid: int


class NameClaim(TypedDict, total=False):
    """``claim.json``: who took a build's (or search's) name while creating it."""

    name: str
    at: float
    host: str
    pid: int


def lease(
    *, renewed: float, renew_s: float, gen: int, host: str, pid: int, released: bool = False, **who: Unpack[Who]
) -> Lease:
    """A lease renewed at ``renewed`` (``released``: its driver let the build go)."""
    doc: Lease = {"renewed": renewed, "renew_s": renew_s, "gen": gen, "host": host, "pid": pid, **who}
    if released:
        doc["released"] = True
    return doc


def driver_claim(of: Lease, at: float) -> DriverClaim:
    """The claim a driver creates to take the build: its lease's fields but the renewal, and ``at``."""
    doc: dict[str, Any] = {"at": at, **{k: v for k, v in of.items() if k not in ("renewed", "released")}}
    return cast(DriverClaim, doc)


def write_lease(store: Store, build: str, doc: Lease) -> None:
    put_json(store, keys.lease(build), doc)


def create_driver_claim(store: Store, build: str, gen: int, doc: DriverClaim) -> bool:
    """Take generation ``gen`` of the build: one exclusive create; False when another driver has it."""
    return store.create(keys.driver(build, gen), json.dumps(doc).encode())


def name_claim(*, name: str, at: float, host: str, pid: int) -> NameClaim:
    return {"name": name, "at": at, "host": host, "pid": pid}


def create_name_claim(store: Store, doc: NameClaim) -> bool:
    """Take the name ``doc["name"]``: one exclusive create; False when it is taken."""
    return store.create(keys.claim(doc["name"]), json.dumps(doc).encode())


_WHO_TYPES: dict[str, tuple[type, ...]] = {
    "renewed": (int, float),
    "renew_s": (int, float),
    "at": (int, float),
    "gen": (int,),
    "pid": (int,),
    "pid_start": (int, type(None)),
    "host": (str,),
    "boot_id": (str, type(None)),
    "token": (str,),
    "name": (str,),
    "released": (bool,),
}


def _checked_who(raw: bytes | str) -> dict[str, Any]:
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON {type(doc).__name__}, not an object")
    for name, types in _WHO_TYPES.items():
        value = doc.get(name)
        if name in doc and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            raise ValueError(f"its {name} is {str(value)[:40]!r}")
    return doc


def parse_lease(raw: bytes | str) -> Lease:
    """A ``lease.json``, checked: an object whose fields have their types. ``ValueError`` else: such a
    lease names no driver (a live one writes whole, honest leases)."""
    return cast(Lease, _checked_who(raw))


def parse_driver_claim(raw: bytes | str) -> DriverClaim:
    """A ``drivers/<gen>.json``, checked as a lease is."""
    return cast(DriverClaim, _checked_who(raw))


def parse_name_claim(raw: bytes | str) -> NameClaim:
    """A ``claim.json``, checked as a lease is."""
    return cast(NameClaim, _checked_who(raw))
