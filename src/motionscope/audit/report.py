"""The audit's result: typed records, JSON, a corrected manifest and rich tables."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from motionscope.atomic import write_json
from motionscope.audit.checks import DataFlag
from motionscope.errors import DataError

MANIFEST_COLUMNS = ("path", "label", "group", "given_label", "audit")


@dataclass
class SequenceIssue:
    """A sequence whose given label looks wrong."""

    index: int
    source: str
    group: str | None
    label: str  # as given
    suggested: str
    p_given: float  # out-of-fold probability of the given label
    p_suggested: float
    reason: str  # "confident learning", "group p15 permuted", or both
    apply: bool  # the manifest relabels it (a group permutation, or a confident suggestion)


@dataclass
class GroupSummary:
    """One group (person): out-of-fold accuracy with the given labels and after the audit's
    fixes, its own labels' self-consistency, and the verdict."""

    group: str
    n: int
    accuracy_given: float
    accuracy_fixed: float
    within_accuracy: float | None
    permutation: dict[str, str] | None  # given class -> suggested class (moved classes only)
    why: str | None
    notes: list[str]
    n_flagged: int
    verdict: str  # "ok", "permuted: a -> b, b -> a", "suspect: a looks like b (n/m)"
    confusion_given: list[list[int]]


@dataclass
class AuditReport:
    source: str
    classes: list[str]
    n_sequences: int
    model: str
    folds: int
    folds_by_group: bool
    seed: int
    accuracy_given: float  # out-of-fold accuracy against the given labels
    accuracy_fixed: float  # against the labels after the group permutations
    issues: list[SequenceIssue]
    groups: list[GroupSummary]
    data_flags: list[DataFlag]
    seconds: float

    @property
    def trusted(self) -> bool:
        """The out-of-fold accuracy is high enough for single suggestions to be applied."""
        from motionscope.audit.core import MIN_TRUSTED_ACCURACY

        return self.accuracy_fixed >= MIN_TRUSTED_ACCURACY

    @property
    def trust_note(self) -> str | None:
        """Why single suggestions were not applied (``None`` when they were)."""
        if self.trusted:
            return None
        from motionscope.audit.core import MIN_TRUSTED_ACCURACY

        return (
            f"the audit model scores only {self.accuracy_fixed:.2f} out of fold (under "
            f"{MIN_TRUSTED_ACCURACY:g}): too weak to tell a wrong label from a person who "
            "moves differently, so its single-sequence suggestions are listed for review, not "
            "applied; audit more people"
            + (", or try --model kpnet" if self.model == "logreg" else "")
        )

    @property
    def permuted_groups(self) -> dict[str, dict[str, str]]:
        return {g.group: g.permutation for g in self.groups if g.permutation}

    def suggested_labels(self, labels: list[str]) -> list[str]:
        """``labels`` (the given ones, in dataset order) with the applied suggestions."""
        out = list(labels)
        for e in self.issues:
            if e.apply:
                out[e.index] = e.suggested
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["permuted_groups"] = self.permuted_groups
        d["n_issues"] = len(self.issues)
        d["n_relabelled"] = sum(e.apply for e in self.issues)
        d["trusted"] = self.trusted
        d["trust_note"] = self.trust_note
        return d

    def write_json(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.to_dict())
        return path

    def write_manifest(self, path: Path | str, ds) -> Path:
        """A manifest (``path,label,group,given_label,audit``) of every sequence of ``ds`` with
        the suggested labels: ``motionscope train PATH`` trains on the fixed labels as it is.
        Paths are relative to the manifest's folder."""
        path = Path(path)
        if len(ds) != self.n_sequences:
            raise DataError(f"the audit covers {self.n_sequences} sequences, not {len(ds)}")
        bad = [s.source for s in ds.samples if "#" in s.source and not Path(s.source).exists()]
        if bad:
            raise DataError(
                f"{bad[0]} is a case of a .ts file: a manifest cannot name it alone; "
                "use the JSON report instead"
            )
        labels = self.suggested_labels([s.label for s in ds.samples])
        notes: dict[int, list[str]] = {}
        for e in self.issues:
            verb = "relabelled" if e.apply else "review"
            notes.setdefault(e.index, []).append(f"{verb}: {e.reason} (p={e.p_suggested:.2f})")
        for f in self.data_flags:
            notes.setdefault(f.index, []).append(f.kind)
        base = path.parent.resolve()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(MANIFEST_COLUMNS)
        for i, s in enumerate(ds.samples):
            rel = _manifest_path(Path(s.source).resolve(), base)
            w.writerow([rel, labels[i], s.group or "", s.label, "; ".join(notes.get(i, []))])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    # ------------------------------------------------------------------------------------------
    # rich tables
    # ------------------------------------------------------------------------------------------

    def summary_table(self) -> Table:
        t = Table(title=f"label audit of {self.source}", show_header=False)
        t.add_column("", style="bold")
        t.add_column("")
        how = f"{self.folds} folds by group" if self.folds_by_group else f"{self.folds} folds"
        t.add_row("sequences", f"{self.n_sequences} ({len(self.classes)} classes)")
        t.add_row("model", f"{self.model}, out-of-fold, {how}, seed {self.seed}")
        t.add_row("accuracy (given labels)", f"{self.accuracy_given:.3f}")
        if self.permuted_groups:
            t.add_row("accuracy (groups fixed)", f"{self.accuracy_fixed:.3f}")
            t.add_row("permuted groups", ", ".join(self.permuted_groups))
        t.add_row(
            "suspect sequences",
            f"{len(self.issues)} ({sum(e.apply for e in self.issues)} relabelled in the manifest)",
        )
        if self.trust_note:
            t.add_row("[yellow]not applied[/]", self.trust_note)
        kinds: dict[str, int] = {}
        for f in self.data_flags:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        t.add_row("data flags", ", ".join(f"{k} {n}" for k, n in kinds.items()) or "none")
        t.add_row("time", f"{self.seconds:.1f} s")
        return t

    def groups_table(self, limit: int | None = None) -> Table | None:
        if not self.groups:
            return None
        t = Table(title="groups (suspect first)")
        for col in ("group", "n", "acc given", "acc fixed", "self-consistency", "flagged"):
            t.add_column(col, justify="right")
        t.add_column("verdict", justify="left")
        for g in self.groups[:limit] if limit else self.groups:
            within = "-" if g.within_accuracy is None else f"{g.within_accuracy:.3f}"
            t.add_row(
                g.group,
                str(g.n),
                f"{g.accuracy_given:.3f}",
                f"{g.accuracy_fixed:.3f}",
                within,
                str(g.n_flagged),
                g.verdict,
            )
        return t

    def issues_table(self, limit: int = 20) -> Table | None:
        if not self.issues:
            return None
        t = Table(title=f"suspect sequences (least likely first, {limit} of {len(self.issues)})")
        for col in ("sequence", "group", "label", "suggested", "p(label)", "p(suggested)"):
            t.add_column(col, justify="right")
        t.add_column("why", justify="left")
        for e in self.issues[:limit]:
            t.add_row(
                _short(e.source),
                e.group or "-",
                e.label,
                e.suggested + ("" if e.apply else "?"),
                f"{e.p_given:.2f}",
                f"{e.p_suggested:.2f}",
                e.reason,
            )
        return t

    def flags_table(self, limit: int = 20) -> Table | None:
        if not self.data_flags:
            return None
        t = Table(
            title=f"data flags ({min(limit, len(self.data_flags))} of {len(self.data_flags)})"
        )
        for col in ("sequence", "kind", "detail"):
            t.add_column(col)
        for f in self.data_flags[:limit]:
            t.add_row(_short(f.source), f.kind, f.detail)
        return t

    def tables(self) -> list[Table]:
        items = [self.summary_table(), self.groups_table(), self.issues_table(), self.flags_table()]
        return [t for t in items if t is not None]


def _manifest_path(source: Path, base: Path) -> str:
    """``source`` relative to the manifest's folder when close by (at most 3 levels up), so the
    manifest moves with the data; absolute otherwise."""
    rel = os.path.relpath(source, base)
    return rel if Path(rel).parts[:4].count("..") < 4 else str(source)


def _short(source: str, parts: int = 3) -> str:
    p = Path(source).parts
    return "/".join(p[-parts:])
