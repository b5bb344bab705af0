"""The classifier and regressor sides of the estimators: labels and probabilities, or values."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from lamforest.estimators.base import LamforestForest


class ForestClassifierBase(ClassifierMixin, LamforestForest):
    _task = "classification"

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        """Labels as the store keeps them (numbers or text), sorted as ``classes_``."""
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(y)
        y = np.asarray(y)
        if y.dtype == object:
            if all(isinstance(v, str) for v in y):
                y = y.astype(str)
            else:
                converted = np.asarray(y.tolist())
                if converted.dtype == object or converted.dtype.kind in "US":
                    raise ValueError("class labels must be all numbers or all strings")
                y = converted
        self.classes_ = np.unique(y)
        return y

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the mean over the trees of each tree's leaf class fractions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        p : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        return self._values(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        p : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The class with the highest mean probability over the trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_.take(np.argmax(proba, axis=1), axis=0)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class ForestRegressorBase(RegressorMixin, LamforestForest):
    _task = "regression"

    def predict(self, X: Any) -> np.ndarray:
        """The mean of the trees' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted values.
        """
        return self._values(X)
