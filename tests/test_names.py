"""A build's name is taken by one conditional create: of two creators racing for it, exactly one wins.

The loser is refused with a one-line ``SpecError("name")`` (CLI exit 2) and
writes nothing; everything stored under the name is the winner's. A creation
that fails gives the name back; one that stopped halfway keeps it, and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest

from lamforest import data as datamod
from lamforest import driver, keys
from lamforest.backend import Backend, local_backend
from lamforest.driver import search
from lamforest.spec import BuildSpec, SpecError
from lamforest.store.base import get_json


def _csv(path: Path, rows: int = 30_000, cols: int = 8) -> Path:
    """A few MB of numbers and a binary target: large enough that loading it takes a moment."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).round(6)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    header = ",".join([f"x{i}" for i in range(cols)] + ["y"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="", fmt="%.6f")
    return path


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param == "local":
        b = local_backend(tmp_path / "store")
    else:
        from lamforest.backend.aws import aws_backend

        request.getfixturevalue("aws_env")
        bucket = f"lf-names-{uuid.uuid4().hex[:12]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        monkeypatch.setenv("LAMFOREST_BUCKET", bucket)
        monkeypatch.setenv("LAMFOREST_DISPATCH", "invoke")
        monkeypatch.setenv("LAMFOREST_FUNCTION", "lamforest-names")
        b = aws_backend(check=False)
    yield b
    b.close()


def test_two_creators_racing_for_a_name_one_wins(backend: Backend, tmp_path: Path) -> None:
    """Eight threads call ``driver.create`` for the same name at once, each with its own seed."""
    csv = _csv(tmp_path / "d.csv", rows=2_000)
    start = threading.Barrier(8)
    won: list[int] = []
    refused: list[SpecError] = []
    other: list[BaseException] = []

    def creator(seed: int) -> None:
        spec = BuildSpec(name="same", data=str(csv), target="y", trees=4, grove=2, seed=seed)
        start.wait(timeout=60)
        try:
            driver.create(backend, spec)
            won.append(seed)
        except SpecError as exc:
            refused.append(exc)
        except BaseException as exc:
            other.append(exc)

    threads = [threading.Thread(target=creator, args=(seed,)) for seed in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert other == []
    assert len(won) == 1 and len(refused) == 7
    for exc in refused:
        assert exc.field == "name" and "a build named 'same' already exists" in exc.message
    plan = driver.load_plan(backend, "same")
    assert plan.spec.seed == won[0]
    _assert_test_set_of(backend, "same", csv, won[0])


def _assert_test_set_of(backend: Backend, name: str, csv: Path, seed: int) -> None:
    ds = datamod.load(str(csv), "y", "auto", seed)
    _, X_te, _, _ = datamod.split(ds, 0.25, seed)
    X_stored, _ = datamod.get_test(backend.store, name)
    assert np.array_equal(X_stored, X_te)
    _, X_other, _, _ = datamod.split(ds, 0.25, seed + 100)
    assert not np.array_equal(X_stored, X_other)  # the test set does tell seeds apart


def test_two_cli_builds_racing_for_a_name(tmp_path: Path) -> None:
    """Two `lamforest build SAME` processes at once on one store: one builds, the other exits 2."""
    home = tmp_path / "home"
    csv = _csv(tmp_path / "big.csv")
    assert csv.stat().st_size > 2_000_000
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    cmd = [sys.executable, "-m", "lamforest.cli", "build", "same", "--data", str(csv), "--target", "y"]
    cmd += ["-t", "4", "-g", "2", "--workers", "1", "--json", "--seed"]
    procs = {
        seed: subprocess.Popen([*cmd, str(seed)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (11, 12)
    }
    out = {seed: p.communicate(timeout=300) for seed, p in procs.items()}
    codes = {seed: p.returncode for seed, p in procs.items()}
    assert sorted(codes.values()) == [0, 2], (codes, out)
    winner = next(s for s, c in codes.items() if c == 0)
    loser = next(s for s, c in codes.items() if c == 2)
    stderr = out[loser][1]
    assert "error in name" in stderr and "already exists" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert json.loads(out[winner][0])["state"] == "done"

    backend = local_backend(home)
    try:
        assert driver.load_plan(backend, "same").spec.seed == winner
        _assert_test_set_of(backend, "same", csv, winner)
        summary = get_json(backend.store, keys.summary("same"))
        assert summary["state"] == "done"
        pred = driver.predict(backend, "same")
        assert pred.score == pytest.approx(summary["test_score"])  # the model is the one the winner scored
    finally:
        backend.close()


_CREATE = """
import sys, time
from pathlib import Path
from lamforest import driver
from lamforest.backend.aws import aws_backend
from lamforest.spec import BuildSpec, SpecError

go = Path(sys.argv[1])
spec = BuildSpec(name="same", data=sys.argv[2], target="y", trees=4, grove=2, seed=int(sys.argv[3]))
backend = aws_backend(check=False)
while not go.exists():  # both processes start creating at the same moment
    time.sleep(0.01)
try:
    driver.create(backend, spec)
except SpecError as exc:
    print(f"error in {exc.field}: {exc.message}", file=sys.stderr)
    sys.exit(2)
"""


def test_two_processes_racing_for_a_name_on_s3(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes create the same build on one bucket (moto server, over HTTP): one wins, one is refused."""
    from lamforest.backend.aws import aws_backend

    bucket = f"lf-race-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAMFOREST_BUCKET", bucket)
    monkeypatch.setenv("LAMFOREST_DISPATCH", "invoke")
    monkeypatch.setenv("LAMFOREST_FUNCTION", "lamforest-race")
    csv = _csv(tmp_path / "big.csv")
    go = tmp_path / "go"
    procs = {
        seed: subprocess.Popen(
            [sys.executable, "-c", _CREATE, str(go), str(csv), str(seed)],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (21, 22)
    }
    go.touch()
    out = {seed: p.communicate(timeout=300) for seed, p in procs.items()}
    codes = {seed: p.returncode for seed, p in procs.items()}
    assert sorted(codes.values()) == [0, 2], (codes, out)
    winner = next(s for s, c in codes.items() if c == 0)
    loser = next(s for s, c in codes.items() if c == 2)
    assert "error in name: a build named 'same' already exists" in out[loser][1]

    backend = aws_backend(check=False)
    try:
        assert driver.load_plan(backend, "same").spec.seed == winner
        _assert_test_set_of(backend, "same", csv, winner)
        claim = json.loads(backend.store.get_bytes(keys.claim("same")))
        assert claim["pid"] == procs[winner].pid  # the claim is the winner's too
        assert set(backend.store.list(keys.build("same"))) == {
            keys.claim("same"),
            keys.spec("same"),
            keys.test_set("same"),
        }
    finally:
        backend.close()


def test_a_failed_creation_gives_the_name_back(backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        driver.create(backend, BuildSpec(name="free", data=str(tmp_path / "missing.csv"), target="y"))
    assert exc.value.field == "data"
    assert backend.store.list(keys.build("free")) == {}  # no claim, no test set
    assert driver.create(backend, BuildSpec(name="free", data="iris", trees=2, grove=1)).spec.name == "free"


def test_a_claim_without_a_spec_keeps_the_name_and_says_why(backend: Backend) -> None:
    # A creator that stopped after taking the name (killed while loading its data).
    assert backend.store.create(keys.claim("half"), b'{"name": "half"}')
    with pytest.raises(SpecError) as exc:
        driver.create(backend, BuildSpec(name="half", data="iris", trees=2, grove=1))
    assert exc.value.field == "name"
    assert "being created" in exc.value.message and keys.build("half").rstrip("/") in exc.value.message
    assert "lamforest status half" in exc.value.message
    assert list(backend.store.list(keys.build("half"))) == [keys.claim("half")]  # nothing adopted or added
    assert [s.name for s in driver.list_builds(backend)] == []  # not a build


def test_a_claim_whose_creator_has_ended_says_so_and_the_way_out_frees_the_name(backend: Backend) -> None:
    """Killed while loading its data: its claim names a process of this host that is gone."""
    import json
    import platform
    import shutil
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    claim = {"name": "dead", "at": 1.0, "host": platform.node(), "pid": gone.pid}
    assert backend.store.create(keys.claim("dead"), json.dumps(claim).encode())
    with pytest.raises(driver.BuildError) as exc:
        driver.load_plan(backend, "dead")
    said = str(exc.value)
    assert f"pid {gone.pid}" in said and "has ended before writing its plan" in said
    folder = said.rsplit("delete ", 1)[1].split(" to free the name")[0]
    if folder.startswith("s3://"):  # the way out, followed literally: every key under that prefix
        for key in backend.store.list(keys.build("dead")):
            backend.store.delete(key)
    else:
        shutil.rmtree(folder)
    assert driver.create(backend, BuildSpec(name="dead", data="iris", trees=2, grove=1)).spec.name == "dead"


def test_a_build_whose_spec_is_lost_is_not_adopted(backend: Backend) -> None:
    """An earlier build (stored before names were claimed) lost its spec: its model is not taken over."""
    driver.create(backend, BuildSpec(name="old", data="iris", trees=2, grove=1, seed=1))
    model = b"an earlier build's merged forest"
    backend.store.put_bytes(keys.model("old"), model)
    for key in (keys.spec("old"), keys.claim("old")):
        backend.store.delete(key)
    with pytest.raises(SpecError) as exc:
        driver.create(backend, BuildSpec(name="old", data="iris", trees=2, grove=1, seed=2))
    assert exc.value.field == "name" and "has no spec" in exc.value.message and "not adopted" in exc.value.message
    assert not backend.store.exists(keys.spec("old")) and not backend.store.exists(keys.claim("old"))
    assert backend.store.get_bytes(keys.model("old")) == model
    # A name that merely starts the same is free.
    assert driver.create(backend, BuildSpec(name="ol", data="iris", trees=2, grove=1)).spec.name == "ol"


def test_builds_and_searches_share_names(backend: Backend) -> None:
    driver.create(backend, BuildSpec(name="both", data="iris", trees=2, grove=1))
    spec = search.SearchSpec.of("both", grid={"max_depth": [2, 3]}, data="iris", trees=2, grove=1)
    with pytest.raises(SpecError) as exc:
        search.create(backend, spec)
    assert exc.value.field == "name" and "already exists" in exc.value.message


def test_a_search_name_is_refused_to_a_build(backend: Backend) -> None:
    search.create(backend, search.SearchSpec.of("s1", grid={"max_depth": [2, 3]}, data="iris", trees=2, grove=1))
    with pytest.raises(SpecError) as exc:
        driver.create(backend, BuildSpec(name="s1", data="iris", trees=2, grove=1))
    assert exc.value.field == "name" and "a search named 's1' already exists" in exc.value.message
