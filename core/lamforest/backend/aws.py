"""``--backend aws``: the S3 bucket, the SNS topic (or direct invoke) and CloudWatch Logs of the function.

Names come from ``terraform output -json`` in ``terraform/`` (``LAMFOREST_TERRAFORM_DIR``
to point elsewhere), each overridable by environment:

=====================  ======================  =========================
output                 environment             used for
=====================  ======================  =========================
``bucket_name``        ``LAMFOREST_BUCKET``    the store
``topic_arn``          ``LAMFOREST_TOPIC_ARN`` dispatch ``sns`` (default)
``function_name``      ``LAMFOREST_FUNCTION``  dispatch ``invoke``, ``-s``
``log_group_name``     ``LAMFOREST_LOG_GROUP`` REPORT lines (default ``/aws/lambda/<function>``)
``region``             ``LAMFOREST_REGION``    every client (else boto3's own resolution)
``memory_size``        ``LAMFOREST_MEMORY``    vCPUs per worker
``architecture``       ``LAMFOREST_ARCH``      the price per GB-s
=====================  ======================  =========================

``LAMFOREST_DISPATCH`` is ``sns`` (default) or ``invoke``. Credentials and
``AWS_ENDPOINT_URL`` are resolved by boto3 as usual. Opening the backend makes
a few cheap calls (HeadBucket, GetTopicAttributes, GetFunctionConfiguration)
so that a missing or unreachable resource is one clear ``ConfigError`` before
anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from lamforest import keys
from lamforest.backend.base import Backend, Compute, ConfigError
from lamforest.backend.cloudwatch import CloudWatchLogSource, LogTail
from lamforest.cost import MB_PER_VCPU, vcpus
from lamforest.spec import BuildSpec
from lamforest.store.base import StoreError, get_json
from lamforest.store.s3 import S3Store, make_client

DISPATCH_MODES = ("sns", "invoke")
DEFAULT_TIMEOUT_S = 900
STALE_MARGIN_S = 120
REPORT_WAIT_S = 20.0  # CloudWatch ingests REPORT lines a few seconds late

_OUTPUT_ENV = {
    "bucket_name": "LAMFOREST_BUCKET",
    "topic_arn": "LAMFOREST_TOPIC_ARN",
    "function_name": "LAMFOREST_FUNCTION",
    "log_group_name": "LAMFOREST_LOG_GROUP",
    "region": "LAMFOREST_REGION",
    "memory_size": "LAMFOREST_MEMORY",
    "architecture": "LAMFOREST_ARCH",
}
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "403",
    "Forbidden",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}
_NO_CREDENTIALS = (
    "no AWS credentials found — set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`"
)


def terraform_dir() -> Path:
    """``LAMFOREST_TERRAFORM_DIR``, else ``terraform/`` at the root of the repository this package lives in."""
    env = os.environ.get("LAMFOREST_TERRAFORM_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / "terraform"


def terraform_outputs(tf_dir: Path | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
    """``terraform output -json`` as {name: value}; {} when nothing is provisioned there.

    Terraform is only asked when the directory has been initialised or applied
    (a state file or ``.terraform/``), so an unprovisioned checkout costs nothing.
    """
    tf_dir = tf_dir or terraform_dir()
    if not ((tf_dir / "terraform.tfstate").is_file() or (tf_dir / ".terraform").is_dir()):
        return {}
    exe = shutil.which("terraform")
    if exe is None:
        return {}
    try:
        proc = subprocess.run(
            [exe, "output", "-json"], cwd=tf_dir, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if proc.returncode != 0:
        return {}
    try:
        raw = json.loads(proc.stdout or "{}")
    except ValueError:
        return {}
    return {k: v.get("value") if isinstance(v, dict) else v for k, v in raw.items()}


def resolve_names(outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Terraform outputs overridden by environment; raise ConfigError when nothing names a bucket."""
    outputs = terraform_outputs() if outputs is None else outputs
    names: dict[str, Any] = {k: outputs.get(k) for k in _OUTPUT_ENV}
    names["function_arn"] = outputs.get("function_arn")
    names["reserved_concurrency"] = outputs.get("reserved_concurrency")
    for key, var in _OUTPUT_ENV.items():
        if os.environ.get(var):
            names[key] = os.environ[var]
    dispatch = os.environ.get("LAMFOREST_DISPATCH", "sns").strip().lower() or "sns"
    if dispatch not in DISPATCH_MODES:
        raise ConfigError(f"LAMFOREST_DISPATCH must be one of {', '.join(DISPATCH_MODES)}, got {dispatch!r}")
    names["dispatch"] = dispatch
    if not names["bucket_name"]:
        raise ConfigError(
            "the AWS backend is not provisioned: no terraform outputs in "
            f"{terraform_dir()} and LAMFOREST_BUCKET is not set — run `terraform apply` in terraform/ "
            "(or set LAMFOREST_BUCKET, LAMFOREST_TOPIC_ARN, LAMFOREST_FUNCTION)"
        )
    if dispatch == "sns" and not names["topic_arn"]:
        raise ConfigError("dispatch 'sns' needs a topic: set LAMFOREST_TOPIC_ARN (or LAMFOREST_DISPATCH=invoke)")
    if not names["function_name"] and dispatch == "invoke":
        raise ConfigError("dispatch 'invoke' needs a function: set LAMFOREST_FUNCTION")
    if not names["log_group_name"] and names["function_name"]:
        names["log_group_name"] = f"/aws/lambda/{names['function_name']}"
    return names


def _reserved(value: Any) -> int | None:
    """The Terraform output ``reserved_concurrency`` (-1: no reservation) as a limit, or None."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n >= 1 else None


def _config_error(what: str, exc: BaseException, missing: str) -> ConfigError:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(_NO_CREDENTIALS)
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _DENIED:
            return ConfigError(f"access denied to {what} ({code}) — check the credentials and the IAM policy")
        if code in {"NotFound", "404", "ResourceNotFoundException", "NoSuchBucket"}:
            return ConfigError(missing)
        return ConfigError(f"{what}: {code} {exc.response.get('Error', {}).get('Message', '')}".rstrip())
    return ConfigError(f"{what}: {exc}")


@dataclass
class AwsBackend(Backend):
    """The AWS backend and the deployed resources it talks to."""

    region: str | None = None
    bucket: str = ""
    topic_arn: str | None = None
    function_name: str | None = None
    log_group: str | None = None
    dispatch: str = "sns"
    timeout_s: int = DEFAULT_TIMEOUT_S
    log_tail: LogTail = field(default_factory=LogTail)


class FunctionMemory:
    """Sets the function's memory size for tune-memory, waiting for each update; restores the original."""

    def __init__(self, function: str | None, region: str | None) -> None:
        if not function:
            raise ConfigError("tune-memory on AWS needs the function: set LAMFOREST_FUNCTION")
        self.client = make_client("lambda", **({"region_name": region} if region else {}))
        self.function = function
        self.original = int(self.client.get_function_configuration(FunctionName=function)["MemorySize"])

    def set(self, memory_mb: int) -> None:
        self.client.update_function_configuration(FunctionName=self.function, MemorySize=memory_mb)
        # Lambda applies configuration asynchronously; invoking before it is done runs the old size.
        self.client.get_waiter("function_updated_v2").wait(
            FunctionName=self.function, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )

    def restore(self) -> None:
        self.set(self.original)


def aws_backend(*, check: bool = True) -> AwsBackend:
    """Open the AWS backend (see the module docstring); ``check=False`` skips the probe calls."""
    names = resolve_names()
    region = names.get("region")
    kwargs: dict[str, Any] = {"region_name": region} if region else {}
    bucket, topic, function = names["bucket_name"], names["topic_arn"], names["function_name"]
    try:
        s3 = make_client("s3", **kwargs)
    except BotoCoreError as exc:  # e.g. no region anywhere
        raise ConfigError(f"cannot create AWS clients: {exc} — set AWS_REGION or LAMFOREST_REGION") from None
    store = S3Store(bucket, client=s3)
    timeout_s, memory = DEFAULT_TIMEOUT_S, int(names.get("memory_size") or 0)
    arch = names.get("architecture")
    if check:
        try:
            store.check()
        except StoreError as exc:
            raise ConfigError(str(exc)) from None
        if names["dispatch"] == "sns":
            try:
                make_client("sns", **kwargs).get_topic_attributes(TopicArn=topic)
            except (ClientError, BotoCoreError) as exc:
                raise _config_error(
                    f"topic {topic}",
                    exc,
                    f"topic {topic} does not exist — run `terraform apply` in terraform/ or check LAMFOREST_TOPIC_ARN",
                ) from None
        if function:
            try:
                conf = make_client("lambda", **kwargs).get_function_configuration(FunctionName=function)
                timeout_s = int(conf.get("Timeout") or timeout_s)
                memory = memory or int(conf.get("MemorySize") or 0)
                arch = arch or (conf.get("Architectures") or [None])[0]
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code == "ResourceNotFoundException":
                    raise ConfigError(
                        f"function {function} does not exist — run `terraform apply` in "
                        "terraform/ or check LAMFOREST_FUNCTION"
                    ) from None
                if code not in _DENIED:  # a driver role without lambda:GetFunctionConfiguration is fine
                    raise _config_error(f"function {function}", exc, "") from None
            except BotoCoreError as exc:
                raise _config_error(f"function {function}", exc, "") from None
    memory = memory or MB_PER_VCPU
    tail = LogTail()
    log_group = names["log_group_name"]
    created: dict[str, float | None] = {}

    def since(build: str) -> float | None:
        if build not in created:
            try:
                created[build] = float(get_json(store, keys.spec(build)).get("created"))
            except (KeyError, ValueError, TypeError):
                return None  # not created yet: ask again next time
        return created[build]

    def new_log_source() -> CloudWatchLogSource:
        return CloudWatchLogSource(log_group, make_client("logs", **kwargs), since=since, tail=tail)

    def make_compute(spec: BuildSpec, workers: int | None, sync: bool) -> Compute:
        from lamforest.backend.aws_compute import InvokeCompute, SnsCompute, SyncInvokeCompute

        if sync:
            if not function:
                raise ConfigError("-s/--sync on AWS invokes the function: set LAMFOREST_FUNCTION")
            return SyncInvokeCompute(store, function, tail=tail, timeout_s=timeout_s, region=region)
        if names["dispatch"] == "invoke":
            return InvokeCompute(store, function, workers=workers, region=region)
        return SnsCompute(store, topic, workers=workers, region=region)

    def is_stale(record: Mapping[str, Any]) -> bool:
        """A running record older than the function's timeout (plus a margin) cannot still be running."""
        started = record.get("started")
        return started is not None and bool(started) and time.time() - float(started) > timeout_s + STALE_MARGIN_S

    route = f"sns -> {function or 'function'}" if names["dispatch"] == "sns" else f"invoke {function}"
    return AwsBackend(
        name="aws",
        store=store,
        make_compute=make_compute,
        log_source=new_log_source,
        estimate=False,
        runs_without_driver=True,
        describe=f"aws ({region or 'default region'}: s3://{bucket}, {route})",
        report_wait_s=REPORT_WAIT_S,
        function_memory_mb=memory,
        architecture=arch,
        concurrency=_reserved(names.get("reserved_concurrency")),
        is_stale=is_stale,
        n_jobs=lambda spec: vcpus(memory),
        memory_tuner=lambda: FunctionMemory(function, region),
        region=region,
        bucket=bucket,
        topic_arn=topic,
        function_name=function,
        log_group=log_group,
        dispatch=names["dispatch"],
        timeout_s=timeout_s,
        log_tail=tail,
    )
