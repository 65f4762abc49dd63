"""Issue 13, the first hour of a new user: what the command line and the reports show."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import motionscope
from motionscope.cli import app
from motionscope.errors import MotionscopeError
from motionscope.evaluate.plots import read_epoch_log

runner = CliRunner()

# -- item 5: the training curve ---------------------------------------------------------------

LIGHTNING_CSV = """epoch,step,train_acc,train_loss,val_acc,val_loss
0,0,,,0.5,0.9
0,0,0.4,1.1,,
1,1,,,0.75,0.6
1,1,0.7,0.8,,
"""


def test_epoch_log_keeps_the_train_series(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text(LIGHTNING_CSV)
    series = read_epoch_log(csv)
    assert series["train_loss"] == [(0, 1.1), (1, 0.8)]
    assert series["train_acc"] == [(0, 0.4), (1, 0.7)]
    assert series["val_loss"] == [(0, 0.9), (1, 0.6)]


def test_epoch_log_reads_step_and_epoch_keys(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train_loss_step,train_loss_epoch\n0,3,2.0,\n0,3,,1.5\n")
    assert read_epoch_log(csv) == {"train_loss": [(0, 1.5)]}


def test_a_trained_bundle_logs_train_and_val_curves(tmp_path):
    from motionscope.train import fit
    from tests.helpers import train_kpnet_bundle

    seen = {}
    real = fit.plot_curves

    def spy(series, out, title):
        seen.update(series)
        return real(series, out, title)

    mp = pytest.MonkeyPatch()
    mp.setattr(fit, "plot_curves", spy)
    try:
        run = train_kpnet_bundle(tmp_path, classes=2, per_class=6, frames=6, seed=0, epochs=2)
    finally:
        mp.undo()
    assert len(seen.get("train_loss", [])) == 2 and len(seen.get("val_loss", [])) == 2
    assert (run / "report" / "curves.png").is_file()


# -- item 7: smaller things -------------------------------------------------------------------


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"motionscope {motionscope.__version__}"


@pytest.mark.parametrize("cmd", [["predict"], ["train"], ["demo"], ["serve"], ["live"]])
def test_help_tags_no_flag_with_bool(cmd):
    r = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "140"})
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output
    assert "--help" in r.output
    assert "<int>" in r.output or "<path>" in r.output or "<str>" in r.output  # values keep types


def test_demo_help_shows_every_default_and_no_stray_dot():
    r = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for flag, default in (("--per-class", "10 videos, or 40 sequences"),
                          ("--heldout-per-class", "3 videos, or 10 sequences"),
                          ("--workers", "one per core"),
                          ("--epochs", "100, or 60 for --keypoints")):  # fmt: skip
        line = next(ln for ln in r.output.splitlines() if f"{flag} " in ln)
        assert f"[default: ({default})]" in line, line
    assert " ." not in r.output


def test_synth_keypoints_and_videos_pick_the_same_default_classes():
    from motionscope.data.synth import ACTIONS
    from motionscope.video.synth import VIDEO_ACTIONS

    default = 5  # both commands' --classes default
    for n in range(1, 9):
        assert ACTIONS[:n] == VIDEO_ACTIONS[:n], n
    for cmd in ("keypoints", "videos"):
        r = runner.invoke(app, ["synth", cmd, "--help"], env={"COLUMNS": "200"})
        assert f"[default: {default}]" in next(
            ln for ln in r.output.splitlines() if "--classes" in ln
        )


def test_readme_describes_kpnet_as_the_models_command_does():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("- `kpnet`"))
    assert "TCN" in line and "recurrent" not in line
    r = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert "TCN" in next(ln for ln in r.output.splitlines() if "kpnet" in ln)


def test_serve_on_a_busy_port_is_one_clear_error_before_loading(tmp_path):
    from motionscope.cli.serve import check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(MotionscopeError, match=f"port {port} .*already in use.*--port"):
            check_port("127.0.0.1", port)
        # the command stops there: no bundle is loaded (this one does not even exist)
        r = runner.invoke(app, ["serve", str(tmp_path / "nope"), "--port", str(port)])
    assert r.exit_code == 2
    assert "already in use" in r.output and "--port" in r.output
    assert "serving" not in r.output and "not a bundle" not in r.output
    check_port("127.0.0.1", port)  # free again


def test_third_party_warnings_stay_off_the_terminal():
    code = (
        "import logging, warnings, os\n"
        "import motionscope.cli\n"
        "assert os.environ['OPENCV_LOG_LEVEL'] == 'ERROR'\n"
        "logging.basicConfig()\n"
        "logging.getLogger('ray._private.authentication.authentication_token_setup')"
        ".warning('Token authentication is enabled for this Ray cluster.')\n"
        "warnings.warn('Experiment logs directory /tmp/x exists and is not empty. Previous log "
        "files in this directory will be deleted when the new ones are saved!')\n"
        "import cv2\n"
        "cv2.VideoCapture(97)\n"
    )
    r = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Token authentication" not in r.stderr
    assert "Experiment logs directory" not in r.stderr
    assert "WARN" not in r.stderr, r.stderr


def test_kfold_progress_bars_name_the_fold():
    from motionscope.train.fit import _ProgressBar

    bar = _ProgressBar(label="fold 2/5")
    bar._trainer = type("T", (), {"max_epochs": 10})()
    assert bar._get_train_description(3).startswith("fold 2/5: Epoch 3/9")


class _Trainer:
    sanity_checking = False

    def __init__(self):
        self.callback_metrics: dict = {}
        self.should_stop = False
        self.current_epoch = 0


def _epochs(cb, values) -> int | None:
    import torch

    t = _Trainer()
    for epoch, (acc, loss) in enumerate(values):
        t.current_epoch = epoch
        t.callback_metrics = {"val_acc": torch.tensor(acc), "val_loss": torch.tensor(loss)}
        cb.on_validation_epoch_end(t, None)
        if t.should_stop:
            return epoch
    return None


def test_training_stops_when_validation_has_been_perfect():
    from motionscope.train.stopping import PerfectValidation

    # perfect from epoch 2, loss creeping down by 1 % an epoch: stop after the patience
    creeping = [(0.5, 1.0), (0.8, 0.5)] + [(1.0, 0.1 * 0.99**i) for i in range(50)]
    assert _epochs(PerfectValidation(patience=5), creeping) == 2 + 5
    # perfect but the loss still falling fast: go on
    falling = [(1.0, 0.5 * 0.7**i) for i in range(30)]
    assert _epochs(PerfectValidation(patience=5), falling) is None
    # not perfect: never stopped by this rule
    assert _epochs(PerfectValidation(patience=5), [(0.9, 0.1)] * 30) is None
    # a slip resets the count
    slip = [(1.0, 0.1)] * 4 + [(0.9, 0.1)] + [(1.0, 0.1)] * 5
    assert _epochs(PerfectValidation(patience=5), slip) is None


def test_fit_loop_stops_early_on_perfect_validation(tmp_path):
    """Two trivially separable classes: validation is perfect within a few epochs, and the
    run ends long before its 200-epoch budget (the loss still creeping down would keep the loss
    rule going). The perfect rule waits for the model's patience (here 30 updates = 30 epochs):
    a shorter wait cost one-person kpnet 0.21 of its accuracy on other people."""
    from motionscope.data.loaders import load_keypoint_dataset
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.train import TrainConfig, train

    write_synthetic_keypoints(tmp_path / "d", classes=2, per_class=12, frames=8, seed=0)
    ds = load_keypoint_dataset(tmp_path / "d", progress=False)
    cfg = TrainConfig(
        model="kpnet", epochs=200, progress=False, threads=1, optim={"patience_updates": 30}
    )
    result = train(ds, tmp_path / "run", cfg)
    assert result.metrics["epochs"] < 60, result.metrics["epochs"]


# -- item 1: batch predict keeps every result -------------------------------------------------


@pytest.fixture(scope="module")
def kp_bundle(tmp_path_factory) -> Path:
    from tests.helpers import train_kpnet_bundle

    root = tmp_path_factory.mktemp("ux-bundle")
    return train_kpnet_bundle(root, classes=3, per_class=8, frames=8, seed=2, epochs=2)


def _json_lines(output: str) -> list[dict]:
    import json

    return [json.loads(ln) for ln in output.splitlines() if ln.startswith("{")]


def _inputs(kp_bundle: Path, tmp_path: Path) -> list[str]:
    import numpy as np

    data = kp_bundle.parent / "data"
    good = sorted(data.glob("*/*.npy"))[:2]
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"not a numpy file")
    wrong = tmp_path / "wrong_width.npy"
    np.save(wrong, np.zeros((8, 7), dtype=np.float32))
    return [str(good[0]), str(bad), str(good[1]), str(wrong)]


def test_batch_predict_gives_every_input_a_result_and_exit_1(kp_bundle, tmp_path):
    inputs = _inputs(kp_bundle, tmp_path)
    r = runner.invoke(app, ["predict", str(kp_bundle), *inputs, "--json"])
    assert r.exit_code == 1, r.output
    rows = _json_lines(r.stdout)
    assert [row["input"] for row in rows] == inputs
    assert [row["ok"] for row in rows] == [True, False, True, False]
    assert rows[0]["label"] and "best_label" in rows[0] and "error" not in rows[0]
    assert "broken.npy" in rows[1]["error"] and "wrong_width.npy" in rows[3]["error"]

    r = runner.invoke(app, ["predict", str(kp_bundle), *inputs, "--json", "--fail-fast"])
    assert r.exit_code == 1
    assert [row["ok"] for row in _json_lines(r.stdout)] == [True, False]

    r = runner.invoke(app, ["predict", str(kp_bundle), inputs[0], inputs[2], "--json"])
    assert r.exit_code == 0 and len(_json_lines(r.stdout)) == 2


def test_batch_predict_table_streams_rows_and_errors(kp_bundle, tmp_path):
    inputs = _inputs(kp_bundle, tmp_path)
    r = runner.invoke(app, ["predict", str(kp_bundle), *inputs], env={"COLUMNS": "300"})
    assert r.exit_code == 1
    for path in inputs:
        assert path in r.output  # full paths: rows never look alike
    assert "4 inputs: 2 predicted, 2 failed" in r.output


def test_predict_streams_json_lines_as_each_input_finishes(kp_bundle, tmp_path, monkeypatch):
    """Each line is written before the next input is even loaded."""
    from motionscope.cli import predict as predict_cli

    inputs = _inputs(kp_bundle, tmp_path)
    written: list[str] = []
    started: list[int] = []
    real = predict_cli.predict_one

    def spy(rec, path, top_k, progress):
        started.append(len(written))
        return real(rec, path, top_k, progress)

    monkeypatch.setattr(predict_cli, "predict_one", spy)
    monkeypatch.setattr(predict_cli.sys.stdout, "write", lambda s: written.append(s) or len(s))
    with pytest.raises(typer.Exit):
        predict_cli.predict_cmd(kp_bundle, [Path(p) for p in inputs], as_json=True)
    assert started == [0, 1, 2, 3]
    assert len(written) == 4


def test_predict_on_a_folder_of_videos_predicts_each_video(kp_bundle, tmp_path):
    from tests.test_serve import empty_video, person_video

    folder = tmp_path / "clips"
    folder.mkdir()
    person_video(folder / "a_wave.mp4")
    empty_video(folder / "b_empty.mp4")
    r = runner.invoke(app, ["predict", str(kp_bundle), str(folder), "--json"])
    rows = _json_lines(r.stdout)
    assert [Path(row["input"]).name for row in rows] == ["a_wave.mp4", "b_empty.mp4"]
    assert rows[0]["ok"] is True
    assert rows[1]["ok"] is False and "no person detected" in rows[1]["error"]
    assert r.exit_code == 1
    assert "remove the folder" not in r.output and "delete" not in r.output

    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("x")
    r = runner.invoke(app, ["predict", str(kp_bundle), str(tmp_path / "nothing"), "--json"])
    (row,) = _json_lines(r.stdout)
    assert "pass video files" in row["error"] and "remove the folder" not in row["error"]


def test_predict_shows_a_frame_bar_for_videos(kp_bundle, tmp_path, monkeypatch):
    from motionscope import progress as prog
    from motionscope.cli import predict as predict_cli
    from tests.test_serve import person_video

    video = person_video(tmp_path / "wave.mp4", frames=12)
    totals, advanced = [], []
    real_bar = prog.video_bar

    def spy_bar(description, **kw):
        bar = real_bar(description, **kw)
        add, update = bar.add_task, bar.update
        bar.add_task = lambda *a, **k: totals.append(k["total"]) or add(*a, **k)
        bar.update = lambda t, **k: advanced.append(k.get("advance", 0)) or update(t, **k)
        return bar

    monkeypatch.setattr(prog, "video_bar", spy_bar)
    rec = motionscope.load(kp_bundle)
    try:
        o = predict_cli.predict_one(rec, video, 3, True)
    finally:
        rec.close()
    assert o.ok, o.error
    assert totals == [12] and sum(advanced) == 12


# -- item 6: "unknown" names the best class ---------------------------------------------------


def test_prediction_text_names_the_best_class_when_unknown():
    from motionscope.infer.prediction import Prediction

    p = Prediction("unknown", 0.67, [("clap", 0.67), ("wave", 0.2)], unknown=True)
    assert p.text == "unknown (best: clap 67%)"
    assert p.to_dict()["best_label"] == "clap" and p.to_dict()["label"] == "unknown"
    sure = Prediction("wave", 0.92, [("wave", 0.92)])
    assert sure.text == "wave 92%" and sure.to_dict()["best_label"] == "wave"


def test_overlay_says_unknown_with_the_best_class(monkeypatch):
    import cv2
    import numpy as np

    from motionscope.video import overlay

    texts: list[str] = []
    real = cv2.putText
    monkeypatch.setattr(cv2, "putText", lambda img, text, *a, **k: texts.append(text) or real(
        img, text, *a, **k))  # fmt: skip
    frame = np.zeros((240, 320, 3), dtype=np.uint8)
    top = [("clap", 0.67), ("wave", 0.2)]
    overlay.draw_predictions(
        frame, label="unknown", confidence=0.67, top_k=top, classes=["clap", "wave"]
    )
    assert "unknown (best: clap 67%)" in texts
    texts.clear()
    overlay.draw_predictions(frame, label="clap", confidence=0.9, top_k=[("clap", 0.9)],
                             classes=["clap", "wave"])  # fmt: skip
    assert "clap 90%" in texts


# -- item 2: tiny or lopsided data ------------------------------------------------------------


def _synth(root: Path, counts: dict[str, int], frames: int = 6) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    for label, n in counts.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            offset = list(counts).index(label)
            seq = rng.normal(size=(frames, 126)) + offset
            np.save(root / label / f"{i}.npy", seq.astype("f4"))
    return root


def test_size_check_refuses_a_class_of_one_unless_forced():
    import numpy as np

    from motionscope.data.sizecheck import DataSizeWarning, check_data_size

    labels = np.array([0] * 12 + [1])
    with pytest.raises(MotionscopeError, match=r"class b \(1\) has fewer than 2.*--force"):
        check_data_size(labels, ["a", "b"])
    with pytest.warns(DataSizeWarning, match="fewer than 2"):
        check_data_size(labels, ["a", "b"], force=True)
    parts = {"train": np.arange(10), "validation": np.array([], dtype=int), "test": np.arange(2)}
    with pytest.raises(MotionscopeError, match="validation split is empty"):
        check_data_size(np.array([0] * 12), ["a"], parts, force=True)


def test_size_check_warns_with_numbers_about_few_lopsided_and_thin_splits():
    import numpy as np

    from motionscope.data.sizecheck import DataSizeWarning, check_data_size

    labels = np.array([0] * 30 + [1] * 4 + [2] * 7)
    val, test = np.array([30, 31, 0]), np.array([34, 35, 1, 2])
    train = np.setdiff1d(np.arange(len(labels)), np.concatenate([val, test]))
    parts = {"train": train, "validation": val, "test": test}
    with pytest.warns(DataSizeWarning) as got:
        notes = check_data_size(labels, ["a", "b", "c"], parts)
    text = " | ".join(str(w.message) for w in got)
    assert notes and "b (4), c (7)" in text and "under 10" in text
    assert "lopsided" in text and "against 30" in text
    assert "validation split has 0-1 sequences of class a (1), c (0)" in text
    assert "test split has 0-1 sequences of class b (0)" in text
    with warnings_as_errors():
        assert check_data_size(np.array([0] * 20 + [1] * 20), ["a", "b"]) == []


def warnings_as_errors():
    import warnings

    class _Ctx:
        def __enter__(self):
            self.c = warnings.catch_warnings()
            self.c.__enter__()
            warnings.simplefilter("error")

        def __exit__(self, *exc):
            self.c.__exit__(*exc)

    return _Ctx()


def test_train_cli_warns_before_training_and_refuses_junk(tmp_path):
    data = _synth(tmp_path / "d", {"a": 2, "b": 2})
    r = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1",
                            "--no-progress", "--threads", "1"])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and "has none of class" in r.output and "--force" in r.output
    r = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1",
                            "--no-progress", "--threads", "1", "--force"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "warning:" in r.output and "has none of class" in r.output
    data = _synth(tmp_path / "e", {"big": 24, "small": 5})
    r = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run2"), "--epochs", "1",
                            "--no-progress", "--threads", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "warning:" in r.output and "small (5)" in r.output and "lopsided" in r.output
    assert r.output.index("warning:") < r.output.index("held-out test")


def test_evaluate_on_the_training_data_warns_not_held_out(kp_bundle, tmp_path):
    data = kp_bundle.parent / "data"
    r = runner.invoke(app, ["evaluate", str(kp_bundle), str(data), "--no-progress"],
                      env={"COLUMNS": "300"})  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "not held-out" in r.output and "metrics.json" in r.output
    other = tmp_path / "other"
    import shutil

    shutil.copytree(data, other)
    r = runner.invoke(app, ["evaluate", str(kp_bundle), str(other), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "not held-out" not in r.output


# -- item 3: progress for long work -----------------------------------------------------------


@pytest.fixture
def bars(monkeypatch):
    """Every bar made through motionscope.progress: its totals and how far it got."""
    from motionscope import progress as prog

    made: list[dict] = []
    real = prog.progress_bar

    def spy(*a, **kw):
        bar = real(*a, **kw)
        rec = {"total": None, "done": 0}
        made.append(rec)
        add, update = bar.add_task, bar.update

        def add_task(*aa, **kk):
            rec["total"] = kk.get("total")
            return add(*aa, **kk)

        def upd(task, **kk):
            if "total" in kk:
                rec["total"] = kk["total"]
            rec["done"] = kk.get("completed", rec["done"] + kk.get("advance", 0))
            return update(task, **kk)

        bar.add_task, bar.update = add_task, upd
        return bar

    monkeypatch.setattr(prog, "progress_bar", spy)
    return made


def test_synth_videos_shows_a_bar_per_video(tmp_path, bars):
    r = runner.invoke(app, ["synth", "videos", str(tmp_path / "v"), "--classes", "2",
                            "--per-class", "2", "--size", "64x64", "--seconds", "0.2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert bars == [{"total": 4, "done": 4}]


def test_segment_shows_mediapipe_progress_by_frames(kp_bundle, tmp_path, bars):
    from tests.test_serve import person_video

    video = person_video(tmp_path / "long.mp4", frames=30)
    r = runner.invoke(app, ["segment", str(kp_bundle), str(video)])
    assert r.exit_code == 0, r.output
    assert bars == [{"total": 30, "done": 30}]


def test_headless_live_counts_frames_processed(kp_bundle, tmp_path, bars):
    from tests.test_serve import person_video

    video = person_video(tmp_path / "clip.mp4", frames=14)
    r = runner.invoke(app, ["live", str(kp_bundle), "--source", str(video), "--no-display",
                            "--output", str(tmp_path / "a.mp4"),
                            "--log", str(tmp_path / "p.jsonl")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert bars == [{"total": 14, "done": 14}]
