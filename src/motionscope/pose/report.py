"""What an extraction batch did: one :class:`VideoResult` per video, the :class:`ExtractReport`
written to ``OUT/extract-report.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

REPORT = "extract-report.json"
STATUSES = ("ok", "skipped", "failed", "no-person")


@dataclass
class VideoResult:
    """What happened to one video."""

    source: str
    output: str | None  # the .npy, relative to OUT (None when nothing was written)
    status: str  # ok | skipped | failed | no-person
    frames: int = 0
    detection_rate: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None  # for skipped videos: the status of the earlier run


@dataclass
class ExtractReport:
    """The result of :func:`extract_batch`, also written to ``OUT/extract-report.json``."""

    src: str
    out: str
    engine: str
    workers: int
    settings: dict
    videos: list[VideoResult]
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(v.status == s for v in self.videos) for s in STATUSES}

    @property
    def failed(self) -> list[VideoResult]:
        return [v for v in self.videos if v.status == "failed"]

    @property
    def frames_extracted(self) -> int:
        return sum(v.frames for v in self.videos if v.status in ("ok", "no-person"))

    @property
    def frames_per_second(self) -> float:
        return self.frames_extracted / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "src": self.src,
            "out": self.out,
            "engine": self.engine,
            "workers": self.workers,
            "settings": self.settings,
            "counts": self.counts,
            "frames_extracted": self.frames_extracted,
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames_per_second, 2),
            "videos": [asdict(v) for v in self.videos],
        }
