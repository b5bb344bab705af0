"""Shared fixtures.

AWS tests talk to a real local AWS API: moto's server, started in-process on a
free loopback port, with boto3 pointed at it through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# The fast tier (`make test-fast`, under a minute): unit, invariant and contract tests that
# start no worker pool of their own, no moto server, no Terraform and no TUI. `make test`
# runs everything, these included. A module joins by being named here, so the tier is
# chosen in one place and a new module is in the full run only until someone decides.
FAST_MODULES = frozenset(
    {
        "test_arena",
        "test_architecture",
        "test_bad_input",
        "test_data_files",
        "test_estimate",
        "test_invariants",
        "test_logs_cost",
        "test_predict_io",
        "test_safe",
        "test_schedule",
        "test_store_contract",
        "test_treefile",
        "test_tiers",
        "test_tune",
        "test_watch_cost",
        "test_worker",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rpartition(".")[2] in FAST_MODULES:
            item.add_marker(pytest.mark.fast)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server for the whole session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment for boto3 against the moto server: fake credentials, fixed region."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "LAMFOREST_BUCKET", "LAMFOREST_TOPIC_ARN", "LAMFOREST_FUNCTION"):
        monkeypatch.delenv(var, raising=False)
    return moto_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh local store folder, set as LAMFOREST_HOME."""
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("LAMFOREST_HOME", str(root))
    return root


@pytest.fixture(autouse=True)
def _estimate_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The estimate's samples describe this machine and live in the user's cache dir; not in tests.
    if "LAMFOREST_ESTIMATE_CACHE" not in os.environ:
        monkeypatch.setenv("LAMFOREST_ESTIMATE_CACHE", str(tmp_path_factory.getbasetemp() / "estimate-cache"))


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may reach a real AWS account by accident.
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if "AWS_ENDPOINT_URL" not in os.environ:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def shared_backend(tmp_path_factory: pytest.TempPathFactory):
    """One local backend for the session: its worker pool stays warm across builds,
    as it does for a user who runs several builds from one driver."""
    from lamforest.backend import local_backend

    backend = local_backend(tmp_path_factory.mktemp("shared-store"))
    yield backend
    backend.close()


_names = iter(range(1_000_000))


@pytest.fixture
def unique():
    """A fresh build name per call, for tests that share a store."""
    return lambda prefix="b": f"{prefix}-{next(_names)}"


# The AWS rig (an account provisioned in moto), for any test file that asks for ``aws``.
from tests.aws_fixtures import aws  # noqa: E402, F401
