"""Decoding only the frames a clip needs: seeking to the key frame before each wanted frame
(checked against the packet list), with exact fallbacks for containers that cannot seek."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscope.errors import DataError
from motionscope.video.decode import (
    IMAGE_SUFFIXES,
    _open,
    _read_image,
    frame_files,
    frame_to_rgb,
    iter_frames,
)

_NO_SEEK_FORMATS = {"mpeg", "mpegts", "mpegvideo", "m4v", "h264", "hevc"}


class _CannotSeek(Exception):
    """The seeking reader met something it cannot vouch for: decode the whole clip instead."""


@dataclass(frozen=True)
class _Index:
    """A video's frames from its packets: timestamps in presentation order and key frames."""

    pts: list[int]  # every frame's pts, ascending (= decode.read_frames order)
    keys: list[int]  # positions (into pts) of key frames, ascending
    sizes: dict[int, int]  # packet size by pts: checks a seek landed where its timestamps say
    seekable: bool  # False for containers whose timestamps shift after a seek (MPEG-PS/TS)


def _index_video(path: Path) -> _Index | None:
    """List the video stream's packets (no decoding). ``None`` when they do not give a usable
    frame list (missing or duplicate timestamps, no key frame at the start)."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        seekable = not (set(container.format.name.split(",")) & _NO_SEEK_FORMATS)
        pts: list[int] = []
        key_pts: list[int] = []
        sizes: dict[int, int] = {}
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flushing packet at the end
            if packet.pts is None:
                return None
            pts.append(int(packet.pts))
            sizes[int(packet.pts)] = int(packet.size)
            if packet.is_keyframe:
                key_pts.append(int(packet.pts))
    except av.error.FFmpegError:
        return None
    finally:
        container.close()
    if not pts or not key_pts:
        return None
    order = sorted(pts)
    if len(set(order)) != len(order) or min(key_pts) != order[0]:
        return None
    pos = {p: i for i, p in enumerate(order)}
    return _Index(order, sorted(pos[p] for p in key_pts), sizes, seekable)


def _decode_at(
    path: Path, index: _Index, wanted: list[int], prep: Callable, *, seek: bool = True
) -> dict:
    """``prep(frame)`` of the frames at the ``wanted`` positions (sorted, unique), seeking to the
    key frame before each one that is not reachable by decoding on (``seek=False``: decoding
    from the start, stopping after the last wanted frame)."""
    import av

    out: dict[int, np.ndarray] = {}
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # as decode.py: frame threads were not deterministic
        frames = None  # iterator of (position, frame) of the current run
        last = -1  # position of the last frame decoded in the current run
        for w in wanted:
            key = index.keys[bisect.bisect_right(index.keys, w) - 1] if seek else 0
            if frames is None or key > last + 1:
                # no seek for a first run from the start: the container is there already
                frames = _run(container, stream, index, key, seek=frames is not None or key > 0)
                last = -1
            for position, frame in frames:
                last = position
                if position == w:
                    out[w] = prep(frame_to_rgb(frame))
                    break
            else:
                raise _CannotSeek(f"frame {w} never came")
    except (av.error.FFmpegError, OSError) as e:
        raise _CannotSeek(str(e)) from e
    finally:
        container.close()
    return out


def _run(container, stream, index: _Index, key: int, *, seek: bool = True):
    """Seek to the key frame at position ``key``; yield ``(position, frame)`` decoding forward,
    checking every frame is the next one of the packet list."""
    target = index.pts[key]
    keys = set(index.keys)
    if seek:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    landed = None
    expect = None
    for packet in container.demux(stream):
        if landed is None and packet.size:
            # Start decoding at the first key frame after the landing point (inexact seekers
            # such as MPEG-PS land a few packets early); it must not be past the one asked for.
            if packet.pts is not None and packet.pts > target:
                raise _CannotSeek(f"seek to pts {target} landed past it, at {packet.pts}")
            if not packet.is_keyframe or packet.pts is None:
                continue
            landed = int(packet.pts)
            expect = bisect.bisect_left(index.pts, landed)
            if expect >= len(index.pts) or index.pts[expect] != landed or expect not in keys:
                raise _CannotSeek(f"landed on pts {landed}, not a key frame of the index")
        if landed is not None and packet.size and index.sizes.get(packet.pts) != packet.size:
            # timestamps after a seek that do not match the packet list (MPEG-PS shifts them)
            raise _CannotSeek(f"packet at pts {packet.pts} differs from the packet list")
        for frame in packet.decode():
            if frame.pts is None:
                raise _CannotSeek("a decoded frame has no pts")
            if frame.pts < landed and expect == bisect.bisect_left(index.pts, landed):
                continue  # leading frames of an open GOP before the key frame we landed on
            if expect >= len(index.pts) or frame.pts != index.pts[expect]:
                raise _CannotSeek(f"decoded pts {frame.pts}, expected position {expect}")
            yield expect, frame
            expect += 1


def _indexed_frames(path: Path, index: _Index, idx: np.ndarray, prep: Callable) -> np.ndarray:
    """The frames at ``idx`` by seeking, else by reading on from the start; ``_CannotSeek`` when
    neither reproduces the packet list."""
    wanted = sorted(set(idx.tolist()))
    got = None
    if index.seekable:
        try:
            got = _decode_at(path, index, wanted, prep, seek=True)
        except _CannotSeek:
            got = None
    if got is None:
        try:
            got = _decode_at(path, index, wanted, prep, seek=False)
        except _CannotSeek:
            got = _decode_in_order(path, len(index.pts), set(wanted), prep)
    return np.stack([got[int(i)] for i in idx])


def _decode_in_order(path: Path, n: int, wanted: set[int], prep: Callable) -> dict:
    """Decode every frame in output order, converting only the ``wanted`` positions, for videos
    whose timestamps do not give the output order (AVI with B-frames: FFmpeg guesses pts that
    are not monotonic). ``_CannotSeek`` unless the decoder gives exactly ``n`` frames."""
    import av

    out: dict[int, np.ndarray] = {}
    i = 0
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        for frame in container.decode(stream):
            if i in wanted:
                out[i] = prep(frame_to_rgb(frame))
            i += 1
    except (av.error.FFmpegError, OSError) as e:
        raise _CannotSeek(str(e)) from e
    finally:
        container.close()
    if i != n:
        raise _CannotSeek(f"decoded {i} frames, the packet list has {n}")
    return out


def _all_frames(path: Path, prep: Callable) -> list[np.ndarray]:
    return [prep(f) for f in iter_frames(path)]


def _read_folder(folder: Path, idx: np.ndarray, prep: Callable) -> np.ndarray:
    files = frame_files(folder)
    if not files:
        raise DataError(
            f"{folder} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)}); "
            "a clip needs at least one frame"
        )
    got: dict[int, np.ndarray] = {}
    shape = None
    for i in sorted(set(int(i) for i in idx)):
        img = _read_image(files[i])
        if shape is None:
            shape = img.shape
        elif img.shape != shape:
            raise DataError(
                f"frame {files[i]} is {img.shape[1]}x{img.shape[0]} but frame {files[idx[0]]} "
                f"of {folder} is {shape[1]}x{shape[0]}; every frame of a video must have the "
                "same size"
            )
        got[i] = prep(img)
    return np.stack([got[int(i)] for i in idx])


def count_frames(path: Path | str) -> int:
    """The number of frames :func:`motionscope.video.decode.read_frames` would return, from the
    packet list when it is usable (no decoding), else by decoding."""
    path = Path(path)
    if path.is_dir():
        n = len(frame_files(path))
        if not n:
            raise DataError(
                f"{path} is a folder without frame images ({', '.join(IMAGE_SUFFIXES)})"
            )
        return n
    index = _index_video(path)
    if index is not None:
        return len(index.pts)
    return sum(1 for _ in iter_frames(path))


def read_frames_at(path: Path | str, indices, *, prep: Callable | None = None) -> np.ndarray:
    """The frames at ``indices`` (presentation order, repeats allowed) of a video file or frame
    folder, seeking where it can: ``(len(indices), H, W, 3)`` uint8 RGB, equal to
    ``read_frames(path)[indices]``. ``prep`` maps each frame (e.g. a resize) before stacking."""
    path = Path(path)
    prep = prep or (lambda f: f)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if path.is_dir():
        n = count_frames(path)
        _check_range(idx, n, path)
        return _read_folder(path, idx, prep)
    index = _index_video(path)
    if index is not None:
        _check_range(idx, len(index.pts), path)
        try:
            return _indexed_frames(path, index, idx, prep)
        except _CannotSeek:
            pass
    frames = _all_frames(path, prep)
    _check_range(idx, len(frames), path)
    return np.stack([frames[int(i)] for i in idx])


def _check_range(idx: np.ndarray, n: int, path: Path) -> None:
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise DataError(
            f"frame indices {idx.min()}..{idx.max()} out of range for {path} ({n} frames)"
        )
