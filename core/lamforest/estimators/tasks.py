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
            if all(isinstance(v, str) for v in y.ravel()):
                y = y.astype(str)
            else:
                converted = np.asarray(y.tolist())
                if converted.dtype == object or converted.dtype.kind in "US":
                    raise ValueError("class labels must be all numbers or all strings")
                y = converted
        # Multi-output y: one array of classes per output, as scikit-learn's forests keep them.
        self.classes_ = np.unique(y) if y.ndim == 1 else [np.unique(y[:, k]) for k in range(y.shape[1])]
        return y

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the mean over the trees of each tree's leaf class fractions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        p : ndarray of shape (n_samples, n_classes), or a list of n_outputs such arrays
            Probabilities, columns in the order of ``classes_`` (of each output's, for multi-output y).
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
        p : ndarray of shape (n_samples, n_classes), or a list of n_outputs such arrays
            Log-probabilities, columns in the order of ``classes_``.
        """
        proba = self.predict_proba(X)
        if isinstance(proba, list):
            return [np.log(p) for p in proba]
        return np.log(proba)

    def predict(self, X: Any) -> np.ndarray:
        """The class with the highest mean probability over the trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        if not isinstance(proba, list):
            return self.classes_.take(np.argmax(proba, axis=1), axis=0)
        # As scikit-learn: the first output's label type for every column.
        out = np.empty((proba[0].shape[0], len(proba)), dtype=self.classes_[0].dtype)
        for k, p in enumerate(proba):
            out[:, k] = self.classes_[k].take(np.argmax(p, axis=1), axis=0)
        return out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
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
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values.
        """
        return self._values(X)
