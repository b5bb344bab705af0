"""The Compute contract (``lamforest.backend.base.Compute``): the same tests on every compute.

The local pool of worker processes, the in-process ``SyncCompute`` (one thread, and several), and on AWS
(moto over HTTP with the suite's Lambda stand-in, see ``tests/aws_fixtures.py``)
``SnsCompute`` and ``InvokeCompute``. Fire and forget: every check reads what
lands in the store.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lamforest import data, keys, records
from lamforest.backend.base import Compute
from lamforest.events import FitEvent, PredictEvent, SearchEvent
from lamforest.store.base import Store
from tests.waits import wait_for

BUILD = "contract"
TIMEOUT_S = 60.0


@dataclass
class Case:
    store: Store
    compute: Compute
    can_drain: bool  # the compute holds events it has not started (a local pool, threads); Lambda cannot recall


def _local(tmp_path: Path) -> Case:
    from lamforest.backend.pool import LocalCompute
    from lamforest.store.local import LocalStore

    store = LocalStore(tmp_path / "store")
    return Case(store, LocalCompute(store, workers=1), can_drain=True)


def _sync(tmp_path: Path, threads: int = 1) -> Case:
    from lamforest.backend.pool import SyncCompute
    from lamforest.store.local import LocalStore

    store = LocalStore(tmp_path / "store")
    return Case(store, SyncCompute(store, threads=threads), can_drain=threads > 1)


def _sns(request: pytest.FixtureRequest) -> Case:
    from lamforest.backend.aws_compute import SnsCompute
    from lamforest.store.s3 import S3Store

    rig = request.getfixturevalue("aws")
    store = S3Store(rig.bucket)
    return Case(store, SnsCompute(store, rig.topic_arn, workers=2), can_drain=False)


def _invoke(request: pytest.FixtureRequest) -> Case:
    from lamforest.backend.aws_compute import InvokeCompute
    from lamforest.store.s3 import S3Store

    rig = request.getfixturevalue("aws")
    store = S3Store(rig.bucket)
    return Case(store, InvokeCompute(store, rig.function, workers=2), can_drain=False)


@pytest.fixture(params=["local", "sync", "threads", "sns", "invoke"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    kind = request.param
    made = _local(tmp_path) if kind == "local" else _sync(tmp_path) if kind == "sync" else None
    if kind == "threads":
        made = _sync(tmp_path, threads=2)
    if made is None:
        made = _sns(request) if kind == "sns" else _invoke(request)
    try:
        yield made
    finally:
        made.compute.close()


def _train(store: Store) -> str:
    X, y = load_digits(return_X_y=True)
    return data.put_train(store, X[:600], y[:600], "classification", [f"f{i}" for i in range(X.shape[1])])


def _fit(ref: str, grove: int, trees: int = 2) -> FitEvent:
    return FitEvent(
        build=BUILD, grove=grove, seed=100 + grove, trees=trees, data=ref, model="rf", task="classification"
    )


def _grove_done(store: Store, grove: int) -> bool:
    return records.grove_done(store, BUILD, keys.grove_id(grove))


def _grove_touched(store: Store, grove: int) -> bool:
    """Any trace of the grove having run: a record in any state, or the grove file."""
    gid = keys.grove_id(grove)
    ran = any(keys.parse_state(BUILD, key) is not None for key in store.list(keys.state(BUILD, gid, "")))
    return ran or store.exists(keys.grove(BUILD, gid))


def test_fit_events_land_done_records_in_the_store(case: Case) -> None:
    ref = _train(case.store)
    case.compute.submit([_fit(ref, g) for g in range(3)])
    wait_for(lambda: all(_grove_done(case.store, g) for g in range(3)), "3 done grove records")
    for g in range(3):
        record = records.read_grove(case.store, BUILD, keys.grove_id(g), "done")
        assert record["state"] == "done" and record["grove"] == g and record["trees"] == 2
        assert case.store.exists(keys.grove(BUILD, keys.grove_id(g)))
    assert case.compute.broken is None
    assert case.compute.workers >= 1


def test_predict_and_search_events_go_through(case: Case) -> None:
    ref = _train(case.store)
    case.compute.submit([_fit(ref, 0, trees=3)])
    wait_for(lambda: _grove_done(case.store, 0), "the grove to predict with")
    X, y = load_digits(return_X_y=True)
    rows = data.put_input(case.store, X[600:650])
    valid = data.put_train(case.store, X[600:700], y[600:700], "classification", [f"f{i}" for i in range(X.shape[1])])
    case.compute.submit(
        [
            PredictEvent(build=BUILD, job="p1", input=rows, grove=0),
            SearchEvent(
                build=BUILD,
                trial=4,
                seed=9,
                trees=3,
                data=ref,
                valid=valid,
                model="et",
                task="classification",
                params={"max_depth": 6},
            ),
        ]
    )
    job, trials = keys.predict_job(BUILD, "p1"), keys.trials(BUILD)
    wait_for(
        lambda: (
            records.job_done(case.store, job, keys.grove_id(0))
            and records.job_done(case.store, trials, keys.grove_id(4))
        ),
        "the predict batch and the search trial",
    )
    votes = np.load(io.BytesIO(case.store.get_bytes(keys.job_file(job, f"votes/{keys.grove_id(0)}.npy"))))
    assert votes.shape == (50, 10)
    assert np.allclose(votes.sum(axis=1), 3.0)  # three trees, each a probability row summing to 1
    assert case.compute.broken is None


def test_drain_returns_a_count_and_a_drained_event_never_runs(case: Case) -> None:
    ref = _train(case.store)
    # The first grove is big enough to keep a one-worker pool busy while the rest wait in its queue.
    events = [_fit(ref, 0, trees=60), *(_fit(ref, g) for g in range(1, 5))]
    case.compute.submit(events)
    drained = case.compute.drain()
    assert isinstance(drained, int) and 0 <= drained <= len(events)
    if case.can_drain:
        # At most one event per worker (or thread) had been picked up.
        assert drained >= len(events) - case.compute.workers
    else:
        assert drained == 0
    kept = len(events) - drained
    wait_for(lambda: all(_grove_done(case.store, g) for g in range(kept)), f"the {kept} events not drained")
    # A sentinel sent after the drain: events are started in order, so once it is done, a drained
    # event still queued anywhere would have run before it.
    case.compute.submit([_fit(ref, 9)])
    wait_for(lambda: _grove_done(case.store, 9), "the sentinel")
    for g in range(kept, len(events)):
        assert not _grove_touched(case.store, g), f"drained grove {g} ran"


def test_close_is_idempotent(case: Case) -> None:
    case.compute.close()
    case.compute.close()
    assert case.compute.broken is None


def test_wait_returns_by_its_timeout_and_a_local_call_that_ends_wakes_it(case: Case) -> None:
    """The driver's loop waits on its compute between looks. A compute that hears its calls end
    (the pool, threads) wakes it with the grove's records written; Lambda's are heard only through
    the store, so its wait is the poll."""
    import threading

    case.compute.wait(0.01)  # nothing submitted: back after the timeout
    ref = _train(case.store)
    hears = case.compute.name in ("local", "sync")
    case.compute.submit([_fit(ref, 0)])
    if not hears:
        wait_for(lambda: _grove_done(case.store, 0), "the grove")
        return
    waiter = threading.Thread(target=case.compute.wait, args=(3600.0,), daemon=True)
    waiter.start()
    waiter.join(TIMEOUT_S)
    assert not waiter.is_alive(), "the grove's end did not wake the wait"
    assert _grove_done(case.store, 0)  # the records are written before the wait returns
