"""The contact sheet and the list of suspicious images (``skfusion.datasets._view``)."""

import numpy as np
import pytest

from skfusion import FusionInput
from skfusion.datasets import contact_sheet, suspicious_images
from skfusion.datasets._view import _thumbnail


def test_suspicious_images_names_empty_non_finite_and_extreme_rows():
    images = np.random.default_rng(0).random((6, 1, 8, 8))
    images[1] = 3.0
    images[2, 0, 0, 0] = np.nan
    images[3, 0, 1, 1] = 5e7
    X = FusionInput(
        images,
        np.zeros((6, 1)),
        subjects=[f"p{i}" for i in range(6)],
        present={"images": np.array([1, 1, 1, 1, 1, 0], bool)},
    )
    X.images[5] = np.inf  # absent: never read
    flagged = suspicious_images(X)
    assert flagged["id"].tolist() == ["p1", "p2", "p3"]
    assert flagged["reason"].str.split().str[0].tolist() == ["empty", "not", "extreme"]
    assert suspicious_images(X, extreme=1e8)["row"].tolist() == [1, 2]


@pytest.mark.parametrize(
    "shape, layout, expected",
    [
        ((1, 8, 6), None, (8, 6)),
        ((3, 8, 6), None, (8, 6, 3)),
        ((5, 1, 8, 6), "slices", (8, 6)),
        ((1, 7, 8, 6), None, (8, 6)),
    ],
)
def test_thumbnails_are_the_central_slice_in_two_dimensions(shape, layout, expected):
    image = np.arange(np.prod(shape), dtype=float).reshape(shape)
    thumb = _thumbnail(image, layout)
    assert thumb.shape == expected
    if layout == "slices":
        assert np.array_equal(thumb, image[2, 0])
    elif len(shape) == 4:
        assert np.array_equal(thumb, image[0, 3])


def test_a_sheet_groups_labels_and_keeps_every_label_when_capped(tmp_path):
    X = FusionInput(
        np.random.default_rng(1).random((30, 4, 1, 8, 8)),
        np.zeros((30, 1)),
        layout="slices",
        present={"images": np.arange(30) != 4},
    )
    y = np.where(np.arange(30) < 5, "AD", "CN")
    shown = contact_sheet(X, y, path=tmp_path / "sheet.png", max_images=12, columns=4)
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    assert len(shown) == 12 and set(y[shown]) == {"AD", "CN"}
    assert list(y[shown]) == sorted(y[shown])  # grouped by label
