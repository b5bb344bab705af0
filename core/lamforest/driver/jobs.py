"""What distributed predict and search share: stored inputs, waiting on records, costs of invocations.

Both send events of a new kind (``predict``, ``search``) through the build's
ordinary compute (local pool, SNS, invoke) and wait for small records in the
store; neither changes how a build is fitted or watched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lamforest import keys, records
from lamforest.backend.base import Backend
from lamforest.logs import Report, parse_report
from lamforest.store.base import Store, get_json


class JobTimeout(RuntimeError):
    """Workers did not answer within the bounded wait."""


def wait_records(
    store: Store,
    prefix: str,
    expected: list[str],
    *,
    timeout_s: float,
    poll_s: float = 0.05,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[dict[str, records.JobRecord], dict[str, records.JobRecord]]:
    """Wait (bounded) until every id in ``expected`` has ``<prefix>/done/<id>.json`` or ``failed/<id>.json``.

    One LIST per poll; each record is read once. Returns (done, failed) records by id.
    """
    done: dict[str, records.JobRecord] = {}
    failed: dict[str, records.JobRecord] = {}
    want = set(expected)
    deadline = time.monotonic() + timeout_s
    while True:
        for key in store.list(keys.job_files(prefix)):
            parsed = keys.parse_job_record(prefix, key)
            if parsed is None:
                continue
            state, jid = parsed
            if jid in want and jid not in done and jid not in failed:
                try:
                    (done if state == "done" else failed)[jid] = records.parse_job(get_json(store, key), state)
                except (KeyError, ValueError):
                    continue  # removed since the LIST, or damaged: read again at the next poll
        if on_progress:
            on_progress(len(done), len(want))
        if len(done) + len(failed) >= len(want) or should_stop():
            return done, failed
        if time.monotonic() > deadline:
            missing = sorted(want - set(done) - set(failed))
            raise JobTimeout(
                f"no answer after {timeout_s:.0f} s from {len(missing)} invocation(s): {', '.join(missing[:5])}"
            )
        time.sleep(poll_s)


def reports_for(backend: Backend, build: str, kind: str, request_ids: set[str]) -> dict[str, Report]:
    """REPORT lines of these invocations, joined by request id; waits (bounded by the backend's
    ``report_wait_s``) for lines that trail their records.

    Local workers log predict/search calls apart from the build's own cost; on AWS every call is
    in the function's log group.
    """
    source = backend.log_source()
    found: dict[str, Report] = {}
    deadline = time.monotonic() + backend.report_wait_s
    while True:
        for line in source.lines(build, kind):
            rep = parse_report(line)
            if rep and rep.request_id in request_ids:
                found[rep.request_id] = rep
        if set(found) >= request_ids or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
