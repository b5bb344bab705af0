"""Honest states and no hangs: a pool of no workers, a full disk, a reused pid, a dead driver.

Each test that could hang runs the driver in a thread (or a process) and waits for it
with a generous timeout: a hang guard, not a speed claim.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lamforest import driver, keys, records
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.driver import lease as leasemod
from lamforest.records import writer_alive
from lamforest.spec import BuildSpec, SpecError
from lamforest.store.base import get_json, put_json
from lamforest.store.local import LocalStore
from lamforest.worker import handler
from lamforest.worker.fit import GroveNotRecorded

HANG_GUARD_S = 300
CLI = (sys.executable, "-m", "lamforest.cli")
TINY = dict(data="iris", trees=4, grove=2, seed=3)


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def in_thread(fn, *args, **kwargs) -> dict:
    """Run ``fn`` in a daemon thread and wait for it, bounded; return its result or error."""
    out: dict = {}

    def go() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # surfaced by the test
            out["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(HANG_GUARD_S)
    assert not t.is_alive(), f"{fn.__name__} did not end"
    return out


def enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --------------------------------------------------------------------------- hang 1: --workers -1


@pytest.mark.parametrize("workers", ["-1", "0"])
def test_workers_below_one_is_bad_input_at_once(home: Path, workers: str):
    proc = subprocess.run(
        [sys.executable, "-m", "lamforest.cli", "build", "w1", "--data", "iris", "--workers", workers],
        env={**os.environ, "LAMFOREST_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "workers" in lines[0] and "at least 1" in lines[0], proc.stderr
    assert not (home / "builds" / "w1").exists()  # refused before anything was written


def test_driver_run_refuses_workers_below_one(backend):
    driver.create(backend, BuildSpec(name="w2", **TINY))
    with pytest.raises(SpecError) as info:
        driver.run(backend, "w2", workers=0)
    assert info.value.field == "workers"
    assert driver.status(backend, "w2").state == "queued"


# --------------------------------------------------------------------------- hang 2: a full disk


def test_disk_full_while_writing_the_grove_ends_in_a_failed_build(backend, monkeypatch):
    """The grove's write fails with ENOSPC: each attempt is a failed record saying so, the
    retries are bounded, and the build ends failed instead of waiting."""
    driver.create(backend, BuildSpec(name="full", retries=1, **TINY))
    put = LocalStore.put_bytes

    def full_for_groves(self, key, data):
        if "/groves/" in key:
            enospc()
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", full_for_groves)
    out = in_thread(driver.run, backend, "full", sync=True)
    assert "error" not in out, out.get("error")
    st = out["value"]
    assert st.state == "failed"
    assert all(r.state == "failed" and "No space left" in r.error for r in st.rows)
    assert all(r.attempt == 2 for r in st.rows)  # one try and one retry, then no more
    assert len(st.summary["failures"]) == 2 * len(st.rows)
    assert "No space left" in st.summary["error"]


def test_disk_full_for_every_record_ends_with_an_error_not_a_wait(backend, monkeypatch):
    """Nothing of the grove can be written, not even a failed record: the driver stops at
    once with an error naming the cause and how to resume, and keeps the build."""
    driver.create(backend, BuildSpec(name="full2", **TINY))
    put = LocalStore.put_bytes

    def full_for_groves_and_records(self, key, data):
        if "/groves/" in key or "/state/" in key:
            enospc()
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", full_for_groves_and_records)
    out = in_thread(driver.run, backend, "full2", sync=True)
    err = out.get("error")
    assert isinstance(err, driver.BuildError), out
    assert "No space left" in str(err) and "lamforest finish full2" in str(err)
    assert not [k for k in backend.store.list(keys.states("full2")) if k.endswith(".running")]


def test_a_worker_that_cannot_record_raises_and_the_pool_records_the_grove(home: Path, monkeypatch):
    """The running record was written, then the disk filled: the handler raises, naming the
    cause; the grove is then recorded failed by whoever ran it (here the in-process pool,
    once there is room again), over the running record it left."""
    from lamforest.backend.pool import record_unrecorded

    b = local_backend(home)
    try:
        plan = driver.create(b, BuildSpec(name="full3", **TINY))
    finally:
        b.close()
    store = LocalStore(home)
    put = LocalStore.put_bytes

    def fill_after_running(self, key, data):
        if not key.endswith(".running"):
            enospc()
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", fill_after_running)
    event = plan.events()[0].to_event()
    with pytest.raises(GroveNotRecorded, match="No space left") as info:
        handler(event, store=store)
    gid = keys.grove_id(0)
    assert store.exists(keys.state("full3", gid, "running"))
    # While the disk is still full, the pool cannot record it either and says why (it is then broken).
    problem = record_unrecorded(store, event, "Runtime.HandlerError", str(info.value))
    assert problem and "No space left" in problem
    monkeypatch.setattr(LocalStore, "put_bytes", put)
    assert record_unrecorded(store, event, "Runtime.HandlerError", str(info.value)) is None
    with local_backend(home) as b:
        row = driver.status(b, "full3").rows[0]
    assert row.state == "failed" and "No space left" in row.error


def test_a_short_failed_record_is_written_when_the_full_one_does_not_fit(home: Path, monkeypatch):
    b = local_backend(home)
    try:
        plan = driver.create(b, BuildSpec(name="full4", **TINY))
    finally:
        b.close()
    store = LocalStore(home)
    put = LocalStore.put_bytes

    def room_for_small_records(self, key, data):
        if "/groves/" in key or b'"traceback"' in data:  # the record with a traceback does not fit
            enospc()
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", room_for_small_records)
    result = handler(plan.events()[1].to_event(), store=store)
    assert result["groves"][0]["state"] == "failed"
    rec = get_json(store, keys.state("full4", keys.grove_id(1), "failed"))
    assert rec["error"] == "OSError" and "No space left" in rec["message"] and "traceback" not in rec
    assert not store.exists(keys.state("full4", keys.grove_id(1), "running"))


# --------------------------------------------------------------------------- hang 3: a reused pid


def running_record_for(pid: int, grove: int, pid_start: int | None) -> dict:
    """A running record written by ``pid`` (as another process would have written it)."""
    rec = records.grove_record(
        "running", grove=grove, trees=2, seed=1, attempt=1, request_id="r", started=time.time(), pid=pid
    )
    rec.update(boot_id=records.boot_id(), pid_start=pid_start, host=platform.node())
    return rec


def test_a_running_record_whose_pid_now_belongs_to_another_process_is_stale(backend):
    # A stand-in for a local worker: its command line names the worker module, as the pool's do.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "lamforest.worker.local"])
    try:
        true_start = records.pid_start(sleeper.pid)
        assert true_start is not None
        same = running_record_for(sleeper.pid, 0, true_start)
        reused = running_record_for(sleeper.pid, 0, true_start + 1)
        other_boot = {**same, "boot_id": "not-this-boot"}
        assert writer_alive(same) and not backend.is_stale(same)
        assert not writer_alive(reused) and backend.is_stale(reused)
        assert backend.is_stale(other_boot)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert backend.is_stale(same)  # and once it ended, its own record is stale too


def test_finish_redispatches_a_grove_whose_running_record_names_a_reused_pid(backend):
    """The driver died; the pid of the worker that ran grove 0 now belongs to an unrelated
    live process. `finish` must see through it and fit the grove, not wait for it."""
    driver.create(backend, BuildSpec(name="reuse", **TINY))
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        rec = running_record_for(sleeper.pid, 0, records.pid_start(sleeper.pid) + 7)
        records.write_grove(backend.store, "reuse", keys.grove_id(0), rec)
        row = driver.status(backend, "reuse").rows[0]
        assert row.state == "failed" and "Runtime.Lost" in row.error  # a lost attempt, not a live grove
        out = in_thread(driver.finish, backend, "reuse", workers=1)
        assert "error" not in out, out.get("error")
        st = out["value"]
        assert st.state == "done" and st.count("done") == 2
        assert st.rows[0].record["pid"] != sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


# --------------------------------------------------------------------------- the driver's lease


def test_a_build_no_driver_ran_is_queued_not_interrupted(backend, monkeypatch):
    driver.create(backend, BuildSpec(name="never", **TINY))
    monkeypatch.setattr(leasemod, "timeout_for", lambda doc: 0.0)
    st = driver.status(backend, "never")
    assert st.state == "queued" and st.hint is None
    assert not backend.store.exists(keys.lease("never"))


def test_a_lapsed_lease_shows_interrupted_with_how_to_resume(backend, capsys):
    driver.create(backend, BuildSpec(name="gone", **TINY))
    rec = records.grove_record("done", grove=0, trees=2, seed=1, attempt=1, request_id="r", started=time.time() - 5)
    records.write_grove(backend.store, "gone", keys.grove_id(0), rec)
    put_json(backend.store, keys.lease("gone"), {"renewed": time.time() - 3600, "renew_s": 5})
    st = driver.status(backend, "gone")
    assert st.state == "interrupted"
    assert "lamforest finish gone" in st.hint
    doc = st.to_json()
    assert doc["state"] == "interrupted" and "lamforest finish gone" in doc["hint"]
    elapsed = st.elapsed_s
    time.sleep(0.05)
    assert st.elapsed_s == elapsed  # no clock counting for a build nobody drives
    # A fresh lease (a driver came back) is not interrupted.
    put_json(backend.store, keys.lease("gone"), {"renewed": time.time(), "renew_s": 5})
    assert driver.status(backend, "gone").state == "running"
    put_json(backend.store, keys.lease("gone"), {"renewed": time.time() - 3600, "renew_s": 5})
    assert main(["status", "gone"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "lamforest finish gone" in out
    assert main(["builds"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "lamforest finish gone" in out


def test_run_renews_the_lease_and_the_finished_build_is_done(backend, monkeypatch):
    monkeypatch.setattr(leasemod, "RENEW_S", 0.05)
    driver.create(backend, BuildSpec(name="leased", **TINY))
    renewals: list[float] = []
    put = LocalStore.put_bytes

    def spy(self, key, data):
        if key == keys.lease("leased"):
            renewals.append(json.loads(data)["renewed"])
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", spy)
    st = driver.run(backend, "leased", workers=1, on_progress=lambda s: time.sleep(0.02))
    assert st.state == "done"
    assert len(renewals) >= 2 and renewals == sorted(renewals)  # renewed while it ran, not just once
    # A lease left behind never makes a finished build look interrupted.
    monkeypatch.setattr(leasemod, "timeout_for", lambda doc: 0.0)
    assert driver.status(backend, "leased").state == "done"


def test_a_killed_driver_leaves_an_interrupted_build_that_finish_resumes(home: Path, monkeypatch):
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    proc = subprocess.Popen(
        [*CLI, "build", "dead", "--data", "synthetic:20000x30:3", "-t", "16", "-g", "2", "--workers", "1", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    backend = local_backend(home)
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while not backend.store.exists(keys.lease("dead")) or not any(
            k.endswith(".done") for k in backend.store.list(keys.states("dead"))
        ):
            assert time.monotonic() < deadline, "the driver never wrote its lease or finished a grove"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, as a lost terminal would
        proc.wait(timeout=60)
        assert driver.status(backend, "dead").state != "done"
        monkeypatch.setattr(leasemod, "timeout_for", lambda doc: 0.5)
        time.sleep(0.6)
        st = driver.status(backend, "dead")
        assert st.state == "interrupted", st.to_json()
        assert "lamforest finish dead" in st.hint
        elapsed = st.elapsed_s
        assert elapsed > 0
        time.sleep(0.2)
        assert driver.status(backend, "dead").elapsed_s == pytest.approx(elapsed)  # its clock stopped
        out = in_thread(driver.finish, backend, "dead", workers=1)
        assert "error" not in out, out.get("error")
        assert out["value"].state == "done"
        assert driver.status(backend, "dead").state == "done"
    finally:
        backend.close()


# --------------------------------------------------------------------------- no silent surprises


def test_cancel_of_a_finished_build_says_so_and_changes_nothing(backend, capsys):
    driver.create(backend, BuildSpec(name="over", **TINY))
    assert driver.run(backend, "over", sync=True).state == "done"
    before = backend.store.list(keys.build("over"))
    assert main(["cancel", "over"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already ended (done)" in err[0] and "nothing changed" in err[0]
    assert backend.store.list(keys.build("over")) == before
    assert not backend.store.exists(keys.cancel("over"))
    assert driver.status(backend, "over").state == "done"


def test_predict_and_finish_of_a_failed_build_say_what_can_be_done(backend, monkeypatch, capsys):
    driver.create(backend, BuildSpec(name="bad", retries=0, **TINY))
    put = LocalStore.put_bytes

    def full_for_groves(self, key, data):
        if "/groves/" in key:
            enospc()
        return put(self, key, data)

    monkeypatch.setattr(LocalStore, "put_bytes", full_for_groves)
    assert driver.run(backend, "bad", sync=True).state == "failed"
    monkeypatch.setattr(LocalStore, "put_bytes", put)
    for argv in (["predict", "bad"], ["finish", "bad"]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert "failed" in err[0] and "start a new build" in err[0] and "No space left" in err[0]
        assert "run `lamforest finish" not in err[0]


class _Raw:
    """An event as the pool sends it, whatever its content."""

    def __init__(self, body: dict) -> None:
        self.body = body

    def to_event(self) -> dict:
        return self.body


def test_a_worker_process_whose_handler_raises_still_ends_its_grove(home: Path):
    """In the real pool: an invocation that raises leaves no record of its own; the pool
    records the grove failed, so the driver sees an end instead of a grove queued for ever."""
    from lamforest.backend.pool import LocalCompute

    b = local_backend(home)
    try:
        plan = driver.create(b, BuildSpec(name="raise", **TINY))
    finally:
        b.close()
    body = plan.events()[0].to_event()
    body["params"] = "not a mapping"  # the worker's event validation refuses it and raises
    store = LocalStore(home)
    failed = keys.state("raise", keys.grove_id(0), "failed")
    with LocalCompute(store, workers=1) as pool:
        pool.submit([_Raw(body)])
        deadline = time.monotonic() + HANG_GUARD_S
        while not store.exists(failed):
            assert time.monotonic() < deadline, "the grove was never recorded"
            time.sleep(0.05)
        assert pool.broken is None
    rec = get_json(store, failed)
    assert rec["error"] == "Runtime.HandlerError" and "params" in rec["message"]


class _LosingCompute:
    """Runs grove events in this process, except that each grove's first attempt is 'lost':
    its worker writes a running record and vanishes (a dead pid), as an environment killed
    with no one left to record it would."""

    name = "losing"
    workers = 1
    broken = None

    def __init__(self, store: LocalStore, dead_pid: int) -> None:
        self.store = store
        self.dead_pid = dead_pid

    def submit(self, events) -> None:
        for event in events:
            if event.attempt == 1:
                rec = records.grove_record(
                    "running",
                    grove=event.grove,
                    trees=event.trees,
                    seed=event.seed,
                    attempt=1,
                    request_id="vanished",
                    started=time.time(),
                    pid=self.dead_pid,
                )
                records.write_grove(self.store, event.build, event.gid, rec)
            else:
                handler(event.to_event(), store=self.store)

    def drain(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def wait(self, timeout: float) -> None:
        time.sleep(timeout)


def test_a_grove_whose_worker_vanishes_mid_build_is_retried_not_waited_on(backend):
    gone = subprocess.Popen(["true"])
    gone.wait()
    losing = replace(backend, make_compute=lambda spec, workers, sync: _LosingCompute(backend.store, gone.pid))
    driver.create(backend, BuildSpec(name="vanish", **TINY))
    out = in_thread(driver.run, losing, "vanish")
    assert "error" not in out, out.get("error")
    st = out["value"]
    assert st.state == "done" and all(r.attempt == 2 for r in st.rows)
    lost = [f for f in st.summary["failures"] if "Runtime.Lost" in f["error"]]
    assert len(lost) == len(st.rows)


def test_predict_of_a_cancelled_build_says_it_has_no_model(backend, capsys):
    driver.create(backend, BuildSpec(name="stopped", **TINY))
    driver.cancel(backend, "stopped")  # before any driver ran it: a marker, no summary yet
    assert main(["predict", "stopped"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was cancelled" in err[0] and "start a new build" in err[0], err
    assert "lamforest finish" not in err[0]
