"""The events a worker runs: one typed, versioned shape per kind, a tagged union on ``kind``.

    fit      {"v": 1, "build", "grove", "seed", "trees", "data", "model", "task", "params",
              "attempt", "chunk", "n_jobs"}                      (no "kind": today's v1 wire format)
    predict  {"v": 1, "kind": "predict", "build", "job", "input", "grove", "batch"}
             sum the votes of groves grove..grove+batch-1 on the rows stored at ``input``
    search   {"v": 1, "kind": "search", "build", "trial", "seed", "trees", "data", "valid",
              "model", "task", "params", "chunk", "n_jobs"}
             fit one whole forest with ``params`` and score it on the validation rows at ``valid``

``parse_event`` validates what a worker receives and names the first bad field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lamforest import keys
from lamforest.spec import MAX_GROVES, MODELS, SpecError, as_int, choice, validate_name

EVENT_VERSION = 1
KINDS = ("fit", "predict", "search")
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

    kind = "fit"

    @property
    def gid(self) -> str:
        return keys.grove_id(self.grove)

    def to_event(self) -> dict[str, Any]:
        return {"v": EVENT_VERSION, **asdict(self)}


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


Event = FitEvent | PredictEvent | SearchEvent


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


def parse_event(event: object) -> Event:
    """Validate one event as a worker receives it; raise SpecError naming the bad field."""
    if not isinstance(event, dict):
        raise SpecError("event", f"must be a JSON object, got {type(event).__name__}")
    if event.get("v") != EVENT_VERSION:
        raise SpecError("v", f"unsupported event version {event.get('v')!r}; expected {EVENT_VERSION}")
    kind = choice("kind", event.get("kind", "fit"), KINDS)
    _require(event, ("build",))
    build = validate_name(event["build"])
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
    )
