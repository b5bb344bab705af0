"""Merge groves into one ordinary scikit-learn forest; score it; OOB from grove sums."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from lamforest.grove import Grove


def merge(groves: Sequence[Grove]) -> Any:
    """One plain ``RandomForest*``/``ExtraTrees*`` holding every grove's trees, in grove order.

    Each grove was fitted on the same train set, so fitted attributes
    (``classes_``, ``n_features_in_``, ...) agree; the first grove's are kept.
    """
    if not groves:
        raise ValueError("no groves to merge")
    first = groves[0].estimator
    merged = copy.copy(first)
    merged.estimators_ = [tree for g in groves for tree in g.estimator.estimators_]
    merged.n_estimators = len(merged.estimators_)
    if hasattr(first, "classes_"):
        for g in groves[1:]:
            if not np.array_equal(g.estimator.classes_, first.classes_):
                raise ValueError("groves disagree on classes_: they were not fitted on one train set")
    for attr in ("oob_score_", "oob_decision_function_", "oob_prediction_"):
        if hasattr(merged, attr):
            delattr(merged, attr)
    return merged


def is_classifier(model: Any) -> bool:
    return hasattr(model, "classes_")


def score(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy for a classifier, R² for a regressor."""
    from sklearn.metrics import accuracy_score, r2_score

    pred = model.predict(X)
    return float(accuracy_score(y, pred) if is_classifier(model) else r2_score(y, pred))


def metric_name(model: Any) -> str:
    return "accuracy" if is_classifier(model) else "r2"


def oob_decision(
    groves: Sequence[Grove], y_train: np.ndarray, classes: np.ndarray | None
) -> tuple[np.ndarray, float] | None:
    """The whole forest's OOB decision and score from the groves' vote sums (None without bootstrap).

    The decision is scikit-learn's ``oob_decision_function_`` (classifier: rows x
    classes) or ``oob_prediction_`` (regressor). Rows that no tree left out are
    counted as one vote of zeros, as scikit-learn does; the score is accuracy
    (classifier) or R² (regressor), unweighted, as scikit-learn's ``oob_score_``.
    """
    from sklearn.metrics import accuracy_score, r2_score

    if not groves or any(g.oob_sum is None for g in groves):
        return None
    sums = [g.oob_sum for g in groves if g.oob_sum is not None]
    counts = [g.oob_count for g in groves if g.oob_count is not None]
    total, count = sums[0].copy(), counts[0].copy()
    for s, c in zip(sums[1:], counts[1:], strict=True):  # in grove order, one array at a time
        total += s
        count += c
    count = np.where(count == 0, 1, count)
    if classes is not None:
        decision = total / count[:, None]
        encoded = np.searchsorted(classes, y_train)
        return decision, float(accuracy_score(encoded, np.argmax(decision, axis=1)))
    prediction = total / count
    return prediction, float(r2_score(y_train, prediction))


def oob_score(groves: Sequence[Grove], y_train: np.ndarray, classes: np.ndarray | None) -> float | None:
    """The whole forest's OOB score from the groves' vote sums (None without bootstrap)."""
    out = oob_decision(groves, y_train, classes)
    return None if out is None else out[1]
