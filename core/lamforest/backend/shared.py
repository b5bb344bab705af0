"""Backends kept open for a Python session, one per configuration, so that fits share a warm pool.

The estimators and ``lamforest.load`` name a backend by kind (``"local"`` or
``"aws"``); the first use opens it and later uses in the same process get the
same one back, as long as its configuration (``LAMFOREST_HOME`` for the
local folder, the bucket, topic, function and endpoint for AWS) is the same.
A local backend's worker processes then stay warm across fits, as Lambda's
execution environments do. Everything opened here is closed at exit, or by
``close_shared``.
"""

from __future__ import annotations

import atexit
import os
import threading

from lamforest.backend import BACKENDS, open_backend
from lamforest.backend.base import Backend, ConfigError
from lamforest.backend.local import default_home

_OPEN: dict[tuple[str, ...], Backend] = {}
_LOCK = threading.Lock()
_AWS_ENV = (
    "LAMFOREST_BUCKET",
    "LAMFOREST_TOPIC_ARN",
    "LAMFOREST_FUNCTION",
    "LAMFOREST_DISPATCH",
    "LAMFOREST_TERRAFORM_DIR",
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
)


def _key(kind: str) -> tuple[str, ...]:
    if kind == "local":
        return ("local", str(default_home().expanduser().resolve()))
    return ("aws", *(os.environ.get(var, "") for var in _AWS_ENV))


def shared(kind: str) -> Backend:
    """The open backend of ``kind`` for the current configuration, opened on first use."""
    if kind not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {kind!r}")
    key = _key(kind)
    with _LOCK:
        backend = _OPEN.get(key)
        if backend is None:
            backend = _OPEN[key] = open_backend(kind)
        return backend


def close_shared() -> None:
    """Close every backend opened by ``shared`` (their worker pools stop)."""
    with _LOCK:
        backends = list(_OPEN.values())
        _OPEN.clear()
    for backend in backends:
        backend.close()


atexit.register(close_shared)
