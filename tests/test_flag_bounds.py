"""Numbers in flags have ranges that make sense: absurd values are capped with a line or refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lamforest.backend import local_backend
from lamforest.backend.pool import default_workers
from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code
from lamforest.spec import BuildSpec


def test_workers_above_the_cores_are_capped_with_a_line_saying_so(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cores = default_workers()
    assert cli_main(["build", "wk", "--data", "iris", "-t", "2", "-g", "1", "--workers", "100000", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["state"] == "done"
    assert f"note: --workers 100000 capped at {cores}, this machine's cores" in err
    with local_backend(home) as backend:
        pool = backend.make_compute(BuildSpec(name="wk"), 100000, False)
        assert pool.workers == cores  # one interpreter per core, not per requested worker
        assert backend.pool_workers is not None and backend.pool_workers(100000) == cores


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["build", "t9", "-t", "1000000000", "-g", "1000000000"], "trees"),
        (["build", "t9", "-t", "1000", "-g", "100000"], "grove"),
        (["estimate", "e9", "--data", "iris", "--ec2-memory", "-5"], "ec2_memory"),
        (["estimate", "e9", "--data", "iris", "--ec2-vcpus", "100000"], "ec2_vcpus"),
        (["build", "t9", "--data", "iris", "-t", "9" * 5000], "trees"),  # past int()'s own digit limit
        (["build", "t9", "--data", "iris", "--seed", "9" * 40], "seed"),
        (["build", "t9", "--data", "iris", "-t", "10", "--max-cost", "inf"], "max_cost"),  # no budget is no flag
        (["build", "t9", "--data", "iris", "-t", "10", "--max-cost", "nan"], "max_cost"),
    ],
)
def test_absurd_numbers_are_refused_naming_the_flag(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    field: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Refused before a sample is measured; were one measured, it would stay in this test's own cache.
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "cache"))
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"error in {field}: must be" in err and len(err.splitlines()) == 1
    assert not (home / "builds" / "t9").exists()
    assert not (tmp_path / "cache").exists()  # nothing was measured


@pytest.mark.parametrize("flag", ["--weight", "--target", "--rows-per-grove"])
def test_an_empty_flag_value_is_refused_not_read_as_none(
    home: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """``--weight ''`` (an unset shell variable) once built without weights, silently."""
    assert cli_main(["build", "t9", "--data", "iris", "-t", "2", flag, ""]) == 2
    err = capsys.readouterr().err.strip()
    assert f"error in {flag[2:].replace('-', '_')}: an empty value" in err and len(err.splitlines()) == 1
    assert not (home / "builds" / "t9").exists()


def test_without_g_a_forest_smaller_than_a_grove_is_one_grove(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["build", "t4", "--data", "iris", "-t", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "done" and out["groves"]["total"] == 1 and out["grove_size"] == 4
    assert cli_main(["build", "t5", "--data", "iris", "-t", "4", "-g", "5"]) == 2  # asked for: refused
    assert "error in grove: grove size 5 is larger than trees 4" in capsys.readouterr().err


def test_estimate_keeps_the_weight_column_out_of_the_features(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "w.csv"
    csv.write_text("a,b,w,y\n" + "".join(f"{i % 7},{i % 5},{1 + i % 3},{i % 2}\n" for i in range(200)))
    argv = ["estimate", "ew", "--data", str(csv), "--target", "y", "--weight", "w", "-t", "4", "-g", "2", "--json"]
    assert cli_main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sample"]["features"] == 2  # a and b: the weights are not a feature


def test_reading_a_store_that_does_not_exist_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "no" / "such" / "store"
    assert cli_main(["--home", str(home), "builds", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli_main(["--home", str(home), "status", "nobuild"]) == 1
    assert "no build named 'nobuild'" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    # Writing makes the store as it goes.
    assert cli_main(["--home", str(home), "build", "first", "--data", "iris", "-t", "2", "-g", "1", "--json"]) == 0
    assert (home / "builds" / "first" / "summary.json").is_file()


def test_a_garbage_calibration_file_is_one_line_naming_it_and_deleting_it_mends_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "cache"))
    params = home / "estimate" / "params.json"
    for garbage in (b"{not json", b'{"params": {"cpu_scale": "fast"}}'):
        params.parent.mkdir(parents=True, exist_ok=True)
        params.write_bytes(garbage)
        assert cli_main(["estimate", "g", "--data", "iris", "-t", "4", "-g", "2"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "params.json cannot be read" in err
        assert f"{params} cannot be read" in err and f"delete {params}" in err
    params.unlink()  # the advice, literally
    assert cli_main(["estimate", "g", "--data", "iris", "-t", "4", "-g", "2", "--json"]) == 0


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"grove": 99}, "groves 0 to 1; the event names grove 99"),
        ({"seed": 12345}, "the event's seed is not the plan's"),
        ({"trees": 1000}, "the event's trees is not the plan's"),
        ({"params": {"max_depth": 1}}, "the event's params is not the plan's"),
        ({"data": "data/" + "0" * 64}, "the event's data is not the plan's"),
    ],
    ids=["index-past-the-plan", "seed", "trees", "params", "data"],
)
def test_a_worker_never_fits_a_grove_its_plan_does_not_hold(home: Path, change: dict, said: str) -> None:
    from lamforest import driver, keys
    from lamforest.worker import handler
    from lamforest.worker.fit import EventNotPlanned

    with local_backend(home) as backend:
        driver.create(backend, BuildSpec(name="pl", data="iris", trees=4, grove=2, seed=3))
        planned = driver.load_plan(backend, "pl").events()[0]
        before = sorted(backend.store.list(keys.build("pl")))
        forged = {**planned.to_event(), **change}
        with pytest.raises(EventNotPlanned, match=said):
            handler(forged, store=backend.store)
        assert sorted(backend.store.list(keys.build("pl"))) == before  # nothing fitted, nothing written
        # Through the local pool, as a forged message would arrive: refused, logged, no record.
        pool = backend.make_compute(BuildSpec(name="pl"), 1, True)
        pool.submit([dataclasses.replace(planned, **change)])
        log = (home / keys.lambda_log("pl")).read_text()
        assert "[ERROR] EventNotPlanned" in log
        assert not [k for k in backend.store.list(keys.states("pl"))]
        # The plan's own event still fits.
        assert handler(planned.to_event(), store=backend.store)["groves"][0]["state"] == "done"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["build", "x", "--data", "iris", "--workers", "nan"], "workers"),
        (["build", "x", "--data", "iris", "--max-cost", "x"], "max_cost"),
        (["estimate", "x", "--data", "iris", "--ec2-vcpus", "nan"], "ec2_vcpus"),
        (["grow", "x", "-t", "many"], "trees"),
    ],
)
def test_a_value_of_the_wrong_kind_is_one_line_naming_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error in {field}: invalid"), err


def test_a_pool_starts_a_process_per_grove_at_most_and_ends_idle_ones(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from lamforest import driver
    from lamforest.backend import pool as poolmod

    monkeypatch.setattr(poolmod, "default_workers", lambda: 4)  # as on a machine of four cores
    with local_backend(home) as backend:
        driver.create(backend, BuildSpec(name="one", data="iris", trees=2, grove=2))
        assert driver.run(backend, "one", workers=4).state == "done"
        pool = backend.make_compute(BuildSpec(name="one", trees=2, grove=2), 4, False)
        assert isinstance(pool, poolmod.LocalCompute) and pool.workers == 4
        assert pool.processes == 1  # one grove, one interpreter: not one per requested worker
        # A later build with more groves in the same pool starts processes for them.
        driver.create(backend, BuildSpec(name="three", data="iris", trees=6, grove=2))
        assert driver.run(backend, "three", workers=4).state == "done"
        assert 1 <= pool.processes <= 3
    # Idle environments end, as Lambda's do.
    monkeypatch.setattr(poolmod, "IDLE_S", 0.2)
    with local_backend(home) as backend:
        driver.create(backend, BuildSpec(name="idle", data="iris", trees=2, grove=1))
        assert driver.run(backend, "idle", workers=2).state == "done"
        pool = backend.make_compute(BuildSpec(name="idle", trees=2, grove=1), 2, False)
        assert isinstance(pool, poolmod.LocalCompute)
        deadline = time.monotonic() + 30
        while pool.processes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.processes == 0


@pytest.mark.parametrize(("field", "value"), [("target", 4), ("weight", ["w"]), ("target", {"a": 1})])
def test_a_spec_file_whose_column_is_not_text_names_the_field(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    value: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "d.csv"
    data.write_text("a,b,y,w\n1,2,0,1\n3,4,1,1\n5,6,0,1\n7,8,1,1\n")
    spec = tmp_path / "spec.json"
    doc = {"name": "sf", "data": str(data), "target": "y", "trees": 2, "grove": 1, field: value}
    spec.write_text(json.dumps(doc))
    assert cli_main(["estimate", str(spec)]) == 2  # a spec file is what estimate reads
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error in {field}: must be a column name (text)") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "cache").exists()  # refused before a sample was measured


def test_cold_starts_take_turns_until_work_is_queued_then_start_at_once(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first submit the driver is busy on a core (importing, loading the rows): the pool's
    cold starts leave it that core. Once work is queued, a start no longer waits for another."""
    import threading

    from lamforest.backend import pool as poolmod
    from lamforest.store.local import LocalStore

    monkeypatch.setattr(poolmod, "default_workers", lambda: 2)  # two cores: one start at a time
    order: list[str] = []
    spawned = [threading.Event() for _ in range(3)]
    release = [threading.Event() for _ in range(3)]  # a start is held "not ready" until released
    readied = [threading.Event() for _ in range(3)]
    real_spawn, real_start_now = poolmod.LocalCompute._spawn, poolmod.LocalCompute._start_now
    local = threading.local()

    def spawn(self: poolmod.LocalCompute) -> poolmod._Worker:
        worker = real_spawn(self)
        with self._lock:
            local.index = sum(o.startswith("spawn") for o in order)
            order.append(f"spawn {local.index}")
        spawned[local.index].set()
        return worker

    def start_now(self: poolmod.LocalCompute) -> poolmod._Worker | None:
        worker = real_start_now(self)
        release[local.index].wait(60)
        with self._lock:
            order.append(f"ready {local.index}")
        readied[local.index].set()
        return worker

    monkeypatch.setattr(poolmod.LocalCompute, "_spawn", spawn)
    monkeypatch.setattr(poolmod.LocalCompute, "_start_now", start_now)
    pool = poolmod.LocalCompute(LocalStore(home), workers=3)
    try:
        assert spawned[0].wait(60)
        release[0].set()
        assert spawned[1].wait(60)
        assert order.index("ready 0") < order.index("spawn 1"), order  # the second waited for the first
        pool.submit([])  # work queued (none here): the third start no longer waits for the second
        assert spawned[2].wait(60)
        release[1].set()
        release[2].set()
        assert readied[1].wait(60) and readied[2].wait(60)
        assert order.index("spawn 2") < order.index("ready 1"), order
    finally:
        for r in release:
            r.set()
        pool.close()
