"""The TUI as a process in a real terminal (tmux): CPU over a minute, memory, key-to-screen latency.

Targets: idle on a list of 50 finished builds under 3 % of one core;
watching a running 1,000-grove build under 15 %; a key answered on screen in
under 50 ms (median) while that build runs.

Scenarios, each a fresh ``lamforest-tui`` in a detached tmux session at
160x45 on a temporary local store written with ``lamforest_tui.testing``:

1. idle: 50 finished builds of 100 groves; the builds list is left alone.
2. watching: a 1,000-grove build whose groves a separate writer process moves
   queued -> running -> done (20 start and 20 end per second, with their
   START/END/REPORT lines), its build screen open.

CPU is the TUI process's user+system time (``/proc/PID/stat``) over the
window. Latency: ``?`` is sent with ``tmux send-keys`` and the pane is polled
until the help text is on it; ``escape`` closes it; repeated. The poll's own
resolution is ~2 ms.

Run: ``python bench/bench_tui_cpu.py [seconds]`` (default 60 s per scenario; needs tmux).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lamforest.backend import local_backend
from lamforest_tui.testing import FIXED_CREATED, write_finished_build, write_grove, write_plan

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TUI = str(Path(PY).parent / "lamforest-tui")
GROVES, PER_S = 1000, 20
WRITER = f"""
import sys, time
from lamforest.backend import local_backend
from lamforest.driver import load_plan
from lamforest_tui.testing import write_grove
backend = local_backend(sys.argv[1])
plan = load_plan(backend, "watched")
g, started = 0, {{}}
while g < {GROVES} or started:
    now = time.time()
    for k in [k for k, t in started.items() if now - t >= 1.0]:
        write_grove(backend.store, plan, k, "done", started=started.pop(k), duration_s=1.0)
    for _ in range({PER_S} // 4):
        if g < {GROVES}:
            write_grove(backend.store, plan, g, "running", started=now)
            started[g] = now
            g += 1
    time.sleep(0.25)
"""


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def start(session: str, home: str) -> int:
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45", f"{TUI} --home {home} --workers 1")
    for _ in range(200):
        out = subprocess.run(["pgrep", "-f", f"{TUI} --home {home}"], capture_output=True, text=True).stdout.split()
        pids = [int(p) for p in out if Path(f"/proc/{p}/exe").exists() and "python" in os.readlink(f"/proc/{p}/exe")]
        if pids and "lamforest" in tmux("capture-pane", "-t", session, "-p"):
            return pids[0]
        time.sleep(0.05)
    raise RuntimeError("the TUI did not start")


def wait_for(session: str, text: str, timeout: float = 5.0, gone: bool = False) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if (text in tmux("capture-pane", "-t", session, "-p")) != gone:
            return (time.perf_counter() - t0) * 1000
        time.sleep(0.002)
    raise RuntimeError(f"{text!r} never showed")


def measure(pid: int, seconds: float) -> tuple[float, float, float]:
    hz = os.sysconf("SC_CLK_TCK")
    rss0, a = rss_mb(pid), cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - a) / hz / seconds * 100, rss0, rss_mb(pid)


CURSOR = "48;5;32m"  # the row cursor's background, as tmux reports it (both tables use Textual's block cursor)


def cursor_line(session: str) -> int:
    lines = tmux("capture-pane", "-t", session, "-p", "-e").splitlines()
    return next((i for i, line in enumerate(lines) if CURSOR in line), -1)


def cursor_latency(session: str, n: int = 20) -> list[float]:
    """``down`` then ``up``, each timed until the cursor's line moved on the pane."""
    out = []
    for i in range(n):
        before = cursor_line(session)
        key = "Down" if i % 2 == 0 else "Up"
        t0 = time.perf_counter()
        tmux("send-keys", "-t", session, key)
        while cursor_line(session) == before and time.perf_counter() - t0 < 5:
            time.sleep(0.002)
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.2)
    return out


def latency(session: str, n: int = 20) -> list[float]:
    out = []
    for _ in range(n):
        tmux("send-keys", "-t", session, "?")
        out.append(wait_for(session, "lamforest-tui keys"))
        tmux("send-keys", "-t", session, "Escape")
        wait_for(session, "lamforest-tui keys", gone=True)
        time.sleep(0.2)
    return out


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> None:
    if not shutil.which("tmux"):
        print("bench_tui_cpu needs tmux")
        return
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    rows = []
    with tempfile.TemporaryDirectory() as home:
        with local_backend(home) as backend:
            for i in range(50):
                write_finished_build(backend.store, f"done-{i:02d}", groves=100, created=FIXED_CREATED + i)
        pid = start("lf-bench-idle", home)
        time.sleep(3)
        cpu, rss0, rss1 = measure(pid, seconds)
        rows.append(
            (
                "idle: list of 50 finished builds",
                cpu,
                rss0,
                rss1,
                cursor_latency("lf-bench-idle", 10),
                latency("lf-bench-idle", 10),
            )
        )
        tmux("kill-session", "-t", "lf-bench-idle")

    with tempfile.TemporaryDirectory() as home:
        with local_backend(home) as backend:
            plan = write_plan(backend.store, "watched", trees=GROVES * 5, grove=5, created=time.time())
            write_grove(backend.store, plan, 0, "running", started=time.time())
        pid = start("lf-bench-watch", home)
        wait_for("lf-bench-watch", "watched")
        tmux("send-keys", "-t", "lf-bench-watch", "Enter")
        wait_for("lf-bench-watch", "grove duration")
        writer = subprocess.Popen([PY, "-c", WRITER, home], cwd=ROOT)
        try:
            time.sleep(2)
            cpu, rss0, rss1 = measure(pid, seconds)
            cur = cursor_latency("lf-bench-watch", 20)
            lat = latency("lf-bench-watch", 20)
        finally:
            writer.kill()
            tmux("kill-session", "-t", "lf-bench-watch")
        rows.append((f"watching a running {GROVES:,}-grove build", cpu, rss0, rss1, cur, lat))

    print(f"lamforest-tui in tmux 160x45, {seconds:.0f} s per scenario; key-to-screen ms as median / p90")
    print(f"{'scenario':<40}{'CPU % of a core':>16}{'RSS MB start/end':>18}{'down/up':>14}{'? (help)':>14}")
    for label, cpu, rss0, rss1, cur, lat in rows:
        keys = [f"{statistics.median(v):.0f} / {p90(v):.0f}" for v in (cur, lat)]
        print(f"{label:<40}{cpu:>16.1f}{f'{rss0:.0f} / {rss1:.0f}':>18}{keys[0]:>14}{keys[1]:>14}")
    print("targets: idle < 3 %, watching < 15 %, key median < 50 ms")


if __name__ == "__main__":
    main()
