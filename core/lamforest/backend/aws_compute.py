"""Dispatch grove events to AWS Lambda: through SNS (default), by async invoke, or synchronously.

- ``SnsCompute``: ``PublishBatch`` to the topic, 10 entries per call, a few
  threads. PublishBatch answers 200 even when some entries failed, so every
  entry of ``Failed`` is checked; failed entries are sent again a bounded
  number of times (not the ones SNS calls the sender's fault: those would fail
  again), then the groves that could not be dispatched get a ``failed``
  record (``DispatchError``), which the driver retries and reports like any
  other failure.
- ``InvokeCompute``: ``lambda.invoke(InvocationType="Event")`` per grove.
- ``SyncInvokeCompute``: ``RequestResponse`` with ``LogType="Tail"``: the
  result and the last 4 KB of the invocation's log, which on Lambda ends with
  the REPORT line; those lines go to a ``LogTail`` that the driver's log
  source reads, so costs show up even without CloudWatch.

Throttling (HTTP 429, ``TooManyRequestsException``, ``Throttling``) is retried
by botocore's standard retry mode with backoff. Each compute counts the
throttled responses it saw through botocore's ``needs-retry`` event (``throttled``)
and writes its dispatch counters to ``builds/<build>/dispatch.json``, which
the build's status shows.

Nothing can be recalled once Lambda has accepted it, so ``drain()`` returns 0;
cancel works through the ``CANCEL`` marker, which every worker checks first.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lamforest import keys, records
from lamforest.backend.base import DispatchError, Event
from lamforest.backend.cloudwatch import LogTail, platform_line
from lamforest.events import FitEvent
from lamforest.store.base import Store, put_json
from lamforest.store.s3 import make_client

BATCH = 10  # PublishBatch's limit
ENTRY_RETRIES = 3  # extra rounds for entries that failed (after botocore's own retries)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "Throttled",
    }
)
DISPATCH_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},  # throttles back off and retry, up to 7 times
    connect_timeout=5,
    read_timeout=15,
    max_pool_connections=32,
)


def _is_throttle(parsed: dict[str, Any] | None, status: int | None) -> bool:
    code = str(((parsed or {}).get("Error") or {}).get("Code", ""))
    return status == 429 or code in THROTTLE_CODES


def _error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "ClientError"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        sender = status < 500 and code not in THROTTLE_CODES
        return {"Code": code, "Message": str(err.get("Message", exc)), "SenderFault": sender}
    return {"Code": type(exc).__name__, "Message": str(exc), "SenderFault": False}


class _AwsCompute:
    """What the three dispatchers share: a client with counters, retry rounds, records, stats."""

    name = "aws"
    service = ""
    broken: str | None = None  # Lambda does not break: a failed dispatch is a failed record or DispatchError
    resumable = True

    def __init__(
        self,
        store: Store,
        *,
        workers: int | None = None,
        client: Any = None,
        entry_retries: int = ENTRY_RETRIES,
        retry_pause_s: float = 0.2,
        config: Config | None = None,
        region: str | None = None,
    ) -> None:
        self.store = store
        self.workers = workers or 8
        if client is None:
            extra = {"region_name": region} if region else {}
            client = make_client(self.service, config or DISPATCH_CONFIG, **extra)
        self.client = client
        self.entry_retries = entry_retries
        self.retry_pause_s = retry_pause_s
        self._lock = threading.Lock()
        self.sent = 0  # events accepted by AWS
        self.calls = 0  # API calls that returned (each may have been retried inside botocore)
        self.throttled = 0  # throttled responses seen (each retried by botocore with backoff)
        self.failed_entries = 0  # entries AWS reported failed, before our retries
        self.undispatched: list[dict[str, Any]] = []  # groves given up on: grove, attempt, error
        self.client.meta.events.register(
            f"needs-retry.{self.client.meta.service_model.service_id.hyphenize()}", self._on_attempt
        )

    # botocore calls this after every attempt of every call of this client
    def _on_attempt(self, response: Any = None, **_: Any) -> None:
        if response is None:
            return None
        http, parsed = response
        if _is_throttle(parsed, getattr(http, "status_code", None)):
            with self._lock:
                self.throttled += 1
        return None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self.name,
                "sent": self.sent,
                "calls": self.calls,
                "throttled": self.throttled,
                "failed_entries": self.failed_entries,
                "undispatched": list(self.undispatched),
            }

    def _send(self, tasks: list[Event]) -> list[tuple[Event, dict[str, Any]]]:
        """Send a batch; return the (task, error) pairs that failed."""
        raise NotImplementedError

    def _batches(self, tasks: list[Event]) -> list[list[Event]]:
        return [[t] for t in tasks]

    def submit(self, tasks: list[Event]) -> None:
        if not tasks:
            return
        pending, given_up = list(tasks), []
        for round_ in range(self.entry_retries + 1):
            batches = self._batches(pending)
            if len(batches) == 1:
                results = [self._send(batches[0])]
            else:
                threads = min(self.workers, len(batches))
                with ThreadPoolExecutor(threads, thread_name_prefix="lamforest-dispatch") as pool:
                    results = list(pool.map(self._send, batches))
            failed = [pair for res in results for pair in res]
            with self._lock:
                self.failed_entries += len(failed)
                self.sent += len(pending) - len(failed)
            given_up += [(t, e) for t, e in failed if e.get("SenderFault")]
            pending = [t for t, e in failed if not e.get("SenderFault")]
            if not pending:
                break
            if round_ < self.entry_retries:
                time.sleep(self.retry_pause_s * 2**round_)
        else:
            given_up += [
                (t, {"Code": "RetriesExhausted", "Message": f"still failing after {self.entry_retries} retries"})
                for t in pending
            ]
        self._give_up(tasks, given_up)

    def _give_up(self, tasks: list[Event], given_up: list[tuple[Event, dict[str, Any]]]) -> None:
        build = tasks[0].build
        for task, err in given_up:
            self.undispatched.append(
                {
                    "grove": keys.grove_index(task.gid),
                    "attempt": task.attempt if isinstance(task, FitEvent) else 1,
                    "error": f"{err.get('Code')}: {err.get('Message')}",
                }
            )
        if given_up and len(given_up) == len(tasks):
            self._write_stats(build)
            detail = "; ".join(
                f"grove {keys.grove_index(t.gid)}: {e.get('Code')}: {e.get('Message')}" for t, e in given_up[:5]
            )
            raise DispatchError(f"could not dispatch any of {len(tasks)} grove event(s) via {self.name}: {detail}")
        for task, err in given_up:
            self._record_failed(task, "DispatchError", f"{err.get('Code')}: {err.get('Message')}")
        self._write_stats(build)

    def _record_failed(self, task: Event, error: str, message: str, request_id: str | None = None) -> None:
        """A grove that never ran (or died unrecorded) gets a failed record, so the driver retries it.
        Predict and search jobs have no grove record: their driver times out on the missing answer."""
        if not isinstance(task, FitEvent) or records.grove_done(self.store, task.build, task.gid):
            return
        record = records.failed_record(
            grove=task.grove,
            trees=task.trees,
            seed=task.seed,
            attempt=task.attempt,
            request_id=request_id,
            error=error,
            message=message,
            started=time.time(),
        )
        records.write_grove(self.store, task.build, task.gid, record)

    def _write_stats(self, build: str) -> None:
        with contextlib.suppress(Exception):  # counters inform; never fail a dispatch over them
            put_json(self.store, keys.dispatch(build), self.stats())

    def drain(self) -> int:
        """Lambda cannot recall accepted events; workers see the CANCEL marker and stop at once."""
        return 0

    def close(self) -> None:
        pass

    def abandon(self) -> None:
        pass  # invocations already accepted run on without this driver

    def wait(self, timeout: float) -> None:
        time.sleep(timeout)  # an invocation's end is heard only through the store: the driver polls it


class SnsCompute(_AwsCompute):
    """``PublishBatch`` to the topic that the function subscribes to (the default route)."""

    name = "sns"
    service = "sns"

    def __init__(self, store: Store, topic_arn: str, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.topic_arn = topic_arn

    def _batches(self, tasks: list[Event]) -> list[list[Event]]:
        return [tasks[i : i + BATCH] for i in range(0, len(tasks), BATCH)]

    def _send(self, tasks: list[Event]) -> list[tuple[Event, dict[str, Any]]]:
        # Ids must be unique within one PublishBatch: a grove and its attempt, or a job's id.
        by_id = {f"g{t.grove}-a{t.attempt}" if isinstance(t, FitEvent) else f"{t.kind}-{t.gid}": t for t in tasks}
        entries = [{"Id": i, "Message": json.dumps(t.to_event(), separators=(",", ":"))} for i, t in by_id.items()]
        try:
            resp = self.client.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
        except (ClientError, BotoCoreError) as exc:
            err = _error_of(exc)
            return [(t, err) for t in tasks]
        with self._lock:
            self.calls += 1
        failed = []
        for f in resp.get("Failed", []):
            task = by_id.get(f.get("Id", ""))
            if task is not None:
                failed.append(
                    (
                        task,
                        {"Code": f.get("Code"), "Message": f.get("Message"), "SenderFault": bool(f.get("SenderFault"))},
                    )
                )
        ok = {s.get("Id") for s in resp.get("Successful", [])}
        failed_ids = {f.get("Id") for f in resp.get("Failed", [])}
        for i, t in by_id.items():  # neither successful nor failed: treat as failed, never as sent
            if i not in ok and i not in failed_ids:
                failed.append(
                    (t, {"Code": "Missing", "Message": "entry absent from the response", "SenderFault": False})
                )
        return failed


class InvokeCompute(_AwsCompute):
    """``lambda.invoke(InvocationType="Event")``: one asynchronous invocation per grove."""

    name = "invoke"
    service = "lambda"

    def __init__(self, store: Store, function: str, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.function = function

    def _send(self, tasks: list[Event]) -> list[tuple[Event, dict[str, Any]]]:
        failed = []
        for task in tasks:
            try:
                self.client.invoke(
                    FunctionName=self.function, InvocationType="Event", Payload=json.dumps(task.to_event()).encode()
                )
            except (ClientError, BotoCoreError) as exc:
                failed.append((task, _error_of(exc)))
                continue
            with self._lock:
                self.calls += 1
        return failed


class SyncInvokeCompute(_AwsCompute):
    """``-s/--sync``: ``RequestResponse`` with ``LogType="Tail"``, one grove at a time.

    The decoded log tail goes to ``tail`` (what the driver's log source reads),
    so the REPORT line is seen at once. An unhandled function error (a crash,
    a timeout, an invalid event) leaves no record from the worker, so one is
    written here, as Lambda reports it.
    """

    name = "sync"
    service = "lambda"

    def __init__(
        self, store: Store, function: str, tail: LogTail | None = None, timeout_s: int = 900, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "config",
            Config(
                retries={"mode": "standard", "max_attempts": 8},
                connect_timeout=5,
                read_timeout=timeout_s + 30,  # the call lasts as long as the grove
            ),
        )
        super().__init__(store, **kwargs)
        self.function = function
        self.tail = tail
        self.workers = 1
        self.last_result: dict[str, Any] | None = None

    def _send(self, tasks: list[Event]) -> list[tuple[Event, dict[str, Any]]]:
        failed = []
        for task in tasks:
            try:
                resp = self.client.invoke(
                    FunctionName=self.function,
                    InvocationType="RequestResponse",
                    LogType="Tail",
                    Payload=json.dumps(task.to_event()).encode(),
                )
            except (ClientError, BotoCoreError) as exc:
                failed.append((task, _error_of(exc)))
                continue
            with self._lock:
                self.calls += 1
            lines = decode_tail(resp.get("LogResult"))
            if self.tail is not None and lines:
                self.tail.append(task.build, lines)
            payload = resp["Payload"].read() if resp.get("Payload") is not None else b""
            try:
                self.last_result = json.loads(payload or b"null")
            except ValueError:
                self.last_result = {"raw": payload[:2000].decode("utf-8", "replace")}
            if resp.get("FunctionError"):
                res = self.last_result if isinstance(self.last_result, dict) else {}
                rid = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amzn-requestid")
                self._record_failed(
                    task,
                    str(res.get("errorType", "Runtime.Unhandled")),
                    str(res.get("errorMessage", payload[:500])),
                    rid,
                )
        return failed


def decode_tail(log_result: str | None) -> list[str]:
    """The platform lines (START/END/REPORT, errors) of a base64 ``LogResult``."""
    if not log_result:
        return []
    text = base64.b64decode(log_result).decode("utf-8", "replace")
    return [line for line in (platform_line(raw) for raw in text.splitlines()) if line is not None]
