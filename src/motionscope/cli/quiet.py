"""Keep third-party chatter off the user's terminal (the command line only).

- OpenCV's videoio probes (``[ WARN:0@0.023] global cap_v4l.cpp ...``) are logged at WARN:
  ``OPENCV_LOG_LEVEL=ERROR`` (read when cv2 is first imported) keeps errors only.
- Ray warns about token authentication on every local ``ray.init`` (a one-machine runtime
  started by ``extract --engine ray``); that logger is set to ERROR.
- Lightning warns that a log directory "will be deleted" when a k-fold run reuses it; the
  staging folder is ours and always fresh.
"""

from __future__ import annotations

import logging
import os
import warnings

LIGHTNING_LOG_DIR = r"Experiment logs directory .* exists and is not empty"


def quiet_third_party() -> None:
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=LIGHTNING_LOG_DIR)
