"""Merge groves into one ordinary scikit-learn forest; score it; OOB from grove sums.

``Votes`` predicts a forest one grove at a time, with the same float64
additions, in the same order, as the merged forest's own ``predict_proba``
(one running sum over every tree, then one division), so the streamed and the
merged results are equal to the bit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from lamforest import treefile
from lamforest.grove import Grove

# A merged forest below this many MB in memory gets its single scikit-learn file by default: one a
# laptop can load, predict with and keep beside other work. Above it, the forest is its groves.
DEFAULT_MERGE_LIMIT_MB = 1024
# Predict loads a merged file whole only up to this many MB in memory; a larger forest, merged or not,
# votes one grove at a time (the same numbers), so the driver stays small whatever the forest's size.
HOLD_WHOLE_MB = 64
# Groves read ahead while one votes, when finish and predict stream a forest: enough to hide a GET
# behind a grove's votes, few enough to stay small. At most this many plus one are in memory.
STREAM_PREFETCH = 3
# ... and at most this many MB of their files (always one): a grove of 10 fully grown trees is a 13 MB
# file, 60 MB decoded, so two are read ahead while one votes.
STREAM_PREFETCH_MB = 32


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
            if not same_classes(g.estimator.classes_, first.classes_):
                raise ValueError("groves disagree on classes_: they were not fitted on one train set")
    for attr in treefile.PER_FIT_ATTRS:
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
    classes) or ``oob_prediction_`` (regressor).
    """
    if not groves or any(g.oob_sum is None for g in groves):
        return None
    sums = [g.oob_sum for g in groves if g.oob_sum is not None]
    counts = [g.oob_count for g in groves if g.oob_count is not None]
    total, count = sums[0].copy(), counts[0].copy()
    for s, c in zip(sums[1:], counts[1:], strict=True):  # in grove order, one array at a time
        total += s
        count += c
    return oob_from_sums(total, count, y_train, classes)


def oob_score(groves: Sequence[Grove], y_train: np.ndarray, classes: np.ndarray | None) -> float | None:
    """The whole forest's OOB score from the groves' vote sums (None without bootstrap)."""
    out = oob_decision(groves, y_train, classes)
    return None if out is None else out[1]


def oob_from_sums(
    total: np.ndarray, count: np.ndarray, y_train: np.ndarray, classes: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """The OOB decision and score from the forest's summed OOB votes and per-row counts.

    Rows that no tree left out are counted as one vote of zeros, as scikit-learn
    does; the score is accuracy (classifier) or R² (regressor), unweighted, as
    scikit-learn's ``oob_score_``.
    """
    from sklearn.metrics import accuracy_score, r2_score

    count = np.where(count == 0, 1, count)
    if classes is not None:
        decision = total / count[:, None]
        encoded = np.searchsorted(classes, y_train)
        return decision, float(accuracy_score(encoded, np.argmax(decision, axis=1)))
    prediction = total / count
    return prediction, float(r2_score(y_train, prediction))


def oob_score_from_sums(total: np.ndarray, count: np.ndarray, y_train: np.ndarray, classes: np.ndarray | None) -> float:
    """The OOB score alone (see ``oob_from_sums``)."""
    return oob_from_sums(total, count, y_train, classes)[1]


def tree_bytes(estimator: Any) -> int:
    """Memory the fitted trees of ``estimator`` hold: their node arrays and leaf values.

    About the size of the merged forest's pickle, since nearly all of it is
    these arrays; what ``finish`` compares with the merge limit.
    """
    from sklearn.tree._tree import NODE_DTYPE

    # scikit-learn's trees, or a tree file's arrays (treefile.RawTree): the same count either way.
    return sum(
        (len(t.left) * NODE_DTYPE.itemsize + t.values.nbytes)
        if hasattr(t, "left")
        else (t.tree_.node_count * NODE_DTYPE.itemsize + t.tree_.value.nbytes)
        for t in estimator.estimators_
    )


def kind(estimator: Any) -> str:
    """The scikit-learn class of a forest, or of the forest a tree file's arrays came from."""
    return str(getattr(estimator, "kind", type(estimator).__name__))


def _csr32(X: Any) -> Any:
    X = X.tocsr().astype(np.float32)
    X.sort_indices()
    return X


class Votes:
    """The forest's mean vote on rows ``X``, accumulated one grove at a time.

    ``add`` each grove in grove order, then ``mean``: the same running sum
    over every tree (in tree order) and the same division as scikit-learn's
    forest ``predict_proba``/``predict`` with one job, so the results are the
    merged forest's to the bit. Trees of one grove predict in parallel threads
    (scikit-learn's tree code releases the GIL); their outputs are added in
    order, at most ``threads`` at a time, so memory stays one grove's worth.
    """

    def __init__(self, X: np.ndarray, classes: Any, threads: int = 1, outputs: int = 1) -> None:
        """``classes``: the forest's classes (an array), one array per output (a list: multi-output), or
        None for a regressor of ``outputs`` targets. A multi-output classifier's votes are its outputs'
        probability columns side by side (``split_outputs`` parts them)."""
        # Trees read dense float32 rows, or CSR float32 ones with sorted indices (scikit-learn's own input).
        self.X = _csr32(X) if hasattr(X, "tocsr") else np.ascontiguousarray(X, dtype=np.float32)
        self.classes = classes
        self.classifier = classes is not None
        self.multi = isinstance(classes, list)
        n = self.X.shape[0]
        if self.multi:
            shape: tuple[int, ...] = (n, sum(len(c) for c in classes))
        elif classes is not None:
            shape = (n, len(classes))
        else:
            shape = (n,) if outputs == 1 else (n, outputs)
        self.total = np.zeros(shape, dtype=np.float64)
        self.trees = 0
        self.threads = max(1, threads)
        self._pool: Any = None

    def _predict(self, tree: Any) -> np.ndarray:
        if self.multi:
            return np.hstack(tree.predict_proba(self.X, check_input=False))
        if self.classifier:
            return tree.predict_proba(self.X, check_input=False)
        return tree.predict(self.X, check_input=False)

    def add(self, estimator: Any) -> None:
        """Add a grove's trees; a classifier's classes must be the forest's, in its column order."""
        if self.classes is not None and not same_classes(estimator.classes_, self.classes):
            raise ValueError(
                f"a grove has classes {list(estimator.classes_)}, the forest {list(self.classes)}: "
                "the groves were not fitted on one train set"
            )
        trees = list(estimator.estimators_)
        if self.threads == 1 or len(trees) == 1:
            for tree in trees:
                self.total += self._predict(tree)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=self.threads)
            for i in range(0, len(trees), self.threads):
                for out in self._pool.map(self._predict, trees[i : i + self.threads]):
                    self.total += out  # in tree order: the merged forest's additions
        self.trees += len(trees)

    def mean(self) -> np.ndarray:
        """Probabilities (classifier, one column per class) or predictions (regressor)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if not self.trees:
            raise ValueError("no trees voted")
        out = self.total.copy()
        out /= self.trees
        return out


def same_classes(a: Any, b: Any) -> bool:
    """Whether two forests' ``classes_`` agree (an array each, or one array per output)."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a, b))


def split_outputs(values: np.ndarray, classes: list[np.ndarray]) -> list[np.ndarray]:
    """A multi-output classifier's votes (every output's columns side by side) as scikit-learn's
    ``predict_proba`` gives them: one array per output."""
    ends = np.cumsum([len(c) for c in classes])
    return [values[:, a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def labels_of(values: np.ndarray, classes: Any) -> np.ndarray:
    """Predicted labels from probabilities (as scikit-learn's ``predict``), or the values of a regressor."""
    if isinstance(classes, list):
        parts = split_outputs(values, classes)
        return np.column_stack([c.take(np.argmax(p, axis=1), axis=0) for c, p in zip(classes, parts, strict=True)])
    return classes.take(np.argmax(values, axis=1), axis=0) if classes is not None else values


def score_values(values: np.ndarray, y: np.ndarray, classes: Any) -> float:
    """``score`` from already computed votes: accuracy for a classifier (a row counts when every output is
    right, scikit-learn's subset accuracy), R² for a regressor (averaged over outputs)."""
    from sklearn.metrics import accuracy_score, r2_score

    pred = labels_of(values, classes)
    if isinstance(classes, list):
        return float(np.mean(np.all(pred == np.asarray(y).reshape(pred.shape), axis=1)))
    return float(accuracy_score(y, pred) if classes is not None else r2_score(y, pred))
