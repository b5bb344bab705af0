"""The one road from what a user gives (CLI flags, the TUI's form, API parameters) to a checked spec.

``make_spec`` takes typed fields (text is converted where it is typed, with ``spec.whole`` and
``spec.real``, so an error names the field there) and returns a spec validated once, its
scikit-learn parameters checked; ``driver.create`` and ``estimate`` take it as it is. The
parameter check needs ``grove`` (scikit-learn), which ``spec`` may not import.
"""

from __future__ import annotations

from typing import Any

from lamforest.spec import BuildSpec

# Set on a spec ``checked`` returned (fields and parameters), as ``spec`` marks a validated one.
_CHECKED = "_checked"


def checked(spec: BuildSpec) -> BuildSpec:
    """``spec`` validated and its scikit-learn parameters checked for its task (any task when ``auto``),
    once: a spec this returned is returned as it is."""
    if spec.__dict__.get(_CHECKED):
        return spec
    spec = spec.validated()
    from lamforest.grove import check_params  # scikit-learn: loaded when a spec is checked, not with the CLI

    check_params(spec.model, spec.task, spec.params)
    object.__setattr__(spec, _CHECKED, True)
    return spec


def make_spec(
    name: str,
    *,
    data: str = "digits",
    target: str | None = None,
    weight: str | None = None,
    trees: int = 100,
    grove: int = 10,
    model: str = "rf",
    task: str = "auto",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    test_size: float = 0.25,
    memory: int = 1769,
    arch: str = "x86_64",
    retries: int = 2,
    max_cost: float | None = None,
    rows_per_grove: float | None = None,
    check: bool = True,
) -> BuildSpec:
    """A spec from typed fields, validated once and its parameters checked (see the module docstring).
    ``check=False``: validated only; ``checked`` checks the parameters later (it imports scikit-learn)."""
    spec = BuildSpec(
        name=name,
        data=data,
        target=target,
        weight=weight,
        trees=trees,
        grove=grove,
        model=model,
        task=task,
        params=dict(params or {}),
        seed=seed,
        test_size=test_size,
        memory=memory,
        arch=arch,
        retries=retries,
        max_cost=max_cost,
        rows_per_grove=rows_per_grove,
    )
    return checked(spec) if check else spec.validated()
