"""Label audit (``motionscope audit``) on the real sign data in ../shared/datasets.

    .venv/bin/python bench/audit.py [--model logreg|kpnet] [--only hello,signers] [--seed 0]

Writes bench/results/audit.json (audit-kpnet.json for --model kpnet): per dataset the time, the
out-of-fold accuracy, the groups found permuted, every group's verdict, the number of suspect
sequences and data flags, and the agreement with the handshape checks of each SOURCE.md:
mp-hello-thanks-iloveyou (ashwinth04's iloveyou holds thanks, its thanks 10-29 are the ILY sign)
and mp-signers (people whose labels look swapped or whose iloveyou is another gesture).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from motionscope.audit import audit_dataset  # noqa: E402
from motionscope.data.archive import extract_cached  # noqa: E402
from motionscope.data.loaders import load_keypoint_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"

# mp-signers/SOURCE.md, "Labels that look wrong" (an I-love-you handshape score per sequence)
SIGNERS_SOURCE = {
    "p08": "no ILY handshape in any class (iloveyou is another gesture)",
    "p10": "no ILY handshape in any class (iloveyou is another gesture)",
    "p11": "no ILY handshape in any class (iloveyou is another gesture)",
    "p37": "no ILY handshape in any class (iloveyou is another gesture)",
    "p13": "iloveyou never ILY, thanks partly: partly swapped or mixed",
    "p15": "thanks <-> iloveyou",
    "p39": "thanks <-> iloveyou",
}


def _summary(report, ds) -> dict:
    kinds: dict[str, int] = {}
    for f in report.data_flags:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return {
        "n_sequences": report.n_sequences,
        "groups": len(report.groups),
        "model": report.model,
        "folds": report.folds,
        "seconds": report.seconds,
        "accuracy_given": round(report.accuracy_given, 4),
        "accuracy_fixed": round(report.accuracy_fixed, 4),
        "permuted_groups": report.permuted_groups,
        "verdicts": {g.group: g.verdict for g in report.groups},
        "group_accuracy_given": {g.group: round(g.accuracy_given, 3) for g in report.groups},
        "n_issues": len(report.issues),
        "n_relabelled": sum(e.apply for e in report.issues),
        "confident_learning_flags_by_group": _cl_by_group(report),
        "data_flags": kinds,
    }


def _cl_by_group(report) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in report.issues:
        if "confident learning" in e.reason:
            out[e.group or "-"] = out.get(e.group or "-", 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def bench_hello(model: str, seed: int) -> dict:
    root = extract_cached(
        SHARED / "mp-hello-thanks-iloveyou" / "mp-hello-thanks-iloveyou.tar.xz",
        "mp-hello-thanks-iloveyou",
    )
    ds = load_keypoint_dataset(root, progress=False)
    report = audit_dataset(ds, model=model, seed=seed)
    suggested = report.suggested_labels([s.label for s in ds.samples])
    ash = [(s, suggested[i]) for i, s in enumerate(ds.samples) if s.group == "ashwinth04"]
    ily_thanks = [lab for s, lab in ash if s.label == "thanks" and int(Path(s.source).name) >= 10]
    ash_ily = [lab for s, lab in ash if s.label == "iloveyou"]
    out = _summary(report, ds)
    out["source_check"] = {
        "ashwinth04 thanks 10-29 (ILY handshape) suggested iloveyou": (
            f"{ily_thanks.count('iloveyou')}/{len(ily_thanks)}"
        ),
        "ashwinth04 iloveyou (two open hands, a thanks) suggested thanks": (
            f"{ash_ily.count('thanks')}/{len(ash_ily)}"
        ),
    }
    return out


def bench_signers(model: str, seed: int) -> dict:
    root = extract_cached(SHARED / "mp-signers" / "mp-signers.tar.xz", "mp-signers")
    ds = load_keypoint_dataset(root, progress=False)
    report = audit_dataset(ds, model=model, seed=seed)
    out = _summary(report, ds)
    flagged = {g.group for g in report.groups if g.verdict != "ok"}
    source = set(SIGNERS_SOURCE)
    out["source_check"] = {
        "flagged by both": sorted(flagged & source),
        "only by the audit": sorted(flagged - source),
        "only by SOURCE.md": sorted(source - flagged),
        "per person": {
            p: {"source": SIGNERS_SOURCE[p], "audit": out["verdicts"].get(p)}
            for p in sorted(source)
        },
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="logreg", choices=("logreg", "kpnet"))
    ap.add_argument("--only", default="hello,signers")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: the real data lives beside the repository")
    import torch

    torch.set_num_threads(1)
    runs = {"hello": bench_hello, "signers": bench_signers}
    names = {"hello": "mp-hello-thanks-iloveyou", "signers": "mp-signers"}
    result = {
        "command": "python bench/audit.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_start": round(os.getloadavg()[0], 2),
        "datasets": {},
    }
    for key in args.only.split(","):
        t0 = time.perf_counter()
        result["datasets"][names[key]] = runs[key](args.model, args.seed)
        result["datasets"][names[key]]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({names[key]: result["datasets"][names[key]]}, indent=2))
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    suffix = "" if args.model == "logreg" else f"-{args.model}"
    path = RESULTS / f"audit{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
