"""Distributed predict, search, tune-memory and the budget guard on the AWS backend, against moto
over HTTP (the ``aws`` rig of tests/aws_fixtures.py)."""

from __future__ import annotations

import json

import boto3
import numpy as np

from lamforest import data, driver
from lamforest.driver import search
from lamforest.driver.distributed import predict_distributed
from lamforest.driver.tune import tune_memory
from lamforest.spec import BuildSpec, parse_grid
from tests.aws_fixtures import Rig, run_build


def test_distributed_predict_on_aws_equals_merged(aws: Rig) -> None:
    backend = aws.backend()
    driver.create(backend, BuildSpec(name="dp", data="digits", trees=9, grove=3, seed=4))
    assert run_build(backend, "dp").state == "done"
    res = predict_distributed(backend, "dp", batch_groves=2, timeout_s=60)
    model = driver.load_model(backend, "dp")
    X, _ = data.get_test(backend.store, "dp")
    assert np.array_equal(res.values, model.predict_proba(X))  # pure leaves: 0/1 votes, exact sums
    assert np.array_equal(res.prediction.predictions, model.predict(X))
    assert res.invocations == 2 and res.trees == 9
    assert not res.cost_estimate and res.reports == 2 and res.cost_usd > 0  # from CloudWatch REPORT lines

    def kind(event: dict) -> str:
        if "Records" in event:
            event = json.loads(event["Records"][0]["Sns"]["Message"])
        return event.get("kind", "fit")

    assert [kind(inv["event"]) for inv in aws.standin.invocations].count("predict") == 2  # one per batch


def test_search_on_aws_leaderboard_with_billed_costs(aws: Rig) -> None:
    backend = aws.backend()
    search.create(
        backend,
        search.SearchSpec.of(name="sa", data="iris", grid=parse_grid(["max_depth=2,None"]), trees=4, grove=2, seed=1),
    )
    lb = search.run(backend, "sa", timeout_s=60)
    assert lb.finished and lb.done == 2 and lb.best is not None
    assert not lb.cost_estimate and all(t.cost_usd and t.cost_usd > 0 for t in lb.trials)
    assert "builds/sa/leaderboard.json" in backend.store.list("builds/sa/")


def test_tune_memory_on_aws_sets_and_restores_the_function_memory(aws: Rig) -> None:
    backend = aws.backend()
    res = tune_memory(backend, data="iris", trees_per_grove=2, memory="512,3538", runs=2, timeout_s=60)
    assert not res.simulated and "AWS" in res.note
    assert [r.memory_mb for r in res.rows] == [512, 3538] and [r.n_jobs for r in res.rows] == [1, 2]
    reports = [inv["report"] for inv in aws.standin.invocations]
    assert sum("Memory Size: 512 MB" in r for r in reports) == 2
    assert sum("Memory Size: 3538 MB" in r for r in reports) == 2
    conf = boto3.client("lambda").get_function_configuration(FunctionName=aws.function)
    assert conf["MemorySize"] == 1769  # restored
    assert all(r.cost_usd > 0 for r in res.rows)


def test_budget_guard_cancels_an_aws_build(aws: Rig) -> None:
    backend = aws.backend()
    # 100 groves: enough waves that CloudWatch (read at most every 2 s) reports a cost before the last one
    driver.create(backend, BuildSpec(name="bud", data="digits", trees=200, grove=2, seed=3, max_cost=1e-9))
    st = run_build(backend, "bud")
    assert st.state == "cancelled"
    assert st.cancel_reason and st.cancel_reason.startswith("budget:") and "max_cost" in st.cancel_reason
    assert st.trees_done < 200  # dispatch stopped before every grove ran
    assert st.count("done") < len(st.rows)
