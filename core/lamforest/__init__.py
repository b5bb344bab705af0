"""lamforest: serverless distributed decision forests.

A forest is fitted as many small groves (a few trees, each with its own seed)
in parallel on AWS Lambda or local worker processes, kept in a store (S3 or
a folder), and merged into one ordinary scikit-learn estimator.

From Python, change one import::

    from lamforest import RandomForestClassifier

The estimators, ``load`` and ``builds`` are imported on first use: the Lambda
worker imports this package too and must not load the driver.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "RandomForestClassifier": "lamforest.estimators",
    "RandomForestRegressor": "lamforest.estimators",
    "ExtraTreesClassifier": "lamforest.estimators",
    "ExtraTreesRegressor": "lamforest.estimators",
    "load": "lamforest.api",
    "builds": "lamforest.api",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lamforest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
