"""Drop-in scikit-learn estimators whose ``fit`` is a lamforest build.

``lamforest.RandomForestClassifier`` takes every parameter of
``sklearn.ensemble.RandomForestClassifier`` with the same default and meaning
(likewise ``RandomForestRegressor``, ``ExtraTreesClassifier`` and
``ExtraTreesRegressor``), plus lamforest's own: where to fit (``backend``),
how many trees per invocation (``grove_size``), the build's ``name``, local
``workers``, Lambda ``memory`` and ``arch``, a ``max_cost`` and a
``progress`` bar. ``fit`` stores the rows once, fits the groves on the
backend's workers and merges them; the fitted object then predicts, scores
and pickles as scikit-learn's forest does.

A forest too large to merge (above the merge limit) is never held whole:
``predict`` goes through ``driver.predict_values``, which streams the groves,
and ``estimators_`` says why it is absent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn import ensemble

from lamforest.estimators.base import LamforestForest
from lamforest.estimators.docs import doc
from lamforest.estimators.params import LAMFOREST_CONSTRAINTS
from lamforest.estimators.tasks import ForestClassifierBase, ForestRegressorBase

__all__ = [
    "ESTIMATORS",
    "EXPECTED_FAILED_CHECKS",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
]

# Checks of scikit-learn's suite (``parametrize_with_checks``) these estimators are expected to fail,
# each with why; the same reasons scikit-learn gives for its own forests, and lamforest's.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "RandomForestClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "bootstrap draws rows by weight: sample_weight is not equivalent to removing/repeating samples"
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "bootstrap draws rows by weight: sample_weight is not equivalent to removing/repeating samples"
        ),
    },
    "RandomForestRegressor": {
        "check_sample_weight_equivalence_on_dense_data": (
            "bootstrap draws rows by weight: sample_weight is not equivalent to removing/repeating samples"
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "bootstrap draws rows by weight: sample_weight is not equivalent to removing/repeating samples"
        ),
    },
    "ExtraTreesClassifier": {},
    "ExtraTreesRegressor": {},
}


def _criterion(criterion: str) -> str:
    """scikit-learn's regressors map the deprecated ``"friedman_mse"`` to ``"squared_error"`` when
    constructed, with a FutureWarning; so do these, at the same moment and in the same words."""
    if isinstance(criterion, str) and criterion == "friedman_mse":
        import warnings

        warnings.warn(
            'Value `"friedman_mse"` for `criterion` is deprecated and will be removed in 1.11. It maps to '
            '`"squared_error"` as both were always equivalent. Use `criterion="squared_error"` to remove '
            "this warning.",
            FutureWarning,
            stacklevel=3,
        )
        return "squared_error"
    return criterion


class RandomForestClassifier(ForestClassifierBase):
    __doc__ = doc("RandomForestClassifier", "rf", True, False)
    _model_code = "rf"
    # scikit-learn's forest's parameters as it declares them, and lamforest's own beside them.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **ensemble.RandomForestClassifier._parameter_constraints,
        **LAMFOREST_CONSTRAINTS,
    }

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        criterion: str = "gini",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: str | int | float | None = "sqrt",
        max_leaf_nodes: int | None = None,
        min_impurity_decrease: float = 0.0,
        bootstrap: bool = True,
        oob_score: Any = False,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
        class_weight: Any = None,
        ccp_alpha: float = 0.0,
        max_samples: int | float | None = None,
        monotonic_cst: Any = None,
        backend: str = "local",
        grove_size: int = 10,
        name: str | None = None,
        workers: int | None = None,
        memory: int = 1769,
        arch: str = "x86_64",
        max_cost: float | None = None,
        progress: bool = True,
    ) -> None:
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.backend = backend
        self.grove_size = grove_size
        self.name = name
        self.workers = workers
        self.memory = memory
        self.arch = arch
        self.max_cost = max_cost
        self.progress = progress


class ExtraTreesClassifier(ForestClassifierBase):
    __doc__ = doc("ExtraTreesClassifier", "et", True, True)
    _model_code = "et"
    # scikit-learn's forest's parameters as it declares them, and lamforest's own beside them.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **ensemble.ExtraTreesClassifier._parameter_constraints,
        **LAMFOREST_CONSTRAINTS,
    }

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        criterion: str = "gini",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: str | int | float | None = "sqrt",
        max_leaf_nodes: int | None = None,
        min_impurity_decrease: float = 0.0,
        bootstrap: bool = False,
        oob_score: Any = False,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
        class_weight: Any = None,
        ccp_alpha: float = 0.0,
        max_samples: int | float | None = None,
        monotonic_cst: Any = None,
        backend: str = "local",
        grove_size: int = 10,
        name: str | None = None,
        workers: int | None = None,
        memory: int = 1769,
        arch: str = "x86_64",
        max_cost: float | None = None,
        progress: bool = True,
    ) -> None:
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.backend = backend
        self.grove_size = grove_size
        self.name = name
        self.workers = workers
        self.memory = memory
        self.arch = arch
        self.max_cost = max_cost
        self.progress = progress


class RandomForestRegressor(ForestRegressorBase):
    __doc__ = doc("RandomForestRegressor", "rf", False, False)
    _model_code = "rf"
    # scikit-learn's forest's parameters as it declares them, and lamforest's own beside them.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **ensemble.RandomForestRegressor._parameter_constraints,
        **LAMFOREST_CONSTRAINTS,
    }

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        criterion: str = "squared_error",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: str | int | float | None = 1.0,
        max_leaf_nodes: int | None = None,
        min_impurity_decrease: float = 0.0,
        bootstrap: bool = True,
        oob_score: Any = False,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
        ccp_alpha: float = 0.0,
        max_samples: int | float | None = None,
        monotonic_cst: Any = None,
        backend: str = "local",
        grove_size: int = 10,
        name: str | None = None,
        workers: int | None = None,
        memory: int = 1769,
        arch: str = "x86_64",
        max_cost: float | None = None,
        progress: bool = True,
    ) -> None:
        self.n_estimators = n_estimators
        self.criterion = _criterion(criterion)
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.backend = backend
        self.grove_size = grove_size
        self.name = name
        self.workers = workers
        self.memory = memory
        self.arch = arch
        self.max_cost = max_cost
        self.progress = progress


class ExtraTreesRegressor(ForestRegressorBase):
    __doc__ = doc("ExtraTreesRegressor", "et", False, True)
    _model_code = "et"
    # scikit-learn's forest's parameters as it declares them, and lamforest's own beside them.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **ensemble.ExtraTreesRegressor._parameter_constraints,
        **LAMFOREST_CONSTRAINTS,
    }

    def __init__(
        self,
        n_estimators: int = 100,
        *,
        criterion: str = "squared_error",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: str | int | float | None = 1.0,
        max_leaf_nodes: int | None = None,
        min_impurity_decrease: float = 0.0,
        bootstrap: bool = False,
        oob_score: Any = False,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
        ccp_alpha: float = 0.0,
        max_samples: int | float | None = None,
        monotonic_cst: Any = None,
        backend: str = "local",
        grove_size: int = 10,
        name: str | None = None,
        workers: int | None = None,
        memory: int = 1769,
        arch: str = "x86_64",
        max_cost: float | None = None,
        progress: bool = True,
    ) -> None:
        self.n_estimators = n_estimators
        self.criterion = _criterion(criterion)
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.backend = backend
        self.grove_size = grove_size
        self.name = name
        self.workers = workers
        self.memory = memory
        self.arch = arch
        self.max_cost = max_cost
        self.progress = progress


ESTIMATORS: dict[tuple[str, str], type[LamforestForest]] = {
    ("rf", "classification"): RandomForestClassifier,
    ("rf", "regression"): RandomForestRegressor,
    ("et", "classification"): ExtraTreesClassifier,
    ("et", "regression"): ExtraTreesRegressor,
}
