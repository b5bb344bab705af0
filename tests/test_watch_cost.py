"""What watching builds costs in store requests and log reads, counted through the store's interface.

A list of finished builds must cost nothing per refresh once read; a running
build one LIST (plus one GET per record that changed); logs are read once for
every watcher of a backend.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from lamforest import keys
from lamforest.backend import Backend, local_backend
from lamforest.driver import BuildsView
from lamforest.logs import LogHub
from lamforest.store.counting import CountingStore
from lamforest_tui.testing import FIXED_CREATED, write_finished_build, write_grove, write_plan, write_summary


@pytest.fixture
def counted(tmp_path) -> Backend:
    backend = local_backend(tmp_path / "store")
    yield dataclasses.replace(backend, store=CountingStore(backend.store))
    backend.close()


def test_finished_builds_cost_nothing_per_refresh_and_a_running_one_one_list(counted):
    store = counted.store
    for i in range(3):
        write_finished_build(store, f"old-{i}", groves=6, created=FIXED_CREATED + i)
    plan = write_plan(store, "live", trees=20, grove=5, created=FIXED_CREATED + 10)
    write_grove(store, plan, 0, "running", started=FIXED_CREATED + 11)
    view = BuildsView(counted)
    store.take()

    first = view.refresh()
    assert [s.name for s in first] == ["live", "old-2", "old-1", "old-0"]
    assert [s.state for s in first] == ["running", "done", "done", "done"]
    # Finished builds were read from their summaries alone: no grove record was fetched for them.
    assert store.take()["get"] == 4 + 3 + 1  # 4 specs, 3 summaries, the live build's one record

    for _ in range(3):
        again = view.refresh()
        assert store.take() == {"list": 2}  # the names, and the running build's prefix
    assert again[1].trees_done == 30 and again[1].count("done") == 6 and again[1].cost_usd == 0.0

    write_grove(store, plan, 0, "done", started=FIXED_CREATED + 11, duration_s=0.5)
    store.take()
    st = view.refresh()[0]
    assert st.count("done") == 1 and st.trees_done == 5
    assert store.take() == {"list": 2, "get": 1}  # only the record that changed

    write_summary(store, plan, wall_s=3.0)
    store.take()
    assert view.refresh()[0].state == "done"
    assert store.take() == {"list": 2, "get": 1}  # the summary, once
    view.refresh()
    assert store.take() == {"list": 1}  # nothing left to watch: the names only


def test_a_build_deleted_from_the_store_leaves_the_list(counted):
    write_finished_build(counted.store, "gone", groves=2)
    view = BuildsView(counted)
    assert [s.name for s in view.refresh()] == ["gone"]
    shutil.rmtree(counted.store.local_path(keys.build("gone")))
    assert view.refresh() == []


class SharedLog:
    """A log of every build (as CloudWatch is), that counts its reads."""

    shared = True

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.reads: list[str] = []

    def lines(self, build: str, kind: str | None = None) -> list[str]:
        self.reads.append(build)
        out, self.pending = self.pending, []
        return out


def test_one_shared_reader_serves_every_watcher_each_line_once():
    log = SharedLog()
    hub = LogHub(log)
    a, b = hub.cursor(), hub.cursor()
    log.pending = ["START RequestId: 1", "REPORT RequestId: 1\tDuration: 1 ms"]
    assert a.lines("b1") == log_lines(2)
    log.pending = ["START RequestId: 2"]
    # b is new: it gets everything fetched so far, once; b2 asked first time costs one catch-up read.
    assert b.lines("b2") == [*log_lines(2), "START RequestId: 2"]
    assert a.lines("b1") == ["START RequestId: 2"]
    assert a.lines("b1") == [] and b.lines("b2") == []
    assert log.reads == ["b1", "b2", "b1", "b1", "b1", "b1"]  # the anchor's forward reads, one catch-up
    # The same line read twice (an overlap window) is handed out once.
    log.pending = ["START RequestId: 2", "END RequestId: 2"]
    assert a.lines("b1") == ["END RequestId: 2"]


def log_lines(n: int) -> list[str]:
    return ["START RequestId: 1", "REPORT RequestId: 1\tDuration: 1 ms"][:n]


def test_backend_shares_one_reader_among_its_watchers(tmp_path):
    with local_backend(tmp_path) as backend:
        c1, c2 = backend.shared_log_source(), backend.shared_log_source()
        assert c1 is not c2 and c1.hub is c2.hub


def test_the_shared_reader_keeps_a_bounded_tail():
    log = SharedLog()
    hub = LogHub(log, keep=3)
    early, late = hub.cursor(), hub.cursor()
    log.pending = [f"START RequestId: {i}" for i in range(5)]
    assert early.lines("b") == [f"START RequestId: {i}" for i in range(5)]  # all it fetched, once
    log.pending = ["START RequestId: 5"]
    assert late.lines("b") == [f"START RequestId: {i}" for i in (2, 3, 4, 5)]  # the kept tail, then new
    assert early.lines("b") == ["START RequestId: 5"]
