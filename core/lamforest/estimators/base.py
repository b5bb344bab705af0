"""What the four estimators share: fit as a build, predict through the merged forest or its groves."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from lamforest import driver, records
from lamforest.backend.base import Backend
from lamforest.backend.shared import shared
from lamforest.driver.oob import read_oob
from lamforest.driver.plan import BuildError, Plan
from lamforest.driver.watch import BuildStatus
from lamforest.estimators.params import (
    NAME_LIMIT,
    NAME_MAX,
    build_exists,
    copy_suffix,
    generated_name,
    jsonable,
    same,
)
from lamforest.estimators.progress import BuildProgress
from lamforest.forest import split_outputs
from lamforest.spec import BuildSpec, SpecError, validate_name

# Rows x trees x features up to which a grove is one scikit-learn fit (no cancel checks inside): well
# under a second of fitting (digits, 64 features: ~170 trees).
ONE_FIT_WORK = 20_000_000
# Parameters of the scikit-learn forests that lamforest sets itself rather than passing to each grove.
_OWNED = ("n_estimators", "random_state", "warm_start", "oob_score", "n_jobs")


class LamforestForest(BaseEstimator):
    """What the four estimators share: fit as a build, predict through the merged forest or its groves."""

    _model_code = "rf"
    _task = "classification"
    # Set on a copy made by ``clone`` (see ``__sklearn_clone__``): the prefix of its build's name when it
    # has no ``name``, and the parameters set on it since.
    _copy_prefix: str | None = None
    _copy_params: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ parameters

    @classmethod
    def _sklearn_class(cls) -> type:
        from lamforest.grove import estimator_class

        return estimator_class(cls._model_code, cls._task)

    def _sklearn_params(self) -> dict[str, Any]:
        """This estimator's scikit-learn parameters (without lamforest's own)."""
        names = self._sklearn_class()().get_params(deep=False)
        return {k: getattr(self, k) for k in names}

    def _grove_params(self, classes_weight: bool) -> dict[str, Any]:
        """The parameters every grove is fitted with: the non-default ones, as JSON; a dict (or list)
        ``class_weight`` is folded into the sample weights instead (JSON would turn its labels into text)."""
        defaults = self._sklearn_class()().get_params(deep=False)
        out = {}
        for key, value in self._sklearn_params().items():
            if key in _OWNED or same(value, defaults[key]):
                continue
            if key == "class_weight" and classes_weight:
                continue
            out[key] = jsonable(value, key)
        return out

    def _check_params(self) -> None:
        """Every parameter, scikit-learn's and lamforest's, checked by scikit-learn's validation against
        the class's ``_parameter_constraints`` (its words name the parameter and what it accepts), then
        what no single constraint says."""
        self._validate_params()
        if self.oob_score and not self.bootstrap:
            raise ValueError("Out of bag estimation only available if bootstrap=True")  # scikit-learn's words
        if self.name:  # the user's own name, as the CLI checks it: never cut, never a bad key ("": generated)
            validate_name(self.name)

    def _seed(self) -> int:
        """The build's seed: ``random_state`` when an int, else drawn (from it when a RandomState)."""
        rs = self.random_state
        if rs is None:
            return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        return int(rs)  # an int in [0, 2**32 - 1]: scikit-learn's "random_state" constraint

    def _workers(self) -> int | None:
        if self.workers is not None:
            return int(self.workers)
        if self.n_jobs is None:
            return None
        from lamforest.backend.pool import default_workers

        cores = default_workers()
        n = int(self.n_jobs)
        return max(1, n if n > 0 else cores + 1 + n)

    def __sklearn_clone__(self) -> LamforestForest:
        """scikit-learn's ``clone``, marking the copy: searches and cross-validation fit copies, and
        each copy's build is named after what sets it apart (see ``_build_name``)."""
        copy = super().__sklearn_clone__()
        # Without a name, one estimator's copies (and their copies: a search clones a clone) share a prefix.
        copy._copy_prefix = self._copy_prefix or generated_name(self._model_code)
        copy._copy_params = frozenset()
        return copy

    def set_params(self, **params: Any) -> LamforestForest:
        """scikit-learn's ``set_params``; on a copy, the names set are remembered: they are the
        candidate a search is fitting, and name its build."""
        super().set_params(**params)
        if self._copy_prefix is not None:
            self._copy_params = self._copy_params | (set(params) - {"name"})
        return self

    def _build_name(self, backend: Backend, rows_ref: str | None = None) -> str:
        """The build's name: ``name`` (or a generated one), and ``-2``, ``-3``, ... when a build of
        that name exists already. A copy made by ``clone`` (each fit of a scikit-learn search or of
        ``cross_val_score`` is one) adds what sets it apart, the parameters set on it since and its
        rows (``rows_ref``, the train set's address): ``depth-max_depth_4-rows3fa2c1``; without a
        ``name``, the copies of one estimator share one generated prefix."""
        if self._copy_prefix is None:
            base = self.name or generated_name(self._model_code)
        else:  # a copy's name is generated: the user's part is shortened to leave its suffix room
            suffix = copy_suffix({k: getattr(self, k) for k in self._copy_params}, rows_ref)
            base = self.name or self._copy_prefix
            if suffix:
                base = f"{base[: NAME_LIMIT - len(suffix) - 1]}-{suffix}"
            base = base[:NAME_LIMIT]
        name, n = base, 1
        while build_exists(backend, name):
            n += 1
            name = f"{base}-{n}"
            if len(name) > NAME_MAX:  # never cut the user's own name to make room for a number
                raise SpecError(
                    "name",
                    f"a build named {base!r} exists, and at {len(base)} characters the name leaves no room "
                    f"for a '-{n}' (at most {NAME_MAX} characters); pick another name",
                )
        return name

    def _backend(self) -> Backend:
        return shared(self.backend)

    # ------------------------------------------------------------------ fit

    def _warm_trees(self) -> int | None:
        """With ``warm_start`` on a fitted forest: the trees to grow to, or None when there are none to
        add (warned); fewer than the forest has is scikit-learn's ValueError."""
        have = driver.load_plan(self._backend(), self.build_name_).spec.trees
        want = int(self.n_estimators)
        if want < have:
            raise ValueError(
                f"n_estimators={want} must be larger or equal to len(estimators_)={have} when warm_start==True"
            )
        if want == have:
            import warnings

            warnings.warn(
                "Warm-start fitting without increasing n_estimators does not fit new trees.", UserWarning, stacklevel=3
            )
            return None
        return want

    def _grow(
        self, X: np.ndarray, y: np.ndarray, y_core: np.ndarray, sample_weight: np.ndarray | None, folded: bool
    ) -> LamforestForest:
        """``warm_start``: grow the fitted build in place (``driver.grow``): only the new trees are fitted,
        on the rows the build holds, and they are the trees a single fit of all of them would give."""
        backend = self._backend()
        name = self.build_name_
        plan = driver.load_plan(backend, name)
        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        if driver.train_ref(X, y_core, sample_weight, names, self._task) != plan.data_ref:
            raise ValueError(
                f"warm_start grows build {name!r} on the rows it was fitted on, and these rows (or their weights) "
                "differ; fit with warm_start=False to fit a new forest on them"
            )
        params = self._grove_params(folded)
        if params != plan.spec.params:
            changed = sorted(
                set(params) ^ set(plan.spec.params) | {k for k in params if params[k] != plan.spec.params.get(k)}
            )
            raise ValueError(
                f"warm_start grows build {name!r} with the parameters it was fitted with; changed: "
                f"{', '.join(changed)}. Fit with warm_start=False to fit a new forest with them"
            )
        want = int(self.n_estimators)
        with BuildProgress(bool(self.progress), name, want, plan.spec.n_groves) as bar:
            st = driver.grow(backend, name, want, workers=self._workers(), on_progress=bar.update)
        if st.state != "done":
            error = (st.summary.get("error") if st.summary else None) or st.cancel_reason or st.state
            raise RuntimeError(f"build {name!r} ended {st.state}: {error}")
        records.raise_warnings([r.record for r in st.rows[plan.spec.n_groves :]], stacklevel=3)  # new groves
        self._adopt(backend, driver.load_plan(backend, name), st, y, X)
        return self

    def _validate_fit(
        self, X: Any, y: Any, sample_weight: Any, reset: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from scipy.sparse import issparse

        if issparse(y):
            raise ValueError("sparse multilabel-indicator for y is not supported.")  # scikit-learn's words
        allow_nan = self.__sklearn_tags__().input_tags.allow_nan
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csc",
            dtype=np.float32,
            ensure_all_finite="allow-nan" if allow_nan else True,
            y_numeric=self._task == "regression",
            multi_output=True,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            # scikit-learn's words and class: a column of one output is one output.
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
                "(n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
            y = y.ravel()
        X = X if issparse(X) else np.ascontiguousarray(X)  # sparse rows are stored as CSR arrays
        if sample_weight is not None:
            from sklearn.utils.validation import _check_sample_weight

            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        return X, y, sample_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LamforestForest:
        """Fit the forest as a lamforest build: the rows are stored once, the groves fitted by the
        backend's workers (or Lambda) and merged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training rows: a NumPy array, a pandas or polars DataFrame (its
            column names are kept as ``feature_names_in_``), or a sparse matrix
            or array (stored as its CSR arrays).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers) or target values (regressors); one column
            per output for multi-output y, as scikit-learn's forests take it.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, stored with the train set and used by every
            grove. None gives every row weight 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_params()
        growing = self.warm_start and self.__sklearn_is_fitted__()
        if growing and self._warm_trees() is None:  # nothing to grow, as scikit-learn says in a warning
            if self.oob_score and not hasattr(self, "oob_score_"):  # asked for now: from the trees there are
                X, y, _ = self._validate_fit(X, y, sample_weight, reset=False)
                self._check_oob_target(y)
                backend = self._backend()
                self._set_oob(backend, driver.status(backend, self.build_name_), y, X)
            return self
        X, y, sample_weight = self._validate_fit(X, y, sample_weight, reset=not growing)
        y_core = self._encode_target(y)
        if self.oob_score:
            self._check_oob_target(y)
        class_weight = getattr(self, "class_weight", None)
        fold_weights = isinstance(class_weight, (dict, list))
        if fold_weights:
            from sklearn.utils.class_weight import compute_sample_weight

            expanded = compute_sample_weight(class_weight, y)
            sample_weight = expanded if sample_weight is None else sample_weight * expanded
        if growing:
            return self._grow(X, y, y_core, sample_weight, fold_weights)
        seed = self._seed()
        backend = self._backend()
        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        # A copy's name tells its rows apart (a search's folds): by the address the rows are stored under.
        rows_ref = None
        if self._copy_prefix is not None:
            rows_ref = driver.train_ref(X, y_core, sample_weight, names, self._task)
        name = self._build_name(backend, rows_ref)
        trees = int(self.n_estimators)
        grove = min(int(self.grove_size), trees)
        spec = BuildSpec(
            name=name,
            data=f"arrays:{X.shape[0]}x{X.shape[1]}",
            trees=trees,
            grove=grove,
            # Tiny work is one scikit-learn fit per grove: a cancel check every few trees would cost a
            # fit's input checks each (the trees do not depend on the chunking). Larger, a Ctrl+C or a
            # cancel stops a grove within a chunk.
            chunk=grove if X.shape[0] * trees * max(1, X.shape[1]) <= ONE_FIT_WORK else BuildSpec.chunk,
            model=self._model_code,
            task=self._task,
            params=self._grove_params(fold_weights),
            seed=seed,
            test_size=0.0,
            memory=self.memory,
            arch=self.arch,
            max_cost=self.max_cost,
        )
        if spec.max_cost is not None:
            self._check_budget(backend, spec, X, y_core, sample_weight, names)
        plan = driver.create_from_arrays(backend, spec, X, y_core, sample_weight, names)
        st = self._run(backend, plan)
        if st.state != "done":
            error = (st.summary.get("error") if st.summary else None) or st.cancel_reason or st.state
            raise RuntimeError(f"build {name!r} ended {st.state}: {error}")
        records.raise_warnings([r.record for r in st.rows], stacklevel=2)  # the groves' warnings, once each
        self._adopt(backend, plan, st, y, X)
        return self

    def _check_budget(
        self,
        backend: Backend,
        spec: BuildSpec,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        names: list[str] | None,
    ) -> None:
        """Refuse a build projected above ``max_cost`` before anything is written, as ``lamforest build
        --max-cost`` does: a sample grove of these rows is measured (once; cached by their content)."""
        from dataclasses import replace

        from lamforest import data as datamod
        from lamforest.driver import estimate

        ref = driver.train_ref(X, y, sample_weight, names, self._task)
        ds = datamod.from_arrays(X, y, names, self._task, spec.data)
        # The rows' content address names them in the sample cache (a shape would name other rows too);
        # a drawn seed would measure the same rows anew at every fit: their sample is seed 0's.
        seed = spec.seed if isinstance(self.random_state, (int, np.integer)) else 0
        sized = replace(spec, data=f"arrays:{ref.rsplit('/', 1)[-1]}", seed=seed)
        estimate.check_budget(backend, sized, workers=self._workers(), dataset=ds, budget="max_cost")

    def fit_shards(
        self,
        data: str,
        target: str,
        *,
        weight: str | None = None,
        rows_per_grove: float | None = None,
        test_size: float = 0.25,
    ) -> LamforestForest:
        """Fit on sharded Parquet data that no process holds: a folder, a glob, ``s3://BUCKET/PREFIX/``
        or one Parquet file of several row groups. The workers read the shards; each grove fits a seeded
        sample of whole shards that fits ``memory`` (subsampled bagging, see docs/data.md, "Data bigger
        than one machine").

        Parameters
        ----------
        data : str
            Where the shards are.
        target : str
            The target column.
        weight : str, default=None
            A column of per-row sample weights.
        rows_per_grove : int or float, default=None
            Train rows each grove samples (a number, or a fraction of the train rows); None: the most
            that fit ``memory``.
        test_size : float, default=0.25
            Rows held out by a seeded hash of their index; the held-out score is ``test_score_``.

        Returns
        -------
        self : object
            The fitted estimator. ``oob_score`` is not available: a grove's out-of-bag rows are its
            sample's, not the forest's.
        """
        self._check_params()
        if self.oob_score:
            raise ValueError("oob_score is not available on sharded data: each grove fits a sample of the shards")
        backend = self._backend()
        trees = int(self.n_estimators)
        spec = BuildSpec(
            name=self._build_name(backend),
            data=data,
            target=target,
            weight=weight,
            trees=trees,
            grove=min(int(self.grove_size), trees),
            model=self._model_code,
            task=self._task,
            params=self._grove_params(False),
            seed=self._seed(),
            test_size=test_size,
            memory=self.memory,
            arch=self.arch,
            max_cost=self.max_cost,
            rows_per_grove=rows_per_grove,
        )
        from lamforest.driver import estimate

        estimate.check_budget(backend, spec, workers=self._workers(), budget="max_cost")  # before any write
        plan = driver.create(backend, spec, workers=self._workers())
        st = self._run(backend, plan)
        if st.state != "done":
            error = (st.summary.get("error") if st.summary else None) or st.cancel_reason or st.state
            raise RuntimeError(f"build {spec.name!r} ended {st.state}: {error}")
        self._adopt(backend, plan, st, None)
        self.test_score_ = st.summary.get("test_score") if st.summary else None
        return self

    def predict_shards(self, data: str, out: str) -> dict[str, Any]:
        """Predict sharded Parquet data into ``out`` (a folder or ``s3://`` prefix): the workers write one
        Parquet file per input shard, and skip those already written from the same input by this forest.
        Returns what was written, skipped and, for labelled shards, their score."""
        check_is_fitted(self)
        return driver.predict_to(self._backend(), self.build_name_, data, out, workers=self._workers()).to_json()

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def _check_oob_target(self, y: np.ndarray) -> None:
        """Refuse, before any grove runs, a target scikit-learn computes no OOB estimate for."""
        from sklearn.utils.multiclass import type_of_target

        target = self._oob_target(y)
        kind = type_of_target(target)
        if kind == "unknown" or (self._task == "classification" and kind == "multiclass-multioutput"):
            raise ValueError(  # scikit-learn's words
                f"The type of target cannot be used to compute OOB estimates. Got {kind} while only the "
                "following are supported: continuous, continuous-multioutput, binary, multiclass, "
                "multilabel-indicator."
            )

    def _oob_target(self, y: np.ndarray) -> np.ndarray:
        """The target as scikit-learn's OOB pass reads it: class indices (classifiers), else values."""
        if self._task != "classification":
            return np.asarray(y, dtype=np.float64)
        if np.ndim(y) == 1:
            return np.searchsorted(self.classes_, y)
        return np.column_stack([np.searchsorted(c, y[:, k]) for k, c in enumerate(self.classes_)]).astype(np.float64)

    def _in_process(self, backend: Backend, plan: Plan) -> int | None:
        """Threads of this process to fit the groves when the work is smaller than starting workers
        (``driver.in_process_threads``: the same ``run_fit`` calls, so the same trees), as many as
        ``n_jobs`` asks; None when ``workers`` asks for a pool, or the work is not small."""
        spec, rows, features = plan.spec, plan.n_train, plan.n_features
        return driver.in_process_threads(backend, spec, rows, features, self.workers, self._workers())

    def _run(self, backend: Backend, plan: Plan) -> BuildStatus:
        name = plan.spec.name
        # Listing a folder costs nothing; an S3 LIST is billed, so a remote store is polled less often.
        poll_s = 0.02 if backend.name == "local" else 0.25
        threads = self._in_process(backend, plan)
        sync = threads is not None
        workers = threads if sync else self._workers()
        try:
            with BuildProgress(bool(self.progress), name, plan.spec.trees, plan.spec.n_groves) as bar:
                return driver.run(backend, name, workers=workers, sync=sync, on_progress=bar.update, poll_s=poll_s)
        except KeyboardInterrupt:
            # Ctrl+C (or Jupyter's interrupt): cancel the build, let running groves stop at their next chunk
            # (bounded), leave its summary saying so, then let the interrupt go on.
            driver.cancel(backend, name, reason="interrupted (KeyboardInterrupt)")
            end = time.monotonic() + 60.0
            driver.run(
                backend, name, workers=workers, sync=sync, poll_s=poll_s, should_stop=lambda: time.monotonic() > end
            )
            raise
        finally:
            if sync:
                from lamforest.worker import env

                env.forget()  # the caller's process keeps no train set once its fit is over

    def _adopt(self, backend: Backend, plan: Plan, st: BuildStatus, y: np.ndarray | None, X: Any = None) -> None:
        """Set the fitted attributes from a finished build (``X``, ``y``: the train rows, for a callable
        oob_score and a multi-output OOB pass)."""
        self.build_name_ = plan.spec.name
        self.seed_ = plan.spec.seed
        self.n_outputs_ = plan.outputs
        self.n_features_in_ = plan.n_features
        if plan.feature_names is not None:
            self.feature_names_in_ = np.asarray(plan.feature_names, dtype=object)
        try:
            self._model = driver.load_model(backend, plan.spec.name)
        except BuildError:
            self._model = None  # above the merge limit: predict streams the groves
        self._n_groves = plan.spec.n_groves
        if self._task == "classification":
            if not hasattr(self, "classes_"):
                self.classes_ = plan.class_arrays
            # One count per output for multi-output y (a list, as scikit-learn's), else one count.
            stored: Any = len(plan.classes or [])
            self.n_classes_: Any = len(self.classes_)
            if plan.outputs > 1:
                self.n_classes_ = [len(c) for c in self.classes_]
                stored = [len(c) for c in plan.classes or []]
            if stored != self.n_classes_:
                raise BuildError(f"build {plan.spec.name!r} has classes {plan.classes}, expected {self.classes_}")
        if self.oob_score:
            self._set_oob(backend, st, y, X)

    def _set_oob(self, backend: Backend, st: BuildStatus, y: np.ndarray | None, X: Any = None) -> None:
        if self.n_outputs_ > 1:
            self._set_oob_multi(y, X)
            return
        decision = read_oob(backend, st.name)
        if decision is None:
            return
        if st.summary.get("oob_missing_rows") if st.summary else None:
            import warnings

            # scikit-learn's words and class, so that code filtering them keeps working.
            warnings.warn(
                "Some inputs do not have OOB scores. This probably means too few trees were used "
                "to compute any reliable OOB estimates.",
                UserWarning,
                stacklevel=3,
            )
        if self._task == "classification":
            self.oob_decision_function_ = decision
            pred = np.argmax(decision, axis=1)
            target = np.searchsorted(self.classes_, y) if y is not None else None
        else:
            self.oob_prediction_ = decision
            pred, target = decision, y
        if callable(self.oob_score) and target is not None:
            self.oob_score_ = self.oob_score(target, pred)
        else:
            self.oob_score_ = st.summary.get("oob_score") if st.summary else None

    def _set_oob_multi(self, y: np.ndarray | None, X: Any) -> None:
        """A multi-output forest's OOB attributes: scikit-learn's own pass over the merged trees (the
        groves keep no per-output sums), so they are scikit-learn's to the bit."""
        if self._model is None or y is None or X is None:
            import warnings

            warnings.warn(
                f"build {self.build_name_!r}: the OOB estimate of a multi-output forest needs the merged "
                "forest and the train rows; it is not set",
                UserWarning,
                stacklevel=3,
            )
            return
        scoring = self.oob_score if callable(self.oob_score) else None
        self._model._set_oob_score_and_attributes(X, self._oob_target(y), scoring_function=scoring)
        for attr in ("oob_score_", "oob_decision_function_", "oob_prediction_"):
            if hasattr(self._model, attr):
                setattr(self, attr, getattr(self._model, attr))
                delattr(self._model, attr)

    # ------------------------------------------------------------------ fitted state

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "build_name_")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        from sklearn.utils import get_tags

        sk = self._sklearn_class()(criterion=self.criterion)
        tags.input_tags.allow_nan = get_tags(sk).input_tags.allow_nan
        tags.input_tags.sparse = True  # the store keeps sparse rows as CSR arrays
        tags.target_tags.multi_output = True
        return tags

    def _why_not_merged(self) -> str:
        return (
            f"estimators_ is not available: build {self.build_name_!r} has no merged forest "
            f"({self.n_estimators} trees in {self._n_groves} groves, above the merge limit), so its trees "
            "stay in the store as groves and predict streams them; load one with "
            "lamforest.driver.load_grove(backend, name, i)"
        )

    # scikit-learn's forest keeps these on itself; here the merged forest has them. (Properties, not
    # __getattr__: a property raising AttributeError, as an unfitted one's does, would fall into it.)
    def _from_model(self, name: str) -> Any:
        check_is_fitted(self)
        if self._model is None:
            raise AttributeError(self._why_not_merged())
        return getattr(self._model, name)

    @property
    def _n_samples(self) -> int:
        return int(self._from_model("_n_samples"))

    @property
    def _n_samples_bootstrap(self) -> int | None:
        return self._from_model("_n_samples_bootstrap")

    @property
    def _sample_weight(self) -> np.ndarray | None:
        return self._from_model("_sample_weight")

    @property
    def estimator(self) -> Any:
        """The tree every tree of the forest is cloned from (scikit-learn's ``estimator`` attribute)."""
        return self._sklearn_class()().estimator

    def __len__(self) -> int:
        """The number of trees, as scikit-learn's ensembles (of the merged forest)."""
        return len(self.estimators_)

    def __getitem__(self, index: Any) -> Any:
        return self.estimators_[index]

    def __iter__(self) -> Any:
        return iter(self.estimators_)

    @property
    def estimators_samples_(self) -> list[np.ndarray]:
        """The rows each tree drew (scikit-learn's, recomputed from each tree's seed)."""
        check_is_fitted(self)
        if self._model is None:
            raise AttributeError(self._why_not_merged())
        return self._model.estimators_samples_

    @property
    def estimators_(self) -> list[Any]:
        """The fitted trees, when the forest was merged (see the class docstring)."""
        check_is_fitted(self)
        if self._model is None:
            raise AttributeError(self._why_not_merged())
        return self._model.estimators_

    @property
    def estimator_(self) -> Any:
        """The tree template the forest's trees were cloned from."""
        check_is_fitted(self)
        if self._model is None:
            raise AttributeError(self._why_not_merged())
        return self._model.estimator_

    @property
    def feature_importances_(self) -> np.ndarray:
        """Impurity-based feature importances, as scikit-learn's forest computes them (over the groves'
        trees when the forest was not merged)."""
        check_is_fitted(self)
        if self._model is not None:
            return self._model.feature_importances_
        per_tree = [
            tree.feature_importances_
            for g in self._groves()
            for tree in g.estimator.estimators_
            if tree.tree_.node_count > 1
        ]
        if not per_tree:
            return np.zeros(self.n_features_in_, dtype=np.float64)
        mean = np.mean(per_tree, axis=0, dtype=np.float64)
        return np.asarray(mean / np.sum(mean))

    def _groves(self) -> Any:
        backend = self._backend()
        for i in range(self._n_groves):
            yield driver.load_grove(backend, self.build_name_, i)

    # ------------------------------------------------------------------ predict

    def _check_X(self, X: Any) -> Any:
        """Rows to predict, validated as scikit-learn's forest does: float32, dense or CSR."""
        check_is_fitted(self)
        allow_nan = self.__sklearn_tags__().input_tags.allow_nan
        return validate_data(
            self,
            X,
            reset=False,
            dtype=np.float32,
            accept_sparse="csr",
            ensure_all_finite="allow-nan" if allow_nan else True,
        )

    def _values(self, X: Any) -> Any:
        """Class probabilities (classifier; one array per output for multi-output y) or predictions
        (regressor) of rows ``X``."""
        X = self._check_X(X)
        if self._model is not None:
            return self._model.predict_proba(X) if self._task == "classification" else self._model.predict(X)
        if hasattr(X, "toarray"):  # the groves stream over dense rows: a batch of sparse rows at a time
            values = np.vstack(
                [
                    driver.predict_values(self._backend(), self.build_name_, X[i : i + 4096].toarray())
                    for i in range(0, X.shape[0], 4096)
                ]
            )
        else:
            values = driver.predict_values(self._backend(), self.build_name_, X)
        if self._task == "classification" and self.n_outputs_ > 1:
            return split_outputs(values, self.classes_)
        return values

    def apply(self, X: Any) -> np.ndarray:
        """The index of the leaf each row ends in, in every tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        X_leaves : ndarray of shape (n_samples, n_estimators)
            Column ``i`` is the leaf of tree ``i`` each row reaches.
        """
        X = self._check_X(X)
        if self._model is not None:
            return self._model.apply(X)
        return np.hstack([g.estimator.apply(X) for g in self._groves()])

    def decision_path(self, X: Any) -> tuple[Any, np.ndarray]:
        """The nodes each row passes through, in every tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        indicator : sparse matrix of shape (n_samples, n_nodes)
            Non-zero where a row goes through a node (nodes of all trees, side by side).
        n_nodes_ptr : ndarray of shape (n_estimators + 1,)
            Where each tree's nodes start in ``indicator``'s columns.
        """
        X = self._check_X(X)
        if self._model is not None:
            return self._model.decision_path(X)
        from scipy.sparse import hstack

        parts = [g.estimator.decision_path(X) for g in self._groves()]
        counts = np.concatenate([np.diff(ptr) for _, ptr in parts])
        return hstack([ind for ind, _ in parts]).tocsr(), np.concatenate([[0], np.cumsum(counts)])
