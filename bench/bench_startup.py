"""Start-up: what a worker's INIT and the light commands cost, each in whole fresh processes.

Every cold start pays the worker's imports (Lambda bills the INIT of a container image and
reports it as ``Init Duration``); the driver's light commands pay theirs on every call.
Rows (median of ``--repeats`` fresh processes, interleaved so a noisy moment hits them all;
wall time from spawn to exit, peak RSS is the child's own ``ru_maxrss``):

- ``python -c pass``: the interpreter alone;
- ``import sklearn.ensemble``: the floor any worker pays (a fit needs it);
- *Lambda handler INIT*: ``from lamforest.worker import handler``, what the image's runtime
  resolves from its CMD;
- *local worker, spawn to ready*: ``python -m lamforest.worker.local`` as the pool starts it,
  timed to its ready line (the span its first REPORT gives as ``Init Duration``), then told to end;
- ``lamforest status NAME``, ``builds``, ``cancel NAME`` (run as ``python -m lamforest.cli``): on a
  local store holding one small finished build (``cancel`` of a finished build reads it, says so
  and exits 1, changing nothing).

Each ``--python`` interpreter gets a column: the project's own environment (pandas installed)
and one with only the Lambda image's packages (``pip install -r image/requirements.txt`` and
``pip install --no-deps -e .`` in a fresh venv). The commands need the driver's packages, so
their rows are left empty for an interpreter that lacks ``rich``. Bytecode is compiled once by a
warm-up run into a cache in a temporary folder (``PYTHONPYCACHEPREFIX``), as an installed
package and the image (``compileall``) have it; the machine's load average is printed with the
table, since two busy cores move every number here.

Run: ``python -m bench.bench_startup [--python PATH ...] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BUILD = "bench"
WORKER_MEMORY_MB = 10240  # the local environment's configured size; it limits nothing here
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Row:
    label: str
    argv: tuple[str, ...]  # after the interpreter; "{lamforest}" runs the command line
    kind: str = "exit"  # "exit": run to the end; "ready": a local worker, timed to its ready line
    needs_driver: bool = False


ROWS = (
    Row("python -c pass", ("-c", "pass")),
    Row("import sklearn.ensemble (floor)", ("-c", "import sklearn.ensemble")),
    Row("Lambda handler INIT", ("-c", "from lamforest.worker import handler")),
    Row("local worker, spawn to ready", ("-m", "lamforest.worker.local"), kind="ready"),
    Row("lamforest status NAME", ("{lamforest}", "status", BUILD), needs_driver=True),
    Row("lamforest builds", ("{lamforest}", "builds"), needs_driver=True),
    Row("lamforest cancel NAME", ("{lamforest}", "cancel", BUILD), needs_driver=True),
)


@dataclass(frozen=True)
class Interpreter:
    python: str
    label: str
    has_driver: bool

    def argv(self, row: Row, home: str) -> list[str]:
        if row.kind == "ready":
            return [self.python, *row.argv, home, str(WORKER_MEMORY_MB), str(time.time_ns())]
        if row.argv[0] == "{lamforest}":
            return [self.python, "-m", "lamforest.cli", *row.argv[1:]]
        return [self.python, *row.argv]


def child_env(home: str, pycache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # Bytecode as an installed package has it, without writing into the source tree.
    return {**env, "LAMFOREST_HOME": home, "PYTHONPYCACHEPREFIX": pycache}


def describe(python: str, env: dict[str, str]) -> Interpreter:
    probe = (
        "import importlib.util as u, json, sys; "
        "print(json.dumps([sys.version.split()[0], bool(u.find_spec('pandas')), bool(u.find_spec('rich'))]))"
    )
    out = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60)
    version, pandas, rich = json.loads(out.stdout)
    venv = Path(python).parent.parent.name
    return Interpreter(python, f"{venv} py{version}{' +pandas' if pandas else ' no pandas'}", rich)


def measure(argv: list[str], env: dict[str, str], kind: str) -> tuple[float, float, int]:
    """One fresh process: wall seconds (to exit, or to the ready line), peak RSS in MB, exit code."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE if kind == "ready" else subprocess.DEVNULL,
        stdout=subprocess.PIPE if kind == "ready" else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wall = None
    if kind == "ready":
        assert proc.stdout is not None and proc.stdin is not None
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        wall = time.perf_counter() - t0
        if '"ready"' not in line:
            proc.kill()
        proc.stdin.close()  # no invocation: the environment ends
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if wall is None:
        wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024, proc.returncode  # Linux reports KB


def make_store(python: str, env: dict[str, str]) -> None:
    """One small finished build, so the commands read a real store."""
    argv = [python, "-m", "lamforest.cli", "build", BUILD, "--data", "iris", "-t", "2", "-g", "1", "--json"]
    subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=600)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--python",
        action="append",
        help="an interpreter to measure (repeatable; default: this one). "
        "The commands' rows need one with the driver's packages.",
    )
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per row and interpreter")
    args = p.parse_args()
    pythons = args.python or [sys.executable]

    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as pycache:
        env = child_env(home, pycache)
        interps = [describe(py, env) for py in pythons]
        driver = next((i for i in interps if i.has_driver), None)
        if driver is not None:
            make_store(driver.python, env)
        cells = [(row, i) for row in ROWS for i in interps if i.has_driver or not row.needs_driver]
        for row, interp in cells:  # warm-up: fills the bytecode cache, not counted
            measure(interp.argv(row, home), env, row.kind)
        load_before = os.getloadavg()
        samples: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        for _ in range(args.repeats):
            for row, interp in cells:
                samples.setdefault((row.label, interp.label), []).append(measure(interp.argv(row, home), env, row.kind))
        load_after = os.getloadavg()

    print(f"\nstart-up: median of {args.repeats} fresh processes; wall s / peak RSS MB")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    width = max(len(r.label) for r in ROWS) + 2
    print(f"{'':<{width}}" + "".join(f"{i.label:>36}" for i in interps))
    for row in ROWS:
        line = f"{row.label:<{width}}"
        for interp in interps:
            got = samples.get((row.label, interp.label))
            if not got:
                line += f"{'-':>36}"
                continue
            wall = statistics.median(s[0] for s in got)
            rss = statistics.median(s[1] for s in got)
            codes = sorted({s[2] for s in got})
            note = "" if codes in ([0], [1]) and (codes == [0] or "cancel" in row.label) else f" exit {codes}"
            line += f"{f'{wall:.3f} s / {rss:.0f} MB{note}':>36}"
        print(line)


def _load(avg: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in avg)


if __name__ == "__main__":
    main()
