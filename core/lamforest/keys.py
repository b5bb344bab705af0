"""Every key of the store's layout, in one place. Nothing else formats a key or spells a name of it.

data/<sha256>/X.npy, y.npy, meta.json        a train set (or stored input rows), content-addressed
data/<sha256>/X.data.npy, X.indices.npy, X.indptr.npy, X.shape.npy   a sparse train set's CSR arrays, in place of X.npy
data/<sha256>/w.npy                          its sample weights, when it has them
data/<sha256>/shards.json                    a sharded dataset: its shard list and columns (no rows)
builds/<b>/claim.json                        the name taken (an exclusive create), before anything else is written
builds/<b>/spec.json                         the plan: what was asked and what the data resolved to
builds/<b>/test.npz                          the held-out set (driver only, never in an event)
builds/<b>/groves/<gid>.tree                 one fitted grove (a tree file: no pickle)
builds/<b>/state/<gid>.<state>               grove records: running, done, failed, cancelled
builds/<b>/CANCEL                            the cancel marker
builds/<b>/lease.json                        the driver's lease, renewed while a driver runs the build
builds/<b>/drivers/<gen>.json                who took the build to drive it (an exclusive create per generation)
builds/<b>/model.tree                        the merged forest (a tree file; only below the merge limit)
builds/<b>/manifest.json                     the forest as its groves: classes, features, trees, grove hashes
builds/<b>/oob.npy                           the forest's OOB decision (or prediction) per train row
builds/<b>/summary.json                      scores, timings, cost
builds/<b>/dispatch.json                     AWS dispatch counters
builds/<b>/lambda.log                        local REPORT lines (and <kind>/lambda.log for jobs)
builds/<b>/predict/<id>/                     a distributed predict job (a job folder, below)
builds/<b>/shards/<job>/                     a sharded job (a job folder, below): scan, score, or predict
builds/<b>/search.json, leaderboard.json     a hyperparameter search: what was asked, the trials ranked
builds/<b>/trials/                           its trials (a job folder, below)
builds/<b>/tune.json                         a tune-memory result
builds/<b>/estimate.json                     the estimate made before dispatch (its summary compares)
estimate/params.json                         the estimate's parameters, calibrated to past builds
estimate/groves/<work>.json                  the measured groves of the last build of that data and parameters
estimate/inits.json                          the median Init Duration of the last finished builds

A job folder (``<job>`` below: a predict job, a sharded job, a search's trials):
<job>/job.json                               what a distributed predict job asked (rows, groves, batches)
<job>/votes/<gid>.npy                        one batch's vote sums
<job>/done/<id>.json, failed/<id>.json       job records, one per batch (or trial)
<job>/result.json                            the job's result, written by the driver once it reduced them

The estimate's sample folder (a temporary local folder the driver fills and a probe reads) is laid out
as a data folder: X.npy and y.npy, plus X_test.npy and y_test.npy (the held-out rows); or shards.json.
"""

from __future__ import annotations

import re

BUILDS = "builds/"
DATA_RE = re.compile(r"^data/[0-9a-f]{64}$")


def grove_id(index: int) -> str:
    """A grove's (or trial's, or batch's) id: zero padded so keys sort in grove order."""
    return f"g{index:05d}"


def grove_index(gid: str) -> int:
    return int(gid[1:])


# -- content-addressed data
# the files of a data folder, in the store or in a local folder laid out the same
DATA_X = "X.npy"
DATA_Y = "y.npy"
DATA_WEIGHT = "w.npy"
DATA_META = "meta.json"
DATA_SPARSE_X = ("X.data.npy", "X.indices.npy", "X.indptr.npy", "X.shape.npy")  # CSR: data, indices, indptr, shape
SHARD_LIST = "shards.json"
SAMPLE_X_TEST = "X_test.npy"  # the sample folder's held-out rows, beside DATA_X and DATA_Y
SAMPLE_Y_TEST = "y_test.npy"


def data_ref(sha256: str) -> str:
    return f"data/{sha256}"


def data_file(ref: str, name: str) -> str:
    """One file (``DATA_X``, ``DATA_Y``, ``DATA_WEIGHT``, ``DATA_META``, ...) of a stored data set."""
    return f"{ref}/{name}"


# -- one build
def build(name: str) -> str:
    """The prefix of everything of a build, with its trailing slash (what a LIST asks for)."""
    return f"{BUILDS}{name}/"


def build_file(name: str, file: str) -> str:
    """A build's top-level files: spec.json, summary.json, model.tree, CANCEL, test.npz, ..."""
    return f"{BUILDS}{name}/{file}"


def claim(name: str) -> str:
    """Written once, exclusively, by whoever creates the build or search ``name``: the name is theirs."""
    return build_file(name, "claim.json")


def spec(name: str) -> str:
    return build_file(name, "spec.json")


def summary(name: str) -> str:
    return build_file(name, "summary.json")


def cancel(name: str) -> str:
    return build_file(name, "CANCEL")


def lease(name: str) -> str:
    return build_file(name, "lease.json")


def drivers(name: str) -> str:
    return build_file(name, "drivers/")


def driver(name: str, gen: int) -> str:
    """Created exclusively by the driver that takes the build as generation ``gen`` (1, 2, ...)."""
    return f"{drivers(name)}{gen:08d}.json"


def driver_gen(name: str, key: str) -> int | None:
    """The generation a ``driver`` key names, or None for any other key."""
    rest = key.removeprefix(drivers(name))
    if rest == key or not re.fullmatch(r"[0-9]{8}\.json", rest):
        return None
    return int(rest[:8])


def model(name: str) -> str:
    return build_file(name, "model.tree")


def oob(name: str) -> str:
    """The OOB decision function (classifier) or OOB prediction (regressor) of a bootstrapped forest."""
    return build_file(name, "oob.npy")


def manifest(name: str) -> str:
    """What a finished forest is made of: written by finish, read by predict and export."""
    return build_file(name, "manifest.json")


def test_set(name: str) -> str:
    return build_file(name, "test.npz")


def dispatch(name: str) -> str:
    return build_file(name, "dispatch.json")


LAMBDA_LOG = "lambda.log"


def lambda_log(name: str, kind: str | None = None) -> str:
    """The local backend's log of a build; predict and search calls log apart (not the build's cost)."""
    return build_file(name, f"{kind}/{LAMBDA_LOG}" if kind else LAMBDA_LOG)


def is_lambda_log(key: str) -> bool:
    """Whether ``key`` is a ``lambda_log`` (of any kind): a log, not a build's data."""
    return key.rpartition("/")[2] == LAMBDA_LOG


def groves(name: str) -> str:
    return build_file(name, "groves/")


def grove(name: str, gid: str) -> str:
    return f"{groves(name)}{gid}.tree"


def states(name: str) -> str:
    return build_file(name, "state/")


def state(name: str, gid: str, st: str) -> str:
    return build_file(name, f"state/{gid}.{st}")


def parse_state(name: str, key: str) -> tuple[str, str] | None:
    """``(gid, state)`` of a record key of this build, else None."""
    pre = states(name)
    if not key.startswith(pre):
        return None
    gid, _, st = key[len(pre) :].partition(".")
    return (gid, st) if st else None


# -- jobs: distributed predict and search trials, each a folder of done/failed records
def predict_job(name: str, job: str) -> str:
    return build_file(name, f"predict/{job}")


def shard_job(name: str, job: str) -> str:
    """A sharded job's folder: ``scan`` (at create), ``score`` (at finish), or a predict id."""
    return build_file(name, f"shards/{job}")


def shard_list(ref: str) -> str:
    """The shard list of a sharded dataset, content-addressed like a train set."""
    return data_file(ref, SHARD_LIST)


def trials(name: str) -> str:
    return build_file(name, "trials")


def job_records(prefix: str, state: str) -> str:
    """The folder of a job's ``done`` (or ``failed``) records, with its trailing slash (what a LIST asks for)."""
    return f"{prefix}/{state}/"


def job_record(prefix: str, state: str, jid: str) -> str:
    """``<prefix>/done/<id>.json`` or ``<prefix>/failed/<id>.json``."""
    return f"{job_records(prefix, state)}{jid}.json"


def parse_job_record(prefix: str, key: str) -> tuple[str, str] | None:
    """``(state, id)`` of a job record key under ``prefix``, else None."""
    state, _, file = key[len(prefix) + 1 :].partition("/")
    if state not in ("done", "failed") or not file.endswith(".json"):
        return None
    return state, file.removesuffix(".json")


def job_file(prefix: str, file: str) -> str:
    """A file of a job folder by its name: ``job_spec``, ``job_result`` and ``job_votes`` name them."""
    return f"{prefix}/{file}"


def job_files(prefix: str) -> str:
    """Everything of a job, with the trailing slash (what a LIST asks for)."""
    return job_file(prefix, "")


def job_spec(prefix: str) -> str:
    """What a distributed predict job asked: written by the driver before any event is sent."""
    return job_file(prefix, "job.json")


def job_votes(prefix: str, gid: str) -> str:
    """The vote sums of one batch of groves (``gid`` names the batch)."""
    return job_file(prefix, f"votes/{gid}.npy")


def job_result(prefix: str) -> str:
    """A job's result, written by the driver once it reduced the job's records."""
    return job_file(prefix, "result.json")


def search(name: str) -> str:
    return build_file(name, "search.json")


def leaderboard(name: str) -> str:
    return build_file(name, "leaderboard.json")


def tune(name: str) -> str:
    return build_file(name, "tune.json")


def estimate(name: str) -> str:
    """The projection a build was given before dispatch; ``finish`` sets it beside the actuals."""
    return build_file(name, "estimate.json")


def estimate_params() -> str:
    """The estimate model's parameters as ``estimate --calibrate`` last fitted them."""
    return "estimate/params.json"


def measured_groves(work: str) -> str:
    """Fit times of the groves of the last finished build whose data and parameters hash to ``work``."""
    return f"estimate/groves/{work}.json"


def estimate_inits() -> str:
    """The median Init Duration of each of the last finished builds, for the estimate's cold start."""
    return "estimate/inits.json"
