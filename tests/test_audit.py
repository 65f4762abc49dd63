"""Label audit on generated people with planted label errors, its manifest and its command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from motionscope.audit import audit_dataset
from motionscope.audit.core import best_permutation
from motionscope.cli.audit import audit_cmd
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.synth import write_synthetic_keypoints

CLASSES = ["clap", "raise_arms", "wave"]  # the first 3 synthetic actions, sorted


def people(root: Path, n: int, per_class: int = 8) -> Path:
    """``root/p<i>/<action>/<j>.npy``: ``n`` people, each drawn with its own seed."""
    for i in range(n):
        write_synthetic_keypoints(root / f"p{i}", classes=3, per_class=per_class, frames=16, seed=i)
    return root


def swap_folders(person: Path, a: str, b: str) -> None:
    """Swap the names of two class folders: everything in ``a`` is now labelled ``b``."""
    (person / a).rename(person / "_tmp")
    (person / b).rename(person / a)
    (person / "_tmp").rename(person / b)


def flip(root: Path, rel: str, to: str) -> Path:
    """Move one sequence into another class folder (a single wrong label)."""
    src = root / rel
    dst = root / Path(rel).parts[0] / to / f"flipped-{src.name}"
    shutil.move(src, dst)
    return dst


def load(root: Path, **kw):
    return load_keypoint_dataset(root, progress=False, **kw)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return people(tmp_path_factory.mktemp("clean") / "data", 4)


def test_best_permutation_reads_a_confusion_matrix():
    assert best_permutation(np.eye(3) * 5).tolist() == [0, 1, 2]
    assert best_permutation(np.array([[0, 9, 1], [8, 0, 2], [0, 0, 7]])).tolist() == [1, 0, 2]
    # a class the group does not have stays itself
    assert best_permutation(np.array([[5, 0, 0], [0, 0, 0], [0, 0, 5]])).tolist() == [0, 1, 2]


def test_a_clean_dataset_yields_few_flags(clean):
    ds = load(clean)
    report = audit_dataset(ds, folds=4)
    assert report.folds_by_group and report.folds == 4
    assert report.permuted_groups == {}
    assert all(g.verdict == "ok" for g in report.groups)
    assert len(report.issues) <= 0.05 * len(ds)
    assert report.accuracy_given > 0.9


def test_a_planted_whole_person_permutation_is_found(tmp_path):
    root = people(tmp_path / "data", 4)
    swap_folders(root / "p2", "clap", "wave")
    ds = load(root)
    report = audit_dataset(ds, folds=4)
    assert report.permuted_groups == {"p2": {"clap": "wave", "wave": "clap"}}
    p2 = next(g for g in report.groups if g.group == "p2")
    assert p2.accuracy_given < 0.5 < 0.9 < p2.accuracy_fixed
    assert report.groups[0].group == "p2"  # suspect groups first
    # the suggested labels undo the swap for (nearly) every sequence of p2
    truth = {"clap": "wave", "wave": "clap", "raise_arms": "raise_arms"}
    suggested = report.suggested_labels([s.label for s in ds.samples])
    fixed = [suggested[i] == truth[s.label] for i, s in enumerate(ds.samples) if s.group == "p2"]
    assert np.mean(fixed) >= 0.9


def test_planted_single_flips_are_mostly_flagged(tmp_path):
    root = people(tmp_path / "data", 4)
    planted = {
        flip(root, "p0/clap/1.npy", "wave"): "clap",
        flip(root, "p1/wave/2.npy", "raise_arms"): "wave",
        flip(root, "p2/raise_arms/3.npy", "clap"): "raise_arms",
        flip(root, "p3/clap/4.npy", "raise_arms"): "clap",
        flip(root, "p0/wave/5.npy", "clap"): "wave",
        flip(root, "p3/raise_arms/6.npy", "wave"): "raise_arms",
    }
    ds = load(root)
    report = audit_dataset(ds, folds=4)
    assert report.permuted_groups == {}
    by_source = {Path(e.source): e for e in report.issues}
    found = [p for p, true in planted.items() if p in by_source and by_source[p].suggested == true]
    assert len(found) >= 4, f"found {len(found)} of 6 planted flips"
    assert all(by_source[p].apply for p in found)
    assert len(report.issues) <= len(planted) + 0.05 * len(ds)  # few false alarms


def test_a_weak_audit_model_lists_its_suggestions_but_applies_none(clean, monkeypatch):
    """Out-of-fold probabilities that are confident and mostly wrong (people who each move a
    little differently): confident learning flags them, none is applied, the report says why."""
    import motionscope.audit.core as core

    def confidently_wrong(x, labels, n, fold, seed):
        rng = np.random.default_rng(seed)
        probs = np.full((len(labels), n), 0.05)
        wrong = rng.random(len(labels)) < 0.55  # out-of-fold accuracy ~0.45
        shift = rng.integers(1, n, len(labels))  # a random other class: no permutation
        probs[np.arange(len(labels)), np.where(wrong, (labels + shift) % n, labels)] = 0.9
        return probs / probs.sum(1, keepdims=True)

    monkeypatch.setattr(core, "logreg_oof", confidently_wrong)
    ds = load(clean)
    report = audit_dataset(ds, folds=4)
    assert report.accuracy_fixed < core.MIN_TRUSTED_ACCURACY and not report.trusted
    assert report.permuted_groups == {}
    assert len(report.issues) > 0.3 * len(ds)  # flagged, for review...
    assert not any(e.apply for e in report.issues)  # ...but not applied
    labels = [s.label for s in ds.samples]
    assert report.suggested_labels(labels) == labels
    assert "too weak" in report.to_dict()["trust_note"]

    monkeypatch.setattr(core, "MIN_TRUSTED_ACCURACY", 0.0)  # the same probabilities, trusted
    assert any(e.apply for e in audit_dataset(ds, folds=4).issues)


def test_two_people_the_less_self_consistent_one_is_taken_as_permuted(tmp_path):
    # with 2 people both look permuted to each other; b also has two loose flips of its own
    root = people(tmp_path / "data", 2)
    swap_folders(root / "p1", "clap", "wave")
    flip(root, "p1/raise_arms/0.npy", "clap")
    flip(root, "p1/raise_arms/1.npy", "wave")
    ds = load(root, groups="first")
    report = audit_dataset(ds, folds=2)
    assert list(report.permuted_groups) == ["p1"]
    p1 = next(g for g in report.groups if g.group == "p1")
    assert "2 groups look permuted to each other" in p1.why and "less" in p1.why


def test_the_manifest_round_trips_through_the_loader(tmp_path):
    root = people(tmp_path / "data", 4, per_class=6)
    swap_folders(root / "p1", "clap", "raise_arms")
    ds = load(root)
    report = audit_dataset(ds, folds=4)
    manifest = report.write_manifest(tmp_path / "audit" / "manifest.csv", ds)
    back = load(manifest)
    assert len(back) == len(ds)
    expected = report.suggested_labels([s.label for s in ds.samples])
    assert [s.label for s in back.samples] == expected
    assert [s.group for s in back.samples] == [s.group for s in ds.samples]
    for a, b in zip(ds.samples, back.samples, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert sum(x != s.label for x, s in zip(expected, ds.samples, strict=True)) >= 10
    # the manifest moves with the data: paths are relative to its folder
    assert not Path(manifest.read_text().splitlines()[1].split(",")[0]).is_absolute()
    data = json.loads(report.write_json(tmp_path / "audit" / "audit.json").read_text())
    assert data["permuted_groups"] == {"p1": {"clap": "raise_arms", "raise_arms": "clap"}}


def test_data_flags_duplicates_missing_parts_and_lengths(tmp_path):
    root = people(tmp_path / "data", 4, per_class=6)
    shutil.copy(root / "p0/clap/0.npy", root / "p0/wave/copy.npy")  # the same data, another label
    x = np.load(root / "p1/clap/0.npy")
    np.save(root / "p1/clap/near.npy", x + 1e-5)
    x[:, :132] = 0  # no pose
    np.save(root / "p1/clap/1.npy", x)
    y = np.load(root / "p2/wave/0.npy")
    y[:, 1536:] = 0  # no hands
    np.save(root / "p2/wave/0.npy", y)
    np.save(root / "p3/wave/long.npy", np.tile(np.load(root / "p3/wave/1.npy"), (12, 1)))
    ds = load(root)
    flags = {
        (Path(f.source).relative_to(root).as_posix(), f.kind) for f in audit_dataset(ds).data_flags
    }
    assert {("p0/clap/0.npy", "duplicate"), ("p0/wave/copy.npy", "duplicate")} <= flags
    assert ("p1/clap/near.npy", "near_duplicate") in flags
    assert ("p1/clap/1.npy", "no_pose") in flags
    assert ("p2/wave/0.npy", "no_hands") in flags
    assert ("p3/wave/long.npy", "length") in flags
    dup = next(f for f in audit_dataset(ds).data_flags if f.kind == "duplicate")
    assert "labelled clap / wave" in dup.detail


def test_without_groups_folds_are_stratified(tmp_path):
    write_synthetic_keypoints(tmp_path / "d", classes=3, per_class=10, frames=16, seed=0)
    ds = load(tmp_path / "d")
    report = audit_dataset(ds, folds=3)
    assert not report.folds_by_group and report.groups == []
    assert report.accuracy_given > 0.8


def test_the_audit_command(tmp_path):
    root = people(tmp_path / "data", 4, per_class=6)
    swap_folders(root / "p3", "wave", "raise_arms")
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("audit")(audit_cmd)
    runner = CliRunner()
    out = tmp_path / "audit"
    result = runner.invoke(app, ["audit", str(root), "--out", str(out), "--folds", "4"])
    assert result.exit_code == 0, result.output
    assert "permuted groups" in result.output and "p3" in result.output
    assert f"motionscope train {out / 'manifest.csv'}" in result.output
    assert json.loads((out / "audit.json").read_text())["permuted_groups"] == {
        "p3": {"raise_arms": "wave", "wave": "raise_arms"}
    }
    assert len(load(out / "manifest.csv")) == 4 * 3 * 6
    result = runner.invoke(app, ["audit", str(root), "--out", str(out), "--json", "--folds", "4"])
    assert result.exit_code == 0 and json.loads(result.output)["n_sequences"] == 72
    result = runner.invoke(app, ["audit", str(tmp_path / "missing"), "--out", str(out)])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["audit", str(root), "--model", "svm"])
    assert result.exit_code == 2 and "unknown audit model" in result.output


def test_the_kpnet_audit_model_runs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    root = people(tmp_path / "data", 3, per_class=4)
    report = audit_dataset(load(root), folds=3, model="kpnet", epochs=1)
    assert report.model == "kpnet" and report.n_sequences == 36
    assert 0.0 <= report.accuracy_given <= 1.0


@pytest.mark.realdata
def test_ashwinth04s_swap_is_found_in_mp_hello_thanks_iloveyou(extracted):
    root = extracted("mp-hello-thanks-iloveyou")
    ds = load(root)
    assert sorted(set(ds.groups)) == ["ashwinth04", "jonathan-roddy"]
    report = audit_dataset(ds)
    assert report.permuted_groups == {"ashwinth04": {"iloveyou": "thanks", "thanks": "iloveyou"}}
    jon = next(g for g in report.groups if g.group == "jonathan-roddy")
    assert jon.verdict == "ok"
