"""Backends: where the driver stores, dispatches and reads logs. ``local`` (default) or ``aws``."""

from __future__ import annotations

import os
from pathlib import Path

from lamforest.backend.base import Backend, Compute, ConfigError, DispatchError
from lamforest.backend.local import default_home, local_backend

BACKENDS = ("local", "aws")

__all__ = [
    "BACKENDS",
    "Backend",
    "Compute",
    "ConfigError",
    "DispatchError",
    "default_home",
    "local_backend",
    "open_backend",
]


def open_backend(name: str | None = None, *, home: Path | str | None = None) -> Backend:
    """The backend called ``name`` (else ``LAMFOREST_BACKEND``, else local)."""
    name = name or os.environ.get("LAMFOREST_BACKEND", "local")
    if name == "local":
        return local_backend(home)
    if name == "aws":
        from lamforest.backend.aws import aws_backend  # boto3 only when AWS is asked for

        return aws_backend()
    raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
