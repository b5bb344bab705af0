"""Fit one grove: a pure function of (job, X, y). Knows nothing of stores or processes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lamforest import fitwarnings
from lamforest.spec import SpecError

# scikit-learn is imported when a grove is fitted or validated, not when the
# module is: `lamforest status` and `cancel` start in a fraction of a second.
ESTIMATORS: dict[tuple[str, str], str] = {
    ("rf", "classification"): "RandomForestClassifier",
    ("rf", "regression"): "RandomForestRegressor",
    ("et", "classification"): "ExtraTreesClassifier",
    ("et", "regression"): "ExtraTreesRegressor",
}


def estimator_class(model: str, task: str) -> type:
    import sklearn.ensemble

    return getattr(sklearn.ensemble, ESTIMATORS[(model, task)])


class FitJob(Protocol):
    """What fitting needs to know: a fit event and a search trial both carry it."""

    @property
    def model(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def seed(self) -> int: ...
    @property
    def trees(self) -> int: ...
    @property
    def chunk(self) -> int: ...
    @property
    def n_jobs(self) -> int: ...


class Cancelled(Exception):
    """The build was cancelled while this grove was being fitted."""


@dataclass
class Grove:
    """A fitted grove and, when bootstrapping, its per-sample OOB vote sums."""

    estimator: Any
    trees: int
    seed: int
    oob_sum: np.ndarray | None = None  # (n_train, n_classes) or (n_train,) for regression
    oob_count: np.ndarray | None = None  # (n_train,) trees for which the row was out of bag


def make_estimator(model: str, task: str, params: dict[str, Any], **fixed: Any) -> Any:
    """The sklearn estimator for (model, task) with user params, validated by sklearn itself."""
    cls = estimator_class(model, task)
    valid = cls().get_params()
    for key in params:
        if key not in valid:
            allowed = ", ".join(sorted(k for k in valid if k not in _LAMFOREST_OWNED))
            raise SpecError(f"param {key}", f"{cls.__name__} has no parameter {key!r}; valid: {allowed}")
    est = cls(**params, **fixed)
    try:
        # scikit-learn's own parameter validation, without fitting.
        est._validate_params()
    except (ValueError, TypeError) as exc:
        bad = next((k for k in params if repr(k) in str(exc) or f"'{k}'" in str(exc)), None)
        raise SpecError(f"param {bad}" if bad else "param", str(exc)) from None
    return est


def keyed_like(params: dict[str, Any], y: np.ndarray) -> dict[str, Any]:
    """``params`` with a ``class_weight`` dict (or list of dicts) keyed as ``y``'s labels are.

    A build's parameters travel as JSON, whose object keys are text, so ``{0: 1, 1: 5}`` arrives
    as ``{"0": 1, "1": 5}``; with integer labels scikit-learn would find no class in it. Keys
    that are whole numbers in text are given back as integers when the labels are integers.
    """
    weights = params.get("class_weight")
    if not isinstance(weights, (dict, list)) or not np.issubdtype(np.asarray(y).dtype, np.integer):
        return params

    def rekey(d: Any) -> Any:
        if not isinstance(d, dict):
            return d
        return {int(k) if isinstance(k, str) and re.fullmatch(r"[+-]?\d+", k.strip()) else k: v for k, v in d.items()}

    return {**params, "class_weight": rekey(weights) if isinstance(weights, dict) else [rekey(d) for d in weights]}


def check_params(model: str, task: str, params: dict[str, Any]) -> None:
    """``make_estimator``'s checks before the data says its task: with ``task="auto"``, params valid for
    either the classifier or the regressor pass (``criterion="absolute_error"`` on a numeric target),
    and the data's own task checks them again once known."""
    if task != "auto":
        make_estimator(model, task, params)
        return
    try:
        make_estimator(model, "classification", params)
    except SpecError as first:
        try:
            make_estimator(model, "regression", params)
        except SpecError:
            raise first from None


_LAMFOREST_OWNED = {"n_estimators", "random_state", "warm_start", "oob_score", "n_jobs"}


def needs_writable(X: np.ndarray) -> bool:
    """Does fitting ``X`` need a writable array rather than the read-only memory map?

    scikit-learn (1.9) fits rows with missing values (NaN) through a splitter that takes
    a writable buffer of X, whatever the criterion: on a read-only map every grove fails
    with "buffer source array is read-only". Without NaN the map is used as is, at no
    memory cost. One pass over X; a NaN anywhere makes the float64 sum NaN.
    """
    if not hasattr(X, "flags") or not np.issubdtype(X.dtype, np.floating) or X.flags.writeable:
        return False  # sparse rows (no flags): scikit-learn copies them to CSC as it fits
    return bool(np.isnan(X.sum(dtype=np.float64)))


def bootstraps(params: dict[str, Any], model: str) -> bool:
    """RandomForest bootstraps by default, ExtraTrees does not."""
    return bool(params.get("bootstrap", model == "rf"))


def fit(
    task: FitJob,
    X: np.ndarray,
    y: np.ndarray,
    should_stop: Callable[[], bool] = lambda: False,
    sample_weight: np.ndarray | None = None,
    oob: bool = True,
) -> Grove:
    """Fit ``task.trees`` trees in chunks of ``task.chunk``, asking ``should_stop`` between chunks.

    The grove is trees ``first .. first+trees-1`` of the scikit-learn forest with
    ``random_state=task.seed`` (``first``: the task's, else 0). Growing a forest with
    ``warm_start`` draws one seed per tree already there before drawing the new trees' seeds,
    so a forest that holds ``first`` placeholder trees grows exactly the trees a single fit
    would give at those indices; the placeholders are dropped after. A tree's seed thus
    depends on the forest's seed and its index only: the same trees whatever the grove size,
    the chunking or the number of groves fitted before (``warm_start`` growth).
    ``sample_weight`` is given to every chunk's fit, so each tree sees the same weights (and
    the same weighted bootstrap) as in one fit.
    ``oob=False`` skips the per-row OOB sums (a sharded grove's rows are a sample, not the train set).
    """
    first = int(getattr(task, "first", 0))
    est = make_estimator(
        task.model, task.task, keyed_like(task.params, y), random_state=task.seed, warm_start=True, n_jobs=task.n_jobs
    )
    if first:
        est.estimators_ = [None] * first  # only counted: their seeds are drawn and skipped
    done = 0
    while done < task.trees:
        if should_stop():
            raise Cancelled(f"cancelled after {done} trees (of {task.trees})")
        done = min(task.trees, done + task.chunk)
        est.set_params(n_estimators=first + done)
        with fitwarnings.quiet_chunks():
            est.fit(X, y, sample_weight=sample_weight)
    if first:
        est.estimators_ = est.estimators_[first:]
    est.set_params(n_estimators=task.trees, warm_start=False, n_jobs=None)
    grove = Grove(estimator=est, trees=task.trees, seed=task.seed)
    # Multi-output OOB is scikit-learn's own pass over the merged forest (the estimators'), not sums.
    if oob and bootstraps(task.params, task.model) and np.ndim(y) == 1:
        grove.oob_sum, grove.oob_count = oob_sums(est, X, y)
    return grove


def oob_sums(est: Any, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row sums of out-of-bag predictions over the grove's trees, and how many trees each.

    Mirrors scikit-learn's own OOB computation tree by tree, so that the
    forest's OOB score can be assembled from groves.
    """
    unsampled = _unsampled_indices()
    n = X.shape[0]
    classifier = hasattr(est, "classes_")
    width = len(est.classes_) if classifier else 1
    total = np.zeros((n, width), dtype=np.float64)
    count = np.zeros(n, dtype=np.int64)
    # Trees predict dense float32 rows or CSR ones (as scikit-learn's own OOB pass gives them).
    X = X.tocsr().astype(np.float32) if hasattr(X, "tocsr") else np.asarray(X, dtype=np.float32)
    for tree in est.estimators_:
        rows = unsampled(tree.random_state, n, est._n_samples_bootstrap, getattr(est, "_sample_weight", None))
        if classifier:
            pred = tree.predict_proba(X[rows, :], check_input=False)
        else:
            pred = tree.predict(X[rows, :], check_input=False).reshape(-1, 1)
        total[rows, :] += pred
        count[rows] += 1
    return (total if classifier else total[:, 0]), count


@functools.cache
def _unsampled_indices() -> Callable[[Any, int, int, np.ndarray | None], np.ndarray]:
    """scikit-learn's rows left out of one tree's bootstrap, as (random_state, n, n_bootstrap, sample_weight).

    A private helper of scikit-learn's forest module: the only way to recover
    exactly which rows each tree left out. scikit-learn 1.9 added the
    sample_weight argument (bootstraps drawn in proportion to the weights);
    before it, the draw was uniform and the helper took three arguments.
    """
    import inspect

    from sklearn.ensemble._forest import _generate_unsampled_indices as helper

    if len(inspect.signature(helper).parameters) >= 4:
        return helper

    def uniform(random_state: Any, n: int, n_bootstrap: int, sample_weight: np.ndarray | None) -> np.ndarray:
        return helper(random_state, n, n_bootstrap)

    return uniform
