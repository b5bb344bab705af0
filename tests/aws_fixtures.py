"""The AWS rig shared by every AWS test: an account provisioned in moto's server over HTTP.

``tests/conftest.py`` imports the ``aws`` fixture from here, so any test file
can ask for it. Only the *execution* of the image function is stood in for
(moto cannot run an image without Docker): see ``tests/aws_lambda_standin.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lamforest import driver
from lamforest.backend import Backend

if TYPE_CHECKING:
    from tests.aws_lambda_standin import LambdaStandIn

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lamforest:0123abcd"
DEADLINE_S = 60.0


@dataclass
class Rig:
    bucket: str
    topic_arn: str
    function: str
    function_arn: str
    standin: LambdaStandIn
    endpoint: str

    def backend(self) -> Backend:
        from lamforest.backend.aws import aws_backend

        return aws_backend()


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Rig]:
    """A provisioned AWS account in moto, created with boto3: bucket, SNS topic, an Image function
    (fake ECR URI) with ``LAMFOREST_BUCKET`` in its environment, its lambda subscription to the
    topic, and its log group.

    The Lambda *service* is stood in for, because moto answers 500 when asked to run an image
    function: ``moto.awslambda.models.LambdaFunction.invoke`` is replaced, in this process where
    the ThreadedMotoServer runs, by ``LambdaStandIn``, which runs OUR real
    ``lamforest.worker.handler`` with a context carrying a fresh request id (async invokes and
    SNS deliveries on a 2-thread pool, sync invokes at once) and writes START/END/REPORT lines with
    measured durations into the function's log group in moto via PutLogEvents. Everything else is
    moto's real API over HTTP.
    """
    # Imported here: moto is a dev dependency, and suites that need no AWS (the scikit-learn
    # floor's) run without it.
    import boto3

    from lamforest.worker import entry as worker_entry
    from tests.aws_lambda_standin import LambdaStandIn

    suffix = uuid.uuid4().hex[:10]
    bucket, function = f"lf-{suffix}", f"lamforest-{suffix}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName=f"lamforest-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    fn = boto3.client("lambda").create_function(
        FunctionName=function,
        PackageType="Image",
        Code={"ImageUri": IMAGE_URI},
        Role=role,
        MemorySize=1769,
        Timeout=900,
        Architectures=["x86_64"],
        Environment={"Variables": {"LAMFOREST_BUCKET": bucket}},
    )
    sns = boto3.client("sns")
    topic = sns.create_topic(Name=f"lamforest-{suffix}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn["FunctionArn"])
    standin = LambdaStandIn(function)
    standin.install(monkeypatch)
    # What the function sees on Lambda (its environment) and what the driver is configured with.
    monkeypatch.setenv("LAMFOREST_BUCKET", bucket)
    monkeypatch.setenv("LAMFOREST_TOPIC_ARN", topic)
    monkeypatch.setenv("LAMFOREST_FUNCTION", function)
    monkeypatch.setenv("LAMFOREST_CACHE", str(tmp_path / "lambda-tmp"))
    monkeypatch.setenv("LAMFOREST_TERRAFORM_DIR", str(tmp_path / "no-terraform"))
    for var in ("LAMFOREST_DISPATCH", "LAMFOREST_LOG_GROUP", "LAMFOREST_REGION", "LAMFOREST_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(worker_entry, "_STORE", None)
    try:
        yield Rig(bucket, topic, function, fn["FunctionArn"], standin, aws_env)
    finally:
        standin.close()


def deadline(seconds: float = DEADLINE_S) -> Callable[[], bool]:
    end = time.monotonic() + seconds
    return lambda: time.monotonic() > end


def run_build(backend: Backend, name: str, **kw: Any) -> driver.BuildStatus:
    """Run a build to its end within the deadline; fail the test if it does not end."""
    st = driver.run(backend, name, poll_s=0.02, should_stop=deadline(), **kw)
    assert st.state in ("done", "failed", "cancelled"), f"build {name} did not end in time: {st.state}"
    return st
