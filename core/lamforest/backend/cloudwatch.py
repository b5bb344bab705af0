"""Platform lines of the Lambda function from CloudWatch Logs, read incrementally.

The function's log group holds every invocation of every build, so this
source returns the lines of the whole function since the build was created;
the Watcher joins REPORT lines to groves through the request id each grove's
record carries. Both log formats come through: text (``REPORT RequestId:
...``) and JSON (the whole message is a ``platform.report`` record); the
REPORT parser in ``lamforest.logs`` reads both.

Reads are ``FilterLogEvents`` through boto3's paginator, from the last timestamp seen minus
an overlap (CloudWatch can ingest an event after a later-stamped one from
another stream), de-duplicated by event id. No filter pattern is sent: text
and JSON lines cannot be matched by one pattern (and moto ignores JSON
patterns); lines are filtered here instead. FilterLogEvents has a low
account-wide rate quota, so one source reads at most every ``min_interval_s``.

Synchronous invokes (``-s``) get the REPORT line back in the invoke
response's log tail; ``LogTail`` carries those lines to every source, so the
driver sees them even before CloudWatch has ingested them, or without
CloudWatch at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lamforest.store.s3 import make_client

OVERLAP_MS = 30_000
_PLATFORM_PREFIXES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "XRAY TraceId:")


def platform_line(message: str) -> str | None:
    """The message as one line if it is a platform line (text or JSON format) or an error; else None."""
    text = message.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if isinstance(doc, dict) and str(doc.get("type", "")).startswith("platform."):
            return json.dumps(doc, separators=(",", ":"), sort_keys=True)
        if isinstance(doc, dict) and str(doc.get("level", "")).upper() == "ERROR":
            return json.dumps(doc, separators=(",", ":"), sort_keys=True)
        return None
    if text.startswith(_PLATFORM_PREFIXES) or text.startswith("[ERROR]"):
        return text
    return None


class LogTail:
    """Lines that arrived outside CloudWatch (sync invoke log tails), per build, for every reader."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def append(self, build: str, lines: list[str]) -> None:
        with self._lock:
            self._lines.setdefault(build, []).extend(lines)

    def read(self, build: str, offset: int) -> tuple[list[str], int]:
        with self._lock:
            got = self._lines.get(build, [])[offset:]
        return got, offset + len(got)


class CloudWatchLogSource:
    """``LogSource`` over the function's log group (see the module docstring).

    ``since(build)`` gives the build's creation time (epoch seconds) so the
    first read starts there rather than at the beginning of the log group.
    """

    shared = True  # lines of every build of the function come through: join by request id

    def __init__(
        self,
        log_group: str | None,
        client: Any = None,
        *,
        since: Callable[[str], float | None] | None = None,
        tail: LogTail | None = None,
        overlap_ms: int = OVERLAP_MS,
        min_interval_s: float = 2.0,
    ) -> None:
        self.log_group = log_group
        self.client = client if client is not None else make_client("logs")
        self.since = since
        self.tail = tail
        self.overlap_ms = overlap_ms
        self.min_interval_s = min_interval_s
        self._last_ts: dict[str, int] = {}
        self._seen: dict[str, dict[str, int]] = {}  # build -> event id -> timestamp
        self._tail_offset: dict[str, int] = {}
        self._tail_seen: dict[str, set[str]] = {}
        self._last_call: dict[str, float] = {}
        self.calls = 0  # FilterLogEvents pages requested, for the curious (and the tests)

    def _start_ms(self, build: str) -> int:
        if build in self._last_ts:
            return max(0, self._last_ts[build] - self.overlap_ms)
        created = self.since(build) if self.since else None
        return max(0, int((created or 0) * 1000) - self.overlap_ms)

    def lines(self, build: str, kind: str | None = None) -> list[str]:  # one log group: kind changes nothing
        out: list[str] = []
        if self.tail is not None:
            got, self._tail_offset[build] = self.tail.read(build, self._tail_offset.get(build, 0))
            seen = self._tail_seen.setdefault(build, set())
            for line in got:
                seen.add(line.strip())
                out.append(line)
        now = time.monotonic()
        if now - self._last_call.get(build, -1e9) < self.min_interval_s:
            return out
        self._last_call[build] = now
        out.extend(self._fetch(build))
        return out

    def _fetch(self, build: str) -> list[str]:
        if not self.log_group:
            return []  # no function named: only the sync log tails
        start = self._start_ms(build)
        seen = self._seen.setdefault(build, {})
        tail_seen = self._tail_seen.get(build, set())
        events: list[dict[str, Any]] = []
        pages = self.client.get_paginator("filter_log_events").paginate(logGroupName=self.log_group, startTime=start)
        try:
            for page in pages:
                self.calls += 1
                events.extend(page.get("events", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # no invocation has logged yet: Lambda creates the group on first use
            raise
        except BotoCoreError:
            return []  # transient (timeouts after retries): the next refresh reads the same window
        events.sort(key=lambda e: (e.get("timestamp", 0), e.get("logStreamName", ""), e.get("eventId", "")))
        out: list[str] = []
        last = self._last_ts.get(build, 0)
        for ev in events:
            eid = ev.get("eventId") or f"{ev.get('logStreamName')}:{ev.get('timestamp')}:{ev.get('message')}"
            ts = int(ev.get("timestamp", 0))
            last = max(last, ts)
            if eid in seen:
                continue
            seen[eid] = ts
            for raw in str(ev.get("message", "")).splitlines() or [""]:
                line = platform_line(raw)
                if line is None or line in tail_seen:
                    continue
                out.append(line)
        self._last_ts[build] = last
        # Forget ids that can no longer come back in a window.
        floor = last - 2 * self.overlap_ms
        for eid in [e for e, ts in seen.items() if ts < floor]:
            del seen[eid]
        return out
