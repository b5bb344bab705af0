"""The events a worker runs: one typed, versioned shape per kind, a tagged union on ``kind``.

    fit      {"v": 1, "build", "grove", "seed", "trees", "data", "model", "task", "params",
              "attempt", "chunk", "n_jobs"}                      (no "kind": today's v1 wire format)
    predict  {"v": 1, "kind": "predict", "build", "job", "input", "grove", "batch"}
             sum the votes of groves grove..grove+batch-1 on the rows stored at ``input``
    search   {"v": 1, "kind": "search", "build", "trial", "seed", "trees", "data", "valid",
              "model", "task", "params", "chunk", "n_jobs"}
             fit one whole forest with ``params`` and score it on the validation rows at ``valid``
    shards   {"v": 1, "kind": "shards", "op", "build", "job", "batch", "data", "shards", "test_size",
              "split_seed", "task", "classes", "model", "out"}
             scan, score or predict shards ``shards`` of the shard list at ``data`` (a sharded dataset)

A fit event of a sharded build adds ``shards`` (the shards its grove reads), ``test_size``,
``split_seed`` and ``classes``; without them it is the v1 fit event as it always was.

A grove is trees ``first .. first+trees-1`` of the scikit-learn forest with ``random_state=seed``
(``first`` is omitted when 0): a tree's seed depends on the forest's seed and its index only,
never on how the trees are grouped into groves.

``parse_event`` validates what a worker receives and names the first bad field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lamforest import keys
from lamforest.spec import MAX_GROVES, MAX_SHARDS, MAX_TREES, MODELS, SpecError, as_int, choice, validate_name

EVENT_VERSION = 1
KINDS = ("fit", "predict", "search", "shards")
SHARD_OPS = ("scan", "score", "predict")
FIT_TASKS = ("classification", "regression")
JOB_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class FitEvent:
    """Fit ``trees`` trees with ``seed`` on the train set at ``data``: one grove of a build."""

    build: str
    grove: int
    seed: int
    trees: int
    data: str
    model: str
    task: str
    params: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    chunk: int = 5
    n_jobs: int = 1
    # A grove of a sharded build: the shards it reads, how rows are held out, the forest's classes.
    shards: list[int] | None = None
    test_size: float = 0.0
    split_seed: int = 0
    classes: list[Any] | None = None
    first: int = 0  # the index of the grove's first tree in the forest

    kind = "fit"

    @property
    def gid(self) -> str:
        return keys.grove_id(self.grove)

    def to_event(self) -> dict[str, Any]:
        body = asdict(self)
        if self.shards is None:  # the v1 fit event, unchanged
            for name in ("shards", "test_size", "split_seed", "classes"):
                body.pop(name)
        if not self.first:
            body.pop("first")
        return {"v": EVENT_VERSION, **body}


@dataclass(frozen=True)
class PredictEvent:
    """Sum the votes of groves ``grove .. grove+batch-1`` of ``build`` on the rows at ``input``."""

    build: str
    job: str
    input: str
    grove: int
    batch: int = 1

    kind = "predict"

    @property
    def gid(self) -> str:
        return keys.grove_id(self.grove)

    def to_event(self) -> dict[str, Any]:
        return {"v": EVENT_VERSION, "kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class SearchEvent:
    """Fit a whole forest of ``trees`` with ``params``; score it on the validation rows at ``valid``."""

    build: str
    trial: int
    seed: int
    trees: int
    data: str
    valid: str
    model: str
    task: str
    params: dict[str, Any] = field(default_factory=dict)
    chunk: int = 5
    n_jobs: int = 1

    kind = "search"

    @property
    def gid(self) -> str:
        return keys.grove_id(self.trial)

    def to_event(self) -> dict[str, Any]:
        return {"v": EVENT_VERSION, "kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class ShardEvent:
    """One batch of a sharded job: ``scan`` shards (a summary each), ``score`` their held-out rows with
    the finished forest ``model`` (the sha256 of its manifest), or ``predict`` their rows into ``out``."""

    op: str
    build: str
    job: str
    batch: int
    data: str
    shards: list[int]
    test_size: float = 0.0
    split_seed: int = 0
    task: str | None = None
    classes: list[Any] | None = None
    model: str | None = None
    out: str | None = None

    kind = "shards"

    @property
    def gid(self) -> str:
        return keys.grove_id(self.batch)

    def to_event(self) -> dict[str, Any]:
        return {"v": EVENT_VERSION, "kind": self.kind, **asdict(self)}


Event = FitEvent | PredictEvent | SearchEvent | ShardEvent


def _ref(name: str, value: object) -> str:
    if not isinstance(value, str) or not keys.DATA_RE.match(value):
        raise SpecError(name, f"must be 'data/<sha256>', got {value!r}")
    return value


def _params(event: dict[str, Any]) -> dict[str, Any]:
    params = event.get("params", {})
    if not isinstance(params, dict):
        raise SpecError("params", "must be an object")
    return params


def _require(event: dict[str, Any], names: tuple[str, ...]) -> None:
    for key in names:
        if key not in event:
            raise SpecError(key, "missing from the event")


def _shard_list(event: dict[str, Any]) -> list[int]:
    value = event.get("shards")
    if not isinstance(value, list) or not value or len(value) > MAX_SHARDS:
        raise SpecError("shards", f"must be a list of 1 to {MAX_SHARDS} shard indices")
    return [as_int("shards", i, 0, MAX_SHARDS - 1) for i in value]


def _fraction(name: str, value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) < 1.0:
        raise SpecError(name, f"must be a number in [0, 1), got {value!r}")
    return float(value)


def _classes(event: dict[str, Any]) -> list[Any] | None:
    value = event.get("classes")
    if value is not None and not isinstance(value, list):
        raise SpecError("classes", "must be a list of labels")
    return value


def _shard_event(event: dict[str, Any], build: str) -> ShardEvent:
    _require(event, ("op", "job", "batch", "data", "shards"))
    op = choice("op", event["op"], SHARD_OPS)
    job = event["job"]
    if not isinstance(job, str) or not JOB_RE.match(job):
        raise SpecError("job", f"must be an id of letters, digits, '_' and '-', got {job!r}")
    task = event.get("task")
    if op != "scan":
        task = choice("task", task, FIT_TASKS)
        model = event.get("model")
        if not isinstance(model, str) or not re.fullmatch(r"[0-9a-f]{64}", model):
            raise SpecError("model", f"must be the sha256 of the forest's manifest, got {model!r}")
    out = event.get("out")
    if op == "predict" and (not isinstance(out, str) or not out):
        raise SpecError("out", "a predict op needs the output folder")
    return ShardEvent(
        op=op,
        build=build,
        job=job,
        batch=as_int("batch", event["batch"], 0, MAX_SHARDS),
        data=_ref("data", event["data"]),
        shards=_shard_list(event),
        test_size=_fraction("test_size", event.get("test_size", 0.0)),
        split_seed=as_int("split_seed", event.get("split_seed", 0), 0, 2**32 - 1),
        task=task,
        classes=_classes(event),
        model=event.get("model"),
        out=out,
    )


def parse_event(event: object) -> Event:
    """Validate one event as a worker receives it; raise SpecError naming the bad field."""
    if not isinstance(event, dict):
        raise SpecError("event", f"must be a JSON object, got {type(event).__name__}")
    if event.get("v") != EVENT_VERSION:
        raise SpecError("v", f"unsupported event version {event.get('v')!r}; expected {EVENT_VERSION}")
    kind = choice("kind", event.get("kind", "fit"), KINDS)
    _require(event, ("build",))
    build = validate_name(event["build"])
    if kind == "shards":
        return _shard_event(event, build)
    if kind == "predict":
        _require(event, ("job", "input", "grove"))
        job = event["job"]
        if not isinstance(job, str) or not JOB_RE.match(job):
            raise SpecError("job", f"must be an id of letters, digits, '_' and '-', got {job!r}")
        return PredictEvent(
            build=build,
            job=job,
            input=_ref("input", event["input"]),
            grove=as_int("grove", event["grove"], 0),
            batch=as_int("batch", event.get("batch", 1), 1, MAX_GROVES),
        )
    common = ("seed", "trees", "data", "model", "task")
    if kind == "search":
        _require(event, ("trial", *common, "valid"))
        return SearchEvent(
            build=build,
            trial=as_int("trial", event["trial"], 0),
            seed=as_int("seed", event["seed"], 0, 2**32 - 1),
            trees=as_int("trees", event["trees"], 1),
            data=_ref("data", event["data"]),
            valid=_ref("valid", event["valid"]),
            model=choice("model", event["model"], MODELS),
            task=choice("task", event["task"], FIT_TASKS),
            params=_params(event),
            chunk=as_int("chunk", event.get("chunk", 5), 1),
            n_jobs=as_int("n_jobs", event.get("n_jobs", 1), 1, 64),
        )
    _require(event, ("grove", *common))
    return FitEvent(
        build=build,
        grove=as_int("grove", event["grove"], 0),
        seed=as_int("seed", event["seed"], 0, 2**32 - 1),
        trees=as_int("trees", event["trees"], 1),
        data=_ref("data", event["data"]),
        model=choice("model", event["model"], MODELS),
        task=choice("task", event["task"], FIT_TASKS),
        params=_params(event),
        attempt=as_int("attempt", event.get("attempt", 1), 1),
        chunk=as_int("chunk", event.get("chunk", 5), 1),
        n_jobs=as_int("n_jobs", event.get("n_jobs", 1), 1, 64),
        shards=_shard_list(event) if event.get("shards") is not None else None,
        test_size=_fraction("test_size", event.get("test_size", 0.0)),
        split_seed=as_int("split_seed", event.get("split_seed", 0), 0, 2**32 - 1),
        classes=_classes(event),
        first=as_int("first", event.get("first", 0), 0, MAX_TREES - 1),
    )
