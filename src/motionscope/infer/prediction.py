"""What a recognizer answers for one clip."""

from __future__ import annotations

from dataclasses import dataclass, field


def describe(label: str, confidence: float, best: str | None, unknown: bool) -> str:
    """How a prediction reads to a person: ``"clap 92%"``, or ``"unknown (best: clap 67%)"``
    when the model is unsure (the number is the best real class's probability, not a
    probability of "unknown")."""
    if unknown:
        return f"{label} (best: {best} {confidence:.0%})" if best else label
    return f"{label} {confidence:.0%}"


@dataclass
class Prediction:
    """What the model thinks a clip shows."""

    label: str
    confidence: float  # probability of ``label`` (of the best real class when unknown), 0..1
    top_k: list[tuple[str, float]]  # best first
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    source: str = ""
    unknown: bool = False  # top probability below the unknown threshold (label is "unknown")

    @property
    def best_label(self) -> str:
        """The most probable real class (the label unless the prediction is "unknown");
        ``confidence`` is its probability."""
        return self.top_k[0][0] if self.top_k else self.label

    @property
    def text(self) -> str:
        """``"clap 92%"`` or ``"unknown (best: clap 67%)"`` (see :func:`describe`)."""
        return describe(self.label, self.confidence, self.best_label, self.unknown)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "best_label": self.best_label,
            "confidence": round(self.confidence, 6),
            "top_k": [{"label": lab, "confidence": round(p, 6)} for lab, p in self.top_k],
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
            "unknown": self.unknown,
            "text": self.text,
        }
