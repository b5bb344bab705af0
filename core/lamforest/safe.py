"""Safe model files: skops instead of pickle, and a loader that refuses types it was not told to trust.

A joblib/pickle file can run any code when it is loaded; a model fetched from
a bucket is only as trustworthy as everyone who can write to that bucket.
skops stores the estimator as a schema of plain types and loads only types
it trusts. scikit-learn estimators are trusted by skops itself; the one type
a forest needs beyond them is the Cython tree, which we allow by name:
``ALLOWED_TYPES``. Anything else found in a file is refused, by name, before
any object is built.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

# What a RandomForest*/ExtraTrees* file holds beyond what skops trusts by default (checked for
# scikit-learn 1.6-1.9: every forest class reports exactly this one).
ALLOWED_TYPES: frozenset[str] = frozenset({"sklearn.tree._tree.Tree"})
SKOPS_SUFFIX = ".skops"


class UntrustedModelError(ValueError):
    """A model file holds types outside ``ALLOWED_TYPES``; ``types`` lists them."""

    def __init__(self, types: list[str], where: str) -> None:
        self.types = types
        super().__init__(
            f"{where}: refusing to load untrusted type(s) {', '.join(types)}; a lamforest model holds only "
            f"scikit-learn forests and {', '.join(sorted(ALLOWED_TYPES))}"
        )


def dumps(model: Any) -> bytes:
    """The model as skops bytes (deflate-compressed zip)."""
    import skops.io as sio

    buf = io.BytesIO()
    sio.dump(model, buf, compression=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def dump(model: Any, path: Path | str) -> Path:
    """Write the model as a ``.skops`` file; return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(dumps(model))
    tmp.replace(path)
    return path


def untrusted_types(data: bytes) -> list[str]:
    """Types in a skops blob that skops would not load by default (without loading anything)."""
    import skops.io as sio

    return sorted(sio.get_untrusted_types(data=data))


def load(source: Path | str | bytes) -> Any:
    """Load a skops model from a path or bytes, refusing any type outside ``ALLOWED_TYPES``.

    Raises ``UntrustedModelError`` naming the refused types; nothing from the file is
    instantiated in that case.
    """
    import skops.io as sio

    if isinstance(source, bytes | bytearray):
        data, where = bytes(source), "model bytes"
    else:
        data, where = Path(source).read_bytes(), str(source)
    try:
        found = untrusted_types(data)
    except zipfile.BadZipFile:
        raise ValueError(f"{where}: not a skops file (expected a zip archive)") from None
    refused = [t for t in found if t not in ALLOWED_TYPES]
    if refused:
        raise UntrustedModelError(refused, where)
    return sio.loads(data, trusted=found)
