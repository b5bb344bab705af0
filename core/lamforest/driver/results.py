"""Use a finished build: load its merged forest, predict and score, export it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from lamforest import artifacts, forest, keys
from lamforest import data as datamod
from lamforest.backend.base import Backend
from lamforest.driver.plan import BuildError, load_plan
from lamforest.spec import SpecError
from lamforest.store.base import get_json


def load_model(backend: Backend, name: str) -> Any:
    """The merged forest, checked against the sha256 its summary recorded, read as a tree file (never a pickle)."""
    try:
        blob = backend.store.get_bytes(keys.model(name))
    except KeyError:
        raise BuildError(f"build {name!r} has no model yet; run `lamforest finish {name}`") from None
    try:
        summary = get_json(backend.store, keys.summary(name))
    except KeyError:
        summary = None
    expect = {"sha256": summary["model_sha256"]} if isinstance(summary, dict) and "model_sha256" in summary else None
    if expect is not None and isinstance(summary, dict) and "model_bytes" in summary:
        expect["bytes"] = summary["model_bytes"]
    why = artifacts.mismatch(blob, expect)
    if why:
        raise BuildError(artifacts.model_error(name, why))
    try:
        return artifacts.loads_model(blob)
    except artifacts.TreeFileError as exc:
        raise BuildError(artifacts.model_error(name, str(exc))) from None


def predict_values(backend: Backend, name: str, X: np.ndarray) -> np.ndarray:
    """The forest's probabilities (classifier: one column per class, in ``plan.classes`` order) or
    predictions (regressor) for rows ``X``: the one entry every caller that predicts new rows uses."""
    model = load_model(backend, name)
    X = np.asarray(X, dtype=np.float32)
    return model.predict_proba(X) if forest.is_classifier(model) else model.predict(X)


@dataclass
class Prediction:
    predictions: np.ndarray
    metric: str | None = None
    score: float | None = None
    confusion: np.ndarray | None = None
    labels: list[Any] | None = None
    errors: dict[str, float] | None = None
    rows: int = 0
    source: str = "test set"

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "source": self.source,
            "metric": self.metric,
            "score": self.score,
            "labels": self.labels,
            "confusion": self.confusion.tolist() if self.confusion is not None else None,
            "errors": self.errors,
            "predictions": self.predictions[:1000].tolist(),
        }


def evaluate(model: Any, X: np.ndarray, y: np.ndarray | None, source: str) -> Prediction:
    from sklearn.metrics import confusion_matrix, mean_absolute_error, mean_squared_error

    pred = model.predict(X)
    out = Prediction(predictions=pred, rows=int(X.shape[0]), source=source)
    if y is None:
        return out
    if forest.is_classifier(model):
        labels = list(model.classes_)
        out.metric, out.labels = "accuracy", [x.item() if hasattr(x, "item") else x for x in labels]
        out.score = float(np.mean(pred == y))
        out.confusion = confusion_matrix(y, pred, labels=labels)
    else:
        from sklearn.metrics import r2_score

        out.metric, out.score = "r2", float(r2_score(y, pred))
        err = pred - y
        out.errors = {
            "mae": float(mean_absolute_error(y, pred)),
            "rmse": float(np.sqrt(mean_squared_error(y, pred))),
            "max_abs": float(np.max(np.abs(err))),
            "median_abs": float(np.median(np.abs(err))),
        }
    return out


def predict(backend: Backend, name: str, source: str | None = None) -> Prediction:
    """Predict with the merged forest on the held-out test set, or on another dataset."""
    plan = load_plan(backend, name)
    model = load_model(backend, name)
    if source is None:
        if not plan.n_test:
            raise SpecError("data", f"build {name!r} trained on every row and has no held-out test set; give --data")
        X, y = datamod.get_test(backend.store, name)
        return evaluate(model, X, y, "held-out test set")
    ds = datamod.load(source, plan.spec.target, plan.task, plan.spec.seed)
    if ds.X.shape[1] != plan.n_features:
        raise SpecError("data", f"{source}: {ds.X.shape[1]} features, the model expects {plan.n_features}")
    return evaluate(model, ds.X, ds.y, source)


def export(backend: Backend, name: str, path: Path | str) -> Path:
    """Write the merged model to ``path`` (joblib), for any scikit-learn user to load.

    The store holds a tree file; the exported file is plain scikit-learn (a pickle: the user's own).
    """
    path = Path(path)
    model = load_model(backend, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path, compress=artifacts.EXPORT_COMPRESS)
    return path
