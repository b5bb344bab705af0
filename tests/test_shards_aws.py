"""Sharded data in S3 (moto's server over HTTP): s3:// URIs for the data and the outputs.

``lamforest shard`` writes the shards to a data bucket; the build reads them with
pyarrow's S3 filesystem from the workers (local processes, or the function on the
AWS rig); predict writes one output object per input shard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pyarrow.parquet as pq
import pytest

from lamforest import driver, keys, shards
from lamforest.backend import local_backend
from lamforest.cli import main as cli_main  # the command line entry: main(argv) -> exit code
from lamforest.spec import BuildSpec, SpecError
from tests.aws_fixtures import Rig, run_build
from tests.helpers import assert_same_forest
from tests.test_shards import make_rows, table


def _csv(path: Path, rows: int = 2400) -> Path:
    X, y = make_rows(rows, 21)
    header = ",".join([*(f"f{j}" for j in range(X.shape[1])), "label"])
    body = [",".join([*(f"{v:.5f}" for v in row), str(lab)]) for row, lab in zip(X, y, strict=True)]
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def _objects(bucket: str, prefix: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    # Folder markers (keys ending in "/", empty) are how pyarrow keeps a prefix it wrote to: not data.
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/"))


def _outputs_match(bucket: str, keys_: list[str], rows: list[int]) -> None:
    fs = shards.s3_filesystem()
    got = [pq.ParquetFile(fs.open_input_file(f"{bucket}/{k}")).metadata.num_rows for k in keys_]
    assert got == rows


def test_local_workers_read_s3_shards_and_write_s3_outputs(
    aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = "lf-user-data"
    boto3.client("s3").create_bucket(Bucket=bucket)
    src = _csv(tmp_path / "big.csv")
    assert cli_main(["shard", str(src), "--out", f"s3://{bucket}/train/", "--rows-per-shard", "600", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shards"] == 4
    assert _objects(bucket, "train/") == [f"train/part-{i:05d}.parquet" for i in range(4)]

    backend = local_backend(tmp_path / "store")
    try:
        spec = BuildSpec(name="s3b", data=f"s3://{bucket}/train/", target="label", trees=6, grove=2, memory=1024)
        plan = driver.create(backend, spec, workers=2)
        assert plan.sharded is not None and plan.sharded["shards"] == 4
        st = driver.run(backend, "s3b", workers=2)
        assert st.state == "done" and st.summary is not None and st.summary["test_score"] > 0.9
        res = driver.predict_to(backend, "s3b", f"s3://{bucket}/train/", f"s3://{bucket}/pred/", workers=2)
        assert len(res.written) == 4 and res.score is not None and res.score["n"] == 2400
        outs = _objects(bucket, "pred/")
        assert outs == [f"pred/part-{i:05d}.parquet" for i in range(4)]
        _outputs_match(bucket, outs, [600, 600, 600, 600])
        again = driver.predict_to(backend, "s3b", f"s3://{bucket}/train/", f"s3://{bucket}/pred/", workers=2)
        assert not again.written and len(again.skipped) == 4
    finally:
        backend.close()


def test_the_function_reads_and_writes_s3_on_the_aws_backend(aws: Rig, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    bucket = "lf-user-data-aws"
    s3.create_bucket(Bucket=bucket)
    fs = shards.s3_filesystem()
    for i in range(3):
        X, y = make_rows(500, 40 + i)
        pq.write_table(table(X, y), f"{bucket}/in/part-{i}.parquet", filesystem=fs)
    backend = aws.backend()
    spec = BuildSpec(name="s3a", data=f"s3://{bucket}/in/", target="label", trees=4, grove=2, memory=1024)
    plan = driver.create(backend, spec)
    assert plan.sharded is not None and plan.n_train + plan.n_test == 1500
    st = run_build(backend, "s3a")
    assert st.state == "done" and st.summary is not None and st.summary["test"]["n"] == plan.n_test
    res = driver.predict_to(backend, "s3a", f"s3://{bucket}/in/", f"s3://{bucket}/out/")
    assert sorted(Path(p).name for p in res.written) == [f"part-{i}.parquet" for i in range(3)]
    _outputs_match(bucket, _objects(bucket, "out/"), [500, 500, 500])

    def op(event: dict[str, Any]) -> str:
        if "Records" in event:
            event = json.loads(event["Records"][0]["Sns"]["Message"])
        return str(event.get("op", event.get("kind", "fit")))

    # The same spec and seed on the local backend, reading the same S3 shards: the same trees.
    local = local_backend(tmp_path / "local-store")
    try:
        driver.create(
            local,
            BuildSpec(name="s3a", data=f"s3://{bucket}/in/", target="label", trees=4, grove=2, memory=1024),
            workers=2,
        )
        assert driver.run(local, "s3a", workers=2).state == "done"
        assert_same_forest(driver.load_model(local, "s3a"), driver.load_model(backend, "s3a"))
    finally:
        local.close()

    ops = [op(inv["event"]) for inv in aws.standin.invocations]
    assert ops.count("scan") >= 1 and ops.count("fit") == 2 and ops.count("predict") == 3
    # The build's own bucket holds the shard list and records, never a row of the data.
    files = backend.store.list("")
    assert keys.shard_list(plan.data_ref) in files
    assert not [k for k in files if k.endswith(("X.npy", "y.npy", "test.npz"))]
    # A local folder cannot be read by Lambda: refused before anything is written.
    with pytest.raises(SpecError, match="s3://"):
        driver.create(backend, BuildSpec(name="s3l", data=str(tmp_path), target="label"))
    assert np.all([not k.startswith("builds/s3l/") for k in backend.store.list("")])
