"""Lambda platform log lines: parse REPORT (text and JSON forms), write START/END/REPORT,
and read them from a source (local files here; CloudWatch in ``backend.cloudwatch``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from lamforest import cost, keys

_FIELDS = {
    "Duration": "duration_ms",
    "Billed Duration": "billed_ms",
    "Memory Size": "memory_mb",
    "Max Memory Used": "max_memory_mb",
    "Init Duration": "init_ms",
    "Restore Duration": "restore_ms",
    "Billed Restore Duration": "billed_restore_ms",
}
_PAIR = re.compile(r"^\s*([A-Za-z ]+):\s*([0-9.]+)\s*(ms|MB)?\s*$")


@dataclass(frozen=True)
class Report:
    """One invocation's REPORT: what Lambda measured and billed."""

    request_id: str
    duration_ms: float
    billed_ms: float
    memory_mb: float
    max_memory_mb: float
    init_ms: float | None = None
    restore_ms: float | None = None
    billed_restore_ms: float | None = None
    status: str | None = None  # "error"/"timeout" when the platform says so

    def to_dict(self) -> dict:
        return asdict(self)


def parse_report(line: str) -> Report | None:
    """A REPORT line in the text or the JSON log format; None for any other line."""
    line = line.strip()
    if line.startswith("{"):
        return _parse_json(line)
    if not line.startswith("REPORT RequestId:"):
        return None
    # The text form may carry a trailing "XRAY TraceId: ..." line after a newline.
    line = line.splitlines()[0]
    parts = [p for p in line.split("\t") if p.strip()]
    request_id = parts[0].split(":", 1)[1].strip()
    values: dict[str, float] = {}
    status = None
    for part in parts[1:]:
        if part.strip().startswith("Status:"):
            status = part.split(":", 1)[1].strip()
            continue
        m = _PAIR.match(part)
        if m and m.group(1).strip() in _FIELDS:
            values[_FIELDS[m.group(1).strip()]] = float(m.group(2))
    try:
        return Report(request_id=request_id, status=status, **values)
    except TypeError:
        return None  # a REPORT without its mandatory fields: not ours to guess


def _parse_json(line: str) -> Report | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("type") != "platform.report":
        return None
    record = doc.get("record") or {}
    m = record.get("metrics") or {}
    try:
        return Report(
            request_id=str(record["requestId"]),
            duration_ms=float(m["durationMs"]),
            billed_ms=float(m["billedDurationMs"]),
            memory_mb=float(m["memorySizeMB"]),
            max_memory_mb=float(m["maxMemoryUsedMB"]),
            init_ms=float(m["initDurationMs"]) if "initDurationMs" in m else None,
            restore_ms=float(m["restoreDurationMs"]) if "restoreDurationMs" in m else None,
            status=record.get("status") if record.get("status") not in (None, "success") else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def format_start(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def format_end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def format_report(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """A REPORT line in Lambda's text format. Billed Duration rounds up to the millisecond
    and, as for container images, includes the INIT phase. A failed call may name its
    ``error_type`` after its status (``Status: error  Error Type: Runtime.OutOfMemory``)."""
    billed = cost.billed_ms(duration_ms, init_ms)
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status:
        line += f"Status: {status}\t"
    if error_type:
        line += f"Error Type: {error_type}\t"
    return line


class LogSource(Protocol):
    """Where a backend's platform lines for a build can be read, incrementally.

    ``shared`` is True when one log holds every build's lines (CloudWatch: the
    function's log group), so readers join REPORT lines to a build by request id.
    """

    shared: bool

    def lines(self, build: str, kind: str | None = None) -> list[str]:
        """New lines of ``build`` since the last call (the first call returns all so far).

        ``kind`` ("predict", "search") asks for the lines of that build's jobs, where they are kept apart.
        """
        ...


class LocalLogSource:
    """Local workers append Lambda-format lines to ``<root>/builds/<build>/lambda.log``.

    Each line is written with one O_APPEND write, which the kernel keeps whole
    across processes.
    """

    shared = False  # one log file per build (and per job kind)

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._offsets: dict[str, int] = {}

    def path(self, build: str, kind: str | None = None) -> Path:
        return self.root / keys.lambda_log(build, kind)

    def lines(self, build: str, kind: str | None = None) -> list[str]:
        path = self.path(build, kind)
        offset = self._offsets.get(str(path), 0)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1  # only whole lines
        self._offsets[str(path)] = offset + end
        return chunk[:end].decode("utf-8", "replace").splitlines()


def append_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class LogHub:
    """One forward-only reader of a backend's logs, shared by every watcher of that backend.

    Each line is fetched once and kept; every ``cursor()`` hands its owner each
    line once, from its own position. With a per-build log (local files) the
    hub reads a build's file when a cursor asks for it. With one log for every
    build (CloudWatch, ``shared``), the hub reads the whole log through one
    build's read position (the first build asked, the *anchor*), so watching
    any number of builds costs one read per interval; a build asked later gets
    one catch-up read of its own, since it may be older than the anchor. Lines
    of a shared log are de-duplicated by their text (platform lines carry their
    request id, so equal text is the same line).
    """

    def __init__(self, source: LogSource, keep: int = 50_000) -> None:
        self.source = source
        self.shared = bool(source.shared)
        self.keep = keep  # lines kept per buffer: an all-day session must not grow without bound
        self._lock = threading.Lock()
        self._lines: dict[str, list[str]] = {}  # build (or "" for a shared log) -> the last lines fetched
        self._base: dict[str, int] = {}  # buffer -> how many lines were dropped from its front
        self._anchor: str | None = None
        self._caught_up: set[str] = set()
        self._seen: set[str] = set()

    def cursor(self) -> LogCursor:
        return LogCursor(self)

    def _pull(self, build: str, kind: str | None) -> str:
        """Fetch what is new for ``build``; return the buffer key its lines are kept under."""
        if not self.shared:
            key = build if kind is None else f"{build}\0{kind}"
            self._lines.setdefault(key, []).extend(self.source.lines(build, kind))
            return key
        if self._anchor is None:
            self._anchor = build
            self._caught_up.add(build)
        got = []
        if build not in self._caught_up:
            self._caught_up.add(build)
            got.extend(self.source.lines(build, kind))
        got.extend(self.source.lines(self._anchor, kind))
        buf = self._lines.setdefault("", [])
        for line in got:
            if line not in self._seen:
                self._seen.add(line)
                buf.append(line)
        return ""

    def read(self, build: str, kind: str | None, offset: int) -> tuple[list[str], int]:
        """Lines from ``offset`` (a position in everything ever fetched) on, and the next position.
        A cursor so far behind that its lines were dropped resumes at the oldest kept line."""
        with self._lock:
            key = self._pull(build, kind)
            buf = self._lines.get(key, [])
            base = self._base.get(key, 0)
            out, end = buf[max(0, offset - base) :], base + len(buf)
            if len(buf) > self.keep:  # after reading: this reader got everything it fetched
                drop = len(buf) - self.keep
                del buf[:drop]
                self._base[key] = base + drop
            return out, end


class LogCursor:
    """A ``LogSource`` over a ``LogHub``: its own read position per build, the hub's fetches."""

    def __init__(self, hub: LogHub) -> None:
        self.hub = hub
        self.shared = hub.shared
        self._offsets: dict[tuple[str, str | None], int] = {}

    def lines(self, build: str, kind: str | None = None) -> list[str]:
        # A shared log has one buffer: one position for every build this cursor reads.
        at = ("", None) if self.shared else (build, kind)
        out, self._offsets[at] = self.hub.read(build, kind, self._offsets.get(at, 0))
        return out
