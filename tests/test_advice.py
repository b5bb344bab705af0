"""Recovery advice that works when followed literally (#23, class 4).

Each test breaks a build as a user or an attacker would, takes the one line the tool prints,
and does exactly what it says: deletes the files it names (full paths, as printed) and runs the
commands it quotes. The build must then work, and give the answers it gave before it broke.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from lamforest import data, driver, keys, records
from lamforest.backend import Backend, local_backend
from lamforest.cli import main as cli_main
from lamforest.spec import BuildSpec
from lamforest.store.base import put_json

X_NEW = data.load("iris").X[::7]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("LAMFOREST_HOME", str(root))
    return root


def make(home: Path, name: str, merge: str) -> tuple[Backend, np.ndarray]:
    backend = local_backend(home)
    driver.create(backend, BuildSpec(name=name, data="iris", trees=8, grove=2, seed=1))
    st = driver.run(backend, name, workers=1, merge=driver.MergePolicy(merge))
    assert st.state == "done"
    return backend, driver.predict_values(backend, name, X_NEW)


def follow(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Do what ``line`` says: delete each path it names after "delete", then run each quoted command
    (a command in parentheses is an aside, not a step)."""
    said = line.replace("\n", " ")
    for clause in re.findall(r"delete (.+?)(?:,? then |; | if | and run | to | \(|$)", said):
        for path in clause.split(" and "):
            target = Path(path.strip().rstrip(",;"))
            assert target.is_absolute(), f"the advice names {path!r}, which no one can delete as written"
            assert target.exists(), f"the advice names {target}, which does not exist"
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    for command in re.findall(r"`(lamforest [^`]+)`", re.sub(r"\([^)]*\)", "", said)):  # asides are not steps
        argv = shlex.split(command)[1:]
        assert cli_main(argv) == 0, f"`{command}` failed: {capsys.readouterr().err}"
    capsys.readouterr()


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli_main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def grove_file(home: Path, name: str, index: int) -> Path:
    return home / keys.grove(name, keys.grove_id(index))


def test_a_grove_altered_in_a_grove_set(home, capsys):
    backend, before = make(home, "gs", "never")
    path = grove_file(home, "gs", 1)
    path.write_bytes(path.read_bytes()[:-40] + b"\0" * 40)
    err = refused(["predict", "gs", "--data", "iris"], capsys)
    assert "grove g00001" in err or "grove 1" in err or "not used" in err, err
    follow(err, capsys)
    assert np.array_equal(driver.predict_values(backend, "gs", X_NEW), before)
    backend.close()


def test_a_grove_and_its_record_forged_to_agree_in_a_grove_set(home, capsys):
    """The done record's hash is forged to match the altered file: the manifest still knows."""
    backend, before = make(home, "forged", "never")
    gid = keys.grove_id(0)
    path = grove_file(home, "forged", 0)
    other = grove_file(home, "forged", 2).read_bytes()  # a valid grove file, not this grove's
    path.write_bytes(other)
    rec = records.read_grove(backend.store, "forged", gid, "done")
    rec.update(sha256=records_digest(other), bytes=len(other))
    put_json(backend.store, keys.state("forged", gid, "done"), rec)
    err = refused(["predict", "forged", "--data", "iris"], capsys)
    assert "changed since the build finished" in err, err
    follow(err, capsys)
    assert np.array_equal(driver.predict_values(backend, "forged", X_NEW), before)
    backend.close()


def records_digest(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()


def test_a_merged_model_altered(home, capsys):
    backend, before = make(home, "merged", "always")
    path = home / keys.model("merged")
    path.write_bytes(path.read_bytes()[:-10])
    err = refused(["predict", "merged", "--data", "iris"], capsys)
    assert "the model" in err and "is not used" in err, err
    follow(err, capsys)
    assert (home / keys.model("merged")).exists()
    assert np.array_equal(driver.predict_values(backend, "merged", X_NEW), before)
    backend.close()


def test_a_garbage_manifest(home, capsys):
    backend, before = make(home, "gm", "never")
    (home / keys.manifest("gm")).write_bytes(b"{not json")
    err = refused(["predict", "gm", "--data", "iris"], capsys)
    follow(err, capsys)
    assert np.array_equal(driver.predict_values(backend, "gm", X_NEW), before)
    backend.close()


def test_a_name_claimed_by_a_creator_that_died(home, capsys):
    backend = local_backend(home)
    claim = home / keys.claim("orphan")
    claim.parent.mkdir(parents=True)
    claim.write_text(json.dumps({"name": "orphan", "at": 0, "host": "gone", "pid": 1}))
    build = ["build", "orphan", "--data", "iris", "-t", "4", "-g", "2", "--json"]
    err = refused(build, capsys)
    follow(err, capsys)
    assert cli_main(build) == 0
    assert driver.status(backend, "orphan").state == "done"
    backend.close()


def test_a_build_whose_driver_stopped(home, capsys):
    backend = local_backend(home)
    driver.create(backend, BuildSpec(name="stopped", data="iris", trees=8, grove=2, seed=1))
    driver.run(backend, "stopped", workers=1, should_stop=lambda: True)
    st = driver.status(backend, "stopped")
    assert st.state == "interrupted" and st.hint
    follow(st.hint, capsys)
    assert driver.status(backend, "stopped").state == "done"
    backend.close()


def test_a_garbage_estimate_parameters_file(home, capsys):
    (home / keys.estimate_params()).parent.mkdir(parents=True)
    (home / keys.estimate_params()).write_text("{nope")
    cmd = ["estimate", "e", "--data", "iris", "-t", "4", "-g", "2", "--json"]
    err = refused(cmd, capsys)
    follow(err, capsys)
    assert cli_main(cmd) == 0


def test_a_grove_swapped_for_another_builds_with_its_record_forged_is_refitted_by_finish(home, capsys):
    """Before the forest is merged, a grove file is replaced by a valid grove of another build (3 trees
    where the plan says 2) and its done record forged to match: finish fits the planned grove again."""
    backend, before = make(home, "swap", "always")
    driver.create(backend, BuildSpec(name="other", data="iris", trees=6, grove=3, seed=9))
    driver.run(backend, "other", workers=1)
    _swap_in_and_finish(backend, home, "swap", "other", keys.model, before, capsys)


def _swap_in_and_finish(backend, home, name, other, finished_file, before, capsys) -> None:
    """Put grove 0 of build ``other`` in place of ``name``'s grove 1 with its done record forged to match,
    remove the summary and ``finished_file``; finish must fit grove 1 again and give the same forest."""
    foreign = grove_file(home, other, 0).read_bytes()
    gid = keys.grove_id(1)
    grove_file(home, name, 1).write_bytes(foreign)
    rec = records.read_grove(backend.store, name, gid, "done")
    rec.update(sha256=records_digest(foreign), bytes=len(foreign))
    put_json(backend.store, keys.state(name, gid, "done"), rec)
    (home / keys.summary(name)).unlink()
    (home / finished_file(name)).unlink()
    assert cli_main(["finish", name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trees"] == 8
    assert grove_file(home, name, 1).read_bytes() != foreign
    assert np.array_equal(driver.predict_values(backend, name, X_NEW), before)
    backend.close()


def test_a_garbage_summary(home, capsys):
    backend, before = make(home, "gsum", "always")
    make(home, "other", "always")
    (home / keys.summary("gsum")).write_text("[1,2")
    for argv in (["status", "gsum"], ["predict", "gsum", "--data", "iris"], ["cancel", "gsum"]):
        err = refused(argv, capsys)
        assert "summary.json cannot be read" in err and "lamforest finish gsum" in err, err
    assert not (home / keys.cancel("gsum")).exists()  # a cancel refused writes nothing
    assert cli_main(["builds", "--json"]) == 0  # the rest of the store is still listed
    listed = {b["name"]: b["state"] for b in json.loads(capsys.readouterr().out)}
    assert listed == {"gsum": "broken", "other": "done"}
    follow(refused(["status", "gsum"], capsys), capsys)
    assert np.array_equal(driver.predict_values(backend, "gsum", X_NEW), before)
    backend.close()


def test_a_grove_file_deleted_from_a_grove_set(home, capsys):
    backend, before = make(home, "gone", "never")
    grove_file(home, "gone", 2).unlink()
    err = refused(["predict", "gone", "--data", "iris"], capsys)
    assert "its file is missing" in err and "g00002.tree," not in err  # not told to delete what is not there
    follow(err, capsys)
    assert np.array_equal(driver.predict_values(backend, "gone", X_NEW), before)
    assert not (home / keys.model("gone")).exists()  # finished again as what it was: a grove set
    backend.close()


def test_a_merged_builds_manifest_deleted_is_written_again_by_finish(home, capsys):
    backend, before = make(home, "mm", "always")
    (home / keys.manifest("mm")).unlink()
    assert cli_main(["finish", "mm", "--json"]) == 0
    assert json.loads((home / keys.manifest("mm")).read_text())["trees"] == 8
    assert np.array_equal(driver.predict_values(backend, "mm", X_NEW), before)
    backend.close()


def test_a_grove_of_another_width_with_its_record_forged_is_refitted_by_finish(home, capsys):
    """A grove set (its groves vote as arrays): a grove file replaced by another build's of the same tree
    count but 64 features, its done record forged to match, is named by its width and fitted again."""
    backend, before = make(home, "wide", "never")
    driver.create(backend, BuildSpec(name="digits2", data="digits", trees=2, grove=2, seed=9))
    driver.run(backend, "digits2", workers=1)
    _swap_in_and_finish(backend, home, "wide", "digits2", keys.manifest, before, capsys)
