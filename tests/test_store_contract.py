"""One contract for every Store: the local folder and the S3 bucket (moto's server over HTTP).

The same tests run against both; S3-only error mapping is at the end.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lamforest.store import open_store
from lamforest.store.base import Store, StoreError, get_json, put_json
from lamforest.store.local import LocalStore
from lamforest.store.s3 import S3Store


def _new_bucket() -> str:
    name = f"lf-contract-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        request.getfixturevalue("aws_env")
        yield S3Store(_new_bucket())


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.url


def test_put_get_roundtrip_and_json(store: Store) -> None:
    store.put_bytes("builds/b1/spec.json", b'{"a": 1}')
    assert store.get_bytes("builds/b1/spec.json") == b'{"a": 1}'
    put_json(store, "builds/b1/state/g00000.done", {"grove": 0, "state": "done"})
    assert get_json(store, "builds/b1/state/g00000.done") == {"grove": 0, "state": "done"}
    big = bytes(range(256)) * 5000
    store.put_bytes("data/x/X.npy", big)
    assert store.get_bytes("data/x/X.npy") == big


def test_missing_key_is_keyerror(store: Store, tmp_path: Path) -> None:
    with pytest.raises(KeyError) as exc:
        store.get_bytes("builds/nope/spec.json")
    assert exc.value.args == ("builds/nope/spec.json",)
    (tmp_path / "dl").mkdir()
    with pytest.raises(KeyError):
        store.get_file("builds/nope/X.npy", tmp_path / "dl" / "X.npy")
    assert not (tmp_path / "dl" / "X.npy").exists()
    assert list((tmp_path / "dl").iterdir()) == []  # no temp file left behind
    assert store.exists("builds/nope/spec.json") is False


def test_invalid_keys_are_rejected(store: Store) -> None:
    for bad in ("", "/abs", "a/../b"):
        with pytest.raises(ValueError):
            store.put_bytes(bad, b"x")


def test_exists_and_delete_is_idempotent(store: Store) -> None:
    store.put_bytes("builds/b/CANCEL", b"{}")
    assert store.exists("builds/b/CANCEL")
    store.delete("builds/b/CANCEL")
    assert not store.exists("builds/b/CANCEL")
    store.delete("builds/b/CANCEL")  # already gone: no error


def test_list_by_prefix_and_versions_change_on_rewrite(store: Store) -> None:
    keys = [f"builds/b/state/g{i:05d}.done" for i in range(7)] + ["builds/b/spec.json", "builds/bb/spec.json"]
    for k in keys:
        store.put_bytes(k, k.encode())
    listing = store.list("builds/b/")
    assert sorted(listing) == sorted(k for k in keys if k.startswith("builds/b/"))
    assert set(store.list("builds/b/state")) == {k for k in keys if "/state/" in k}
    assert set(store.list("")) >= set(keys)
    assert store.list("builds/none/") == {}
    before = listing["builds/b/spec.json"]
    store.put_bytes("builds/b/spec.json", b"rewritten, longer than before")
    after = store.list("builds/b/")
    assert after["builds/b/spec.json"] != before
    assert after["builds/b/state/g00003.done"] == listing["builds/b/state/g00003.done"]


def test_list_and_children_are_paginated(store: Store) -> None:
    # S3 returns at most 1000 keys per LIST page; a page of 7 makes 40 keys take six pages.
    pages: list[int] = []
    if isinstance(store, S3Store):
        store.page_size = 7
        store.client.meta.events.register("after-call.s3.ListObjectsV2", lambda **kw: pages.append(1))
    keys = [f"builds/p{i % 10}/state/g{i:05d}.done" for i in range(40)]
    for k in keys:
        store.put_bytes(k, b"1")
    assert sorted(store.list("builds/")) == sorted(keys)
    assert store.children("builds/") == [f"p{i}" for i in range(10)]
    if isinstance(store, S3Store):
        assert len(pages) == 6 + 2  # 40 keys / 7, then 10 common prefixes / 7


def test_children_are_immediate_folders(store: Store) -> None:
    for k in ("builds/b2/spec.json", "builds/b1/spec.json", "builds/b1/state/g00000.done", "data/abc/X.npy"):
        store.put_bytes(k, b"1")
    assert store.children("builds/") == ["b1", "b2"]
    assert store.children("builds") == ["b1", "b2"]
    assert store.children("") == ["builds", "data"]
    assert store.children("builds/b1/") == ["state"]
    assert store.children("nothing/") == []


def test_get_file_writes_whole_file(store: Store, tmp_path: Path) -> None:
    payload = b"\x93NUMPY" + bytes(300_000)
    store.put_bytes("data/h/X.npy", payload)
    dest = tmp_path / "cache" / "data" / "h" / "X.npy"
    store.get_file("data/h/X.npy", dest)
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["X.npy"]
    src = tmp_path / "up.bin"
    src.write_bytes(payload[::-1])
    store.put_file("data/h/y.npy", src)
    assert store.get_bytes("data/h/y.npy") == payload[::-1]


def test_no_partial_objects_under_concurrent_rewrites(store: Store) -> None:
    """A reader sees the whole old object or the whole new one, never a mix or a prefix."""
    a, b = b"A" * 200_000, b"B" * 150_000
    store.put_bytes("builds/c/model.tree", a)
    stop = threading.Event()
    errors: list[Any] = []

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 200:
            store.put_bytes("builds/c/model.tree", b if i % 2 == 0 else a)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(40):
            got = store.get_bytes("builds/c/model.tree")
            if got not in (a, b):
                errors.append(len(got))
    finally:
        stop.set()
        t.join(timeout=30)
    assert not t.is_alive()
    assert errors == []


def test_create_writes_only_a_new_key(store: Store) -> None:
    assert store.create("builds/n/claim.json", b"first") is True
    assert store.create("builds/n/claim.json", b"second, longer") is False
    assert store.get_bytes("builds/n/claim.json") == b"first"  # the loser changed nothing
    assert list(store.list("builds/n/")) == ["builds/n/claim.json"]  # and left no temp file
    store.delete("builds/n/claim.json")
    assert store.create("builds/n/claim.json", b"again") is True  # a freed name can be taken again
    assert store.get_bytes("builds/n/claim.json") == b"again"


def test_deleting_the_last_key_of_a_folder_leaves_no_folder(store: Store) -> None:
    store.put_bytes("builds/keep/spec.json", b"1")
    store.put_bytes("builds/gone/state/g00000.running", b"1")
    store.delete("builds/gone/state/g00000.running")
    assert store.children("builds/") == ["keep"]  # as in a bucket, where folders are only key prefixes
    store.put_bytes("builds/gone/state/g00000.done", b"2")  # and writing there again works
    assert store.get_bytes("builds/gone/state/g00000.done") == b"2"


def test_create_is_exclusive_among_concurrent_writers(store: Store) -> None:
    """Eight threads race for each of five keys: exactly one wins each, and its content is what is stored."""
    start = threading.Barrier(8)
    wins: dict[str, list[int]] = {}
    lock = threading.Lock()

    def racer(i: int) -> None:
        start.wait(timeout=30)
        for k in range(5):
            key = f"builds/race{k}/claim.json"
            if store.create(key, f"writer {i} ".encode() * 5000):
                with lock:
                    wins.setdefault(key, []).append(i)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(wins) == [f"builds/race{k}/claim.json" for k in range(5)]
    for key, winners in wins.items():
        assert len(winners) == 1, (key, winners)
        assert store.get_bytes(key) == f"writer {winners[0]} ".encode() * 5000
    assert sorted(store.list("builds/")) == sorted(wins)  # no temp files left by the losers


def test_local_path_is_only_for_folders(store: Store) -> None:
    store.put_bytes("data/z/X.npy", b"1")
    path = store.local_path("data/z/X.npy")
    if isinstance(store, S3Store):
        assert path is None
    else:
        assert path is not None and path.read_bytes() == b"1"


# --------------------------------------------------------------------------- S3 only


def test_open_store_s3_url(aws_env: str) -> None:
    bucket = _new_bucket()
    store = open_store(f"s3://{bucket}")
    assert isinstance(store, S3Store) and store.url == f"s3://{bucket}"


def test_missing_bucket_is_a_clear_store_error(aws_env: str) -> None:
    store = S3Store("lf-no-such-bucket-here")
    for call in (
        lambda: store.get_bytes("a"),
        lambda: store.list("builds/"),
        store.check,
        lambda: store.put_bytes("a", b"1"),
    ):
        with pytest.raises(StoreError, match=r"does not exist — run `terraform apply`.*LAMFOREST_BUCKET"):
            call()


def test_no_credentials_is_a_clear_store_error(aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata endpoint
    with pytest.raises(StoreError, match="no AWS credentials"):
        S3Store("any-bucket").get_bytes("k")


def test_access_denied_is_a_clear_store_error(aws_env: str) -> None:
    """The server answers 403 AccessDenied (injected through botocore's own before-send hook)."""
    from tests.aws_lambda_standin import canned_response

    store = S3Store(_new_bucket())
    body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    store.client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **kw: canned_response(request.url, 403, body)
    )
    with pytest.raises(StoreError, match=r"access denied: GET s3://.*/builds/x/spec.json"):
        store.get_bytes("builds/x/spec.json")
