"""terraform/ applied for real against moto server, then checked with boto3.

One module-scoped apply (the no-op build command stands in for docker) is
shared by every assertion; the last test destroys it. Formatting, validation
and the linters (checkov, hadolint) run here too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests import tf_support as tfs

REPO = tfs.REPO
OUTPUT_NAMES = {
    "bucket_name", "topic_arn", "function_name", "function_arn", "log_group_name",
    "region", "memory_size", "architecture", "image_uri", "reserved_concurrency",
    "data_read_locations", "output_write_locations",
}  # fmt: skip

# Non-default values, so each assertion proves the variable reaches the resource.
# The image is "built" by the default image_build_command with a stand-in docker
# on PATH (no Docker engine here): the ECR login through the project's Python
# runs for real against moto, and docker's arguments are recorded.
NAME = "lf-tftest"
TFVARS = {
    "name": NAME,
    "force_destroy": True,
    "architecture": "arm64",
    "memory_size": 1024,
    "timeout": 600,
    "ephemeral_storage_size": 1024,
    "reserved_concurrency": 7,
    "max_retry_attempts": 1,
    "max_event_age": 900,
    "log_retention_days": 7,
    "log_format": "JSON",
    "build_expiration_days": 21,
    "noncurrent_version_expiration_days": 3,
    "image_keep_count": 4,
}
# The user's own buckets, granted to the role of `deployed` only (`disposable` keeps the
# defaults: nothing). A prefix with and without its trailing slash, a whole bucket, and
# data and output sharing a bucket.
USER_LOCATIONS = {
    "data_read_locations": ["lf-user-data/sets/train", "lf-user-data/sets/train/", "lf-user-ref"],
    "output_write_locations": ["lf-user-data/predictions/", "lf-user-out/runs/2026"],
}

# What moto provably does not store: without these, every plan after apply would
# want to change the function. Written into the test's override file only, so
# terraform/ itself ignores nothing.
MOTO_QUIRKS_OVERRIDE = """
resource "aws_lambda_function" "this" {
  lifecycle {
    ignore_changes = [
      # moto's LambdaFunction.get_configuration always answers an ImageConfigResponse
      # for Image functions (empty here); real Lambda omits it when none is set.
      image_config,
      # moto's get_configuration has no LoggingConfig at all: the log format and
      # log group we send are accepted and dropped.
      logging_config,
    ]
  }
}
"""


def tools_bin(name: str) -> str:
    """A linter from .venv-tools (made by `make test`), else from PATH."""
    candidate = REPO / ".venv-tools" / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise AssertionError(f"{name} not found: run `make test`, which installs .venv-tools")
    return found


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tfs.cli_config(tmp_path_factory.mktemp("tfcli") / "terraform.tfrc")


# --------------------------------------------------------------------------- static checks


def test_fmt(cli_config: Path) -> None:
    proc = subprocess.run(
        [tfs.terraform_bin(), "fmt", "-check", "-recursive", "-diff", str(tfs.TERRAFORM_DIR)],
        env=tfs.tf_env(cli_config),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_validate(cli_config: Path, tmp_path: Path) -> None:
    workdir = tfs.scratch_tree(tmp_path)
    env = tfs.tf_env(cli_config)
    tfs.run_tf(workdir, "init", "-backend=false", "-input=false", "-no-color", env=env)
    proc = tfs.run_tf(workdir, "validate", "-json", "-no-color", env=env, check=False)
    report = json.loads(proc.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=1)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=1)


def test_checkov_terraform() -> None:
    result = _checkov("-d", str(tfs.TERRAFORM_DIR), "--framework", "terraform")
    summary = result["summary"]
    failed = [(c["check_id"], c["resource"]) for c in result["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 30
    # Every skip carries a reason written beside its resource.
    for check in result["results"]["skipped_checks"]:
        assert len((check.get("check_result") or {}).get("suppress_comment", "")) > 20, check


def test_checkov_dockerfile() -> None:
    result = _checkov("-f", str(REPO / "image" / "Dockerfile"), "--framework", "dockerfile")
    summary = result["summary"]
    failed = [c["check_id"] for c in result["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 5
    for check in result["results"]["skipped_checks"]:
        assert len((check.get("check_result") or {}).get("suppress_comment", "")) > 20, check


def _checkov(*args: str) -> dict:
    proc = subprocess.run(
        # Not --quiet: the JSON report then leaves out the skipped checks we inspect.
        [tools_bin("checkov"), *args, "--skip-download", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    # One framework: one report (a list only when several ran).
    return result[0] if isinstance(result, list) else result


def test_hadolint() -> None:
    proc = subprocess.run(
        [tools_bin("hadolint"), str(REPO / "image" / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- applied on moto


@dataclass
class Deployment:
    workdir: Path
    env: dict[str, str]
    endpoint: str
    outputs: dict[str, object]
    apply_seconds: float
    destroyed: bool = False

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


STAND_IN_DOCKER = """#!/bin/sh
# Records each call; `login` reads its password from stdin, as docker does.
echo "$*" >> "$DOCKER_LOG"
if [ "$1" = login ]; then cat > "$DOCKER_LOG.password"; fi
"""


class _Apply(threading.Thread):
    """init + apply in a thread: the static checks run while the provider waits on moto."""

    def __init__(self, workdir: Path, env: dict[str, str], endpoint: str) -> None:
        super().__init__(name="terraform-apply", daemon=True)
        self.workdir, self.env, self.endpoint = workdir, env, endpoint
        self.deployment: Deployment | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            tfs.run_tf(self.workdir, "init", "-input=false", "-no-color", env=self.env)
            started = time.monotonic()
            tfs.run_tf(self.workdir, "apply", "-auto-approve", "-input=false", "-no-color", env=self.env, timeout=480)
            seconds = time.monotonic() - started
            self.deployment = Deployment(
                workdir=self.workdir,
                env=self.env,
                endpoint=self.endpoint,
                outputs=tfs.outputs(self.workdir, self.env),
                apply_seconds=seconds,
            )
        except BaseException as exc:  # reported by the `deployed` fixture
            self.error = exc


def _start_apply(name: str, tfvars: dict[str, object], root: Path, moto_server: str, cli_config: Path) -> _Apply:
    """A scratch checkout under ``root`` applied on moto (in a thread) as deployment ``name``."""
    workdir = tfs.scratch_tree(root, copy_sources=True)
    tfs.write_moto_override(workdir, moto_server, MOTO_QUIRKS_OVERRIDE)
    (workdir / "test.auto.tfvars.json").write_text(json.dumps({**tfvars, "name": name}))
    stand_in = root / "bin"
    stand_in.mkdir()
    (stand_in / "docker").write_text(STAND_IN_DOCKER)
    (stand_in / "docker").chmod(0o755)
    env = tfs.tf_env(cli_config, tfs.moto_env(moto_server))
    env["PATH"] = f"{stand_in}{os.pathsep}{env['PATH']}"
    env["DOCKER_LOG"] = str(root / "docker.log")
    job = _Apply(workdir, env, moto_server)
    job.start()
    return job


# Each deployment a test can ask for: the fixture's name, the deployment's, and its variables.
DEPLOYMENTS = {  # no name a prefix of the other
    "deployed": (NAME, {**TFVARS, **USER_LOCATIONS}),
    "disposable": ("lf-tfgone", TFVARS),
}


@pytest.fixture(scope="module", autouse=True)
def _apply_early(
    request: pytest.FixtureRequest, cli_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, _Apply]]:
    """Start the applies when the module starts, each only if a selected test needs it: ``deployed``
    (kept to the end; no test changes it) and ``disposable`` (for the test that destroys it)."""
    module_items = [item for item in request.session.items if item.module is request.module]
    wanted = [f for f in DEPLOYMENTS if any(f in item.fixturenames for item in module_items)]
    jobs: dict[str, _Apply] = {}
    if wanted:
        moto_server = request.getfixturevalue("moto_server")
        for fixture in wanted:
            root = tmp_path_factory.mktemp(f"tfapply-{fixture}")
            name, tfvars = DEPLOYMENTS[fixture]
            jobs[fixture] = _start_apply(name, tfvars, root, moto_server, cli_config)
    try:
        yield jobs
    finally:
        for job in jobs.values():
            job.join(timeout=600)
            if job.deployment is None or not job.deployment.destroyed:
                # Whatever got created goes, even after a failed apply.
                tfs.run_tf(job.workdir, "destroy", "-auto-approve", "-no-color", env=job.env, timeout=300, check=False)


def _finished(job: _Apply | None) -> Deployment:
    assert job is not None
    job.join(timeout=600)
    if job.error is not None:
        raise job.error
    assert job.deployment is not None, "terraform apply did not finish in 600 s"
    print(f"\nterraform apply on moto: {job.deployment.apply_seconds:.1f} s")
    return job.deployment


@pytest.fixture(scope="module")
def deployed(_apply_early: dict[str, _Apply]) -> Deployment:
    """The deployment the read-only tests inspect."""
    return _finished(_apply_early.get("deployed"))


@pytest.fixture(scope="module")
def disposable(_apply_early: dict[str, _Apply]) -> Deployment:
    """A second deployment of the same configuration, applied beside the first, for test_destroy."""
    return _finished(_apply_early.get("disposable"))


def test_outputs_are_the_contract(deployed: Deployment) -> None:
    out = deployed.outputs
    assert set(out) == OUTPUT_NAMES
    assert out["function_name"] == NAME
    assert out["function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
    assert out["topic_arn"] == f"arn:aws:sns:us-east-1:123456789012:{NAME}"
    assert str(out["bucket_name"]).startswith(f"{NAME}-")
    assert out["log_group_name"] == f"/aws/lambda/{NAME}"
    assert out["region"] == "us-east-1"
    assert out["memory_size"] == 1024
    assert out["architecture"] == "arm64"
    assert out["reserved_concurrency"] == 7
    repo, _, tag = str(out["image_uri"]).rpartition(":")
    assert repo == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{NAME}"
    assert tag.startswith("arm64-") and len(tag) == len("arm64-") + 24
    # Normalised: a trailing slash, duplicates gone, so a path is granted when it starts with one.
    assert out["data_read_locations"] == ["lf-user-data/sets/train/", "lf-user-ref/"]
    assert out["output_write_locations"] == ["lf-user-data/predictions/", "lf-user-out/runs/2026/"]


def test_image_built_and_pushed_by_the_default_command(deployed: Deployment) -> None:
    root = deployed.workdir.parent
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    calls = (root / "docker.log").read_text().splitlines()
    assert calls == [
        f"login --username AWS --password-stdin {registry}",
        f"buildx build --platform linux/arm64 --provenance=false --file {root}/image/Dockerfile "
        f"--tag {deployed.outputs['image_uri']} --push {root}",
    ]
    # The password is the ECR token's, fetched by the project's Python.
    assert (root / "docker.log.password").read_text().strip()


def test_bucket(deployed: Deployment) -> None:
    s3 = deployed.client("s3")
    bucket = str(deployed.outputs["bucket_name"])
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }  # fmt: skip

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]

    lifecycle = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    builds = lifecycle["expire-builds"]
    assert builds["Filter"] == {"Prefix": "builds/"}
    assert builds["Expiration"] == {"Days": 21}
    old = lifecycle["expire-old-versions"]
    assert old["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    assert old["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_function(deployed: Deployment) -> None:
    lam = deployed.client("lambda")
    fn = lam.get_function(FunctionName=NAME)
    conf = fn["Configuration"]
    assert conf["PackageType"] == "Image"
    assert fn["Code"]["ImageUri"] == deployed.outputs["image_uri"]
    assert conf["MemorySize"] == 1024
    assert conf["Timeout"] == 600
    assert conf["Architectures"] == ["arm64"]
    assert conf["EphemeralStorage"] == {"Size": 1024}
    assert conf["Environment"]["Variables"] == {"LAMFOREST_BUCKET": deployed.outputs["bucket_name"]}
    assert conf["Role"].endswith(f":role/{NAME}-worker")
    assert fn["Concurrency"]["ReservedConcurrentExecutions"] == 7

    queue_url = deployed.client("sqs").get_queue_url(QueueName=f"{NAME}-failed")["QueueUrl"]
    queue_arn = deployed.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn", "SqsManagedSseEnabled"]
    )["Attributes"]["QueueArn"]
    invoke = lam.get_function_event_invoke_config(FunctionName=NAME)
    assert invoke["MaximumRetryAttempts"] == 1
    assert invoke["MaximumEventAgeInSeconds"] == 900
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def test_topic_subscription_and_permission(deployed: Deployment) -> None:
    sns = deployed.client("sns")
    topic = str(deployed.outputs["topic_arn"])
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["KmsMasterKeyId"] == "alias/aws/sns"
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("lambda", deployed.outputs["function_arn"])]

    policy = json.loads(deployed.client("lambda").get_policy(FunctionName=NAME)["Policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Action"] == "lambda:InvokeFunction"
    assert stmt["Principal"] == {"Service": "sns.amazonaws.com"}
    assert stmt["Condition"]["ArnLike"]["AWS:SourceArn"] == topic


def test_log_group(deployed: Deployment) -> None:
    logs = deployed.client("logs")
    name = str(deployed.outputs["log_group_name"])
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(name, 7)]


def test_ecr_repository(deployed: Deployment) -> None:
    ecr = deployed.client("ecr")
    (repo,) = ecr.describe_repositories(repositoryNames=[NAME])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=NAME)["lifecyclePolicyText"])
    (rule,) = policy["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 4


def _as_list(x: object) -> list[str]:
    return sorted([x] if isinstance(x, str) else list(x))  # type: ignore[arg-type]


def _role_policy(deployment: Deployment, name: str) -> list[dict]:
    """The statements of the worker role's one inline policy, as moto's IAM holds them."""
    iam = deployment.client("iam")
    role = f"{name}-worker"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [role]
    doc = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    if isinstance(doc, str):
        doc = json.loads(doc)
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    return doc["Statement"]


def _own_grants(name: str, bucket_name: object) -> dict[str, tuple[list[str], list[str]]]:
    """What every deployment's role holds: its own bucket, logs and failure queue."""
    bucket = f"arn:aws:s3:::{bucket_name}"
    log_group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}"
    queue = f"arn:aws:sqs:us-east-1:123456789012:{name}-failed"
    return {
        "ReadTrainSets": (["s3:GetObject"], [f"{bucket}/data/*"]),
        "ReadWriteBuilds": (
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            [f"{bucket}/builds/*"],
        ),
        "ListOwnPrefixes": (["s3:ListBucket"], [bucket]),
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:*"]),
        "ReportFailedEvents": (["sqs:SendMessage"], [queue]),
    }


def test_role_is_least_privilege(deployed: Deployment) -> None:
    iam = deployed.client("iam")
    trust = iam.get_role(RoleName=f"{NAME}-worker")["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
    statements = _role_policy(deployed, NAME)
    grants = {s["Sid"]: (_as_list(s["Action"]), _as_list(s["Resource"])) for s in statements}
    assert grants == {
        **_own_grants(NAME, deployed.outputs["bucket_name"]),
        # USER_LOCATIONS: objects under each prefix (or in the whole bucket), nothing else.
        "ReadUserData": (["s3:GetObject"], ["arn:aws:s3:::lf-user-data/sets/train/*", "arn:aws:s3:::lf-user-ref/*"]),
        "WriteUserOutput": (
            ["s3:GetObject", "s3:PutObject"],
            ["arn:aws:s3:::lf-user-data/predictions/*", "arn:aws:s3:::lf-user-out/runs/2026/*"],
        ),
        # Listing, one statement per bucket (buckets in name order).
        "ListUserBucket0": (["s3:ListBucket"], ["arn:aws:s3:::lf-user-data"]),
        "ListUserBucket1": (["s3:ListBucket"], ["arn:aws:s3:::lf-user-out"]),
        "ListUserBucket2": (["s3:ListBucket"], ["arn:aws:s3:::lf-user-ref"]),
    }
    # Listing is limited to the prefixes of that bucket; only a bucket given whole lists freely.
    conditions = {s["Sid"]: s.get("Condition") for s in statements}
    limits = {
        sid: {test: {key: _as_list(values) for key, values in keys.items()} for test, keys in cond.items()}
        for sid, cond in conditions.items()
        if cond
    }
    assert limits == {
        "ListUserBucket0": {"StringLike": {"s3:prefix": ["predictions/*", "sets/train/*"]}},
        "ListUserBucket1": {"StringLike": {"s3:prefix": ["runs/2026/*"]}},
    }


def test_role_reaches_no_user_data_by_default(disposable: Deployment) -> None:
    """Both location lists empty (the defaults): no statement for the user's buckets."""
    name = DEPLOYMENTS["disposable"][0]
    statements = _role_policy(disposable, name)
    grants = {s["Sid"]: (_as_list(s["Action"]), _as_list(s["Resource"])) for s in statements}
    assert grants == _own_grants(name, disposable.outputs["bucket_name"])
    assert not any("Condition" in s for s in statements)
    assert disposable.outputs["data_read_locations"] == []
    assert disposable.outputs["output_write_locations"] == []


def test_bad_locations_fail_the_plan(deployed: Deployment, tmp_path: Path) -> None:
    """An s3:// URI, an empty string or a wildcard is refused by name before anything changes."""
    bad = tmp_path / "bad.tfvars.json"
    bad.write_text(
        json.dumps(
            {
                "data_read_locations": ["s3://lf-user-data/train", "lf-user-data/fine"],
                "output_write_locations": ["", "lf-user-out/runs/*"],
            }
        )
    )
    errors = tfs.plan_errors(deployed.workdir, deployed.env, f"-var-file={bad}")
    refused = {
        value["traversal"]: error["detail"]
        for error in errors
        if error["summary"] == "Invalid value for variable"
        for value in error["snippet"]["values"]
    }
    assert set(refused) == {"var.data_read_locations", "var.output_write_locations"}, errors
    assert refused["var.data_read_locations"].startswith("data_read_locations takes")
    assert 'Refused: ["s3://lf-user-data/train"].' in refused["var.data_read_locations"]
    assert refused["var.output_write_locations"].startswith("output_write_locations takes")
    assert 'Refused: ["","lf-user-out/runs/*"].' in refused["var.output_write_locations"]


def test_second_apply_plans_nothing(deployed: Deployment) -> None:
    code, changes = tfs.plan(deployed.workdir, deployed.env)
    assert changes == []
    assert code == 0


def test_code_change_rebuilds_the_image(deployed: Deployment) -> None:
    # The scratch tree holds a copy of core/lamforest: change it as a developer would.
    marker = deployed.workdir.parent / "core" / "lamforest" / "_tf_test_marker.py"
    marker.write_text("CHANGED = True\n")
    try:
        code, changes = tfs.plan(deployed.workdir, deployed.env)
    finally:
        marker.unlink()
    assert code == 2
    # A new image tag: build and push again, point the function at it; nothing else.
    assert changes == [("aws_lambda_function.this", "update"), ("terraform_data.image[0]", "replace")]


def test_backend_aws_finds_the_deployment(deployed: Deployment) -> None:
    """`lamforest --backend aws builds` finds bucket, topic and function from `terraform output -json` alone.

    The scratch tree is a checkout (core/lamforest beside the applied terraform/), and the
    CLI runs from it, so it reads that terraform/ as it would in a user's clone; no
    LAMFOREST_* variable names anything.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMFOREST_", "AWS_", "PYTHON"))}
    env.update(tfs.moto_env(deployed.endpoint))
    env.pop("AWS_DEFAULT_REGION")  # the region, too, comes from the outputs
    env.pop("AWS_REGION")
    env["TF_CLI_CONFIG_FILE"] = deployed.env["TF_CLI_CONFIG_FILE"]
    checkout = deployed.workdir.parent
    env["PYTHONPATH"] = str(checkout / "core")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from lamforest.cli import main; sys.exit(main())",
            "--backend",
            "aws",
            "builds",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = " ".join(proc.stdout.split())
    assert f"s3://{deployed.outputs['bucket_name']}" in shown, proc.stdout
    assert f"sns -> {NAME}" in shown, proc.stdout


def test_destroy(disposable: Deployment) -> None:
    name = DEPLOYMENTS["disposable"][0]
    tfs.run_tf(disposable.workdir, "destroy", "-auto-approve", "-no-color", env=disposable.env, timeout=300)
    disposable.destroyed = True
    buckets = {b["Name"] for b in disposable.client("s3").list_buckets()["Buckets"]}
    assert disposable.outputs["bucket_name"] not in buckets
    functions = {f["FunctionName"] for f in disposable.client("lambda").list_functions()["Functions"]}
    assert name not in functions
    topics = {t["TopicArn"] for t in disposable.client("sns").list_topics()["Topics"]}
    assert disposable.outputs["topic_arn"] not in topics
    roles = {r["RoleName"] for r in disposable.client("iam").list_roles()["Roles"]}
    assert f"{name}-worker" not in roles
