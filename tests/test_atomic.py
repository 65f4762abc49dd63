"""The shared write helpers: atomic files (a reader never sees half a file) and progress bars."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.atomic import atomic_target, tmp_path, write_json, write_npy
from motionscope.data.synth import write_synthetic_keypoints
from motionscope.progress import RateBar, progress_bar
from motionscope.synth_output import tmp_pattern


def test_atomic_target_renames_on_success_and_removes_on_error(tmp_path):
    out = tmp_path / "clip.mp4"
    with atomic_target(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".clip.mp4.")
        assert tmp_pattern("mp4").match(tmp.name.replace("clip", "0"))  # what synth cleans up
        tmp.write_bytes(b"new")
        assert not out.exists()  # nothing at the target until the block ends
    assert out.read_bytes() == b"new" and list(tmp_path.iterdir()) == [out]
    with pytest.raises(RuntimeError), atomic_target(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert out.read_bytes() == b"new" and list(tmp_path.iterdir()) == [out]  # old file kept


def test_write_npy_and_json(tmp_path):
    write_npy(tmp_path / "a.npy", np.arange(3, dtype=np.float32))
    write_json(tmp_path / "a.json", {"k": 1})
    assert np.load(tmp_path / "a.npy").tolist() == [0.0, 1.0, 2.0]
    assert json.loads((tmp_path / "a.json").read_text()) == {"k": 1}
    assert not tmp_path_exists(tmp_path / "a.npy") and not tmp_path_exists(tmp_path / "a.json")


def tmp_path_exists(path) -> bool:
    return tmp_path(path).exists()


def test_interrupted_synthetic_write_does_not_block_the_next_run(tmp_path):
    out = tmp_path / "kp"
    write_synthetic_keypoints(out, classes=2, per_class=2, frames=4, seed=0)
    label = sorted(p.name for p in out.iterdir())[0]
    (out / label / ".1.npy.4242.tmp").write_bytes(b"half a file")  # kill -9 mid-write
    write_synthetic_keypoints(out, classes=2, per_class=2, frames=4, seed=0)
    assert sorted(p.name for p in (out / label).iterdir()) == ["0.npy", "1.npy"]


def test_progress_bar_factory():
    bar = progress_bar("loading", columns=("videos",), enabled=False)
    assert bar.disable
    texts = [getattr(c, "text_format", "") for c in bar.columns]
    assert texts[0] == "[bold]loading" and "videos" in texts
    assert len(progress_bar(timing=False).columns) == len(bar.columns) - 3  # no clocks, no unit
    quiet = RateBar("extracting", 5, "videos", "frames", enabled=False)
    quiet.advance(30)
    quiet.close()
    assert quiet.count == 30 and quiet.progress is None
