"""One driver at a time (#23, class 2): who drives a build is decided by the store's exclusive
create, a live driver is never doubled, a dead or garbage lease never holds a build for ever,
and a driver that was taken over stops.

Drivers run as real processes where the question is "another process"; every wait is bounded
(a hang guard, not a speed claim), and dispatches are counted from the REPORT lines the local
backend writes, one per invocation.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lamforest import driver, keys, records
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.driver import lease as leasemod
from lamforest.spec import BuildSpec
from lamforest.store.base import put_json
from tests.waits import wait_for

HANG_GUARD_S = 300
CLI = (sys.executable, "-m", "lamforest.cli")
TINY = dict(data="iris", trees=4, grove=2, seed=3)
SLOW = ["--data", "synthetic:20000x30:3", "-t", "16", "-g", "2", "--workers", "1"]  # 8 groves, one at a time


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def invocations(backend, name: str) -> int:
    """How many times a grove was dispatched: one REPORT line per invocation."""
    log = Path(backend.store.url) / keys.lambda_log(name)
    return sum(line.startswith("REPORT") for line in log.read_text().splitlines()) if log.exists() else 0


def done_groves(backend, name: str) -> int:
    return sum(k.endswith(".done") for k in backend.store.list(keys.states(name)))


def test_finish_while_the_first_driver_lives_is_refused_and_nothing_is_dispatched_twice(home, backend, capsys):
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    first = subprocess.Popen([*CLI, "build", "busy", *SLOW, "--json"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: done_groves(backend, "busy") >= 1, "the first driver to finish a grove")
        assert driver.status(backend, "busy").state == "running"
        assert main(["finish", "busy"]) == 1
        out, err = capsys.readouterr()
        assert "dispatching" not in out  # refused: it never said it would
        assert f"pid {first.pid}" in err and "lamforest status busy" in err, err
        with pytest.raises(leasemod.DriverBusy):
            driver.run(backend, "busy", workers=1)
        assert first.wait(timeout=HANG_GUARD_S) == 0
    finally:
        first.kill()
    st = driver.status(backend, "busy")
    assert st.state == "done" and st.count("done") == 8
    assert invocations(backend, "busy") == 8  # each grove billed once


def test_two_finish_at_once_drive_it_once(home, backend):
    driver.create(backend, BuildSpec(name="twice", data="synthetic:20000x30:3", trees=16, grove=2, seed=1))
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [*CLI, "finish", "twice", "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=HANG_GUARD_S) for p in procs]
    codes = sorted(p.returncode for p in procs)
    errs = [e.decode() for _, e in outs]
    # The second either found the first driving (refused, naming it) or found the build done.
    assert codes[0] == 0 and codes[1] in (0, 1), errs
    if codes[1] == 1:
        assert any("is being driven by pid" in e for e in errs), errs
    assert driver.status(backend, "twice").state == "done"
    assert invocations(backend, "twice") == 8


def test_another_thread_of_this_process_cannot_take_a_held_build(backend):
    driver.create(backend, BuildSpec(name="held", **TINY))
    lease = leasemod.acquire(backend.store, "held")
    with lease:
        assert leasemod.acquire(backend.store, "held") is lease  # the same thread nests (finish -> run)
        out: dict = {}

        def other() -> None:
            try:
                leasemod.acquire(backend.store, "held")
            except leasemod.DriverBusy as exc:
                out["busy"] = str(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(HANG_GUARD_S)
        assert f"pid {os.getpid()}" in out["busy"]
    # Released: the next driver takes it at once, as the next generation.
    with leasemod.acquire(backend.store, "held") as again:
        assert again.gen == lease.gen + 1


@pytest.mark.parametrize(
    "lease",
    [
        b"{not json",
        b"[1, 2]",
        b'{"renewed": "yesterday", "renew_s": "often"}',
        b'{"renewed": 1e300, "renew_s": 5, "host": "elsewhere", "pid": 1}',  # dated in the far future
        b'{"renewed": NaN, "renew_s": NaN, "host": "elsewhere"}',
    ],
    ids=["garbage", "not-an-object", "wrong-types", "future-dated", "nan"],
)
def test_a_forged_lease_never_holds_a_dead_build(backend, monkeypatch, capsys, lease):
    driver.create(backend, BuildSpec(name="forged", **TINY))
    backend.store.put_bytes(keys.lease("forged"), lease)
    monkeypatch.setattr(leasemod, "timeout_for", lambda doc: 0.3)
    watcher = driver.Watcher(backend, "forged")
    watcher.refresh()
    time.sleep(0.4)  # past the (shortened) bound, by the watcher's own clock
    st = watcher.refresh()
    assert st.state == "interrupted" and "lamforest finish forged" in st.hint
    assert main(["finish", "forged", "--workers", "1"]) == 0
    assert driver.status(backend, "forged").state == "done"
    assert invocations(backend, "forged") == 2


def test_a_lease_of_another_host_is_waited_for_bounded_and_said(backend, monkeypatch, capsys):
    driver.create(backend, BuildSpec(name="far", **TINY))
    doc = {"renewed": time.time(), "renew_s": 5, "host": "another-machine", "pid": 4242}
    put_json(backend.store, keys.lease("far"), doc)
    monkeypatch.setattr(leasemod, "timeout_for", lambda doc: 0.5)
    assert main(["finish", "far", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "waiting up to" in err and "pid 4242 on another-machine" in err
    assert driver.status(backend, "far").state == "done"


def test_a_lease_renewed_while_watched_is_a_live_driver(backend, monkeypatch):
    driver.create(backend, BuildSpec(name="alive", **TINY))
    stop = threading.Event()

    def renew() -> None:  # a driver on another machine, renewing
        while not stop.is_set():
            put_json(backend.store, keys.lease("alive"), {"renewed": time.time(), "renew_s": 0.05, "host": "far"})
            stop.wait(0.05)

    put_json(backend.store, keys.lease("alive"), {"renewed": time.time(), "renew_s": 0.05, "host": "far"})
    t = threading.Thread(target=renew, daemon=True)
    t.start()
    try:
        with pytest.raises(leasemod.DriverBusy, match="driven by another driver"):
            leasemod.acquire(backend.store, "alive", poll_s=0.1)
    finally:
        stop.set()
        t.join()
    assert invocations(backend, "alive") == 0


def test_a_driver_taken_over_stops(backend, monkeypatch):
    monkeypatch.setattr(leasemod, "RENEW_S", 0.05)
    driver.create(backend, BuildSpec(name="paused", data="synthetic:20000x30:3", trees=16, grove=2, seed=1))
    seen: list[str] = []

    def progress(st: driver.BuildStatus) -> None:
        # Another driver takes the build as the next generation (as after a pause past the timeout).
        if st.count("done") >= 1 and not seen:
            gen = max(keys.driver_gen("paused", k) or 0 for k in backend.store.list(keys.drivers("paused")))
            backend.store.create(keys.driver("paused", gen + 1), b'{"host": "x"}')
            seen.append("taken")
        time.sleep(0.02)

    with pytest.raises(driver.BuildError, match="another driver took build 'paused' over"):
        driver.run(backend, "paused", workers=1, on_progress=progress)
    assert driver.status(backend, "paused").state != "done"


def test_a_driver_that_stops_watching_leaves_the_build_interrupted_at_once(backend):
    driver.create(backend, BuildSpec(name="quit", data="synthetic:20000x30:3", trees=16, grove=2, seed=1))
    st = driver.run(backend, "quit", workers=1, should_stop=lambda: True)
    assert st.state in ("queued", "running")  # as its driver saw it, the moment it stopped watching
    after = driver.status(backend, "quit")
    assert after.state == "interrupted" and "stopped without finishing" in (after.error or "")
    assert "lamforest finish quit" in after.hint


def test_an_older_format_running_record_naming_a_live_pid_is_not_waited_for(backend):
    """Before records named their process by start time too, a pid alone: any process may hold it now."""
    driver.create(backend, BuildSpec(name="old", **TINY))
    rec = records.grove_record("running", grove=0, trees=2, seed=3, attempt=1, request_id="r", started=time.time())
    for field in ("boot_id", "pid_start"):
        rec.pop(field)
    rec["pid"] = os.getpid()  # alive, and this host
    records.write_grove(backend.store, "old", keys.grove_id(0), rec)
    foreign = {**rec, "grove": 1, "host": "not-" + platform.node()}
    records.write_grove(backend.store, "old", keys.grove_id(1), foreign)
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("st", driver.finish(backend, "old", workers=1)), daemon=True)
    t.start()
    t.join(HANG_GUARD_S)
    assert not t.is_alive(), "finish waited for a record no process stands behind"
    assert out["st"].state == "done" and out["st"].count("done") == 2


@pytest.mark.parametrize("writer", [None, "in-process"])
def test_a_running_record_naming_a_live_process_that_is_no_worker_is_not_waited_for(backend, writer):
    """A record forged (or left) to name a live unrelated process, pid and start time both right: no local
    worker stands behind it, and a record marked in-process is only as alive as the lease's driver, so
    the grove is retried rather than waited on for as long as that process lives."""
    driver.create(backend, BuildSpec(name="squat", **TINY))
    with subprocess.Popen(["sleep", "600"]) as sleeper:
        try:
            rec = records.grove_record(
                "running", grove=0, trees=2, seed=3, attempt=1, request_id="r", started=time.time()
            )
            rec.update(pid=sleeper.pid, pid_start=records.pid_start(sleeper.pid))
            if writer:
                rec["writer"] = writer
            assert records.writer_alive(rec)  # the forgery is good: the pid and its start time match
            records.write_grove(backend.store, "squat", keys.grove_id(0), rec)
            out: dict = {}
            t = threading.Thread(target=lambda: out.setdefault("st", driver.finish(backend, "squat", workers=1)))
            t.daemon = True
            t.start()
            t.join(HANG_GUARD_S)
            assert not t.is_alive(), "finish waited for a process that fits no grove"
        finally:
            sleeper.kill()
    assert out["st"].state == "done" and out["st"].count("done") == 2
    assert records.read_grove(backend.store, "squat", keys.grove_id(0), "done")["attempt"] == 2


@pytest.mark.parametrize("garbage", [b"not json", b"", b"[1, 2]"])
def test_an_unreadable_grove_record_stops_the_driver_naming_it_and_its_advice_works(home, backend, capsys, garbage):
    """A worker skips a grove whose done record exists, so a garbage one was waited on for ever: the
    driver names the file and the way out before dispatching, and following it finishes the build."""
    driver.create(backend, BuildSpec(name="dam", **TINY))
    assert driver.run(backend, "dam", workers=1).state == "done"
    store = backend.store
    for key in (keys.summary("dam"), keys.manifest("dam"), keys.model("dam")):
        store.delete(key)  # back to "not finished"
    store.put_bytes(keys.state("dam", keys.grove_id(1), "done"), garbage)
    before = invocations(backend, "dam")
    assert main(["--home", str(home), "finish", "dam", "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "g00001.done cannot be read" in err and "g00001.tree" in err and "lamforest finish dam" in err
    assert invocations(backend, "dam") == before  # nothing dispatched
    # Followed literally: delete both files, finish.
    store.delete(keys.state("dam", keys.grove_id(1), "done"))
    store.delete(keys.grove("dam", keys.grove_id(1)))
    assert main(["--home", str(home), "finish", "dam", "--workers", "1"]) == 0
    st = driver.status(backend, "dam")
    assert st.state == "done" and st.count("done") == 2 and invocations(backend, "dam") == before + 1


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_driver_sent_a_signal_releases_its_lease(home, backend, sig):
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    proc = subprocess.Popen([*CLI, "build", "sig", *SLOW], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: done_groves(backend, "sig") >= 1, "the driver to finish a grove")
        proc.send_signal(getattr(signal, sig))
        assert proc.wait(timeout=HANG_GUARD_S) == 128 + getattr(signal, sig)
    finally:
        proc.kill()
    st = driver.status(backend, "sig")
    # Released by the driver itself: said as such, not inferred from a dead pid or a timeout.
    assert st.state == "interrupted" and "stopped without finishing" in (st.error or ""), st.to_json()
    assert main(["finish", "sig", "--workers", "1"]) == 0
    assert driver.status(backend, "sig").state == "done"


@pytest.mark.parametrize(
    "lease", [b"garbage{{", b'{"renewed": 1e300, "host": "far", "pid": 3}'], ids=["garbage", "future"]
)
def test_a_fresh_status_sees_a_lease_that_names_no_believable_renewal_as_interrupted(backend, lease):
    """`status` is a new process each time: a lease it cannot date is no sign of a live driver."""
    driver.create(backend, BuildSpec(name="odd", **TINY))
    backend.store.put_bytes(keys.lease("odd"), lease)
    st = driver.status(backend, "odd")
    assert st.state == "interrupted" and "no believable renewal time" in (st.error or "")


def test_a_driver_whose_claim_is_deleted_and_replaced_stops(backend, monkeypatch):
    """Both lock files deleted and another driver's claim in their place: the first driver stops at its
    next renewal rather than dispatch beside the other."""
    monkeypatch.setattr(leasemod, "RENEW_S", 0.05)
    driver.create(backend, BuildSpec(name="robbed", data="synthetic:20000x30:3", trees=16, grove=2, seed=1))
    done: list[str] = []

    def progress(st: driver.BuildStatus) -> None:
        if st.count("done") >= 1 and not done:
            for key in backend.store.list(keys.drivers("robbed")):
                backend.store.delete(key)
            backend.store.delete(keys.lease("robbed"))
            backend.store.create(keys.driver("robbed", 1), b'{"token": "someone-else"}')
            done.append("x")
        time.sleep(0.02)

    with pytest.raises(driver.BuildError, match="claim of build 'robbed' was removed or replaced"):
        driver.run(backend, "robbed", workers=1, on_progress=progress)


def test_a_build_whose_held_out_rows_are_gone_dispatches_nothing(home, backend, capsys):
    driver.create(backend, BuildSpec(name="blind", **TINY))
    (home / keys.test_set("blind")).unlink()
    assert main(["finish", "blind"]) == 1
    err = capsys.readouterr().err
    assert "test.npz (the held-out rows) is missing" in err and "nothing is dispatched" in err
    assert invocations(backend, "blind") == 0


def test_finish_says_it_dispatches_once_and_only_when_it_drives(home, backend, capsys):
    driver.create(backend, BuildSpec(name="resume", **TINY))
    assert main(["finish", "resume"]) == 0
    # A build this small is fitted here ("fitting them here on N threads"), said once all the same.
    assert capsys.readouterr().out.count("grove(s) not done;") == 1
