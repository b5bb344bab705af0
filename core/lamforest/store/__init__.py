"""Where every artifact lives: a folder (local) or a bucket (S3), same keys.

The store is the single source of truth: the driver keeps nothing that the
store lacks. See ``base.Store`` for the contract every implementation meets.
"""

from __future__ import annotations

from pathlib import Path

from lamforest.store.base import Store, StoreError, get_json, put_json
from lamforest.store.local import LocalStore

__all__ = ["LocalStore", "Store", "StoreError", "get_json", "open_store", "put_json"]


def open_store(url: str) -> Store:
    """``s3://bucket`` or a folder path."""
    if url.startswith("s3://"):
        from lamforest.store.s3 import S3Store  # boto3 only when S3 is asked for

        return S3Store(url.removeprefix("s3://").strip("/"))
    return LocalStore(Path(url.removeprefix("file://")))
