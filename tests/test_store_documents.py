"""Each store document has one writer and one reader: what the worker, the driver and the TUI's fixtures
write reads back through the same checks, and a document whose fields are not of their types is refused
by name, never half believed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamforest import documents, driver, keys, records
from lamforest.backend import local_backend
from lamforest.cli import main
from lamforest.driver.plan import BrokenBuildError, read_summary
from lamforest_tui.testing import write_finished_build
from tests.helpers import build

SMALL = dict(data="iris", trees=4, grove=2, seed=3)


@pytest.fixture
def backend(home: Path):
    b = local_backend(home)
    yield b
    b.close()


def test_the_done_record_the_worker_writes_is_the_typed_one_and_reads_back(backend) -> None:
    assert build(backend, "rec", **SMALL).state == "done"
    rec = records.read_grove(backend.store, "rec", keys.grove_id(1), "done")
    blob = backend.store.get_bytes(keys.grove("rec", keys.grove_id(1)))
    assert rec["state"] == "done" and rec["grove"] == 1 and rec["trees"] == 2
    assert rec["sha256"] == documents_digest(blob) and rec["bytes"] == len(blob)
    assert rec["tree_bytes"] > 0 and rec["estimator"] == "RandomForestClassifier" and rec["rows"] > 0
    # Every field the worker wrote is one the type names: nothing chosen outside records.py.
    assert set(rec) <= set(records.GroveRecord.__annotations__)


def documents_digest(blob: bytes) -> str:
    import hashlib

    return hashlib.sha256(blob).hexdigest()


DONE = records.done_record(
    grove=0,
    trees=2,
    seed=3,
    attempt=1,
    request_id="r",
    started=1.0,
    load_ms=1.0,
    fit_ms=2.0,
    write_ms=3.0,
    bytes=100,
    sha256="0" * 64,
    max_memory_mb=99.0,
    n_jobs=1,
    rows=150,
    tree_bytes=4000,
    estimator="RandomForestClassifier",
)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"state": "failed"}, "its state is 'failed', its file name says 'done'"),
        ({"bytes": "many"}, "its bytes is 'many', not a whole number"),
        ({"grove": True}, "its grove is 'True', not a whole number"),
        ({"started": "noon"}, "its started is 'noon', not a time"),
        ({"sha256": 7}, "its sha256 is not text"),
    ],
)
def test_a_grove_record_of_the_wrong_shape_is_refused_naming_what(change: dict, why: str) -> None:
    raw = json.loads(json.dumps(DONE))  # as stored
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        records.parse_grove({**raw, **change}, "done")
    records.parse_grove(raw, "done")  # the record as written reads


def test_a_done_record_under_another_states_name_stops_the_driver_naming_it(home, backend, capsys) -> None:
    """Records are written whole: a done record whose content says another state is damaged or forged,
    and the driver says which file and the way out rather than take the grove as done."""
    assert build(backend, "named", **SMALL).state == "done"
    for key in (keys.summary("named"), keys.manifest("named"), keys.model("named")):
        backend.store.delete(key)  # back to "not finished"
    key = keys.state("named", keys.grove_id(1), "done")
    raw = json.loads(backend.store.get_bytes(key))
    backend.store.put_bytes(key, json.dumps({**raw, "state": "running"}).encode())
    assert main(["--home", str(home), "finish", "named", "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "g00001.done cannot be read" in err and "file name says 'done'" in err and "lamforest finish named" in err


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"state": "exploded"}, "its state 'exploded' is not one of done, failed, cancelled"),
        ({"test_score": "high"}, "its test_score is 'high', not a number"),
        ({"trees": 4.5}, "its trees is '4.5', not a whole number"),
        ({"model_sha256": 12}, "its model_sha256 is not text"),
        ({"failures": {}}, "its failures are not a list"),
        ({"memory": [1]}, "its memory is not an object"),
    ],
)
def test_a_summary_of_the_wrong_shape_is_refused_naming_what(change: dict, why: str) -> None:
    doc = documents.done_summary(
        test_score=0.9,
        metric="accuracy",
        oob_score=None,
        trees=4,
        groves=2,
        merge_s=0.0,
        wall_s=1.0,
        billed_ms=0.0,
        cost_usd=0.0,
        cost_is_estimate=True,
        failures=[],
        finished=2.0,
        memory={
            "driver_finish_peak_mb": 1.0,
            "driver_peak_is_phase": True,
            "worker_peak_mb": None,
            "worker_memory_mb": 1769,
        },
    )
    assert documents.parse_summary(json.dumps(doc)) == doc
    with pytest.raises(ValueError) as exc:
        documents.parse_summary(json.dumps({**doc, **change}))
    assert why in str(exc.value)


def test_a_summary_of_the_wrong_shape_is_a_broken_build_named_and_the_advice_works(home, backend, capsys) -> None:
    assert build(backend, "sum", **SMALL).state == "done"
    path = home / keys.summary("sum")
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "test_score": "high"}))
    with pytest.raises(BrokenBuildError) as exc:
        driver.status(backend, "sum")
    msg = str(exc.value)
    assert "summary.json cannot be read" in msg and "its test_score is 'high', not a number" in msg
    assert "lamforest finish sum" in msg
    assert main(["builds", "--json"]) == 0
    listed = {b["name"]: b["state"] for b in json.loads(capsys.readouterr().out)}
    assert listed["sum"] == "broken"
    path.unlink()  # the advice, followed literally
    assert main(["finish", "sum", "--workers", "1"]) == 0
    assert driver.status(backend, "sum").summary == documents.parse_summary(path.read_bytes())


def test_summaries_of_every_ending_read_back_through_the_one_reader(backend) -> None:
    assert build(backend, "ok", **SMALL).state == "done"
    done = documents.parse_summary(backend.store.get_bytes(keys.summary("ok")))
    assert done["state"] == "done" and done["trees"] == 4 and done["model_kind"] == "merged"
    failed = documents.end_summary(
        "failed",
        error="2 grove(s) failed",
        failures=[],
        wall_s=1.0,
        driven_s=1.0,
        trees_done=0,
        billed_ms=0.0,
        cost_usd=0.0,
        finished=2.0,
    )
    cancelled = documents.end_summary(
        "cancelled",
        reason=None,
        failures=[],
        wall_s=1.0,
        driven_s=1.0,
        trees_done=2,
        billed_ms=0.0,
        cost_usd=0.0,
        finished=2.0,
    )
    for doc in (failed, cancelled):
        assert documents.parse_summary(json.dumps(doc)) == doc
    assert "error" not in cancelled and cancelled["reason"] is None
    with pytest.raises(ValueError, match="give its error"):
        documents.end_summary(
            "failed", failures=[], wall_s=0, driven_s=0, trees_done=0, billed_ms=0, cost_usd=0, finished=0
        )


def test_the_tui_fixtures_write_through_the_same_writers(backend) -> None:
    plan = write_finished_build(backend.store, "fixture", groves=3, log=False)
    summary = read_summary(backend, "fixture")
    assert summary is not None and summary["state"] == "done" and summary["trees"] == plan.spec.trees
    st = driver.status(backend, "fixture")
    assert st.state == "done" and st.count("done") == 3
    for g in range(3):
        rec = records.read_grove(backend.store, "fixture", keys.grove_id(g), "done")
        assert rec["bytes"] == 250_000 and "sha256" not in rec  # no grove file: nothing to hash


def test_the_manifest_finish_writes_reads_back_and_one_of_the_wrong_shape_is_refused(home, backend, capsys) -> None:
    assert build(backend, "man", **SMALL).state == "done"
    raw = backend.store.get_bytes(keys.manifest("man"))
    doc = documents.parse_manifest(raw)
    assert doc["trees"] == 4 and [g["grove"] for g in doc["groves"]] == [0, 1] and "outputs" not in doc
    assert set(doc) <= set(documents.Manifest.__annotations__)
    for g in doc["groves"]:
        assert set(g) == set(documents.ManifestGrove.__annotations__)
    bad = json.loads(raw)
    bad["groves"][1]["bytes"] = "a lot"
    with pytest.raises(ValueError, match="grove entry 1: its bytes is 'a lot', not a whole number"):
        documents.parse_manifest(json.dumps(bad))
    (home / keys.manifest("man")).write_text(json.dumps(bad))
    assert main(["predict", "man"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "manifest.json cannot be read" in err and "not a whole number" in err and "lamforest finish man" in err
    (home / keys.manifest("man")).unlink()  # the advice, followed literally
    assert main(["finish", "man", "--workers", "1"]) == 0
    assert documents.parse_manifest(backend.store.get_bytes(keys.manifest("man"))) == doc


def test_a_lease_whose_fields_are_not_of_their_types_names_no_driver(backend) -> None:
    """A live driver writes whole, honest leases: a fresh one with a pid that is not a number is no sign
    of a driver, so the build is interrupted (resumable) rather than waited on."""
    import time

    from lamforest.spec import BuildSpec

    driver.create(backend, BuildSpec(name="lease", **SMALL))
    honest = documents.lease(renewed=time.time(), renew_s=5.0, gen=1, host="far", pid=4242)
    assert documents.parse_lease(json.dumps(honest)) == honest
    documents.write_lease(backend.store, "lease", honest)
    assert driver.status(backend, "lease").state != "interrupted"  # renewed just now, on another host
    backend.store.put_bytes(keys.lease("lease"), json.dumps({**honest, "pid": "4242"}).encode())
    with pytest.raises(ValueError, match="its pid is '4242'"):
        documents.parse_lease(backend.store.get_bytes(keys.lease("lease")))
    st = driver.status(backend, "lease")
    assert st.state == "interrupted" and "cannot be read" in str(st.error)


def test_the_claims_a_create_and_a_driver_write_read_back(backend) -> None:
    assert build(backend, "claims", **SMALL).state == "done"
    claim = documents.parse_name_claim(backend.store.get_bytes(keys.claim("claims")))
    assert claim["name"] == "claims" and isinstance(claim["pid"], int)
    taken = documents.parse_driver_claim(backend.store.get_bytes(keys.driver("claims", 1)))
    lease = documents.parse_lease(backend.store.get_bytes(keys.lease("claims")))
    assert taken["gen"] == lease["gen"] == 1 and taken["token"] == lease["token"] and lease["released"] is True
    assert set(taken) == set(lease) - {"renewed", "released"} | {"at"}


def test_job_records_read_through_one_checked_reader() -> None:
    done = records.job_record("done", grove=0, batch=2, request_id="r1", trees=4, rows=10, total_ms=1.0)
    trial = records.job_record("done", trial=3, params={"max_depth": 2}, score=0.9, metric="accuracy")
    failed = records.job_record("failed", op="scan", batch=1, shards=[0, 1], request_id=None, error="E", message="m")
    for rec, state in ((done, "done"), (trial, "done"), (failed, "failed")):
        assert records.parse_job(json.loads(json.dumps(rec)), state) == rec
    with pytest.raises(ValueError, match="its state is 'done', its file name says 'failed'"):
        records.parse_job(done, "failed")
    with pytest.raises(ValueError, match="its trial is '3', not a whole number"):
        records.parse_job({**trial, "trial": "3"}, "done")
    with pytest.raises(ValueError, match="its score is 'high', not a number"):
        records.parse_job({**trial, "score": "high"}, "done")
    with pytest.raises(ValueError, match="unknown job state"):
        records.job_record("running")


DOCUMENT_KEYS = ("summary", "manifest", "lease", "driver", "claim")
WRITES = ("put_json", "put_bytes", "create")


def _document_writes(path: Path) -> list[str]:
    """Calls that write a build's summary, manifest, lease or claims (``put_json(store, keys.summary(b),
    ...)`` and the like) in ``path``."""
    import ast

    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if func in WRITES and any(
            isinstance(a, ast.Call)
            and isinstance(a.func, ast.Attribute)
            and a.func.attr in DOCUMENT_KEYS
            and getattr(a.func.value, "id", "") == "keys"
            for a in node.args
        ):
            bad.append(f"{path.name}:{node.lineno}")
    return bad


def test_the_lint_catches_a_summary_written_by_hand(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('put_json(store, keys.summary(b), {"state": "done"})\nstore.create(keys.claim(b), blob)\n')
    assert _document_writes(sample) == ["sample.py:1", "sample.py:2"]


def test_only_documents_writes_the_builds_documents() -> None:
    repo = Path(__file__).resolve().parent.parent
    roots = (repo / "core" / "lamforest", repo / "tui" / "lamforest_tui")
    bad = [
        w for root in roots for p in sorted(root.rglob("*.py")) if p.name != "documents.py" for w in _document_writes(p)
    ]
    assert bad == []


def test_calibration_reads_summaries_through_the_one_reader_and_skips_a_forged_one(backend) -> None:
    from lamforest.driver.estimate import summaries

    assert build(backend, "honest", **SMALL).state == "done"
    forged = json.loads(backend.store.get_bytes(keys.summary("honest")))
    forged["wall_s"] = "a long time"  # a field of the wrong type: half believing it would skew the fit
    backend.store.put_bytes(keys.summary("forged"), json.dumps(forged).encode())
    backend.store.put_bytes(keys.summary("garbage"), b"{not json")
    read = dict(summaries(backend))
    assert set(read) == {"honest"}
    assert read["honest"] == documents.parse_summary(backend.store.get_bytes(keys.summary("honest")))
