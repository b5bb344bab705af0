"""Hyperparameter search on the local backend: one search event per combination, a leaderboard, promote."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lamforest import data, driver
from lamforest.cli import main
from lamforest.driver import search
from lamforest.spec import SpecError, parse_grid
from tests.helpers import store_files

GRID = ["max_depth=1,None", "min_samples_leaf=1,3"]


@pytest.fixture(scope="module")
def done_search(shared_backend) -> search.Leaderboard:
    search.create(
        shared_backend,
        search.SearchSpec.of(name="srch", data="iris", grid=parse_grid(GRID), trees=6, grove=3, seed=2),
    )
    seen: list[int] = []
    lb = search.run(shared_backend, "srch", on_progress=lambda lb: seen.append(lb.done))
    assert seen[-1] == 4 and seen == sorted(seen)  # live progress, monotone
    return lb


def test_grid_leaderboard_is_ranked_costed_and_stored(shared_backend, done_search) -> None:
    lb = done_search
    assert lb.finished and lb.done == 4 and lb.metric == "accuracy"
    assert sorted(map(json.dumps, (t.params for t in lb.trials))) == sorted(
        map(json.dumps, [{"max_depth": d, "min_samples_leaf": m} for d in (1, None) for m in (1, 3)])
    )
    scores = [t.score for t in lb.ranked()]
    assert scores == sorted(scores, reverse=True) and lb.best.score == scores[0]
    assert all(t.cost_usd and t.cost_usd > 0 and t.duration_s > 0 for t in lb.trials)
    assert lb.cost_usd == pytest.approx(sum(t.cost_usd for t in lb.trials))
    stored = shared_backend.store.get_bytes("builds/srch/leaderboard.json")
    assert json.loads(stored)["best"]["score"] == lb.best.score
    assert "srch" in search.list_searches(shared_backend)
    assert "srch" not in [b.name for b in driver.list_builds(shared_backend)]


def test_validation_is_carved_from_train_never_test(shared_backend, done_search) -> None:
    doc = search.load(shared_backend, "srch")
    X_fit, _ = data.open_train(shared_backend.store, doc["data_ref"])
    X_val, _ = data.open_train(shared_backend.store, doc["valid_ref"])
    ds = data.load("iris")
    X_tr, X_te, _, _ = data.split(ds, 0.25, 2)  # the split a build with this seed makes
    rows = lambda X: {r.tobytes() for r in np.asarray(X)}  # noqa: E731
    assert rows(X_fit) | rows(X_val) <= rows(X_tr)
    assert not (rows(X_fit) | rows(X_val)) & (rows(X_te) - rows(X_tr))
    assert len(X_fit) + len(X_val) == len(X_tr)


def test_promote_builds_the_best_params_on_the_same_split(shared_backend, done_search) -> None:
    st = search.promote(shared_backend, "srch", "srch-best", trees=6, grove=3)
    assert st.state == "done" and st.spec.params == done_search.best.params
    assert st.spec.seed == 2 and st.spec.data == "iris"
    assert search.load(shared_backend, "srch")["promoted"] == ["srch-best"]


def test_random_draws_distinct_combinations_reproducibly() -> None:
    spec = search.SearchSpec.of(
        name="r", grid=parse_grid(["max_depth=2,4,8", "max_features=sqrt,log2"]), random=4, seed=9
    ).validated()
    combos = spec.combinations()
    assert len(combos) == 4 and len({json.dumps(c) for c in combos}) == 4
    assert combos == spec.combinations()
    default = search.SearchSpec.of(name="d", random=3).validated()
    assert set(default.grid) == set(search.DEFAULT_SPACE) and len(default.combinations()) == 3


def test_cli_search_random_then_promote_existing(shared_backend, capsys) -> None:
    home = ["--home", shared_backend.store.url, "--workers", "1"]
    code = main(
        [
            "search",
            "cli-s",
            "--data",
            "wine",
            "--grid",
            "max_features=sqrt,0.5,1.0",
            "--random",
            "2",
            "-t",
            "4",
            "-g",
            "2",
            "--json",
            *home,
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["total"] == 2 and doc["done"] == 2 and doc["finished"]
    code = main(["search", "cli-s", "--promote", "cli-s-best", *home])
    out = capsys.readouterr().out
    assert code == 0 and "search cli-s" in out and "best:" in out and "cli-s-best" in out
    assert driver.status(shared_backend, "cli-s-best").state == "done"


# --------------------------------------------------------------------------- bad input: SpecError, nothing written


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"grid": ["max_depth"]}, "grid"),  # no '='
        ({"grid": ["max_depth=2,,4"]}, "grid"),  # an empty value
        ({"grid": ["max_depth=2", "max_depth=3"]}, "grid"),
        ({"grid": ["max_dpth=2,4"]}, "grid max_dpth"),  # unknown parameter
        ({"grid": ["max_depth=-3,4"]}, "grid max_depth"),  # sklearn rejects the value
        ({"grid": ["n_estimators=10,20"]}, "grid n_estimators"),  # lamforest owns it
        ({"random": 0}, "random"),
        ({"random": "many"}, "random"),
        ({}, "grid"),  # neither --grid nor --random
        ({"grid": ["max_depth=2"], "trees": 0}, "trees"),
        ({"grid": ["max_depth=2"], "valid_size": 1.5}, "valid_size"),
        ({"grid": ["max_depth=2"], "data": "nope"}, "data"),
        ({"grid": ["max_depth=2"], "name": "srch"}, "name"),  # exists
        ({"grid": ["max_depth=2"], "name": "bad/name"}, "name"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(shared_backend, done_search, kwargs, field) -> None:
    before = store_files(shared_backend)
    with pytest.raises(SpecError) as info:
        grid = parse_grid(kwargs.pop("grid", []))
        search.create(shared_backend, search.SearchSpec.of(**{"name": "new-s", "data": "iris", **kwargs, "grid": grid}))
    assert info.value.field == field, info.value
    assert store_files(shared_backend) == before


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--promote", "--promote-trees", "0"], "promote_trees"),
        (["--promote", "--promote-trees", "many"], "promote_trees"),
        (["--promote", "--promote-trees", "3"], "promote_trees"),  # fewer than the grove size, 4
        (["--promote", "new-s"], "promote"),  # the search's own name
        (["--promote", "srch"], "promote"),  # taken (by a search)
        (["--promote", "bad/name"], "promote"),
        (["--promote", "x" * 101], "promote"),
    ],
)
def test_cli_bad_promote_is_refused_before_the_search_runs(shared_backend, done_search, capsys, flags, field) -> None:
    before = store_files(shared_backend)
    argv = ["search", "new-s", "--data", "iris", "--grid", "max_depth=2,3", "-t", "4", "-g", "4", *flags]
    assert main([*argv, "--home", shared_backend.store.url, "--workers", "1"]) == 2
    assert f"error in {field}:" in capsys.readouterr().err
    assert store_files(shared_backend) == before  # no search, no trial, no claim


def test_cli_bad_grid_is_a_usage_error(shared_backend, capsys) -> None:
    assert main(["search", "x-s", "--grid", "oops", "--home", shared_backend.store.url]) == 2
    assert "grid" in capsys.readouterr().err
    assert main(["search", "nothing-here", "--promote", "b", "--home", shared_backend.store.url]) == 2
    capsys.readouterr()
    # a bad search name is said as its own, not as the promoted build's name derived from it
    assert main(["search", "bad/name", "--grid", "max_depth=2", "--promote", "--home", shared_backend.store.url]) == 2
    assert "error in name:" in capsys.readouterr().err
