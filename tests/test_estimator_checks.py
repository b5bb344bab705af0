"""scikit-learn's own estimator checks on lamforest's four estimators, fitted on the local backend.

Every fit is a real build: rows stored in a temporary store, groves fitted by
a warm pool of local worker processes shared by the whole module, merged.
Small forests (6 trees in groves of 3) keep the suite to a few minutes.
Expected failures are listed, each with its reason, in
``lamforest.estimators.EXPECTED_FAILED_CHECKS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from lamforest.backend.shared import close_shared
from lamforest.estimators import (
    EXPECTED_FAILED_CHECKS,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

SMALL = {"n_estimators": 6, "grove_size": 3, "workers": 2, "progress": False}
ESTIMATORS = [
    RandomForestClassifier(**SMALL),
    RandomForestRegressor(**SMALL),
    ExtraTreesClassifier(**SMALL),
    ExtraTreesRegressor(**SMALL),
]


@pytest.fixture(scope="module", autouse=True)
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary store and one warm local pool for every check of the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAMFOREST_HOME", str(tmp_path_factory.mktemp("estimator-checks")))
        # scikit-learn runs its array API check (NumPy inputs with dispatch on) only when this is set.
        mp.setenv("SCIPY_ARRAY_API", "1")
        try:
            yield
        finally:
            close_shared()


def expected_failures(estimator: Any) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_parameter_is_declared_and_a_bad_value_is_named_by_scikit_learn(estimator: Any) -> None:
    """scikit-learn's own check (its suite runs it on its estimators, not through parametrize_with_checks):
    ``_parameter_constraints`` lists every parameter, lamforest's too, and ``fit`` refuses a value of a
    wrong type or out of range for each with ``InvalidParameterError`` naming the parameter."""
    check_param_validation(type(estimator).__name__, estimator)
