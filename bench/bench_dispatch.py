"""Dispatch rate of 1,000 grove events to SNS: PublishBatch with threads vs one Publish per grove, alone and threaded.

Both run against the same local AWS API: a moto server started here, in its
own process (so it does not share this one's GIL), on a loopback port (no
real AWS, fake credentials). The topic
has no subscription by default: moto cannot deliver to an image function, and
delivery to an SQS queue is moto's own bottleneck (~25-50 deliveries/s here,
whatever the client does), which would hide the dispatch rate being measured.
``--sqs`` subscribes a queue anyway and checks its depth after each run.

Batched is the driver's own ``SnsCompute`` (PublishBatch, 10 entries per
call, a small thread pool, every entry's result checked); one by one is the
original approach, a ``Publish`` call per grove, first from one thread, then
from as many threads as the batched way uses, so that what batching gains and
what threading gains are measured apart. All three use the dispatch client
configuration (``DISPATCH_CONFIG``).

Targets (issue 3): >= 1,000 groves/s batched, >= 8x the one-by-one rate.

Run: ``python bench/bench_dispatch.py`` (or ``python -m bench.bench_dispatch``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

EVENTS = 1000
TIME_LIMIT_S = 120.0  # each run stops (and says so) if it takes longer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tasks(n: int) -> list:
    from lamforest.events import FitEvent

    ref = "data/" + "ab" * 32
    return [
        FitEvent(
            build="bench-dispatch",
            grove=i,
            seed=1000 + i,
            trees=10,
            data=ref,
            model="rf",
            task="classification",
            params={"max_features": "sqrt"},
        )
        for i in range(n)
    ]


def _wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"moto server not listening on port {port} after {timeout_s} s")


def _queue_depth(sqs: object, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])  # type: ignore[attr-defined]
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _timed(fn: Callable[[], int]) -> tuple[int, float]:
    t0 = time.perf_counter()
    sent = fn()
    return sent, time.perf_counter() - t0


def run(events: int = EVENTS, threads: int = 8, subscribe: bool = False) -> list[dict]:
    """Start a moto server, run both ways, return one row per way."""
    from concurrent.futures import ThreadPoolExecutor

    from lamforest.backend.aws_compute import DISPATCH_CONFIG, SnsCompute
    from lamforest.store.local import LocalStore
    from lamforest.store.s3 import make_client

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_listening(port, server)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    rows = []
    try:
        sns, sqs = make_client("sns", DISPATCH_CONFIG), make_client("sqs")
        tasks = _tasks(events)
        with tempfile.TemporaryDirectory() as tmp:
            ways = (
                "one Publish per grove",
                f"one Publish per grove, {threads} threads",
                f"PublishBatch x10, {threads} threads",
            )
            for way in ways:
                topic = sns.create_topic(Name=f"bench-{len(rows)}")["TopicArn"]
                queue = sqs.create_queue(QueueName=f"bench-{len(rows)}")["QueueUrl"]
                qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                if subscribe:
                    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
                deadline = time.monotonic() + TIME_LIMIT_S

                def publish(t: object, topic: str = topic, deadline: float = deadline) -> int:
                    if time.monotonic() > deadline:
                        return 0
                    sns.publish(TopicArn=topic, Message=json.dumps(t.to_event(), separators=(",", ":")))  # type: ignore[attr-defined]
                    return 1

                if way == ways[0]:
                    sent, secs = _timed(lambda publish=publish: sum(publish(t) for t in tasks))
                elif way == ways[1]:

                    def threaded(publish: Callable[[object], int] = publish) -> int:
                        with ThreadPoolExecutor(threads) as pool:
                            return sum(pool.map(publish, tasks))

                    sent, secs = _timed(threaded)
                else:
                    compute = SnsCompute(LocalStore(tmp), topic, workers=threads)

                    def batched(compute: SnsCompute = compute) -> int:
                        compute.submit(tasks)
                        return compute.sent

                    sent, secs = _timed(batched)
                rows.append(
                    {
                        "way": way,
                        "events": sent,
                        "seconds": secs,
                        "per_s": sent / secs,
                        "delivered": _queue_depth(sqs, queue),
                    }
                )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    return rows


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=EVENTS)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--sqs", action="store_true", help="subscribe an SQS queue and count deliveries")
    args = p.parse_args(argv)
    rows = run(args.events, args.threads, subscribe=args.sqs)
    base = rows[0]["per_s"]
    where = "an SQS queue subscribed" if args.sqs else "no subscription"
    print(f"\nDispatch of {args.events} grove events to SNS (moto server on loopback, {where})\n")
    print(f"{'way':<32} {'events':>7} {'seconds':>8} {'events/s':>9} {'delivered':>9} {'vs one-by-one':>13}")
    for r in rows:
        delivered = r["delivered"] if args.sqs else "-"
        print(
            f"{r['way']:<32} {r['events']:>7} {r['seconds']:>8.2f} {r['per_s']:>9.0f} {delivered:>9} "
            f"{r['per_s'] / base:>12.1f}x"
        )
    threaded, batched = rows[1], rows[2]
    print(
        f"\nthreads alone: {threaded['per_s'] / base:.1f}x; batching on top of the same threads: "
        f"{batched['per_s'] / threaded['per_s']:.1f}x"
    )
    ok = batched["per_s"] >= 1000 and batched["per_s"] / base >= 8
    print(f"target >= 1,000 events/s batched and >= 8x one-by-one: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
