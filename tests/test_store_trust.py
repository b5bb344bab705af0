"""What lamforest reads from the store is never run and never used unchecked.

A planted pickle (as the model, as a grove) must not run when any command
reads the build; an altered or truncated grove or model file must be
detected against the sha256 its record keeps, reported on one line naming the
build and the file, and never merged, voted or predicted with.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from lamforest import artifacts, data, driver, keys, records
from lamforest.backend import local_backend
from lamforest.driver.distributed import predict_distributed
from lamforest.spec import BuildSpec
from lamforest.store.base import get_json, put_json
from tests.helpers import assert_same_forest, build

SMALL = dict(data="iris", trees=4, grove=2, seed=3)


class _Touch:
    """Unpickling this creates ``path``: a stand-in for any code a pickle could run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _pickle(path: Path) -> bytes:
    buf = io.BytesIO()
    joblib.dump({"v": 1, "estimator": _Touch(path), "trees": 2, "seed": 0}, buf, compress=("lz4", 1))
    # The payload is real: loading it with joblib would create the file.
    joblib.load(io.BytesIO(buf.getvalue()))
    assert path.exists()
    path.unlink()
    return buf.getvalue()


def _bad_bytes(kind: str, good: bytes, canary: Path) -> bytes:
    if kind == "pickle":
        return _pickle(canary)
    if kind == "truncated":
        return good[: len(good) // 2]
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x40
    return bytes(flipped)


@pytest.fixture
def backend(tmp_path: Path):
    b = local_backend(tmp_path / "store")
    yield b
    b.close()


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("kind", ["pickle", "truncated", "flipped"])
@pytest.mark.parametrize("summary_agrees", [False, True])
def test_a_bad_model_file_is_refused_by_predict_and_export(
    backend, tmp_path: Path, kind: str, summary_agrees: bool
) -> None:
    assert build(backend, "m", **SMALL).state == "done"
    canary = tmp_path / "ran"
    bad = _bad_bytes(kind, backend.store.get_bytes(keys.model("m")), canary)
    backend.store.put_bytes(keys.model("m"), bad)
    if summary_agrees:  # whoever planted the file rewrote the summary too: the tree file reader refuses it
        summary = get_json(backend.store, keys.summary("m"))
        summary.update(model_sha256=artifacts.digest(bad), model_bytes=len(bad))
        put_json(backend.store, keys.summary("m"), summary)
    out = tmp_path / "exported.joblib"
    for call in (lambda: driver.predict(backend, "m"), lambda: driver.export(backend, "m", out)):
        with pytest.raises(driver.BuildError) as exc:
            call()
        msg = _one_line(exc.value)
        assert "build 'm'" in msg and keys.model("m") in msg and "lamforest finish m" in msg
        if not summary_agrees:
            assert "record" in msg  # the hash check caught it before the file was parsed
    assert not canary.exists() and not out.exists()


def _plant_grove(backend, name: str, gid: str, bad: bytes, record_agrees: bool) -> None:
    backend.store.put_bytes(keys.grove(name, gid), bad)
    if record_agrees:
        rec = records.read_grove(backend.store, name, gid, "done")
        rec.update(sha256=artifacts.digest(bad), bytes=len(bad))
        records.write_grove(backend.store, name, gid, rec)


@pytest.mark.parametrize("kind", ["pickle", "truncated", "flipped"])
def test_a_bad_grove_whose_record_agrees_is_refused_everywhere(backend, tmp_path: Path, kind: str) -> None:
    assert build(backend, "g", **SMALL).state == "done"
    canary = tmp_path / "ran"
    good = backend.store.get_bytes(keys.grove("g", "g00001"))
    _plant_grove(backend, "g", "g00001", _bad_bytes(kind, good, canary), record_agrees=True)

    with pytest.raises(driver.BuildError) as exc:
        predict_distributed(backend, "g", timeout_s=120)
    msg = _one_line(exc.value)
    assert "build 'g'" in msg and "grove g00001" in msg and "lamforest finish g" in msg

    backend.store.delete(keys.summary("g"))  # so that finish merges again
    with pytest.raises(driver.BuildError) as exc:
        driver.finish(backend, "g", workers=1)
    msg = _one_line(exc.value)
    assert "build 'g'" in msg and keys.grove("g", "g00001") in msg and "lamforest finish g" in msg
    assert not canary.exists()
    assert not backend.store.exists(keys.summary("g"))  # nothing was finished with it


@pytest.mark.parametrize("kind", ["pickle", "truncated", "flipped"])
def test_a_grove_that_differs_from_its_record_is_refused_then_fitted_again(backend, tmp_path: Path, kind: str) -> None:
    assert build(backend, "r", **SMALL).state == "done"
    before = driver.load_model(backend, "r")
    canary = tmp_path / "ran"
    good = backend.store.get_bytes(keys.grove("r", "g00000"))
    _plant_grove(backend, "r", "g00000", _bad_bytes(kind, good, canary), record_agrees=False)

    with pytest.raises(driver.BuildError) as exc:
        predict_distributed(backend, "r", timeout_s=120)
    msg = _one_line(exc.value)
    assert "build 'r'" in msg and "grove g00000" in msg and "its record" in msg

    backend.store.delete(keys.summary("r"))
    st = driver.finish(backend, "r", workers=1)
    assert st.state == "done"
    assert not canary.exists()
    # The grove was fitted again (deterministic: the same bytes) and the merged forest is the same.
    assert backend.store.get_bytes(keys.grove("r", "g00000")) == good
    assert_same_forest(driver.load_model(backend, "r"), before)


def test_the_done_record_and_summary_carry_the_files_hashes(backend) -> None:
    assert build(backend, "h", **SMALL).state == "done"
    for gid in ("g00000", "g00001"):
        rec = records.read_grove(backend.store, "h", gid, "done")
        blob = backend.store.get_bytes(keys.grove("h", gid))
        assert rec["sha256"] == artifacts.digest(blob) and rec["bytes"] == len(blob)
    summary = get_json(backend.store, keys.summary("h"))
    model = backend.store.get_bytes(keys.model("h"))
    assert summary["model_sha256"] == artifacts.digest(model) and summary["model_bytes"] == len(model)
    assert not [k for k in backend.store.list("builds/h/") if k.endswith(".joblib")]


# ---------------------------------------------------------------- train sets


def _spoil(store, key: str, how: str) -> None:
    blob = store.get_bytes(key)
    if how == "truncated":
        store.put_bytes(key, blob[: len(blob) - 100])
    else:  # one value changed: the file still opens, only its hash tells
        changed = bytearray(blob)
        changed[-5] ^= 0x01
        store.put_bytes(key, bytes(changed))


def _train(rows: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(rows, 4)).astype(np.float32), rng.integers(0, 2, rows)


@pytest.mark.parametrize("how", ["truncated", "altered"])
@pytest.mark.parametrize("name", ["X.npy", "y.npy"])
def test_put_train_checks_a_stored_copy_before_reusing_it(backend, how: str, name: str) -> None:
    X, y = _train()
    ref = data.put_train(backend.store, X, y, "classification", ["a", "b", "c", "d"])
    key = keys.data_file(ref, name)
    good = backend.store.get_bytes(key)
    _spoil(backend.store, key, how)
    assert backend.store.get_bytes(key) != good
    assert data.put_train(backend.store, X, y, "classification", ["a", "b", "c", "d"]) == ref
    assert backend.store.get_bytes(key) == good  # written again with the content its address names
    Xs, ys = data.open_train(backend.store, ref)
    data.check_train(ref, Xs, ys)


@pytest.mark.parametrize("how", ["truncated", "altered"])
def test_a_spoiled_train_set_fails_the_groves_and_is_never_fitted(backend, how: str) -> None:
    plan = driver.create(backend, BuildSpec(name="d", data="iris", trees=4, grove=2, seed=3, retries=0))
    _spoil(backend.store, keys.data_file(plan.data_ref, "X.npy"), how)
    st = driver.run(backend, "d", workers=1)
    assert st.state == "failed"
    error = _one_line_str(st.summary["error"])
    assert "DataIntegrityError" in error and plan.data_ref in error and "not used" in error
    assert not [k for k in backend.store.list("builds/d/") if "/groves/" in k]  # nothing fitted on it


def _one_line_str(msg: str) -> str:
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("how", ["truncated", "altered"])
def test_a_worker_checks_a_downloaded_train_set_once_and_drops_a_bad_copy(
    aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import boto3

    from lamforest.store.s3 import S3Store
    from lamforest.worker import env

    monkeypatch.setenv("LAMFOREST_CACHE", str(tmp_path / "cache"))
    bucket = f"lf-trust-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    store = S3Store(bucket)
    X, y = _train()
    ref = data.put_train(store, X, y, "classification", ["a", "b", "c", "d"])
    _spoil(store, keys.data_file(ref, "X.npy"), how)
    with pytest.raises(data.DataIntegrityError) as exc:
        env.load_train(store, ref)
    assert ref in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "cache" / ref / "X.npy").exists()  # the bad download is not kept
    data.put_train(store, X, y, "classification", ["a", "b", "c", "d"])  # any new build stores it again
    Xs, ys, ws = env.load_train(store, ref)
    assert np.array_equal(Xs, X) and np.array_equal(ys, y) and ws is None  # unweighted: no w.npy


def test_finish_rebuilds_a_done_build_whose_files_are_gone(backend) -> None:
    """A build stored before groves and models were tree files has none under the new names: finish fits
    the groves again (deterministic) and merges them, rather than report a model that is not there."""
    assert build(backend, "old", **SMALL).state == "done"
    before = driver.load_model(backend, "old")
    for key in list(backend.store.list("builds/old/")):
        if key.endswith((".tree", "manifest.json")):  # such a build had neither
            backend.store.delete(key)
    with pytest.raises(driver.BuildError, match="no model yet"):
        driver.load_model(backend, "old")
    st = driver.finish(backend, "old", workers=1)
    assert st.state == "done" and st.model is not None
    assert_same_forest(driver.load_model(backend, "old"), before)
