"""The worker side: what runs inside Lambda (and inside each local worker process).

``lamforest.worker.handler`` is the image's CMD and the local workers' entry.
It imports only the pure core (events, keys, records, data, grove, forest,
artifacts) and the store; never the driver, the CLI or the TUI.
"""

from lamforest.worker.entry import handler

__all__ = ["handler"]
