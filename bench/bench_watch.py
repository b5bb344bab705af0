"""What one refresh of the builds list costs in requests: 50 finished builds of 100 groves and one running.

Targets: 0 GETs for finished builds, 1 LIST per running build, at most one
CloudWatch call per tick in all. Counted two ways:

- local store: through the store's own interface (``CountingStore``);
- S3 and CloudWatch Logs on a moto server: through botocore's ``before-call``
  event hooks on the clients the store and the log reader use (every request
  the SDK sends, paging included).

Each table row is one refresh, ticks 1.5 s apart as in the TUI; while it runs
the running build moves on (groves start and end between ticks). For
comparison, the first row is what the list did before: ``list_builds``, a
fresh ``Watcher`` per build on every tick.

Run: ``python bench/bench_watch.py`` (or ``python -m bench watch``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lamforest.backend import Backend, local_backend
from lamforest.backend.cloudwatch import CloudWatchLogSource
from lamforest.driver import BuildsView, Plan, list_builds
from lamforest.logs import format_report, format_start
from lamforest.store.counting import CountingStore
from lamforest.store.s3 import S3Store, make_client
from lamforest_tui.testing import FIXED_CREATED, request_id, write_finished_build, write_grove, write_plan

FINISHED, GROVES, TICKS, TICK_S = 50, 100, 6, 1.5
LOG_GROUP = "/aws/lambda/lamforest-bench"
GETS = {"GetObject", "HeadObject"}
LISTS = {"ListObjectsV2", "ListObjects"}


def populate(backend: Backend, log: bool) -> Plan:
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: write_finished_build(
                    backend.store, f"done-{i:02d}", groves=GROVES, created=FIXED_CREATED + i, log=log
                ),
                range(FINISHED),
            )
        )
    return write_plan(backend.store, "live", trees=GROVES * 5, grove=5, created=time.time())


def advance(backend: Backend, plan: Plan, tick: int, logs: Callable[[list[str]], None] | None) -> None:
    """Groves 2*tick.. start, the ones started a tick ago end (as workers would write them)."""
    now = time.time()
    lines = []
    for g in range(2 * (tick - 1), 2 * tick):
        if g >= 0:
            write_grove(backend.store, plan, g, "done", started=now - TICK_S, duration_s=1.0, log=logs is None)
            rid = request_id("live", g)
            lines.append(format_report(rid, 1000.0, 1769, 120, None, None))
    for g in range(2 * tick, 2 * tick + 2):
        write_grove(backend.store, plan, g, "running", started=now, log=logs is None)
        lines.append(format_start(request_id("live", g)))
    if logs is not None:
        logs(lines)


def ticks(
    backend: Backend, plan: Plan, take: Callable[[], Counter], logs: Callable[[list[str]], None] | None = None
) -> list[tuple[str, Counter]]:
    rows = []
    take()
    list_builds(backend)
    rows.append(("before: list_builds, one tick", take()))
    view = BuildsView(backend)
    for tick in range(TICKS):
        advance(backend, plan, tick, logs)
        take()
        t0 = time.monotonic()
        view.refresh()
        rows.append((f"BuildsView tick {tick}" + (" (first: reads all)" if tick == 0 else ""), take()))
        time.sleep(max(0.0, TICK_S - (time.monotonic() - t0)))
    return rows


def show(title: str, rows: list[tuple[str, Counter]], get: set[str], lst: set[str], cw: str | None) -> None:
    print(title)
    print(f"{'refresh':<36}{'GET':>8}{'LIST':>8}{'PUT':>6}{'CloudWatch':>12}")
    for label, c in rows:
        gets = sum(v for k, v in c.items() if k in get)
        lists = sum(v for k, v in c.items() if k in lst)
        cwc = c.get(cw, 0) if cw else "-"
        print(f"{label:<36}{gets:>8}{lists:>8}{c.get('PutObject', 0) + c.get('put', 0):>6}{cwc!s:>12}")


def local() -> None:
    with tempfile.TemporaryDirectory() as home:
        base = local_backend(home)
        backend = dataclasses.replace(base, store=CountingStore(base.store))
        plan = populate(backend, log=True)
        rows = ticks(backend, plan, backend.store.take)
        base.close()
    show(
        f"local store, {FINISHED} finished builds x {GROVES} groves + 1 running (CountingStore)",
        rows,
        {"get"},
        {"list"},
        None,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def s3() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        counts: Counter[str] = Counter()

        def hook(model: object, **_: object) -> None:
            counts[model.name] += 1  # type: ignore[attr-defined]

        s3c, logs_c = make_client("s3"), make_client("logs")
        s3c.create_bucket(Bucket="lf-bench")
        logs_c.create_log_group(logGroupName=LOG_GROUP)
        logs_c.create_log_stream(logGroupName=LOG_GROUP, logStreamName="s1")
        store = S3Store("lf-bench", client=s3c)
        backend = Backend(
            name="aws",
            store=store,
            make_compute=lambda *a: None,  # type: ignore[arg-type,return-value]
            log_source=lambda: CloudWatchLogSource(LOG_GROUP, logs_c, since=lambda b: FIXED_CREATED),
            estimate=False,
        )
        plan = populate(backend, log=False)

        def put_logs(lines: list[str]) -> None:
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": line} for line in lines]
            logs_c.put_log_events(logGroupName=LOG_GROUP, logStreamName="s1", logEvents=events)

        # Count only what watching sends: hooks go on after the store was filled.
        for client in (s3c, logs_c):
            client.meta.events.register("before-call.*.*", hook)

        def take() -> Counter[str]:
            out = Counter(counts)
            counts.clear()
            out.pop("PutLogEvents", None)  # the bench's own writes of log lines, not watching
            out.pop("PutObject", None)
            out.pop("DeleteObject", None)
            return out

        rows = ticks(backend, plan, take, put_logs)
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    show(
        f"S3 + CloudWatch Logs on moto, {FINISHED} finished builds x {GROVES} groves + 1 running (botocore hooks)",
        rows,
        GETS,
        LISTS,
        "FilterLogEvents",
    )


def main() -> None:
    local()
    print()
    s3()
    print(
        "\ntargets per tick after the first: 0 GET for finished builds, 1 LIST per running build "
        "(+1 for the names), at most 1 CloudWatch call"
    )


if __name__ == "__main__":
    main()
