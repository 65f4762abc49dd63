"""What a recognizer answers for one clip."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Prediction:
    """What the model thinks a clip shows."""

    label: str
    confidence: float  # probability of ``label`` (of the best real class when unknown), 0..1
    top_k: list[tuple[str, float]]  # best first
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    source: str = ""
    unknown: bool = False  # top probability below the unknown threshold (label is "unknown")

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "top_k": [{"label": lab, "confidence": round(p, 6)} for lab, p in self.top_k],
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
            "unknown": self.unknown,
        }
