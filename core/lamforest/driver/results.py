"""Use a finished build: predict (held-out set or new rows, to a file), score, export.

A finished forest is its groves plus a manifest; the merged scikit-learn file
exists only when it fit the merge limit. ``predict_values`` uses the merged
file when there is one and otherwise streams the groves in order, with the
same additions as the merged forest: the numbers are equal either way.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamforest import artifacts, documents, forest, keys, memory, output
from lamforest import data as datamod
from lamforest.backend.base import Backend
from lamforest.driver import stream
from lamforest.driver.plan import BrokenBuildError, BuildError, Plan, load_plan, read_summary
from lamforest.grove import Grove
from lamforest.spec import SpecError
from lamforest.store.base import location


def _grove_set_hint(name: str, manifest: documents.Manifest) -> str:
    policy = manifest.get("merge", {})
    limit = policy.get("limit_mb", 0)
    why = f"above its merge limit of {limit:,.0f} MB" if policy.get("mode") == "auto" else "unmerged"
    return (
        f"build {name!r} is a grove set: {manifest['trees']} trees in {len(manifest['groves'])} groves, "
        f"{manifest['tree_bytes'] / 1e6:,.1f} MB merged, {why}; predict streams its groves "
        f"(`lamforest predict {name} --data FILE --out PRED.csv`)"
    )


def load_model(backend: Backend, name: str) -> Any:
    """The merged forest, checked against the sha256 its summary recorded, read as a tree file
    (never a pickle); ``BuildError`` saying what to do when there is none."""
    key = keys.model(name)
    try:
        blob = backend.store.get_bytes(key)
    except KeyError:
        manifest = stream.load_manifest(backend, name)
        if manifest is not None:
            hint = _grove_set_hint(name, manifest)
            raise BuildError(f"{hint}; to merge it anyway: `lamforest export {name} PATH --force`") from None
        raise BuildError(no_model(backend, name)) from None
    summary = read_summary(backend, name)
    expect: dict[str, Any] | None = None
    if summary is not None and "model_sha256" in summary:
        expect = {"sha256": summary["model_sha256"]}
        if "model_bytes" in summary:
            expect["bytes"] = summary["model_bytes"]
    why = artifacts.mismatch(blob, expect)
    if why:
        raise BuildError(artifacts.model_error(name, why, backend.store))
    try:
        model = artifacts.loads_model(blob)
    except artifacts.TreeFileError as exc:
        raise BuildError(artifacts.model_error(name, str(exc), backend.store)) from None
    # Its hash is only as good as the summary that records it: the plan says how many trees there are,
    # and which seed each tree has (the forest's seed and the tree's index: the same draws as one fit).
    spec = load_plan(backend, name).spec
    held = len(getattr(model, "estimators_", ()))
    if held != spec.trees:
        if isinstance(summary, dict) and summary.get("trees") == held:
            # The model and the summary of its finish agree: the plan is the one changed.
            raise BrokenBuildError(
                f"{location(backend.store, keys.spec(name))} says {spec.trees} trees, the finished build "
                f"(its summary and model) {held}: it was changed; restore it, or remove the build's folder"
            )
        why = f"it holds {held} trees, the plan {spec.trees}"
        raise BuildError(artifacts.model_error(name, why, backend.store))
    seeds = [getattr(tree, "random_state", None) for tree in model.estimators_]
    if seeds != _tree_seeds(spec) and seeds != _tree_seeds(spec, per_grove=True):
        why = "its trees are not this build's (their seeds are not the plan's)"
        raise BuildError(artifacts.model_error(name, why, backend.store))
    return model


def _tree_seeds(spec: Any, per_grove: bool = False) -> list[int]:
    """Each tree's seed as scikit-learn draws it: from the forest's seed, tree by tree; or, for builds
    made before a tree's seed stopped depending on its grove, from each grove's seed."""
    top = np.iinfo(np.int32).max
    if not per_grove:
        return np.random.RandomState(spec.seed).randint(top, size=spec.trees).tolist()
    return [
        int(s)
        for seed, n in zip(spec.grove_seeds(), spec.grove_sizes(), strict=True)
        for s in np.random.RandomState(seed).randint(top, size=n)
    ]


def no_model(backend: Backend, name: str) -> str:
    """Why a build has no model, and what the user can do about it."""
    load_plan(backend, name)
    summary: Mapping[str, Any] = read_summary(backend, name) or {}
    state = summary.get("state")
    if state == "failed":
        return (
            f"build {name!r} failed, so it has no model ({summary.get('error', 'see `lamforest status`')}); "
            "fix the cause and start a new build"
        )
    if state == "cancelled" or (state is None and backend.store.exists(keys.cancel(name))):
        return f"build {name!r} was cancelled, so it has no model; start a new build to get one"
    return f"build {name!r} has no model yet; run `lamforest finish {name}` to dispatch what is missing and merge"


def has_merged(backend: Backend, name: str) -> bool:
    return backend.store.exists(keys.model(name))


def _check_width(X: np.ndarray, n_features: int) -> None:
    if X.ndim != 2 or X.shape[1] != n_features:
        cols = X.shape[1] if X.ndim == 2 else f"shape {X.shape}"
        raise SpecError("data", f"rows have {cols} columns, the model expects {n_features} features")


def stream_values(backend: Backend, name: str, X: np.ndarray, manifest: documents.Manifest) -> np.ndarray:
    """The forest's mean vote on ``X`` from its groves, one at a time, each checked against its hash."""
    classes = stream.manifest_classes(manifest)
    votes = forest.Votes(X, classes, threads=stream.threads(), outputs=int(manifest.get("outputs", 1)))
    listed = manifest["groves"]
    # Dense rows vote through the trees' arrays (the same leaves, so the same sums to the bit, and each
    # grove held once rather than copied into scikit-learn's trees); sparse rows through scikit-learn's.
    raw = not datamod.is_sparse(X)
    hashes, sizes = [g["sha256"] for g in listed], [g["bytes"] for g in listed]
    for loaded in stream.groves(backend, name, [g["grove"] for g in listed], hashes, raw=raw, sizes=sizes):
        est = loaded.grove.estimator
        if est.n_features_in_ != X.shape[1]:  # a grove from another forest, its hash forged into the manifest
            why = f"its trees read {est.n_features_in_} features, the forest's rows have {X.shape[1]}"
            raise BuildError(artifacts.grove_error(name, keys.grove_id(loaded.index), why, backend.store))
        votes.add(est)
        del loaded, est  # not held while the next grove is decoded
    if votes.trees != manifest["trees"]:
        raise BuildError(f"build {name!r}: {votes.trees} trees voted, the manifest lists {manifest['trees']}")
    return votes.mean()


def predict_values(backend: Backend, name: str, X: np.ndarray) -> np.ndarray:
    """The forest's probabilities (classifier: one column per class, in ``plan.classes`` order) or
    predictions (regressor) for rows ``X``: the one entry every caller that predicts new rows uses.

    The merged forest when the build has one and it is small (``forest.HOLD_WHOLE_MB``), else its groves
    streamed in order (bounded memory); the two give the same numbers to the bit.
    """
    # Sparse rows stay sparse (CSR float32, as the trees read them); dense ones are float32 arrays.
    X = datamod.canonical_csr(X) if datamod.is_sparse(X) else np.asarray(X, dtype=np.float32)
    manifest = stream.load_manifest(backend, name)
    if manifest is not None:
        _check_width(X, int(manifest["n_features"]))
    # A merged file is loaded whole: only a small one is. A larger forest votes grove by grove, the same
    # numbers, so predicting holds one grove whatever the forest's size, merged or not.
    small = manifest is not None and manifest["tree_bytes"] <= forest.HOLD_WHOLE_MB * 1e6
    if manifest is None or (small and has_merged(backend, name)):
        model = load_model(backend, name)
        model.n_jobs = None  # one running sum in tree order: what streaming reproduces
        _check_width(X, int(model.n_features_in_))
        if not forest.is_classifier(model):
            return model.predict(X)
        proba = model.predict_proba(X)
        return np.hstack(proba) if isinstance(proba, list) else proba  # multi-output: as Votes gives them
    return stream_values(backend, name, X, manifest)


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
    proba: np.ndarray | None = None  # classifier: one column per class, in ``labels`` order
    out: str | None = None  # where the predictions were written, "-" for stdout
    driver_peak_mb: int | None = None  # this process's peak memory while predicting
    unseen: int = 0  # labelled rows whose label is not one of the model's classes
    unseen_labels: list[Any] | None = None  # a few of those labels
    outputs: list[str] | None = None  # multi-output y: the outputs' names, one predictions column each

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
            "out": self.out,
            "driver_peak_mb": self.driver_peak_mb,
            "unseen": self.unseen,
            "unseen_labels": self.unseen_labels,
            **({"outputs": self.outputs} if self.outputs else {}),
        }


def _plain(labels: Any) -> list[Any]:
    return [x.item() if hasattr(x, "item") else x for x in labels]


def score_predictions(pred: np.ndarray, y: np.ndarray | None, classes: Any, source: str, rows: int) -> Prediction:
    """A Prediction of already made predictions: scored against ``y`` when there is one."""
    from sklearn.metrics import confusion_matrix, mean_absolute_error, mean_squared_error

    out = Prediction(predictions=pred, rows=rows, source=source)
    if pred.ndim == 2:
        return _score_outputs(out, y, classifier=classes is not None)
    if classes is not None:
        out.labels = _plain(classes)
    if y is None:
        return out
    if classes is not None:
        out.metric = "accuracy"
        out.score = float(np.mean(pred == y))
        seen = np.isin(y, classes)
        # Rows of the model's classes only; with none of them, an empty matrix (scikit-learn refuses it).
        out.confusion = (
            confusion_matrix(y, pred, labels=list(classes))
            if seen.any()
            else np.zeros((len(classes), len(classes)), dtype=np.int64)
        )
        # Rows of a label the model never saw count as wrong in the accuracy; the matrix has no row for them.
        unseen = ~np.isin(y, classes)
        if unseen.any():
            out.unseen = int(unseen.sum())
            out.unseen_labels = _plain(np.unique(y[unseen])[:5])
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


def _score_outputs(out: Prediction, y: np.ndarray | None, classifier: bool) -> Prediction:
    """Multi-output scores, as scikit-learn's ``score``: subset accuracy (a row counts when every output
    is right) or R² averaged over the outputs."""
    if y is None:
        return out
    pred = out.predictions
    y = np.asarray(y).reshape(pred.shape)
    if classifier:
        out.metric, out.score = "accuracy", float(np.mean(np.all(pred == y, axis=1)))
    else:
        from sklearn.metrics import r2_score

        out.metric, out.score = "r2", float(r2_score(y, pred))
    return out


def evaluate(model: Any, X: np.ndarray, y: np.ndarray | None, source: str) -> Prediction:
    """Predict ``X`` with a fitted estimator and score it against ``y``."""
    classes = np.asarray(model.classes_) if forest.is_classifier(model) else None
    return score_predictions(model.predict(X), y, classes, source, int(X.shape[0]))


def from_values(values: np.ndarray, y: np.ndarray | None, classes: Any, source: str) -> Prediction:
    """A Prediction from the forest's mean votes: labels (argmax, as scikit-learn) or values, scored."""
    pred = score_predictions(forest.labels_of(values, classes), _as_labels(y, classes), classes, source, len(values))
    if classes is not None and not isinstance(classes, list):  # multi-output: probabilities via Python
        pred.proba = values
    return pred


def _as_labels(y: np.ndarray | None, classes: Any) -> np.ndarray | None:
    """Labels read from a file compare with the classes as the same kind (ints stay ints)."""
    if y is None or classes is None:
        return y
    if isinstance(classes, list):  # one output per column, each compared with its own classes
        return np.column_stack([np.asarray(_as_labels(y[:, k], c)) for k, c in enumerate(classes)])
    if np.issubdtype(classes.dtype, np.number) and np.issubdtype(y.dtype, np.number):
        if np.all(np.equal(np.mod(y, 1), 0)):
            return y.astype(classes.dtype)
    elif not np.issubdtype(classes.dtype, np.number):
        return y.astype(str)
    return y


def rows_to_predict(backend: Backend, name: str, plan: Plan, source: str | None) -> tuple[np.ndarray, Any, str]:
    """X, y (or None for unlabelled rows) and a description: the held-out set, or ``source``'s rows
    checked against the training columns by name."""
    if source is None:
        if plan.sharded is not None:
            raise SpecError(
                "data",
                f"build {name!r} was fitted on sharded data: its held-out rows stay in the shards (their score is "
                f"in `lamforest status {name}`); give --data ROWS, or --data SHARDS --out FOLDER",
            )
        if not plan.n_test:
            raise SpecError("data", f"build {name!r} trained on every row and has no held-out test set; give --data")
        where = location(backend.store, keys.test_set(name))
        way_out = "predict other rows with --data, or build again to hold rows out anew"
        try:
            X, y = datamod.get_test(backend.store, name, plan.test_sha256)
        except datamod.DataIntegrityError:
            raise BuildError(
                f"{where} (the held-out rows) is not the file the build held out (its sha256 is not the plan's); "
                f"{way_out}"
            ) from None
        except (KeyError, ValueError, OSError, EOFError) as exc:  # deleted, truncated, not an npz
            what = "is missing" if isinstance(exc, KeyError) else "cannot be read"
            raise BuildError(f"{where} (the held-out rows) {what}; {way_out}") from None
        # The plan says what was held out: other rows there would be scored as the test set.
        shape = (plan.n_test, plan.n_features)
        y_shape = (plan.n_test, plan.outputs) if plan.outputs > 1 else (plan.n_test,)
        if X.ndim != 2 or X.shape != shape or np.shape(y) != y_shape:
            raise BuildError(
                f"{where} (the held-out rows) holds {'x'.join(map(str, X.shape))} rows x features and "
                f"{len(y)} targets, the plan {plan.n_test}x{plan.n_features}; {way_out}"
            )
        return X, y, "held-out test set"
    names = stream.feature_names(backend, plan)
    rows, labels = datamod.load_rows(source, names, plan.spec.target, task=plan.task, seed=plan.spec.seed)
    return rows, labels, source


def save(pred: Prediction, out: str, force: bool = False) -> str:
    """Write one row per predicted row to ``out`` (CSV/Parquet/NPY by suffix, ``-`` for stdout)."""
    pred.out = output.write_predictions(
        out, pred.predictions, pred.proba, pred.labels, force=force, outputs=pred.outputs
    )
    return pred.out


def predict(
    backend: Backend, name: str, source: str | None = None, *, out: str | None = None, force: bool = False
) -> Prediction:
    """Predict the held-out test set, or the rows of ``source`` (labelled or not), with a finished build.

    With ``out`` the predictions (and, for a classifier, one probability
    column per class) are written there. Rows with the target are scored.
    """
    plan = load_plan(backend, name)
    exact = memory.reset_peak()
    X, y, where = rows_to_predict(backend, name, plan, source)
    if out is not None and out != "-":
        output.check_target(out, force)
    values = predict_values(backend, name, X)
    classes = plan.class_arrays
    pred = from_values(values, y, classes, where)
    if plan.outputs > 1:
        target = plan.spec.target
        names = [t.strip() for t in target.split(",")] if target else []
        pred.outputs = names if len(names) == plan.outputs else [str(k) for k in range(plan.outputs)]
    if out is not None:
        save(pred, out, force)
    pred.driver_peak_mb = memory.peak_mb() if exact else None
    return pred


def merge_groves(backend: Backend, name: str, manifest: documents.Manifest) -> Any:
    """Every grove of a grove set merged into one estimator in memory: the forest's full size."""
    listed = manifest["groves"]
    groves = [
        Grove(g.grove.estimator, g.grove.trees, g.grove.seed)
        for g in stream.groves(backend, name, [x["grove"] for x in listed], [x["sha256"] for x in listed])
    ]
    return forest.merge(groves)


def whole_model(backend: Backend, name: str, force: bool = False) -> Any:
    """The forest as one scikit-learn estimator: the merged file, or the groves merged now.

    A grove set above its merge limit is refused unless ``force``: merging
    holds the whole forest in memory, and loading the file will too.
    """
    if has_merged(backend, name):
        return load_model(backend, name)
    manifest = stream.load_manifest(backend, name)
    if manifest is None:
        load_plan(backend, name)
        raise BuildError(f"build {name!r} has no model yet; run `lamforest finish {name}`")
    limit = float(manifest.get("merge", {}).get("limit_mb") or 0)
    size_mb = manifest["tree_bytes"] / 1e6
    if not force and size_mb > limit:
        raise SpecError(
            "force",
            f"{name} would take {size_mb:,.1f} MB merged (in memory, and about as much on disk), above the "
            f"merge limit of {limit:,.0f} MB; add --force to write it anyway, or predict without merging",
        )
    return merge_groves(backend, name, manifest)


# What an export's file name says it holds, by suffix.
EXPORT_FORMATS = {".skops": "skops", ".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle"}


def export_format(path: Path) -> str:
    """The format ``path`` names: skops (the safe format), joblib, or a plain pickle. A path that names
    none is refused before any work, naming what to give; an existing device or pipe (``/dev/null``)
    gets joblib, as a stream."""
    suffix = path.suffix.lower()
    if suffix in EXPORT_FORMATS:
        return EXPORT_FORMATS[suffix]
    if path.exists() and not path.is_file():
        return "joblib"
    said = f"{suffix} is not a model format" if suffix else "has no suffix to say its format"
    raise SpecError(
        "path", f"{path} {said}; end it in .skops (the safe format), .joblib (joblib.load) or .pkl (pickle.load)"
    )


def export(backend: Backend, name: str, path: Path | str, force: bool = False) -> Path:
    """Write the forest as one file at ``path`` for any scikit-learn user to load, in the format its
    suffix names (``export_format``): ``.skops`` the safe format, ``.joblib`` joblib (zlib, which
    needs nothing scikit-learn lacks), ``.pkl``/``.pickle`` a plain pickle.

    ``force`` overwrites an existing file and merges a grove set above its merge limit (see
    ``whole_model``); the file appears whole or not at all. The store holds tree files; the
    exported file is plain scikit-learn (for joblib and pickle, a pickle: the user's own).
    """
    path = export_target(path, force)
    how = export_format(path)
    model = whole_model(backend, name, force)
    if how == "skops":  # by suffix: the safe format, from every interface
        from lamforest import safe

        write_file(path, safe.dumps(model))
        return path
    if how == "pickle":
        import pickle

        write_file(path, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        return path
    import joblib  # here, not at the top: only an export needs it, and every command imports this module

    buf = io.BytesIO()
    joblib.dump(model, buf, compress=artifacts.EXPORT_COMPRESS)
    write_file(path, buf.getvalue())
    return path


def export_target(path: Path | str, force: bool) -> Path:
    """Check where an export goes before any work: a format its suffix names, not a folder, not an
    existing file unless ``force``, and a parent that is (or can be) a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SpecError("path", f"{path} is a folder; give a file name, e.g. {path / 'model.joblib'}")
    export_format(path)
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
