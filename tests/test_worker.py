"""worker.handler as Lambda calls it: SNS envelopes, bare events, bad events, faults, duplicates."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lamforest import driver
from lamforest.backend import local_backend
from lamforest.spec import BuildSpec, SpecError
from lamforest.store.base import get_json
from lamforest.worker import handler
from lamforest.worker.entry import unwrap


@pytest.fixture
def plan_and_backend(home):
    backend = local_backend(home)
    plan = driver.create(backend, BuildSpec(name="w", data="iris", trees=6, grove=3, seed=4))
    yield plan, backend
    backend.close()


def ctx(rid: str = "req-1") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=rid)


def sns(*events: dict) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(e)}} for e in events]}


def test_sns_envelope_with_several_records(plan_and_backend):
    plan, backend = plan_and_backend
    events = [t.to_event() for t in plan.events()]
    out = handler(sns(*events), ctx("r-sns"), store=backend.store)
    assert [g["state"] for g in out["groves"]] == ["done", "done"]
    for gid in ("g00000", "g00001"):
        rec = get_json(backend.store, f"builds/w/state/{gid}.done")
        assert rec["request_id"] == "r-sns" and rec["trees"] == 3 and rec["fit_ms"] > 0
        assert not backend.store.exists(f"builds/w/state/{gid}.running")
    assert driver.status(backend, "w").state == "finishing"


def test_bare_event_and_json_string(plan_and_backend):
    plan, backend = plan_and_backend
    first, second = (t.to_event() for t in plan.events())
    assert handler(first, ctx(), store=backend.store)["groves"][0]["state"] == "done"
    assert handler(json.dumps(second), ctx(), store=backend.store)["groves"][0]["state"] == "done"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"v": 2}, "v"),
        ({"v": 1, "build": "w"}, "grove"),
        ({"Records": [{"Sns": {"Message": "{not json"}}]}, "Records[0].Sns.Message"),
        ({"Records": []}, "Records"),
        (
            {
                "v": 1,
                "build": "w",
                "grove": 0,
                "seed": 1,
                "trees": 3,
                "data": "/etc/passwd",
                "model": "rf",
                "task": "classification",
            },
            "data",
        ),
    ],
)
def test_bad_events_raise_naming_the_field(plan_and_backend, event, field):
    _, backend = plan_and_backend
    before = backend.store.list("builds/w/state/")
    with pytest.raises(SpecError) as info:
        handler(event, ctx(), store=backend.store)
    assert info.value.field == field
    assert backend.store.list("builds/w/state/") == before


def test_a_grove_that_raises_becomes_a_failed_record(plan_and_backend):
    plan, backend = plan_and_backend
    # sklearn rejects it in fit. A job without a plan (as tune-memory's), since a planned build's
    # worker refuses any event its plan does not hold.
    event = {**plan.events()[0].to_event(), "build": "wx", "params": {"max_depth": "deep"}}
    out = handler(event, ctx("r-bad"), store=backend.store)
    rec = get_json(backend.store, "builds/wx/state/g00000.failed")
    assert out["groves"][0]["state"] == "failed"
    assert rec["error"] == "SpecError" and "max_depth" in rec["message"]  # type and message kept
    assert rec["request_id"] == "r-bad" and rec["attempt"] == 1
    assert not backend.store.exists("builds/wx/groves/g00000.tree")


def test_duplicate_delivery_is_idempotent(plan_and_backend):
    plan, backend = plan_and_backend
    event = plan.events()[0].to_event()
    handler(event, ctx("first"), store=backend.store)
    blob = backend.store.get_bytes("builds/w/groves/g00000.tree")
    again = handler(event, ctx("second"), store=backend.store)
    assert again["groves"][0].get("duplicate") is True
    assert backend.store.get_bytes("builds/w/groves/g00000.tree") == blob
    assert get_json(backend.store, "builds/w/state/g00000.done")["request_id"] == "first"
    assert [k for k in backend.store.list("builds/w/groves/")] == ["builds/w/groves/g00000.tree"]


def test_cancel_marker_stops_before_loading_data(plan_and_backend):
    plan, backend = plan_and_backend
    driver.cancel(backend, "w")
    out = handler(plan.events()[0].to_event(), ctx(), store=backend.store)
    assert out["groves"][0]["state"] == "cancelled"
    assert out["groves"][0]["trees_fitted"] == 0
    assert not backend.store.exists("builds/w/groves/g00000.tree")


def test_store_from_environment(plan_and_backend, monkeypatch):
    plan, backend = plan_and_backend
    import lamforest.worker.entry as worker

    monkeypatch.setattr(worker, "_STORE", None)
    monkeypatch.setenv("LAMFOREST_HOME", backend.store.url)
    monkeypatch.delenv("LAMFOREST_BUCKET", raising=False)
    assert handler(plan.events()[1].to_event(), ctx())["groves"][0]["state"] == "done"
    monkeypatch.setattr(worker, "_STORE", None)
    monkeypatch.delenv("LAMFOREST_HOME")
    with pytest.raises(RuntimeError, match="LAMFOREST_BUCKET"):
        handler(plan.events()[0].to_event(), ctx())
    monkeypatch.setattr(worker, "_STORE", None)


def test_unwrap_shapes():
    assert unwrap({"v": 1}) == [{"v": 1}]
    assert unwrap([{"v": 1}, {"v": 1}]) == [{"v": 1}, {"v": 1}]
    assert unwrap(sns({"a": 1}, {"b": 2})) == [{"a": 1}, {"b": 2}]
