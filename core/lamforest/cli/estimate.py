"""``lamforest estimate``: a build's projected wall time, cost and memory, on Lambda and here, next to EC2."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from lamforest import driver as drv
from lamforest.cli.args import spec_from_flags
from lamforest.driver import estimate as est
from lamforest.estimate.ec2 import Ec2Projection, check_instance, ec2
from lamforest.estimate.project import Projection
from lamforest.spec import BuildSpec, SpecError


def spec_from_args(args: argparse.Namespace, backend: Any) -> tuple[BuildSpec, str]:
    """NAME-OR-SPEC: a build in the store (its spec), a spec .json file, else a new spec from the flags."""
    name = args.name
    if name and name.endswith(".json"):
        path = Path(name).expanduser()
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SpecError("spec", f"cannot read {name}: {exc}") from None
        doc = doc.get("spec", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict):
            raise SpecError("spec", f"{name} must hold a JSON object")
        return BuildSpec.from_dict({"name": "estimate", **doc}), f"the spec in {path.name}"
    if name:
        try:
            plan = drv.load_plan(backend, name)
        except drv.BuildError:
            pass  # not a build in the store: a new name for the flags' spec
        else:
            return plan.spec, f"build {name!r} in the store (its spec as built; flags are ignored)"
    return spec_from_flags(args, name or "estimate"), "the flags"  # the road build's flags take


def run(args: argparse.Namespace, backend: Any, console: Any) -> int:
    if args.calibrate:
        return _calibrate(args, backend, console)
    check_instance(args.ec2_vcpus, args.ec2_price, args.ec2_memory)  # before a sample is measured
    spec, source = spec_from_args(args, backend)
    spec = drv.validate(spec)  # a stored or file spec; the flags' was validated on its way
    dataset = None
    if source.startswith("build") and spec.data.startswith("arrays:"):
        spec, dataset = _stored_arrays(backend, spec.name)
    estimate = est.estimate_spec(
        backend, spec, concurrency=args.concurrency, workers=args.workers, refresh=args.refresh, dataset=dataset
    )
    assert estimate is not None
    machine = ec2(estimate.sample, spec.trees, args.ec2_vcpus, args.ec2_price, memory_gb=args.ec2_memory)
    actual = _actual(backend, spec.name) if source.startswith("build") else None
    if args.json:
        print(json.dumps(_json(estimate, machine, source, actual), default=str))
    else:
        _print(console, estimate, machine, source, actual, args.params)
    return 0


def _stored_arrays(backend: Any, name: str) -> tuple[BuildSpec, Any]:
    """A build fitted from Python arrays names no data a sample can load (the arrays went with the
    process that gave them): its stored train set, every row it was given (``create_from_arrays``
    holds none out), is that data. The spec names the rows by their content, as the estimator's own
    budget check does, keying the sample cache."""
    import numpy as np

    from lamforest import data

    plan = drv.load_plan(backend, name)
    X, y = data.open_train(backend.store, plan.data_ref)
    ds = data.from_arrays(X, np.asarray(y), plan.feature_names, plan.task, plan.spec.data)
    weight = data.open_weight(backend.store, plan.data_ref)
    ds.weight = None if weight is None else np.asarray(weight)
    return replace(plan.spec, data=f"arrays:{plan.data_ref.rsplit('/', 1)[-1]}"), ds


def _actual(backend: Any, name: str) -> dict[str, Any] | None:
    st = drv.status(backend, name)
    if st.state != "done" or not st.summary:
        return None
    return {"wall_s": st.summary.get("wall_s"), "cost_usd": st.cost_usd, "estimate": st.summary.get("estimate")}


def _json(e: est.Estimate, machine: Ec2Projection, source: str, actual: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "spec": e.spec.to_dict(),
        "spec_from": source,
        "sample": e.sample.to_dict(),
        "lambda": e.lam.to_json(),
        "local": e.local.to_json() if e.local else None,
        "ec2": machine.to_json(),
        "sources": e.sources,
        "warnings": [*e.lam.warnings, *machine.warnings],
        "actual": actual,
    }


def _s(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 100 else f"{seconds:,.1f} s"


def _row(label: str, p: Projection) -> list[str]:
    return [
        label,
        f"{_s(p.wall_s)} ({_s(p.wall_p10_s)}-{_s(p.wall_p90_s)})",
        f"{p.gb_seconds:,.1f}",
        f"${p.cost_usd:.6f} (${p.cost_p10_usd:.6f}-${p.cost_p90_usd:.6f})",
        f"{p.peak_worker_mb:,.0f} / {p.memory_mb:,} MB" + ("" if p.memory_ok else " (!)"),
        f"{p.groves:,} groves, {p.threads} thread(s), concurrency {p.concurrency:,}, {p.cold_starts:,} cold",
    ]


def _print(
    console: Any,
    e: est.Estimate,
    machine: Ec2Projection,
    source: str,
    actual: dict[str, Any] | None,
    all_params: bool,
) -> None:
    from rich.table import Table

    s, sample = e.spec, e.sample
    console.print(
        f"[bold]{s.name}[/] ({source}): {s.trees:,} {s.model} trees in groves of {s.grove} on {s.data}, "
        f"{s.memory:,} MB {s.arch}"
    )
    console.print(f"sample: {sample.how}; {sample.fit_per_tree_s:.4f} s per tree on one core")
    table = Table(title="projection (median, p10-p90)")
    for col in ("where", "wall time", "GB-s", "cost", "peak memory / worker", "how"):
        table.add_column(col)
    table.add_row(*_row("Lambda", e.lam))
    if e.local:
        table.add_row(*_row("this local pool", e.local))
    table.add_row(
        f"EC2, {machine.vcpus} vCPUs",
        _s(machine.wall_s),
        "",
        f"${machine.cost_usd:.6f} ({machine.billed_s:,.0f} s at ${machine.price_per_hour}/h)",
        f"{machine.memory_mb:,.0f} MB in all",
        "one instance, scikit-learn n_jobs = vCPUs, 60 s minimum",
    )
    console.print(table)
    for w in (*e.lam.warnings, *(e.local.warnings if e.local else ()), *machine.warnings):
        console.print(f"[yellow]warning[/] {w}")
    if actual and actual.get("wall_s") is not None:
        console.print(f"actual: {_s(float(actual['wall_s']))}, ${float(actual['cost_usd']):.6f}")
    for name, why in e.sources.items():
        # "local cpu_scale" names a parameter of the local projection; a bare name, Lambda's.
        where, _, attr = name.rpartition(" ")
        params = e.local.params if where == "local" and e.local else e.lam.params
        console.print(f"  {name} = {getattr(params, attr)!s}: {why}")
    if all_params:
        params = replace(e.lam.params)
        for name, value, unit, why in params.describe():
            console.print(f"  {name} = {value} {unit}: {why}")
    else:
        console.print("  (every parameter and its source: --params)")


def _calibrate(args: argparse.Namespace, backend: Any, console: Any) -> int:
    before = est.saved_params(backend, tolerant=True)
    cal = est.run_calibration(backend)
    doc = {
        "builds": cal.builds,
        "cpu_scale": cal.params.cpu_scale,
        "cold_start_ms": cal.params.cold_start_ms,
        "error_before": cal.error_before,
        "error_after": cal.error_after,
        "note": cal.note,
        "previous": {"cpu_scale": before.cpu_scale, "cold_start_ms": before.cold_start_ms} if before else None,
    }
    if args.json:
        print(json.dumps(doc))
    else:
        console.print(
            f"calibrated on {cal.builds} build(s): cpu_scale {cal.params.cpu_scale:.3f}, cold start "
            f"{cal.params.cold_start_ms:,.0f} ms; billed-time error {cal.error_before:.0%} -> {cal.error_after:.0%} "
            f"({cal.note}); later estimates use them"
        )
    return 0
