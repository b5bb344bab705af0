"""Memory limits are real on the local backend: a worker over ``--memory`` fails as on Lambda.

The grove here (extra trees, 500 classes: every node keeps 500 class counts) peaks
near 600 MB in about a second; a worker's imports alone take about 200 MB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lamforest import driver, keys
from lamforest.backend import Backend, local_backend
from lamforest.backend.pool import LocalCompute, out_of_memory_message
from lamforest.logs import parse_report
from lamforest.spec import BuildSpec
from lamforest.store.local import LocalStore

BIG = dict(data="synthetic:30000x20:500", model="et", trees=2, grove=2, seed=3, retries=1)
LIMIT_MB = 320  # above a worker's imports (about 200 MB, 240 with pyarrow), far below the grove
DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # One store for the module: both builds share the (content-addressed) train set.
    b = local_backend(tmp_path_factory.mktemp("memory-limit"))
    yield b
    b.close()


def reports(backend: Backend, name: str) -> list[str]:
    path = Path(backend.store.url) / keys.lambda_log(name)
    return [line for line in path.read_text().splitlines() if line.startswith("REPORT")]


def test_a_grove_over_memory_is_killed_recorded_out_of_memory_retried_then_fails(backend: Backend) -> None:
    driver.create(backend, BuildSpec(name="oom", memory=LIMIT_MB, **BIG))
    st = driver.run(backend, "oom", workers=1)
    assert st.state == "failed", st.to_json()
    failures = st.summary["failures"]
    assert [f["attempt"] for f in failures] == [1, 2]  # the first try and its one retry
    for f in failures:
        assert f["error"].startswith("Runtime.OutOfMemory: worker used "), f
        assert f["error"].endswith(
            f"more than its --memory of {LIMIT_MB} MB: raise --memory or give each grove fewer trees (--grove)"
        )
    row = st.rows[0]
    assert row.state == "failed" and row.attempt == 2 and row.record["error"] == "Runtime.OutOfMemory"
    # The build's failure reason, as `lamforest status` shows it, carries the message.
    seen = driver.status(backend, "oom").to_json()
    assert seen["state"] == "failed" and "Runtime.OutOfMemory: worker used" in seen["error"]
    # Each attempt's REPORT: an error, out of memory, with the MB the worker was seen using.
    lines = reports(backend, "oom")
    assert len(lines) == 2
    for line in lines:
        assert "Status: error\tError Type: Runtime.OutOfMemory\t" in line
        rep = parse_report(line)
        assert rep is not None and rep.memory_mb == LIMIT_MB and rep.max_memory_mb > LIMIT_MB
    # Records and REPORTs are one invocation each: the same request ids, as on Lambda.
    assert row.request_id in {rep.request_id for rep in map(parse_report, lines) if rep}
    assert not list((Path(backend.store.url) / "builds" / "oom" / "groves").glob("*"))


def test_the_same_grove_with_enough_memory_finishes(backend: Backend) -> None:
    driver.create(backend, BuildSpec(name="roomy", memory=1024, **BIG))
    st = driver.run(backend, "roomy", workers=1)
    assert st.state == "done", st.to_json()
    assert not st.summary["failures"]
    (line,) = reports(backend, "roomy")
    rep = parse_report(line)
    assert rep is not None and rep.status is None and "Error Type" not in line
    # The grove needs hundreds of MB more than the limit the test above sets.
    assert LIMIT_MB + 200 < rep.max_memory_mb < 1024


def test_memory_below_a_workers_imports_breaks_the_pool_once(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Straight on the pool: each slot starts one worker, sees its imports pass the limit, and stops.
    spawned: list[int] = []
    spawn = LocalCompute._spawn

    def counting_spawn(self: LocalCompute) -> Any:
        worker = spawn(self)
        spawned.append(worker.proc.pid)
        return worker

    monkeypatch.setattr(LocalCompute, "_spawn", counting_spawn)
    pool = LocalCompute(LocalStore(tmp_path / "store"), workers=2, memory_mb=128)
    try:
        for t in pool._threads:  # every feeder ends: nothing is left to respawn a worker
            t.join(DEADLINE_S)
            assert not t.is_alive()
        assert pool.broken is not None and "\n" not in pool.broken
        assert pool.broken.startswith("local workers need ")
        assert "MB to start (their imports); --memory 128 is below that: use at least " in pool.broken
        floor = int(pool.broken.split("need ")[1].split(" MB")[0])
        assert floor > 128 and int(pool.broken.rsplit(" ", 1)[1]) > floor
        assert 1 <= len(spawned) <= 2 and not pool._live  # at most one worker per slot, none left running
        with pytest.raises(RuntimeError, match="local workers need"):
            pool.submit([])
    finally:
        pool.close()
    monkeypatch.undo()
    # Through the driver: the build stops with that line; its groves are still queued.
    with local_backend(home) as b:
        driver.create(b, BuildSpec(name="tiny", data="iris", trees=2, grove=1, memory=128))
        with pytest.raises(
            driver.BuildError, match=r"^local workers need \d+ MB to start .* use at least \d+; "
        ) as err:
            driver.run(b, "tiny", workers=1)
        # Finishing it would break again (its --memory is the spec's): the advice is a new build.
        assert str(err.value).endswith("create the build again with that --memory") and "finish" not in str(err.value)
        st = driver.status(b, "tiny")
        assert {r.state for r in st.rows} == {"queued"}
        # `status` says it failed and why (not "resume with finish"), and finish refuses: the advice is the error's.
        assert st.state == "failed" and "create the build again with that --memory" in st.summary["error"]
        with pytest.raises(driver.BuildError, match="finish cannot help"):
            driver.finish(b, "tiny", workers=1)


def test_the_advice_follows_what_the_event_holds_in_memory() -> None:
    grove = {"build": "b", "grove": 0}
    assert out_of_memory_message(611, 512, grove) == (
        "worker used 611 MB, more than its --memory of 512 MB: raise --memory or give each grove fewer trees (--grove)"
    )
    assert out_of_memory_message(611, 512, {**grove, "shards": [0, 1]}).endswith(
        "give each grove fewer rows (--rows-per-grove)"
    )
    assert out_of_memory_message(611, 512, {"kind": "predict"}).endswith("of 512 MB: raise --memory")
