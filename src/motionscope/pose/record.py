"""``motionscope record``: collect your own keypoint dataset from a camera (or a video file).

The seed tutorial's collection loop, done right. For each of ``sequences`` sequences of one
action:

1. a countdown of ``pause`` seconds ("wave: sequence 3 of 30 in 2 s"), showing the live skeleton
   so the person can get in position;
2. ``frames`` consecutive frames through MediaPipe Holistic, with the skeleton and a
   "recording" banner on screen;
3. ``OUT/<action>/<n>.npy`` written atomically: ``(frames, 1662)`` float32, the seed layout that
   ``motionscope train OUT`` loads, plus ``OUT/<action>/<n>.json`` (source, frame numbers and
   timestamps, detection rates, extractor version). With ``save_video`` the raw (unannotated)
   frames of the sequence go to ``VIDEO_DIR/<action>/<n>.mp4``; ``VIDEO_DIR`` defaults to
   ``OUT-videos`` *beside* ``OUT``, because videos inside ``OUT`` would make ``train OUT`` treat it
   as a video dataset.

Numbering continues after the highest number already in ``OUT/<action>`` (or in the video
folder), so running the command again for the same action adds sequences instead of overwriting
them.

**Time** is the source's: the countdown lasts ``pause`` seconds of camera time, or of *file time*
for a video file (``pause * fps`` frames of the file are skipped before every sequence; file
frames are never dropped). Headless (no window) the countdown runs the same way, without
anything on screen. MediaPipe's tracking is reset at the start of every sequence, so each
sequence is an independent sample and a recording is the same with or without a window. A camera
delivers its latest frame (:mod:`motionscope.video.capture`): when MediaPipe is slower than the
camera, frames are dropped and the sequence covers more time; the sidecar records the real
timestamps. A sequence cut short by the end of the source, q / Esc or Ctrl-C is discarded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionscope.atomic import write_json, write_npy
from motionscope.errors import DataError

_NAME = re.compile(r"^[\w][\w .+\-]*$")


@dataclass
class RecordConfig:
    out: Path
    action: str
    sequences: int = 30
    frames: int = 30
    source: str = "0"
    pause: float = 2.0  # seconds of source time before every sequence
    save_video: bool = False
    video_dir: Path | None = None  # default: OUT-videos beside OUT
    display: bool = False  # the caller checks display_available()
    title: str = "motionscope record"


@dataclass
class RecordSummary:
    action: str
    folder: str
    requested: int
    written: list[int] = field(default_factory=list)  # sequence numbers written
    videos: list[str] = field(default_factory=list)
    stopped_by: str = "done"  # done | end | user | interrupt
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.written) == self.requested


def check_action(name: str) -> str:
    name = str(name).strip()
    if not name or not _NAME.match(name) or name in (".", ".."):
        raise DataError(
            f"action name {name!r} cannot be a folder name: use letters, digits, '_', '-', '.', "
            "'+' or spaces, not starting with a dot"
        )
    return name


def default_video_dir(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + "-videos")


def _numbers(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        if p.name.startswith("."):
            continue
        stem = p.name if p.is_dir() else p.stem
        if stem.isdigit() and (p.is_dir() or p.suffix in (".npy", ".json", ".mp4")):
            found.append(int(stem))
    return found


def next_sequence_number(folder: Path, *others: Path) -> int:
    """One more than the highest sequence number (``<n>.npy``, ``<n>/``, ``<n>.mp4``) in
    ``folder`` and ``others``; 0 for a new action."""
    numbers = [n for f in (folder, *others) for n in _numbers(Path(f))]
    return max(numbers) + 1 if numbers else 0


def _check(cfg: RecordConfig) -> None:
    if cfg.sequences < 1:
        raise DataError(f"--sequences must be at least 1, got {cfg.sequences}")
    if cfg.frames < 1:
        raise DataError(f"--frames must be at least 1, got {cfg.frames}")
    if not cfg.pause >= 0:
        raise DataError(f"--pause must be 0 or more seconds, got {cfg.pause}")
    if Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise DataError(f"{cfg.out} is a file; OUT must be a dataset folder")


def run_record(
    cfg: RecordConfig, *, on_message: Callable[[str], None] | None = None
) -> RecordSummary:
    """Record ``cfg.sequences`` sequences (see the module docstring)."""
    from motionscope.pose.holistic import EXTRACTOR, HolisticExtractor, mediapipe_version
    from motionscope.video.capture import open_source
    from motionscope.video.overlay import draw_banner, draw_skeleton
    from motionscope.video.writer import VideoWriter

    action = check_action(cfg.action)
    _check(cfg)
    say = on_message or (lambda _msg: None)
    folder = Path(cfg.out) / action
    video_folder = Path(cfg.video_dir or default_video_dir(cfg.out)) / action
    first = next_sequence_number(folder, video_folder)
    summary = RecordSummary(action, str(folder), cfg.sequences)
    source = open_source(cfg.source)  # files: every frame, as fast as we go
    extractor = HolisticExtractor()
    window = None
    frames_iter = iter(source)
    pending = None  # a frame read during the countdown that starts the next sequence

    def show(img) -> None:
        if window is not None and not window.show(img):
            raise _Quit

    try:
        if cfg.display:
            from motionscope.video.display import Window

            window = Window(cfg.title)
        for k in range(cfg.sequences):
            number = first + k
            where = f"{action}: sequence {k + 1} of {cfg.sequences} (#{number})"
            # 1. countdown, in source time
            start_t = None
            pending = None
            if cfg.pause > 0:
                for frame in frames_iter:
                    if start_t is None:
                        start_t = frame.t
                    left = cfg.pause - (frame.t - start_t)
                    if left <= 1e-9:
                        pending = frame
                        break
                    if window is not None:
                        img = draw_skeleton(frame.image, extractor.process(frame.image))
                        show(draw_banner(img, f"{where} in {int(np.ceil(left))} s"))
                else:
                    summary.stopped_by = "end"
                    break
            # 2. record
            extractor.reset()
            rows, images, times, indices = [], [], [], []
            hits = {"pose": 0, "face": 0, "left_hand": 0, "right_hand": 0}
            while len(rows) < cfg.frames:
                frame = pending if pending is not None else next(frames_iter, None)
                pending = None
                if frame is None:
                    break
                vec, found = extractor.process_blocks(frame.image)
                rows.append(vec)
                times.append(frame.t)
                indices.append(frame.index)
                for name, hit in found.items():
                    hits[name] += hit
                if cfg.save_video:
                    images.append(frame.image)
                if window is not None:
                    img = draw_skeleton(frame.image, vec)
                    show(
                        draw_banner(
                            img,
                            f"RECORDING {action} {k + 1}/{cfg.sequences}: "
                            f"frame {len(rows)}/{cfg.frames}",
                            colour=(255, 80, 80),
                            big=False,
                        )
                    )
            if len(rows) < cfg.frames:
                summary.stopped_by = "end"
                say(
                    f"the source ended during {where} ({len(rows)} of {cfg.frames} frames): "
                    "that sequence was not saved"
                )
                break
            # 3. write: video first, the .npy (the sample itself) then its sidecar; folders only
            # now, so a run that records nothing leaves no empty class folder behind
            folder.mkdir(parents=True, exist_ok=True)
            video_path = None
            if cfg.save_video:
                video_folder.mkdir(parents=True, exist_ok=True)
                video_path = video_folder / f"{number}.mp4"
                with VideoWriter(video_path, fps=source.fps or 30.0) as w:
                    for img, t in zip(images, times, strict=True):
                        w.write(img, t - times[0])
                summary.videos.append(str(video_path))
            arr = np.stack(rows).astype(np.float32)
            npy = folder / f"{number}.npy"
            write_npy(npy, arr)
            n = len(rows)
            span = times[-1] - times[0]
            rates = {name: round(v / n, 4) for name, v in hits.items()}
            write_json(
                folder / f"{number}.json",
                {
                    "action": action,
                    "sequence": number,
                    "source": str(cfg.source),
                    "frames": n,
                    "shape": list(arr.shape),
                    "layout": "holistic",
                    "source_frames": [int(i) for i in indices],
                    "t": [round(float(t), 4) for t in times],
                    "fps": round((n - 1) / span, 3) if n > 1 and span > 0 else source.fps,
                    "detection_rate": rates,
                    "extractor": EXTRACTOR,
                    "mediapipe_version": mediapipe_version(),
                    "video": str(video_path) if video_path else None,
                },
            )
            summary.written.append(number)
            note = ""
            if rates["pose"] < 0.5:
                note = f"  (warning: a person was found in only {rates['pose']:.0%} of frames)"
                summary.warnings.append(f"{npy}: pose found in {rates['pose']:.0%} of frames")
            say(f"wrote {npy}  pose {rates['pose']:.0%}, hands "
                f"{max(rates['left_hand'], rates['right_hand']):.0%}{note}")  # fmt: skip
    except _Quit:
        summary.stopped_by = "user"
    except KeyboardInterrupt:
        summary.stopped_by = "interrupt"
    finally:
        source.close()
        extractor.close()
        if window is not None:
            window.close()
    if summary.complete:
        summary.stopped_by = "done"
    return summary


class _Quit(Exception):
    """The user pressed q / Esc or closed the window."""
