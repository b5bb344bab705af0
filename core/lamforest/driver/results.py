"""Use a finished build: load its merged forest, predict and score, export it."""

from __future__ import annotations

import io
import os
import tempfile
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
    """The merged forest, checked against the sha256 its summary recorded, read as a tree file
    (never a pickle); ``BuildError`` saying what to do when there is none."""
    key = keys.model(name)
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        raise BuildError(no_model(backend, name)) from None
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


def no_model(backend: Backend, name: str) -> str:
    """Why a build has no model, and what the user can do about it."""
    load_plan(backend, name)
    try:
        summary = get_json(backend.store, keys.summary(name))
    except (KeyError, ValueError):
        summary = None
    state = summary.get("state") if isinstance(summary, dict) else None
    if state == "failed":
        return (
            f"build {name!r} failed, so it has no model ({summary.get('error', 'see `lamforest status`')}); "
            "fix the cause and start a new build"
        )
    if state == "cancelled" or (state is None and backend.store.exists(keys.cancel(name))):
        return f"build {name!r} was cancelled, so it has no model; start a new build to get one"
    return f"build {name!r} has no model yet; run `lamforest finish {name}` to dispatch what is missing and merge"


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


def export(backend: Backend, name: str, path: Path | str, force: bool = False) -> Path:
    """Write the merged model to ``path`` (joblib), for any scikit-learn user to load.

    An existing file is refused unless ``force``; the file appears whole or not at all. The
    store holds a tree file; the exported file is plain scikit-learn (a pickle: the user's own).
    """
    path = export_target(path, force)
    model = load_model(backend, name)
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=artifacts.EXPORT_COMPRESS)
    write_file(path, buf.getvalue())
    return path


def export_target(path: Path | str, force: bool) -> Path:
    """Check where an export goes before any work: not a folder, not an existing file unless
    ``force``, and a parent that is (or can be) a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SpecError("path", f"{path} is a folder; give a file name, e.g. {path / 'model.joblib'}")
    if path.exists() and not force:
        raise SpecError("path", f"{path} already exists; pass --force to overwrite it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SpecError("path", f"{parent} is a file, so {path} cannot be created inside it")
            break
    return path


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename), so that a failure (a full disk)
    leaves the old file or none, never half of one. A special file (``/dev/null``) is written
    in place: renaming over it would replace the device."""
    try:
        if path.exists() and not path.is_file():
            with open(path, "wb") as f:
                f.write(data)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if exc.filename is None:  # a failed write names no file; the user needs to know which
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
