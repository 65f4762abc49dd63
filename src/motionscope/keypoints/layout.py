"""Layouts: which blocks of landmarks a per-frame keypoint vector holds, and where.

A keypoint sequence is a float32 array ``(T, D)``; the :class:`Layout` says how the ``D`` columns
split into named blocks (pose 33x4, face 468x3, left hand 21x3, right hand 21x3). A block that was
not detected in a frame is all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

from motionscope.errors import DataError


@dataclass(frozen=True)
class Block:
    """A run of landmarks inside the frame vector."""

    name: str
    landmarks: int
    channels: int  # 4 = x, y, z, visibility; 3 = x, y, z; 1 = one generic value

    @property
    def width(self) -> int:
        return self.landmarks * self.channels


POSE = Block("pose", 33, 4)
FACE = Block("face", 468, 3)
LEFT_HAND = Block("left_hand", 21, 3)
RIGHT_HAND = Block("right_hand", 21, 3)


@dataclass(frozen=True)
class Layout:
    """An ordered list of blocks; ``name`` is what configs and ``--layout`` use."""

    name: str
    blocks: tuple[Block, ...]

    @property
    def width(self) -> int:
        return sum(b.width for b in self.blocks)

    @property
    def is_generic(self) -> bool:
        return self.name.startswith("generic")

    def has(self, block: str) -> bool:
        return any(b.name == block for b in self.blocks)

    def slice(self, block: str) -> slice:
        """Column range of ``block`` in the frame vector."""
        start = 0
        for b in self.blocks:
            if b.name == block:
                return slice(start, start + b.width)
            start += b.width
        raise KeyError(f"layout {self.name!r} has no block {block!r}")

    def block(self, block: str) -> Block:
        for b in self.blocks:
            if b.name == block:
                return b
        raise KeyError(f"layout {self.name!r} has no block {block!r}")

    def to_dict(self) -> dict:
        return {"name": self.name, "width": self.width}


HOLISTIC = Layout("holistic", (POSE, FACE, LEFT_HAND, RIGHT_HAND))
POSE_HANDS = Layout("pose_hands", (POSE, LEFT_HAND, RIGHT_HAND))
POSE_ONLY = Layout("pose", (POSE,))
HANDS = Layout("hands", (LEFT_HAND, RIGHT_HAND))

NAMED: dict[str, Layout] = {lay.name: lay for lay in (HOLISTIC, POSE_HANDS, POSE_ONLY, HANDS)}
BY_WIDTH: dict[int, Layout] = {lay.width: lay for lay in NAMED.values()}


def generic(width: int) -> Layout:
    """A layout of ``width`` unnamed channels (accelerometers, trajectories ...)."""
    if width < 1:
        raise ValueError(f"a generic layout needs at least one channel, got {width}")
    return Layout(f"generic{width}", (Block("values", width, 1),))


def get_layout(name: str) -> Layout:
    """Resolve a layout name: ``holistic``, ``pose_hands``, ``pose``, ``hands``, ``genericN``
    (or ``generic`` with the width supplied by :func:`resolve_layout`)."""
    key = name.strip().lower().replace("-", "_").replace("+", "_")
    if key in NAMED:
        return NAMED[key]
    if key.startswith("generic") and key[len("generic") :].isdigit():
        width = int(key[len("generic") :])
        if width < 1:
            raise DataError(f"layout {name!r}: genericN needs N >= 1 channels")
        return generic(width)
    known = ", ".join([*NAMED, "genericN"])
    raise DataError(f"unknown layout {name!r}; known layouts: {known}")


def resolve_layout(width: int, requested: str | Layout | None = None, source: str = "") -> Layout:
    """The layout of a ``width``-wide frame vector: ``requested`` if given (checked against the
    width), else detected from the width. ``source`` names the file for the error message."""
    where = f" in {source}" if source else ""
    if isinstance(requested, Layout):
        layout = requested
    elif requested:
        key = str(requested).strip().lower()
        layout = generic(width) if key == "generic" else get_layout(key)
    else:
        if width in BY_WIDTH:
            return BY_WIDTH[width]
        widths = ", ".join(f"{w} ({lay.name})" for w, lay in BY_WIDTH.items())
        raise DataError(
            f"unknown keypoint width {width}{where}: expected {widths}; "
            f"pass --layout generic (or --layout generic{width}) for other sequences"
        )
    if layout.width != width:
        raise DataError(
            f"layout {layout.name!r} has width {layout.width} but the data{where} has width {width}"
        )
    return layout


def convert(x, src: Layout, dst: Layout):
    """Keep the blocks of ``dst`` from a ``(T, src.width)`` array (e.g. Holistic 1662 to pose +
    hands 258): how keypoints extracted from video feed a model trained on fewer blocks."""
    import numpy as np

    if src == dst:
        return x
    missing = [b.name for b in dst.blocks if not src.has(b.name) or src.block(b.name) != b]
    if missing:
        raise DataError(
            f"cannot turn {src.name} keypoints into the {dst.name} layout: {src.name} has no "
            f"{', '.join(missing)}"
        )
    return np.concatenate([x[:, src.slice(b.name)] for b in dst.blocks], axis=1)


def to_layout(x, dst: Layout, source: str = "the input"):
    """A ``(T, D)`` sequence in the ``dst`` layout: as it is when ``D`` is ``dst``'s width,
    converted when ``D`` is a wider named layout holding ``dst``'s blocks (1662-wide Holistic
    data for a 258-wide pose + hands model), else a clear error naming ``source``."""
    width = x.shape[1]
    if width == dst.width:
        return x
    src = BY_WIDTH.get(width)
    if src is None or dst.is_generic:
        raise DataError(
            f"{source} has {width} values per frame but the model expects {dst.width} "
            f"({dst.name} layout)"
        )
    try:
        return convert(x, src, dst)
    except DataError as e:
        raise DataError(
            f"{source} is {src.name} keypoints ({width} values a frame), which do not hold "
            f"what the model's {dst.name} layout needs: {e}"
        ) from None
