"""The build loop's policy, fed synthetic grove rows: no store, no processes, no clock."""

from __future__ import annotations

from dataclasses import dataclass

from lamforest.driver.schedule import Scheduler, over_budget, window_for


@dataclass
class Row:
    grove: int
    state: str = "queued"
    attempt: int = 0
    error: str | None = None


def rows(*states: tuple[str, int]) -> list[Row]:
    return [Row(i, s, a, "E: x" if s == "failed" else None) for i, (s, a) in enumerate(states)]


def test_everything_is_sent_at_once_without_a_window() -> None:
    r = rows(("queued", 0), ("queued", 0), ("queued", 0))
    s = Scheduler.start(r, retries=2, window=None, cancelled=False)
    assert s.to_send(r) == [(0, 1), (1, 1), (2, 1)]
    assert s.to_send(r) == []


def test_resume_sends_only_what_is_not_done_and_cancelled_sends_nothing() -> None:
    r = rows(("done", 1), ("failed", 1), ("cancelled", 1), ("queued", 0))
    assert [g for g, _ in Scheduler.start(r, retries=2, window=None, cancelled=False).to_send(r)] == [1, 2, 3]
    assert Scheduler.start(r, retries=2, window=None, cancelled=True).to_send(r) == []


def test_a_window_keeps_at_most_that_many_in_flight() -> None:
    r = rows(*[("queued", 0)] * 5)
    s = Scheduler.start(r, retries=0, window=2, cancelled=False)
    assert s.to_send(r) == [(0, 1), (1, 1)]
    r[0].state, r[0].attempt = "running", 1
    assert s.to_send(r) == []  # two still in flight
    r[0].state = "done"
    assert s.to_send(r) == [(2, 1)]
    assert s.in_flight(r) == 2


def test_a_failure_is_retried_with_the_next_attempt_until_retries_run_out() -> None:
    r = rows(("queued", 0), ("queued", 0))
    s = Scheduler.start(r, retries=1, window=None, cancelled=False)
    s.to_send(r)
    r[0].state, r[0].attempt = "done", 1
    r[1].state, r[1].attempt = "failed", 1
    assert s.observe(r) is False
    assert s.to_send(r) == [(1, 2)]
    r[1].state, r[1].attempt = "running", 2
    assert s.observe(r) is False
    r[1].state = "failed"
    assert s.observe(r) is True  # attempt 2 > retries 1, nothing else running or waiting
    assert [(f["grove"], f["attempt"]) for f in s.failures] == [(1, 1), (1, 2)]


def test_a_failure_is_counted_once_however_often_it_is_seen() -> None:
    r = rows(("queued", 0))
    s = Scheduler.start(r, retries=3, window=None, cancelled=False)
    s.to_send(r)
    r[0].state, r[0].attempt = "failed", 1
    s.observe(r)
    s.observe(r)
    assert len(s.failures) == 1 and list(s.backlog) == [0]


def test_a_stale_record_of_an_older_attempt_is_not_a_new_failure() -> None:
    r = rows(("queued", 0))
    s = Scheduler.start(r, retries=3, window=None, cancelled=False)
    s.to_send(r)
    r[0].state, r[0].attempt = "failed", 1
    s.observe(r)
    assert s.to_send(r) == [(0, 2)]  # attempt 2 on its way; the row still shows attempt 1 failed
    assert s.observe(r) is False and len(s.failures) == 1 and not s.backlog


def test_the_build_fails_only_when_the_last_running_grove_ends() -> None:
    r = rows(("queued", 0), ("queued", 0))
    s = Scheduler.start(r, retries=0, window=None, cancelled=False)
    s.to_send(r)
    r[0].state, r[0].attempt = "failed", 1
    r[1].state, r[1].attempt = "running", 1
    assert s.observe(r) is False  # grove 1 still running
    r[1].state = "done"
    assert s.observe(r) is True  # grove 0 failed long ago, out of retries: now the build has failed


def test_cancel_clears_what_waits() -> None:
    r = rows(*[("queued", 0)] * 4)
    s = Scheduler.start(r, retries=0, window=1, cancelled=False)
    s.to_send(r)
    s.clear()
    assert s.to_send(r) == []


def test_budget_windows_and_verdicts() -> None:
    assert window_for(sync=True, max_cost=None, workers=1) == 1  # --sync: each submit fits its grove
    assert window_for(sync=True, max_cost=None, workers=8) is None  # threads here: all queued, drain drops them
    assert window_for(sync=True, max_cost=0.5, workers=8) == 8
    assert window_for(sync=False, max_cost=0.5, workers=4) == 4
    assert window_for(sync=False, max_cost=0.5, workers=0) == 10
    assert window_for(sync=False, max_cost=None, workers=4) is None
    assert over_budget(projected=None, spent=0.0, trees_done=0, max_cost=1.0) is None
    assert over_budget(projected=0.9, spent=0.1, trees_done=10, max_cost=1.0) is None
    reason = over_budget(projected=2.0, spent=0.2, trees_done=10, max_cost=1.0)
    assert reason is not None and "$2.00 would pass max_cost $1 ($0.200 spent on 10 trees)" in reason
    # A budget of a few millionths of a dollar reads as what it is, not as $0.000000.
    tiny = over_budget(projected=0.0000617, spent=0.0000123, trees_done=2, max_cost=1e-9)
    assert tiny is not None and "$0.0000617 would pass max_cost $1e-09 ($0.0000123 spent" in tiny
    assert over_budget(projected=2.0, spent=0.2, trees_done=10, max_cost=None) is None


def test_a_failure_no_retry_mends_is_not_retried_and_ends_the_build_once_nothing_runs() -> None:
    r = rows(("queued", 0), ("queued", 0), ("queued", 0))
    s = Scheduler.start(r, retries=2, window=1, cancelled=False)
    assert s.to_send(r) == [(0, 1)]
    r[0].state, r[0].attempt = "running", 1
    r[1].state, r[1].attempt = "running", 1  # another grove already running (sent earlier)
    s.dispatched[1] = 1
    r[0].state, r[0].error = "failed", "SpecError: data: shard part-003.parquet is missing"
    assert not s.observe(r)  # grove 1 still runs: wait for it
    assert s.fatal and s.to_send(r) == []  # not retried, and grove 2 is never sent
    r[1].state = "done"
    assert s.observe(r)  # failed now: nothing runs, and grove 2 will not be
    assert [f["grove"] for f in s.failures] == [0]


def test_a_transient_failure_is_still_retried() -> None:
    r = rows(("queued", 0))
    s = Scheduler.start(r, retries=2, window=None, cancelled=False)
    s.to_send(r)
    r[0].state, r[0].attempt, r[0].error = "failed", 1, "Runtime.ExitError: worker died"
    assert not s.observe(r) and not s.fatal
    assert s.to_send(r) == [(0, 2)]
