"""Distributed predict on the local backend: one predict event per batch of groves, votes summed by the driver."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lamforest import data, driver
from lamforest.cli import main
from lamforest.driver.distributed import predict_distributed
from lamforest.events import FitEvent, PredictEvent, parse_event
from lamforest.spec import SpecError
from lamforest.worker.votes import grove_votes
from tests.helpers import build, store_files


@pytest.fixture(scope="module")
def made(shared_backend) -> dict[str, str]:
    """Three finished builds: a classifier, a regressor, and a classifier whose leaves are not pure."""
    names = {"digits": "pd-digits", "diabetes": "pd-diabetes", "iris": "pd-iris"}
    params = {"iris": {"min_samples_leaf": 4}}
    for ds, name in names.items():
        st = build(shared_backend, name, data=ds, trees=11, grove=3, seed=5, params=params.get(ds, {}))
        assert st.state == "done"
    return names


def merged_values(backend, name: str, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    model = driver.load_model(backend, name)
    values = model.predict_proba(X) if hasattr(model, "classes_") else model.predict(X)
    return values, model.predict(X)


@pytest.mark.parametrize("ds", ["digits", "diabetes", "iris"])
@pytest.mark.parametrize("batch", [1, 2, 10])
def test_distributed_equals_merged(shared_backend, made, ds: str, batch: int) -> None:
    name = made[ds]
    res = predict_distributed(shared_backend, name, batch_groves=batch)
    X, _ = data.get_test(shared_backend.store, name)
    values, labels = merged_values(shared_backend, name, X)
    # Each batch sums its trees in order, the driver adds the batches: the same additions as scikit-learn's
    # single running sum, grouped differently. Equal to the bit for pure leaves (digits: 0/1 votes); within
    # a few float64 ulps otherwise (iris with min_samples_leaf=4 measured 2.2e-16).
    assert np.allclose(res.values, values, rtol=0, atol=1e-12)
    if ds == "digits":
        assert np.array_equal(res.values, values)
    assert np.array_equal(res.prediction.predictions, labels)
    assert res.invocations == -(-4 // batch) and res.trees == 11
    assert res.prediction.score == pytest.approx(driver.status(shared_backend, name).test_score)
    assert res.cost_usd > 0 and res.cost_estimate and res.reports == res.invocations
    pre = f"builds/{name}/predict/{res.predict_id}"
    keys = shared_backend.store.list(pre + "/")
    assert f"{pre}/result.json" in keys and not [k for k in keys if "/votes/" in k]  # votes deleted once summed


def test_predict_on_another_dataset_and_the_build_cost_is_untouched(shared_backend, made) -> None:
    name = made["iris"]
    before = driver.status(shared_backend, name).cost_usd
    res = predict_distributed(shared_backend, name, "iris", batch_groves=2)
    X = data.load("iris").X
    assert res.prediction.rows == 150 and res.prediction.source == "iris"
    _, labels = merged_values(shared_backend, name, X)
    assert np.array_equal(res.prediction.predictions, labels)
    assert driver.status(shared_backend, name).cost_usd == before  # predict calls are logged apart


def test_grove_votes_sum_in_tree_order() -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)).astype(np.float32), rng.integers(0, 3, 60)
    est = RandomForestClassifier(n_estimators=5, min_samples_leaf=3, random_state=0).fit(X, y)
    assert np.array_equal(grove_votes(est, X) / 5, est.predict_proba(X))


def test_cli_distributed_json(shared_backend, made, capsys) -> None:
    code = main(
        [
            "predict",
            made["digits"],
            "--distributed",
            "--batch-groves",
            "2",
            "--workers",
            "1",
            "--json",
            "--home",
            shared_backend.store.url,
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["distributed"] is True and doc["invocations"] == 2 and doc["trees"] == 11
    assert doc["metric"] == "accuracy" and doc["rows_per_s"] > 0


# --------------------------------------------------------------------------- bad input: SpecError, nothing written


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "no-such-build"}, "name"),
        ({"batch_groves": 0}, "batch_groves"),
        ({"batch_groves": "two"}, "batch_groves"),
        ({"source": "wine"}, "data"),  # 13 features, the build expects 64
        ({"source": "nonsense-dataset"}, "data"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(shared_backend, made, kwargs, field) -> None:
    name = kwargs.pop("name", made["digits"])
    before = store_files(shared_backend)
    with pytest.raises(SpecError) as info:
        predict_distributed(shared_backend, name, **kwargs)
    assert info.value.field == field
    assert store_files(shared_backend) == before


def test_cli_unknown_build_is_a_usage_error(shared_backend, capsys) -> None:
    assert main(["predict", "nope", "--distributed", "--home", shared_backend.store.url]) == 2
    assert "name" in capsys.readouterr().err


def _event(**over):
    ev = PredictEvent(build="b", grove=0, input="data/" + "b" * 64, job="p1").to_event()
    ev.update(over)
    return ev


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"input": "../etc/passwd"}, "input"),
        ({"input": None}, "input"),
        ({"job": "a/b"}, "job"),
        ({"job": ""}, "job"),
        ({"batch": 0}, "batch"),
        ({"kind": "train"}, "kind"),
    ],
)
def test_predict_events_are_validated(over, field) -> None:
    with pytest.raises(SpecError) as info:
        parse_event(_event(**over))
    assert info.value.field == field


def test_fit_events_keep_their_format_and_predict_events_round_trip() -> None:
    fit = FitEvent(build="b", grove=0, seed=1, trees=3, data="data/" + "a" * 64, model="rf", task="regression")
    assert set(fit.to_event()) == {
        "v",
        "build",
        "grove",
        "seed",
        "trees",
        "data",
        "model",
        "task",
        "params",
        "attempt",
        "chunk",
        "n_jobs",
    }
    ev = _event(batch=3)
    task = parse_event(ev)
    assert (task.kind, task.job, task.batch) == ("predict", "p1", 3) and task.to_event() == ev
