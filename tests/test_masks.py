"""Mask helpers: exact Euclidean growth, blend weights, boxes, loading."""

from __future__ import annotations

import math

import cv2
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


# ---- the fast geometry: exact where it matters, measured only where it is needed ----------------

from textinpaint.inpainting import resize, shrink_any  # noqa: E402
from textinpaint.masks import distance_near, union  # noqa: E402


def random_mask(rng, height, width, blobs):
    mask = np.zeros((height, width), bool)
    for _ in range(blobs):
        y, x = rng.integers(0, height), rng.integers(0, width)
        mask[y : y + rng.integers(1, 30), x : x + rng.integers(1, 30)] = True
    return mask


@pytest.mark.parametrize("seed", range(40))
def test_distance_near_is_exact_within_reach(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(10, 260, 2)
    mask = random_mask(rng, height, width, rng.integers(1, 6))
    reach = int(rng.integers(1, 30))
    exact, near = distance_outside(mask), distance_near(mask, reach)
    close = exact <= reach
    # The same values to float32 precision (the transform's rounding depends on the box it runs
    # over); whole-pixel distances exactly, so the grown mask is the same.
    np.testing.assert_allclose(near[close], exact[close], rtol=1e-6)
    assert (near[~close] > reach).all()
    for radius in range(reach + 1):
        np.testing.assert_array_equal(near <= radius, exact <= radius)


def test_distance_near_measures_distant_parts_apart():
    mask = np.zeros((200, 1000), bool)
    mask[10:30, 10:30] = True
    mask[150:160, 900:950] = True
    near = distance_near(mask, 5)
    assert np.isinf(near[100, 500])  # between the parts: never measured
    assert near[34, 20] == 5.0 and near[164, 920] == 5.0 and near[20, 20] == 0.0


@pytest.mark.parametrize("seed", range(30))
def test_shrink_any_keeps_every_pixel_to_repaint(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(5, 300, 2)
    mask = random_mask(rng, height, width, rng.integers(0, 4))
    grid_width, grid_height = (int(v) for v in rng.integers(1, 400, 2))
    small = shrink_any(mask, grid_width, grid_height)
    assert small.shape == (grid_height, grid_width) and small.dtype == bool
    if not mask.any():
        assert not small.any()
        return
    ys, xs = np.nonzero(mask)
    cell_y = np.minimum(((ys + 0.5) * grid_height / height).astype(int), grid_height - 1)
    cell_x = np.minimum(((xs + 0.5) * grid_width / width).astype(int), grid_width - 1)
    assert small[cell_y, cell_x].all(), "the cell under every True pixel is True"
    if grid_width <= width and grid_height <= height:  # shrinking: at least OpenCV's area coverage
        area = cv2.resize(mask.astype(np.uint8) * 255, (grid_width, grid_height), interpolation=cv2.INTER_AREA) > 0
        assert not (area & ~small).any()


def test_shrink_any_at_the_same_size_is_the_mask():
    mask = random_mask(np.random.default_rng(1), 40, 70, 3)
    np.testing.assert_array_equal(shrink_any(mask, 70, 40), mask)


def test_union_of_selected_masks():
    masks = np.zeros((3, 4, 5), bool)
    masks[0, 0, 0] = masks[1, 1, 1] = masks[2, 2, 2] = True
    both = union(masks, [0, 2])
    assert both.sum() == 2 and both[0, 0] and both[2, 2] and not both[1, 1]
    single = union(masks, [1])
    single[0, 0] = True
    assert not masks[1, 0, 0], "the union is a new array"


def test_bounding_box():
    mask = np.zeros((10, 20), bool)
    assert bounding_box(mask) is None
    mask[3:5, 7:12] = True
    mask[8, 2] = True
    assert bounding_box(mask) == (2, 3, 12, 9)


def _area_average(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Exact area averaging, computed independently of OpenCV: every pixel repeated onto a grid
    both sizes divide, then the mean of each output pixel's block."""
    source_height, source_width = pixels.shape[:2]
    fine = pixels.astype(np.float64)
    fine = np.repeat(fine, width // math.gcd(source_width, width), axis=1)
    fine = np.repeat(fine, height // math.gcd(source_height, height), axis=0)
    block_y, block_x = fine.shape[0] // height, fine.shape[1] // width
    means = fine.reshape(height, block_y, width, block_x, -1).mean(axis=(1, 3))
    return np.rint(means).astype(np.uint8).reshape(height, width, *pixels.shape[2:])


@pytest.mark.parametrize(
    "size",
    [(1000, 750, 200, 150), (300, 200, 120, 80), (512, 384, 96, 64), (33, 21, 10, 7), (64, 64, 50, 40), (9, 5, 4, 5)],
)
def test_shrinking_is_exact_area_averaging(size):
    """The model-size shrink is the mean of the pixels under each output pixel, weighted by cover
    (a cascade of 2x halvings differs from it by tens of levels along sharp edges)."""
    width, height, new_width, new_height = size
    rng = np.random.default_rng(width * height)
    sharp = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)  # edges everywhere
    sharp[height // 3 :, : width // 2] = 255
    out = resize(sharp, new_width, new_height)
    assert out.shape == (new_height, new_width, 3) and out.dtype == np.uint8
    expected = _area_average(sharp, new_width, new_height)
    assert np.abs(out.astype(int) - expected).max() <= 1, "equal to the exact averages (to the rounding of a tie)"
    assert (out != expected).mean() < 0.01


def test_shrinking_a_12_megapixel_window_equals_opencv_area_resize():
    """The large case the benchmark times: identical to one INTER_AREA resize."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (2488, 3440, 3), dtype=np.uint8)
    expected = cv2.resize(photo, (600, 432), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(resize(photo, 600, 432), expected)
