"""Architectures, registered by name. Importing this package registers the built-in ones."""

# registers "kpnet", "seed-lstm", and the RGB models "cnn-lstm", "c3d-lstm-gru", "r2plus1d"
from motionscope.models import kpnet, rgb, seed_lstm  # noqa: F401
from motionscope.models.registry import (
    ModelInfo,
    count_parameters,
    get_model_info,
    list_models,
    register_model,
)

__all__ = ["ModelInfo", "count_parameters", "get_model_info", "list_models", "register_model"]
