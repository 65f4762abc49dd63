"""Model registry: ``@register_model`` and lookup by name (the timm idea).

A registered builder takes keyword-only ``input_dim``, ``num_classes`` and ``window`` plus its own
hyper-parameters and returns an ``nn.Module`` mapping ``(B, window, input_dim)`` float32 to
``(B, num_classes)`` logits. The :class:`ModelInfo` carries what the trainer needs to know about the
model: which input it takes, which feature transform and augmentation it was designed for, and its
optimiser defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from torch import nn

from motionscope.errors import MotionscopeError

if TYPE_CHECKING:
    from motionscope.keypoints.layout import Layout

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Builder
    description: str
    input_kind: str = "keypoints"  # or "frames"
    features: dict[str, Any] = field(default_factory=dict)  # FeatureConfig fields
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields
    optim: dict[str, Any] = field(default_factory=dict)  # OptimConfig fields
    hparams: dict[str, Any] = field(default_factory=dict)  # builder keyword defaults
    standardize: bool = False  # z-score each input column with training-set statistics
    # input_kind "frames": SamplingConfig fields (motionscope.video.sampling) the model was
    # designed for (frames per clip, crop size ...); the builder then ignores input_dim
    sampling: dict[str, Any] = field(default_factory=dict)
    # settings ("augment", "optim", "hparams": each replaces that section) for data without a
    # body, i.e. a generic layout (UEA/UCR sensor series): augmentation and regularisation that
    # imitate another person mean nothing there
    generic: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_layout(self, layout: Layout) -> ModelInfo:
        """These settings as trained on ``layout`` (the ``generic`` ones on a generic layout)."""
        if not self.generic or not layout.is_generic:
            return self
        return replace(self, **{k: dict(v) for k, v in self.generic.items()}, generic={})

    def build(self, *, input_dim: int, num_classes: int, window: int, **hparams: Any) -> nn.Module:
        kwargs = {**self.hparams, **hparams}
        return self.builder(input_dim=input_dim, num_classes=num_classes, window=window, **kwargs)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    description: str,
    input_kind: str = "keypoints",
    features: dict[str, Any] | None = None,
    augment: dict[str, Any] | None = None,
    optim: dict[str, Any] | None = None,
    hparams: dict[str, Any] | None = None,
    standardize: bool = False,
    sampling: dict[str, Any] | None = None,
    generic: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelInfo(
            name=name,
            builder=fn,
            description=description,
            input_kind=input_kind,
            features=dict(features or {}),
            augment=dict(augment or {}),
            optim=dict(optim or {}),
            hparams=dict(hparams or {}),
            standardize=standardize,
            sampling=dict(sampling or {}),
            generic={k: dict(v) for k, v in (generic or {}).items()},
        )
        return fn

    return deco


def _ensure_loaded() -> None:
    # Importing the package registers every built-in architecture.
    import motionscope.models  # noqa: F401


def get_model_info(name: str) -> ModelInfo:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise MotionscopeError(
            f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))} "
            "(see `motionscope models`)"
        )
    return _REGISTRY[name]


def list_models() -> list[ModelInfo]:
    _ensure_loaded()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
