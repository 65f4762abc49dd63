"""Splits: stratified, contiguous, group, kfold:K and manifest; validation slices; SplitSpec."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionscope.data.dataset import KeypointDataset, Sample
from motionscope.data.loaders import load_keypoint_dataset
from motionscope.data.splits import (
    SplitSpec,
    contiguous,
    cv_folds,
    fold_groups,
    group,
    kfold,
    split_dataset,
    stratified,
    validation_split,
)
from motionscope.errors import DataError
from motionscope.keypoints.layout import HANDS


def make_ds(
    counts: dict[str, int],
    *,
    groups: list[str | None] | None = None,
    splits: list[str | None] | None = None,
    shuffle: int | None = None,
) -> KeypointDataset:
    """``counts`` sequences per class; ``order`` is the sequence number inside its class. With
    ``shuffle`` the samples are stored in a random order (the ``order`` field still counts)."""
    samples = []
    for label, n in counts.items():
        for i in range(n):
            data = np.full((2, 126), i, dtype=np.float32)
            samples.append(Sample(data, label, f"{label}/{i}.npy", order=i))
    if shuffle is not None:
        perm = np.random.default_rng(shuffle).permutation(len(samples))
        samples = [samples[i] for i in perm]
    for i, s in enumerate(samples):
        if groups is not None:
            s.group = groups[i]
        if splits is not None:
            s.split = splits[i]
    return KeypointDataset(samples, HANDS)


def assert_partition(train: np.ndarray, test: np.ndarray, n: int) -> None:
    assert len(set(train.tolist()) & set(test.tolist())) == 0, "train and test overlap"
    assert sorted([*train.tolist(), *test.tolist()]) == list(range(n)), "not full coverage"
    assert len(train) > 0 and len(test) > 0


def per_class(ds: KeypointDataset, idx: np.ndarray) -> dict[str, int]:
    return ds.subset(idx).counts()


# ---------------------------------------------------------------------------------------------
# SplitSpec
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "k", "back"),
    [
        ("stratified", "stratified", 0, "stratified"),
        (" Contiguous ", "contiguous", 0, "contiguous"),
        ("group", "group", 0, "group"),
        ("manifest", "manifest", 0, "manifest"),
        ("kfold:5", "kfold", 5, "kfold:5"),
        ("KFOLD:2", "kfold", 2, "kfold:2"),
    ],
)
def test_split_spec_parse(text, kind, k, back):
    spec = SplitSpec.parse(text)
    assert (spec.kind, spec.k) == (kind, k)
    assert str(spec) == back
    assert SplitSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("text", ["kfold", "kfold:", "kfold:1", "kfold:0", "kfold:x", "kfold:-3"])
def test_split_spec_bad_kfold(text):
    with pytest.raises(DataError) as err:
        SplitSpec.parse(text)
    assert "kfold:K with K >= 2" in str(err.value)
    assert repr(text) in str(err.value)


@pytest.mark.parametrize("text", ["random", "", "strat", "group:2"])
def test_split_spec_unknown(text):
    with pytest.raises(DataError) as err:
        SplitSpec.parse(text)
    msg = str(err.value)
    assert "unknown split" in msg
    for known in ("stratified", "contiguous", "group", "manifest", "kfold:K"):
        assert known in msg


# ---------------------------------------------------------------------------------------------
# stratified
# ---------------------------------------------------------------------------------------------


def test_stratified_partition_and_per_class_counts():
    ds = make_ds({"a": 10, "b": 10, "c": 10}, shuffle=1)
    train, test = split_dataset(ds, SplitSpec("stratified"), test_fraction=0.2, seed=0)
    assert_partition(train, test, len(ds))
    assert per_class(ds, test) == {"a": 2, "b": 2, "c": 2}
    assert per_class(ds, train) == {"a": 8, "b": 8, "c": 8}
    assert train.dtype.kind == "i" and list(train) == sorted(train)


def test_stratified_is_deterministic_per_seed_and_varies_across_seeds():
    labels = make_ds({"a": 20, "b": 20}).labels
    a1 = stratified(labels, 0.25, seed=7)
    a2 = stratified(labels, 0.25, seed=7)
    np.testing.assert_array_equal(a1[1], a2[1])
    np.testing.assert_array_equal(a1[0], a2[0])
    tests = {tuple(stratified(labels, 0.25, seed=s)[1]) for s in range(5)}
    assert len(tests) > 1


def test_stratified_puts_every_class_in_test_when_it_can():
    ds = make_ds({"a": 3, "b": 3, "c": 3, "d": 3})
    _, test = stratified(ds.labels, 0.1, seed=0)  # 0.1 * 12 rounds to 1, raised to 4 classes
    assert per_class(ds, test) == {"a": 1, "b": 1, "c": 1, "d": 1}


def test_stratified_with_a_singleton_class_still_partitions():
    ds = make_ds({"a": 8, "b": 1})
    train, test = stratified(ds.labels, 0.25, seed=3)
    assert_partition(train, test, len(ds))


# ---------------------------------------------------------------------------------------------
# contiguous
# ---------------------------------------------------------------------------------------------


def test_contiguous_takes_the_last_sequences_of_each_class():
    ds = make_ds({"a": 10, "b": 5, "c": 20}, shuffle=3)  # stored out of order on purpose
    train, test = split_dataset(ds, SplitSpec("contiguous"), test_fraction=0.2, seed=0)
    assert_partition(train, test, len(ds))
    assert per_class(ds, test) == {"a": 2, "b": 1, "c": 4}
    for label, n in {"a": 10, "b": 5, "c": 20}.items():
        test_orders = sorted(ds.samples[i].order for i in test if ds.samples[i].label == label)
        train_orders = sorted(ds.samples[i].order for i in train if ds.samples[i].label == label)
        k = len(test_orders)
        assert test_orders == list(range(n - k, n)), label  # a contiguous tail
        assert train_orders == list(range(n - k)), label  # a contiguous head
        assert max(train_orders) < min(test_orders)


def test_contiguous_ignores_the_seed():
    ds = make_ds({"a": 10, "b": 10}, shuffle=0)
    a = split_dataset(ds, SplitSpec("contiguous"), test_fraction=0.3, seed=1)
    b = split_dataset(ds, SplitSpec("contiguous"), test_fraction=0.3, seed=99)
    np.testing.assert_array_equal(a[1], b[1])


def test_contiguous_keeps_a_singleton_class_in_train():
    ds = make_ds({"a": 5, "b": 1})
    train, test = contiguous(ds.labels, np.array([s.order for s in ds.samples]), 0.2)
    assert_partition(train, test, len(ds))
    assert per_class(ds, test) == {"a": 1, "b": 0}


def test_contiguous_on_loaded_frames_uses_natural_order(tmp_path, write_frames):
    root = write_frames(tmp_path, {"a": 12, "b": 12}, frames=2)
    ds = load_keypoint_dataset(root, progress=False)
    _, test = split_dataset(ds, SplitSpec("contiguous"), test_fraction=0.25, seed=0)
    names = sorted((ds.samples[i].label, int(ds.samples[i].source.rsplit("/", 1)[1])) for i in test)
    # folders 9, 10, 11 are the last three (a text sort would have picked 7, 8, 9)
    assert names == [("a", 9), ("a", 10), ("a", 11), ("b", 9), ("b", 10), ("b", 11)]


# ---------------------------------------------------------------------------------------------
# group
# ---------------------------------------------------------------------------------------------


def _groups(n: int, n_groups: int) -> list[str]:
    return [f"p{i % n_groups}" for i in range(n)]


def test_group_split_never_puts_a_group_on_both_sides():
    ds = make_ds({"a": 24, "b": 24}, groups=_groups(48, 6), shuffle=None)
    for seed in range(6):
        train, test = split_dataset(ds, SplitSpec("group"), test_fraction=0.3, seed=seed)
        assert_partition(train, test, len(ds))
        g_train = {ds.samples[i].group for i in train}
        g_test = {ds.samples[i].group for i in test}
        assert not g_train & g_test
        assert g_train | g_test == {f"p{i}" for i in range(6)}


def test_group_split_is_deterministic_and_seed_dependent():
    groups = _groups(40, 8)
    a = group(groups, 0.25, seed=5)
    b = group(groups, 0.25, seed=5)
    np.testing.assert_array_equal(a[1], b[1])
    chosen = {frozenset(groups[i] for i in group(groups, 0.25, seed=s)[1]) for s in range(8)}
    assert len(chosen) > 1


def test_group_split_with_test_groups():
    ds = make_ds({"a": 6, "b": 6}, groups=_groups(12, 3))
    train, test = split_dataset(
        ds, SplitSpec("group"), test_fraction=0.5, seed=0, test_groups=["p2"]
    )
    assert {ds.samples[i].group for i in test} == {"p2"}
    assert {ds.samples[i].group for i in train} == {"p0", "p1"}
    assert_partition(train, test, len(ds))
    with pytest.raises(DataError) as err:
        group(_groups(12, 3), 0.5, 0, test_groups=["p9"])
    assert "p9" in str(err.value) and "p0" in str(err.value)


def test_group_split_keeps_train_non_empty_with_a_large_fraction():
    train, test = group(_groups(10, 2), 0.9, seed=0)
    assert len(train) == 5 and len(test) == 5


def test_group_split_errors():
    with pytest.raises(DataError) as err:
        group(["p1", None, "p2", None], 0.5, 0)
    msg = str(err.value)
    assert "2 sequences have no group" in msg
    assert "group" in msg and "--group-pattern" in msg
    with pytest.raises(DataError, match="at least 2 groups"):
        group(["p1", "p1", "p1"], 0.5, 0)


def test_group_split_from_a_group_pattern(tmp_path):
    for label in ("a", "b"):
        for person in range(4):
            for take in range(3):
                folder = tmp_path / label / f"person{person}_take{take}"
                folder.mkdir(parents=True)
                np.save(folder / "0.npy", np.zeros(126))
    ds = load_keypoint_dataset(tmp_path, group_pattern=r"person(\d+)", progress=False)
    train, test = split_dataset(ds, SplitSpec("group"), test_fraction=0.25, seed=0)
    assert_partition(train, test, len(ds))
    assert not {ds.samples[i].group for i in train} & {ds.samples[i].group for i in test}
    assert len({ds.samples[i].group for i in test}) == 1  # 25% of 4 people


# ---------------------------------------------------------------------------------------------
# kfold
# ---------------------------------------------------------------------------------------------


def test_kfold_folds_partition_the_data():
    ds = make_ds({"a": 10, "b": 15, "c": 5}, shuffle=2)
    folds = kfold(ds.labels, 5, seed=0)
    assert len(folds) == 5
    seen = []
    for train, test in folds:
        assert_partition(train, test, len(ds))
        seen.extend(test.tolist())
        assert per_class(ds, test) == {"a": 2, "b": 3, "c": 1}  # stratified
    assert sorted(seen) == list(range(len(ds)))  # every sequence is tested exactly once


def test_kfold_deterministic_and_seed_dependent():
    labels = make_ds({"a": 12, "b": 12}).labels
    a = kfold(labels, 3, seed=1)
    b = kfold(labels, 3, seed=1)
    for (tr1, te1), (tr2, te2) in zip(a, b, strict=True):
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(tr1, tr2)
    c = kfold(labels, 3, seed=2)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))


def test_kfold_needs_k_sequences_per_class():
    labels = make_ds({"a": 10, "b": 2}).labels
    with pytest.raises(DataError) as err:
        kfold(labels, 3, seed=0)
    assert "kfold:3" in str(err.value) and "smallest class has 2" in str(err.value)


def test_split_dataset_does_not_do_kfold():
    ds = make_ds({"a": 4, "b": 4})
    with pytest.raises(ValueError, match="kfold"):
        split_dataset(ds, SplitSpec("kfold", 2), test_fraction=0.2, seed=0)


# ---------------------------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------------------------


def test_manifest_split_uses_the_split_column():
    splits = ["train", "test", "val", None, "test", "train"]
    ds = make_ds({"a": 3, "b": 3}, splits=splits)
    train, test = split_dataset(ds, SplitSpec("manifest"), test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(test, [1, 4])
    np.testing.assert_array_equal(train, [0, 2, 3, 5])  # train, val and unmarked rows


def test_manifest_split_without_test_rows():
    ds = make_ds({"a": 2, "b": 2}, splits=["train", "val", None, "train"])
    with pytest.raises(DataError, match="split=test"):
        split_dataset(ds, SplitSpec("manifest"), test_fraction=0.2, seed=0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_test_fraction_bounds(fraction):
    ds = make_ds({"a": 4, "b": 4})
    with pytest.raises(DataError, match="--test-fraction"):
        split_dataset(ds, SplitSpec("stratified"), test_fraction=fraction, seed=0)


# ---------------------------------------------------------------------------------------------
# validation_split
# ---------------------------------------------------------------------------------------------


def test_validation_from_a_stratified_split():
    ds = make_ds({"a": 20, "b": 20}, shuffle=4)
    spec = SplitSpec("stratified")
    train, test = split_dataset(ds, spec, test_fraction=0.2, seed=0)
    fit, val = validation_split(ds, train, spec, 0.25, seed=0)
    assert sorted([*fit.tolist(), *val.tolist()]) == sorted(train.tolist())
    assert not set(val.tolist()) & set(fit.tolist())
    assert not set(val.tolist()) & set(test.tolist())
    assert per_class(ds, val) == {"a": 4, "b": 4}
    again = validation_split(ds, train, spec, 0.25, seed=0)
    np.testing.assert_array_equal(again[1], val)


def test_validation_from_a_contiguous_split_is_contiguous_too():
    ds = make_ds({"a": 10, "b": 10}, shuffle=5)
    spec = SplitSpec("contiguous")
    train, _ = split_dataset(ds, spec, test_fraction=0.2, seed=0)
    fit, val = validation_split(ds, train, spec, 0.25, seed=0)
    for label in ("a", "b"):
        val_orders = sorted(ds.samples[i].order for i in val if ds.samples[i].label == label)
        assert val_orders == [6, 7]  # the last 2 of the 8 training sequences (8, 9 are test)
    assert not set(val.tolist()) & set(fit.tolist())


def test_validation_uses_manifest_val_rows():
    splits = ["train", "val", "test", "train", "val", "test", "train", "train"]
    ds = make_ds({"a": 4, "b": 4}, splits=splits)
    spec = SplitSpec("manifest")
    train, test = split_dataset(ds, spec, test_fraction=0.2, seed=0)
    fit, val = validation_split(ds, train, spec, 0.2, seed=0)
    np.testing.assert_array_equal(val, [1, 4])
    np.testing.assert_array_equal(fit, [0, 3, 6, 7])
    np.testing.assert_array_equal(test, [2, 5])


# ---------------------------------------------------------------------------------------------
# cross-validation by group: logo and groupkfold:K
# ---------------------------------------------------------------------------------------------


def _people_ds(n_people: int, per_class: int = 2) -> KeypointDataset:
    counts = {"a": n_people * per_class, "b": n_people * per_class}
    groups = [f"p{i % n_people}" for _ in counts for i in range(n_people * per_class)]
    return make_ds(counts, groups=groups)


@pytest.mark.parametrize(
    ("text", "kind", "k", "back"),
    [
        ("logo", "logo", 0, "logo"),
        ("Leave-One-Group-Out", "logo", 0, "logo"),
        ("groupkfold:3", "groupkfold", 3, "groupkfold:3"),
    ],
)
def test_split_spec_group_cv(text, kind, k, back):
    spec = SplitSpec.parse(text)
    assert (spec.kind, spec.k, str(spec), spec.is_cv) == (kind, k, back, True)
    assert not SplitSpec.parse("group").is_cv and SplitSpec.parse("kfold:2").is_cv


@pytest.mark.parametrize("text", ["groupkfold", "groupkfold:1", "groupkfold:x"])
def test_split_spec_bad_groupkfold(text):
    with pytest.raises(DataError, match="groupkfold:K with K >= 2"):
        SplitSpec.parse(text)


def test_logo_has_one_fold_per_group_and_never_mixes_a_group():
    ds = _people_ds(4)
    folds = cv_folds(ds, SplitSpec.parse("logo"), seed=0)
    assert len(folds) == 4
    tested = []
    for train, test in folds:
        assert_partition(train, test, len(ds))
        held = fold_groups(ds, test)
        assert len(held) == 1 and held[0] not in fold_groups(ds, train)
        assert per_class(ds, test) == {"a": 2, "b": 2}
        tested.extend(test.tolist())
    assert sorted(tested) == list(range(len(ds)))  # every sequence tested exactly once


def test_groupkfold_keeps_groups_whole_and_is_seeded():
    ds = _people_ds(6)
    spec = SplitSpec.parse("groupkfold:3")
    folds = cv_folds(ds, spec, seed=0)
    assert len(folds) == 3
    tested = []
    for train, test in folds:
        assert_partition(train, test, len(ds))
        assert not set(fold_groups(ds, test)) & set(fold_groups(ds, train))
        assert len(fold_groups(ds, test)) == 2
        tested.extend(test.tolist())
    assert sorted(tested) == list(range(len(ds)))
    again = cv_folds(ds, spec, seed=0)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(folds, again, strict=True))


def test_group_cv_errors_are_clear():
    one = _people_ds(1)
    with pytest.raises(DataError, match="at least 2 groups"):
        cv_folds(one, SplitSpec.parse("logo"), seed=0)
    with pytest.raises(DataError, match="4 groups cannot fill 5 folds"):
        cv_folds(_people_ds(4), SplitSpec.parse("groupkfold:5"), seed=0)
    partly = make_ds({"a": 2, "b": 2}, groups=["p1", None, "p2", "p1"])
    with pytest.raises(DataError, match="1 sequences have no group"):
        cv_folds(partly, SplitSpec.parse("logo"), seed=0)
    with pytest.raises(DataError, match="cross-validation"):
        split_dataset(_people_ds(3), SplitSpec.parse("logo"), test_fraction=0.2, seed=0)


def test_per_group_metrics_count_each_group():
    from motionscope.evaluate.metrics import classification_metrics, worst_groups

    y_true = np.array([0, 1, 0, 1, 0, 1])
    y_pred = np.array([0, 1, 1, 0, 0, 0])
    m = classification_metrics(y_true, y_pred, ["a", "b"], "t", ["x", "x", "y", "y", "z", "z"])
    assert m["per_group"]["x"] == {"n": 2, "accuracy": 1.0, "confusion_matrix": [[1, 0], [0, 1]]}
    assert m["per_group"]["y"]["confusion_matrix"] == [[0, 1], [1, 0]]
    assert [g for g, _ in worst_groups(m)] == ["y", "z", "x"]
    assert "per_group" not in classification_metrics(y_true, y_pred, ["a", "b"], "t")


def test_train_with_logo_writes_per_group_metrics_and_report(tmp_path):
    from motionscope.data.synth import write_synthetic_keypoints
    from motionscope.train import TrainConfig, train

    # three "people": DATA/<person>/<class>/<i>.npy, each written by the synthetic generator
    for n, person in enumerate(("ann", "ben", "cat")):
        write_synthetic_keypoints(
            tmp_path / "d" / person, classes=2, per_class=5, frames=12, seed=n
        )
    ds = load_keypoint_dataset(tmp_path / "d", progress=False)
    assert sorted({s.group for s in ds.samples}) == ["ann", "ben", "cat"]
    cfg = TrainConfig(model="seed-lstm", split="logo", epochs=2, progress=False, threads=1)
    r = train(ds, tmp_path / "run", cfg)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["per_group"]) == {"ann", "ben", "cat"}
    assert sum(e["n"] for e in m["per_group"].values()) == len(ds) == m["n_test"]
    assert [f["test_groups"] for f in m["cv"]["folds"]] == [["ann"], ["ben"], ["cat"]]
    assert r.metrics["split"].startswith("logo")
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    section = report.split("## Per group", 1)[1].split("## Per class")[0]
    rows = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    ranked = sorted(m["per_group"], key=lambda g: (m["per_group"][g]["accuracy"], g))
    assert rows[1:] == ranked  # after the header row: worst accuracy first
    # evaluate: per-group accuracy whenever the evaluated data has groups
    from motionscope.evaluate.evaluate import evaluate_bundle, per_group_table

    ev = evaluate_bundle(tmp_path / "run", tmp_path / "d", tmp_path / "ev", progress=False)
    assert set(ev["per_group"]) == {"ann", "ben", "cat"}
    assert (
        json.loads((tmp_path / "ev" / "metrics.json").read_text())["per_group"] == ev["per_group"]
    )
    assert per_group_table(ev).row_count == 3
    assert per_group_table({"accuracy": 1.0}) is None
    # the CLI prints the per-group table, worst person first
    from typer.testing import CliRunner

    from motionscope.cli import app

    out = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run"), str(tmp_path / "d")])
    assert out.exit_code == 0, out.output
    table = out.output.split("per group (3, worst first)", 1)[1]
    worst = min(ev["per_group"], key=lambda g: (ev["per_group"][g]["accuracy"], g))
    assert worst in table.splitlines()[3] or worst in table.splitlines()[4]
