"""The AWS backend against a real local AWS API: moto's server over HTTP (``AWS_ENDPOINT_URL``).

Every AWS call of the backend goes to moto: S3, SNS (topic, lambda
subscription, PublishBatch), Lambda (invoke, GetFunctionConfiguration),
CloudWatch Logs (FilterLogEvents). Only the *execution* of the image function
is stood in for (moto cannot run an image without Docker): see
``tests/aws_lambda_standin.py`` and the ``aws`` fixture in ``tests/aws_fixtures.py``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import requests

from lamforest import data, driver
from lamforest.backend import ConfigError, local_backend, open_backend
from lamforest.backend.aws import aws_backend, resolve_names, terraform_outputs
from lamforest.backend.aws_compute import DispatchError, SnsCompute, decode_tail
from lamforest.backend.cloudwatch import CloudWatchLogSource
from lamforest.cost import vcpus
from lamforest.events import FitEvent
from lamforest.logs import parse_report
from lamforest.spec import BuildSpec
from lamforest.worker import fit as worker_mod
from tests.aws_fixtures import DEADLINE_S, IMAGE_URI, Rig, run_build
from tests.waits import wait_for

SPEC = {"data": "digits", "trees": 20, "grove": 5, "seed": 7}


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same spec built on the local backend (in-process), for bit-for-bit comparisons."""
    backend = local_backend(tmp_path_factory.mktemp("local"))
    try:
        driver.create(backend, BuildSpec(name="ref", **SPEC))
        st = driver.run(backend, "ref", sync=True)
        assert st.state == "done"
        return driver.load_model(backend, "ref"), data.get_test(backend.store, "ref")
    finally:
        backend.close()


def assert_same_model(model: Any, ref: Any, X: np.ndarray) -> None:
    assert len(model.estimators_) == len(ref.estimators_)
    for i, (a, b) in enumerate(zip(model.estimators_, ref.estimators_, strict=True)):
        for attr in ("feature", "threshold", "value", "children_left", "children_right"):
            assert np.array_equal(getattr(a.tree_, attr), getattr(b.tree_, attr)), f"tree {i}: {attr} differs"
    assert np.array_equal(model.predict_proba(X), ref.predict_proba(X))


def assert_reports_and_costs(st: driver.BuildStatus) -> None:
    assert st.cost_estimate is False  # a bill, not an estimate
    for row in st.rows:
        assert row.state == "done"
        assert row.report is not None, f"grove {row.grove}: no REPORT joined through {row.request_id}"
        assert row.report.duration_ms > 0 and row.report.billed_ms >= row.report.duration_ms
        assert row.report.memory_mb == 1769 and row.report.max_memory_mb > 0
        assert row.cost_usd and row.cost_usd > 0
    assert st.billed_ms >= sum(r.report.billed_ms for r in st.rows if r.report)
    assert st.cost_usd >= sum(r.cost_usd or 0 for r in st.rows) * 0.999
    assert any(r.report.init_ms for r in st.rows if r.report)  # a cold start was reported and billed


def _grove_keys(rig: Rig, name: str) -> list[str]:
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=rig.bucket, Prefix=f"builds/{name}/groves/")
    return [o["Key"] for p in pages for o in p.get("Contents", [])]


# --------------------------------------------------------------------------- config


def test_backend_from_env_checks_resources_and_describes_itself(aws: Rig) -> None:
    backend = open_backend("aws")
    assert backend.name == "aws" and backend.estimate is False
    assert backend.store.url == f"s3://{aws.bucket}"
    assert backend.topic_arn == aws.topic_arn
    assert backend.log_group == f"/aws/lambda/{aws.function}"
    assert backend.timeout_s == 900  # from GetFunctionConfiguration
    assert backend.n_jobs(BuildSpec(name="x")) == 1
    assert [vcpus(m) for m in (128, 1769, 3538, 5307, 10240)] == [1, 1, 2, 3, 6]
    assert backend.is_stale({"started": time.time() - 900 - 200}) is True
    assert backend.is_stale({"started": time.time() - 10}) is False
    assert "sns" in backend.describe and aws.bucket in backend.describe


def test_names_come_from_terraform_outputs_and_env_overrides(
    aws: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ``terraform apply`` of a config with outputs only (no provider, offline), then
    ``terraform output -json`` read by the backend."""
    import subprocess

    tf = tmp_path / "terraform"
    tf.mkdir()
    outputs = {
        "bucket_name": aws.bucket,
        "topic_arn": aws.topic_arn,
        "function_name": aws.function,
        "function_arn": aws.function_arn,
        "log_group_name": f"/aws/lambda/{aws.function}",
        "region": "us-east-1",
        "memory_size": 3538,
        "architecture": "arm64",
        "image_uri": IMAGE_URI,
    }
    (tf / "outputs.tf").write_text(
        "".join(f'output "{k}" {{\n  value = {json.dumps(v)}\n}}\n' for k, v in outputs.items())
    )
    for cmd in (["terraform", "init", "-input=false"], ["terraform", "apply", "-auto-approve", "-input=false"]):
        subprocess.run(cmd, cwd=tf, check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("LAMFOREST_TERRAFORM_DIR", str(tf))
    assert terraform_outputs()["memory_size"] == 3538
    for var in ("LAMFOREST_BUCKET", "LAMFOREST_TOPIC_ARN", "LAMFOREST_FUNCTION"):
        monkeypatch.delenv(var)
    backend = aws_backend()
    assert backend.store.url == f"s3://{aws.bucket}"
    assert backend.architecture == "arm64" and backend.n_jobs(BuildSpec(name="x")) == 2
    monkeypatch.setenv("LAMFOREST_LOG_GROUP", "/custom/group")
    monkeypatch.setenv("LAMFOREST_DISPATCH", "invoke")
    names = resolve_names()
    assert names["log_group_name"] == "/custom/group" and names["dispatch"] == "invoke"
    assert names["bucket_name"] == aws.bucket  # still from terraform


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAMFOREST_BUCKET": None}, "not provisioned.*terraform apply"),
        ({"LAMFOREST_BUCKET": "lf-no-such-bucket"}, "bucket 'lf-no-such-bucket' does not exist"),
        ({"LAMFOREST_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:nope"}, "topic .*nope does not exist"),
        ({"LAMFOREST_FUNCTION": "nope-fn"}, "function nope-fn does not exist"),
        ({"LAMFOREST_DISPATCH": "carrier-pigeon"}, "LAMFOREST_DISPATCH must be one of sns, invoke"),
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None}, "no AWS credentials"),
    ],
)
def test_clear_config_errors(
    aws: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str | None], message: str
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=message):
        open_backend("aws")


def test_access_denied_is_a_clear_config_error(aws: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own IAM enforcement (``/moto-api/reset-auth``): a user without any policy."""
    iam = boto3.client("iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    assert requests.post(f"{aws.endpoint}/moto-api/reset-auth", data=b"0", timeout=10).ok
    try:
        with pytest.raises(ConfigError, match=r"access denied to bucket|access denied: HEAD"):
            open_backend("aws")
    finally:
        assert requests.post(f"{aws.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).ok


# --------------------------------------------------------------------------- end to end


def test_digits_build_through_sns_matches_local_bit_for_bit(aws: Rig, local_model: Any) -> None:
    """Default route: driver -> PublishBatch -> SNS -> lambda subscription -> handler -> S3.

    With faults on the way that must not change the forest: PublishBatch answers 200 with some
    entries Failed (the driver checks each and sends them again), and one grove's event is
    delivered twice (at-least-once): one artifact.
    """
    ref, (X_te, _) = local_model
    aws.standin.duplicates = {0}
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="digits-sns", **SPEC))
    dropped: dict[str, list[str]] = {}
    make = backend.make_compute

    def make_compute(spec: BuildSpec, workers: int | None, sync: bool) -> Any:
        compute = make(spec, workers, sync)
        assert isinstance(compute, SnsCompute)
        events = compute.client.meta.events

        # botocore's own extension points: drop two entries from the first request, then report
        # them Failed in its 200 response, exactly as SNS reports entries it did not publish.
        def drop(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            if not dropped:
                entries = params["PublishBatchRequestEntries"]
                dropped["ids"] = [e["Id"] for e in entries[:2]]
                params["PublishBatchRequestEntries"] = entries[2:]
                context["dropped"] = dropped["ids"]

        def fail(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            for i in context.get("dropped", []):
                parsed.setdefault("Failed", []).append(
                    {"Id": i, "Code": "InternalError", "Message": "try again", "SenderFault": False}
                )

        events.register("provide-client-params.sns.PublishBatch", drop)
        events.register("after-call.sns.PublishBatch", fail)
        return compute

    backend.make_compute = make_compute
    st = run_build(backend, "digits-sns")
    assert st.state == "done", st.to_json()
    aws.standin.wait_idle()
    assert dropped["ids"] == ["g0-a1", "g1-a1"]
    assert sorted(_grove_keys(aws, "digits-sns")) == [f"builds/digits-sns/groves/g{i:05d}.tree" for i in range(4)]
    runs_of_0 = [i for i in aws.standin.invocations if aws.standin.grove_of(i["event"]) == 0]
    assert len(runs_of_0) == 2  # delivered twice, fitted (at most) twice, stored once
    st = driver.status(backend, "digits-sns")  # a fresh watcher: every REPORT is in CloudWatch by now
    assert_reports_and_costs(st)
    j = st.to_json()
    assert j["dispatch"]["mode"] == "sns" and j["dispatch"]["failed_entries"] == 2
    assert j["dispatch"]["sent"] == 4 and j["dispatch"]["undispatched"] == []
    assert_same_model(driver.load_model(backend, "digits-sns"), ref, X_te)


def test_digits_build_through_direct_invoke_with_throttling_and_json_logs(
    aws: Rig, local_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--dispatch invoke``: lambda.invoke(InvocationType=Event). The server answers the first two
    invokes with 429 TooManyRequestsException; botocore's standard retry mode backs off and retries;
    the status shows the throttles. The function logs in Lambda's JSON log format."""
    ref, (X_te, _) = local_model
    monkeypatch.setenv("LAMFOREST_DISPATCH", "invoke")
    aws.standin.log_format = "JSON"
    aws.standin.throttle_next = 2
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="digits-invoke", **SPEC))
    st = run_build(backend, "digits-invoke")
    assert st.state == "done", st.to_json()
    aws.standin.wait_idle()
    assert aws.standin.throttled == 2
    st = driver.status(backend, "digits-invoke")
    assert_reports_and_costs(st)
    assert st.to_json()["dispatch"] == {
        "mode": "invoke",
        "sent": 4,
        "calls": 4,
        "throttled": 2,
        "failed_entries": 0,
        "undispatched": [],
    }
    assert_same_model(driver.load_model(backend, "digits-invoke"), ref, X_te)


def test_sync_build_gets_reports_from_the_invoke_log_tail(aws: Rig, local_model: Any) -> None:
    """``-s``: RequestResponse + LogType=Tail. The REPORT lines come back in the response, so the
    build is priced even when CloudWatch has nothing (here: an empty log group name)."""
    ref, (X_te, _) = local_model
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="digits-sync", **SPEC))
    # A log source that can read only the tails: CloudWatch is out of the picture.
    tail = backend.log_tail
    backend.log_source = lambda: CloudWatchLogSource(None, since=None, tail=tail)
    st = run_build(backend, "digits-sync", sync=True)
    assert st.state == "done", st.to_json()
    assert_reports_and_costs(st)
    assert_same_model(driver.load_model(backend, "digits-sync"), ref, X_te)


def test_cancel_stops_queued_invocations_quickly(aws: Rig) -> None:
    """Cancel on AWS: nothing can be recalled from Lambda's queue (drain() is 0); the marker makes
    every queued invocation exit at once, billed a few ms, and no grove is written."""
    gate = threading.Event()
    aws.standin.before_handler = lambda event: gate.wait(timeout=30)
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="digits-cancel", data="digits", trees=16, grove=2, seed=1))
    result: dict[str, driver.BuildStatus] = {}
    thread = threading.Thread(target=lambda: result.update(st=run_build(backend, "digits-cancel")))
    thread.start()
    try:
        wait_for(lambda: aws.standin.accepted == 8, "8 grove events queued in Lambda")
        driver.cancel(backend, "digits-cancel", reason="test")
    finally:
        gate.set()
        thread.join(timeout=DEADLINE_S)
    assert not thread.is_alive()
    assert result["st"].state == "cancelled"
    aws.standin.wait_idle()
    st = driver.status(backend, "digits-cancel")
    assert st.state == "cancelled" and st.cancel_reason == "test"
    assert st.count("cancelled") == 8 and st.count("done") == 0
    assert _grove_keys(aws, "digits-cancel") == []
    for row in st.rows:  # each cancelled invocation was billed, for almost nothing
        assert row.report is not None and row.record.get("trees_fitted", 0) == 0


def test_a_grove_that_raises_is_recorded_retried_and_reported(aws: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fit = worker_mod.fit

    def flaky_fit(task: FitEvent, X: Any, y: Any, **kw: Any) -> Any:
        if task.grove == 1 and task.attempt == 1:
            raise RuntimeError("injected: the first attempt of grove 1 fails")
        if task.grove == 3:
            raise MemoryError("injected: grove 3 always fails")
        return real_fit(task, X, y, **kw)

    monkeypatch.setattr(worker_mod, "fit", flaky_fit)
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="digits-flaky", **SPEC, retries=1))
    st = run_build(backend, "digits-flaky")
    aws.standin.wait_idle()
    st = driver.status(backend, "digits-flaky")
    assert st.state == "failed"
    j = st.to_json()
    assert "grove 3: MemoryError: injected" in j["error"]
    failures = {(f["grove"], f["attempt"]) for f in j["failures"]}
    assert failures == {(1, 1), (3, 1), (3, 2)}
    assert st.rows[1].state == "done" and st.rows[1].attempt == 2
    assert st.rows[3].state == "failed" and st.rows[3].report is not None  # the failed run was billed too


def test_publish_batch_entries_that_sns_rejects_are_reported(aws: Rig) -> None:
    """Real SNS rejections (moto: a message over 256 KB is InvalidParameter, SenderFault): such
    entries are not retried; the grove gets a failed DispatchError record; when no entry at all
    could be sent, submit raises DispatchError naming the groves."""
    topic = boto3.client("sns").create_topic(Name=f"lf-empty-{uuid.uuid4().hex[:6]}")["TopicArn"]
    backend = aws.backend()
    compute = SnsCompute(backend.store, topic)
    ref = "data/" + "0" * 64
    ok = [
        FitEvent(build="rej", grove=i, seed=i, trees=1, data=ref, model="rf", task="classification") for i in range(12)
    ]
    huge = FitEvent(
        build="rej",
        grove=12,
        seed=1,
        trees=1,
        data=ref,
        model="rf",
        task="classification",
        params={"pad": "x" * 270_000},
    )
    compute.submit([*ok, huge])
    assert compute.sent == 12 and compute.calls == 2 and compute.failed_entries == 1
    assert [u["grove"] for u in compute.undispatched] == [12]
    record = json.loads(backend.store.get_bytes("builds/rej/state/g00012.failed"))
    assert record["error"] == "DispatchError" and "InvalidParameter" in record["message"]
    with pytest.raises(DispatchError, match=r"could not dispatch any of 1 grove.*grove 12: InvalidParameter"):
        compute.submit([huge])
    bad = SnsCompute(backend.store, "arn:aws:sns:us-east-1:123456789012:gone", retry_pause_s=0.0)
    with pytest.raises(DispatchError, match="NotFound"):
        bad.submit(ok[:3])


def test_cloudwatch_source_is_incremental_paginated_and_deduplicated(aws: Rig) -> None:
    logs = boto3.client("logs")
    group = f"/aws/lambda/{aws.function}"
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now = int(time.time() * 1000)
    rid = [str(uuid.uuid4()) for _ in range(3)]
    report = (
        "REPORT RequestId: {}\tDuration: 10.00 ms\tBilled Duration: 11 ms\tMemory Size: 1769 MB\t"
        "Max Memory Used: 90 MB\t"
    )
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now, "message": f"START RequestId: {rid[0]} Version: $LATEST"},
            {"timestamp": now + 1, "message": "a line the handler printed\n"},
            {"timestamp": now + 2, "message": report.format(rid[0]) + "\nXRAY TraceId: 1-abc\tSegmentId: 1\n"},
            {
                "timestamp": now + 3,
                "message": json.dumps(
                    {
                        "type": "platform.report",
                        "record": {
                            "requestId": rid[1],
                            "metrics": {
                                "durationMs": 5.5,
                                "billedDurationMs": 6,
                                "memorySizeMB": 1769,
                                "maxMemoryUsedMB": 80,
                                "initDurationMs": 300.0,
                            },
                        },
                    }
                ),
            },
        ],
    )
    src = CloudWatchLogSource(group, boto3.client("logs"), since=lambda b: now / 1000, min_interval_s=0)
    first = src.lines("b")
    reports = [r for r in map(parse_report, first) if r]
    assert [r.request_id for r in reports] == [rid[0], rid[1]]
    assert reports[1].init_ms == 300.0 and reports[0].billed_ms == 11
    assert "a line the handler printed" not in first and "XRAY TraceId: 1-abc\tSegmentId: 1" in first
    assert src.lines("b") == []  # same window again (overlap): nothing twice
    logs.put_log_events(
        logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": now + 5, "message": report.format(rid[2])}]
    )
    assert [parse_report(x).request_id for x in src.lines("b")] == [rid[2]]
    # Pagination: moto pages by `limit`; force small pages through botocore's provide-client-params.
    src2 = CloudWatchLogSource(group, boto3.client("logs"), since=lambda b: now / 1000, min_interval_s=0)

    def small_pages(params: dict[str, Any], **_: Any) -> None:
        params["limit"] = 2

    src2.client.meta.events.register("provide-client-params.cloudwatch-logs.FilterLogEvents", small_pages)
    assert [r.request_id for r in map(parse_report, src2.lines("b")) if r] == rid
    assert src2.calls == 3


def test_decode_tail_keeps_platform_lines() -> None:
    import base64

    text = "START RequestId: r1 Version: $LATEST\nhello\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1 ms\t"
    assert decode_tail(base64.b64encode(text.encode()).decode()) == [
        "START RequestId: r1 Version: $LATEST",
        "END RequestId: r1",
        "REPORT RequestId: r1\tDuration: 1 ms",
    ]
    assert decode_tail(None) == []


# --------------------------------------------------------------------------- CLI


def test_cli_build_on_aws_prints_json(aws: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    from lamforest import cli

    code = cli.main(["build", "digits-cli", "--backend", "aws", "--data", "digits", "-t", "20", "-g", "5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["state"] == "done" and out["backend"] == "aws" and out["groves"]["done"] == 4
    assert out["cost_is_estimate"] is False and out["dispatch"]["mode"] == "sns"
    assert out["test_score"] > 0.8


def test_sync_invoke_records_an_unhandled_function_error(aws: Rig) -> None:
    """A crash outside the handler's own error handling (here: before it runs) comes back as
    FunctionError=Unhandled; the grove gets a failed record so the driver can retry it."""
    from lamforest.backend.aws_compute import SyncInvokeCompute
    from lamforest.backend.cloudwatch import LogTail

    def crash(event: Any) -> None:
        raise RuntimeError("environment crashed")

    aws.standin.before_handler = crash
    backend = aws.backend()
    tail = LogTail()
    compute = SyncInvokeCompute(backend.store, aws.function, tail=tail, timeout_s=60)
    task = FitEvent(
        build="crash", grove=4, seed=1, trees=1, data="data/" + "0" * 64, model="rf", task="classification", attempt=2
    )
    compute.submit([task])
    record = json.loads(backend.store.get_bytes("builds/crash/state/g00004.failed"))
    assert record["error"] == "RuntimeError" and record["message"] == "environment crashed"
    assert record["attempt"] == 2 and compute.sent == 1
    lines, _ = tail.read("crash", 0)
    assert lines[0].startswith("START RequestId:") and "[ERROR] RuntimeError: environment crashed" in lines
    assert parse_report(lines[-1]) is not None
