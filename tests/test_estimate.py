"""``lamforest estimate``: the model's pure parts with hand-computable numbers, the sample cache,
and the model against real builds of the local pool."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from lamforest import cost
from lamforest.driver.sample import measure_sample
from lamforest.estimate.calibrate import Observation, calibrate
from lamforest.estimate.ec2 import ec2
from lamforest.estimate.params import ModelParams
from lamforest.estimate.project import grove_cost, project, quick_estimate
from lamforest.estimate.sample import Sample, cached_sample, sample_key
from lamforest.estimate.simulate import simulate
from lamforest.spec import BuildSpec, SpecError

INF = math.inf

# Noise off, driver instant: every number below can be worked out by hand.
EXACT = ModelParams(
    cold_start_cv=0.0,
    cpu_scale_cv=0.0,
    grove_cv=0.0,
    tree_cv=0.0,
    s3_request_ms=0.0,
    dispatch_per_s=INF,
    driver_upload_mb_s=INF,
    driver_download_mb_s=INF,
    report_wait_s=0.0,
    poll_s=0.0,
    driver_memory_mb=0.0,  # unknown: no warning that depends on this machine
    runs=5,
)


def hand_sample(**kw: float) -> Sample:
    """One tree takes 1 s on one core; nothing else costs anything unless set."""
    base = {
        "key": "hand",
        "data": "hand",
        "task": "classification",
        "rows": 1000,
        "features": 10,
        "test_rows": 100,
        "classes": 2,
        "train_bytes": 0,
        "trees": 4,
        "fit_per_tree_s": 1.0,
        "fit_fixed_s": 0.0,
        "oob_per_tree_s": 0.0,
        "tree_cv": 0.0,
        "grove_bytes_per_tree": 0.0,
        "dump_s_per_tree": 0.0,
        "load_s_per_tree": 0.0,
        "predict_s_per_tree": 0.0,
        "oob_add_s": 0.0,
        "tree_mem_mb": 1.0,
        "worker_base_mb": 100.0,
        "train_mem_mb": 0.0,
        "fit_overhead_mb": 0.0,
        "init_ms": 0.0,
        "init_workers": 1,
        "contention": 1.0,
        "prepare_s": 0.0,
        "write_mb_s": 1000.0,
        "measured_s": 0.0,
        "machine": "test",
        "measured_at": 0.0,
    }
    return Sample(**{**base, **kw})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the event simulation


def test_concurrency_cap_queues_groves_in_waves() -> None:
    sim = simulate([1.0] * 10, [0.5] * 10, [0.0] * 10, concurrency=2, burst=2, refill_per_s=INF)
    # two environments, each cold once (1.5 s), then four more 1 s groves each
    assert sim.makespan == pytest.approx(5.5)
    assert sum(sim.cold) == 2 and sim.peak_concurrency == 2


def test_scaling_bucket_adds_new_environments_at_100_per_second() -> None:
    n = 2500
    sim = simulate([100.0] * n, [0.0] * n, [0.0] * n, concurrency=3000, burst=1000, refill_per_s=100.0)
    assert sim.starts[999] == 0.0
    assert sim.starts[1000] == pytest.approx(0.01)
    assert sim.starts[n - 1] == pytest.approx(15.0)  # 1,500 more environments at 100 per second
    assert sim.makespan == pytest.approx(115.0)
    assert all(sim.cold)


def test_concurrency_limit_makes_later_groves_wait_for_warm_environments() -> None:
    n = 2500
    sim = simulate([100.0] * n, [0.0] * n, [0.0] * n, concurrency=1500, burst=1000, refill_per_s=100.0)
    # 1,000 at once, 500 more by 5 s, the last 1,000 on the environments freed at 100 s
    assert sim.starts[1499] == pytest.approx(5.0)
    assert sim.starts[1500] == pytest.approx(100.0)
    assert sum(sim.cold) == 1500
    assert sim.makespan == pytest.approx(200.0)
    assert sim.peak_concurrency == 1500


def test_dispatch_rate_paces_starts_and_idle_environments_are_reused() -> None:
    n = 100
    sim = simulate([0.05] * n, [1.0] * n, [i / 10 for i in range(n)], concurrency=1000, burst=1000, refill_per_s=100)
    # grove 0 runs cold until 1.05 s; groves 1..10 (arriving up to 1.0 s) find no idle environment;
    # from grove 11 on (1.1 s) an environment has always finished by the time a grove arrives
    assert sum(sim.cold) == 11 and not any(sim.cold[11:])
    assert sim.makespan == pytest.approx(9.9 + 0.05)


# --------------------------------------------------------------------------- one grove


def test_vcpus_of_the_memory_size_speed_up_a_grove() -> None:
    s = hand_sample()
    one = grove_cost(s, 2, 1769, chunk=5, params=EXACT)
    two = grove_cost(s, 2, 3538, chunk=5, params=EXACT)
    half = grove_cost(s, 2, 885, chunk=5, params=EXACT)
    assert one.cpu_s == pytest.approx(2.0)
    assert two.cpu_s == pytest.approx(2.0 / 1.9)  # two trees side by side, n_jobs=2 is 1.9x
    assert half.cpu_s == pytest.approx(2.0 * 1769 / 885)  # half a vCPU
    # six vCPUs and chunks of 5: two chunks of 5 trees, each on 5 threads
    six = grove_cost(s, 10, 10240, chunk=5, params=EXACT)
    assert six.cpu_s == pytest.approx(2 * 5 / (1 + 4 * 0.9))


def test_download_and_upload_at_the_s3_rate() -> None:
    s = hand_sample(train_bytes=170_000_000, grove_bytes_per_tree=8_500_000)
    g = grove_cost(s, 10, 1769, 5, replace(EXACT, s3_download_mb_s=85.0, s3_upload_mb_s=85.0))
    assert g.download_s == pytest.approx(2.0)
    assert g.io_s == pytest.approx(1.0)


# --------------------------------------------------------------------------- the projection


def test_cost_is_the_sum_of_per_invocation_bills_rounded_up() -> None:
    params = replace(EXACT, cold_start_ms=1000.4)
    p = project(hand_sample(), trees=6, grove=2, memory_mb=1769, concurrency=2, params=params)
    # two cold groves billed ceil(2000 + 1000.4) = 3001 ms each, one warm grove 2000 ms
    assert p.billed_ms == 3001 + 3001 + 2000
    expected = sum(cost.price(ms, 1769, "x86_64").usd for ms in (3001, 3001, 2000))
    assert p.cost_usd == pytest.approx(expected, rel=1e-12)
    assert p.gb_seconds == pytest.approx(8.002 * 1769 / 1024)
    assert p.cold_starts == 2
    assert p.wall_s == pytest.approx(3.0004 + 2.0)


def test_arm64_is_priced_at_its_own_rate() -> None:
    x86 = project(hand_sample(), 10, 5, 1769, "x86_64", 10, EXACT)
    arm = project(hand_sample(), 10, 5, 1769, "arm64", 10, EXACT)
    compute = [x86.cost_usd - 2 * cost.PRICE_PER_REQUEST, arm.cost_usd - 2 * cost.PRICE_PER_REQUEST]
    assert compute[1] / compute[0] == pytest.approx(0.0000133334 / 0.0000166667)


def test_memory_warning_when_a_grove_will_not_fit() -> None:
    s = hand_sample(tree_mem_mb=100.0, worker_base_mb=100.0)
    ok = project(s, 40, 10, 1769, params=EXACT)
    too_big = project(s, 40, 20, 1769, params=EXACT)
    assert ok.memory_ok and not ok.warnings
    assert too_big.peak_worker_mb == pytest.approx(2100.0)
    assert not too_big.memory_ok
    assert too_big.warnings[0].startswith("memory:") and "at most 16 trees" in too_big.warnings[0]


def test_driver_memory_warning_when_finishing_will_not_fit() -> None:
    s = hand_sample(tree_mem_mb=4.0, worker_base_mb=100.0)
    # Finish holds a few groves, whatever the forest: 200 trees of 4 MB (800 MB, merged below the 1 GB
    # limit, grove by grove) need what 1,000 trees (4 GB, a grove set) need.
    merged = project(s, 200, 10, params=replace(EXACT, driver_memory_mb=512.0))
    streamed = project(s, 1000, 10, params=replace(EXACT, driver_memory_mb=512.0))
    assert merged.driver_peak_mb == streamed.driver_peak_mb < 512
    assert not merged.warnings and not streamed.warnings
    # Groves of 50 such trees, four in memory at a time: 800 MB
    big = project(s, 200, 50, params=replace(EXACT, driver_memory_mb=512.0))
    assert big.driver_peak_mb > 800
    assert any(w.startswith("driver:") and "smaller groves" in w for w in big.warnings)
    assert not project(s, 100, 10, params=replace(EXACT, driver_memory_mb=2048.0)).warnings


def test_timeout_warning_for_a_grove_longer_than_fifteen_minutes() -> None:
    p = project(hand_sample(fit_per_tree_s=100.0), 20, 10, 1769, params=EXACT)
    assert any(w.startswith("grove:") for w in p.warnings)


def test_range_brackets_the_median_and_is_reproducible() -> None:
    params = ModelParams(runs=30)
    a = project(hand_sample(), 200, 10, 1769, params=params)
    b = project(hand_sample(), 200, 10, 1769, params=params)
    assert a.wall_p10_s < a.wall_s < a.wall_p90_s
    assert a.cost_p10_usd < a.cost_usd < a.cost_p90_usd
    assert (a.wall_s, a.cost_usd) == (b.wall_s, b.cost_usd)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(SpecError) as exc:
        project(hand_sample(), 10, 20)
    assert exc.value.field == "grove"
    with pytest.raises(SpecError) as exc:
        project(hand_sample(), 10, 5, memory_mb=64)
    assert exc.value.field == "memory"
    with pytest.raises(SpecError) as exc:
        ec2(hand_sample(), 10, 8, 0.0)
    assert exc.value.field == "ec2_price"


# --------------------------------------------------------------------------- EC2


def test_ec2_bills_at_least_sixty_seconds_then_per_second() -> None:
    params = replace(EXACT, ec2_startup_s=0.0, ec2_parallel_efficiency=1.0)
    short = ec2(hand_sample(), trees=8, vcpus=8, price_per_hour=0.36, params=params)
    assert short.wall_s == pytest.approx(1.0)
    assert short.billed_s == 60 and short.cost_usd == pytest.approx(0.36 * 60 / 3600)
    long = ec2(hand_sample(), trees=8 * 100, vcpus=8, price_per_hour=0.36, params=params)
    assert long.wall_s == pytest.approx(100.0)
    assert long.billed_s == 100 and long.cost_usd == pytest.approx(0.01)


def test_ec2_memory_warning() -> None:
    s = hand_sample(tree_mem_mb=10.0)
    assert ec2(s, 1000, 8, 1.0, EXACT, memory_gb=32).memory_ok is True
    small = ec2(s, 1000, 8, 1.0, EXACT, memory_gb=8)
    assert small.memory_ok is False and small.warnings[0].startswith("ec2:")


# --------------------------------------------------------------------------- calibration


def _obs(name: str, work: float, colds: int, other: float, scale: float, cold_s: float, **kw: float) -> Observation:
    actual = scale * work + colds * cold_s + other
    return Observation(name, 0.0, 0.0, 0.0, 0.0, work, other, colds, actual, **kw)  # type: ignore[arg-type]


def test_calibrate_recovers_cpu_scale_and_cold_start() -> None:
    obs = [_obs("a", 100.0, 10, 5.0, 1.3, 3.0), _obs("b", 400.0, 2, 1.0, 1.3, 3.0), _obs("c", 50, 40, 0, 1.3, 3.0)]
    cal = calibrate(obs, ModelParams())
    assert cal.params.cpu_scale == pytest.approx(1.3)
    assert cal.params.cold_start_ms == pytest.approx(3000.0)
    assert cal.error_after == pytest.approx(0.0, abs=1e-9) and cal.error_before > 0.1


def test_calibrate_takes_the_cold_start_from_measured_init_durations() -> None:
    obs = [_obs("a", 100.0, 10, 5.0, 0.8, 2.5, init_ms=2500.0)]
    cal = calibrate(obs, ModelParams())
    assert cal.params.cold_start_ms == pytest.approx(2500.0)
    assert cal.params.cpu_scale == pytest.approx(0.8)


def test_calibrate_without_observations_names_the_field() -> None:
    with pytest.raises(SpecError) as exc:
        calibrate([])
    assert exc.value.field == "calibrate"


def test_observation_from_a_summary() -> None:
    est = {"wall_s": 10.0, "cost_usd": 0.01, "work_s": 50.0, "other_s": 1.0, "cold_starts": 5}
    summary = {"state": "done", "wall_s": 12.0, "cost_usd": 0.012, "billed_ms": 60000, "estimate": est}
    o = Observation.from_summary("b1", summary)
    assert o is not None and o.actual_billed_s == 60.0 and o.cold_starts == 5
    assert Observation.from_summary("b2", {**summary, "state": "failed"}) is None
    assert Observation.from_summary("b3", {k: v for k, v in summary.items() if k != "estimate"}) is None


# --------------------------------------------------------------------------- the sample and its cache


def test_sample_is_measured_cached_and_keyed_by_parameters(tmp_path: Path) -> None:
    spec = BuildSpec(name="s", data="iris", trees=20, grove=5)
    assert cached_sample(spec, tmp_path) is None
    assert quick_estimate(spec, tmp_path) is None
    s = measure_sample(spec, tmp_path, budget_s=0.3, workers=1)
    assert s.rows == 112 and s.features == 4 and s.classes == 3 and s.trees >= 2
    assert s.fit_per_tree_s > 0 and s.init_ms > 0 and s.grove_bytes_per_tree > 0
    again = measure_sample(spec, tmp_path, budget_s=0.3, workers=1)
    assert again == s  # from the cache: nothing refitted
    assert cached_sample(replace(spec, trees=500, memory=3538), tmp_path) == s  # same work per tree
    deeper = replace(spec, params={"max_depth": 3})
    assert sample_key(deeper) != sample_key(spec) and cached_sample(deeper, tmp_path) is None
    p = quick_estimate(spec, tmp_path)
    assert p is not None and p.trees == 20 and p.groves == 4 and p.cost_usd > 0


def test_sample_rejects_a_bad_param_before_fitting(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        measure_sample(BuildSpec(name="s", data="iris", params={"max_dept": 3}), tmp_path)
    assert exc.value.field == "param max_dept"
