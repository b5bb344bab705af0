"""The worker side: what runs inside Lambda (and inside each local worker process).

``lamforest.worker.handler`` is the image's CMD and the local workers' entry.
It imports only the pure core (events, keys, records, data, grove, forest,
artifacts) and the store; never the driver, the CLI or the TUI.

``handler`` is resolved on first use: the driver imports ``lamforest.worker.local``
(how a local environment logs) without loading scikit-learn, which the handler's
module imports in its INIT (Lambda's runtime resolves the handler during INIT).
"""

from __future__ import annotations

from typing import Any

__all__ = ["handler"]


def __getattr__(name: str) -> Any:
    if name == "handler":
        from lamforest.worker.entry import handler

        return handler
    raise AttributeError(f"module 'lamforest.worker' has no attribute {name!r}")
