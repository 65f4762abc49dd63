"""Unpack dataset archives (``.tar.xz`` of thousands of small ``.npy`` files) into a cache."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from motionscope.errors import DataError

MARKER = ".motionscope-extracted"


def default_cache() -> Path:
    """``$MOTIONSCOPE_CACHE`` or ``~/.cache/motionscope``."""
    env = os.environ.get("MOTIONSCOPE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "motionscope"


def _stamp(archive: Path) -> dict:
    st = archive.stat()
    return {"archive": str(archive), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _is_complete(dest: Path, stamp: dict) -> bool:
    try:
        return json.loads((dest / MARKER).read_text()) == stamp
    except (OSError, ValueError):
        return False


def extract_archive(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest`` once (again only when the archive changes).

    The extraction goes to a temporary sibling renamed to ``dest`` only when complete (marker
    included), so an interrupted run never leaves a half-extracted folder that looks finished.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise DataError(f"archive {archive} not found")
    stamp = _stamp(archive)
    if _is_complete(dest, stamp):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; a cache may be shared
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")  # refuses absolute paths and links out
            else:  # pragma: no cover - Python < 3.10.12
                tar.extractall(tmp)
        (tmp / MARKER).write_text(json.dumps(stamp))
        if dest.exists():
            if _is_complete(dest, stamp):  # another process finished first
                shutil.rmtree(tmp)
                return dest
            shutil.rmtree(dest)  # stale, or from an older archive
        os.replace(tmp, dest)
    except (tarfile.TarError, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot extract {archive}: {e}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def extract_cached(archive: Path, name: str, cache: Path | None = None) -> Path:
    """Extract ``archive`` once into ``<cache>/datasets/<name>`` and return that folder."""
    return extract_archive(Path(archive), (cache or default_cache()) / "datasets" / name)
