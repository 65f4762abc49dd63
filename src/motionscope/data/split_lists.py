"""UCF101-style split lists: ``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlist01.txt`` /
``testlist01.txt`` (``Class/v_Class_g08_c01.avi [label]`` relative to the dataset root), for
video datasets (:mod:`motionscope.data.videos`) and for keypoints extracted from them."""

from __future__ import annotations

from pathlib import Path

from motionscope.data.dataset import KeypointDataset
from motionscope.errors import DataError


def read_class_index(path: Path) -> dict[int, str]:
    """``classInd.txt``: lines ``1 ApplyEyeMakeup`` -> ``{1: "ApplyEyeMakeup"}``."""
    out: dict[int, str] = {}
    for n, line in enumerate(_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(
                f"{path}:{n}: expected 'NUMBER CLASS' (e.g. '1 ApplyEyeMakeup'), got {line!r}"
            )
        k = int(parts[0])
        if k in out:
            raise DataError(f"{path}:{n}: class number {k} appears twice")
        out[k] = parts[1]
    if not out:
        raise DataError(f"class index {path} lists no classes")
    return out


def _lines(path: Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e
    return [t.strip() for t in text.splitlines() if t.strip() and not t.lstrip().startswith("#")]


def read_split_list(path: Path) -> list[tuple[str, int | None, int]]:
    """``(relative path, label number or None, line number)`` of a train/test list."""
    rows = []
    for n, line in enumerate(_lines(path), 1):
        parts = line.rsplit(None, 1)
        label = None
        if len(parts) == 2 and parts[1].isdigit():
            rel, label = parts[0], int(parts[1])
        else:
            rel = line
        rows.append((rel.replace("\\", "/").lstrip("/"), label, n))
    if not rows:
        raise DataError(f"split list {path} lists no videos")
    return rows


def _list_key(rel: str) -> str:
    """``Class/v_x_g08_c01.avi`` and ``Class/v_x_g08_c01.npy`` name the same clip."""
    p = Path(rel)
    return (p.with_suffix("") if p.suffix else p).as_posix()


def apply_split_lists(
    ds: KeypointDataset,
    root: Path,
    split_files: tuple[Path, Path],
    class_index: Path | None = None,
) -> KeypointDataset:
    """Keypoints extracted from a listed video dataset (``root/<Class>/<clip>.npy`` mirrors
    ``<Class>/<clip>.avi``): keep the listed sequences, in list order, with ``split`` set."""
    train_list, test_list = (Path(p) for p in split_files)
    if class_index is None:
        near = train_list.parent / "classInd.txt"
        class_index = near if near.is_file() else None
    by_key = {}
    for s in ds.samples:
        try:
            by_key[_list_key(Path(s.source).relative_to(root).as_posix())] = s
        except ValueError:
            continue
    kept, missing = [], []
    for split, lst in (("train", train_list), ("test", test_list)):
        for rel, _, _ in read_split_list(lst):
            s = by_key.get(_list_key(rel))
            if s is None:
                missing.append(rel)
                continue
            s.split = split
            kept.append(s)
    if missing:
        shown = "\n  ".join(missing[:5])
        raise DataError(
            f"{len(missing)} clips listed in {train_list.name}/{test_list.name} have no keypoints "
            f"under {root}, e.g.:\n  {shown}\n(videos missing, or their extraction failed: see "
            "the extraction report)"
        )
    classes = list(ds.classes)
    if class_index is not None:
        index = read_class_index(Path(class_index))
        present = {s.label for s in kept}
        classes = [index[k] for k in sorted(index) if index[k] in present]
    return KeypointDataset(kept, ds.layout, classes, ds.source)


def resolve_split_files(
    split_file: list[Path] | None, train_list: Path | None = None, test_list: Path | None = None
) -> tuple[Path, Path] | None:
    """The (train, test) lists from ``--split-file`` (twice) or ``--train-list/--test-list``.

    Two ``--split-file`` are taken as (train, test) in order, unless their names say otherwise
    (``testlist01.txt`` given first and ``trainlist01.txt`` second are swapped back)."""
    files = list(split_file or [])
    if train_list is not None or test_list is not None:
        if files:
            raise DataError("give either --split-file twice or --train-list/--test-list, not both")
        if train_list is None or test_list is None:
            raise DataError("--train-list and --test-list go together: give both")
        return Path(train_list), Path(test_list)
    if not files:
        return None
    if len(files) != 2:
        raise DataError(
            f"--split-file takes two lists, train then test (e.g. trainlist01.txt and "
            f"testlist01.txt), got {len(files)}: {[str(f) for f in files]}"
        )
    a, b = (Path(f) for f in files)
    for f in (a, b):
        if not f.is_file():
            raise DataError(f"split list {f} does not exist")

    def says(f: Path, word: str) -> bool:
        return word in f.name.lower()

    if says(a, "test") and not says(a, "train") and says(b, "train") and not says(b, "test"):
        a, b = b, a
    return a, b
