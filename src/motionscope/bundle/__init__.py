"""The bundle: a trained model as a self-describing, validated directory.

:mod:`~motionscope.bundle.schema` is the typed ``config.json`` (:class:`BundleConfig`);
:mod:`~motionscope.bundle.files` reads, writes and publishes bundles.
"""

from motionscope.bundle.files import (
    CLASSES,
    CONFIG,
    INT8_FILE,
    KEEP,
    METRICS,
    ONNX_FILE,
    REPORT,
    WEIGHTS,
    Bundle,
    prepare_staging,
    publish,
    read_bundle,
    recover,
    save_weights,
    staging_dir,
    update_config,
    write_files,
)
from motionscope.bundle.schema import (
    FORMAT_VERSION,
    BundleConfig,
    Calibration,
    ModelEntry,
)

__all__ = [
    "CLASSES",
    "CONFIG",
    "FORMAT_VERSION",
    "INT8_FILE",
    "KEEP",
    "METRICS",
    "ONNX_FILE",
    "REPORT",
    "WEIGHTS",
    "Bundle",
    "BundleConfig",
    "Calibration",
    "ModelEntry",
    "prepare_staging",
    "publish",
    "read_bundle",
    "recover",
    "save_weights",
    "staging_dir",
    "update_config",
    "write_files",
]
