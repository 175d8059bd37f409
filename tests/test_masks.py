"""Mask helpers: exact Euclidean growth, blend weights, boxes, loading."""

from __future__ import annotations

import numpy as np
import pytest

from textinpaint import InvalidInputError
from textinpaint.masks import blend_weights, bounding_box, box_mask, dilate, distance_outside, load_mask


def test_dilate_is_a_euclidean_disc():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    grown = dilate(mask, 5)
    yy, xx = np.mgrid[0:21, 0:21]
    np.testing.assert_array_equal(grown, (yy - 10) ** 2 + (xx - 10) ** 2 <= 25)
    np.testing.assert_array_equal(dilate(mask, 0), mask)


def test_blend_weights_are_one_on_the_grown_mask_and_zero_beyond_the_band():
    mask = np.zeros((1, 30), bool)
    mask[0, 0] = True
    weights = blend_weights(distance_outside(mask), dilation=3, feathering=4)
    assert list(weights[0, :4]) == [1.0] * 4
    np.testing.assert_allclose(weights[0, 4:9], [0.8, 0.6, 0.4, 0.2, 0.0], atol=1e-6)
    assert (weights[0, 8:] == 0).all() and weights.dtype == np.float32


@pytest.mark.parametrize(
    "xyxy,expected",
    [
        ([[1.2, 2.7, 3.1, 4.0]], (1, 2, 4, 4)),  # widened to whole pixels
        ([[-5, -5, 2, 2]], (0, 0, 2, 2)),  # clipped to the image
        ([[0, 0, 1, 1], [8, 8, 10, 10]], (0, 0, 10, 10)),
    ],
)
def test_box_mask(xyxy, expected):
    assert bounding_box(box_mask(np.array(xyxy), 10, 10)) == expected


def test_box_mask_with_no_boxes_is_empty():
    assert not box_mask(np.zeros((0, 4)), 10, 10).any()


@pytest.mark.parametrize("mask", [np.ones((4, 5), np.uint8) * 255, np.ones((4, 5), np.float32), np.ones((4, 5), bool)])
def test_load_mask_accepts_arrays_of_any_numeric_type(mask):
    assert load_mask(mask, 5, 4).all()


def test_load_mask_rejects_other_types():
    with pytest.raises(InvalidInputError, match="mask must be a bool HxW array, a PIL image or a path; got dict"):
        load_mask({}, 5, 4)
