"""``lamforest estimate`` as a user runs it, and what a build records of its estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamforest import cost
from lamforest.cli.main import main


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "estimate-cache"))


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_estimate_then_build_records_the_estimate_beside_the_actuals(home: Path, capsys) -> None:
    flags = ["--data", "iris", "-t", "30", "-g", "5", "--workers", "2"]
    code, doc = run_json(capsys, "estimate", "e1", *flags, "--ec2-vcpus", "4", "--ec2-price", "0.17")
    assert code == 0
    lam, local, machine = doc["lambda"], doc["local"], doc["ec2"]
    assert lam["groves"] == 6 and lam["concurrency"] == 1000 and local["concurrency"] == 2
    assert lam["wall_p10_s"] <= lam["wall_s"] <= lam["wall_p90_s"]
    assert lam["memory_ok"] and lam["peak_worker_mb"] < 1769
    assert machine["vcpus"] == 4 and machine["billed_s"] >= 60
    assert machine["cost_usd"] == pytest.approx(0.17 * machine["billed_s"] / 3600)
    # the bill of the projected billed ms (each invocation rounded up), priced as REPORT lines are
    assert lam["gb_seconds"] == pytest.approx(cost.gb_seconds(lam["billed_ms"], 1769), rel=1e-9)
    assert lam["cost_usd"] == pytest.approx(cost.price(lam["billed_ms"], 1769, "x86_64", requests=6).usd, rel=1e-9)
    assert doc["sources"]["concurrency"].startswith("the account default")

    code, built = run_json(capsys, "build", "e1", *flags)  # the sample is cached: the estimate is recorded
    assert code == 0 and built["state"] == "done"
    summary = json.loads((home / "builds" / "e1" / "summary.json").read_text())
    record = summary["estimate"]
    assert record["backend"] == "local" and record["actual_wall_s"] == summary["wall_s"]
    assert record["actual_cost_usd"] == pytest.approx(built["cost_usd"], rel=1e-3)
    assert record["wall_error"] == pytest.approx((record["wall_s"] - summary["wall_s"]) / summary["wall_s"])
    assert summary["init_ms"] > 0  # the local workers' measured cold starts

    code, again = run_json(capsys, "estimate", "e1")  # NAME: the build's own spec, and its actuals
    assert code == 0 and again["spec_from"].startswith("build 'e1' in the store")
    assert again["actual"]["wall_s"] == pytest.approx(summary["wall_s"])
    # the build's measured groves now set the pool's speed for the same data and parameters
    assert again["sources"]["local cpu_scale"].startswith("measured groves of build 'e1' (6 groves)")
    assert again["local"]["params"]["cpu_scale"] > 0

    code, cal = run_json(capsys, "estimate", "--calibrate")
    assert code == 0 and cal["builds"] == 1 and cal["cpu_scale"] > 0
    assert (home / "estimate" / "params.json").is_file()
    code, after = run_json(capsys, "estimate", "e1")
    # calibrated on local builds: the pool's parameters; e1's own groves still set its speed
    assert after["sources"]["local cold_start_ms"].startswith("calibrated")
    assert after["local"]["params"]["cold_start_ms"] == pytest.approx(cal["cold_start_ms"])
    assert after["sources"]["local cpu_scale"].startswith("measured groves")
    assert "cpu_scale" not in after["sources"] and after["lambda"]["params"]["cpu_scale"] == 1.0


def test_estimate_human_output_and_warnings(home: Path, capsys) -> None:
    argv = ["estimate", "h1", "--data", "iris", "-t", "20", "-g", "20", "--memory", "128", "--params"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Lambda" in out and "this local pool" in out and "EC2, 8 vCPUs" in out
    assert "warning" in out and "memory:" in out  # a worker needs more than 128 MB
    assert "cold_start_ms = 2000.0 ms" in out and "field notes" in out


def test_estimate_of_a_spec_file(home: Path, capsys, tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"spec": {"data": "iris", "trees": 12, "grove": 4, "memory": 3538}}))
    code, doc = run_json(capsys, "estimate", str(path), "--workers", "1")
    assert code == 0 and doc["spec_from"] == "the spec in spec.json"
    assert doc["lambda"]["groves"] == 3 and doc["lambda"]["memory_mb"] == 3538 and doc["lambda"]["threads"] == 2


def test_estimate_errors_name_the_field(home: Path, capsys) -> None:
    assert main(["estimate", "x", "--data", "iris", "-t", "5", "-g", "10"]) == 2
    assert "grove" in capsys.readouterr().err
    assert main(["estimate", "--calibrate"]) == 2  # no finished build with an estimate yet
    assert "calibrate" in capsys.readouterr().err


def test_estimate_and_a_budgeted_build_with_no_held_out_rows(home: Path, capsys) -> None:
    # --test-size 0: the sample has no test rows to predict, and the build scores none
    flags = ["--data", "iris", "-t", "6", "-g", "3", "--workers", "1", "--test-size", "0"]
    code, doc = run_json(capsys, "estimate", "z0", *flags)
    assert code == 0 and doc["sample"]["test_rows"] == 0 and doc["sample"]["predict_s_per_tree"] == 0.0
    code, built = run_json(capsys, "build", "z0", *flags, "--max-cost", "1")
    assert code == 0 and built["state"] == "done"
    code, again = run_json(capsys, "estimate", "z0")  # NAME: the build's own spec, test size 0
    assert code == 0 and again["spec_from"].startswith("build 'z0' in the store")
    assert again["actual"]["wall_s"] > 0


def test_estimate_with_a_weight_column_fits_it_as_weights_and_shows_it(home: Path, capsys, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "weighted.csv"
    lines = (",".join([*map(str, x), str(t), str(1 + i % 3)]) for i, (x, t) in enumerate(zip(X, y, strict=True)))
    rows = ["a,b,c,d,y,w", *lines]
    path.write_text("\n".join(rows) + "\n")
    flags = ["--data", str(path), "--target", "y", "-t", "4", "-g", "2", "--workers", "1"]
    # Without --weight the column is a feature (five); measured first, so its sample is in the cache.
    code, plain = run_json(capsys, "estimate", *flags)
    assert code == 0 and plain["sample"]["features"] == 5 and plain["spec"]["weight"] is None
    code, doc = run_json(capsys, "estimate", *flags, "--weight", "w")
    assert code == 0 and doc["spec"]["weight"] == "w"  # the spec it estimated, weight column included
    assert doc["sample"]["features"] == 4  # the weights are not fitted as a feature
    assert doc["sample"]["key"] != plain["sample"]["key"]


def test_estimate_of_a_build_fitted_from_python_arrays_measures_its_stored_rows(home: Path, capsys) -> None:
    """The arrays went with the process that gave them; the build's stored train set stands for them."""
    import numpy as np
    from sklearn.datasets import load_iris

    from lamforest import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    w = np.linspace(0.5, 2.0, len(y))
    fitted = RandomForestClassifier(n_estimators=6, grove_size=3, random_state=0, progress=False)
    fitted.fit(X, y, sample_weight=w)
    code, doc = run_json(capsys, "estimate", fitted.build_name_)
    assert code == 0 and doc["spec_from"].startswith(f"build {fitted.build_name_!r} in the store")
    assert doc["spec"]["data"].startswith("arrays:") and doc["sample"]["rows"] == len(y)
    assert doc["actual"]["wall_s"] > 0 and doc["lambda"]["groves"] == 2
