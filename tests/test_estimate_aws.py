"""The estimate on the AWS backend: moto with the suite's Lambda stand-in (see tests/aws_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamforest import cost, driver
from lamforest.backend.aws import _reserved
from lamforest.driver import estimate as est
from lamforest.estimate.calibrate import Observation
from lamforest.spec import BuildSpec
from tests.aws_fixtures import Rig, run_build

SPEC = BuildSpec(name="est-aws", data="iris", trees=10, grove=5, seed=3)


def test_estimate_and_bill_on_aws_are_priced_by_the_same_code(aws: Rig, tmp_path: Path) -> None:
    backend = aws.backend()
    try:
        e = est.estimate_spec(backend, SPEC, cache=tmp_path / "cache")
        assert e is not None and e.local is None  # no local pool: Lambda only
        lam = e.lam
        assert lam.backend == "aws" and lam.arch == "x86_64" and lam.concurrency == 1000
        assert lam.threads == 1 and lam.groves == 2
        # GB-seconds and cost of the projected billed ms, by the functions that price REPORT lines
        assert lam.gb_seconds == pytest.approx(cost.gb_seconds(lam.billed_ms, 1769), rel=1e-9)
        assert lam.cost_usd == pytest.approx(cost.price(lam.billed_ms, 1769, "x86_64", requests=2).usd, rel=1e-9)

        driver.create(backend, SPEC)
        est.record(backend, SPEC.name, lam)
        st = run_build(backend, SPEC.name)
        assert st.state == "done"
        reports = [r.report for r in st.rows if r.report]
        assert len(reports) == 2
        assert st.cost_usd == pytest.approx(cost.total_usd(reports, "x86_64"))  # the bill, same functions
        summary = st.summary
        assert summary is not None
        record = summary["estimate"]
        assert record["actual_cost_usd"] == pytest.approx(st.cost_usd)
        assert record["cost_usd"] == pytest.approx(lam.cost_usd)
        assert summary["init_ms"] and summary["init_ms"] > 0  # the stand-in's REPORT lines carry INIT
        obs = Observation.from_summary(SPEC.name, summary)
        assert obs is not None and obs.actual_billed_s == pytest.approx(st.billed_ms / 1000)

        # later estimates on this account take the cold start from its REPORT lines, and the speed of
        # its workers from the groves this build measured
        again = est.estimate_spec(backend, SPEC, cache=tmp_path / "cache", measure=False)
        assert again is not None
        assert again.lam.params.cold_start_ms == pytest.approx(summary["init_ms"])
        assert "Init Duration" in again.sources["cold_start_ms"]
        assert again.sources["cpu_scale"] == f"measured groves of build {SPEC.name!r} (2 groves)"
        fit_s = sorted(r.record["fit_ms"] / 1000 for r in st.rows)
        per_grove = again.sample.fit_fixed_s + 5 * (again.sample.fit_per_tree_s + again.sample.oob_per_tree_s)
        assert again.lam.params.cpu_scale == pytest.approx(sum(fit_s) / 2 / per_grove)

        cal = est.run_calibration(backend)  # on this account's builds: Lambda's parameters
        assert cal.builds == 1
        params, sources = est.lambda_params(backend)
        assert sources["cpu_scale"].startswith("calibrated") and params.cpu_scale == pytest.approx(cal.params.cpu_scale)
    finally:
        backend.close()


def test_concurrency_comes_from_the_flag_env_terraform_or_the_account_default(
    aws: Rig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _reserved(7) == 7 and _reserved(-1) is None and _reserved(None) is None
    backend = aws.backend()
    try:
        assert est.default_concurrency(backend)[0] == 1000
        backend.concurrency = 7  # as aws_backend sets it from the Terraform output
        assert est.default_concurrency(backend) == (7, "the function's reserved concurrency (Terraform outputs)")
        monkeypatch.setenv("LAMFOREST_CONCURRENCY", "50")
        assert est.default_concurrency(backend)[0] == 50
        assert est.lambda_params(backend, concurrency=3)[0].concurrency == 3
    finally:
        backend.close()
