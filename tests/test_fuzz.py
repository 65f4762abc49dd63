"""Fuzzing (hypothesis) of what motionscope reads from disk or a socket: bundles, datasets and
live WebSocket messages. Every input must either load or be refused with a clean
:class:`~motionscope.errors.MotionscopeError` (one line naming the file); any other exception
is a bug.

The example counts are small so the module runs in well under 30 s; set
``MOTIONSCOPE_FUZZ_EXAMPLES=N`` for a longer run and ``MOTIONSCOPE_FUZZ_REPORT=FILE`` to write
the counts (inputs tried, loaded, refused cleanly) as JSON (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from motionscope.errors import MotionscopeError  # noqa: E402

EXAMPLES = int(os.environ.get("MOTIONSCOPE_FUZZ_EXAMPLES", "0")) or None
COUNTS: dict[str, Counter] = {}


def fuzz_settings(default: int):
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        database=None,
        derandomize=EXAMPLES is None,  # the suite is reproducible; long runs explore
        suppress_health_check=list(HealthCheck),
    )


def outcome(name: str, fn) -> None:
    """Run ``fn``; count whether it loaded or was refused cleanly; anything else fails."""
    counts = COUNTS.setdefault(name, Counter())
    counts["tried"] += 1
    try:
        fn()
    except MotionscopeError as e:
        msg = str(e)
        assert msg.strip() and "Traceback" not in msg, msg
        counts["refused cleanly"] += 1
    else:
        counts["loaded"] += 1


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    out = os.environ.get("MOTIONSCOPE_FUZZ_REPORT")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(Path(out).read_text()) if Path(out).is_file() else {}
        old.update({k: dict(v) for k, v in COUNTS.items()})
        Path(out).write_text(json.dumps(old, indent=2) + "\n")


# -- bundles ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from tests.test_serve import shared_bundle

    return shared_bundle(tmp_path_factory)


def _paths(value, prefix=()):
    """Every key path in a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value):
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _delete(doc, path):
    if not path:
        return {}
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


@st.composite
def json_mutation(draw, doc):
    """A copy of ``doc`` with one value replaced, one key deleted or the text damaged."""
    doc = json.loads(json.dumps(doc))
    paths = list(_paths(doc))
    kind = draw(st.sampled_from(["replace", "delete", "bytes"]))
    path = draw(st.sampled_from(paths))
    if kind == "replace":
        return json.dumps(_set(doc, path, draw(JSON_VALUES))).encode()
    if kind == "delete":
        return json.dumps(_delete(doc, path)).encode()
    raw = bytearray(json.dumps(doc).encode())
    return bytes(draw(byte_damage(raw)))


@st.composite
def byte_damage(draw, raw: bytearray, limit: int | None = None):
    """Truncate, flip bytes or insert bytes (within the first ``limit`` bytes)."""
    raw = bytearray(raw)
    end = min(len(raw), limit or len(raw))
    op = draw(st.sampled_from(["truncate", "flip", "insert"]))
    at = draw(st.integers(0, max(0, end - 1)))
    if op == "truncate":
        return raw[:at]
    if op == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, max(0, end - 1)))
            if raw:
                raw[i] ^= draw(st.integers(1, 255))
        return raw
    return raw[:at] + draw(st.binary(min_size=1, max_size=16)) + raw[at:]


@st.composite
def weights_mutation(draw, raw: bytes):
    """A damaged safetensors file: header length, header JSON or truncation."""
    (n,) = struct.unpack("<Q", raw[:8])
    kind = draw(st.sampled_from(["length", "header", "header-json", "truncate"]))
    if kind == "length":
        n2 = draw(st.integers(0, 2**64 - 1) | st.integers(max(0, n - 64), n + 64))
        return struct.pack("<Q", n2) + raw[8:]
    if kind == "header":
        return bytes(draw(byte_damage(bytearray(raw), limit=8 + n)))
    if kind == "header-json":
        header = json.loads(raw[8 : 8 + n])
        new = draw(json_mutation(header)).ljust(1, b" ")
        return struct.pack("<Q", len(new)) + new + raw[8 + n :]
    return raw[: draw(st.integers(0, len(raw) - 1))]


BUNDLE_FILES = ("config.json", "classes.json", "metrics.json", "model.safetensors")


def test_damaged_bundles_load_or_are_refused_cleanly(template, tmp_path):
    from motionscope.bundle import read_bundle
    from motionscope.infer.loader import load_recognizer

    originals = {name: (template / name).read_bytes() for name in BUNDLE_FILES}

    @fuzz_settings(40)
    @given(data=st.data(), name=st.sampled_from(BUNDLE_FILES))
    def check(data, name):
        run = tmp_path / "run"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir()
        for f, raw in originals.items():
            (run / f).write_bytes(raw)
        raw = originals[name]
        if name.endswith(".json"):
            new = data.draw(json_mutation(json.loads(raw)), label=name)
        else:
            new = data.draw(weights_mutation(raw), label=name)
        (run / name).write_bytes(new)

        def load():
            read_bundle(run)
            load_recognizer(run).close()

        outcome("bundle", load)

    check()
    assert COUNTS["bundle"]["refused cleanly"] > 0  # the mutations do reach the checks


# -- datasets --------------------------------------------------------------------------------------

DTYPES = ("float32", "float64", "float16", "int8", "int64", "uint8", "bool", "complex64", "<U3")
NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    ndim = draw(st.integers(0, 3))
    width = draw(st.sampled_from([0, 1, 3, 126, 132, 258, 1662]))
    shape = tuple(draw(st.integers(0, 4)) for _ in range(max(0, ndim - 1)))
    shape = (*shape, width) if ndim else ()
    if dtype == "<U3":
        return np.full(shape, "ab", dtype=dtype)
    arr = np.zeros(shape, dtype=dtype)
    if arr.size and np.issubdtype(arr.dtype, np.floating):
        fill = draw(st.sampled_from([0.0, 0.5, np.nan, np.inf, -np.inf, 1e30]))
        with np.errstate(over="ignore"):  # 1e30 is inf in float16: also a case
            arr.flat[draw(st.integers(0, arr.size - 1))] = fill
    return arr


@st.composite
def dataset_tree(draw):
    """``{relative path: array | bytes | None (folder)}`` of a small dataset folder."""
    files: dict[tuple[str, ...], object] = {}
    if draw(st.booleans()):  # a valid two-class dataset, then random additions
        for cls in ("clap", "wave"):
            for i in range(2):
                files[(cls, f"s{i}.npy")] = np.full((5, 126), 0.5, np.float32)
    for cls in draw(st.lists(NAMES, min_size=0, max_size=3, unique_by=str.casefold)):
        for item in draw(st.lists(NAMES, min_size=0, max_size=3, unique_by=str.casefold)):
            kind = draw(st.sampled_from(["npy", "frames", "garbage", "folder", "pickle"]))
            if kind == "npy":
                files[(cls, item + ".npy")] = draw(arrays())
            elif kind == "frames":
                for i in range(draw(st.integers(1, 3))):
                    files[(cls, item, f"{i}.npy")] = draw(arrays())
            elif kind == "garbage":
                files[(cls, item + ".npy")] = draw(st.binary(max_size=64))
            elif kind == "pickle":
                files[(cls, item + ".npy")] = np.array([{"a": 1}], dtype=object)
            else:
                files[(cls, item)] = None
    return files


def _write_tree(root: Path, files: dict) -> None:
    for rel, value in files.items():
        p = root.joinpath(*rel)
        if value is None:
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, bytes):
            p.write_bytes(value)
        else:
            np.save(p, value, allow_pickle=value.dtype == object)


def test_random_dataset_trees_load_or_are_refused_cleanly(tmp_path):
    from motionscope.data import load_keypoint_dataset

    @fuzz_settings(25)
    @given(files=dataset_tree(), layout=st.sampled_from([None, "generic"]))
    def check(files, layout):
        root = tmp_path / "data"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        try:
            _write_tree(root, files)
        except OSError:  # a name this file system refuses: not the loader's input
            return
        outcome("dataset", lambda: load_keypoint_dataset(root, layout=layout, progress=False))

    check()
    assert COUNTS["dataset"]["refused cleanly"] > 0


def test_random_npy_files_load_or_are_refused_cleanly(tmp_path):
    from motionscope.data.loaders import load_sequence

    @fuzz_settings(60)
    @given(value=arrays() | st.binary(max_size=128))
    def check(value):
        path = tmp_path / "x.npy"
        _write_tree(tmp_path, {("x.npy",): value})
        outcome("npy file", lambda: load_sequence(path))

    check()


# -- the live WebSocket protocol -------------------------------------------------------------------

TEXT_MESSAGES = (
    st.text(max_size=64)
    | JSON_VALUES.map(json.dumps)
    | st.builds(lambda d: "[" * d + "]" * d, st.integers(1, 60_000))
    | st.builds(lambda v: json.dumps({"type": v}), JSON_VALUES)
)


def test_live_socket_text_messages_are_answered_or_closed_with_a_code(template, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from motionscope.serve import ServeSettings, create_app

    app = create_app(template, ServeSettings(tmp_dir=tmp_path / "u"))

    with TestClient(app) as client:

        @fuzz_settings(12)
        @given(text=TEXT_MESSAGES)
        def check(text):
            counts = COUNTS.setdefault("live text", Counter())
            counts["tried"] += 1
            with client.websocket_connect("/v1/live") as ws:
                ws.send_text(text)
                ws.send_bytes(b"not a jpeg")  # answered only when the text was accepted
                first = ws.receive_json()
                assert first["type"] == "error", first
                if first.get("frame") == 0:
                    counts["accepted"] += 1
                    return
                with pytest.raises(WebSocketDisconnect) as e:
                    ws.receive_json()
                assert e.value.code in (1007, 1008), e.value.code
                counts["closed with 1007/1008"] += 1

        check()
        assert client.get("/health").json()["live_streams"] == 0
