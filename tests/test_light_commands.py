"""Start-up closures: commands that only read the store import only what they use (not scikit-learn,
pandas or pyarrow), and a local worker environment imports the Lambda image's package set."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamforest import driver, keys
from lamforest.backend import local_backend
from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code
from lamforest.spec import BuildSpec

HEAVY = ("sklearn", "pandas", "pyarrow", "scipy", "joblib")  # joblib: only an export needs it
PROBE = f"""
import json, sys
from lamforest.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["status", "lc"], ["builds"], ["cancel", "lc"]])
def test_reading_commands_load_no_heavy_library(
    home: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["build", "lc", "--data", "iris", "-t", "2", "-g", "1", "--json"]) == 0
    capsys.readouterr()
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, 1)  # cancel of a finished build is a failure, said in one line
    assert report["loaded"] == []


# Not in the image (pandas, and pyarrow, which pandas imports), or not for a local store (boto3).
NOT_IN_WORKER = ("pandas", "pyarrow", "boto3", "botocore")
# The environment ends with os._exit (no atexit, no teardown), so the report rides on it.
WORKER_PROBE = f"""
import json, os, runpy, sys
def report():
    loaded = [m for m in {NOT_IN_WORKER!r} if m in sys.modules]
    print(json.dumps({{"loaded": loaded, "sklearn": "sklearn.ensemble" in sys.modules}}), file=sys.stderr)
    sys.stderr.flush()
end = os._exit
os._exit = lambda code: (report(), end(code))
sys.argv = ["lamforest.worker.local", *sys.argv[1:]]
runpy.run_module("lamforest.worker.local", run_name="__main__")
"""


def test_a_local_worker_fits_a_grove_without_what_the_image_lacks(home: Path) -> None:
    # The environment the pool starts, fed one fit event on stdin, as the pool feeds it; pandas is
    # installed here, and scikit-learn would import it, so its absence is the environment's doing.
    with local_backend(home) as backend:
        plan = driver.create(backend, BuildSpec(name="wk", data="iris", trees=2, grove=1))
        invocation = {"request_id": "r-start", "event": plan.events()[0].to_event()}
        proc = subprocess.run(
            [sys.executable, "-c", WORKER_PROBE, str(home), "1024", str(time.time_ns())],
            input=json.dumps(invocation) + "\n",
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        replies = [json.loads(line) for line in proc.stdout.splitlines()]
        assert proc.returncode == 0, proc.stderr
        assert "ready" in replies[0] and replies[1]["error"] is None
        assert [r.state for r in driver.status(backend, "wk").rows] == ["done", "queued"]
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"loaded": [], "sklearn": True}  # its INIT loaded scikit-learn and nothing more


CONSOLE_PROBE = f"""
import atexit, json, sys
def report():
    print(json.dumps({{"loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
atexit.register(report)
sys.argv = ["lamforest", *sys.argv[1:]]
from lamforest.cli import console
sys.exit(console())
"""


def test_the_lamforest_command_predicts_without_pandas_and_as_main_does(home: Path, tmp_path: Path) -> None:
    # pandas is installed here and scikit-learn would import it: the command's process hides it (no
    # command uses it), where a Python session calling main keeps it.
    import numpy as np
    from sklearn.datasets import load_iris

    assert cli_main(["build", "pc", "--data", "iris", "-t", "4", "-g", "2", "--json"]) == 0
    rows = tmp_path / "rows.npy"
    np.save(rows, load_iris().data[::3])
    here, there = tmp_path / "here.npy", tmp_path / "there.npy"
    assert cli_main(["predict", "pc", "--data", str(rows), "--out", str(here)]) == 0
    proc = subprocess.run(
        [sys.executable, "-c", CONSOLE_PROBE, "predict", "pc", "--data", str(rows), "--out", str(there)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])["loaded"]
    assert "sklearn" in loaded and "pandas" not in loaded
    assert np.array_equal(np.load(here), np.load(there))


def test_finishing_landed_groves_starts_no_worker(home: Path) -> None:
    """Every grove is done (the driver stopped after the last landed): the finish streams them and
    fits nothing, so it starts no worker process (each would import scikit-learn for nothing)."""
    assert cli_main(["build", "fl", "--data", "iris", "-t", "6", "-g", "2", "--workers", "2", "--json"]) == 0
    with local_backend(home) as backend:
        for key in ("summary", "manifest", "model"):
            backend.store.delete(getattr(keys, key)("fl"))
    probe = PROBE.replace(
        "code = main(sys.argv[1:])",
        "from lamforest.backend import pool\n"
        "pool.LocalCompute.__init__ = lambda *a, **k: sys.exit('a worker pool was made')\n"
        "code = main(sys.argv[1:])",
    )
    proc = subprocess.run([sys.executable, "-c", probe, "finish", "fl"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with local_backend(home) as backend:
        st = driver.status(backend, "fl")
    assert st.state == "done" and st.summary["model_kind"] == "merged" and st.summary["oob_score"] is not None
