"""Honest states on the AWS backend, against moto's server: the driver's lease in a bucket,
and a grove whose invocation outlived the function's timeout."""

from __future__ import annotations

import time

from lamforest import driver, keys, records
from lamforest.spec import BuildSpec
from lamforest.store.base import put_json
from tests.aws_fixtures import Rig

TINY = {"data": "iris", "trees": 4, "grove": 2, "seed": 5}


def test_the_lease_in_a_bucket_tells_a_live_driver_from_a_dead_one(aws: Rig) -> None:
    backend = aws.backend()
    try:
        driver.create(backend, BuildSpec(name="lease", **TINY))
        assert driver.status(backend, "lease").state == "queued"  # never run: no lease, not interrupted
        put_json(backend.store, keys.lease("lease"), {"renewed": time.time() - 3600, "renew_s": 5})
        watcher = driver.Watcher(backend, "lease")
        st = watcher.refresh()
        assert st.state == "interrupted" and "lamforest finish lease" in st.hint
        # A renewal changes the object's version tag in the LIST: the same watcher sees it.
        put_json(backend.store, keys.lease("lease"), {"renewed": time.time() - 3600, "renew_s": 5, "n": 2})
        assert watcher.refresh().state == "queued"
        # finish resumes it through SNS and the stand-in function; the build ends done.
        st = driver.finish(backend, "lease")
        assert st.state == "done", st.to_json()
        assert backend.store.exists(keys.lease("lease"))
        assert driver.status(backend, "lease").state == "done"
    finally:
        backend.close()


def test_a_running_record_older_than_the_function_timeout_is_sent_again(aws: Rig) -> None:
    backend = aws.backend()
    try:
        driver.create(backend, BuildSpec(name="late", **TINY))
        rec = records.grove_record(
            "running", grove=0, trees=2, seed=1, attempt=1, request_id="lost", started=time.time() - 3 * 3600
        )
        records.write_grove(backend.store, "late", keys.grove_id(0), rec)
        row = driver.status(backend, "late").rows[0]
        assert row.state == "failed" and "Runtime.Lost" in row.error
        st = driver.finish(backend, "late")
        assert st.state == "done" and st.rows[0].request_id != "lost"
    finally:
        backend.close()


def test_finishing_landed_groves_on_sns_needs_no_function_name(aws: Rig, monkeypatch) -> None:
    """Every grove landed (the driver stopped after the last): the finish only streams them. The SNS
    route needs no function name to send nothing, so a driver configured with the topic alone finishes."""
    backend = aws.backend()
    try:
        driver.create(backend, BuildSpec(name="landed", **TINY))
        assert driver.run(backend, "landed").state == "done"
        for key in (keys.summary("landed"), keys.manifest("landed"), keys.model("landed")):
            backend.store.delete(key)
    finally:
        backend.close()
    monkeypatch.delenv("LAMFOREST_FUNCTION")
    backend = aws.backend()
    try:
        assert driver.status(backend, "landed").state == "interrupted"
        st = driver.run(backend, "landed")  # as `lamforest finish` resumes an interrupted build
        assert st.state == "done" and st.summary["model_kind"] == "merged"
    finally:
        backend.close()
