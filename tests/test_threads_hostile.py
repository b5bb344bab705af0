"""Small builds fitted on threads of the driver's own process, used as a hurried user uses them: a
Ctrl+C then the recovery the message names, fits from other threads, many fits in one session,
fits that fail, a budget, ``--sync``. What ``test_in_process`` covers is not repeated here."""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits

from lamforest import driver, fitwarnings, keys, records
from lamforest.backend import local_backend
from lamforest.backend.pool import default_workers
from lamforest.backend.shared import shared
from lamforest.estimators import ExtraTreesRegressor, RandomForestClassifier
from lamforest.spec import BuildSpec
from tests import test_in_process
from tests.test_in_process import fitted_by
from tests.waits import wait_for

home = test_in_process.home  # the same fixture: a fresh LAMFOREST_HOME, the shared backends closed after


def digests(name: str, groves: int) -> list[str]:
    store = shared("local").store
    return [str(records.read_grove(store, name, keys.grove_id(g), "done")["sha256"]) for g in range(groves)]


def grove_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lamforest-grove")]


def fitting_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that fit groves from now on, one entry per grove fitted."""
    from lamforest.worker import fit as worker_fit

    real, names = worker_fit.fit, []

    def noted(*args: Any, **kwargs: Any) -> Any:
        names.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_fit, "fit", noted)
    return names


@pytest.mark.skipif(default_workers() < 2, reason="one core: one thread, fitting in the driver's loop")
def test_ctrl_c_then_the_finish_the_message_names_gives_the_uninterrupted_builds_groves(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl+C lands in the driver's loop while two threads fit: exit 130, the build shows interrupted
    with the groves that were running done and the rest never started, and `lamforest finish NAME`,
    as the message says, ends it done with the grove files an uninterrupted build writes."""
    from lamforest.backend.pool import SyncCompute
    from lamforest.cli import main
    from lamforest.cli.render import ProgressView
    from lamforest.worker import fit as worker_fit

    real_fit, real_update, real_drain = worker_fit.fit, ProgressView.update, SyncCompute.drain
    pressed: list[str] = []
    dropped = threading.Event()

    def held(event: Any, *args: Any, **kwargs: Any) -> Any:
        if event.grove >= 2 and not pressed:
            dropped.wait(60)  # groves 2 and 3 run until the groves not started are dropped
        return real_fit(event, *args, **kwargs)

    def ctrl_c(self: Any, st: driver.BuildStatus) -> None:
        real_update(self, st)
        if st.count("done") == 2 and st.count("running") == 2 and not pressed:
            pressed.append(st.name)
            raise KeyboardInterrupt

    def drain(self: Any) -> int:
        try:
            return real_drain(self)
        finally:
            dropped.set()

    monkeypatch.setattr(worker_fit, "fit", held)
    monkeypatch.setattr(ProgressView, "update", ctrl_c)
    monkeypatch.setattr(SyncCompute, "drain", drain)
    argv = ["--data", "digits", "-t", "24", "-g", "2", "--seed", "3"]
    assert main(["build", "cut", *argv]) == 130
    out, err = capsys.readouterr()
    assert "fitting here on" in out and "`lamforest finish cut`" in err
    # The running groves' threads are abandoned, not waited for (a command's process would exit and
    # end them); here they live on and end after their grove.
    wait_for(lambda: not grove_threads(), "the abandoned threads end")
    st = driver.status(shared("local"), "cut")
    assert st.state == "interrupted" and [r.state for r in st.rows] == ["done"] * 4 + ["queued"] * 8
    assert not any(r.state == "running" for r in st.rows)
    assert not grove_threads()
    assert main(["finish", "cut"]) == 0
    assert main(["build", "whole", *argv]) == 0
    assert driver.status(shared("local"), "cut").state == "done"
    assert digests("cut", 12) == digests("whole", 12)


def test_fits_from_other_threads_use_the_pool_and_grow_the_same_trees(home: Path) -> None:
    """A fit from a thread that is not the main one (a ThreadPoolExecutor, a threading.Thread) goes
    to the worker pool; one from the main thread meanwhile fits here; same seed, same forest."""
    X, y = load_digits(return_X_y=True)

    def fit(seed: int) -> RandomForestClassifier:
        return RandomForestClassifier(n_estimators=6, grove_size=2, random_state=seed, progress=False).fit(X, y)

    with ThreadPoolExecutor(1) as pool:
        elsewhere = list(pool.map(fit, [1]))
    box: dict[str, RandomForestClassifier] = {}
    t = threading.Thread(target=lambda: box.setdefault("est", fit(3)))
    t.start()
    here = fit(1)  # the main thread, while the other thread's fit runs
    t.join()
    for est in [*elsewhere, box["est"]]:
        assert os.getpid() not in fitted_by(est.build_name_)
    assert fitted_by(here.build_name_) == {os.getpid()}
    assert np.array_equal(here.predict_proba(X), elsewhere[0].predict_proba(X))
    assert not grove_threads()


def test_many_fits_in_one_session_leave_no_threads_and_the_warning_state_as_it_was(home: Path) -> None:
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the user's own, kept throughout

        def users_show(*args: Any, **kwargs: Any) -> None:
            pass

        warnings.showwarning = users_show
        before = list(warnings.filters)
        for seed in range(10):
            RandomForestClassifier(n_estimators=4, grove_size=1, random_state=seed, progress=False).fit(X, y)
            assert not grove_threads()
            assert warnings.filters == before and warnings.showwarning is users_show
            assert not fitwarnings._state["routing"] and not records.IN_PROCESS.on


def test_a_threaded_fit_whose_groves_all_fail_leaves_the_callers_state(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every grove raises (and warns first): the fit raises, and the caller's filters, showwarning,
    and the process's threads are as they were."""
    from lamforest.worker import fit as worker_fit

    def fails(*args: Any, **kwargs: Any) -> Any:
        warnings.warn("a grove's last words", UserWarning, stacklevel=1)
        raise ValueError("no grove today")

    monkeypatch.setattr(worker_fit, "fit", fails)
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the user's: any warning is an error

        def users_show(*args: Any, **kwargs: Any) -> None:
            pass

        warnings.showwarning = users_show
        before = list(warnings.filters)
        est = RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False, name="bad")
        with pytest.raises(RuntimeError, match="no grove today"):
            est.fit(X, y)
        assert warnings.filters == before and warnings.showwarning is users_show
    assert not grove_threads() and not fitwarnings._state["routing"] and not records.IN_PROCESS.on
    st = driver.status(shared("local"), "bad")
    assert st.state == "failed" and not any(r.state == "running" for r in st.rows)


def test_n_jobs_one_fits_on_the_callers_thread_and_more_never_passes_cores_or_groves(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = fitting_threads(monkeypatch)
    X, y = load_digits(return_X_y=True)
    RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False, n_jobs=1).fit(X, y)
    assert names == ["MainThread"] * 3
    names.clear()
    RandomForestClassifier(n_estimators=6, grove_size=2, random_state=1, progress=False, n_jobs=100).fit(X, y)
    assert len(names) == 3 and all(n.startswith("lamforest-grove") for n in names)
    assert len(set(names)) <= min(default_workers(), 3)
    with local_backend(home) as backend:
        spec = BuildSpec(name="x", trees=6, grove=2)
        for asked in (None, 1, 2, 100):
            threads = driver.in_process_threads(backend, spec, 100, 10, None, asked)
            assert threads is not None and 1 <= threads <= min(default_workers(), asked or default_workers())
        assert driver.in_process_threads(backend, spec.validated(), 100, 10, 2) is None  # --workers 2: a pool


def test_extra_trees_regression_on_threads_grows_the_pools_forest_and_warns_once(home: Path) -> None:
    """A deprecated criterion on a regression: fitted here or by the pool, the same predictions, and
    one FutureWarning each time, however many groves raised it."""
    X, y = load_diabetes(return_X_y=True)
    forests, said = [], []
    for workers in (None, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = ExtraTreesRegressor(
                n_estimators=9, grove_size=2, random_state=7, progress=False, criterion="friedman_mse", workers=workers
            ).fit(X, y)
        forests.append(est)
        said.append([w for w in caught if "friedman_mse" in str(w.message)])
    assert fitted_by(forests[0].build_name_) == {os.getpid()}
    assert os.getpid() not in fitted_by(forests[1].build_name_)
    assert np.array_equal(forests[0].predict(X), forests[1].predict(X))
    assert [len(s) for s in said] == [1, 1] and all(s[0].category is FutureWarning for s in said)


def test_a_budget_stops_a_threaded_build_after_one_wave(home: Path) -> None:
    """Under a budget the threads get one wave of groves, as the pool's workers do: the first done
    grove projects the cost past it, so the build is cancelled having started at most the wave
    and the one refill its loop sends before it reads its own cancel, none left running."""
    with local_backend(home) as backend:
        spec = BuildSpec(name="budget", data="digits", trees=80, grove=2, max_cost=1e-9)
        threads: list[int | None] = []

        def split(rows: int, features: int) -> None:
            threads.append(driver.in_process_threads(backend, spec, rows, features, None))

        driver.create(backend, spec, on_split=split)
        wave = threads[0]
        assert wave is not None
        st = driver.run(backend, "budget", workers=wave, sync=True, poll_s=0.05)
    assert st.state == "cancelled" and (st.cancel_reason or "").startswith("budget")
    assert sum(r.state != "queued" for r in st.rows) <= 2 * wave
    assert not any(r.state == "running" for r in st.rows) and not grove_threads()


def test_sync_fits_one_grove_at_a_time_on_the_main_thread(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lamforest.cli import main

    names = fitting_threads(monkeypatch)
    assert main(["build", "one", "--data", "iris", "-t", "6", "-g", "2", "--sync"]) == 0
    assert "fitting here" not in capsys.readouterr().out
    assert names == ["MainThread"] * 3 and fitted_by("one") == {os.getpid()}


@pytest.mark.skipif(default_workers() < 2, reason="one core: no thread is left over for a grove's forest")
def test_one_grove_on_two_threads_fits_its_forest_on_both_and_grows_the_pools_trees(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer groves than threads: the grove's forest gets the threads left over (its n_jobs), as
    scikit-learn's does; the trees are the pool's, where each grove fits on one core."""
    from lamforest.worker import fit as worker_fit

    real, jobs = worker_fit.fit, []

    def noted(task: Any, *args: Any, **kwargs: Any) -> Any:
        jobs.append(task.n_jobs)
        return real(task, *args, **kwargs)

    monkeypatch.setattr(worker_fit, "fit", noted)
    X, y = load_digits(return_X_y=True)
    params = {"n_estimators": 8, "grove_size": 8, "random_state": 2, "progress": False}
    here = RandomForestClassifier(**params, n_jobs=2).fit(X, y)
    assert jobs == [2]
    pooled = RandomForestClassifier(**params, workers=2).fit(X, y)
    assert jobs == [2]  # the pool's worker is another process: its call is not seen here
    assert np.array_equal(here.predict_proba(X), pooled.predict_proba(X))
    store = shared("local").store

    def digest(name: str) -> str:
        return str(records.read_grove(store, name, keys.grove_id(0), "done")["sha256"])

    assert fitted_by(here.build_name_) == {os.getpid()} and os.getpid() not in fitted_by(pooled.build_name_)
    assert digest(here.build_name_) == digest(pooled.build_name_)  # the same grove file, byte for byte
