"""A grove set on S3 (moto server): finish streams the groves from the bucket, predict and export read them."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pytest

from lamforest import data, driver, keys
from lamforest.driver.distributed import predict_distributed
from lamforest.driver.finish import MergePolicy
from lamforest.spec import BuildSpec, SpecError
from tests.aws_fixtures import Rig, run_build


def test_a_grove_set_on_s3_scores_predicts_and_reports_memory(aws: Rig, tmp_path: Path) -> None:
    backend = aws.backend()
    try:
        driver.create(backend, BuildSpec(name="gs-s3", data="digits", trees=9, grove=3, seed=4))
        st = run_build(backend, "gs-s3", merge=MergePolicy("auto", limit_mb=0.01))
        assert st.state == "done" and st.summary["model_kind"] == "groves" and st.model is None
        listed = boto3.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix=keys.build("gs-s3"))
        names = {o["Key"] for o in listed.get("Contents", [])}
        assert keys.manifest("gs-s3") in names and keys.model("gs-s3") not in names
        # workers' peak memory from the REPORT lines in CloudWatch
        assert st.summary["memory"]["worker_peak_mb"] == max(r.report.max_memory_mb for r in st.rows if r.report)
        X = np.asarray(data.load("digits").X[:200])
        streamed = driver.predict_values(backend, "gs-s3", X)
        merged = driver.whole_model(backend, "gs-s3", force=True)
        assert np.array_equal(streamed, merged.predict_proba(X))
        out = tmp_path / "p.npy"
        np.save(tmp_path / "rows.npy", X)
        pred = driver.predict(backend, "gs-s3", str(tmp_path / "rows.npy"), out=str(out))
        assert pred.metric is None and np.array_equal(np.load(out)[:, 1:], streamed)
        dist = predict_distributed(backend, "gs-s3", str(tmp_path / "rows.npy"), batch_groves=2, timeout_s=60)
        assert np.array_equal(dist.values, streamed)  # fully grown trees vote 0/1: exact in any order
        assert dist.worker_peak_mb > 0
        with pytest.raises(SpecError, match="above the merge limit"):
            driver.export(backend, "gs-s3", tmp_path / "m.joblib")
    finally:
        backend.close()
