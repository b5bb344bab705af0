"""One road from what a user gives (flags, the TUI's form, API parameters) to a validated spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lamforest import driver as drv
from lamforest import grove
from lamforest.cli.args import build_parser, spec_from_flags
from lamforest.cli.main import main
from lamforest.spec import BuildSpec, SpecError, real, whole
from lamforest.spec_input import make_spec

FLAGS = [
    "--data",
    "rows.csv",
    "--target",
    "y",
    "--weight",
    "w",
    "-t",
    "12",
    "-g",
    "4",
    "--model",
    "et",
    "--task",
    "classification",
    "--param",
    "max_depth=3",
    "--seed",
    "7",
    "--test-size",
    "0.3",
    "--memory",
    "3008",
    "--arch",
    "arm64",
    "--rows-per-grove",
    "0.5",
]


def test_build_and_estimate_flags_give_the_same_spec() -> None:
    parser = build_parser()
    built = spec_from_flags(parser.parse_args(["build", "n", *FLAGS]), "n")
    estimated = spec_from_flags(parser.parse_args(["estimate", "n", *FLAGS]), "n")
    assert estimated == built  # no flag is dropped on either road
    assert built.weight == "w" and built.rows_per_grove == 0.5 and built.params == {"max_depth": 3}
    assert built.trees == 12 and built.seed == 7 and built.memory == 3008 and built.test_size == 0.3


@pytest.mark.parametrize(
    ("flag", "value", "field", "words"),
    [
        ("-t", "abc", "trees", "must be a whole number"),
        ("--seed", "1.5", "seed", "must be a whole number"),
        ("--test-size", "half", "test_size", "must be a number in [0, 1)"),
        ("--memory", "64", "memory", "must be at least 128"),
    ],
)
def test_flag_text_errors_name_the_flag(flag: str, value: str, field: str, words: str) -> None:
    args = build_parser().parse_args(["estimate", "n", flag, value])
    with pytest.raises(SpecError) as exc:
        spec_from_flags(args, "n")
    assert exc.value.field == field and words in exc.value.message


def test_text_converters_name_the_field() -> None:
    assert whole("trees", " 12 ") == 12 and whole("trees", 12.0) == 12
    assert real("max_cost", "0.5", "a number of USD") == 0.5
    with pytest.raises(SpecError, match=r"^trees: must be a whole number, got '1e3'$"):
        whole("trees", "1e3")
    with pytest.raises(SpecError, match=r"^max_cost: must be a number of USD, got 'lots'$"):
        real("max_cost", "lots", "a number of USD")


def _count(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"validate": 0, "params": 0}
    validate, check = BuildSpec._validate, grove.check_params

    def counted_validate(self: BuildSpec) -> BuildSpec:
        calls["validate"] += 1
        return validate(self)

    def counted_check(*args: Any) -> None:
        calls["params"] += 1
        check(*args)

    monkeypatch.setattr(BuildSpec, "_validate", counted_validate)
    monkeypatch.setattr(grove, "check_params", counted_check)
    return calls


def test_a_cli_build_validates_its_spec_once(home: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count(monkeypatch)
    at_create: dict[str, int] = {}
    create = drv.create

    def counted_create(*args: Any, **kwargs: Any) -> drv.Plan:
        plan = create(*args, **kwargs)
        at_create.update(calls)  # what the flags' road and the create cost, before the run reads the plan
        return plan

    monkeypatch.setattr(drv, "create", counted_create)
    assert main(["build", "once", "--data", "iris", "-t", "4", "-g", "2", "--param", "max_depth=3", "--json"]) == 0
    assert at_create == {"validate": 1, "params": 1}


def test_a_spec_made_once_is_not_checked_again_and_a_changed_copy_is(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count(monkeypatch)
    spec = make_spec("x", data="iris", trees=10, grove=5, params={"max_depth": 2})
    assert drv.validate(spec) is spec and spec.validated() is spec
    assert calls == {"validate": 1, "params": 1}
    from dataclasses import replace

    with pytest.raises(SpecError, match="larger than trees"):
        replace(spec, grove=20).validated()  # a copy is a new spec: validated again
    assert spec.to_dict() == BuildSpec.from_dict(spec.to_dict()).to_dict()  # the mark is not a field
    with pytest.raises(SpecError) as exc:
        make_spec("x", data="iris", params={"max_depth": "deep"})
    assert exc.value.field == "param max_depth"
