"""tune-memory on the local backend (a simulation, and it says so)."""

from __future__ import annotations

import json

import pytest

from lamforest.cli import main
from lamforest.cost import vcpus
from lamforest.driver.tune import drop_outliers, parse_memory, tune_memory
from lamforest.spec import SpecError
from tests.helpers import store_files


def test_local_tune_prices_each_size_and_says_it_is_simulated(shared_backend) -> None:
    res = tune_memory(shared_backend, data="iris", trees_per_grove=3, memory="512,3538", runs=3)
    assert res.simulated and "SIMULATED" in res.note and "does not change" in res.note
    assert [r.memory_mb for r in res.rows] == [512, 3538]
    assert [r.n_jobs for r in res.rows] == [1, 2]  # n_jobs follows Lambda's vCPUs
    for r in res.rows:
        assert len(r.durations_ms) == 3 and all(d > 0 for d in r.durations_ms)  # one REPORT per run
        assert r.kept_ms and set(r.kept_ms) <= set(r.durations_ms)
        assert r.mean_ms <= r.billed_ms <= r.mean_ms + 1  # billed to the next millisecond
        # Lambda's published x86_64 price: $0.0000166667 per GB-second and $0.20 per million requests.
        assert r.cost_usd == pytest.approx(r.billed_ms / 1000 * r.memory_mb / 1024 * 0.0000166667 + 0.2e-6)
    stored = json.loads(shared_backend.store.get_bytes(f"builds/{res.name}/tune.json"))
    assert stored["cheapest"] == res.cheapest.memory_mb and stored["simulated"] is True
    assert not shared_backend.store.list(f"builds/{res.name}/groves/")  # the runs' groves are removed


def test_cli_prints_table_and_the_simulation_warning(home, capsys) -> None:
    assert main(["tune-memory", "--data", "iris", "-g", "2", "--memory", "1769", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "cheapest: 1769 MB" in out and "fastest: 1769 MB" in out


def test_outliers_and_vcpus() -> None:
    assert drop_outliers([2000.0, 20.0, 22.0]) == [20.0, 22.0]
    assert drop_outliers([10.0]) == [10.0]
    assert [vcpus(m) for m in (128, 1769, 3008, 3538, 10240)] == [1, 1, 2, 2, 6]
    assert parse_memory("512, 1024") == [512, 1024]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory": "64,512"}, "memory"),
        ({"memory": "512,20000"}, "memory"),
        ({"memory": "512,big"}, "memory"),
        ({"memory": "512,512"}, "memory"),
        ({"memory": ""}, "memory"),
        ({"runs": 0}, "runs"),
        ({"trees_per_grove": 0}, "trees_per_grove"),
        ({"data": "nope"}, "data"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(shared_backend, kwargs, field) -> None:
    before = store_files(shared_backend)
    with pytest.raises(SpecError) as info:
        tune_memory(shared_backend, **{"data": "iris", **kwargs})
    assert info.value.field == field
    assert store_files(shared_backend) == before


def test_cli_memory_out_of_range_is_a_usage_error(home, capsys) -> None:
    assert main(["tune-memory", "--memory", "100000"]) == 2
    assert "memory" in capsys.readouterr().err
