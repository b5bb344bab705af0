"""``handler(event, context)``: THE entry point, for Lambda and for local workers alike.

It unwraps what Lambda delivered (SNS records, a list, one bare event),
validates every event with ``events.parse_event`` and runs each by its kind:
``fit`` (one grove of a build), ``predict`` (vote sums of a batch of groves),
``search`` (one hyperparameter trial). A run that raises becomes a ``failed``
record and the handler returns normally: the driver owns retries, bounded and
visible. Only an invalid event raises, since there is nothing to record it
against.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

import sklearn.ensemble  # noqa: F401  - loaded in the INIT phase, as Lambda bills and reports it

from lamforest.events import FitEvent, PredictEvent, SearchEvent, ShardEvent, parse_event
from lamforest.spec import SpecError
from lamforest.store.base import Store
from lamforest.worker.fit import run_fit
from lamforest.worker.shardjob import run_shards
from lamforest.worker.trial import run_trial
from lamforest.worker.votes import run_votes

_STORE: Store | None = None


def unwrap(event: Any) -> list[Any]:
    """The events inside what Lambda delivered: SNS records, a list, or one bare event."""
    if isinstance(event, dict) and "Records" in event:
        out = []
        for i, record in enumerate(event["Records"] or []):
            sns = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(sns, dict) or "Message" not in sns:
                raise SpecError(f"Records[{i}]", "expected an SNS record with Sns.Message")
            try:
                out.append(json.loads(sns["Message"]))
            except (TypeError, ValueError):
                raise SpecError(f"Records[{i}].Sns.Message", "is not valid JSON") from None
        if not out:
            raise SpecError("Records", "no records in the event")
        return out
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            raise SpecError("event", "is not valid JSON") from None
    if isinstance(event, list):
        return event
    return [event]


def store_from_env() -> Store:
    """``LAMFOREST_BUCKET`` (S3, as on Lambda) or ``LAMFOREST_HOME`` (a local folder)."""
    global _STORE
    if _STORE is None:
        bucket = os.environ.get("LAMFOREST_BUCKET")
        if bucket:
            from lamforest.store.s3 import S3Store

            _STORE = S3Store(bucket)
        elif os.environ.get("LAMFOREST_HOME"):
            from lamforest.store.local import LocalStore

            _STORE = LocalStore(os.environ["LAMFOREST_HOME"])
        else:
            raise RuntimeError("set LAMFOREST_BUCKET (or LAMFOREST_HOME for a local store)")
    return _STORE


def run(event: FitEvent | PredictEvent | SearchEvent | ShardEvent, store: Store, request_id: str) -> Mapping[str, Any]:
    """Run one validated event to its terminal record; return that record."""
    if isinstance(event, ShardEvent):
        return run_shards(event, store, request_id)
    if isinstance(event, PredictEvent):
        return run_votes(event, store, request_id)
    if isinstance(event, SearchEvent):
        return run_trial(event, store, request_id)
    return run_fit(event, store, request_id)


def handler(event: Any, context: Any = None, store: Store | None = None) -> dict[str, Any]:
    parsed = [parse_event(e) for e in unwrap(event)]
    store = store or store_from_env()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    return {"request_id": request_id, "groves": [run(e, store, request_id) for e in parsed]}
