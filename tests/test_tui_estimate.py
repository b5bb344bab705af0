"""The new-build form shows the Lambda estimate as its fields change, from cached sample measurements."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from lamforest.backend import open_backend
from lamforest.driver.estimate import cache_dir
from lamforest.driver.sample import measure_sample
from lamforest.spec import BuildSpec
from lamforest_tui.app import LamforestApp
from tests.test_tui_allday import SIZE, open_form, until


async def test_the_form_estimates_from_a_cached_sample_and_follows_the_fields(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache of its own: another test's sample of iris would be an estimate before this one measured any.
    monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path / "samples"))
    backend = open_backend("local", home=home)
    async with LamforestApp(backend).run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#in-dataset").value = "iris"  # type: ignore[attr-defined]
        await until(pilot, lambda: "no measured sample" in form.estimated, "the hint without a sample")
        assert "lamforest estimate" in form.estimated
        # A sample of iris with the form's parameters: the next change of a field estimates from it.
        measure_sample(form.spec().validated(), cache_dir(), budget_s=0.5, max_trees=4)
        form.query_one("#in-trees", Input).value = "120"
        await until(pilot, lambda: form.estimated.startswith("estimate on Lambda"), "an estimate")
        first = form.estimated
        assert "12 groves" in first and "$" in first
        form.query_one("#in-trees", Input).value = "1000"
        await until(pilot, lambda: "100 groves" in form.estimated, "the estimate to follow the trees field")
        form.query_one("#in-trees", Input).value = "0"  # invalid: no estimate rather than a wrong one
        await until(pilot, lambda: form.query_one("#estimate").render() is not None and not _shown(form), "cleared")
    backend.close()


def _shown(form: object) -> str:
    from textual.widgets import Static

    return str(form.query_one("#estimate", Static).content)  # type: ignore[attr-defined]


def test_a_sample_is_keyed_by_data_and_parameters() -> None:
    """The cache the form reads is the one `lamforest estimate` writes: another dataset has no sample."""
    from lamforest.estimate.project import quick_estimate

    assert quick_estimate(BuildSpec(name="x", data="wine", trees=10, grove=5).validated(), cache_dir()) is None
