"""Sharded data: planned from footers, scanned and fitted by workers, scored and predicted shard by shard.

The driver must never read a row: these tests make the driver process's row
readers raise, so every row that is read is read by a worker process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lamforest import driver, keys, shards
from lamforest.backend import Backend, local_backend
from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code
from lamforest.events import parse_event
from lamforest.spec import BuildSpec, SpecError
from tests.helpers import assert_same_forest, store_files

FEATURES = 8


def make_rows(rows: int, seed: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Learnable rows: the class moves the first three features."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    X = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    X[:, :3] += 2.5 * y[:, None]
    return X, y


def table(X: np.ndarray, y: Any, target: str = "label") -> pa.Table:
    cols = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    cols[target] = y
    return pa.table(cols)


def write_shards(folder: Path, n: int = 6, rows: int = 1500, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        X, y = make_rows(rows, seed + i)
        pq.write_table(table(X, y), folder / f"part-{i:03d}.parquet")
    return folder


@pytest.fixture
def no_rows_in_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt of this (the driver's) process to read rows of a shard, or a whole file, fails the test."""
    from lamforest import data, tables

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the driver read rows")

    monkeypatch.setattr(shards, "read_table", refuse)
    monkeypatch.setattr(tables, "read_columns", refuse)
    monkeypatch.setattr(data, "load", refuse)


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    b = local_backend(tmp_path / "store")
    yield b
    b.close()


def build(backend: Backend, name: str, data: Path | str, workers: int = 2, **spec: Any) -> driver.BuildStatus:
    spec = {"target": "label", "trees": 8, "grove": 2, "memory": 1024, **spec}
    driver.create(backend, BuildSpec(name=name, data=str(data), **spec), workers=workers)
    return driver.run(backend, name, workers=workers)


# --------------------------------------------------------------------------- pure parts


def test_held_out_is_a_seeded_function_of_the_global_row_index() -> None:
    whole = shards.held_out(7, 0.25, 0, 10_000)
    parts = np.concatenate([shards.held_out(7, 0.25, 0, 3_333), shards.held_out(7, 0.25, 3_333, 6_667)])
    assert np.array_equal(whole, parts)  # however the rows are sharded
    assert 0.23 < whole.mean() < 0.27
    assert not np.array_equal(whole, shards.held_out(8, 0.25, 0, 10_000))
    assert not shards.held_out(7, 0.0, 0, 100).any()


def test_a_grove_reads_a_seeded_subset_of_whole_shards_within_its_cap() -> None:
    rows = [100, 250, 80, 300, 120, 90]
    chosen = shards.grove_shards(11, rows, 400)
    assert chosen == shards.grove_shards(11, rows, 400)
    assert sum(rows[i] for i in chosen) <= 400
    assert chosen == sorted(chosen)
    assert len({tuple(shards.grove_shards(s, rows, 400)) for s in range(20)}) > 3  # seeds differ
    assert shards.grove_shards(1, rows, 10) and len(shards.grove_shards(1, rows, 10)) == 1  # at least one


def test_the_sample_size_fits_the_memory_it_is_sized_for() -> None:
    params: dict[str, Any] = {}
    small = shards.sample_rows(512, 48, 10, 4, params)
    big = shards.sample_rows(3008, 48, 10, 4, params)
    assert 0 < small < big
    assert shards.memory_needed_mb(small, 48, 10, 4, params) <= 512
    assert shards.memory_needed_mb(small * 2, 48, 10, 4, params) > 512
    assert shards.sample_rows(shards.WORKER_FLOOR_MB, 48, 10, 4, params) == 0
    # A depth limit bounds the trees: more rows fit.
    assert shards.sample_rows(512, 48, 10, 4, {"max_depth": 8}) > small


def test_a_shard_event_names_its_bad_field() -> None:
    good = {
        "v": 1,
        "kind": "shards",
        "op": "scan",
        "build": "b",
        "job": "scan",
        "batch": 0,
        "data": "data/" + "0" * 64,
        "shards": [0, 1],
    }
    assert parse_event(good).shards == [0, 1]  # type: ignore[union-attr]
    for field, value in (("op", "fit"), ("shards", []), ("shards", [-1]), ("test_size", 1.5), ("data", "x")):
        with pytest.raises(SpecError) as err:
            parse_event({**good, field: value})
        assert err.value.field == field
    with pytest.raises(SpecError, match="model"):
        parse_event({**good, "op": "score", "task": "classification"})


# --------------------------------------------------------------------------- builds


def test_a_sharded_build_fits_scores_and_predicts_without_the_driver_reading_a_row(
    backend: Backend, tmp_path: Path, no_rows_in_driver: None
) -> None:
    data = write_shards(tmp_path / "data")
    st = build(backend, "sh", data, rows_per_grove=3000)
    assert st.state == "done", st.summary
    summary = st.summary
    assert summary is not None
    plan = driver.load_plan(backend, "sh")
    assert plan.n_train + plan.n_test == 9000
    assert summary["test"]["n"] == plan.n_test and 0.2 < plan.n_test / 9000 < 0.3
    assert summary["test_score"] > 0.9
    assert np.asarray(summary["test"]["confusion"]).sum() == summary["test"]["n"]
    assert summary["oob_score"] is None  # a grove's out-of-bag rows are a sample's, not the forest's
    info = summary["sharded"]
    assert info["shards"] == 6 and info["rows_per_grove"] == 3000
    assert 0 < info["seen_fraction"] <= 1
    # Each grove fitted at most its cap of rows, from whole shards.
    for gid in range(4):
        rec = json.loads(backend.store.get_bytes(keys.state("sh", keys.grove_id(gid), "done")))
        assert 0 < rec["rows"] <= 3000
    # No train or test rows in the store: the shards stay where they are.
    assert not [f for f in store_files(backend) if f.endswith(("X.npy", "test.npz"))]

    out = tmp_path / "out"
    res = driver.predict_to(backend, "sh", str(data), str(out))
    assert len(res.written) == 6 and not res.skipped
    assert res.score is not None and res.score["n"] == 9000 and res.score["score"] > 0.9
    first = pq.read_table(out / "part-000.parquet")
    assert first.num_rows == 1500
    assert first.column_names == ["prediction", "proba_0", "proba_1", "proba_2"]


def test_predictions_equal_the_merged_forest_and_a_rerun_writes_only_what_is_missing(
    backend: Backend, tmp_path: Path
) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=800)
    assert build(backend, "pr", data).state == "done"
    out = tmp_path / "out"
    driver.predict_to(backend, "pr", str(data), str(out))
    model = driver.load_model(backend, "pr")
    X = pq.read_table(data / "part-001.parquet").drop(["label"]).to_pandas().to_numpy(np.float32)
    got = pq.read_table(out / "part-001.parquet")
    proba = np.column_stack([got.column(f"proba_{c}").to_numpy() for c in (0, 1, 2)])
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-12)
    assert np.array_equal(got.column("prediction").to_numpy(), model.predict(X))

    again = driver.predict_to(backend, "pr", str(data), str(out))
    assert not again.written and len(again.skipped) == 3  # same input, same forest: nothing to do
    (out / "part-002.parquet").unlink()
    (out / "part-000.parquet").write_bytes(b"PAR1 half a file")
    third = driver.predict_to(backend, "pr", str(data), str(out))
    assert sorted(Path(p).name for p in third.written) == ["part-000.parquet", "part-002.parquet"]
    assert pq.read_table(out / "part-000.parquet").num_rows == 800


def test_same_spec_and_seed_give_the_same_trees_with_one_or_two_workers(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=4, rows=600)
    assert build(backend, "w1", data, workers=1, rows_per_grove=1000).state == "done"
    assert build(backend, "w2", data, workers=2, rows_per_grove=1000).state == "done"
    assert_same_forest(driver.load_model(backend, "w1"), driver.load_model(backend, "w2"))
    a = driver.load_plan(backend, "w1").events()
    b = driver.load_plan(backend, "w2").events()
    assert [e.shards for e in a] == [e.shards for e in b]


def test_a_single_parquet_file_of_several_row_groups_is_sharded_by_row_group(backend: Backend, tmp_path: Path) -> None:
    X, y = make_rows(3000, 5)
    path = tmp_path / "one.parquet"
    pq.write_table(table(X, y), path, row_group_size=1000)
    assert shards.is_sharded(str(path))
    st = build(backend, "rg", path)
    assert st.state == "done" and st.summary is not None and st.summary["sharded"]["shards"] == 3
    single = tmp_path / "single.parquet"
    pq.write_table(table(X, y), single)
    assert not shards.is_sharded(str(single))  # one row group: read whole, as it always was


def test_rows_per_grove_that_cannot_fit_memory_is_refused_before_anything_is_spent(
    backend: Backend, tmp_path: Path
) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=500)
    spec = BuildSpec(name="big", data=str(data), target="label", trees=4, grove=2, memory=300, rows_per_grove=10**9)
    with pytest.raises(SpecError) as err:
        driver.create(backend, spec)
    assert err.value.field == "rows_per_grove" and "--memory" in err.value.message
    assert not backend.store.exists(keys.spec("big")) and not backend.store.exists(keys.claim("big"))
    with pytest.raises(SpecError, match="rows_per_grove"):
        BuildSpec(name="x", rows_per_grove=1.5).validated()
    with pytest.raises(SpecError, match="sharded"):
        driver.create(backend, BuildSpec(name="x", data="iris", rows_per_grove=100))


# --------------------------------------------------------------------------- bad data, one class each


def _refused(backend: Backend, data: Path | str, field: str, *needles: str, name: str = "bad") -> None:
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name=name, data=str(data), target="label", trees=2, grove=1, memory=1024))
    assert err.value.field == field, err.value
    for needle in needles:
        assert needle in str(err.value), err.value
    assert "\n" not in str(err.value)
    # Nothing of the build is left but, locally, its workers' log; the name is free again.
    left = [k for k in backend.store.list(keys.build(name)) if not k.endswith("lambda.log")]
    assert not left, f"the refused build left {left}"
    driver.create(backend, BuildSpec(name=name, data="iris", trees=2, grove=1))


def test_a_shard_with_another_schema_is_refused_naming_it(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=200)
    X, y = make_rows(200, 9)
    pq.write_table(table(X, y.astype(np.float64)), data / "part-001.parquet")  # label as double, not int64
    _refused(backend, data, "data", "part-001.parquet", "label")


def test_text_labels_as_string_and_large_string_are_one_schema(backend: Backend, tmp_path: Path) -> None:
    """pyarrow writes text as ``string``, pandas as ``large_string``: the same values, one dataset."""
    data = tmp_path / "data"
    data.mkdir()
    names = np.array(["ant", "bee", "cat"])
    for i, kind in enumerate([pa.string(), pa.large_string()]):
        X, y = make_rows(400, i)
        pq.write_table(table(X, pa.array(names[y], type=kind)), data / f"part-{i:03d}.parquet")
    plan = driver.create(backend, BuildSpec(name="txt", data=str(data), target="label", trees=2, grove=1))
    assert plan.classes == ["ant", "bee", "cat"]
    assert driver.run(backend, "txt", workers=1).state == "done"


def test_a_missing_target_column_is_refused_naming_the_column(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=200)
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="nt", data=str(data), target="outcome", trees=2, grove=1))
    assert err.value.field == "target" and "'outcome'" in err.value.message and "part-000" in err.value.message


def test_a_target_with_missing_values_in_one_shard_is_refused_by_the_scan(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=200)
    for i in range(3):
        X, y = make_rows(200, i)
        labels = y.astype(np.float64)
        if i == 2:
            labels[[5, 17]] = np.nan
        pq.write_table(table(X, labels), data / f"part-{i:03d}.parquet")
    _refused(backend, data, "target", "part-002.parquet", "2 missing")


def test_a_corrupt_parquet_footer_is_refused_naming_the_shard(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=200)
    blob = (data / "part-001.parquet").read_bytes()
    (data / "part-001.parquet").write_bytes(blob[:-40] + b"\0" * 40)
    _refused(backend, data, "data", "part-001.parquet", "not a readable Parquet file")


def test_an_empty_shard_is_refused_naming_it(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=200)
    X, y = make_rows(1, 0)
    pq.write_table(table(X[:0], y[:0]), data / "part-005.parquet")
    _refused(backend, data, "data", "part-005.parquet", "no rows")


def test_an_infinite_feature_in_one_shard_is_refused_naming_shard_and_column(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=200)
    X, y = make_rows(200, 1)
    X[3, 4] = np.inf
    pq.write_table(table(X, y), data / "part-001.parquet")
    _refused(backend, data, "data", "part-001.parquet", "'f4'", "infinite")


def test_a_text_feature_column_is_refused_naming_it(backend: Backend, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    X, y = make_rows(100, 0)
    t = table(X, y).append_column("city", pa.array(["x"] * 100))
    pq.write_table(t, folder / "a.parquet")
    _refused(backend, folder, "data", "'city'", "not numeric")


def test_a_folder_without_parquet_files_is_refused(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no data here")
    _refused(backend, tmp_path / "empty", "data", "no Parquet files")


def test_an_unreadable_s3_prefix_is_refused_in_one_line(backend: Backend, aws_env: str) -> None:
    _refused(backend, "s3://no-such-bucket-lamforest/data/", "data", "s3://no-such-bucket-lamforest/data/")


# --------------------------------------------------------------------------- lamforest shard


def test_lamforest_shard_splits_a_csv_into_single_row_group_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = make_rows(2500, 3)
    csv = tmp_path / "big.csv"
    header = ",".join([f"f{j}" for j in range(FEATURES)] + ["label"])
    lines = [header] + [",".join([*(f"{v:.5f}" for v in row), str(lab)]) for row, lab in zip(X, y, strict=True)]
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "shards"
    code = cli_main(["shard", str(csv), "--out", str(out), "--rows-per-shard", "1000", "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["rows"] == 2500 and res["shards"] == 3
    files = sorted(out.glob("*.parquet"))
    assert [pq.ParquetFile(f).metadata.num_row_groups for f in files] == [1, 1, 1]
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [1000, 1000, 500]
    got = pq.read_table(out).column("label").to_numpy()
    assert np.array_equal(got, y)  # in order, nothing lost
    # Writing into a folder that already holds shards needs --force.
    assert cli_main(["shard", str(csv), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


# --------------------------------------------------------------------------- estimate


def test_the_estimate_of_sharded_data_counts_the_scan_and_each_groves_read(tmp_path: Path) -> None:
    from lamforest.driver.sample import measure_sample
    from lamforest.estimate.params import ModelParams
    from lamforest.estimate.project import project

    data = write_shards(tmp_path / "data", n=5, rows=1000)
    spec = BuildSpec(name="e", data=str(data), target="label", trees=20, grove=5, memory=1024, rows_per_grove=2000)
    sample = measure_sample(spec, tmp_path / "cache", budget_s=0.3, workers=1)
    assert sample.shards == 5 and sample.data_bytes == shards.resolve(str(data)).nbytes
    assert 0 < sample.rows <= 2000  # one grove's sample, read by the probe, not the driver
    assert sample.task == "classification" and sample.classes == 3
    slow = ModelParams(s3_download_mb_s=0.01)  # a slow link makes the reads visible
    p = project(sample, spec.trees, spec.grove, spec.memory, params=slow)
    assert p.phases["upload_s"] == 0  # the driver uploads no train set
    assert p.phases["scan_s"] >= sample.data_bytes / 1e6 / 0.01 / 5  # every shard read once, 5 at a time
    assert p.phases["read_s_per_grove"] == pytest.approx(sample.train_bytes / 1e6 / 0.01)
    fast = project(sample, spec.trees, spec.grove, spec.memory)
    assert fast.wall_s < p.wall_s and fast.cost_usd < p.cost_usd


def test_a_shard_bigger_than_a_worker_reads_is_refused_before_the_scan(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=200)
    X, y = make_rows(3_000_000, 2)  # 3 M rows x 9 columns: more than a 300 MB worker reads
    pq.write_table(table(X, y), data / "part-009.parquet", row_group_size=3_000_000)
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="huge", data=str(data), target="label", trees=2, grove=1, memory=300))
    assert (
        err.value.field == "memory"
        and "part-009.parquet" in err.value.message
        and "--rows-per-shard" in err.value.message
    )
    assert not backend.store.list(keys.build("huge"))  # refused from footers: nothing dispatched


def test_a_shards_batch_whose_worker_died_is_recorded_failed_by_the_pool(tmp_path: Path) -> None:
    from lamforest.backend.pool import record_unrecorded
    from lamforest.driver.jobs import wait_records
    from lamforest.store.local import LocalStore

    store = LocalStore(tmp_path / "store")
    event = {
        "v": 1,
        "kind": "shards",
        "op": "scan",
        "build": "b",
        "job": "scan",
        "batch": 3,
        "data": "data/" + "0" * 64,
        "shards": [6, 7],
    }
    assert record_unrecorded(store, event, "Runtime.OutOfMemory", "worker used 700 MB, more than 512") is None
    done, failed = wait_records(store, keys.shard_job("b", "scan"), [keys.grove_id(3)], timeout_s=1)
    assert not done and failed[keys.grove_id(3)]["error"] == "Runtime.OutOfMemory"
    assert failed[keys.grove_id(3)]["shards"] == [6, 7]


def test_the_python_estimators_fit_and_predict_sharded_data(home: Path, tmp_path: Path) -> None:
    import lamforest

    data = write_shards(tmp_path / "data", n=3, rows=700)
    est = lamforest.RandomForestClassifier(n_estimators=6, grove_size=2, memory=1024, random_state=3, progress=False)
    assert est.fit_shards(str(data), "label", rows_per_grove=1200) is est
    assert est.test_score_ > 0.9 and list(est.classes_) == [0, 1, 2]
    assert list(est.feature_names_in_) == [f"f{j}" for j in range(FEATURES)]
    res = est.predict_shards(str(data), str(tmp_path / "out"))
    assert res["written"] == 3 and res["score"]["n"] == 2100
    rows = pq.read_table(data / "part-002.parquet")
    X = rows.drop(["label"]).to_pandas()  # named columns, as the estimator was fitted
    written = pq.read_table(tmp_path / "out" / "part-002.parquet").column("prediction").to_numpy()
    assert np.array_equal(est.predict(X), written)
    with pytest.raises(ValueError, match="oob_score"):
        lamforest.RandomForestClassifier(oob_score=True).fit_shards(str(data), "label")


def test_predict_refuses_an_output_folder_that_holds_the_input_shards(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=300)
    assert build(backend, "io", data).state == "done"
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    for out in (data, data / "preds", tmp_path):
        with pytest.raises(SpecError) as err:
            driver.predict_to(backend, "io", str(data), str(out))
        assert err.value.field == "out" and "input shards" in err.value.message
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # nothing overwritten or added


def test_a_shard_changed_after_the_plan_fails_its_groves_with_the_reason(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=400)
    driver.create(backend, BuildSpec(name="ch", data=str(data), target="label", trees=2, grove=1, retries=0))
    X, y = make_rows(410, 77)
    pq.write_table(table(X, y), data / "part-001.parquet")  # rewritten between the plan and the fit
    st = driver.run(backend, "ch", workers=1)
    assert st.state == "failed"
    assert st.summary is not None and "changed since the build was planned" in st.summary["error"]


def test_the_cli_builds_and_reports_sharded_data(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_shards(tmp_path / "data", n=3, rows=500)
    argv = ["build", "cl", "--data", str(data), "--target", "label", "-t", "4", "-g", "2", "--rows-per-grove", "800"]
    assert cli_main([*argv, "--memory", "1024", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "done" and out["sharded"]["rows_per_grove"] == 800 and out["test"]["n"] > 0
    assert cli_main(["status", "cl"]) == 0
    assert "each grove samples whole shards, up to 800 train rows" in " ".join(capsys.readouterr().out.split())
    assert cli_main(["build", "c2", "--data", str(data), "--target", "label", "--rows-per-grove", "-3"]) == 2
    assert "rows_per_grove" in capsys.readouterr().err


# --------------------------------------------------------------------------- what a hostile run found


def test_equal_file_names_in_different_folders_get_their_own_outputs(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=300)
    write_shards(data / "sub" / "deeper", n=1, rows=120, seed=7)  # sub/deeper/part-000.parquet
    assert build(backend, "nest", data).state == "done"
    out = tmp_path / "out"
    res = driver.predict_to(backend, "nest", str(data), str(out))
    assert len(res.written) == 3
    assert pq.read_table(out / "part-000.parquet").num_rows == 300
    assert pq.read_table(out / "sub" / "deeper" / "part-000.parquet").num_rows == 120
    assert len(driver.predict_to(backend, "nest", str(data), str(out)).skipped) == 3  # a rerun converges


def test_an_output_with_a_corrupt_page_is_written_again(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=3000)
    assert build(backend, "cp", data).state == "done"
    out = tmp_path / "out"
    driver.predict_to(backend, "cp", str(data), str(out))
    blob = bytearray((out / "part-001.parquet").read_bytes())
    blob[100:4000] = bytes(3900)  # data pages zeroed, the footer (and its tag) intact
    (out / "part-001.parquet").write_bytes(bytes(blob))
    again = driver.predict_to(backend, "cp", str(data), str(out))
    assert [Path(p).name for p in again.written] == ["part-001.parquet"]
    assert pq.read_table(out / "part-001.parquet").num_rows == 3000


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=300)
    assert build(backend, "ro", data).state == "done"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SpecError) as err:
        driver.predict_to(backend, "ro", str(data), str(tmp_path / "afile" / "preds"))
    assert err.value.field == "out" and "cannot be written" in err.value.message
    assert not [k for k in backend.store.list(keys.build("ro")) if "/shards/p" in k]  # nothing dispatched


def test_a_file_of_too_many_row_groups_is_refused_with_a_command_that_rewrites_it(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = make_rows(3006, 1)
    path = tmp_path / "many.parquet"
    pq.write_table(table(X, y), path, row_group_size=3)  # 1,002 row groups
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="rg", data=str(path), target="label", trees=2, grove=1))
    assert "1002 row groups" in err.value.message
    # The advice, followed literally, gives shards that build.
    command = err.value.message.split("rewrite it in larger shards: ")[1].split()
    assert command[:3] == ["lamforest", "shard", str(path)]
    assert cli_main([*command[1:], "--json"]) == 0
    resharded = json.loads(capsys.readouterr().out)["out"]
    assert build(backend, "rg2", resharded).state == "done"


def test_a_duplicate_column_in_a_later_shard_is_named(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=200)
    X, y = make_rows(200, 3)
    dup = pa.Table.from_arrays([pa.array(X[:, 0]), pa.array(X[:, 0]), pa.array(y)], names=["f0", "f0", "label"])
    pq.write_table(dup, data / "part-001.parquet")
    _refused(backend, data, "data", "part-001.parquet", "'f0' appears twice")


def test_lamforest_shard_leaves_nothing_from_a_bad_source_and_force_replaces_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(3000)))
    assert cli_main(["shard", str(good), "--out", str(out), "--rows-per-shard", "500"]) == 0
    assert len(list(out.glob("*.parquet"))) == 6
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,4\n")  # a ragged row
    assert cli_main(["shard", str(bad), "--out", str(out), "--rows-per-shard", "500", "--force"]) == 2
    capsys.readouterr()
    assert len(list(out.glob("*.parquet"))) == 6 and not [p for p in out.iterdir() if p.name.startswith(".")]
    # Whole numbers that turn into decimals after the first block read whole; --force leaves exactly the new shards.
    drift = tmp_path / "drift.csv"
    drift.write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(200_000)) + "0.5,1\n")
    assert cli_main(["shard", str(drift), "--out", str(out), "--rows-per-shard", "100000", "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 200_001
    assert sorted(p.name for p in out.glob("*.parquet")) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert pq.read_table(out).num_rows == 200_001


def test_a_grove_sample_without_some_class_is_refused_at_plan_time_naming_what_to_raise(
    backend: Backend, tmp_path: Path
) -> None:
    folder = tmp_path / "by-class"
    folder.mkdir()
    for k in range(3):  # each shard holds one class only
        X, _ = make_rows(400, k)
        pq.write_table(table(X, np.full(400, k)), folder / f"class-{k}.parquet")
    with pytest.raises(SpecError) as err:
        driver.create(
            backend, BuildSpec(name="cls", data=str(folder), target="label", trees=2, grove=1, rows_per_grove=400)
        )
    assert err.value.field == "rows_per_grove" and "every grove must see every class" in err.value.message
    assert not backend.store.exists(keys.spec("cls"))
    # The advice works: with room for every shard, every grove sees every class.
    assert build(backend, "cls", folder, rows_per_grove=1200).state == "done"


def test_a_test_size_that_leaves_a_class_no_train_row_is_refused(backend: Backend, tmp_path: Path) -> None:
    folder = tmp_path / "rare"
    folder.mkdir()
    X, y = make_rows(200, 0, classes=2)
    rare = int(np.flatnonzero(shards.held_out(0, 0.5, 0, 200))[0])  # a row the split holds out
    y[rare] = 2  # the only row of class 2
    pq.write_table(table(X, y), folder / "a.parquet")
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="ts", data=str(folder), target="label", trees=2, grove=1, test_size=0.5))
    assert err.value.field == "test_size" and "no train row holds class 2" in err.value.message


def test_advice_for_a_sample_that_cannot_hold_a_shard_names_numbers_the_flags_accept(
    backend: Backend, tmp_path: Path
) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=2000)
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="adv", data=str(data), target="label", rows_per_grove=2))
    msg = err.value.message
    assert err.value.field == "rows_per_grove" and "raise --rows-per-grove to " in msg
    wanted = int(msg.split("raise --rows-per-grove to ")[1].split(",")[0])
    assert build(backend, "adv", data, rows_per_grove=wanted).state == "done"  # followed literally, it works
    with pytest.raises(SpecError) as err:
        driver.create(backend, BuildSpec(name="adv2", data=str(data), target="label", rows_per_grove=10**12))
    msg = err.value.message
    assert "no function has that much" in msg
    lower = int(msg.split("lower --rows-per-grove to ")[1].split()[0])
    assert build(backend, "adv2", data, rows_per_grove=lower).state == "done"


def test_predict_scores_labels_of_another_kind_and_skips_empty_ones(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=300)
    assert build(backend, "lk", data).state == "done"
    X, y = make_rows(300, 50)
    text = np.array([str(v) for v in y], dtype=object)
    text[:5] = "cat"  # a label the forest never saw
    (tmp_path / "text").mkdir()
    pq.write_table(table(X, text), tmp_path / "text" / "as-text.parquet")
    res = driver.predict_to(backend, "lk", str(tmp_path / "text"), str(tmp_path / "out1"))
    assert res.score is not None and res.score["n"] == 300 and res.score["unseen"] == 5
    assert res.score["score"] > 0.85
    floats = y.astype(np.float64)
    floats[:7] = np.nan  # rows without a label
    (tmp_path / "nan").mkdir()
    pq.write_table(table(X, floats), tmp_path / "nan" / "with-nan.parquet")
    res = driver.predict_to(backend, "lk", str(tmp_path / "nan"), str(tmp_path / "out2"))
    assert res.score is not None and res.score["n"] == 293 and res.score["unlabelled"] == 7


def test_features_past_float32_or_past_2_to_the_53_are_said_not_crashed(backend: Backend, tmp_path: Path) -> None:
    data = write_shards(tmp_path / "data", n=2, rows=200)
    X, y = make_rows(200, 4)
    t = table(X, y).set_column(2, "f2", pa.array((X[:, 2] * 1e18).astype(np.int64)))
    pq.write_table(t, data / "part-001.parquet")  # whole numbers past 2**53: read as the nearest floats
    t2 = table(X, y).set_column(2, "f2", pa.array((X[:, 2] * 1e18).astype(np.int64)))
    pq.write_table(t2, data / "part-000.parquet")
    assert build(backend, "big-ints", data).state == "done"
    huge = write_shards(tmp_path / "huge", n=2, rows=200)
    X, y = make_rows(200, 5)
    pq.write_table(table(X.astype(np.float64) * 1e300, y), huge / "part-001.parquet")
    pq.write_table(table(X.astype(np.float64), y), huge / "part-000.parquet")
    _refused(backend, huge, "data", "part-001.parquet", "past float32's range", name="huge")


def test_a_build_being_created_says_so_and_the_advice_frees_its_name(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    data = write_shards(tmp_path / "data", n=2, rows=300)
    claim = {"name": "mid", "at": 0, "host": "elsewhere", "pid": 4242}
    assert backend.store.create(keys.claim("mid"), json.dumps(claim).encode())  # a creator mid-scan, then killed
    backend.store.put_bytes(keys.shard_job("mid", "scan-0123abcd") + "/done/g00000.json", b"{}")
    for call in (driver.status, driver.cancel):
        with pytest.raises(driver.BuildError) as err:
            call(backend, "mid")
        assert "is being created by pid 4242 on elsewhere" in str(err.value)
    folder = str(err.value).split("if that process is gone, delete ")[1].split(" to free the name")[0]
    shutil.rmtree(folder)  # the advice, literally
    assert build(backend, "mid", data).state == "done"


def test_the_estimate_of_bad_sharded_data_is_bad_input_in_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "nan"
    folder.mkdir()
    X, y = make_rows(300, 0)
    labels = y.astype(np.float64)
    labels[3] = np.nan
    pq.write_table(table(X, labels), folder / "a.parquet")
    assert cli_main(["estimate", "en", "--data", str(folder), "--target", "label", "-t", "4", "-g", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error in target:") and "missing value" in err


def test_finishing_a_sharded_grove_set_reads_no_grove_in_the_driver(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lamforest import artifacts

    data = write_shards(tmp_path / "data", n=3, rows=500)
    driver.create(backend, BuildSpec(name="gsd", data=str(data), target="label", trees=6, grove=2))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the driver decoded a grove")

    monkeypatch.setattr(artifacts, "loads_grove", refuse)
    st = driver.run(backend, "gsd", workers=2, merge=driver.MergePolicy("never"))
    assert st.state == "done" and st.summary is not None and st.summary["test_score"] > 0.9
    manifest = json.loads(backend.store.get_bytes(keys.manifest("gsd")))
    assert manifest["trees"] == 6 and manifest["estimator"] == "RandomForestClassifier"
    for g in manifest["groves"]:
        assert g["sha256"] == artifacts.digest(backend.store.get_bytes(keys.grove("gsd", keys.grove_id(g["grove"]))))
    assert len(driver.predict_to(backend, "gsd", str(data), str(tmp_path / "out")).written) == 3
