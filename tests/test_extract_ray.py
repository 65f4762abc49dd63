"""``--engine ray``: the Ray actor engine gives the local engine's outputs, report and resuming.

Each Ray run starts (and shuts down) its own local runtime with 2 CPUs; skipped when Ray is not
installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "ray[data]")')
pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from motionscope.cli.extract import ENGINES, extract_command  # noqa: E402
from motionscope.errors import MotionscopeError  # noqa: E402
from motionscope.pose import extract_batch  # noqa: E402
from motionscope.pose.batch import REPORT  # noqa: E402
from motionscope.pose.ray_engine import extract_batch_ray  # noqa: E402
from tests.test_extract import cartoon_video  # noqa: E402


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """Two cartoon videos and a corrupt one, extracted by the local engine and by Ray."""
    root = tmp_path_factory.mktemp("ray")
    src = root / "src"
    cartoon_video(src / "wave" / "a.mp4", 10)
    cartoon_video(src / "wave" / "b.avi", 8, codec="mpeg4")
    (src / "bad").mkdir()
    junk = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    (src / "bad" / "corrupt.mp4").write_bytes(junk)
    local = extract_batch(src, root / "local", workers=1, progress=False)
    first = extract_batch_ray(src, root / "ray", num_cpus=2, progress=False)
    assert not ray.is_initialized()  # the runtime it started is shut down
    first_report = json.loads((root / "ray" / REPORT).read_text())
    again = extract_batch_ray(src, root / "ray", num_cpus=2, progress=False)
    return src, root, local, first, first_report, again


def by_name(report) -> dict:
    return {Path(v.source).name: v for v in report.videos}


def test_ray_outputs_are_byte_identical_to_the_local_engine(trees):
    src, root, local, first, *_ = trees
    assert first.engine == "ray" and first.workers == 2
    assert first.counts == local.counts == {"ok": 2, "skipped": 0, "failed": 1, "no-person": 0}
    local_files = sorted(p.relative_to(root / "local") for p in (root / "local").rglob("*.npy"))
    ray_files = sorted(p.relative_to(root / "ray") for p in (root / "ray").rglob("*.npy"))
    assert ray_files == local_files == [Path("wave/a.npy"), Path("wave/b.npy")]
    for rel in local_files:
        assert (root / "ray" / rel).read_bytes() == (root / "local" / rel).read_bytes(), rel
        local_meta = json.loads((root / "local" / rel.with_suffix(".json")).read_text())
        ray_meta = json.loads((root / "ray" / rel.with_suffix(".json")).read_text())
        assert ray_meta["key"] == local_meta["key"]
        assert ray_meta["detection_rate"] == local_meta["detection_rate"]
    assert not list((root / "ray").rglob("*.tmp"))


def test_ray_report_is_written_and_lists_the_corrupt_video_as_failed(trees):
    _, root, _, first, report, again = trees
    assert report["engine"] == "ray" and report["counts"] == first.counts
    assert report["workers"] == 2 and len(report["videos"]) == 3
    assert json.loads((root / "ray" / REPORT).read_text())["counts"] == again.counts
    bad = by_name(first)["corrupt.mp4"]
    assert bad.status == "failed" and "corrupt.mp4" in bad.error
    assert not list((root / "ray").glob("bad/corrupt.*"))
    assert [v.status for v in first.videos if v.status == "ok"] == ["ok", "ok"]


def test_ray_rerun_skips_everything_done(trees):
    *_, again = trees
    status = {name: v.status for name, v in by_name(again).items()}
    assert status == {"a.mp4": "skipped", "b.avi": "skipped", "corrupt.mp4": "failed"}


def test_local_engine_skips_what_ray_extracted(trees):
    src, root, *_ = trees
    report = extract_batch(src, root / "ray", workers=1, progress=False)
    assert report.counts["skipped"] == 2 and report.counts["ok"] == 0


def test_cli_dispatches_to_ray(trees, tmp_path, capsys):
    src, *_ = trees
    assert ENGINES == ("local", "ray")
    code = extract_command(src, tmp_path / "out", None, 1, "ray", False)
    assert code == 1  # the corrupt video
    assert json.loads((tmp_path / "out" / REPORT).read_text())["engine"] == "ray"
    assert "corrupt.mp4" in capsys.readouterr().out
    with pytest.raises(MotionscopeError, match="not available"):
        extract_command(src, tmp_path / "x", None, 1, "spark", False)
    with pytest.raises(MotionscopeError, match="--engine ray"):
        extract_command(src, tmp_path / "x", None, 1, "local", False, ray_address="auto")
