"""A folder that behaves like the bucket: same keys, atomic writes (temp + rename)."""

from __future__ import annotations

import builtins
import os
import shutil
import tempfile
from pathlib import Path


class LocalStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({self.url!r})"

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid store key {key!r}")
        return self.root / key

    def _atomic_write(self, path: Path, write) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(self._path(key), lambda f: f.write(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as src:
            self._atomic_write(self._path(key), lambda f: shutil.copyfileobj(src, f, 1 << 20))

    def get_file(self, key: str, path: Path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise KeyError(key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as fsrc:
            self._atomic_write(path, lambda f: shutil.copyfileobj(fsrc, f, 1 << 20))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> dict[str, str]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        out: dict[str, str] = {}
        if not base.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith("."):  # temp files of writes in flight
                    continue
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                out[p.relative_to(self.root).as_posix()] = f"{st.st_mtime_ns}-{st.st_size}"
        return out

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def children(self, prefix: str) -> builtins.list[str]:  # `list` here is the method above
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        try:
            return sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
