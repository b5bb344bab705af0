"""lamforest from a notebook: the fitted estimator of an existing build, and the builds in a store."""

from __future__ import annotations

from typing import Any

from lamforest import driver
from lamforest.backend.shared import shared
from lamforest.driver.plan import BuildError
from lamforest.estimators import ESTIMATORS


def load(name: str, backend: str = "local") -> Any:
    """The fitted estimator of an existing, finished build.

    Parameters
    ----------
    name : str
        The build's name (as ``lamforest builds`` lists it, or a fitted
        estimator's ``build_name_``); CLI builds load too.
    backend : {"local", "aws"}, default="local"
        Where the build is.

    Returns
    -------
    estimator : RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier or ExtraTreesRegressor
        lamforest's estimator for the build's model and task, with the build's
        parameters, fitted: it predicts without fitting again.

    Raises
    ------
    BuildError
        When there is no build of that name, or it has not finished.
    """
    b = shared(backend)
    plan = driver.load_plan(b, name)
    st = driver.status(b, name)
    if st.state != "done":
        raise BuildError(f"build {name!r} is {st.state}; only a finished build can be loaded")
    cls = ESTIMATORS[(plan.spec.model, plan.task)]
    valid = cls._sklearn_class()().get_params(deep=False)
    params = {k: v for k, v in plan.spec.params.items() if k in valid}
    est = cls(
        n_estimators=plan.spec.trees,
        random_state=plan.spec.seed,
        oob_score=(st.summary.get("oob_score") if st.summary else None) is not None,
        backend=backend,
        grove_size=plan.spec.grove,
        name=name,
        memory=plan.spec.memory,
        arch=plan.spec.arch,
        max_cost=plan.spec.max_cost,
        **params,
    )
    est._adopt(b, plan, st, None)
    return est


def builds(backend: str = "local", as_frame: bool | None = None) -> Any:
    """The builds in a store, newest first.

    Parameters
    ----------
    backend : {"local", "aws"}, default="local"
        Whose store to list.
    as_frame : bool, default=None
        True: a pandas DataFrame; False: a list of dicts; None: a DataFrame
        when pandas is installed.

    Returns
    -------
    builds : pandas.DataFrame or list of dict
        One row per build: ``name``, ``state``, ``created``, ``task``,
        ``model``, ``trees``, ``trees_done``, ``groves``, ``groves_failed``,
        ``elapsed_s``, ``cost_usd``, ``cost_is_estimate``, ``test_score``,
        ``oob_score``, ``data``.
    """
    rows = []
    for st in driver.list_builds(shared(backend)):
        j = st.to_json()
        rows.append(
            {
                "name": st.name,
                "state": st.state,
                "created": st.plan.created,
                "task": st.plan.task,
                "model": st.spec.model,
                "trees": st.spec.trees,
                "trees_done": st.trees_done,
                "groves": len(st.rows),
                "groves_failed": st.count("failed"),
                "elapsed_s": round(st.elapsed_s, 3),
                "cost_usd": st.cost_usd,
                "cost_is_estimate": st.cost_estimate,
                "test_score": j["test_score"],
                "oob_score": j["oob_score"],
                "data": st.spec.data,
            }
        )
    if as_frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise ImportError("builds(as_frame=True) needs pandas: pip install pandas") from None
        return rows
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["name", "state", "created"])
    if rows:
        frame["created"] = pd.to_datetime(frame["created"], unit="s")
    return frame
