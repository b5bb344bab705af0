"""``lamforest estimate``: a projection table for an MNIST-size forest, and the model against the local pool.

(1) Projection: a sample of ``synthetic:70000x784:10`` (groves of 10) is measured on this machine
(two or three trees, one core, in a fresh worker-like process); from it the model projects the
wall time (median, p10-p90) and the cost of 100, 1,000 and 10,000 trees at 1,769, 3,538 and
10,240 MB on Lambda, next to one EC2 instance of 8 and of 64 vCPUs. Every parameter is printed
with its value and where the value comes from.

(2) Validation: for three shapes (tiny trees in many groves, big trees in few, one in between) the
local model (the pool's worker count, the measured local cold start, no download) is compared
with a real local build of the same shape; the error is (projected - actual) / actual. The
issue's goal is within 15 %.

Run: ``python -m bench.bench_estimate [--quick]`` (``--quick`` skips the MNIST-size sample and
projects from a digits sample instead).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lamforest import driver
from lamforest.backend import local_backend
from lamforest.backend.pool import default_workers
from lamforest.driver.sample import measure_sample
from lamforest.estimate.ec2 import ec2
from lamforest.estimate.params import ModelParams, local_params
from lamforest.estimate.project import project
from lamforest.estimate.sample import Sample
from lamforest.spec import BuildSpec

MNIST = "synthetic:70000x784:10"
TREES = (100, 1_000, 10_000)
MEMORY = (1769, 3538, 10_240)
# One instance each: (vCPUs, USD per hour, memory GB). c7i.2xlarge and c7i.16xlarge, us-east-1 Linux
# on-demand list prices as remembered when this was written (not fetched): pass your own to `estimate`.
EC2 = ((8, 0.357, 16), (64, 2.856, 128))
# Larger than the test's shapes, so that fitting, not the workers' cold start, dominates.
LOCAL_SHAPES = (
    ("tiny trees, many groves", "digits", 1000, 5),
    ("big trees, few groves", "synthetic:40000x60:3", 16, 8),
    ("in between", "synthetic:10000x20:3", 200, 10),
)


def fmt_s(s: float) -> str:
    return f"{s:,.0f} s" if s >= 100 else f"{s:,.1f} s"


def print_params(params: ModelParams) -> None:
    print("\nModel parameters (value, unit, source):")
    for name, value, unit, source in params.describe():
        print(f"  {name:24} {value!s:>10} {unit:14} {source}")


def print_sample(s: Sample) -> None:
    print(f"\nSample, measured on this machine ({s.machine}) in {s.measured_s:.1f} s: {s.how}")
    rows = [
        ("fit per tree, one core", f"{s.fit_per_tree_s:.3f} s"),
        ("fixed per grove", f"{s.fit_fixed_s:.3f} s"),
        ("OOB sums per tree", f"{s.oob_per_tree_s:.3f} s"),
        ("one tree's spread (cv)", f"{s.tree_cv:.2f}" if s.tree_cv else "not measured (too few chunks)"),
        ("grove bytes per tree (lz4)", f"{s.grove_bytes_per_tree / 1e6:.2f} MB"),
        ("dump / load per tree", f"{s.dump_s_per_tree:.3f} s / {s.load_s_per_tree:.3f} s"),
        ("predict the test set per tree", f"{s.predict_s_per_tree:.3f} s ({s.test_rows:,} rows)"),
        ("tree in memory", f"{s.tree_mem_mb:.2f} MB"),
        ("worker RSS after imports", f"{s.worker_base_mb:.0f} MB"),
        ("train set", f"{s.train_mb:.0f} MB ({s.rows:,} x {s.features})"),
        ("train set mapped in RSS", f"{s.train_mem_mb:.0f} MB"),
        ("fit working memory", f"{s.fit_overhead_mb:.0f} MB"),
        ("driver load + split", f"{s.prepare_s:.1f} s"),
        ("local worker cold start", f"{s.init_ms:.0f} ms ({s.init_workers} starting at once)"),
        ("local contention", f"{s.contention:.2f}x slower fits with {s.init_workers} fitting at once"),
    ]
    for k, v in rows:
        print(f"  {k:32} {v}")


def projection_table(sample: Sample, grove: int, params: ModelParams) -> None:
    print(f"\nProjected, {sample.data}, groves of {grove}, x86_64, concurrency {params.concurrency:,}:")
    head = ["trees"] + [f"Lambda {m:,} MB" for m in MEMORY] + [f"EC2 {v} vCPUs ({p} USD/h)" for v, p, _ in EC2]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    notes: list[str] = []
    for trees in TREES:
        cells = [f"{trees:,}"]
        for mem in MEMORY:
            p = project(sample, trees, grove, mem, "x86_64", params=params)
            cell = (
                f"{fmt_s(p.wall_s)} ({fmt_s(p.wall_p10_s)}-{fmt_s(p.wall_p90_s)}), "
                f"{p.cost_usd:,.3f} USD, {p.peak_worker_mb:,.0f} MB/worker"
            )
            cells.append(cell + (" (!)" if p.warnings else ""))
            notes += [f"{trees:,} trees at {mem:,} MB: {w}" for w in p.warnings]
        for vcpus, usd_h, mem_gb in EC2:
            e = ec2(sample, trees, vcpus, usd_h, params, memory_gb=mem_gb)
            cells.append(f"{fmt_s(e.wall_s)}, {e.cost_usd:,.3f} USD" + (" (!)" if e.warnings else ""))
            notes += [f"{trees:,} trees on {vcpus} vCPUs: {w}" for w in e.warnings]
        print("| " + " | ".join(cells) + " |")
    for n in dict.fromkeys(notes):
        print(f"  (!) {n}")
    print("\nWhere the median time goes, at 1,769 MB (s): prepare = load + split, upload = the train set,")
    print("fit span = first dispatch to last grove done, finish = REPORT wait, fetch, load, score, write the model")
    print("| trees | groves | prepare | upload | fit span | finish | cold starts | peak concurrency | driver peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for trees in TREES:
        p = project(sample, trees, grove, 1769, "x86_64", params=params)
        ph = p.phases
        print(
            f"| {trees:,} | {p.groves:,} | {ph['prepare_s']:.1f} | {ph['upload_s']:.1f} | {ph['fit_span_s']:.1f} "
            f"| {ph['finish_s']:.1f} | {p.cold_starts:,} | {p.peak_concurrency:,} | {p.driver_peak_mb / 1024:,.1f} GB |"
        )


def validate_local(workers: int) -> None:
    print(f"\nLocal model against the local pool ({workers} workers, cold pool, create + run):")
    print("| shape | build | projected (p10-p90) | actual | error |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
        for label, data, trees, grove in LOCAL_SHAPES:
            spec = BuildSpec(name="v", data=data, trees=trees, grove=grove)
            sample = measure_sample(spec, Path(tmp) / "cache", budget_s=1.0, workers=workers)
            p = project(sample, trees, grove, spec.memory, params=local_params(sample, workers), backend="local")
            backend = local_backend(Path(tmp) / label.replace(" ", "-").replace(",", ""))
            try:
                t0 = time.perf_counter()
                driver.create(backend, spec)
                driver.run(backend, "v", workers=workers)
                actual = time.perf_counter() - t0
            finally:
                backend.close()
            err = (p.wall_s - actual) / actual
            spread = f"{p.wall_s:.2f} s ({p.wall_p10_s:.2f}-{p.wall_p90_s:.2f})"
            print(f"| {label} | {data}, {trees} trees / {grove} | {spread} | {actual:.2f} s | {err:+.0%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="project from a digits sample; skip the MNIST-size one")
    args = ap.parse_args()
    t0 = time.perf_counter()
    params = ModelParams()
    data = "digits" if args.quick else MNIST
    grove = 10
    sample = measure_sample(BuildSpec(name="bench", data=data, grove=grove), None, budget_s=3.0)
    print_sample(sample)
    print_params(params)
    projection_table(sample, grove, params)
    validate_local(default_workers())
    print(f"\n(bench took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
