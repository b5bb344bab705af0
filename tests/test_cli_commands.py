"""Every `lamforest` command, with and without ``--json``, on one small local store.

One test per (command, output form): the human form must not crash after
doing its work (as ``search`` once did, leaving a search shown as running),
and the JSON form must be one parseable document. ``export`` has no ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamforest import driver
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.driver import search
from lamforest.spec import BuildSpec

FORMS = [pytest.param(False, id="human"), pytest.param(True, id="json")]


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one finished build, ``base`` (iris, 6 trees in 2 groves)."""
    root = tmp_path_factory.mktemp("cli-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("LAMFOREST_HOME", str(root))
    try:
        assert main(["build", "base", "--data", "iris", "-t", "6", "-g", "3", "--workers", "1", "--json"]) == 0
    finally:
        mp.undo()
    return root


@pytest.fixture
def at_home(store_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAMFOREST_HOME", str(store_home))
    return store_home


def run(capsys: pytest.CaptureFixture[str], as_json: bool, *argv: str) -> tuple[int, str]:
    code = main([*argv, *(["--json"] if as_json else [])])
    out = capsys.readouterr().out
    if as_json:
        json.loads(out)  # one document, nothing else on stdout
    return code, out


@pytest.mark.parametrize("as_json", FORMS)
def test_build(at_home, capsys, as_json, unique):
    name = unique("cb")
    code, out = run(capsys, as_json, "build", name, "--data", "iris", "-t", "4", "-g", "2", "--workers", "1")
    assert code == 0
    assert (json.loads(out)["state"] if as_json else "done") == "done"
    assert as_json or name in out


@pytest.mark.parametrize("as_json", FORMS)
def test_estimate(at_home, capsys, as_json, tmp_path, monkeypatch):
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "estimate-cache"))
    code, out = run(capsys, as_json, "estimate", "est", "--data", "iris", "-t", "10", "-g", "5", "--workers", "1")
    assert code == 0
    assert json.loads(out)["lambda"]["groves"] == 2 if as_json else "est" in out


@pytest.mark.parametrize("as_json", FORMS)
def test_status(at_home, capsys, as_json):
    code, out = run(capsys, as_json, "status", "base")
    assert code == 0
    assert json.loads(out)["state"] == "done" if as_json else "test accuracy" in out


@pytest.mark.parametrize("as_json", FORMS)
def test_builds(at_home, capsys, as_json):
    code, out = run(capsys, as_json, "builds")
    assert code == 0
    assert "base" in ([b["name"] for b in json.loads(out)] if as_json else out)


@pytest.mark.parametrize("as_json", FORMS)
def test_predict(at_home, capsys, as_json):
    code, out = run(capsys, as_json, "predict", "base")
    assert code == 0
    assert json.loads(out)["metric"] == "accuracy" if as_json else "accuracy" in out


@pytest.mark.parametrize("as_json", FORMS)
def test_finish(at_home, capsys, as_json):
    code, out = run(capsys, as_json, "finish", "base")
    assert code == 0
    assert json.loads(out)["state"] == "done" if as_json else "test accuracy" in out


@pytest.mark.parametrize("as_json", FORMS)
def test_search(at_home, capsys, as_json, unique):
    name = unique("cs")
    code, out = run(
        capsys, as_json, "search", name, "--data", "iris", "--grid", "max_depth=2,4", "--trees", "4", "--workers", "1"
    )
    assert code == 0
    with local_backend(at_home) as backend:
        board = search.leaderboard(backend, name)
    assert board.finished and board.done == 2  # not left "running" by a crash after the write
    if as_json:
        assert json.loads(out)["total"] == 2
    else:
        assert "2 trial(s) of 4 trees" in out and "best:" in out


@pytest.mark.parametrize("as_json", FORMS)
def test_tune_memory(at_home, capsys, as_json):
    code, out = run(capsys, as_json, "tune-memory", "--data", "iris", "-g", "2", "--memory", "512,1024", "--runs", "1")
    assert code == 0
    assert len(json.loads(out)["rows"]) == 2 if as_json else "cheapest:" in out


def test_cancel(at_home, capsys, unique):
    name = unique("cx")
    with local_backend(at_home) as backend:
        driver.create(backend, BuildSpec(name=name, data="iris", trees=4, grove=2))  # created, not yet run
    assert main(["cancel", name]) == 0
    assert "cancel requested" in capsys.readouterr().out
    assert main(["cancel", "base"]) == 1  # already done: nothing to cancel, nothing changed
    assert "already ended" in capsys.readouterr().err


def test_export_joblib_and_skops(at_home, capsys, tmp_path):
    for suffix in ("joblib", "skops"):
        assert main(["export", "base", str(tmp_path / f"m.{suffix}")]) == 0
        assert (tmp_path / f"m.{suffix}").stat().st_size > 0
    assert "lamforest.safe.load" in capsys.readouterr().out


def test_an_export_is_the_format_its_name_says(at_home, capsys, tmp_path):
    """.pkl is a plain pickle (pickle.load reads it), .joblib is zlib-compressed (joblib.load needs no
    lz4), .skops a zip; a name that says no format is refused before anything is written."""
    import pickle
    import zipfile
    import zlib

    import joblib

    for suffix in ("pkl", "joblib", "skops"):
        assert main(["export", "base", str(tmp_path / f"m.{suffix}")]) == 0
    said = capsys.readouterr().out
    assert "pickle.load" in said and "joblib.load" in said and "lamforest.safe.load" in said
    with open(tmp_path / "m.pkl", "rb") as f:
        from_pickle = pickle.load(f)
    from_joblib = joblib.load(tmp_path / "m.joblib")
    assert from_pickle.n_estimators == from_joblib.n_estimators
    zlib.decompressobj().decompress((tmp_path / "m.joblib").read_bytes()[:4096])  # a zlib stream, not lz4
    assert zipfile.is_zipfile(tmp_path / "m.skops")
    for name, said_of in (("m.json", ".json is not a model format"), ("model", "has no suffix")):
        assert main(["export", "base", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert said_of in err and ".skops" in err and ".joblib" in err and str(tmp_path / name) in err
        assert not (tmp_path / name).exists()
