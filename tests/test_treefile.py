"""Tree files (``lamforest.treefile``): exact round trips, and refusal of anything that is not one."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import joblib
import lz4.frame
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, ExtraTreeRegressor

from lamforest import treefile
from lamforest.treefile import TreeFileError

# ---------------------------------------------------------------- data and checks


def _classification(labels: str = "int", nan: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3, n_clusters_per_class=1, random_state=seed
    )
    if nan:
        X[np.random.default_rng(seed).random(X.shape) < 0.1] = np.nan
    if labels == "str":
        y = np.array(["cat", "dog", "emu"])[y]
    elif labels == "object":
        y = np.array(["cat", "dog", "emu"], dtype=object)[y]
    return X, y


def _regression(outputs: int = 1, nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=300, n_features=8, n_targets=outputs, noise=1.0, random_state=1)
    if nan:
        X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    return X, y


def _same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _assert_same_model(a: Any, b: Any, X: np.ndarray) -> None:
    """Same class, params, fitted attributes, tree arrays, and bit-equal outputs."""
    assert type(b) is type(a)
    assert b.get_params() == a.get_params()
    a_trees = getattr(a, "estimators_", [a])
    b_trees = getattr(b, "estimators_", [b])
    assert len(b_trees) == len(a_trees)
    for ta, tb in zip(a_trees, b_trees, strict=True):
        assert type(tb) is type(ta)
        assert tb.get_params() == ta.get_params()  # random_state differs tree to tree
        for attr in treefile.TREE_ATTRS:
            assert hasattr(tb, attr) == hasattr(ta, attr), attr
            if hasattr(ta, attr):
                assert _same_value(getattr(tb, attr), getattr(ta, attr)), attr
        sa, sb = ta.tree_.__getstate__(), tb.tree_.__getstate__()
        assert sb["max_depth"] == sa["max_depth"]
        assert sb["node_count"] == sa["node_count"]
        assert sb["nodes"].dtype == sa["nodes"].dtype
        assert sb["nodes"].tobytes() == sa["nodes"].tobytes()
        assert sb["values"].tobytes() == sa["values"].tobytes()
    if hasattr(a, "estimators_"):
        for attr in treefile.FOREST_ATTRS:
            assert hasattr(b, attr) == hasattr(a, attr), attr
            if hasattr(a, attr):
                assert _same_value(getattr(b, attr), getattr(a, attr)), attr
    assert np.array_equal(b.predict(X), a.predict(X))
    if hasattr(a, "predict_proba"):
        pa, pb = a.predict_proba(X), b.predict_proba(X)
        for x, y in zip(pa if isinstance(pa, list) else [pa], pb if isinstance(pb, list) else [pb], strict=True):
            assert x.tobytes() == y.tobytes()
    assert np.array_equal(b.apply(X), a.apply(X))
    path_a, path_b = a.decision_path(X), b.decision_path(X)
    if isinstance(path_a, tuple):  # forests also return each tree's column offsets
        assert np.array_equal(path_b[1], path_a[1])
        path_a, path_b = path_a[0], path_b[0]
    assert path_b.shape == path_a.shape
    assert (path_b != path_a).nnz == 0
    assert b.feature_importances_.tobytes() == a.feature_importances_.tobytes()


def _round_trip(model: Any, extra: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    blob = treefile.dumps(model, extra)
    assert blob.startswith(treefile.MAGIC)
    return treefile.loads(blob)


# ---------------------------------------------------------------- round trips

FORESTS = [RandomForestClassifier, ExtraTreesClassifier]
REGRESSORS = [RandomForestRegressor, ExtraTreesRegressor]


@pytest.mark.parametrize("labels", ["int", "str", "object"])
@pytest.mark.parametrize("cls", FORESTS)
def test_classifier_forests_round_trip_exactly(cls: type, labels: str) -> None:
    X, y = _classification(labels)
    model = cls(n_estimators=6, random_state=0).fit(X, y)
    loaded, extra = _round_trip(model)
    assert extra == {}
    assert loaded.classes_.dtype == model.classes_.dtype
    _assert_same_model(model, loaded, X)
    assert loaded.score(X, y) == model.score(X, y)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_regressor_forests_round_trip_exactly(cls: type) -> None:
    X, y = _regression()
    model = cls(n_estimators=6, random_state=0, max_depth=5, min_samples_leaf=2).fit(X, y)
    loaded, _ = _round_trip(model)
    _assert_same_model(model, loaded, X)
    assert loaded.score(X, y) == model.score(X, y)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_multi_output_regression_round_trips(cls: type) -> None:
    X, y = _regression(outputs=3)
    model = cls(n_estimators=4, random_state=0).fit(X, y)
    loaded, _ = _round_trip(model)
    assert loaded.predict(X).shape == (len(X), 3)
    _assert_same_model(model, loaded, X)


def test_multi_output_classification_with_string_labels_round_trips() -> None:
    X, y = _classification("str")
    Y = np.c_[y, np.where(X[:, 0] > 0, "hi", "lo")]
    model = ExtraTreesClassifier(n_estimators=4, random_state=0).fit(X, Y)
    loaded, _ = _round_trip(model)
    assert isinstance(loaded.classes_, list) and len(loaded.classes_) == 2
    _assert_same_model(model, loaded, X)


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier, RandomForestRegressor])
def test_nan_routing_survives(cls: type) -> None:
    """With NaN in the training data some splits send missing values left: that bit must survive."""
    X, y = _classification(nan=True) if "Classifier" in cls.__name__ else _regression(nan=True)
    model = cls(n_estimators=6, random_state=0).fit(X, y)
    assert any(t.tree_.missing_go_to_left.any() for t in model.estimators_), "the test needs left-going NaN"
    loaded, _ = _round_trip(model)
    _assert_same_model(model, loaded, X)
    assert any(t.tree_.missing_go_to_left.any() for t in loaded.estimators_)


def test_bootstrap_max_samples_oob_and_sample_weight_round_trip() -> None:
    X, y = _classification()
    w = np.random.default_rng(0).random(len(y)) + 0.5
    model = RandomForestClassifier(
        n_estimators=8, random_state=3, max_samples=0.7, max_depth=4, oob_score=True, class_weight={0: 1.0, 2: 3.0}
    ).fit(X, y, sample_weight=w)
    loaded, _ = _round_trip(model)
    _assert_same_model(model, loaded, X)
    assert loaded.get_params()["class_weight"] == {0: 1.0, 2: 3.0}  # int keys, not JSON's strings
    assert loaded.oob_score_ == model.oob_score_
    for sa, sb in zip(model.estimators_samples_, loaded.estimators_samples_, strict=True):
        assert np.array_equal(sa, sb)


def test_no_bootstrap_and_tuple_param_round_trip() -> None:
    X, y = _regression()
    model = ExtraTreesRegressor(
        n_estimators=3, random_state=0, bootstrap=False, monotonic_cst=(1, 0, 0, 0, 0, 0, 0, -1)
    )
    model.fit(X, y)
    loaded, _ = _round_trip(model)
    assert loaded.get_params()["monotonic_cst"] == (1, 0, 0, 0, 0, 0, 0, -1)
    _assert_same_model(model, loaded, X)


def test_feature_names_come_back_as_object_strings() -> None:
    X, y = _classification()
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    # What scikit-learn sets when fitted on a DataFrame (pandas is not installed here).
    model.feature_names_in_ = np.array([f"f{i}" for i in range(X.shape[1])], dtype=object)
    loaded, _ = _round_trip(model)
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == list(model.feature_names_in_)


def test_single_trees_round_trip() -> None:
    X, y = _classification("str", nan=True)
    tree = DecisionTreeClassifier(random_state=0, max_depth=7).fit(X, y)
    loaded, _ = _round_trip(tree)
    _assert_same_model(tree, loaded, X)
    Xr, yr = _regression()
    tree = ExtraTreeRegressor(random_state=0).fit(Xr, yr)
    loaded, _ = _round_trip(tree)
    _assert_same_model(tree, loaded, Xr)


def test_extra_values_round_trip_exactly() -> None:
    X, y = _classification()
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    rng = np.random.default_rng(5)
    oob_sum = rng.random((len(y), 3))
    oob_sum[0, 0] = np.nan
    extra = {
        "oob_sum": oob_sum,
        "oob_count": rng.integers(0, 9, len(y)),
        "mask": oob_sum[:, 1] > 0.5,
        "names": np.array(["a", "bb"]),
        "seed": 7,
        "scale": np.float32(0.25),
        "meta": {"trees": 3, "tags": ["x", None], "ratio": 0.5},
    }
    _, back = _round_trip(model, extra)
    assert back.keys() == extra.keys()
    for k in ("oob_sum", "oob_count", "mask", "names"):
        assert back[k].dtype == extra[k].dtype and back[k].shape == extra[k].shape, k
        assert back[k].tobytes() == extra[k].tobytes(), k
    assert back["seed"] == 7 and type(back["seed"]) is int
    assert type(back["scale"]) is np.float32 and back["scale"] == np.float32(0.25)
    assert back["meta"] == {"trees": 3, "tags": ["x", None], "ratio": 0.5}


# ---------------------------------------------------------------- refused at dump


def test_unsupported_estimators_are_refused_by_name() -> None:
    X, y = _classification()
    with pytest.raises(TreeFileError, match="GradientBoostingClassifier"):
        treefile.dumps(GradientBoostingClassifier(n_estimators=2).fit(X, y))

    class RandomForestClassifier_(RandomForestClassifier):
        pass

    RandomForestClassifier_.__name__ = "RandomForestClassifier"  # a subclass posing under an allowed name
    with pytest.raises(TreeFileError, match="cannot store"):
        treefile.dumps(RandomForestClassifier_(n_estimators=2).fit(X, y))


def test_unfitted_and_unstorable_values_are_refused() -> None:
    X, y = _classification()
    with pytest.raises(TreeFileError, match="not fitted"):
        treefile.dumps(RandomForestClassifier())
    model = RandomForestClassifier(n_estimators=2, random_state=np.random.RandomState(0)).fit(X, y)
    with pytest.raises(TreeFileError, match=r"random_state.*RandomState"):
        treefile.dumps(model)
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(TreeFileError, match=r"extra\['bad'\].*object"):
        treefile.dumps(model, {"bad": np.array([1, "a", None], dtype=object)})
    with pytest.raises(TreeFileError, match="extra keys"):
        treefile.dumps(model, {1: np.zeros(2)})


# ---------------------------------------------------------------- refused at load


class _Touch:
    """Unpickling this creates ``path``: a stand-in for any code a pickle could run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _refused(blob: bytes, match: str | None = None) -> str:
    with pytest.raises(TreeFileError, match=match) as info:
        treefile.loads(blob)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_a_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Touch(control)))
    assert control.exists(), "the payload must really run when unpickled"
    target = tmp_path / "pwned"
    _refused(pickle.dumps(_Touch(target)), "pickle")
    _refused(pickle.dumps(_Touch(target), protocol=0))
    assert not target.exists()


@pytest.mark.parametrize("compress", [("lz4", 1), 0])
def test_a_joblib_file_is_refused_and_never_runs(tmp_path: Path, compress: Any) -> None:
    buf = io.BytesIO()
    joblib.dump([_Touch(tmp_path / "control")], buf, compress=compress)
    joblib.load(io.BytesIO(buf.getvalue()))
    assert (tmp_path / "control").exists(), "the payload must really run when loaded by joblib"
    buf = io.BytesIO()
    joblib.dump([_Touch(tmp_path / "pwned")], buf, compress=compress)
    _refused(buf.getvalue(), "not a tree file")
    assert not (tmp_path / "pwned").exists()


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _container(records: list[bytes], version: int = treefile.FORMAT_VERSION) -> bytes:
    """Our preamble and lz4 frame around hand-made .npy records."""
    return treefile.MAGIC + version.to_bytes(2, "little") + lz4.frame.compress(b"".join(records))


def _header_record(header: dict[str, Any]) -> bytes:
    return _npy(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))


def test_a_pickled_record_inside_our_container_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    evil = _npy(np.array([_Touch(target)], dtype=object), allow_pickle=True)
    _refused(_container([_header_record({"members": ["v0"]}), evil]), "object")
    # ... and as the very first record, where the header belongs.
    _refused(_container([evil]), "object")
    assert not target.exists()


@pytest.fixture(scope="module")
def good_blob() -> bytes:
    X, y = _classification()
    return treefile.dumps(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y), {"n": np.arange(4)})


def test_truncated_blobs_are_refused(good_blob: bytes) -> None:
    for cut in (0, 5, 10, 11, 20, len(good_blob) // 3, len(good_blob) // 2, len(good_blob) - 1):
        _refused(good_blob[:cut])


def test_random_bytes_and_wrong_magic_or_version_are_refused(good_blob: bytes) -> None:
    rng = np.random.default_rng(0)
    _refused(rng.bytes(2000), "not a tree file")
    _refused(b"NOTATREE" + good_blob[8:], "bad magic")
    _refused(treefile.MAGIC + (99).to_bytes(2, "little") + good_blob[10:], "version 99")
    _refused(good_blob[:10] + rng.bytes(2000), "corrupt")
    _refused(good_blob + b"\x00" * 8)


def test_a_flipped_bit_is_refused_or_harmless(good_blob: bytes) -> None:
    """The lz4 content checksum: a flip either fails to load or changed nothing the frame decodes to."""
    X, _ = _classification()
    ref = treefile.loads(good_blob)[0].predict_proba(X)
    flipped = bytearray(good_blob)
    flipped[-2] ^= 0x10  # inside the checksum itself
    _refused(bytes(flipped), "corrupt")
    refused = 0
    for pos in np.linspace(11, len(good_blob) - 1, 60).astype(int):
        flipped = bytearray(good_blob)
        flipped[pos] ^= 0x10
        try:
            model, _ = treefile.loads(bytes(flipped))
        except TreeFileError as e:
            assert "\n" not in str(e)
            refused += 1
        else:  # e.g. a match offset moved onto identical bytes
            assert model.predict_proba(X).tobytes() == ref.tobytes()
    assert refused > 40


def _records(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Open a tree file with numpy alone (no pickle): its header and records."""
    f = io.BytesIO(lz4.frame.decompress(blob[10:]))
    header = json.loads(np.lib.format.read_array(f).tobytes())
    return header, {name: np.lib.format.read_array(f) for name in header["members"]}


def _rewrite(blob: bytes, header: dict[str, Any], members: dict[str, np.ndarray]) -> bytes:
    header = dict(header, members=list(members))
    return _container([_header_record(header)] + [_npy(a) for a in members.values()])


def test_rewrite_helper_round_trips(good_blob: bytes) -> None:
    """So that the refusals below come from the edit, not the helper."""
    model, extra = treefile.loads(_rewrite(good_blob, *_records(good_blob)))
    assert len(model.estimators_) == 3 and np.array_equal(extra["n"], np.arange(4))


@pytest.mark.parametrize("name", ["GradientBoostingClassifier", "os.system", "builtins.eval"])
def test_an_unknown_class_in_the_header_is_refused_by_name(good_blob: bytes, name: str) -> None:
    header, members = _records(good_blob)
    _refused(_rewrite(good_blob, dict(header, **{"class": name}), members), f"{name}.*not an allowed")
    trees = dict(header["trees"], **{"class": name})
    _refused(_rewrite(good_blob, dict(header, trees=trees), members), name)


def test_header_edits_are_refused(good_blob: bytes) -> None:
    header, members = _records(good_blob)
    top = header["top"]
    bad_attr = dict(top, attrs=dict(top["attrs"], __class__=1))
    _refused(_rewrite(good_blob, dict(header, top=bad_attr), members), "__class__")
    wider = dict(top, attrs=dict(top["attrs"], n_features_in_=50))
    _refused(_rewrite(good_blob, dict(header, top=wider), members), "n_features_in_")
    unknown_param = dict(top, params=dict(top["params"], evil=1))
    _refused(_rewrite(good_blob, dict(header, top=unknown_param), members), "params")
    _refused(_rewrite(good_blob, dict(header, extra={"x": {"pickle": "v0"}}), members), "unknown value")
    _refused(_rewrite(good_blob, dict(header, extra={"x": {"array": "nope"}}), members), "lacks member 'nope'")
    _refused(_rewrite(good_blob, dict(header, trees=dict(header["trees"], count=4)), members), "4 trees")
    trees = header["trees"]
    narrower = dict(trees, attrs=dict(trees["attrs"], n_features_in_=2))
    _refused(_rewrite(good_blob, dict(header, trees=narrower), members), "n_features_in_")
    unchecked = dict(trees, attrs={k: v for k, v in trees["attrs"].items() if k != "n_features_in_"})
    _refused(_rewrite(good_blob, dict(header, trees=unchecked), members), "n_features_in_")


def test_missing_or_misshapen_records_are_refused(good_blob: bytes) -> None:
    header, members = _records(good_blob)
    for name in ("values", "nodes", "node_count"):
        _refused(_rewrite(good_blob, header, {k: v for k, v in members.items() if k != name}), f"lacks .*{name}")
    _refused(_rewrite(good_blob, header, dict(members, values=members["values"][:-1])), "values have shape")
    _refused(_rewrite(good_blob, header, dict(members, nodes=members["nodes"][:-1])), "nodes")
    _refused(_rewrite(good_blob, header, dict(members, values=members["values"].astype(np.float32))), "float64")


def _edit_nodes(good_blob: bytes, edit: Any) -> bytes:
    header, members = _records(good_blob)
    nodes = members["nodes"].copy()
    edit(nodes, int(members["node_count"][0]))
    return _rewrite(good_blob, header, dict(members, nodes=nodes))


def test_node_links_outside_a_tree_are_refused(good_blob: bytes) -> None:
    def past_the_end(nodes: np.ndarray, n0: int) -> None:
        nodes["left_child"][0] = n0  # the first node of the second tree

    def loop(nodes: np.ndarray, n0: int) -> None:
        nodes["right_child"][0] = 0

    def far_feature(nodes: np.ndarray, n0: int) -> None:
        nodes["feature"][0] = 10_000

    def half_leaf(nodes: np.ndarray, n0: int) -> None:
        leaf = int(np.flatnonzero(nodes["left_child"][:n0] == -1)[0])
        nodes["right_child"][leaf] = leaf + 1

    for edit in (past_the_end, loop, far_feature, half_leaf):
        _refused(_edit_nodes(good_blob, edit), "links outside")


def test_nodes_that_are_not_a_tree_or_understate_its_depth_are_refused(good_blob: bytes) -> None:
    def share(nodes: np.ndarray, n0: int) -> None:
        # The root's right child becomes a grandchild already reached through its left child.
        assert nodes["left_child"][1] != -1
        nodes["right_child"][0] = nodes["right_child"][1]

    _refused(_edit_nodes(good_blob, share), "do not form a tree")
    header, members = _records(good_blob)
    # decision_path sizes a buffer it writes without bounds checks by max_depth.
    shallower = members["max_depth"].copy()
    shallower[1] -= 1
    _refused(_rewrite(good_blob, header, dict(members, max_depth=shallower)), "max_depth of tree 1")


def test_mangled_contents_only_ever_raise_tree_file_error(good_blob: bytes) -> None:
    """Bytes changed inside the frame (so the checksum holds): loads refuses, or the model is usable."""
    X, _ = _classification()
    raw = lz4.frame.decompress(good_blob[10:])
    rng = np.random.default_rng(0)
    loaded = 0
    for _ in range(300):
        mangled = bytearray(raw)
        for pos in rng.integers(0, len(raw), size=rng.integers(1, 4)):
            mangled[pos] = int(rng.integers(0, 256))
        try:
            model, _ = treefile.loads(good_blob[:10] + lz4.frame.compress(bytes(mangled)))
        except TreeFileError as e:
            assert "\n" not in str(e)
            continue
        loaded += 1  # e.g. a changed threshold: still a well-formed forest
        with np.errstate(all="ignore"):
            model.predict_proba(X), model.apply(X), model.decision_path(X)
    assert 0 < loaded < 300


def test_node_fields_are_matched_by_name(good_blob: bytes) -> None:
    header, members = _records(good_blob)
    nodes = members["nodes"]
    names = list(nodes.dtype.names)
    # Same fields, another order, packed: read by name, loads to the same model.
    reordered = np.empty(len(nodes), dtype=[(n, nodes.dtype.fields[n][0]) for n in reversed(names)])
    for n in names:
        reordered[n] = nodes[n]
    model, _ = treefile.loads(_rewrite(good_blob, header, dict(members, nodes=reordered)))
    ref, _ = treefile.loads(good_blob)
    for ta, tb in zip(ref.estimators_, model.estimators_, strict=True):
        na, nb = ta.tree_.__getstate__()["nodes"], tb.tree_.__getstate__()["nodes"]
        assert nb.dtype == na.dtype
        for n in names:  # field by field: padding bytes between fields are not part of the model
            assert nb[n].tobytes() == na[n].tobytes(), n
    # A field this scikit-learn needs is missing: refused by name, not guessed.
    kept = [n for n in names if n != "missing_go_to_left"]
    older = np.empty(len(nodes), dtype=[(n, nodes.dtype.fields[n][0]) for n in kept])
    for n in kept:
        older[n] = nodes[n]
    _refused(_rewrite(good_blob, header, dict(members, nodes=older)), "lacks node field.*missing_go_to_left")
    # A field it does not know: refused by name.
    newer = np.empty(len(nodes), dtype=[*((n, nodes.dtype.fields[n][0]) for n in names), ("shiny", "u1")])
    for n in names:
        newer[n] = nodes[n]
    _refused(_rewrite(good_blob, header, dict(members, nodes=newer)), "shiny")


def test_a_record_claiming_more_than_the_file_could_hold_is_refused(good_blob: bytes) -> None:
    header, members = _records(good_blob)
    records = [_header_record(dict(header, members=list(members)))]
    for name, arr in members.items():
        raw = _npy(arr)
        if name == "values":
            # Same payload, header claiming 10**12 rows: must be refused before any allocation.
            raw = raw.replace(f"({arr.shape[0]}, ".encode(), b"(1000000000000, ", 1)
        records.append(raw)
    _refused(_container(records), "more than its compressed size")


# ---------------------------------------------------------------- trees as arrays (predict without scikit-learn)


def _raw_cases() -> list[tuple[str, Any, np.ndarray, Any]]:
    Xc, yc = _classification()
    Xn, yn = _classification(nan=True)
    Xr, yr = _regression()
    Xm, ym = _regression(outputs=3)
    multilabel = np.column_stack([yc == 0, yc == 1, yc]).astype(int)
    return [
        ("rf-classifier", RandomForestClassifier(n_estimators=6, random_state=0), Xc, yc),
        ("et-classifier-strings", ExtraTreesClassifier(n_estimators=6, random_state=0), Xc, np.array([*"abc"])[yc]),
        ("rf-classifier-nan", RandomForestClassifier(n_estimators=6, random_state=0), Xn, yn),
        ("rf-regressor-nan", RandomForestRegressor(n_estimators=6, random_state=0), *_regression(nan=True)),
        ("et-regressor", ExtraTreesRegressor(n_estimators=6, random_state=0), Xr, yr),
        ("rf-multioutput-regressor", RandomForestRegressor(n_estimators=4, random_state=0), Xm, ym),
        ("rf-multioutput-classifier", RandomForestClassifier(n_estimators=4, random_state=0), Xc, multilabel),
        ("one-leaf-trees", RandomForestRegressor(n_estimators=3, random_state=0), Xr, np.ones(300)),  # y constant
    ]


@pytest.mark.parametrize("case", _raw_cases(), ids=lambda c: c[0])
def test_trees_as_arrays_predict_what_scikit_learns_trees_predict_to_the_bit(case: tuple) -> None:
    _, est, X, y = case
    est.fit(X, y)
    if y.dtype.kind == "f" and np.ptp(y) == 0:
        assert all(t.tree_.node_count == 1 for t in est.estimators_)  # the root is the leaf
    raw, extra = treefile.loads_raw(treefile.dumps(est, extra={"seed": 3}))
    assert extra == {"seed": 3} and len(raw.estimators_) == len(est.estimators_)
    assert raw.n_features_in_ == est.n_features_in_
    if hasattr(est, "classes_"):
        assert _same_value(raw.classes_, est.classes_)
    rows = np.asarray(X[::2], dtype=np.float32)  # what forest.Votes hands every tree
    for ours, theirs in zip(raw.estimators_, est.estimators_, strict=True):
        assert np.array_equal(ours.apply(rows), theirs.apply(rows))
        if hasattr(est, "classes_"):
            a, b = ours.predict_proba(rows), theirs.predict_proba(rows, check_input=False)
            for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b], strict=True):
                assert u.dtype == v.dtype and np.array_equal(u, v)
        else:
            u, v = ours.predict(rows), theirs.predict(rows, check_input=False)
            assert u.dtype == v.dtype and u.shape == v.shape and np.array_equal(u, v)


def test_trees_as_arrays_are_refused_as_loads_refuses_them() -> None:
    est = RandomForestClassifier(n_estimators=2, random_state=0).fit(*_classification())
    with pytest.raises(TreeFileError, match="not a forest"):
        treefile.loads_raw(treefile.dumps(est.estimators_[0]))
    blob = bytearray(treefile.dumps(est))
    blob[:8] = b"\x80" * 8
    with pytest.raises(TreeFileError, match="pickle"):
        treefile.loads_raw(bytes(blob))


def test_records_of_a_megabyte_or_more_have_their_own_mapping_and_round_trip_exactly() -> None:
    import mmap

    rng = np.random.default_rng(0)
    X = rng.random((6000, 5), dtype=np.float32)
    y = rng.integers(0, 3, 6000)  # noise: trees grow fully, so the nodes record passes a megabyte
    est = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, y)
    blob = treefile.dumps(est)
    raw, _ = treefile.loads_raw(blob)
    base = raw.estimators_[0].left
    while isinstance(base, np.ndarray | memoryview):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    assert isinstance(base, mmap.mmap)  # the path under test, not the small records' np.empty
    _assert_same_model(est, treefile.loads(blob)[0], X)
    rows = X[::3]
    for ours, theirs in zip(raw.estimators_, est.estimators_, strict=True):
        assert np.array_equal(ours.predict_proba(rows), theirs.predict_proba(rows, check_input=False))


def _decompressed(blob: bytes) -> bytes:
    """A tree file's records, decompressed: what two files of one forest share even where lz4 cut its
    blocks elsewhere."""
    return lz4.frame.decompress(blob[treefile._PREAMBLE.size :])


def _parts(cls: type, y: np.ndarray, X: np.ndarray) -> list[Any]:
    """Trees 0-2, 3-5 and 6-7 of one seed's forest, as three forests (a build's groves)."""
    import warnings

    parts = []
    for first, n in ((0, 3), (3, 3), (6, 2)):
        with warnings.catch_warnings():  # a 3-tree forest leaves some rows without an OOB vote: it says so
            warnings.simplefilter("ignore", UserWarning)
            whole = cls(n_estimators=first + n, random_state=5, min_samples_leaf=3, oob_score=True).fit(X, y)
        whole.estimators_, whole.n_estimators = whole.estimators_[first:], n
        parts.append(whole)
    return parts


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_a_forest_written_from_its_parts_holds_the_merged_forests_records_byte_for_byte(cls: type) -> None:
    from lamforest import forest
    from lamforest.grove import Grove

    X, y = _classification() if cls is RandomForestClassifier else _regression()
    parts = _parts(cls, y, X)
    merged = forest.merge([Grove(p, len(p.estimators_), 0) for p in parts])
    out = io.BytesIO()
    with treefile.ForestWriter() as writer:
        for p in parts:
            writer.add(treefile.loads_raw(treefile.dumps(p, extra={"seed": 1}))[0])
        writer.write(out)
    assert writer.trees == 8
    # The same records byte for byte: oob_* dropped, n_estimators the sum, each tree's seed.
    assert _decompressed(out.getvalue()) == _decompressed(treefile.dumps(merged))
    _assert_same_model(merged, treefile.loads(out.getvalue())[0], X)


def test_parts_of_another_forest_are_refused_by_the_writer() -> None:
    X, y = _classification()
    parts = _parts(RandomForestClassifier, y, X)
    other_labels = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y + 1)  # same count, other labels
    other_classes = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, (y > 0).astype(int))
    other_width = RandomForestClassifier(n_estimators=2, random_state=0).fit(X[:, :5], y)
    regressor = RandomForestRegressor(n_estimators=2, random_state=0).fit(X, y.astype(float))
    for other in (other_labels, other_classes, other_width, regressor):
        with treefile.ForestWriter() as writer:
            writer.add(treefile.loads_raw(treefile.dumps(parts[0]))[0])
            with pytest.raises(TreeFileError, match="not one forest with the parts before it"):
                writer.add(treefile.loads_raw(treefile.dumps(other))[0])
    with pytest.raises(TreeFileError, match="no parts"), treefile.ForestWriter() as writer:
        writer.write(io.BytesIO())
