"""Invariant 5: bad input is refused before anything is written, naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lamforest import driver
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.spec import BuildSpec, SpecError
from tests.helpers import store_files


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def refused(backend, field: str, match: str, **spec) -> SpecError:
    before = store_files(backend)
    with pytest.raises(SpecError) as info:
        driver.create(backend, BuildSpec(**{"name": "b1", **spec}))
    assert info.value.field == field, info.value
    assert match in str(info.value)
    assert store_files(backend) == before, "a refused build wrote to the store"
    return info.value


@pytest.mark.parametrize("trees", [0, -5])
def test_trees_zero_or_negative(backend, trees):
    refused(backend, "trees", "at least 1", trees=trees)


@pytest.mark.parametrize("trees", [2.5, "ten", None])
def test_trees_not_an_integer(backend, trees):
    refused(backend, "trees", "whole number", trees=trees)


def test_grove_larger_than_trees(backend):
    refused(backend, "grove", "larger than trees", trees=5, grove=10)


def test_unknown_model(backend):
    err = refused(backend, "model", "rf, et", model="xgboost")
    assert "xgboost" in str(err)


def test_unknown_task(backend):
    refused(backend, "task", "auto, classification, regression", task="clustering")


def test_unknown_param(backend):
    err = refused(backend, "param max_dept", "no parameter 'max_dept'", params={"max_dept": 3})
    assert "max_depth" in str(err)  # the valid names are listed


def test_invalid_param_value(backend):
    refused(backend, "param max_depth", "max_depth", params={"max_depth": -1})


def test_reserved_param(backend):
    refused(backend, "param n_estimators", "--trees", params={"n_estimators": 5})


@pytest.mark.parametrize("name", ["a/b", "..", "x..y", "has space", "", "-lead"])
def test_bad_build_name(backend, name):
    refused(backend, "name", "", name=name)


def test_existing_build_name(backend):
    driver.create(backend, BuildSpec(name="b1", data="iris", trees=2, grove=1))
    err = refused(backend, "name", "already exists", data="iris", trees=2, grove=1)
    assert "b1" in str(err)


def test_missing_file(backend, tmp_path):
    refused(backend, "data", "no such file", data=str(tmp_path / "nope.csv"), target="y")


def test_a_missing_folder_is_said_as_missing_even_when_predict_has_an_output(tmp_path, monkeypatch, capsys):
    from lamforest.cli import main

    monkeypatch.setenv("LAMFOREST_HOME", str(tmp_path / "home"))
    for argv in (
        ["build", "s", "--data", f"{tmp_path}/nonexist/", "--target", "label"],
        ["predict", "s", "--data", f"{tmp_path}/nonexist/", "--out", f"{tmp_path}/dir"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "error in data" in err and "nonexist: no such file or folder" in err, err
    assert not (tmp_path / "dir").exists() and not (tmp_path / "home" / "builds").exists()


def test_unknown_dataset(backend):
    refused(backend, "data", "unknown dataset", data="mnist_please")


def test_csv_without_the_target_column(backend, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    err = refused(backend, "target", "no column 'y'", data=str(p), target="y")
    assert "label" in str(err)  # the columns that exist are named


def test_csv_with_a_non_numeric_feature(backend, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,colour,y\n1,red,0\n3,blue,1\n5,red,0\n7,blue,1\n")
    refused(backend, "data", "'colour' is not numeric", data=str(p), target="y")


def test_nan_in_the_target(backend, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,\n5,6,1\n7,8,1\n")
    refused(backend, "target", "missing (NaN)", data=str(p), target="y")


def test_single_class_target(backend, tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.random.default_rng(0).normal(size=(20, 3)), y=np.ones(20, dtype=int))
    refused(backend, "target", "single class", data=str(p))


@pytest.mark.parametrize("size", [1, 1.5, -0.2, "half", float("nan")])
def test_test_size_outside_0_1(backend, size):
    refused(backend, "test_size", "[0, 1)", test_size=size, data="iris")


def test_empty_dataset(backend, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n")
    refused(backend, "data", "empty", data=str(p), target="y")


def test_memory_out_of_lambda_range(backend):
    refused(backend, "memory", "at most 10240", memory=20000)


def test_cli_names_the_field_and_writes_nothing(home, capsys):
    assert main(["build", "x", "-t", "0"]) == 2
    err = capsys.readouterr().err
    assert "trees" in err and "at least 1" in err
    assert store_files(home) == []


def test_cli_bad_param_syntax(home, capsys):
    assert main(["build", "x", "--param", "max_depth"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
