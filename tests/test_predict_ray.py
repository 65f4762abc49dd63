"""``predict RUN FOLDER --out FILE --engine ray``: a 20-video corpus gets the labels of the local
path, one JSON line per video, and a re-run resumes (a torn last line included).

One local Ray runtime (2 CPUs) is shared by the module; skipped when Ray is not installed.
"""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
pytest.importorskip("av")
pytest.importorskip("mediapipe")

pytestmark = pytest.mark.slow  # a Ray runtime and actors (or replicas) per module

from typer.testing import CliRunner  # noqa: E402

from motionscope.cli import app  # noqa: E402
from motionscope.errors import DataError  # noqa: E402
from motionscope.infer.batch import ResultsFile, latest, predict_corpus  # noqa: E402
from motionscope.video.synth import render_clip, sample_rng, write_video  # noqa: E402
from tests.ray_runtime import local_ray  # noqa: E402
from tests.test_serve import shared_bundle  # noqa: E402

ACTIONS = ("wave", "clap", "raise_arms", "jump")
VIDEOS = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20 small cartoon videos in class folders, and one corrupt file."""
    root = tmp_path_factory.mktemp("corpus")
    for i in range(VIDEOS):
        action = ACTIONS[i % len(ACTIONS)]
        frames = render_clip(action, sample_rng(i, 0, 0), (128, 96), 8, fps=15)
        (root / action).mkdir(exist_ok=True)
        write_video(root / action / f"{i}.mp4", frames, 15)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def local(bundle, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    report = predict_corpus(bundle, [corpus], out, progress=False)
    assert (report.total, report.predicted, report.failed) == (VIDEOS + 1, VIDEOS, 1)
    return latest(ResultsFile(out).records())


@pytest.fixture(scope="module")
def runtime():
    with local_ray(num_cpus=2):
        yield


def assert_same_labels(lines: dict, local: dict) -> None:
    assert set(lines) == set(local)
    for key, ref in local.items():
        got = lines[key]
        assert got["ok"] is ref["ok"], (key, got, ref)
        if ref["ok"]:
            assert got["action"] == ref["action"], key
            assert got["confidence"] == pytest.approx(ref["confidence"], abs=1e-4), key
        else:
            assert got["error"], key


def test_ray_batch_gives_the_local_labels(runtime, bundle, corpus, local, tmp_path):
    out = tmp_path / "ray.jsonl"
    r = CliRunner().invoke(
        app,
        [
            "predict",
            str(bundle),
            str(corpus),
            "--engine",
            "ray",
            "--out",
            str(out),
            "--no-progress",
            "--workers",
            "2",
        ],  # fmt: skip
    )
    assert r.exit_code == 1, r.output  # the corrupt video failed; the 20 others did not
    assert "21 videos: 20 predicted, 1 failed, 0 already in" in r.output
    assert "ray engine, 2 workers" in r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == VIDEOS + 1  # one line per video
    assert_same_labels(latest(lines), local)
    broken = next(x for x in lines if x["path"].endswith("broken.mp4"))
    assert broken["ok"] is False and broken["action"] is None and "broken.mp4" in broken["error"]


def test_a_rerun_resumes_after_a_torn_line(runtime, bundle, corpus, local, tmp_path):
    out = tmp_path / "resume.jsonl"
    kept = VIDEOS + 1 - 4  # the run was killed with 4 videos to go, in the middle of a line
    done = [json.dumps(x) for x in list(local.values())[:kept]]
    out.write_text("\n".join(done) + "\n" + done[-1][:25])
    report = predict_corpus(bundle, [corpus], out, engine="ray", progress=False, workers=1)
    assert report.skipped == kept and report.predicted + report.failed == 4
    lines = [json.loads(x) for x in out.read_text().splitlines()]  # every line whole
    assert len(lines) == VIDEOS + 1 and len({x["path"] for x in lines}) == VIDEOS + 1
    assert_same_labels(latest(lines), local)
    again = predict_corpus(bundle, [corpus], out, engine="ray", progress=False)
    assert (again.skipped, again.predicted, again.failed, again.workers) == (VIDEOS + 1, 0, 0, 0)
    retried = predict_corpus(bundle, [corpus], out, retry_failed=True, progress=False)
    assert (retried.skipped, retried.failed) == (VIDEOS, 1)  # only the failed one again


def test_batch_mode_errors_are_clear(bundle, corpus, tmp_path):
    r = CliRunner().invoke(app, ["predict", str(bundle), str(corpus), "--engine", "ray"])
    assert r.exit_code == 2 and "pass --out" in r.output
    with pytest.raises(DataError, match="no such file"):
        predict_corpus(bundle, [tmp_path / "nope"], tmp_path / "o.jsonl", progress=False)
    (tmp_path / "bad.jsonl").write_text("not json\n")
    with pytest.raises(DataError, match="line 1 is not JSON"):
        predict_corpus(bundle, [corpus], tmp_path / "bad.jsonl", progress=False)
