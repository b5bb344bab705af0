"""Forests bigger than one machine: the streamed finish, grove sets, predictions for new rows to a file."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lamforest import artifacts, data, driver, forest, keys, treefile
from lamforest.cli import main
from lamforest.driver import stream
from lamforest.driver.distributed import predict_distributed
from lamforest.driver.finish import EarlyStream, MergePolicy, finalize
from lamforest.driver.stream import GroveMismatch
from lamforest.spec import BuildSpec, SpecError

FEATURES = ["sepal_len", "sepal_wid", "petal_len", "petal_wid"]
SPECIES = np.array(["setosa", "versicolor", "virginica"])


def build(backend, name: str, merge: MergePolicy, **spec) -> driver.BuildStatus:
    driver.create(backend, BuildSpec(name=name, **spec))
    return driver.run(backend, name, workers=2, merge=merge)


def sklearn_values(model, X: np.ndarray) -> np.ndarray:
    model.n_jobs = None
    return model.predict_proba(X) if forest.is_classifier(model) else model.predict(X)


# --------------------------------------------------------------------------- the streamed finish


def _decompressed(blob: bytes) -> bytes:
    """A tree file's records, decompressed: what two files of one forest share even where lz4 cut its
    blocks elsewhere."""
    import lz4.frame

    return lz4.frame.decompress(blob[treefile._PREAMBLE.size :])


CASES = {
    "digits": dict(data="digits", trees=13, grove=4, seed=3),
    "impure-leaves": dict(data="iris", trees=13, grove=4, seed=3, params={"min_samples_leaf": 5}),
    "regression": dict(data="diabetes", trees=13, grove=4, seed=3, params={"max_samples": 0.7}),
    "extra-trees": dict(data="wine", trees=9, grove=4, seed=3, model="et"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_finish_scores_are_the_merged_forests(shared_backend, unique, case: str) -> None:
    name = unique("sf")
    st = build(shared_backend, name, MergePolicy("always"), **CASES[case])
    assert st.state == "done" and st.summary["model_kind"] == "merged"
    merged = driver.load_model(shared_backend, name)
    merged.n_jobs = None
    X_te, y_te = data.get_test(shared_backend.store, name)
    # The merged forest scored by scikit-learn itself, against the score finish streamed: equal, not close.
    assert st.summary["test_score"] == forest.score(merged, X_te, y_te)
    groves = [driver.load_grove(shared_backend, name, r.grove) for r in st.rows]
    # Written grove by grove, never merged in memory: the file of the groves merged, the same records
    # byte for byte (lz4 may cut its blocks elsewhere).
    stored = shared_backend.store.get_bytes(keys.model(name))
    assert _decompressed(stored) == _decompressed(artifacts.dumps_model(forest.merge(groves)))
    assert st.summary["model_bytes"] == len(stored) and st.summary["model_sha256"] == artifacts.digest(stored)
    if case == "extra-trees":
        assert st.summary["oob_score"] is None
    else:
        _, y_tr = data.open_train(shared_backend.store, st.plan.data_ref)
        classes = np.asarray(merged.classes_) if forest.is_classifier(merged) else None
        assert st.summary["oob_score"] == forest.oob_score(groves, np.asarray(y_tr), classes)
    manifest = stream.load_manifest(shared_backend, name)
    assert [g["trees"] for g in manifest["groves"]] == [g.trees for g in groves]
    assert manifest["trees"] == merged.n_estimators
    assert manifest["tree_bytes"] == forest.tree_bytes(merged)


def _unfinished(backend, name: str, done: int) -> tuple[driver.Watcher, driver.BuildStatus]:
    """A done build made to look as its driver saw it while it ran: the summary, manifest and merged
    file gone, only the first ``done`` groves landed."""
    for key in (keys.summary(name), keys.manifest(name), keys.model(name)):
        backend.store.delete(key)
    watcher = driver.Watcher(backend, name)
    st = watcher.refresh()
    rows = [r if r.grove < done else dataclasses.replace(r, state="running") for r in st.rows]
    return watcher, dataclasses.replace(st, rows=rows, state="running")


@pytest.mark.parametrize("case", ["digits", "regression"])
def test_groves_streamed_while_the_build_runs_finish_as_a_finish_that_reads_them_all(
    shared_backend, unique, case: str
) -> None:
    """The driver's loop takes each landed grove, in grove order, as the finish would; the finish goes
    on from there: the same merged file, scores and manifest as a finish that reads every grove."""
    name = unique("early")
    merge = MergePolicy("always")
    whole = build(shared_backend, name, merge, **CASES[case])
    manifest = stream.load_manifest(shared_backend, name)
    watcher, running = _unfinished(shared_backend, name, done=2)
    early = EarlyStream(shared_backend, running.plan, merge)
    early.advance(running, watcher.listing, budget_s=600)
    assert early.taken == 2  # grove 2 has not landed: the pass waits for it, in order
    st = finalize(shared_backend, watcher, failures=[], t_start=None, merge=merge, early=early)
    for key in ("test_score", "oob_score", "model_sha256", "model_bytes", "trees", "tree_bytes"):
        assert st.summary.get(key) == whole.summary.get(key), key
    assert stream.load_manifest(shared_backend, name)["groves"] == manifest["groves"]


def test_a_grove_not_as_its_record_says_stops_the_early_pass_and_the_finish_names_it(shared_backend, unique) -> None:
    name = unique("early-bad")
    build(shared_backend, name, MergePolicy("always"), **CASES["digits"])
    watcher, running = _unfinished(shared_backend, name, done=3)
    path = shared_backend.store.root / keys.grove(name, keys.grove_id(1))
    path.write_bytes(path.read_bytes()[:-10])  # truncated after its worker recorded it
    early = EarlyStream(shared_backend, running.plan, MergePolicy("always"))
    early.advance(running, watcher.listing, budget_s=600)
    assert early.given_up and early.taken == 0  # grove 0 taken, then dropped with the pass
    with pytest.raises(GroveMismatch, match=keys.grove_id(1)):
        finalize(shared_backend, watcher, failures=[], t_start=None, merge=MergePolicy("always"), early=early)


def test_a_grove_changed_after_the_early_pass_took_it_is_named_by_the_finish(shared_backend, unique) -> None:
    """The pass read grove 0 when it was whole; truncated before the finish, it must not be listed in
    the manifest with the hash of the bytes it no longer has: the finish reads every grove again."""
    name = unique("early-late")
    build(shared_backend, name, MergePolicy("always"), **CASES["digits"])
    watcher, running = _unfinished(shared_backend, name, done=2)
    early = EarlyStream(shared_backend, running.plan, MergePolicy("always"))
    early.advance(running, watcher.listing, budget_s=600)
    assert early.taken == 2
    path = shared_backend.store.root / keys.grove(name, keys.grove_id(0))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(GroveMismatch, match=keys.grove_id(0)):
        finalize(shared_backend, watcher, failures=[], t_start=None, merge=MergePolicy("always"), early=early)


@pytest.mark.parametrize("case", ["impure-leaves", "regression"])
def test_a_grove_set_predicts_the_merged_forests_numbers_to_the_bit(shared_backend, unique, case: str) -> None:
    merged_name, groves_name = unique("m"), unique("g")
    build(shared_backend, merged_name, MergePolicy("always"), **CASES[case])
    st = build(shared_backend, groves_name, MergePolicy("never"), **CASES[case])
    assert st.state == "done" and st.model is None and st.summary["model_kind"] == "groves"
    X = np.asarray(data.get_test(shared_backend.store, merged_name)[0])
    theirs = sklearn_values(driver.load_model(shared_backend, merged_name), X)
    assert np.array_equal(driver.predict_values(shared_backend, groves_name, X), theirs)
    assert np.array_equal(driver.predict_values(shared_backend, merged_name, X), theirs)
    assert st.summary["test_score"] == driver.status(shared_backend, merged_name).summary["test_score"]


def test_a_merged_forest_above_what_predict_holds_whole_votes_grove_by_grove_to_the_bit(
    shared_backend, unique, monkeypatch
) -> None:
    from lamforest.driver import results

    name = unique("mh")
    build(shared_backend, name, MergePolicy("always"), **CASES["impure-leaves"])
    X = np.asarray(data.get_test(shared_backend.store, name)[0])
    theirs = sklearn_values(driver.load_model(shared_backend, name), X)
    assert np.array_equal(driver.predict_values(shared_backend, name, X), theirs)  # small: the merged file

    def whole(*_: object) -> None:
        raise AssertionError("the merged forest was loaded whole")

    monkeypatch.setattr(forest, "HOLD_WHOLE_MB", 0)
    monkeypatch.setattr(results, "load_model", whole)
    assert np.array_equal(driver.predict_values(shared_backend, name, X), theirs)


def test_a_forest_above_the_merge_limit_ends_done_without_a_merged_file_and_still_predicts(
    shared_backend, unique, tmp_path
) -> None:
    name = unique("big")
    st = build(shared_backend, name, MergePolicy("auto", limit_mb=0.05), data="digits", trees=8, grove=3, seed=1)
    assert st.state == "done"
    assert not shared_backend.store.exists(keys.model(name))
    assert st.summary["model_kind"] == "groves" and st.summary["forest_mb"] > 0.05
    assert st.to_json()["model_kind"] == "groves"
    mem = st.summary["memory"]
    assert mem["driver_finish_peak_mb"] > 0 and mem["worker_peak_mb"] > 0
    pred = driver.predict(shared_backend, name)
    assert pred.score == st.test_score and pred.proba.shape == (st.plan.n_test, 10)
    with pytest.raises(driver.BuildError, match="grove set"):
        driver.load_model(shared_backend, name)
    # export refuses, naming the size it would take, unless forced
    with pytest.raises(SpecError) as info:
        driver.export(shared_backend, name, tmp_path / "m.joblib")
    assert info.value.field == "force" and "MB merged" in str(info.value)
    path = driver.export(shared_backend, name, tmp_path / "m.joblib", force=True)
    import joblib

    exported = joblib.load(path)
    X = np.asarray(data.get_test(shared_backend.store, name)[0])
    assert exported.n_estimators == 8
    assert np.array_equal(sklearn_values(exported, X), driver.predict_values(shared_backend, name, X))


def test_a_grove_changed_after_finish_is_refused(shared_backend, unique) -> None:
    name = unique("tamper")
    build(shared_backend, name, MergePolicy("never"), data="iris", trees=6, grove=3, seed=1)
    store = shared_backend.store
    store.put_bytes(keys.grove(name, keys.grove_id(1)), store.get_bytes(keys.grove(name, keys.grove_id(0))))
    with pytest.raises(driver.BuildError, match=r"grove g00001 .* changed since the build finished"):
        driver.predict(shared_backend, name)


@pytest.mark.parametrize("raw", [False, True])
def test_streaming_holds_one_grove_the_one_before_is_gone_when_the_next_is_decoded(
    shared_backend, unique, monkeypatch, raw: bool
) -> None:
    import weakref

    from lamforest import artifacts

    name = unique("one")
    build(shared_backend, name, MergePolicy("never"), data="iris", trees=6, grove=2, seed=1)
    decode, before = artifacts.loads_grove, []

    def watched(blob: bytes, raw: bool = False):
        # Whatever the caller dropped must be freed already: nothing in the stream may still hold it.
        assert all(ref() is None for ref in before)
        return decode(blob, raw=raw)

    monkeypatch.setattr(artifacts, "loads_grove", watched)
    seen = []
    for loaded in stream.groves(shared_backend, name, [0, 1, 2], raw=raw):
        seen.append(loaded.index)
        before.append(weakref.ref(loaded.grove.estimator))
        del loaded
    assert seen == [0, 1, 2] and all(ref() is None for ref in before)


def test_groves_are_read_ahead_within_a_count_and_a_size(shared_backend, unique, monkeypatch) -> None:
    from concurrent.futures import Future

    name = unique("ahead")
    build(shared_backend, name, MergePolicy("never"), data="iris", trees=12, grove=2, seed=1)
    submitted: list[int] = []

    class Inline:  # a pool that fetches when asked, so what was asked is known at every step
        def __init__(self, max_workers: int) -> None:
            pass

        def __enter__(self) -> Inline:
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def submit(self, fn, *args) -> Future:
            submitted.append(args[2])  # (backend, name, index, ...)
            done: Future = Future()
            done.set_result(fn(*args))
            return done

    monkeypatch.setattr(stream, "ThreadPoolExecutor", Inline)
    mb = 10**6
    for sizes, budget, ahead in [(None, 32, 3), ([10 * mb] * 6, 25, 2), ([10 * mb] * 6, 1, 1), (["?"] * 6, 1, 3)]:
        submitted.clear()
        for loaded in stream.groves(shared_backend, name, range(6), sizes=sizes, budget_mb=budget):
            # Grove i is out; i+1 .. i+ahead are read (or all that is left), no more.
            assert submitted == list(range(min(6, loaded.index + 1 + ahead))), (sizes, budget)
            del loaded


def test_merge_policy_refusals_name_their_field() -> None:
    for args, field in [
        (("sometimes", None), "merge"),
        (("auto", "lots"), "merge_limit"),
        (("auto", "-3"), "merge_limit"),
    ]:
        with pytest.raises(SpecError) as info:
            MergePolicy.parse(*args)
        assert info.value.field == field
    assert MergePolicy.parse("auto", "2.5").keeps(2_000_000) and not MergePolicy("auto", 2).keeps(3_000_000)
    assert MergePolicy("always", 1).keeps(10**12) and not MergePolicy("never").keeps(0)


# --------------------------------------------------------------------------- predictions for new rows


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory) -> dict[str, Path]:
    """A training CSV with named columns and text labels, and new rows without the target in each format."""
    folder = tmp_path_factory.mktemp("iris")
    ds = data.load("iris")
    table = {n: ds.X[:, i].astype(np.float64) for i, n in enumerate(FEATURES)}
    train = folder / "train.csv"
    pacsv.write_csv(pa.table({**table, "species": SPECIES[ds.y]}), train)
    rng = np.random.default_rng(4)
    new = ds.X[rng.choice(len(ds.X), 25, replace=False)] + rng.normal(0, 0.2, (25, 4)).astype(np.float32)
    new = np.round(new, 2)  # exact in CSV text and back
    files = {"train": train}
    cols = {n: new[:, i].astype(np.float64) for i, n in enumerate(FEATURES)}
    files["csv"] = folder / "new.csv"
    pacsv.write_csv(pa.table(cols), files["csv"])
    files["parquet"] = folder / "new.parquet"
    pq.write_table(pa.table(cols), files["parquet"])
    files["npy"] = folder / "new.npy"
    np.save(files["npy"], new.astype(np.float32))
    files["one-class"] = folder / "one_class.csv"
    pacsv.write_csv(pa.table({**cols, "species": ["virginica"] * 25}), files["one-class"])
    return files


@pytest.fixture(scope="module")
def iris_build(iris_files, tmp_path_factory) -> tuple[Path, str]:
    """A finished grove set (no merged file) built by the CLI from the training CSV."""
    import os

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("LAMFOREST_HOME")
    os.environ["LAMFOREST_HOME"] = str(home)
    try:
        code = main(
            [
                *("build", "ir", "--data", str(iris_files["train"]), "--target", "species", "-t", "9", "-g", "3"),
                *("--param", "min_samples_leaf=3", "--merge", "never", "--workers", "2", "--json"),
            ]
        )
    finally:
        if old is None:
            os.environ.pop("LAMFOREST_HOME")
        else:
            os.environ["LAMFOREST_HOME"] = old
    assert code == 0
    return home, "ir"


def merged_of(home: Path, name: str):
    from lamforest.backend import local_backend

    b = local_backend(home)
    try:
        return driver.whole_model(b, name, force=True)
    finally:
        b.close()


def read_table(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    t = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    return t.column_names, {n: t.column(n).to_numpy() for n in t.column_names}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npy"])
@pytest.mark.parametrize("out_suffix", [".csv", ".parquet", ".npy"])
def test_predict_unlabelled_rows_writes_labels_and_one_probability_column_per_class(
    iris_files, iris_build, tmp_path, monkeypatch, capsys, fmt: str, out_suffix: str
) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    out = tmp_path / f"pred{out_suffix}"
    assert main(["predict", name, "--data", str(iris_files[fmt]), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    X = np.load(iris_files["npy"])
    model = merged_of(home, name)
    proba, labels = sklearn_values(model, X), model.predict(X)
    if out_suffix == ".npy":
        got = np.load(out)
        assert got.shape == (25, 4)
        assert np.array_equal(SPECIES.take(got[:, 0].astype(int)), labels)  # text labels as class indices
        assert np.array_equal(got[:, 1:], proba)
        return
    names, cols = read_table(out)
    assert names == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    assert cols["prediction"].astype(str).tolist() == labels.tolist()
    got = np.column_stack([cols[n] for n in names[1:]])
    assert np.array_equal(got, proba)  # CSV text too: each float64 written with round-tripping digits


def test_predict_unlabelled_to_stdout_and_json(iris_files, iris_build, monkeypatch, capsys) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    assert main(["predict", name, "--data", str(iris_files["csv"])]) == 0  # no target, no --out: stdout
    captured = capsys.readouterr()
    t = pacsv.read_csv(io.BytesIO(captured.out.encode()))
    assert t.num_rows == 25 and t.column_names[0] == "prediction"
    assert "25 rows" in captured.err
    assert main(["predict", name, "--data", str(iris_files["csv"]), "--out", "-", "--json"]) == 0
    captured = capsys.readouterr()
    assert pacsv.read_csv(io.BytesIO(captured.out.encode())).num_rows == 25
    assert json.loads(captured.err)["out"] == "-"


def test_labelled_rows_of_a_single_class_are_scored(iris_files, iris_build, tmp_path, monkeypatch, capsys) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    out = tmp_path / "scored.csv"
    assert main(["predict", name, "--data", str(iris_files["one-class"]), "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    labels = merged_of(home, name).predict(np.load(iris_files["npy"]))
    assert doc["metric"] == "accuracy" and doc["score"] == np.mean(labels == "virginica")
    assert doc["out"] == str(out) and pacsv.read_csv(out).num_rows == 25


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        (["sepal_len", "sepal_wid", "petal_len"], "petal_wid"),  # missing
        (["sepal_len", "sepal_wid", "petal_len", "petal_wid", "colour"], "colour"),  # extra
        (["sepal_wid", "sepal_len", "petal_len", "petal_wid"], "sepal_len"),  # reordered
    ],
)
def test_mismatched_columns_are_refused_naming_them(iris_build, tmp_path, monkeypatch, capsys, columns, named) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    bad = tmp_path / "bad.csv"
    pacsv.write_csv(pa.table({c: [1.0, 2.0] for c in columns}), bad)
    out = tmp_path / "never.csv"
    assert main(["predict", name, "--data", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error in data" in err and named in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_existing_output_is_refused_before_predicting_unless_forced(
    iris_files, iris_build, tmp_path, monkeypatch, capsys
) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    out = tmp_path / "p.csv"
    out.write_text("keep me\n")
    assert main(["predict", name, "--data", str(iris_files["csv"]), "--out", str(out)]) == 2
    assert "error in out" in capsys.readouterr().err and out.read_text() == "keep me\n"
    assert main(["predict", name, "--data", str(iris_files["csv"]), "--out", str(out), "--force"]) == 0
    assert pacsv.read_csv(out).num_rows == 25


def test_status_says_grove_set_and_a_grove_set_below_the_limit_exports(
    iris_build, tmp_path, monkeypatch, capsys
) -> None:
    home, name = iris_build
    monkeypatch.setenv("LAMFOREST_HOME", str(home))
    assert main(["status", name]) == 0
    out = capsys.readouterr().out
    assert "a grove set" in out and f"lamforest predict {name} --data FILE" in out and "driver peak" in out
    # --merge never keeps its limit (1024 MB): this small forest exports without --force
    assert main(["export", name, str(tmp_path / "m.joblib")]) == 0


def test_distributed_predict_of_new_rows_gives_the_streamed_numbers(iris_files, iris_build, tmp_path) -> None:
    from lamforest.backend import local_backend

    home, name = iris_build
    b = local_backend(home)
    try:
        res = predict_distributed(b, name, str(iris_files["parquet"]), batch_groves=2, workers=2)
        local = driver.predict(b, name, str(iris_files["parquet"]), out=str(tmp_path / "p.parquet"))
    finally:
        b.close()
    # Batches are summed apart, then added: the same additions grouped differently (impure leaves here),
    # so equal to float64 rounding, and the labels are the same.
    assert np.allclose(res.values, local.proba, rtol=0, atol=1e-12)
    assert np.array_equal(res.prediction.predictions, local.predictions)
    assert res.prediction.metric is None and res.worker_peak_mb > 0
    assert local.driver_peak_mb is not None and local.driver_peak_mb > 0


@pytest.mark.parametrize("threads", [1, 3])
def test_votes_of_groves_equal_the_forests_own_predictions_to_the_bit(threads: int) -> None:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    whole = RandomForestClassifier(n_estimators=12, min_samples_leaf=7, random_state=1).fit(X, y)
    reg = RandomForestRegressor(n_estimators=12, min_samples_leaf=7, random_state=1).fit(X, X[:, 0] + y)
    for model, classes in ((whole, whole.classes_), (reg, None)):
        votes = forest.Votes(X, classes, threads=threads)
        for start in (0, 5, 10):  # unequal groves of 5, 5 and 2 trees
            part = type(model)()
            part.estimators_ = model.estimators_[start : start + 5]
            if classes is not None:
                part.classes_ = classes
            votes.add(part)
        assert votes.trees == 12
        assert np.array_equal(votes.mean(), sklearn_values(model, X))
    wrong = type(whole)()
    wrong.classes_, wrong.estimators_ = np.array([0, 1, 5]), whole.estimators_[:1]
    with pytest.raises(ValueError, match="not fitted on one train set"):
        forest.Votes(X, whole.classes_).add(wrong)
