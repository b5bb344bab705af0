"""The numpydoc docstrings of the four estimators, from one template."""

from __future__ import annotations

_DOC = """{summary}

    Every parameter of :class:`sklearn.ensemble.{cls}` is accepted with the same
    default and meaning; the forest is fitted by lamforest as groves of
    ``grove_size`` trees, one invocation each, on the ``backend``'s workers (or
    AWS Lambda), and merged. With the same ``random_state``, a CLI build of the
    same spec on the same rows grows the same trees, bit for bit.

    Parameters
    ----------
    n_estimators : int, default=100
        The number of trees in the forest.
    criterion : str, default="{criterion}"
        The function measuring the quality of a split, as in scikit-learn.
    max_depth : int, default=None
        The maximum depth of a tree; None grows until leaves are pure or
        smaller than ``min_samples_split``.
    min_samples_split : int or float, default=2
        The minimum number (or fraction) of rows needed to split a node.
    min_samples_leaf : int or float, default=1
        The minimum number (or fraction) of rows in a leaf.
    min_weight_fraction_leaf : float, default=0.0
        The minimum weighted fraction of all rows' weight in a leaf.
    max_features : {{"sqrt", "log2", None}}, int or float, default={max_features}
        The number of features considered at each split.
    max_leaf_nodes : int, default=None
        Grow trees best-first with at most this many leaves.
    min_impurity_decrease : float, default=0.0
        Split a node only if the impurity decreases by at least this much.
    bootstrap : bool, default={bootstrap}
        Whether each tree draws a bootstrap sample of the rows (weighted by
        ``sample_weight`` when given).
    oob_score : bool or callable, default=False
        Score the forest on the rows each tree left out of its bootstrap;
        needs ``bootstrap=True``. A callable is called as ``oob_score(y, pred)``.
    n_jobs : int, default=None
        The number of local worker processes (the local backend's workers);
        None: one per core; -1: every core. ``workers`` takes precedence.
    random_state : int, RandomState instance or None, default=None
        The forest's seed, as scikit-learn's: the trees are those scikit-learn
        grows with it, whatever ``grove_size``. None draws a seed, recorded as
        ``seed_`` and in the build.
    verbose : int, default=0
        scikit-learn's verbosity inside each grove's fit (worker output).
    warm_start : bool, default=False
        When True and the forest is fitted, ``fit`` grows its build to
        ``n_estimators`` trees: only the new trees are fitted, and the forest is
        the one a single fit of all of them gives. The rows and the parameters
        must be those of the first fit (a ValueError says which differ).
{class_weight}    ccp_alpha : non-negative float, default=0.0
        Complexity parameter of minimal cost-complexity pruning.
    max_samples : int or float, default=None
        With bootstrap, the number (or fraction) of rows each tree draws.
    monotonic_cst : array-like of int of shape (n_features,), default=None
        Monotonicity constraint per feature: 1 increasing, -1 decreasing, 0 none.
    backend : {{"local", "aws"}}, default="local"
        Where groves are fitted and stored: local worker processes and a
        folder (``LAMFOREST_HOME``), or AWS Lambda and S3 as deployed. The
        backend stays open (a warm pool) for the rest of the session.
    grove_size : int, default=10
        Trees per grove, i.e. per invocation; the last grove takes the rest.
    name : str, default=None
        The build's name; None generates ``{code}-<date>-<time>-<hex>``. A copy
        made by ``clone`` (each fit of a scikit-learn search, its refit, and
        ``cross_val_score``'s) is its own build, named after the parameters
        set on it and its rows: ``<name>-max_depth_4-rows3fa2c1`` (the start
        of its train set's address, one per fold); without a name, one
        estimator's copies share one generated prefix. A name already taken
        gets ``-2``, ``-3``.
    workers : int, default=None
        Local worker processes (AWS: dispatch threads); None: ``n_jobs``.
    memory : int, default=1769
        Lambda memory in MB (128-10240; 1769 MB is one vCPU), for the function
        and the cost model.
    arch : {{"x86_64", "arm64"}}, default="x86_64"
        Lambda architecture, for the cost model.
    max_cost : float, default=None
        Stop dispatching groves when the projected cost in USD passes this;
        the fit then raises.
    progress : bool, default=True
        Show a progress bar of the groves (in a terminal or a notebook).
        Interrupting the fit (Ctrl+C) cancels the build.

    Attributes
    ----------
{classes}    n_features_in_ : int
        The number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The column names of a DataFrame given to ``fit``.
    n_outputs_ : int
        The number of targets (always 1).
    estimators_ : list of {tree}
        The fitted trees, when the forest was merged; above the merge limit
        the trees stay in the store and reading this raises AttributeError
        saying why.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Impurity-based feature importances.
    oob_score_ : float
        The out-of-bag score (when ``oob_score`` is set).
{oob}    build_name_ : str
        The name of the build ``fit`` created.
    seed_ : int
        The build's seed (``random_state`` or the one drawn).

    See Also
    --------
    lamforest.load : the fitted estimator of an existing build.
    lamforest.builds : the builds in a store.

    Examples
    --------
    >>> from lamforest import {cls}
    >>> from sklearn.datasets import {dataset}
    >>> X, y = {dataset}(return_X_y=True)
    >>> model = {cls}(n_estimators=50, random_state=0, progress=False).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
"""

_CLASS_WEIGHT_DOC = """    class_weight : {"balanced", "balanced_subsample"}, dict or list of dicts, default=None
        Weights of the classes. A dict is applied as sample weights (the same
        arithmetic scikit-learn does), so its labels need not survive JSON.
"""
_CLASSES_DOC = """    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_classes_ : int
        The number of classes.
"""
_OOB_CLF = """    oob_decision_function_ : ndarray of shape (n_samples, n_classes)
        Class probabilities of each training row from the trees that left it out.
"""
_OOB_REG = """    oob_prediction_ : ndarray of shape (n_samples,)
        The prediction of each training row from the trees that left it out.
"""


def doc(cls: str, code: str, classifier: bool, extra: bool) -> str:
    return _DOC.format(
        summary=(
            f"A {'random forest' if code == 'rf' else 'forest of extremely randomized trees'} "
            f"{'classifier' if classifier else 'regressor'}, fitted as a lamforest build."
        ),
        cls=cls,
        code=code,
        criterion="gini" if classifier else "squared_error",
        max_features='"sqrt"' if classifier else "1.0",
        bootstrap=str(code == "rf"),
        class_weight=_CLASS_WEIGHT_DOC if classifier else "",
        classes=_CLASSES_DOC if classifier else "",
        tree=("ExtraTree" if extra else "DecisionTree") + ("Classifier" if classifier else "Regressor"),
        oob=_OOB_CLF if classifier else _OOB_REG,
        dataset="load_iris" if classifier else "load_diabetes",
    )
