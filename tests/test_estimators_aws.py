"""An estimator with ``backend="aws"``: rows to S3, groves through SNS to (our handler behind) Lambda, all in
moto's server; see ``tests/aws_fixtures.py`` for the ``aws`` fixture."""

from __future__ import annotations

import boto3
import numpy as np
import sklearn.ensemble
from sklearn.datasets import load_iris

import lamforest
from lamforest import driver
from lamforest import keys as lfkeys
from lamforest.backend.shared import close_shared, shared
from tests.aws_fixtures import Rig


def test_an_aws_estimator_fits_predicts_and_loads(aws: Rig) -> None:
    X, y = load_iris(return_X_y=True)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(y))
    try:
        est = lamforest.RandomForestClassifier(
            n_estimators=8, grove_size=4, random_state=5, oob_score=True, backend="aws", name="aws-iris", progress=False
        ).fit(X, y, sample_weight=w)
        assert est.build_name_ == "aws-iris"
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=aws.bucket)["Contents"]]
        assert any(k.endswith("/w.npy") for k in keys)  # the weights went to S3 with the rows
        assert lfkeys.grove("aws-iris", "g00001") in keys
        assert len(aws.standin.invocations) >= 2  # the groves ran behind Lambda, not locally
        st = driver.status(shared("aws"), "aws-iris")
        assert st.state == "done" and st.cost_estimate is False

        # The forest is scikit-learn's with the same random_state and the same weights, grove by grove.
        ref = sklearn.ensemble.RandomForestClassifier(n_estimators=8, random_state=5)
        ref.fit(X.astype(np.float32), y, sample_weight=w)
        for ours, theirs in zip(est.estimators_, ref.estimators_, strict=True):
            assert np.array_equal(ours.tree_.threshold, theirs.tree_.threshold)
        assert est.score(X, y) > 0.9 and est.oob_decision_function_.shape == (150, 3)

        loaded = lamforest.load("aws-iris", backend="aws")
        assert np.array_equal(loaded.predict_proba(X), est.predict_proba(X))
        assert [b["name"] for b in lamforest.builds(backend="aws", as_frame=False)] == ["aws-iris"]
    finally:
        close_shared()
