"""Layouts: block slices, detection from the frame width, explicit and generic layouts."""

from __future__ import annotations

import pytest

from motionscope.errors import DataError
from motionscope.keypoints.layout import (
    BY_WIDTH,
    HANDS,
    HOLISTIC,
    POSE_HANDS,
    POSE_ONLY,
    generic,
    get_layout,
    resolve_layout,
)


@pytest.mark.parametrize(
    ("layout", "width"), [(HOLISTIC, 1662), (POSE_HANDS, 258), (POSE_ONLY, 132), (HANDS, 126)]
)
def test_named_layout_widths(layout, width):
    assert layout.width == width
    assert BY_WIDTH[width] is layout
    assert resolve_layout(width) is layout
    assert not layout.is_generic


def test_holistic_slices_match_the_mediapipe_tutorial_vector():
    assert HOLISTIC.slice("pose") == slice(0, 132)
    assert HOLISTIC.slice("face") == slice(132, 1536)
    assert HOLISTIC.slice("left_hand") == slice(1536, 1599)
    assert HOLISTIC.slice("right_hand") == slice(1599, 1662)
    assert (HOLISTIC.block("pose").landmarks, HOLISTIC.block("pose").channels) == (33, 4)
    assert (HOLISTIC.block("face").landmarks, HOLISTIC.block("face").channels) == (468, 3)
    assert HOLISTIC.block("left_hand").width == HOLISTIC.block("right_hand").width == 63


def test_partial_layout_slices():
    assert POSE_HANDS.slice("pose") == slice(0, 132)
    assert POSE_HANDS.slice("left_hand") == slice(132, 195)
    assert POSE_HANDS.slice("right_hand") == slice(195, 258)
    assert HANDS.slice("left_hand") == slice(0, 63)
    assert HANDS.slice("right_hand") == slice(63, 126)
    assert POSE_ONLY.slice("pose") == slice(0, 132)


def test_has_and_missing_block():
    assert HOLISTIC.has("face")
    assert not POSE_HANDS.has("face")
    assert not HANDS.has("pose")
    with pytest.raises(KeyError, match="face"):
        POSE_HANDS.slice("face")
    with pytest.raises(KeyError, match="pose"):
        HANDS.block("pose")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("holistic", HOLISTIC),
        ("HOLISTIC", HOLISTIC),
        (" pose_hands ", POSE_HANDS),
        ("pose-hands", POSE_HANDS),
        ("pose+hands", POSE_HANDS),
        ("pose", POSE_ONLY),
        ("hands", HANDS),
    ],
)
def test_get_layout_by_name(name, expected):
    assert get_layout(name) is expected


def test_get_layout_generic_n():
    lay = get_layout("generic6")
    assert lay.name == "generic6"
    assert lay.width == 6
    assert lay.is_generic
    assert lay.slice("values") == slice(0, 6)
    assert get_layout("Generic1").width == 1


@pytest.mark.parametrize("name", ["skeleton", "generic", "genericX", "coco17"])
def test_get_layout_unknown_name_lists_known_layouts(name):
    with pytest.raises(DataError, match="unknown layout") as err:
        get_layout(name)
    msg = str(err.value)
    for known in ("holistic", "pose_hands", "pose", "hands", "genericN"):
        assert known in msg


def test_generic_zero_is_a_data_error():
    with pytest.raises(DataError, match="N >= 1"):
        get_layout("generic0")
    with pytest.raises(ValueError):
        generic(0)


@pytest.mark.parametrize("width", [1, 6, 75, 1000, 1663])
def test_unknown_width_names_the_file_and_the_fix(width):
    with pytest.raises(DataError) as err:
        resolve_layout(width, source="data/walk/3.npy")
    msg = str(err.value)
    assert f"unknown keypoint width {width}" in msg
    assert "data/walk/3.npy" in msg
    assert "--layout generic" in msg
    assert "1662" in msg and "258" in msg and "132" in msg and "126" in msg


def test_explicit_generic_layout_takes_the_data_width():
    assert resolve_layout(6, "generic").name == "generic6"
    assert resolve_layout(6, "generic6").width == 6
    # generic is also allowed for a known width (treat the columns as plain values)
    assert resolve_layout(126, "generic").name == "generic126"
    assert resolve_layout(6, generic(6)).width == 6


def test_explicit_named_layout_is_checked_against_the_width():
    assert resolve_layout(126, "hands") is HANDS
    assert resolve_layout(1662, HOLISTIC) is HOLISTIC
    with pytest.raises(DataError) as err:
        resolve_layout(126, "holistic", source="x/seq.npy")
    msg = str(err.value)
    assert "1662" in msg and "126" in msg and "x/seq.npy" in msg
    with pytest.raises(DataError, match="generic6"):
        resolve_layout(7, "generic6")


def test_to_dict():
    assert HOLISTIC.to_dict() == {"name": "holistic", "width": 1662}
    assert generic(3).to_dict() == {"name": "generic3", "width": 3}
