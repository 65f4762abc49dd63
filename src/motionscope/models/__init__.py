"""Architectures, registered by name. Importing this package registers the built-in ones."""

from motionscope.models import kpnet, seed_lstm  # noqa: F401  (registers "kpnet", "seed-lstm")
from motionscope.models.registry import (
    ModelInfo,
    count_parameters,
    get_model_info,
    list_models,
    register_model,
)

__all__ = ["ModelInfo", "count_parameters", "get_model_info", "list_models", "register_model"]
