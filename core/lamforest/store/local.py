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

    @staticmethod
    def _temp(path: Path) -> tuple[int, str]:
        """A temp file beside ``path``; its folder is made again if a ``delete`` just pruned it."""
        for _ in range(3):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            except FileNotFoundError:
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")

    def _atomic_write(self, path: Path, write) -> None:
        fd, tmp = self._temp(path)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(self._path(key), lambda f: f.write(data))

    def create(self, key: str, data: bytes) -> bool:
        """Write a temp file, then hard-link it to the key: ``link`` fails if the name exists (exclusive),
        and the file it names is already whole."""
        path = self._path(key)
        fd, tmp = self._temp(path)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True

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
        # os.scandir and plain strings: watchers list a build's prefix several times a second,
        # and Path objects per entry cost ~3x the time of the directory scan itself.
        cut = len(str(self.root)) + 1  # every entry's path is the root's, a separator, then the key
        stack = [str(base)]
        while stack:
            folder = stack.pop()
            try:
                entries = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):  # temp files of writes in flight
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                            continue
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    key = entry.path[cut:].replace(os.sep, "/")
                    out[key] = f"{st.st_mtime_ns}-{st.st_size}"
        return out

    def delete(self, key: str) -> None:
        """Remove the file, then the folders it leaves empty (a bucket has no empty folders either)."""
        path = self._path(key)
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone): stop
                break
            parent = parent.parent

    def children(self, prefix: str) -> builtins.list[str]:  # `list` here is the method above
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        try:
            return sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
