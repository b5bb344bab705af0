"""A stand-in for the Lambda *service* inside moto's in-process server, and small botocore helpers.

moto cannot run a ``PackageType=Image`` function (it answers 500 without
Docker). Everything else in the AWS tests is moto's real API over HTTP; only
the execution of our function is stood in for: ``LambdaStandIn.install``
replaces ``moto.awslambda.models.LambdaFunction.invoke`` (in this process,
where the ``ThreadedMotoServer`` runs) for our function only, and then

- a ``RequestResponse`` invoke runs OUR ``lamforest.worker.handler`` at once and
  answers with its result and a base64 log tail (``x-amz-log-result``);
- an ``Event`` invoke, and SNS delivery to the lambda subscription (which moto
  makes by calling ``LambdaFunction.invoke`` without headers), queues the event
  on a small thread pool, like Lambda's async queue, and answers 202 at once;
- each invocation gets a fresh request id (``context.aws_request_id``) and
  writes ``START``/``END``/``REPORT`` lines with the *measured* duration, the
  function's memory size and the process's peak RSS into the function's log
  group in moto (``/aws/lambda/<name>``) with ``PutLogEvents``; the first
  invocation of each environment (pool thread) reports an ``Init Duration``.

The handler finds the bucket through ``LAMFOREST_BUCKET``, as on Lambda.
Faults can be injected: ``throttle_next`` (answer 429 ``TooManyRequestsException``
from the server), ``duplicates`` (deliver a grove's event twice, as
at-least-once delivery may) and ``log_format`` ("Text" or "JSON").
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import resource
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def canned_response(url: str, status: int, body: bytes, headers: dict[str, str] | None = None) -> AWSResponse:
    """An HTTP response for botocore's ``before-send`` event: botocore then parses it, and
    retries it or not, exactly as it would a server's answer."""
    return AWSResponse(url, status, headers or {}, _Raw(body))


class TooManyRequests(JsonRESTError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


class _Context:
    def __init__(self, request_id: str, fn: LambdaFunction) -> None:
        self.aws_request_id = request_id
        self.function_name = fn.function_name
        self.memory_limit_in_mb = int(fn.memory_size)
        self.invoked_function_arn = fn.function_arn


class LambdaStandIn:
    """Runs our handler for invocations of ``function_name`` (see the module docstring)."""

    def __init__(self, function_name: str, *, concurrency: int = 2, log_format: str = "Text") -> None:
        self.function_name = function_name
        self.log_group = f"/aws/lambda/{function_name}"
        self.log_format = log_format
        self.throttle_next = 0  # answer this many invokes with 429 before running any
        self.throttled = 0
        self.duplicates: set[int] = set()  # groves whose async event is delivered twice
        self.before_handler: Callable[[dict[str, Any]], None] | None = None
        self.invocations: list[dict[str, Any]] = []  # {"request_id", "event", "kind", "error"}
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="lambda-env")
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()
        self._env = threading.local()
        self._logs = boto3.client("logs")

    # ------------------------------------------------------------------ moto hook

    def install(self, monkeypatch: Any) -> None:
        original = LambdaFunction.invoke
        standin = self

        def invoke(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
            if fn.function_name != standin.function_name:
                return original(fn, body, request_headers, response_headers)
            return standin.invoke(fn, body, request_headers, response_headers)

        monkeypatch.setattr(LambdaFunction, "invoke", invoke)
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_group(logGroupName=self.log_group)

    def invoke(self, fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        with self._lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.throttled += 1
                raise TooManyRequests()
        event = json.loads(body) if isinstance(body, str | bytes) and body else (body or {})
        kind = request_headers.get("x-amz-invocation-type") if request_headers else None
        if kind is None:
            # moto's SNS delivery calls invoke() without headers; SNS invokes Lambda asynchronously.
            kind = "Event" if _is_sns(event) else "RequestResponse"
        if kind == "Event":
            copies = 2 if self.grove_of(event) in self.duplicates else 1
            with self._lock:
                for _ in range(copies):
                    self._futures.append(self._pool.submit(self._run, fn, event))
            return b""
        result, logs, error = self._run(fn, event)
        if error:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-log-result"] = base64.b64encode(logs.encode()[-4096:]).decode()
        return json.dumps(result).encode()

    @staticmethod
    def grove_of(event: dict[str, Any]) -> int | None:
        try:
            if _is_sns(event):
                return int(json.loads(event["Records"][0]["Sns"]["Message"])["grove"])
            return int(event["grove"])
        except (KeyError, ValueError, TypeError, IndexError):
            return None

    # ------------------------------------------------------------------ one invocation

    def _environment(self) -> tuple[str, float | None]:
        """This thread's environment: its log stream, and its init duration on first use."""
        if getattr(self._env, "stream", None) is None:
            t0 = time.perf_counter()
            import lamforest.worker.entry  # noqa: F401  (what INIT does: import the handler's module)

            day = time.strftime("%Y/%m/%d", time.gmtime())
            self._env.stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
            self._logs.create_log_stream(logGroupName=self.log_group, logStreamName=self._env.stream)
            return self._env.stream, (time.perf_counter() - t0) * 1000.0
        return self._env.stream, None

    def _run(self, fn: LambdaFunction, event: Any) -> tuple[Any, str, str | None]:
        from lamforest.worker import handler

        stream, init_ms = self._environment()
        rid = str(uuid.uuid4())
        t_start = int(time.time() * 1000)
        t0 = time.perf_counter()
        error = None
        try:
            if self.before_handler:
                self.before_handler(event)
            result: Any = handler(event, _Context(rid, fn))
        except Exception as exc:  # what the runtime does with an unhandled exception
            error = f"{type(exc).__name__}: {exc}"
            result = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        duration = (time.perf_counter() - t0) * 1000.0
        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        t_end = max(t_start, int(time.time() * 1000))
        lines = self._lines(rid, duration, int(fn.memory_size), peak, init_ms, error)
        events = [{"timestamp": t_start, "message": lines[0]}]
        events += [{"timestamp": t_end, "message": m} for m in lines[1:]]
        self._logs.put_log_events(logGroupName=self.log_group, logStreamName=stream, logEvents=events)
        with self._lock:
            self.invocations.append({"request_id": rid, "event": event, "error": error, "report": lines[-1]})
        return result, "\n".join(lines) + "\n", error

    def _lines(
        self, rid: str, duration: float, memory: int, peak: int, init_ms: float | None, error: str | None
    ) -> list[str]:
        billed = math.ceil(duration + (init_ms or 0.0))
        if self.log_format == "JSON":
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            metrics: dict[str, Any] = {
                "durationMs": round(duration, 2),
                "billedDurationMs": billed,
                "memorySizeMB": memory,
                "maxMemoryUsedMB": peak,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 2)
            out = [json.dumps({"time": now, "type": "platform.start", "record": {"requestId": rid}})]
            if error:
                out.append(json.dumps({"level": "ERROR", "requestId": rid, "message": error}))
            out.append(
                json.dumps(
                    {
                        "time": now,
                        "type": "platform.runtimeDone",
                        "record": {"requestId": rid, "status": "error" if error else "success"},
                    }
                )
            )
            out.append(
                json.dumps(
                    {
                        "time": now,
                        "type": "platform.report",
                        "record": {"requestId": rid, "metrics": metrics, "status": "error" if error else "success"},
                    }
                )
            )
            return out
        out = [f"START RequestId: {rid} Version: $LATEST"]
        if error:
            out.append(f"[ERROR] {error}")
        out.append(f"END RequestId: {rid}")
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {peak} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        out.append(report)
        return out

    # ------------------------------------------------------------------ test helpers

    @property
    def accepted(self) -> int:
        """Async invocations accepted so far (queued or run)."""
        with self._lock:
            return len(self._futures)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait (bounded) until every queued async invocation has run."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                for f in self._futures:
                    if f.exception() is not None:  # the stand-in itself broke: say so
                        raise f.exception()  # type: ignore[misc]
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(pending)} invocation(s) still running after {timeout} s")
            wait(pending, timeout=left)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _is_sns(event: Any) -> bool:
    return isinstance(event, dict) and bool(event.get("Records")) and "Sns" in (event["Records"][0] or {})
