"""The command line, cold: ``lamforest build`` as a user runs it, beside the scikit-learn script they would write.

Issue 20's first goal: on digits, 500 trees, the cold command's wall time within 1.25x and
its CPU time within 1.3x of scikit-learn's; on MNIST-sized data, no slower than it.

Per case, each contender runs as a whole fresh process, alternately (lamforest, scikit-learn,
lamforest, ...), ``--runs`` times each:

- lamforest: ``lamforest build NAME --data DATA -t TREES -g GROVE`` (the installed console
  script beside this interpreter), default workers, in a fresh empty ``LAMFOREST_HOME`` per
  run: a held-out split (the default ``--test-size``), the groves, OOB and held-out scores,
  the model saved;
- scikit-learn: a script doing the same work: load the data, ``train_test_split`` with the
  same test fraction and seed (stratified, as lamforest's split is),
  ``RandomForestClassifier(n_estimators=TREES, n_jobs=-1, oob_score=True, random_state=0)``,
  ``.score`` on the held-out rows, ``joblib.dump`` of the model. It builds the synthetic rows
  with its own ``make_classification`` call; before timing, the bench checks that its rows
  equal those ``lamforest.data.load`` gives for the same spec, so both fit the same data. It
  keeps scikit-learn's float64 arrays as a user's script would (the fit converts to float32).

Measured for each run:

- wall: spawn to exit;
- CPU: user + system seconds of the process and every process under it, as the growth of
  this process's ``getrusage(RUSAGE_CHILDREN)`` across the run. A child's ``wait4`` rusage
  already counts the descendants it reaped (tried: a child that waits for a grandchild burning
  0.6 s reports 0.65 s through both; one that does not wait reports 0.03 s through both), and
  lamforest's pool waits for its workers, so the two agree. A worker left running after its
  driver exits would be counted by neither, so this process makes itself the subreaper of its
  descendants and reaps any such orphan before reading the delta; the table notes them;
- driver peak MB: the high-water mark (``VmHWM``) of the command's own process, read from
  /proc every 10 ms while it runs (``wait4``'s ``ru_maxrss`` is the largest of the process
  and its reaped children, i.e. a worker's when a worker is bigger).

Bytecode is compiled once by a warm-up run of both contenders into a temporary
``PYTHONPYCACHEPREFIX``, as an installed package has it. The table gives medians; a ratio is
lamforest's median over scikit-learn's, the range is the spread of the ratios of each
alternated pair. The machine's load average is printed with the table.

Cases: (a) digits, 500 trees, groves of 10; (b) with ``--big``, synthetic:30000x784:10,
60 trees, groves of 10 (~40 s per run per contender on 2 cores).

Run: ``python -m bench.bench_cli [--runs N] [--big]``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_startup import child_env

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
POLL_S = 0.01
ORPHAN_WAIT_S = 30.0
GOAL = "goal (issue 20): (a) wall <= 1.25x and CPU <= 1.3x scikit-learn's; (b) wall <= 1.0x"


@dataclass(frozen=True)
class Case:
    key: str
    data: str
    trees: int
    grove: int
    # The scikit-learn script's lines that set X and y to the rows ``data`` names.
    load: str

    @property
    def label(self) -> str:
        return f"({self.key}) {self.data}, {self.trees} trees, groves of {self.grove}"


DIGITS = Case(
    "a",
    "digits",
    500,
    10,
    "from sklearn.datasets import load_digits\nX, y = load_digits(return_X_y=True)\n",
)
BIG = Case(
    "b",
    "synthetic:30000x784:10",
    60,
    10,
    "from sklearn.datasets import make_classification\n"
    "X, y = make_classification(n_samples=30000, n_features=784, n_informative=78, n_redundant=0,\n"
    "    n_classes=10, n_clusters_per_class=2, class_sep=2.0, flip_y=0.01, random_state=0)\n",
)

FIT = """\
import sys
import joblib
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size={test_size}, random_state=0, stratify=y)
model = RandomForestClassifier(n_estimators={trees}, n_jobs=-1, oob_score=True, random_state=0).fit(X_tr, y_tr)
print(model.oob_score_, model.score(X_te, y_te))
joblib.dump(model, sys.argv[1])
"""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_mb: float
    code: int
    orphans: int
    cpu_wait4: float  # the process and the descendants it reaped, as its own wait4 reports
    stderr: str


def default_test_size() -> float:
    """``lamforest build``'s default held-out fraction, from the spec that defines it."""
    from lamforest.spec import BuildSpec

    return BuildSpec(name="bench").test_size


def sklearn_script(case: Case, test_size: float) -> str:
    return "import numpy as np\n" + case.load + FIT.format(test_size=test_size, trees=case.trees)


def check_same_rows(case: Case) -> None:
    """The script's rows are lamforest's rows for ``case.data`` (float32, as lamforest keeps them)."""
    import numpy as np

    from lamforest import data

    ns: dict[str, object] = {}
    exec(case.load, ns)  # the script's own lines, run here once, untimed
    ds = data.load(case.data, seed=0)
    X, y = np.asarray(ns["X"]), np.asarray(ns["y"])
    if not (np.array_equal(X.astype(np.float32), ds.X) and np.array_equal(y, ds.y)):
        raise SystemExit(f"case ({case.key}): the scikit-learn script's rows differ from lamforest's {case.data}")


def lamforest_argv() -> list[str]:
    """The console script installed beside this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "lamforest"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from lamforest.cli import console; sys.exit(console())"]


def become_subreaper() -> bool:
    """Orphaned descendants (a worker its driver did not wait for) are reparented here, to be counted."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _watch_peak(pid: int, stop: threading.Event, peak: list[int]) -> None:
    status = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(status, encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))  # KB
                        break
        except OSError:
            return
        stop.wait(POLL_S)


def _reap_orphans() -> int:
    """Wait for descendants reparented to this process; how many there were."""
    count = 0
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while True:
        try:
            pid, _, _ = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count
        if pid:
            count += 1
        elif time.monotonic() > deadline:
            print(f"  warning: descendants still running {ORPHAN_WAIT_S:.0f} s after their driver exited", flush=True)
            return count
        else:
            time.sleep(0.05)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str], env: dict[str, str], cwd: str) -> Run:
    """One fresh process, run to its exit."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        stop, peak = threading.Event(), [0]
        watcher = threading.Thread(target=_watch_peak, args=(proc.pid, stop, peak), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        orphans = _reap_orphans()
        cpu = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(before)
        err.seek(0)
        stderr = err.read()
    peak_kb = peak[0] or usage.ru_maxrss  # a process too short to be read once: its own maxrss
    return Run(wall, cpu, peak_kb / 1024, proc.returncode, orphans, _cpu(usage), stderr)


def run_case(case: Case, runs: int, test_size: float, base_env: dict[str, str], tag: str = "") -> dict[str, list[Run]]:
    got: dict[str, list[Run]] = {"lamforest": [], "scikit-learn": []}
    script = sklearn_script(case, test_size)
    cli = [*lamforest_argv(), "build", "bench", "--data", case.data, "-t", str(case.trees), "-g", str(case.grove)]
    for i in range(runs):
        for contender in got:
            with tempfile.TemporaryDirectory(prefix="lamforest-bench-cli-") as tmp:
                env = {**base_env, "LAMFOREST_HOME": tmp}
                if contender == "lamforest":
                    argv = cli
                else:
                    argv = [sys.executable, "-c", script, str(Path(tmp) / "model.joblib")]
                r = measure(argv, env, tmp)
            got[contender].append(r)
            print(
                f"  ({case.key}) {tag or f'run {i + 1}'} {contender}: {r.wall:.2f} s wall, "
                f"{r.cpu:.2f} s CPU ({r.cpu_wait4:.2f} s by its wait4), exit {r.code}",
                flush=True,
            )
    return got


def table(results: list[tuple[Case, dict[str, list[Run]]]]) -> list[str]:
    lines = [
        "| case | contender | wall s | CPU s | driver peak MB | wall ratio (range) | CPU ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case, got in results:
        sk = got["scikit-learn"]
        sk_wall = statistics.median(r.wall for r in sk)
        sk_cpu = statistics.median(r.cpu for r in sk)
        for contender, rs in got.items():
            wall = statistics.median(r.wall for r in rs)
            cpu = statistics.median(r.cpu for r in rs)
            peak = statistics.median(r.peak_mb for r in rs)
            pairs = [a.wall / b.wall for a, b in zip(rs, sk, strict=True)]
            ratio = f"{wall / sk_wall:.2f}x ({min(pairs):.2f}-{max(pairs):.2f})"
            notes = sorted({f"exit {r.code}" for r in rs if r.code} | {"orphans reaped" for r in rs if r.orphans})
            name = contender + (f" ({', '.join(notes)})" if notes else "")
            lines.append(
                f"| {case.label} | {name} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {ratio} | {cpu / sk_cpu:.2f}x |"
            )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="fresh processes per contender and case (alternated)")
    p.add_argument("--big", action="store_true", help="add case (b): synthetic:30000x784:10, 60 trees (~90 s a pair)")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    cases = [DIGITS, BIG] if args.big else [DIGITS]
    test_size = default_test_size()
    for case in cases:
        check_same_rows(case)
    subreaper = become_subreaper()

    results: list[tuple[Case, dict[str, list[Run]]]] = []
    pycache = tempfile.mkdtemp(prefix="lamforest-bench-pycache-")
    try:
        env = child_env("", pycache)
        env.pop("LAMFOREST_BACKEND", None)  # the default backend: local
        run_case(DIGITS, 1, test_size, env, tag="warm-up (bytecode, not counted)")
        load_before = os.getloadavg()
        for case in cases:
            results.append((case, run_case(case, args.runs, test_size, env)))
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(pycache, ignore_errors=True)

    print(f"\nthe command line, cold: median of {args.runs} fresh processes per contender, alternated")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    if not subreaper:
        print("(not Linux: a worker outliving its driver would not be counted in CPU)")
    print()
    print("\n".join(table(results)))
    print(f"\n{GOAL}")
    for case, got in results:
        for contender, rs in got.items():
            shown = {r.stderr.strip() for r in rs if r.stderr.strip()}
            for text in sorted(shown):
                print(f"\n({case.key}) {contender} wrote to stderr:\n{text[-2000:]}")


def _load(avg: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in avg)


if __name__ == "__main__":
    main()
