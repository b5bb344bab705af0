"""A store document is checked against the others it can be checked against (the plan above all),
every flag has a range named in its error, and each printed way out, followed literally, works."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lamforest import data, driver, keys
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.spec import BuildSpec

SMALL = dict(data="iris", trees=4, grove=2, seed=3)


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def built(backend, name: str, **spec) -> None:
    driver.create(backend, BuildSpec(name=name, **{**SMALL, **spec}))
    assert driver.run(backend, name, workers=1).state == "done"


def files(home: Path) -> list[Path]:
    """The store's files but the workers' log and start-up timings (written as workers start and end)."""
    return sorted(
        p.relative_to(home) for p in home.rglob("*") if p.is_file() and p.name not in ("lambda.log", "inits.json")
    )


def swap_model(home: Path, build: str, other: str) -> Path:
    """Put ``other``'s model in ``build``'s place and forge the summary's hash to match; return the summary."""
    blob = (home / keys.model(other)).read_bytes()
    (home / keys.model(build)).write_bytes(blob)
    summary_path = home / keys.summary(build)
    summary = json.loads(summary_path.read_text())
    summary.update(model_sha256=hashlib.sha256(blob).hexdigest(), model_bytes=len(blob))
    summary_path.write_text(json.dumps(summary))
    return summary_path


def last_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "no error printed"
    return lines[-1]


def refused(argv: list[str], capsys) -> str:
    """The one line a command that exits 1 prints."""
    assert main(argv) == 1, argv
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_summary_without_a_state_is_a_broken_build_to_every_command_and_the_advice_works(home, backend, capsys):
    """``{}`` as summary.json made `status` say interrupted (as if there were none) and `cancel` say done."""
    built(backend, "empty")
    built(backend, "other")
    X = data.load("iris").X[::7]
    before = driver.predict_values(backend, "empty", X)
    path = home / keys.summary("empty")
    path.write_text("{}")
    stored = files(home)
    err = refused(["status", "empty"], capsys)
    assert err == (
        f"error: {path} cannot be read (ValueError: it has no state); delete {path} and run "
        "`lamforest finish empty` to write it again from the groves"
    )
    for argv in (["status", "empty", "--json"], ["cancel", "empty"], ["finish", "empty"], ["predict", "empty"]):
        assert refused(argv, capsys) == err
    assert main(["builds", "--json"]) == 0
    listed = {b["name"]: (b["state"], b["error"]) for b in json.loads(capsys.readouterr().out)}
    assert listed == {"empty": ("broken", err.removeprefix("error: ")), "other": ("done", None)}
    assert files(home) == stored  # no cancel marker, no summary written over it
    path.unlink()  # the advice, followed literally
    assert main(["finish", "empty", "--workers", "1"]) == 0
    assert driver.status(backend, "empty").state == "done"
    assert np.array_equal(driver.predict_values(backend, "empty", X), before)


def test_an_unreadable_grove_record_of_a_done_build_is_named_by_status_and_builds_and_the_advice_works(
    home, backend, capsys
):
    """`status` showed such a build done, its grove's trees missing from the count, the record unnamed."""
    built(backend, "rec")
    X = data.load("iris").X[::7]
    before = driver.predict_values(backend, "rec", X)
    record = home / keys.state("rec", keys.grove_id(0), "done")
    grove = home / keys.grove("rec", keys.grove_id(0))
    record.write_text("garbage{")
    stored = files(home)
    err = refused(["status", "rec"], capsys)
    assert err.startswith(f"error: {record} cannot be read (JSONDecodeError: ")
    assert err.endswith(f"delete it and {grove}, then run `lamforest finish rec` to fit that grove again")
    for argv in (["status", "rec", "--json"], ["finish", "rec"]):
        assert refused(argv, capsys) == err  # the driver's own line
    assert main(["builds", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["state"] == "broken" and listed["error"] == err.removeprefix("error: ")
    assert files(home) == stored  # finish deleted no summary before it refused
    record.unlink()  # the advice, followed literally
    grove.unlink()
    assert main(["finish", "rec", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["status", "rec", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["trees_done"], shown["error"]) == ("done", 4, None)
    assert grove.exists() and np.array_equal(driver.predict_values(backend, "rec", X), before)


def test_the_builds_view_lists_an_unfinished_build_with_an_unreadable_record_as_broken_until_mended(home, backend):
    built(backend, "wip")
    for key in (keys.summary("wip"), keys.manifest("wip"), keys.model("wip")):
        (home / key).unlink()  # back to "not finished": the view watches its records
    record = home / keys.state("wip", keys.grove_id(1), "done")
    record.write_text("[1, 2]")
    view = driver.BuildsView(backend)
    (st,) = view.refresh()
    assert st.state == "broken" and f"{record} cannot be read" in (st.error or "")
    record.unlink()
    (home / keys.grove("wip", keys.grove_id(1))).unlink()
    (st,) = view.refresh()  # the same view: mended, it is watched again
    assert (st.state, st.count("done"), st.hint) == (
        "interrupted",
        1,
        "its driver stopped; resume it with `lamforest finish wip`",
    )
    assert main(["finish", "wip", "--workers", "1"]) == 0
    view.forget("wip")  # resumed, as the builds screen does
    (st,) = view.refresh()
    assert (st.state, st.trees_done) == ("done", 4)


def test_a_spec_out_of_its_ranges_is_a_broken_build_named_and_the_store_still_lists(home, backend, capsys):
    built(backend, "good")
    built(backend, "zero")
    path = home / keys.spec("zero")
    doc = json.loads(path.read_text())
    doc["spec"]["grove"] = 0  # once a ZeroDivisionError in every command, `builds` included
    path.write_text(json.dumps(doc))
    assert main(["status", "zero"]) == 1
    err = last_error(capsys)
    assert "spec.json is corrupted" in err and "grove" in err and "remove the build's folder" in err
    assert main(["builds", "--json"]) == 0
    listed = {b["name"]: b["state"] for b in json.loads(capsys.readouterr().out)}
    assert listed["good"] == "done" and listed["zero"] == "broken"


def test_a_foreign_model_with_a_forged_hash_is_refused_by_its_tree_count_and_the_advice_merges_again(
    home, backend, capsys
):
    built(backend, "mine")
    built(backend, "other", trees=2, grove=1, seed=9)
    summary_path = swap_model(home, "mine", "other")
    assert main(["predict", "mine"]) == 1
    err = last_error(capsys)
    assert "holds 2 trees, the plan 4" in err and "summary.json" in err and "lamforest finish mine" in err
    # Followed literally: delete the summary, finish; the model is the build's own again.
    summary_path.unlink()
    assert main(["finish", "mine", "--workers", "1"]) == 0
    assert len(driver.load_model(backend, "mine").estimators_) == 4
    assert main(["predict", "mine"]) == 0


def test_held_out_rows_that_are_not_the_plans_are_refused_naming_the_file(home, backend, capsys):
    built(backend, "held")
    assert driver.load_plan(backend, "held").test_sha256  # the plan keeps the held-out file's hash
    with np.load(home / keys.test_set("held")) as z:
        X, y = z["X"], z["y"]
    for forged in ({"X": X[:10], "y": np.zeros(10, dtype=y.dtype)}, {"X": np.zeros((len(y), 7)), "y": y}):
        np.savez(home / keys.test_set("held"), **forged)
        assert main(["predict", "held"]) == 1
        err = last_error(capsys)
        assert "test.npz (the held-out rows)" in err and "predict other rows with --data" in err
    # The same shape, other labels: the plan's sha256 of the file tells it from the one held out.
    np.savez(home / keys.test_set("held"), X=X, y=np.zeros_like(y))
    assert main(["predict", "held"]) == 1
    assert "is not the file the build held out" in last_error(capsys)


def test_finish_of_a_finished_build_says_when_its_manifest_is_damaged_and_the_advice_works(home, backend, capsys):
    built(backend, "man")
    (home / keys.manifest("man")).write_text("garbage{{")
    assert main(["finish", "man"]) == 1
    err = last_error(capsys)
    assert "manifest.json cannot be read" in err and "lamforest finish man" in err
    (home / keys.manifest("man")).unlink()
    assert main(["finish", "man"]) == 0
    assert main(["predict", "man"]) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["grow", "g", "-t", "0"], "error in trees: must be at least 1, got 0"),
        (["grow", "g", "-t", "-5"], "error in trees: must be at least 1, got -5"),
        (["predict", "g", "--batch-groves", "2"], "error in batch_groves: groves per event apply to --distributed"),
        (
            ["build", "huge", "--data", "iris", "-t", "2", "-g", "1", "--param", "max_leaf_nodes=" + "9" * 23],
            "error in param max_leaf_nodes",
        ),
        (
            ["build", "huge2", "--data", "iris", "-t", "2", "-g", "1", "--param", f"max_leaf_nodes={2**63 - 1}"],
            "error in param max_leaf_nodes",
        ),
    ],
)
def test_numbers_out_of_range_are_named_and_change_nothing(home, backend, capsys, argv, needle):
    built(backend, "g")
    before = files(home)
    assert main(argv) == 2
    assert needle in last_error(capsys)
    assert files(home) == before
    assert driver.load_plan(backend, "g").spec.trees == 4


@pytest.mark.parametrize(
    ("field", "forged", "needle"),
    [
        ("trees", 8, "says 8 trees, the finished build (its summary and manifest) 4"),
        ("classes", [0, 1], "says classes [0, 1], the groves and manifest.json [0, 1, 2]"),
    ],
)
def test_a_forged_spec_is_named_not_the_manifest_that_agrees_with_the_build(
    home, backend, capsys, field, forged, needle
):
    """Deleting the manifest and finishing (the manifest's advice) would build on the forged spec: with
    the summary or a grove agreeing with the manifest, the spec is the one named."""
    built(backend, "forged")
    path = home / keys.spec("forged")
    doc = json.loads(path.read_text())
    if field == "trees":
        doc["spec"]["trees"] = forged
    else:
        doc["classes"] = forged
    path.write_text(json.dumps(doc))
    for argv in (["predict", "forged"], ["finish", "forged"], ["grow", "forged", "-t", "12"]):
        assert main(argv) == 1
        err = last_error(capsys)
        assert "spec.json" in err and needle in err and "restore it" in err, err
        assert "delete" not in err
    assert (home / keys.manifest("forged")).exists()  # nothing deleted or refitted
    assert (home / keys.model("forged")).exists() and (home / keys.summary("forged")).exists()


def test_a_foreign_model_of_the_same_size_is_refused_by_its_trees_seeds(home, backend, capsys):
    built(backend, "own")
    built(backend, "twin", seed=4)  # the same tree count, another seed
    summary_path = swap_model(home, "own", "twin")
    assert main(["predict", "own"]) == 1
    assert "its trees are not this build's" in last_error(capsys)
    summary_path.unlink()  # the advice, followed literally
    assert main(["finish", "own", "--workers", "1"]) == 0
    assert main(["predict", "own"]) == 0


def test_export_of_a_build_whose_spec_grew_names_the_spec(home, backend, capsys, tmp_path):
    built(backend, "grown")
    path = home / keys.spec("grown")
    doc = json.loads(path.read_text())
    doc["spec"]["trees"] = 8
    path.write_text(json.dumps(doc))
    assert main(["export", "grown", str(tmp_path / "m.joblib")]) == 1
    err = last_error(capsys)
    assert "spec.json says 8 trees, the finished build (its summary and model) 4" in err
    assert (home / keys.summary("grown")).exists() and not (tmp_path / "m.joblib").exists()
