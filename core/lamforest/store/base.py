"""The Store protocol and helpers shared by its implementations."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


class StoreError(RuntimeError):
    """The store cannot be used (missing, denied, unreachable); the message says which."""


@runtime_checkable
class Store(Protocol):
    """Keys are ``/``-separated relative paths such as ``builds/b1/spec.json``.

    Writes are atomic: a reader sees the whole old object, the whole new one,
    or none; never a partial object.
    """

    url: str

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist: True when this call created it, False when it was there.

        Exclusive among concurrent writers, whatever their process or host:
        exactly one ``create`` of a key returns True, and the object is whole
        the moment it appears.
        """
        ...

    def get_bytes(self, key: str) -> bytes:
        """Raise ``KeyError(key)`` when the key does not exist."""
        ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get_file(self, key: str, path: Path) -> None:
        """Copy the object to ``path`` (atomically); ``KeyError`` if missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` mapped to a version tag that changes when it is rewritten."""
        ...

    def delete(self, key: str) -> None:
        """Remove a key; no error when it is already gone."""
        ...

    def children(self, prefix: str) -> builtins.list[str]:  # `list` here is the method above
        """Names of the immediate "folders" under ``prefix`` (S3: common prefixes), sorted."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path that can be memory-mapped, when the store is a local folder; else None."""
        ...


def location(store: Store, key: str) -> str:
    """Where ``key`` is, as a user types it: a path for a local store, a URL for a bucket."""
    return str(store.local_path(key) or f"{store.url}/{key}")


def put_json(store: Store, key: str, value: Any) -> None:
    store.put_bytes(key, json.dumps(value, indent=1, sort_keys=True, default=str).encode())


def get_json(store: Store, key: str) -> Any:
    return json.loads(store.get_bytes(key))
