"""What a build asks for (BuildSpec): a validated dataclass with a JSON form.

The events a worker runs live in ``events``. Validation happens before
anything is written or dispatched, and every error names the field and the
allowed values.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, SupportsFloat

import numpy as np

MODELS = ("rf", "et")
TASKS = ("auto", "classification", "regression")
ARCHITECTURES = ("x86_64", "arm64")
MEMORY_MIN_MB, MEMORY_MAX_MB = 128, 10_240
MAX_GROVES = 100_000
MAX_SHARDS = 100_000
MAX_TREES = 1_000_000  # far past any forest that predicts in useful time
MAX_GROVE = 10_000  # trees in one invocation: more would not fit Lambda's 15 minutes
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

# Parameters lamforest decides itself; a user may not set them through --param.
RESERVED_PARAMS = {
    "n_estimators": "use --trees",
    "random_state": "use --seed",
    "warm_start": "groves are fitted in chunks by lamforest",
    "oob_score": "the forest's OOB score is computed from the groves when bootstrap is on",
    "n_jobs": "set by the backend to match the worker's CPUs",
}


# Set on a spec ``validated`` returned: not a field, so not in to_dict, ==, or a replace()'s copy.
_VALID = "_validated"


class SpecError(ValueError):
    """Invalid input. ``field`` names what is wrong, so callers can show it beside the input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise SpecError("name", "a build name is required")
    if "/" in name or ".." in name or any(c.isspace() for c in name):
        raise SpecError("name", f"{name!r} may not contain '/', '..' or spaces")
    if not NAME_RE.match(name):
        raise SpecError(
            "name",
            f"{name!r} must start with a letter or digit and use only letters, digits, "
            "'_', '-' and '.' (at most 100 characters)",
        )
    return name


# No field needs a longer number; past 4,300 digits Python's int() refuses the text with advice
# about its own limits, and printing such a number back would fill the terminal.
MAX_DIGITS = 30


def brief(value: object) -> str:
    """``value`` as an error message shows it: its repr, or its start and length when long."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * MAX_DIGITS:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


def whole(field_name: str, value: object) -> int:
    """A whole number from what a user typed (``"12"``) or passed (12, 12.0); SpecError naming the field."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        digits = len(value.strip().lstrip("+-"))
        if digits > MAX_DIGITS:
            raise SpecError(field_name, f"must be a whole number of at most {MAX_DIGITS} digits, got {digits:,} digits")
        return int(value)
    raise SpecError(field_name, f"must be a whole number, got {brief(value)}")


def real(field_name: str, value: object, expected: str) -> float:
    """A finite number from what a user typed or passed; SpecError naming the field and ``expected``.
    No field takes inf or nan (a budget of inf is no budget: leave it out)."""
    try:
        if isinstance(value, (str, SupportsFloat)):
            number = float(value)
            if math.isfinite(number):
                return number
    except (TypeError, ValueError, OverflowError):
        pass
    raise SpecError(field_name, f"must be {expected}, got {brief(value)}")


def as_int(field_name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    number = whole(field_name, value)
    if number < minimum:
        raise SpecError(field_name, f"must be at least {minimum}, got {brief(number)}")
    if maximum is not None and number > maximum:
        raise SpecError(field_name, f"must be at most {maximum}, got {brief(number)}")
    return number


def column(field_name: str, value: object) -> str | None:
    """A column name (or, for several targets, names joined by commas) from a spec: text, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SpecError(field_name, f"must be a column name (text), got {brief(value)}")
    return value


def check_workers(workers: object) -> int | None:
    """``--workers``: None (one per core) or a whole number of at least 1; fewer starts nothing."""
    if workers is None:
        return None
    return as_int("workers", workers, 1)


def check_rows_per_grove(value: object) -> float | None:
    """``--rows-per-grove``: None, a whole number of rows (at least 1), or a fraction in (0, 1]."""
    if value is None or value == "":
        return None
    number = real("rows_per_grove", value, "a number of rows or a fraction in (0, 1]")
    if math.isnan(number) or number <= 0 or (number > 1 and not number.is_integer()) or number > 1e12:
        raise SpecError(
            "rows_per_grove", f"must be a whole number of rows (1 to 10^12) or a fraction in (0, 1], got {value!r}"
        )
    return number


def choice(field_name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpecError(field_name, f"must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def parse_param_value(text: str) -> Any:
    """``--param`` values: JSON when it parses (numbers, true/false/null, lists, objects), else a
    Python literal dict or list as one types it in a notebook (``{0: 1, 1: 5}``, read by
    ``ast.literal_eval``, which evaluates no code), else a string."""
    lowered = text.strip()
    if lowered in ("None", "none"):
        return None
    if lowered in ("True", "False"):
        return lowered == "True"
    try:
        return json.loads(lowered)
    except ValueError:
        pass
    if lowered[:1] in ("{", "["):
        try:
            value = ast.literal_eval(lowered)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return text
        if isinstance(value, (dict, list)):
            return value
    return text


def parse_params(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError("param", f"expected KEY=VALUE, got {item!r}")
        params[key.strip()] = parse_param_value(value)
    return params


@dataclass(frozen=True)
class BuildSpec:
    """What the user asked for. ``task`` may be ``auto`` until the data is seen."""

    name: str
    data: str = "digits"
    target: str | None = None
    weight: str | None = None  # a column of the data file holding per-row sample weights
    trees: int = 100
    grove: int = 10
    model: str = "rf"
    task: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    test_size: float = 0.25
    memory: int = 1769
    arch: str = "x86_64"
    retries: int = 2
    chunk: int = 5  # trees fitted between two cancel checks
    max_cost: float | None = None
    # Sharded data: train rows per grove (a whole number), or a fraction of the train rows (0 < f <= 1);
    # None: the largest sample that fits --memory.
    rows_per_grove: float | None = None
    # A grown forest's grove sizes, old groves first (``lamforest grow``, warm_start); None: ``trees``
    # in groves of ``grove``, the last taking the remainder.
    sizes: list[int] | None = None

    def validated(self) -> BuildSpec:
        """Return a normalised copy, or raise SpecError naming the first bad field. A copy this returned
        is returned as it is: validation runs once however many layers ask for it."""
        if self.__dict__.get(_VALID):
            return self
        spec = self._validate()
        object.__setattr__(spec, _VALID, True)
        return spec

    def _validate(self) -> BuildSpec:
        name = validate_name(self.name)
        if not isinstance(self.data, str) or not self.data.strip():
            raise SpecError("data", "a dataset is required (built-in name, synthetic:..., or a file)")
        trees = as_int("trees", self.trees, 1, MAX_TREES)
        grove = as_int("grove", self.grove, 1, MAX_GROVE)
        if grove > trees:
            raise SpecError("grove", f"grove size {grove} is larger than trees {trees}")
        sizes = None
        if self.sizes is not None:
            if not isinstance(self.sizes, list) or not self.sizes:
                raise SpecError("sizes", "must be a non-empty list of grove sizes")
            sizes = [as_int("sizes", n, 1, MAX_GROVE) for n in self.sizes]
            if sum(sizes) != trees:
                raise SpecError("sizes", f"grove sizes add up to {sum(sizes)} trees, not {trees}")
        if (len(sizes) if sizes else math.ceil(trees / grove)) > MAX_GROVES:
            raise SpecError("grove", f"{trees} trees in groves of {grove} exceed {MAX_GROVES} groves")
        model = choice("model", self.model, MODELS)
        task = choice("task", self.task, TASKS)
        seed = as_int("seed", self.seed, 0, 2**32 - 1)
        test_size = real("test_size", self.test_size, "a number in [0, 1)")
        if not 0.0 <= test_size < 1.0 or math.isnan(test_size):
            raise SpecError("test_size", f"must be in [0, 1) (0: train on every row), got {self.test_size!r}")
        memory = as_int("memory", self.memory, MEMORY_MIN_MB, MEMORY_MAX_MB)
        arch = choice("arch", self.arch, ARCHITECTURES)
        retries = as_int("retries", self.retries, 0, 10)
        chunk = as_int("chunk", self.chunk, 1)
        max_cost = None
        if self.max_cost is not None:
            max_cost = real("max_cost", self.max_cost, "a number of USD")
            if not max_cost > 0:
                raise SpecError("max_cost", f"must be positive, got {self.max_cost!r}")
        rows_per_grove = check_rows_per_grove(self.rows_per_grove)
        if not isinstance(self.params, dict):
            raise SpecError("param", "params must be a mapping of name to value")
        for key in self.params:
            if key in RESERVED_PARAMS:
                raise SpecError(f"param {key}", RESERVED_PARAMS[key])
        return BuildSpec(
            name=name,
            data=self.data.strip(),
            target=column("target", self.target),
            weight=column("weight", self.weight),
            trees=trees,
            grove=grove,
            model=model,
            task=task,
            params=dict(self.params),
            seed=seed,
            test_size=test_size,
            memory=memory,
            arch=arch,
            retries=retries,
            chunk=chunk,
            max_cost=max_cost,
            rows_per_grove=rows_per_grove,
            sizes=sizes,
        )

    @property
    def n_groves(self) -> int:
        return len(self.sizes) if self.sizes else math.ceil(self.trees / self.grove)

    def grove_sizes(self) -> list[int]:
        """Every grove has ``grove`` trees but the last, which takes the remainder; a grown forest's
        are its ``sizes``."""
        if self.sizes:
            return list(self.sizes)
        full, rest = divmod(self.trees, self.grove)
        return [self.grove] * full + ([rest] if rest else [])

    def grove_seeds(self) -> list[int]:
        """One independent seed per grove, the same on every backend."""
        children = np.random.SeedSequence(self.seed).spawn(self.n_groves)
        return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["sizes"] is None:
            del d["sizes"]  # a forest never grown: its spec.json as it always was
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``KEY=V1,V2,...`` items as {key: [values]}; SpecError("grid") on bad syntax."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise SpecError("grid", f"expected KEY=V1,V2,..., got {item!r}")
        parts = [v.strip() for v in values.split(",")]
        if any(not v for v in parts):
            raise SpecError("grid", f"{item!r} has an empty value")
        if key in grid:
            raise SpecError("grid", f"{key!r} is given twice")
        grid[key] = [parse_param_value(v) for v in parts]
    return grid
