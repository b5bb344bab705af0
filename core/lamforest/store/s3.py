"""A bucket that behaves like the local folder: same keys, one PUT per artifact.

S3 never shows a partial object: a PUT (or a multipart upload) becomes visible
whole when it completes, so writes here need no temp-and-rename dance. Reads
that land in a local file (``get_file``) do: they download to a temp file next
to the destination and rename it into place.

Thread safety: one ``S3Store`` may be shared by threads. boto3 *clients* are
thread-safe; *sessions* are not, so each store builds its client from its own
``boto3.session.Session`` (never the shared default session) and threads reuse
that client.

Errors: a missing key is ``KeyError(key)``, as the Store protocol says; a
missing bucket, denied access, missing credentials or an unreachable endpoint
is a ``StoreError`` whose message says what to do.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from lamforest.store.base import StoreError

# Short timeouts so a quitting TUI is never held by an in-flight call; standard
# retries (with backoff, throttling-aware) for every call.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=32,
)
# Objects up to this size go up in one PUT; larger ones as one multipart upload
# (also all-or-nothing: the object appears when the upload completes).
SINGLE_PUT_MAX = 64 << 20

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_TAKEN = {"PreconditionFailed", "ConditionalRequestConflict"}  # a conditional PUT lost: the key is someone's
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def make_client(service: str, config: Config | None = None, **kwargs: Any) -> Any:
    """A boto3 client on its own session (sessions are not thread-safe), standard retries.

    Region, credentials and ``AWS_ENDPOINT_URL`` are resolved by boto3 as usual.
    """
    return boto3.session.Session().client(service, config=config or CLIENT_CONFIG, **kwargs)


class S3Store:
    """The Store protocol on one S3 bucket (see ``lamforest.store.base.Store``)."""

    def __init__(self, bucket: str, *, client: Any = None, page_size: int = 1000) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid bucket name {bucket!r}")
        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self.client = client if client is not None else make_client("s3")
        self.page_size = page_size  # keys per LIST page (S3's maximum is 1000)

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r})"

    # ------------------------------------------------------------------ errors

    @contextlib.contextmanager
    def _errors(self, op: str, key: str | None = None) -> Iterator[None]:
        """Map botocore errors to KeyError (missing key) or StoreError (anything fatal)."""
        where = f"s3://{self.bucket}/{key}" if key else self.url
        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code == "NoSuchBucket" or (key is None and code in _MISSING_KEY):
                raise StoreError(
                    f"bucket {self.bucket!r} does not exist — run `terraform apply` in terraform/ "
                    f"or check LAMFOREST_BUCKET"
                ) from None
            if key is not None and code in _MISSING_KEY:
                raise KeyError(key) from None
            if code in _DENIED:
                raise StoreError(
                    f"access denied: {op} {where} ({code}) — check the credentials and the IAM "
                    f"policy of the role you are using"
                ) from None
            raise StoreError(f"S3 {op} {where} failed: {code} {err.get('Message', '')}".rstrip()) from exc
        except (NoCredentialsError, PartialCredentialsError):
            raise StoreError(
                "no AWS credentials found — set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "or run `aws configure`"
            ) from None
        except EndpointConnectionError as exc:
            raise StoreError(f"cannot reach S3 for {op} {where}: {exc}") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 {op} {where} failed: {exc}") from exc

    @staticmethod
    def _check(key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid store key {key!r}")
        return key

    @staticmethod
    def _dir(prefix: str) -> str:
        p = prefix.strip("/")
        return f"{p}/" if p else ""

    # ------------------------------------------------------------------ Store

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("PUT", key):
            self.client.put_object(Bucket=self.bucket, Key=self._check(key), Body=data)

    def create(self, key: str, data: bytes) -> bool:
        """A conditional PUT (``If-None-Match: *``): S3 refuses it with 412 when the key exists, and with
        409 when another conditional write of the key is in flight; either way someone else has it."""
        with self._errors("PUT", key):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self._check(key), Body=data, IfNoneMatch="*")
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in _TAKEN or status == 412:
                    return False
                raise
        return True

    def get_bytes(self, key: str) -> bytes:
        with self._errors("GET", key):
            resp = self.client.get_object(Bucket=self.bucket, Key=self._check(key))
            return resp["Body"].read()

    def put_file(self, key: str, path: Path) -> None:
        path = Path(path)
        with self._errors("PUT", key):
            if path.stat().st_size <= SINGLE_PUT_MAX:
                with open(path, "rb") as f:
                    self.client.put_object(Bucket=self.bucket, Key=self._check(key), Body=f)
            else:
                self.client.upload_file(str(path), self.bucket, self._check(key))

    def get_file(self, key: str, path: Path) -> None:
        """Download to a temp file beside ``path``, then rename: readers never see half a file.

        ``download_fileobj`` splits a large object into parallel ranged GETs (a train set of
        hundreds of MB arrives several times faster than one GET stream)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f, self._errors("GET", key):
                self.client.download_fileobj(self.bucket, self._check(key), f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        try:
            with self._errors("HEAD", key):
                self.client.head_object(Bucket=self.bucket, Key=self._check(key))
        except KeyError:
            return False
        return True

    def list(self, prefix: str) -> dict[str, str]:
        """Key -> ETag plus LastModified (a rewrite changes at least one of them)."""
        out: dict[str, str] = {}
        with self._errors("LIST", prefix or None):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=self._dir(prefix) if prefix.strip("/") else "",
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    out[obj["Key"]] = f"{obj['ETag'].strip(chr(34))}@{obj['LastModified'].timestamp():.6f}"
        return out

    def delete(self, key: str) -> None:
        with self._errors("DELETE", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._check(key))

    def children(self, prefix: str) -> builtins.list[str]:  # `list` here is the method above
        base = self._dir(prefix)
        names: set[str] = set()
        with self._errors("LIST", prefix or None):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/", PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                for cp in page.get("CommonPrefixes", []):
                    name = cp["Prefix"][len(base) :].rstrip("/")
                    if name:
                        names.add(name)
        return sorted(names)

    def local_path(self, key: str) -> Path | None:
        return None

    # ------------------------------------------------------------------ checks

    def check(self) -> None:
        """One cheap call (HeadBucket) that fails with a clear StoreError if the bucket is unusable."""
        with self._errors("HEAD"):
            self.client.head_bucket(Bucket=self.bucket)
