"""A store that counts the requests made through it: what watching a build costs, in reads.

It wraps any ``Store`` and forwards every call, counting them by kind
(``get`` for ``get_bytes``/``get_file``/``exists``, ``list`` for
``list``/``children``, ``put``, ``delete``). The TUI's benchmark and the
watching tests read these counts; on S3 one counted call is one request
(or one per 1,000 keys for a list).
"""

from __future__ import annotations

import builtins
import threading
from collections import Counter
from pathlib import Path

from lamforest.store.base import Store


class CountingStore:
    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1

    def take(self) -> Counter[str]:
        """The counts since the last ``take``, and start again from zero."""
        with self._lock:
            out, self.counts = self.counts, Counter()
        return out

    def put_bytes(self, key: str, data: bytes) -> None:
        self._count("put")
        self.inner.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes:
        self._count("get")
        return self.inner.get_bytes(key)

    def put_file(self, key: str, path: Path) -> None:
        self._count("put")
        self.inner.put_file(key, path)

    def get_file(self, key: str, path: Path) -> None:
        self._count("get")
        self.inner.get_file(key, path)

    def exists(self, key: str) -> bool:
        self._count("get")  # a HEAD on S3, priced as a GET
        return self.inner.exists(key)

    def list(self, prefix: str) -> dict[str, str]:
        self._count("list")
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self._count("delete")
        self.inner.delete(key)

    def children(self, prefix: str) -> builtins.list[str]:  # `list` here is the method above
        self._count("list")
        return self.inner.children(prefix)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def __getattr__(self, name: str) -> object:
        # Anything else a store offers (e.g. a conditional write) goes through, counted as "other".
        attr = getattr(self.inner, name)
        if callable(attr):

            def counted(*args: object, **kwargs: object) -> object:
                self._count("other")
                return attr(*args, **kwargs)

            return counted
        return attr
