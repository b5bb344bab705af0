"""The `lamforest` command as a user runs it: build, status, cancel, finish, predict, builds, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from lamforest.cli import main

JSON_KEYS = {"name", "state", "trees", "groves", "billed_ms", "cost_usd", "test_score", "model"}


def run_json(capsys, *argv: str) -> dict:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    doc["_exit"] = code
    return doc


def test_build_json_has_the_documented_fields(home, capsys):
    doc = run_json(capsys, "build", "j1", "--data", "iris", "-t", "12", "-g", "5", "--workers", "2", "-p")
    assert doc["_exit"] == 0
    assert set(doc) >= JSON_KEYS
    assert doc["state"] == "done"
    assert doc["trees"] == 12
    assert doc["groves"] == {"total": 3, "queued": 0, "running": 0, "done": 3, "failed": 0, "cancelled": 0}
    assert doc["billed_ms"] > 0 and doc["cost_usd"] > 0 and doc["cost_is_estimate"] is True
    assert 0.7 < doc["test_score"] <= 1.0
    assert Path(doc["model"]).is_file()
    assert doc["prediction"]["metric"] == "accuracy"
    assert doc["prediction"]["score"] == pytest.approx(doc["test_score"])


def test_status_predict_builds_export(home, capsys, tmp_path):
    assert main(["build", "r1", "--data", "diabetes", "-t", "10", "-g", "4", "--json", "--workers", "2"]) == 0
    capsys.readouterr()
    st = run_json(capsys, "status", "r1")
    assert st["state"] == "done" and st["metric"] == "r2" and st["task"] == "regression"
    pred = run_json(capsys, "predict", "r1")
    assert pred["metric"] == "r2" and set(pred["errors"]) == {"mae", "rmse", "max_abs", "median_abs"}
    assert pred["score"] == pytest.approx(st["test_score"])
    listing = json.loads((main(["builds", "--json"]), capsys.readouterr().out)[1])
    assert [b["name"] for b in listing] == ["r1"]
    out = tmp_path / "model.joblib"
    assert main(["export", "r1", str(out)]) == 0
    model = joblib.load(out)
    assert type(model).__name__ == "RandomForestRegressor" and model.n_estimators == 10


def test_human_output_has_table_and_summary(home, capsys):
    assert main(["build", "h1", "--data", "wine", "-t", "6", "-g", "3", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "groves of h1" in out and "test accuracy" in out and "estimate" in out
    assert main(["status", "h1", "--groves"]) == 0
    assert "billed" in capsys.readouterr().out


def test_sync_flag_runs_in_the_driver_process(home, capsys):
    doc = run_json(capsys, "build", "s1", "--data", "iris", "-t", "6", "-g", "2", "-s")
    assert doc["state"] == "done"
    log = (home / "builds" / "s1" / "lambda.log").read_text()
    assert log.count("REPORT RequestId:") == 3


def test_status_of_a_running_build_from_another_process(home):
    env = {**os.environ, "LAMFOREST_HOME": str(home)}
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lamforest.cli",
            "build",
            "live",
            "--data",
            "synthetic:20000x30:3",
            "-t",
            "40",
            "-g",
            "4",
            "--json",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and driver.poll() is None:
            p = subprocess.run(
                [sys.executable, "-m", "lamforest.cli", "status", "live", "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if p.returncode == 0:
                doc = json.loads(p.stdout)
                seen.add(doc["state"])
                if doc["state"] == "running" and doc["groves"]["done"] >= 1:
                    assert doc["groves"]["total"] == 10
                    break
            time.sleep(0.2)
        assert "running" in seen, seen
        cancel = subprocess.run(
            [sys.executable, "-m", "lamforest.cli", "cancel", "live"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cancel.returncode == 0 and "cancel requested" in cancel.stdout
        out, _ = driver.communicate(timeout=300)
        assert driver.returncode == 3  # cancelled
        assert json.loads(out)["state"] == "cancelled"
    finally:
        if driver.poll() is None:
            driver.kill()


def test_budget_below_the_estimate_refuses_the_build_before_anything_is_written(home, capsys):
    # (a budget the estimate allows but the actuals pass is stopped mid-build: test_tui_search, test_jobs_aws)
    argv = ["build", "cheap", "--data", "digits", "-t", "40", "-g", "5", "--workers", "2", "--max-cost", "0.0000001"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_cost" in err and "projected cost $" in err
    assert not (home / "builds" / "cheap").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npz", "npy"])
def test_file_datasets(home, capsys, tmp_path, fmt):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    path = tmp_path / f"d.{fmt}"
    target = ["--target", "label"]
    if fmt == "csv":
        lines = ["a,b,c,d,label"] + [",".join(f"{v:.5f}" for v in row) + f",{t}" for row, t in zip(X, y, strict=True)]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({**{c: X[:, i] for i, c in enumerate("abcd")}, "label": y}), path)
    elif fmt == "npz":
        np.savez(path, X=X, y=y)
        target = []
    else:
        np.save(path, np.column_stack([X, y]))
        target = []
    doc = run_json(capsys, "build", f"f-{fmt}", "--data", str(path), *target, "-t", "6", "-g", "3", "-s")
    assert doc["state"] == "done" and doc["task"] == "classification"
    assert doc["test_score"] > 0.75


def test_synthetic_data_is_learnable(home, capsys):
    doc = run_json(capsys, "build", "syn", "--data", "synthetic:3000x20:4", "-t", "10", "-g", "5", "-s")
    assert doc["test_score"] > 0.6  # 4 classes: chance is 0.25


def test_unknown_build_is_a_clear_error(home, capsys):
    assert main(["status", "ghost"]) == 1
    assert "no build named 'ghost'" in capsys.readouterr().err


def test_finish_on_a_done_build_is_a_no_op(home, capsys):
    assert main(["build", "fin", "--data", "iris", "-t", "4", "-g", "2", "-s", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    again = run_json(capsys, "finish", "fin")
    assert again["_exit"] == 0 and again["test_score"] == first["test_score"]


def test_backend_options_before_or_after_the_command(home, capsys, tmp_path):
    other = tmp_path / "other-home"
    assert main(["--home", str(other), "build", "x", "--data", "iris", "-t", "2", "-g", "1", "-s", "--json"]) == 0
    capsys.readouterr()
    assert (other / "builds" / "x" / "model.tree").is_file()
    assert main(["builds", "--home", str(other), "--json"]) == 0
    assert [b["name"] for b in json.loads(capsys.readouterr().out)] == ["x"]
    assert main(["--backend", "local", "builds", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # $LAMFOREST_HOME is empty
