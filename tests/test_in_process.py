"""Small fits run in the caller's process (no worker start-up to wait for) and grow the trees a pool
grows; larger ones, and any fit that names its ``workers``, go to the pool."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lamforest import driver, keys, records
from lamforest.backend.shared import close_shared, shared
from lamforest.driver import schedule
from lamforest.estimators import RandomForestClassifier
from lamforest.estimators import base as estimator_base
from lamforest.spec import BuildSpec
from tests.waits import wait_for


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    try:
        yield tmp_path / "home"
    finally:
        close_shared()


def fitted_by(name: str) -> set[int]:
    """The pids that wrote the build's done records: who fitted its groves."""
    store = shared("local").store
    done = [k for k in store.list(keys.states(name)) if k.endswith(".done")]
    return {int(records.read_grove(store, name, keys.parse_state(name, k)[0], "done")["pid"]) for k in done}


def same_trees(a: Any, b: Any) -> None:
    assert len(a.estimators_) == len(b.estimators_)
    for s, t in zip(a.estimators_, b.estimators_, strict=True):
        for attr in ("feature", "threshold", "value", "children_left"):
            assert np.array_equal(getattr(s.tree_, attr), getattr(t.tree_, attr))


def test_a_small_fit_runs_here_and_grows_the_pools_trees(home: Path) -> None:
    X, y = load_digits(return_X_y=True)
    here = RandomForestClassifier(n_estimators=10, grove_size=3, random_state=4, progress=False).fit(X, y)
    assert fitted_by(here.build_name_) == {os.getpid()}
    from lamforest.worker import env

    assert not env._TRAIN, "the caller's process keeps no train set after its fit"
    pooled = RandomForestClassifier(n_estimators=10, grove_size=3, random_state=4, progress=False, workers=2)
    pooled.fit(X, y)
    assert os.getpid() not in fitted_by(pooled.build_name_)
    same_trees(here, pooled)
    assert np.array_equal(here.predict_proba(X), pooled.predict_proba(X))
    st = driver.status(shared("local"), here.build_name_)
    assert st.state == "done" and st.count("done") == 4
    assert st.spec.chunk == 3  # one scikit-learn fit per grove: no cancel checks inside so small a fit


def test_work_above_a_worker_start_up_goes_to_the_pool(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = load_digits(return_X_y=True)
    monkeypatch.setattr(schedule, "IN_PROCESS_WORK", X.shape[0] * 4 * X.shape[1] - 1)
    monkeypatch.setattr(estimator_base, "ONE_FIT_WORK", X.shape[0] * 4 * X.shape[1] - 1)
    est = RandomForestClassifier(n_estimators=4, grove_size=2, random_state=1, progress=False).fit(X, y)
    assert os.getpid() not in fitted_by(est.build_name_)
    assert driver.status(shared("local"), est.build_name_).spec.chunk == BuildSpec.chunk  # cancel checks kept


def test_an_interrupted_fit_in_process_ends_cancelled_not_running(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one thread (n_jobs=1) Ctrl+C lands in the fit itself: the grove's record must not name this
    live process as running for ever (a later status or finish would wait for it)."""
    from lamforest.worker import fit as worker_fit

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(worker_fit, "fit", interrupted)
    X, y = load_digits(return_X_y=True)
    est = RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False, name="ctrlc", n_jobs=1)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    st = driver.status(shared("local"), "ctrlc")
    assert st.state == "cancelled" and "KeyboardInterrupt" in (st.cancel_reason or "")
    assert not any(r.state == "running" for r in st.rows)
    assert st.rows[0].state == "cancelled"


def test_threads_fit_groves_at_once_and_ctrl_c_cancels_the_build(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several threads: two groves are inside their fits at the same time (a barrier both must reach),
    and Ctrl+C, which lands in the driver's loop (the caller's thread), ends the build cancelled with
    no grove left running; the threads end after their grove."""
    import threading

    from lamforest.estimators.progress import BuildProgress
    from lamforest.worker import fit as worker_fit

    real, both = worker_fit.fit, threading.Barrier(2, timeout=60)
    names: set[str] = set()

    def together(*args: Any, **kwargs: Any) -> Any:
        if len(names) < 2:
            names.add(threading.current_thread().name)
            both.wait()
        return real(*args, **kwargs)

    def ctrl_c(self: Any, st: Any) -> None:
        if st.count("done") >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(worker_fit, "fit", together)
    monkeypatch.setattr(BuildProgress, "update", ctrl_c)
    X, y = load_digits(return_X_y=True)
    est = RandomForestClassifier(n_estimators=40, grove_size=2, random_state=1, progress=False, name="t", n_jobs=2)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert len(names) == 2 and all(n.startswith("lamforest-grove") for n in names)
    st = driver.status(shared("local"), "t")
    assert st.state == "cancelled" and "KeyboardInterrupt" in (st.cancel_reason or "")
    assert not any(r.state == "running" for r in st.rows)
    assert fitted_by("t") == {os.getpid()}
    # Abandoned at Ctrl+C, not waited for: each ends after its grove.
    wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("lamforest-grove")], "threads end")


def test_the_cli_fits_small_builds_on_threads_here_with_the_pools_trees(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --workers and little work: the command fits the groves in its own process, says so, and
    every grove file is the one the pool writes for the same spec (the same sha256)."""
    from lamforest.cli import main

    argv = ["--data", "digits", "-t", "12", "-g", "3", "--seed", "5"]
    assert main(["build", "here", *argv]) == 0
    out = capsys.readouterr().out
    # The REPORT lines' peak is this process's own: not called the workers'.
    assert "fitting here on" in out and "groves fitted in this process, its peak" in out and "workers peak" not in out
    assert main(["build", "pooled", *argv, "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "fitting here" not in out and "workers peak" in out and "fitted in this process" not in out
    assert fitted_by("here") == {os.getpid()} and os.getpid() not in fitted_by("pooled")
    store = shared("local").store

    def digests(name: str) -> list[str]:
        return [str(records.read_grove(store, name, keys.grove_id(g), "done")["sha256"]) for g in range(4)]

    assert digests("here") == digests("pooled")


def test_finishing_an_interrupted_small_build_fits_its_groves_here(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lamforest finish` of a small build whose driver stopped before its groves: they are fitted on
    threads of the command, as its build would have fitted them, not on a pool started for them."""
    from lamforest.cli import main

    backend = shared("local")
    driver.create(backend, BuildSpec(name="left", data="digits", trees=8, grove=2, seed=5))  # no driver ran it
    assert main(["finish", "left"]) == 0
    out = capsys.readouterr().out
    assert "4 grove(s) not done; fitting them here on" in out
    assert fitted_by("left") == {os.getpid()}
    assert "groves fitted in this process, its peak" in out
    # With --workers the pool fits them, as a build with --workers would.
    driver.create(backend, BuildSpec(name="left-pooled", data="digits", trees=8, grove=2, seed=5))
    assert main(["finish", "left-pooled", "--workers", "2"]) == 0
    assert "dispatching them again" in capsys.readouterr().out
    assert os.getpid() not in fitted_by("left-pooled")


def test_threads_leave_the_callers_warning_filters_as_they_were(home: Path) -> None:
    import warnings

    X, y = load_digits(return_X_y=True)
    before, shown = list(warnings.filters), warnings.showwarning
    RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False, n_jobs=2).fit(X, y)
    assert warnings.filters == before and warnings.showwarning is shown


# --------------------------------------------------------------------------- warnings, once


def test_a_groves_warnings_reach_the_caller_once_as_python_warnings(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each grove warns twice; the caller gets one warning, in its own category, pointing at its own line."""
    from sklearn.exceptions import ConvergenceWarning

    from lamforest.worker import fit as worker_fit

    real = worker_fit.fit

    def warns(*args: Any, **kwargs: Any) -> Any:
        import warnings

        for _ in range(2):
            warnings.warn("the groves' own words", ConvergenceWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_fit, "fit", warns)
    X, y = load_digits(return_X_y=True)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False).fit(X, y)
    ours = [w for w in caught if "the groves' own words" in str(w.message)]
    assert len(ours) == 1 and ours[0].category is ConvergenceWarning
    assert ours[0].filename == __file__


@pytest.mark.parametrize("workers", [None, 2])
def test_balanced_class_weights_raise_no_warm_start_warning(home: Path, workers: int | None) -> None:
    """Groves grow in warm_start chunks on the whole train set: scikit-learn's warning about balanced
    presets with warm_start on other data is not the user's (4 fits once printed 80 lines)."""
    import warnings

    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = RandomForestClassifier(
            n_estimators=6, grove_size=2, random_state=1, progress=False, class_weight="balanced", workers=workers
        ).fit(X, y)
    assert not [str(w.message) for w in caught], "no warning at all"
    assert driver.status(shared("local"), est.build_name_).state == "done"


@pytest.mark.parametrize("where", [["--workers", "2"], []], ids=["workers", "threads"])
def test_the_cli_says_a_groves_warning_once(home: Path, capfd: pytest.CaptureFixture[str], where: list[str]) -> None:
    """Two workers (or two threads here) fit four groves that each warn (a deprecated criterion): one
    line, and the workers print nothing of their own."""
    from lamforest.cli import main

    argv = ["build", "fm", "--data", "diabetes", "-t", "4", "-g", "1", *where]
    assert main([*argv, "--param", "criterion=friedman_mse"]) == 0
    err = capfd.readouterr().err
    assert err.count("friedman_mse") == 1, err
    line = next(ln for ln in err.splitlines() if "friedman_mse" in ln)
    assert line.startswith("warning: FutureWarning: ")


def test_a_record_cannot_make_the_caller_import_or_crash(home: Path) -> None:
    """A grove record (a store document, forged on S3 as easily as locally) names a warning category:
    only a class already in a loaded module's own namespace is used, and one that cannot be built
    from a message falls back to UserWarning."""
    import sys
    import warnings

    from lamforest.records import raise_warnings

    forged = [
        {"warnings": [{"category": "sklearn.exceptions.InconsistentVersionWarning", "message": "a"}]},
        {"warnings": [{"category": "sklearn.cluster.KMeans", "message": "b"}, "junk"]},
        {"warnings": "junk"},
    ]
    had_cluster = "sklearn.cluster" in sys.modules
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert raise_warnings(forged) == ["a", "b"]
    assert [w.category for w in caught] == [UserWarning, UserWarning]
    assert ("sklearn.cluster" in sys.modules) == had_cluster


def test_a_running_record_of_a_driver_fitting_in_process_is_not_lost(home: Path) -> None:
    import subprocess

    from lamforest.backend import local_backend

    with subprocess.Popen(["sleep", "600"]) as other:  # a live process that is no worker: the driver
        try:
            # Until its exec is done a child shows no command line, and a writer that cannot be told is waited for.
            wait_for(lambda: records.process_command(other.pid) == "", "sleep's command line")
            rec = records.grove_record("running", grove=0, trees=1, seed=1, attempt=1, request_id="r")
            rec.update(pid=other.pid, pid_start=records.pid_start(other.pid))
            with local_backend(home) as backend:
                assert backend.is_stale(rec)
                assert not backend.is_stale({**rec, "writer": "in-process"})
        finally:
            other.kill()


def test_shape_hints_are_exact_for_synthetic_and_npy_and_near_for_csv(tmp_path: Path) -> None:
    from lamforest import data

    assert data.shape_hint(" synthetic:30000x784:10 ") == (30000, 784)
    np.save(tmp_path / "a.npy", np.zeros((1234, 7), dtype=np.float32))
    assert data.shape_hint(str(tmp_path / "a.npy")) == (1234, 7)
    np.save(tmp_path / "flat.npy", np.zeros(10))
    rng = np.random.default_rng(0)
    rows = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rng.random((5000, 9)))
    (tmp_path / "t.csv").write_text("a,b,c,d,e,f,g,h,y\n" + rows + "\n")
    n, columns = data.shape_hint(str(tmp_path / "t.csv")) or (0, 0)
    assert columns == 9 and 4000 <= n <= 6000
    os.mkfifo(tmp_path / "pipe.csv")  # opening it would block until a writer came
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    (tmp_path / "head.csv").write_text("a,b,y\n")
    unknowns = ("digits", "synthetic:bad", "flat.npy", "bad.npy", "head.csv", "pipe.csv", "missing.csv", "x.parquet")
    for unknown in unknowns:
        where = unknown if "." not in unknown else str(tmp_path / unknown)
        assert data.shape_hint(where) is None, unknown  # a hint, never an error: load says what is wrong


def test_the_cli_starts_workers_before_loading_data_that_needs_them(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their imports overlap the loading; small data, fitted on threads here, starts none."""
    import importlib

    from lamforest import data
    from lamforest.cli import main

    cli_main = importlib.import_module("lamforest.cli.main")  # the module: the package's `main` is its function

    order: list[str] = []
    real_load, real_open = data.load, cli_main._open

    def load(*args: Any, **kwargs: Any) -> Any:
        order.append("load")
        return real_load(*args, **kwargs)

    def opened(args: Any) -> Any:
        backend = real_open(args)
        real_make = backend.make_compute

        def make(spec: BuildSpec, workers: int | None, sync: bool) -> Any:
            order.append("threads" if sync else "workers")
            return real_make(spec, workers, sync)

        backend.make_compute = make
        return backend

    monkeypatch.setattr(data, "load", load)
    monkeypatch.setattr(cli_main, "_open", opened)
    argv = ["-t", "4", "-g", "2", "--test-size", "0.5"]
    assert main(["build", "asked", "--data", "digits", "--workers", "2", *argv]) == 0
    assert order[:2] == ["workers", "load"], "a --workers pool starts before the data is read"
    order.clear()
    assert main(["build", "small", "--data", "synthetic:400x4:2", *argv]) == 0
    assert order[0] == "load" and "workers" not in order
    order.clear()
    monkeypatch.setattr(schedule, "IN_PROCESS_WORK", 1_000)  # 200 x 4 rows with 4 trees is past it
    assert main(["build", "large", "--data", "synthetic:400x4:2", *argv]) == 0
    assert order[:2] == ["workers", "load"], "the spec alone says the pool is needed"
    order.clear()
    # A data file that is not there: the load says so at once, and no worker was started for it.
    assert main(["build", "gone", "--data", str(home / "nowhere.csv"), "--workers", "2", *argv]) == 2
    assert order == ["load"]


def test_workers_started_early_end_with_a_build_whose_data_cannot_be_read(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--workers starts them before the data is read: a file that cannot be read is said, nothing
    is kept, and no worker outlives the command."""
    from lamforest.cli import main

    def workers() -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == os.getpid() and records.process_command(int(entry.name)) == "lamforest.worker.local":
                    children.append(int(entry.name))
        return children

    before = set(workers())  # other tests' warm pools may live on in this process
    (tmp_path / "broken.csv").write_text("a,b,y\n1,2\n")
    assert main(["build", "nope", "--data", str(tmp_path / "broken.csv"), "--target", "y", "--workers", "2"]) != 0
    assert "broken.csv" in capsys.readouterr().err
    assert set(workers()) <= before
    assert not (home / "builds" / "nope").exists()
