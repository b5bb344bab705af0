"""One-line errors: every fault a user can reach ends in one line naming what to fix.

Exit 2 for bad input (a path that cannot be used, a malformed file), 1 for a failure
(a full disk, a damaged build); ``--debug`` or ``LAMFOREST_DEBUG=1`` add the traceback.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import joblib
import numpy as np
import pytest

from lamforest import keys
from lamforest.cli import main
from lamforest.store.local import LocalStore

BUILD = ["--data", "iris", "-t", "4", "-g", "2", "-s", "--json"]


def one_line(capsys, code: int, argv: list[str]) -> str:
    """Run the CLI, check the exit code and that stderr is exactly one line without a traceback."""
    got = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert got == code, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def built(home: Path, capsys) -> str:
    assert main(["build", "m1", *BUILD]) == 0
    capsys.readouterr()
    return "m1"


# --------------------------------------------------------------------------- export


def test_export_to_a_folder_is_refused(built, tmp_path: Path, capsys):
    line = one_line(capsys, 2, ["export", built, str(tmp_path)])
    assert "is a folder" in line and str(tmp_path) in line


def test_an_export_into_missing_folders_says_which_folder_it_created(built, tmp_path: Path, capsys):
    target = tmp_path / "typo" / "deeper" / "m.joblib"
    assert main(["export", built, str(target)]) == 0
    out = capsys.readouterr().out
    assert f"created the folder {tmp_path / 'typo'}, which did not exist" in " ".join(out.split())  # wrapped or not
    assert joblib.load(target).n_estimators == 4
    assert main(["export", built, str(tmp_path / "other.joblib")]) == 0
    assert "created the folder" not in capsys.readouterr().out


def test_export_refuses_an_existing_file_unless_forced(built, tmp_path: Path, capsys):
    target = tmp_path / "model.joblib"
    target.write_text("keep me")
    line = one_line(capsys, 2, ["export", built, str(target)])
    assert "already exists" in line and "--force" in line
    assert target.read_text() == "keep me"
    assert main(["export", built, str(target), "--force"]) == 0
    assert joblib.load(target).n_estimators == 4


def test_export_refuses_an_existing_skops_file_unless_forced(built, tmp_path: Path, capsys):
    target = tmp_path / "model.skops"
    target.write_text("keep me")
    one_line(capsys, 2, ["export", built, str(target)])
    assert target.read_text() == "keep me"


def test_export_under_a_file_is_refused(built, tmp_path: Path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_line(capsys, 2, ["export", built, str(blocker / "model.joblib")])
    assert "is a file" in line


def test_export_to_an_unwritable_folder(built, capsys):
    # sysfs takes no new files, even from root: a real unwritable path.
    line = one_line(capsys, 2, ["export", built, "/sys/model.joblib"])
    assert "/sys" in line and ".tmp" not in line  # the folder, not the temp file, is named


def test_export_to_a_full_disk_is_one_line_and_exit_1(built, capsys):
    # /dev/full answers every write with ENOSPC, as a full disk does.
    line = one_line(capsys, 1, ["export", built, "/dev/full", "--force"])
    assert "No space left" in line and "/dev/full" in line and "free some space" in line


def test_export_that_fails_leaves_the_old_file_and_no_temp(built, tmp_path: Path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "model.joblib"
    target.write_bytes(b"old model")

    def full_at_rename(*_a):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_at_rename)
    one_line(capsys, 1, ["export", built, str(target), "--force"])
    assert target.read_bytes() == b"old model"
    assert [p.name for p in out.iterdir()] == ["model.joblib"]


# --------------------------------------------------------------------------- the store


def test_a_store_folder_that_is_a_file(tmp_path: Path, capsys):
    blocker = tmp_path / "store"
    blocker.write_text("not a folder")
    line = one_line(capsys, 2, ["--home", str(blocker), "builds"])
    assert "home" in line and str(blocker) in line and "is a file, not a folder" in line


def test_a_read_only_store_folder(home: Path, capsys, monkeypatch):
    # As root, permissions do not stop a write; the read-only file system is simulated.
    def read_only(self, key, *_):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self.root / key))

    monkeypatch.setattr(LocalStore, "put_bytes", read_only)
    monkeypatch.setattr(LocalStore, "put_file", read_only)
    line = one_line(capsys, 2, ["build", "ro", *BUILD])
    assert "Read-only file system" in line and str(home) in line


def test_a_full_disk_during_a_build(home: Path, capsys, monkeypatch):
    def full(self, key, *_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.root / key))

    monkeypatch.setattr(LocalStore, "put_bytes", full)
    monkeypatch.setattr(LocalStore, "put_file", full)
    line = one_line(capsys, 1, ["build", "fd", *BUILD])
    assert "No space left" in line and "free some space" in line


def test_a_corrupted_spec_is_one_line_and_listed_as_broken(built, home: Path, capsys):
    assert main(["build", "m2", *BUILD]) == 0
    capsys.readouterr()
    spec = home / keys.spec(built)
    spec.write_text(spec.read_text()[:40])
    line = one_line(capsys, 1, ["status", built])
    assert "spec.json" in line and "corrupted" in line
    # The list keeps every other build and shows the damaged one, rather than emptying.
    assert main(["builds", "--json"]) == 0
    listing = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert listing["m2"]["state"] == "done"
    assert listing[built]["state"] == "broken" and "corrupted" in listing[built]["error"]
    assert main(["builds"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out and "m2" in out


def test_a_spec_that_is_json_but_not_a_plan(built, home: Path, capsys):
    (home / keys.spec(built)).write_text("[1, 2, 3]")
    line = one_line(capsys, 1, ["predict", built])
    assert "corrupted" in line


def test_a_truncated_model(built, home: Path, capsys):
    model = home / keys.model(built)
    model.write_bytes(model.read_bytes()[:100])
    line = one_line(capsys, 1, ["predict", built])
    assert keys.model(built) in line and "truncated" in line and f"lamforest finish {built}" in line


def test_a_truncated_grove(built, home: Path, capsys):
    """A driver died while merging (no summary, no model) and a grove file is cut short:
    finish sees it is not the file its record describes, fits that grove again, and ends done."""
    (home / keys.summary(built)).unlink()
    (home / keys.model(built)).unlink()
    grove = home / keys.grove(built, keys.grove_id(1))
    grove.write_bytes(grove.read_bytes()[:64])
    assert main(["finish", built, "--json"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and json.loads(out.out)["state"] == "done"


# --------------------------------------------------------------------------- malformed files, one per format


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("bad.csv", lambda p: p.write_text("a,b,y\n1,2\n")),
        ("bad.parquet", lambda p: p.write_bytes(b"PAR1 not really")),
        ("bad.npy", lambda p: p.write_bytes(b"\x93NUMPY garbage")),
        ("bad.npz", lambda p: p.write_bytes(np.arange(10).tobytes())),
    ],
)
def test_a_malformed_data_file_is_one_line_and_exit_2(home: Path, tmp_path: Path, capsys, name, write):
    path = tmp_path / name
    write(path)
    line = one_line(capsys, 2, ["build", "bad", "--data", str(path), "--target", "y", "-t", "2", "-g", "1"])
    assert name in line and "data" in line


# --------------------------------------------------------------------------- --debug and the unexpected


def test_debug_flag_and_environment_show_the_traceback(built, tmp_path: Path, capsys, monkeypatch):
    assert main(["export", built, str(tmp_path), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("LAMFOREST_DEBUG", "1")
    assert main(["export", built, str(tmp_path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_an_unexpected_error_is_still_one_line(built, capsys, monkeypatch):
    from lamforest import driver

    def boom(*_a, **_k):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(driver, "status", boom)
    line = one_line(capsys, 1, ["status", built])
    assert "ZeroDivisionError: division by zero" in line and "--debug" in line
