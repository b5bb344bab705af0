"""Invariants 6 and 7: a worker killed mid-grove, and cancel from another process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from lamforest import artifacts, driver
from lamforest.backend import local_backend
from lamforest.spec import BuildSpec
from lamforest.store.base import get_json
from tests.waits import wait_for

SLOW = dict(data="synthetic:20000x30:3", trees=16, grove=4, chunk=1, seed=1)
# 3 groves of 24 trees, a cancel check after each tree: every grove fits for seconds, so a
# cancel sent from another process while the first two run lands mid-grove.
LONG = {**SLOW, "trees": 72, "grove": 24}
DEADLINE_S = 300


def running_records(backend, name: str) -> list[dict]:
    keys = [k for k in backend.store.list(f"builds/{name}/state/") if k.endswith(".running")]
    out = []
    for k in keys:
        with contextlib.suppress(KeyError):  # finished between list and read
            out.append(get_json(backend.store, k))
    return out


def start_in_thread(backend, name: str) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def go() -> None:
        try:
            result["status"] = driver.run(backend, name, workers=2)
        except BaseException as exc:  # surfaced by the test
            result["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, result


def test_worker_killed_mid_grove_is_retried_and_leaves_no_partial_artifact(home: Path):
    backend = local_backend(home)
    try:
        driver.create(backend, BuildSpec(name="kill", **SLOW))
        thread, result = start_in_thread(backend, "kill")
        victim = wait_for(lambda: running_records(backend, "kill"), "a running grove")[0]
        os.kill(victim["pid"], signal.SIGKILL)
        thread.join(DEADLINE_S)
        assert "error" not in result, result.get("error")
        st = result["status"]
        assert st.state == "done", st.to_json()
        failures = st.summary["failures"]
        killed = [f for f in failures if f["grove"] == victim["grove"]]
        # Whichever sees the death first records it: the pool (exit status) or the watcher (a dead pid).
        assert killed, failures
        why = killed[0]["error"]
        assert ("Runtime.ExitError" in why and "signal 9" in why) or why.startswith("Runtime.Lost"), why
        row = st.rows[victim["grove"]]
        assert row.state == "done" and row.attempt == 2
        groves_dir = home / "builds" / "kill" / "groves"
        assert sorted(p.name for p in groves_dir.iterdir()) == [f"g{i:05d}.tree" for i in range(4)]
        for p in groves_dir.iterdir():
            assert artifacts.loads_grove(p.read_bytes()).trees == 4  # every artifact is whole
        assert driver.load_model(backend, "kill").n_estimators == 16
        log = (home / "builds" / "kill" / "lambda.log").read_text()
        assert "Runtime.ExitError" in log and "Status: error" in log
    finally:
        backend.close()


def test_cancel_from_another_process_stops_within_one_chunk(home: Path):
    backend = local_backend(home)
    try:
        driver.create(backend, BuildSpec(name="stop", **LONG))
        thread, result = start_in_thread(backend, "stop")
        wait_for(lambda: running_records(backend, "stop"), "a running grove")
        subprocess.run(
            [sys.executable, "-m", "lamforest.cli", "cancel", "stop"],
            check=True,
            timeout=120,
            env={**os.environ, "LAMFOREST_HOME": str(home)},
            capture_output=True,
        )
        thread.join(DEADLINE_S)
        assert "error" not in result, result.get("error")
        st = result["status"]
        assert st.state == "cancelled"
        assert st.cancel_reason == "cancelled by user"
        # Groves that were fitting stopped at a chunk boundary, before their last tree.
        stopped = [r for r in st.rows if r.state == "cancelled" and r.record.get("started")]
        assert stopped, [r.state for r in st.rows]
        for r in stopped:
            fitted = int(r.record["message"].split("after ")[1].split(" trees")[0])
            assert fitted < r.trees
        # No grove that started after the marker was written ran to the end.
        marked_at = get_json(backend.store, "builds/stop/CANCEL")["at"]
        for r in st.rows:
            if r.state == "done":
                assert r.started < marked_at
        assert st.count("done") < len(st.rows)
        # The store stays readable by every command.
        assert driver.status(backend, "stop").state == "cancelled"
        assert [s.name for s in driver.list_builds(backend)] == ["stop"]
        assert not list((home / "builds" / "stop" / "groves").glob(".*"))
    finally:
        backend.close()


def test_driver_killed_then_finish_resumes(home: Path):
    """Kill the driver process mid-build; `finish` dispatches what is missing and merges."""
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lamforest.cli",
            "build",
            "resume",
            "--data",
            SLOW["data"],
            "-t",
            "16",
            "-g",
            "4",
            "--json",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    backend = local_backend(home)
    try:
        wait_for(
            lambda: backend.store.exists("builds/resume/spec.json") and running_records(backend, "resume"),
            "the driver to start a grove",
        )
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, as a lost terminal would
        proc.wait(timeout=60)
        mid = driver.status(backend, "resume")
        # Its driver's process is gone on this host: interrupted at once, no lease timeout to wait out.
        assert mid.state == "interrupted" and mid.count("done") < 4, mid.to_json()
        assert "has ended" in (mid.error or "") and "lamforest finish resume" in (mid.hint or "")
        st = driver.finish(backend, "resume", workers=2)
        assert st.state == "done" and st.count("done") == 4
        assert driver.load_model(backend, "resume").n_estimators == 16
    finally:
        backend.close()
