"""The driver side: create, run, watch, finish, predict, search and tune builds.

Everything runs on the user's machine and reaches compute, store and logs
only through ``lamforest.backend.Backend``. This package's face is the public
driver API; its parts live in ``plan`` (create), ``schedule`` + ``run``
(dispatch, retry, cancel), ``watch`` (status), ``finish`` (merge, score),
``results`` (predict, export), ``distributed`` (predict through workers), ``search``, ``tune``.
"""

from lamforest.driver.finish import DEFAULT_MERGE_LIMIT_MB, MergePolicy, load_grove
from lamforest.driver.grow import grow
from lamforest.driver.plan import BuildError, Plan, create_from_arrays, load_plan, train_ref, validate
from lamforest.driver.results import (
    Prediction,
    evaluate,
    export,
    export_format,
    load_model,
    predict,
    predict_values,
    save,
    whole_model,
)
from lamforest.driver.run import Progress, cancel, finish, in_process_threads, run, workers_needed
from lamforest.driver.sharded import create, predict_to
from lamforest.driver.watch import (
    BUILD_STATES,
    GROVE_STATES,
    BuildStatus,
    BuildsView,
    GroveRow,
    Watcher,
    list_builds,
    status,
)

__all__ = [
    "BUILD_STATES",
    "DEFAULT_MERGE_LIMIT_MB",
    "GROVE_STATES",
    "BuildError",
    "BuildStatus",
    "BuildsView",
    "GroveRow",
    "MergePolicy",
    "Plan",
    "Prediction",
    "Progress",
    "Watcher",
    "cancel",
    "create",
    "create_from_arrays",
    "evaluate",
    "export",
    "export_format",
    "finish",
    "grow",
    "in_process_threads",
    "list_builds",
    "load_grove",
    "load_model",
    "load_plan",
    "predict",
    "predict_to",
    "predict_values",
    "run",
    "save",
    "status",
    "train_ref",
    "validate",
    "whole_model",
    "workers_needed",
]
