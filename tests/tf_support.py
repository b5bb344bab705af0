"""Helpers to run the project's Terraform for real in a scratch copy of the tree.

Nothing here writes into the repository: the configuration is copied to a
temporary folder (with ``image/``, ``core/`` and ``.dockerignore`` linked beside
it, as the image hash reads them), provider endpoint overrides go into a
``*_override.tf`` file there, and the provider comes from an offline filesystem
mirror when one can be found.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO / "terraform"

# Services the configuration talks to; each gets an endpoint override.
SERVICES = ("s3", "sns", "sqs", "lambda", "iam", "ecr", "logs", "sts")

MIRROR_ENV = "LAMFOREST_TF_MIRROR"
# Roots searched (a few levels deep) for an unpacked provider mirror, i.e. a
# folder holding "registry.terraform.io/<namespace>/<type>/<version>/<os_arch>".
MIRROR_ROOTS = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt",
    "/usr/local/share",
    "/srv",
)
MIRROR_SEARCH_DEPTH = 3


def terraform_bin() -> str:
    found = shutil.which("terraform")
    if not found:
        raise RuntimeError("terraform is not on PATH; the Terraform tests need it")
    return found


def _has_aws_provider(mirror: Path) -> bool:
    return (mirror / "registry.terraform.io" / "hashicorp" / "aws").is_dir()


def find_provider_mirror() -> Path | None:
    """The offline provider mirror: named by $LAMFOREST_TF_MIRROR, else searched for."""
    named = os.environ.get(MIRROR_ENV)
    if named:
        path = Path(named).expanduser()
        if not _has_aws_provider(path):
            raise RuntimeError(f"{MIRROR_ENV}={named} holds no registry.terraform.io/hashicorp/aws")
        return path
    for root in MIRROR_ROOTS:
        base = Path(root).expanduser()
        if not base.is_dir():
            continue
        base_depth = len(base.parts)
        for dirpath, dirnames, _ in os.walk(base):
            here = Path(dirpath)
            if "registry.terraform.io" in dirnames and _has_aws_provider(here):
                return here
            if len(here.parts) - base_depth >= MIRROR_SEARCH_DEPTH:
                dirnames[:] = []
            else:
                # Never descend into big trees that cannot hold a mirror.
                dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in {"node_modules"}]
    return None


def cli_config(dest: Path) -> Path:
    """Write a Terraform CLI config file; with a mirror, providers come only from it."""
    mirror = find_provider_mirror()
    body = ""
    if mirror is not None:
        body = f"provider_installation {{\n  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n  }}\n}}\n"
    dest.write_text(body)
    return dest


def tf_env(cli_config_file: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config_file),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    env.pop("TF_DATA_DIR", None)
    env.pop("TF_WORKSPACE", None)
    if extra:
        env.update(extra)
    return env


def run_tf(
    workdir: Path, *args: str, env: Mapping[str, str], timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [terraform_bin(), f"-chdir={workdir}", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"terraform {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


def scratch_tree(dest: Path, *, copy_sources: bool = False) -> Path:
    """A copy of terraform/ with the image's inputs beside it; returns the terraform dir.

    The image's inputs are linked to the repository, or copied when a test
    means to change them (or must not see others' edits mid-run).
    """
    dest.mkdir(parents=True, exist_ok=True)
    workdir = dest / "terraform"
    shutil.copytree(
        TERRAFORM_DIR,
        workdir,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*_override.tf", "*.tfvars*"),
    )
    if copy_sources:
        caches = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(REPO / "image", dest / "image", ignore=caches)
        shutil.copytree(REPO / "core" / "lamforest", dest / "core" / "lamforest", ignore=caches)
        shutil.copy2(REPO / ".dockerignore", dest / ".dockerignore")
        # The image build command runs "the project's Python" from the checkout's .venv:
        # there, the environment running these tests (it has boto3).
        (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    else:
        (dest / "image").symlink_to(REPO / "image", target_is_directory=True)
        (dest / "core").symlink_to(REPO / "core", target_is_directory=True)
        (dest / ".dockerignore").symlink_to(REPO / ".dockerignore")
    return workdir


def write_moto_override(workdir: Path, endpoint: str, extra: str = "") -> Path:
    """Point the aws provider at a local AWS API (merged into versions.tf's provider block)."""
    endpoints = "\n".join(f"    {svc} = {json.dumps(endpoint)}" for svc in SERVICES)
    path = workdir / "moto_override.tf"
    path.write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n" + extra
    )
    return path


def moto_env(endpoint: str) -> dict[str, str]:
    """Environment for boto3 and for the image build command against the moto server."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def outputs(workdir: Path, env: Mapping[str, str]) -> dict[str, object]:
    proc = run_tf(workdir, "output", "-json", env=env, timeout=60)
    return {name: item["value"] for name, item in json.loads(proc.stdout).items()}


def plan(workdir: Path, env: Mapping[str, str]) -> tuple[int, list[tuple[str, str]]]:
    """`terraform plan -detailed-exitcode`: (exit code, [(address, action)] it would change).

    Exit code 0 means no changes, 2 means changes; the streamed JSON UI names them
    without a second `terraform show` (each run loads the provider's schema).
    """
    proc = run_tf(workdir, "plan", "-json", "-lock=false", "-detailed-exitcode", env=env, timeout=240, check=False)
    changes = []
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("type") == "planned_change":
            change = msg["change"]
            changes.append((change["resource"]["addr"], change["action"]))
        elif msg.get("@level") == "error":
            raise AssertionError(f"terraform plan: {msg.get('@message')}\n{json.dumps(msg.get('diagnostic'))}")
    if proc.returncode not in (0, 2):
        raise AssertionError(f"terraform plan exited {proc.returncode}\n{proc.stderr[-4000:]}")
    return proc.returncode, sorted(changes)


def plan_errors(workdir: Path, env: Mapping[str, str], *args: str) -> list[dict[str, object]]:
    """The error diagnostics of a `terraform plan` expected to fail (``summary``, ``detail``, ``snippet``...)."""
    proc = run_tf(workdir, "plan", "-json", "-lock=false", "-refresh=false", *args, env=env, timeout=240, check=False)
    errors = []
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("@level") == "error" and msg.get("type") == "diagnostic":
            errors.append(msg["diagnostic"])
    if proc.returncode != 1 or not errors:
        raise AssertionError(f"terraform plan exited {proc.returncode}, not with errors\n{proc.stderr[-4000:]}")
    return errors
