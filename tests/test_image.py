"""The Lambda image: its recipe, and its entry point run the way Lambda runs it.

No Docker here. Instead the image's layout is rebuilt in a temporary task root
(``core/lamforest`` copied to ``<root>/lamforest``, as the Dockerfile does),
and ``awslambdaric`` (the runtime client of the Lambda base images) runs
``lamforest.worker.handler`` against a small Runtime API server in this test,
with an import guard that refuses every top-level module the image does not
install. The handler uses a local folder store (``LAMFOREST_HOME``), so no S3.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "image" / "Dockerfile"
REQUIREMENTS = REPO / "image" / "requirements.txt"
HANDLER = "lamforest.worker.handler"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:lamforest"
WAIT_S = 120  # ceiling for any one invocation (the first one imports scikit-learn)


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{line!r} is not pinned exactly"
            pins[req.name.lower()] = spec.version
    return pins


# --------------------------------------------------------------------------- the recipe


def test_dockerfile_is_the_lambda_recipe() -> None:
    text = DOCKERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    base = re.search(r"^ARG PYTHON_VERSION=(3\.1[23])$", text, re.M)
    assert base, "the image is on the Lambda Python 3.12 or 3.13 base image"
    assert "FROM public.ecr.aws/lambda/python:${PYTHON_VERSION}" in instructions
    assert 'COPY --chmod=0755 core/lamforest "${LAMBDA_TASK_ROOT}/lamforest"' in instructions
    assert instructions[-1] == f'CMD ["{HANDLER}"]'
    # Only the requirements and the package come from the context.
    copies = [line.split()[-2] for line in instructions if line.startswith("COPY")]
    assert copies == ["image/requirements.txt", "core/lamforest"]


def test_requirements_are_pinned_and_agree_with_the_project() -> None:
    pins = pinned_requirements()
    assert {"scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl", "lz4", "boto3"} <= set(pins)
    # Closed: everything a pinned package requires is pinned too. Only the installed
    # metadata can be read offline, so this checks the pins the environment has installed
    # (boto3 releases daily); the pip step's resolution below checks every pin on the index.
    for name in pins:
        if md.version(name) != pins[name]:
            continue
        for dep in md.requires(name) or []:
            req = Requirement(dep)
            if req.marker is None or req.marker.evaluate({"extra": "", "python_version": "3.12"}):
                assert req.name.lower() in pins, f"{name} needs {req.name}, which is not pinned"
                assert req.specifier.contains(pins[req.name.lower()]), (name, req, pins[req.name.lower()])
    # Each pin satisfies the project's own dependency range (pyproject.toml).
    for dep in md.requires("lamforest") or []:
        req = Requirement(dep)
        if req.marker is None and req.name.lower() in pins:
            assert req.specifier.contains(pins[req.name.lower()]), (req, pins[req.name.lower()])


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_pip_step_resolves_to_wheels_on_both_architectures(arch: str, tmp_path: Path) -> None:
    """The image's pip step, resolved for the base image's Python on each Lambda architecture.

    ``--dry-run`` reads the index's metadata and downloads no wheel: every pin must have a
    binary wheel for the platform (the step runs with ``--only-binary=:all:``), and the
    resolution must install exactly the pins, nothing else.
    """
    python = re.search(r"^ARG PYTHON_VERSION=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert python
    report = tmp_path / "report.json"
    platforms = [f"--platform={tag}_{arch}" for tag in ("manylinux_2_28", "manylinux_2_27", "manylinux2014")]
    proc = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            f"--report={report}", "--only-binary=:all:", f"--python-version={python.group(1)}",
            "--implementation=cp", *platforms, f"--target={tmp_path / 'target'}", "-r", str(REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    installs = json.loads(report.read_text())["install"]
    resolved = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}
    assert resolved == pinned_requirements()
    cp = "cp" + python.group(1).replace(".", "")
    for item in installs:
        wheel = item["download_info"]["url"].rsplit("/", 1)[-1]
        assert wheel.endswith(".whl"), wheel
        *_, py_tag, abi_tag, platform_tag = wheel[: -len(".whl")].split("-")
        # Pure Python, or built for this architecture and this CPython (or its stable ABI).
        assert platform_tag == "any" or (arch in platform_tag and (cp in py_tag.split(".") or abi_tag == "abi3")), wheel


def test_dockerignore_keeps_the_context_to_the_image_inputs() -> None:
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "*", "everything is excluded first"
    assert sorted(r for r in rules if r.startswith("!")) == ["!core/lamforest/", "!image/requirements.txt"]
    assert {"**/__pycache__", "**/*.pyc"} <= set(rules)


# --------------------------------------------------------------------------- a Runtime API


@dataclass
class RuntimeAPI:
    """Just enough of the Lambda Runtime API for one execution environment."""

    pending: queue.Queue = field(default_factory=queue.Queue)
    results: queue.Queue = field(default_factory=queue.Queue)
    closing: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    def invoke(self, event: Any) -> str:
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, json.dumps(event).encode()))
        return request_id

    def result(self) -> tuple[str, str, dict[str, Any], dict[str, str]]:
        """(request id or 'init', 'response' | 'error', body, lowercased headers) of the next outcome."""
        try:
            return self.results.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"no result from the runtime within {WAIT_S} s") from None

    def start(self) -> str:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                # Long poll, as Lambda does; bounded so nothing outlives the test.
                deadline = time.monotonic() + 2 * WAIT_S
                while not api.closing.is_set() and time.monotonic() < deadline:
                    try:
                        request_id, body = api.pending.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 900) * 1000)))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                # Closing: the runtime is being stopped; just hang up.
                self.close_connection = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                m = re.fullmatch(r"/2018-06-01/runtime/(?:invocation/([^/]+)/(response|error)|init/(error))", self.path)
                if not m:
                    self.send_error(404)
                    return
                request_id, kind = (m.group(1), m.group(2)) if m.group(1) else ("init", "error")
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                api.results.put((request_id, kind, body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"OK"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def stop(self) -> None:
        self.closing.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


# What the image has: its pinned requirements and everything they pull in, the
# runtime client of the base image, the standard library, and lamforest.
def image_modules() -> set[str]:
    top_level = md.packages_distributions()  # module -> [distribution]
    by_dist: dict[str, set[str]] = {}
    for module, dists in top_level.items():
        for dist in dists:
            by_dist.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    seen: set[str] = set()
    todo = [*pinned_requirements(), "awslambdaric"]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for dep in md.requires(name) or []:
            req = Requirement(dep)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    allowed = set(sys.stdlib_module_names) | {"lamforest", "runtime_client"}
    for dist in seen:
        allowed |= by_dist.get(dist, set())
    return allowed


BOOT = r"""
import importlib.abc, json, os, sys

allowed = set(json.loads(os.environ.pop("IMAGE_MODULES")))

class NotInImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        # _sysconfigdata_*: the interpreter's own build data, part of any Python.
        if top not in allowed and not top.startswith("_sysconfigdata"):
            raise ModuleNotFoundError(f"No module named {name!r} (not installed in the image)", name=name)
        return None

sys.meta_path.insert(0, NotInImage())

import lamforest
root = os.environ["LAMBDA_TASK_ROOT"]
if not os.path.realpath(lamforest.__file__).startswith(os.path.realpath(root) + os.sep):
    sys.exit(f"lamforest came from {lamforest.__file__}, not from the task root {root}")

from awslambdaric.__main__ import main
main(sys.argv)
"""


@dataclass
class Environment:
    api: RuntimeAPI
    home: Path
    task_root: Path
    events: list[dict[str, Any]]
    proc: subprocess.Popen


@pytest.fixture
def lambda_environment(tmp_path: Path) -> Iterator[Environment]:
    from lamforest import driver
    from lamforest.backend import local_backend
    from lamforest.spec import BuildSpec

    # A real, tiny build in a local store: its train set and spec, no groves yet.
    home = tmp_path / "store"
    backend = local_backend(home)
    try:
        plan = driver.create(backend, BuildSpec(name="image-test", data="iris", trees=4, grove=2, seed=7))
    finally:
        backend.close()
    events = [task.to_event() for task in plan.events()]

    # The image's layout: the package alone under the task root.
    task_root = tmp_path / "task"
    shutil.copytree(
        REPO / "core" / "lamforest", task_root / "lamforest", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )

    api = RuntimeAPI()
    address = api.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMFOREST_", "AWS_", "PYTHON"))}
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": address,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": "lamforest",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": "us-east-1",
            "LAMFOREST_HOME": str(home),
            "IMAGE_MODULES": json.dumps(sorted(image_modules())),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOT, HANDLER],
        cwd=task_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Environment(api=api, home=home, task_root=task_root, events=events, proc=proc)
    finally:
        api.stop()
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=20)


def sns(*events: dict[str, Any]) -> dict[str, Any]:
    """What SNS hands Lambda: one record per message."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:lamforest:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:lamforest",
                    "Subject": None,
                    "Message": json.dumps(event),
                    "Timestamp": "2025-01-01T00:00:00.000Z",
                    "MessageAttributes": {},
                },
            }
            for event in events
        ]
    }


def expect(env: Environment, request_id: str, kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    got_id, got_kind, body, headers = env.api.result()
    if got_id != request_id or got_kind != kind:
        env.proc.terminate()
        out = env.proc.communicate(timeout=20)[0]
        raise AssertionError(f"expected {kind} for {request_id}, got {got_kind} for {got_id}: {body}\n{out[-4000:]}")
    return body, headers


def test_handler_runs_under_the_lambda_runtime_client(lambda_environment: Environment) -> None:
    env = lambda_environment
    first, second = env.events
    gids = [f"g{e['grove']:05d}" for e in env.events]

    # 1. The default route: an SNS record (cold start: imports happen here).
    rid = env.api.invoke(sns(first))
    body, _ = expect(env, rid, "response")
    assert body["request_id"] == rid
    assert [(g["grove"], g["state"]) for g in body["groves"]] == [(0, "done")]

    # 2. A bare event, as a direct invoke delivers it (warm).
    rid = env.api.invoke(second)
    body, _ = expect(env, rid, "response")
    assert [(g["grove"], g["state"]) for g in body["groves"]] == [(1, "done")]

    # 3. Several SNS records redelivered (at least once): nothing is fitted twice.
    rid = env.api.invoke(sns(first, second))
    body, _ = expect(env, rid, "response")
    assert [(g["grove"], g["state"], g.get("duplicate")) for g in body["groves"]] == [
        (0, "done", True),
        (1, "done", True),
    ]

    # 4. A bad event (wrong version, in SNS) and a bare one missing a field: Lambda reports errors.
    for bad in (sns({**first, "v": 99}), {k: v for k, v in first.items() if k != "seed"}):
        rid = env.api.invoke(bad)
        body, headers = expect(env, rid, "error")
        assert body["errorType"] == "SpecError", body
        # The failing code is the copy in the task root, as in the image.
        cause = json.loads(headers["lambda-runtime-function-xray-error-cause"])
        assert cause["working_directory"] == str(env.task_root)
        assert all(p.startswith(f"{env.task_root}/lamforest/") for p in cause["paths"]), cause["paths"]

    # 5. The environment survived its errors and still works.
    rid = env.api.invoke(second)
    body, _ = expect(env, rid, "response")
    assert body["groves"][0]["duplicate"] is True
    assert env.proc.poll() is None

    # What the entry point wrote is a real build: the driver merges it into a forest.
    build_dir = env.home / "builds" / "image-test"
    for gid in gids:
        assert (build_dir / "groves" / f"{gid}.tree").is_file()
        assert (build_dir / "state" / f"{gid}.done").is_file()
    from lamforest import driver
    from lamforest.backend import local_backend

    backend = local_backend(env.home)
    try:
        status = driver.finish(backend, "image-test")
        model = driver.load_model(backend, "image-test")
    finally:
        backend.close()
    assert len(model.estimators_) == 4
    assert status.test_score is not None and status.test_score > 0.8


def test_init_error_is_reported(tmp_path: Path) -> None:
    """A handler that cannot be imported fails the init, as Lambda shows it."""
    api = RuntimeAPI()
    address = api.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMFOREST_", "AWS_", "PYTHON"))}
    env.update({"AWS_LAMBDA_RUNTIME_API": address})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "awslambdaric", "lamforest.no_such_module.handler"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
        request_id, kind, body, _ = api.result()
    finally:
        api.stop()
    assert proc.returncode != 0
    assert (request_id, kind) == ("init", "error")
    assert body["errorType"] == "Runtime.ImportModuleError", body
