"""``audit_dataset``: find labels that look wrong, whole people whose classes look permuted,
duplicates and sequences without a body or hands.

1. Out-of-fold probabilities (:mod:`motionscope.audit.oof`): folds by group (person) when the
   dataset has groups, so a person is always scored by models trained on other people.
2. Per group, the out-of-fold confusion matrix; its best class permutation (Hungarian
   assignment). A group is *permuted* when that permutation is not the identity, explains
   at least ``MIN_GAIN`` more of its sequences than the given labels, reaching ``MIN_ACCURACY``,
   and every class it moves goes mostly to its new class (at least ``MIN_MOVED`` of it: a
   person whose ``iloveyou`` is some other gesture is *suspect*, not permuted).
   The most convincing permuted group is relabelled and the probabilities recomputed, until
   no group is left (a person scored by models trained on a permuted person looks permuted
   too). With exactly two groups both look permuted to each other and the labels alone cannot
   say which is right: the group whose own labels are less self-consistent (lower
   cross-validated accuracy inside the group) is taken as the wrong one, and the report says so.
3. Confident learning (``cleanlab.filter.find_label_issues``) on the final probabilities flags
   single sequences; the suggested label is the most probable class. Those suggestions are
   applied only when the audit model is *trusted*: its out-of-fold accuracy (after the group
   fixes) is at least ``MIN_TRUSTED_ACCURACY``. A weaker model (a few people who each sign a
   little differently) flags people's style, not wrong labels: measured on 4 people of
   mp-signers with consistent labels, the out-of-fold accuracy was 0.46 and applying its 176
   suggestions cost a model trained on them 0.20 on other people; they stay "review" then.
4. Label-free checks (:mod:`motionscope.audit.checks`).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import confusion_matrix

from motionscope.audit.checks import data_flags
from motionscope.audit.oof import (
    MODELS,
    kpnet_oof,
    logreg_oof,
    make_folds,
    sequence_features,
    within_group_accuracy,
)
from motionscope.audit.report import AuditReport, GroupSummary, SequenceIssue
from motionscope.data.dataset import KeypointDataset
from motionscope.errors import DataError

MIN_GAIN = 0.25  # a permutation must explain this share more of a group's sequences ...
MIN_ACCURACY = 0.5  # ... and at least this share of them
MIN_MOVED = 0.4  # each moved class: at least this share predicted as its new class
RELABEL_CONFIDENCE = 0.5  # suggestions at least this probable are applied in the manifest
CLASS_LOOKS_LIKE = 0.5  # a class of a group "looks like" another when under this share is right
MIN_TRUSTED_ACCURACY = 0.75  # out-of-fold accuracy below this: single suggestions not applied


def best_permutation(cm: np.ndarray) -> np.ndarray:
    """``perm[i]``: the class that true class ``i`` is most consistently predicted as, one to one
    (maximises the matched count; classes a group does not have stay themselves)."""
    cm = np.asarray(cm, dtype=np.float64)
    bonus = 1e-6 * np.eye(len(cm))  # ties and empty rows: keep the identity
    _, cols = linear_sum_assignment(-(cm + bonus))
    return cols.astype(np.int64)


def _confusion(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    return confusion_matrix(y, pred, labels=list(range(n)))


def _candidates(
    labels: np.ndarray, pred: np.ndarray, groups: np.ndarray, n: int, done: set[str]
) -> list[tuple[str, np.ndarray, float, float]]:
    """Groups whose classes look permuted: (group, permutation, accuracy as given, permuted)."""
    out = []
    for g in sorted(set(groups.tolist()) - done):
        m = groups == g
        cm = _confusion(labels[m], pred[m], n)
        perm = best_permutation(cm)
        if np.array_equal(perm, np.arange(n)):
            continue
        acc = float(np.trace(cm)) / m.sum()
        acc_p = float(cm[np.arange(n), perm].sum()) / m.sum()
        rows = cm.sum(1)
        moved = [i for i in range(n) if perm[i] != i and rows[i] > 0]
        solid = all(cm[i, perm[i]] >= MIN_MOVED * rows[i] for i in moved)
        if acc_p - acc >= MIN_GAIN and acc_p >= MIN_ACCURACY and solid:
            out.append((g, perm, acc, acc_p))
    return out


def _class_notes(cm: np.ndarray, classes: list[str]) -> list[str]:
    notes = []
    for i, row in enumerate(cm):
        total = int(row.sum())
        if total == 0 or row[i] >= CLASS_LOOKS_LIKE * total:
            continue
        j = int(np.argmax(np.where(np.arange(len(row)) == i, -1, row)))
        notes.append(f"{classes[i]} looks like {classes[j]} ({int(row[j])}/{total})")
    return notes


def audit_dataset(
    ds: KeypointDataset,
    *,
    folds: int = 5,
    model: str = "logreg",
    seed: int = 0,
    epochs: int = 30,
    max_rounds: int = 5,
    filter_by: str = "prune_by_noise_rate",
) -> AuditReport:
    """Audit the labels of ``ds`` (see the module docstring); nothing is changed on disk."""
    if model not in MODELS:
        raise DataError(f"unknown audit model {model!r}; use one of {', '.join(MODELS)}")
    ds.check_trainable()
    t0 = time.perf_counter()
    classes, n = list(ds.classes), len(ds.classes)
    given = ds.labels
    fold = make_folds(ds, folds, seed)
    x = sequence_features(ds)

    def oof(labels: np.ndarray) -> np.ndarray:
        if model == "logreg":
            return logreg_oof(x, labels, n, fold, seed)
        relabelled = ds._rebuild(
            [_with_label(s, classes[k]) for s, k in zip(ds.samples, labels, strict=True)],
            classes,
        )
        return kpnet_oof(relabelled, fold, seed, epochs)

    groups = np.array([g if g is not None else "" for g in ds.groups], dtype=object)
    within = within_group_accuracy(x, given, groups.tolist(), seed) if fold.by_group else {}
    labels = given.copy()
    fixes: dict[str, tuple[np.ndarray, float, float, str]] = {}
    probs = oof(labels)
    for _ in range(max_rounds if fold.by_group else 0):
        cands = _candidates(labels, probs.argmax(1), groups, n, set(fixes))
        if not cands:
            break
        if len(set(groups.tolist())) == 2 and len(cands) == 2:
            cands.sort(key=lambda c: (_nan_last(within.get(c[0])), -(c[3] - c[2])))
            other = cands[1][0]
            why = (
                f"2 groups look permuted to each other; {cands[0][0]}'s own labels are less "
                f"self-consistent (within-group accuracy {within.get(cands[0][0], np.nan):.3f} "
                f"vs {within.get(other, np.nan):.3f} for {other})"
            )
        else:
            cands.sort(key=lambda c: -(c[3] - c[2]))
            why = "scored by models trained on the other groups"
        g, perm, acc, acc_p = cands[0]
        m = groups == g
        labels[m] = perm[labels[m]]
        fixes[g] = (perm, acc, acc_p, why)
        probs = oof(labels)

    accuracy_fixed = float((probs.argmax(1) == labels).mean())
    trusted = accuracy_fixed >= MIN_TRUSTED_ACCURACY
    issues = _issues(ds, given, labels, probs, classes, filter_by, trusted=trusted)
    report = AuditReport(
        source=ds.source,
        classes=classes,
        n_sequences=len(ds),
        model=model,
        folds=fold.n,
        folds_by_group=fold.by_group,
        seed=seed,
        accuracy_given=float((probs.argmax(1) == given).mean()),
        accuracy_fixed=accuracy_fixed,
        issues=issues,
        groups=_groups(ds, given, labels, probs, classes, groups, fixes, within, issues),
        data_flags=data_flags(ds),
        seconds=0.0,
    )
    report.seconds = round(time.perf_counter() - t0, 2)
    return report


def _nan_last(v: float | None) -> float:
    return np.inf if v is None or np.isnan(v) else v


def _with_label(sample, label: str):
    from dataclasses import replace

    return replace(sample, label=label)


def _issues(
    ds: KeypointDataset,
    given: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    filter_by: str,
    *,
    trusted: bool = True,
) -> list[SequenceIssue]:
    """Flagged and moved sequences; a confident-learning suggestion is applied only when the
    audit model is ``trusted`` (a group permutation is, whenever the sequence agrees)."""
    from cleanlab.filter import find_label_issues

    flagged = np.zeros(len(labels), dtype=bool)
    present = np.unique(labels)
    if len(present) >= 2:
        sub = probs[:, present] / np.clip(probs[:, present].sum(1, keepdims=True), 1e-12, None)
        remap = {c: i for i, c in enumerate(present)}
        flagged = find_label_issues(
            np.array([remap[c] for c in labels]), sub, filter_by=filter_by, n_jobs=1
        )
    out = []
    for i, s in enumerate(ds.samples):
        moved = labels[i] != given[i]
        if not (flagged[i] or moved):
            continue
        reasons = []
        suggested = int(labels[i])
        if moved:
            reasons.append(f"group {s.group} permuted")
        if flagged[i]:
            suggested = int(np.argmax(probs[i]))
            if moved and suggested == given[i]:
                reasons.append("but this sequence looks like its given label")
            else:
                reasons.append("confident learning")
        out.append(
            SequenceIssue(
                index=i,
                source=s.source,
                group=s.group,
                label=classes[given[i]],
                suggested=classes[suggested],
                p_given=float(probs[i, given[i]]),
                p_suggested=float(probs[i, suggested]),
                reason=" + ".join(reasons).replace(" + but", ", but"),
                apply=bool(
                    suggested != given[i]
                    and (
                        (moved and not flagged[i])
                        or (trusted and probs[i, suggested] >= RELABEL_CONFIDENCE)
                    )
                ),
            )
        )
    out.sort(key=lambda e: (e.p_given, e.index))
    return out


def _groups(ds, given, labels, probs, classes, groups, fixes, within, issues) -> list[GroupSummary]:
    if not ds.has_groups():
        return []
    n = len(classes)
    pred = probs.argmax(1)
    flagged = {}
    for e in issues:
        flagged[e.group] = flagged.get(e.group, 0) + 1
    out = []
    for g in sorted(set(groups.tolist())):
        m = groups == g
        cm_given = _confusion(given[m], pred[m], n)
        cm_fixed = _confusion(labels[m], pred[m], n)
        fix = fixes.get(g)
        perm = None
        if fix is not None:
            perm = {classes[i]: classes[int(j)] for i, j in enumerate(fix[0]) if i != j}
        notes = _class_notes(cm_fixed, classes)
        acc_fixed = float(np.trace(cm_fixed)) / m.sum()
        if perm:
            verdict = "permuted: " + ", ".join(f"{a} -> {b}" for a, b in perm.items())
        elif notes:
            verdict = "suspect: " + "; ".join(notes)
        else:
            verdict = "ok"
        out.append(
            GroupSummary(
                group=g,
                n=int(m.sum()),
                accuracy_given=float(np.trace(cm_given)) / m.sum(),
                accuracy_fixed=acc_fixed,
                within_accuracy=within.get(g),
                permutation=perm,
                why=fix[3] if fix else None,
                notes=notes,
                n_flagged=flagged.get(g, 0),
                verdict=verdict,
                confusion_given=cm_given.tolist(),
            )
        )
    out.sort(key=lambda s: (s.verdict == "ok", s.accuracy_given, s.group))
    return out
