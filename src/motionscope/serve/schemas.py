"""Response shapes of the API (they document ``/docs`` and are checked on the way out)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    success: bool = False
    error: str = Field(description="What was wrong and what to do about it.")


class SeedPrediction(BaseModel):
    action: str = Field(description='The label, or "no person detected".')
    confidence: float = Field(description="Percent, two decimals (92.45).")


class SeedResponse(BaseModel):
    success: bool = True
    prediction: SeedPrediction


class Scored(BaseModel):
    label: str
    confidence: float = Field(ge=0, le=1)


class Segment(BaseModel):
    start_s: float
    end_s: float
    label: str
    confidence: float


class VideoInfo(BaseModel):
    frames: int
    fps: float
    duration_s: float
    width: int
    height: int


class PredictResponse(BaseModel):
    success: bool = True
    person_detected: bool
    label: str | None = Field(
        description='None when no person was detected; "unknown" below '
        "the bundle's unknown threshold."
    )
    best_label: str | None = Field(
        None,
        description='The most probable class, also when label is "unknown" (confidence is its '
        "probability: 'unknown (best: clap 67%)'); None when no person was detected.",
    )
    unknown: bool = False
    confidence: float = Field(ge=0, le=1)
    top_k: list[Scored]
    segments: list[Segment] | None = Field(description="The timeline, with segments=true.")
    video: VideoInfo
    timings_ms: dict[str, float] = Field(description="queue, decode, pose, model (segments).")
    backend: str
    message: str | None = None


class ProgressResponse(BaseModel):
    frames: int = Field(description="Frames decoded and analysed so far.")
    total: int | None = Field(description="Frames in the video (by its header), if known.")
    fraction: float | None = Field(description="frames / total, 0..1 (None: total unknown).")


class ModelResponse(BaseModel):
    architecture: dict
    classes: list[str]
    input: dict
    metrics: dict
    backend: str
    report: dict[str, str | None]
    unknown_threshold: float | None = None
    limits: dict
    version: str


class HealthResponse(BaseModel):
    status: str
    model: str
    backend: str
    auth_required: bool
    workers: int
    worker_kind: str = Field(description='"process" (each worker its own process) or "thread"')
    worker_restarts: int = Field(description="worker processes restarted after a crash")
    running: int
    queued: int
    capacity: int
    live_streams: int
    live_frames: int
    live_dropped: int
    served: int
