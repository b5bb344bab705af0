"""The manifest is checked against the plan before predict, export or a sharded job believes it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lamforest import data, driver, keys
from lamforest.backend import Backend, local_backend
from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code
from lamforest.spec import BuildSpec


@pytest.fixture
def grove_set(tmp_path: Path) -> Backend:
    """A finished build that is a grove set (no merged file): predict streams its groves by the manifest."""
    backend = local_backend(tmp_path / "store")
    driver.create(backend, BuildSpec(name="gs", data="iris", trees=8, grove=2, seed=1))
    st = driver.run(backend, "gs", workers=1, merge=driver.MergePolicy("never"))
    assert st.state == "done" and not backend.store.exists(keys.model("gs"))
    yield backend
    backend.close()


def _manifest(backend: Backend) -> dict:
    return json.loads(backend.store.get_bytes(keys.manifest("gs")))


def _forge(backend: Backend, doc: object) -> None:
    backend.store.put_bytes(keys.manifest("gs"), json.dumps(doc).encode())


def test_a_manifest_missing_a_grove_with_its_tree_count_adjusted_is_refused(grove_set: Backend) -> None:
    X, _ = data.get_test(grove_set.store, "gs")
    honest = driver.predict_values(grove_set, "gs", X)
    doc = _manifest(grove_set)
    doc["groves"] = doc["groves"][:2]
    doc["trees"] = 4  # consistent with itself, not with the plan
    _forge(grove_set, doc)
    with pytest.raises(driver.BuildError, match=r"manifest\.json lists groves \[0, 1\], the plan has groves 0 to 3"):
        driver.predict_values(grove_set, "gs", X)
    # Following the advice literally: delete it, finish writes it again, predict gives the forest's answer.
    grove_set.store.delete(keys.manifest("gs"))
    driver.finish(grove_set, "gs", merge=driver.MergePolicy("never"))
    assert np.array_equal(driver.predict_values(grove_set, "gs", X), honest)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d["groves"][1].update(trees=3), "says grove 1 has 3 trees, the plan gives it 2"),
        (lambda d: d.update(classes=[0, 1]), "has classes [0, 1], the plan [0, 1, 2]"),
        (lambda d: d.update(n_features=3), "has 3 features, the plan 4"),
        (lambda d: d.update(trees=9), "counts 9 trees, the plan 8"),
    ],
)
def test_a_manifest_that_disagrees_with_the_plan_is_refused(grove_set: Backend, change, said: str) -> None:
    doc = _manifest(grove_set)
    change(doc)
    _forge(grove_set, doc)
    with pytest.raises(driver.BuildError, match=said.replace("[", r"\[").replace("]", r"\]")):
        driver.predict_values(grove_set, "gs", np.zeros((2, 4), dtype=np.float32))


def test_a_garbage_manifest_is_one_line_naming_it_and_the_way_out(
    grove_set: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    grove_set.store.put_bytes(keys.manifest("gs"), b"{not json")
    monkeypatch.setenv("LAMFOREST_HOME", grove_set.store.url)
    assert cli_main(["predict", "gs"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "manifest.json cannot be read" in err and "lamforest finish gs" in err


def test_a_deleted_held_out_set_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    assert cli_main(["build", "ht", "--data", "iris", "-t", "2", "-g", "1", "--json"]) == 0
    capsys.readouterr()
    (tmp_path / "home" / "builds" / "ht" / "test.npz").unlink()
    assert cli_main(["predict", "ht"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "test.npz (the held-out rows) is missing" in err and "--data" in err
    # The advice works: other rows predict.
    assert cli_main(["predict", "ht", "--data", "iris", "--json"]) == 0


def test_predict_without_data_on_a_sharded_build_says_where_its_held_out_rows_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_shards import write_shards

    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    data = write_shards(tmp_path / "data", n=2, rows=300)
    assert cli_main(["build", "sd", "--data", str(data), "--target", "label", "-t", "2", "-g", "1", "--json"]) == 0
    capsys.readouterr()
    assert cli_main(["predict", "sd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error in data:") and "sharded" in err and "--out" in err


def test_labels_the_model_never_saw_are_counted_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    train = tmp_path / "train.csv"
    train.write_text("a,b,y\n" + "".join(f"{i % 9},{i % 4},{'xy'[i % 2]}\n" for i in range(120)))
    assert cli_main(["build", "un", "--data", str(train), "--target", "y", "-t", "2", "-g", "1", "--json"]) == 0
    capsys.readouterr()
    new = tmp_path / "new.csv"
    new.write_text("a,b,y\n1,1,x\n2,2,y\n3,3,z\n4,0,z\n")
    assert cli_main(["predict", "un", "--data", str(new), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unseen"] == 2 and out["unseen_labels"] == ["z"]
    assert sum(map(sum, out["confusion"])) == 2  # the matrix counts the known labels only
    assert out["score"] <= 0.5  # the unseen rows count as wrong
    assert cli_main(["predict", "un", "--data", str(new)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "2 row(s) have labels the model never saw (z)" in said
    # Every labelled row unseen: scored 0, an empty matrix, the predictions still written.
    (tmp_path / "alien.csv").write_text("a,b,y\n1,1,q\n2,2,z\n")
    assert (
        cli_main(["predict", "un", "--data", str(tmp_path / "alien.csv"), "--out", str(tmp_path / "p.csv"), "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["unseen"] == 2 and out["score"] == 0.0 and sum(map(sum, out["confusion"])) == 0
    assert (tmp_path / "p.csv").read_text().count("\n") == 3


def test_finish_merge_always_on_a_grove_set_writes_the_merged_model(grove_set: Backend) -> None:
    X, _ = data.get_test(grove_set.store, "gs")
    streamed = driver.predict_values(grove_set, "gs", X)
    st = driver.finish(grove_set, "gs", merge=driver.MergePolicy("always"))
    assert st.state == "done" and grove_set.store.exists(keys.model("gs"))
    assert st.summary is not None and st.summary["model_kind"] == "merged"
    assert np.array_equal(driver.load_model(grove_set, "gs").predict_proba(X), streamed)


def test_a_grove_of_another_width_with_its_hash_forged_into_the_manifest_is_named(
    grove_set: Backend, tmp_path: Path
) -> None:
    # The groves vote through their arrays, which index the rows' columns by the trees' feature numbers:
    # a grove read by the manifest's hash must still be this forest's width, or it is named, not indexed.
    import hashlib

    other = local_backend(tmp_path / "other")
    driver.create(other, BuildSpec(name="wide", data="digits", trees=2, grove=2, seed=1))
    assert driver.run(other, "wide", workers=1).state == "done"
    blob = other.store.get_bytes(keys.grove("wide", keys.grove_id(0)))
    other.close()
    grove_set.store.put_bytes(keys.grove("gs", keys.grove_id(0)), blob)
    doc = _manifest(grove_set)
    doc["groves"][0]["sha256"] = hashlib.sha256(blob).hexdigest()
    _forge(grove_set, doc)
    X, _ = data.get_test(grove_set.store, "gs")
    with pytest.raises(driver.BuildError, match=r"grove g00000 .* trees read 64 features, the forest's rows have 4"):
        driver.predict_values(grove_set, "gs", X)
