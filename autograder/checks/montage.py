"""The check of stage 5's `montage`, judged by the structure of its result."""
import math
import re

import numpy as np

import reference
from firstneuron.testing import assert_array

from .core import CheckFailure, Mistake, call_without_mutation, check_origin, close, fail, new_seed, require


def _montage_shape(k, h, w, channels=(), n=None, outer=1, inner=1):
    n = math.isqrt(k - 1) + 1 if n is None else n
    return (n * h + (n - 1) * inner + 2 * outer, n * w + (n - 1) * inner + 2 * outer) + tuple(channels)


#: Shapes of the canvas that known mistakes give, for k images of h × w pixels (channels apart).
MONTAGE_SHAPE_MISTAKES = [
    Mistake("montage_floor_sqrt", "the grid is too small: n is √k rounded down (int(np.sqrt(k)) or a "
            "rounding); it must be rounded up, n = ceil(√k), so that n² ≥ k images fit.",
            lambda k, h, w: _montage_shape(k, h, w, n=math.isqrt(k))),
    Mistake("montage_no_outer_border", "there is no border around the outside: every image has a 1-pixel "
            "border on all four sides, so the height is n h + n + 1.",
            lambda k, h, w: _montage_shape(k, h, w, outer=0)),
    Mistake("montage_no_borders", "there are no borders at all: 1 grey pixel separates the images and "
            "surrounds the grid, so the height is n h + n + 1.",
            lambda k, h, w: _montage_shape(k, h, w, outer=0, inner=0)),
    Mistake("montage_swapped_hw", "height and width are swapped: an image of shape (h, w) has h rows, so "
            "the picture has n h + n + 1 rows and n w + n + 1 columns.",
            lambda k, h, w: _montage_shape(k, w, h)),
    Mistake("montage_one_row", "the images are in one row; they go on a square grid of n = ceil(√k) rows "
            "and n columns.", lambda k, h, w: (h + 2, k * w + k + 1)),
    Mistake("montage_grid_too_large", "the grid is larger than needed: n = ceil(√k), the smallest n with "
            "n² ≥ k (not one more).", lambda k, h, w: _montage_shape(k, h, w, n=math.isqrt(k - 1) + 2)),
]


def _place(picture, r, c, h, w, start=1):
    top, left = start + r * (h + 1), start + c * (w + 1)
    return picture[top:top + h, left:left + w]


def _montage_layout(found, images):
    """A diagnosis from the structure of a montage of the right shape, or (None, what was observed).

    Looks at the borders, the empty places and where each image went; names a mistake only when
    the evidence is specific to it.
    """
    k, h, w = images.shape[:3]
    n = math.isqrt(k - 1) + 1
    inside = np.zeros(found.shape[:2], dtype=bool)
    for r in range(n):
        for c in range(n):
            top, left = 1 + r * (h + 1), 1 + c * (w + 1)
            inside[top:top + h, left:left + w] = True
    places = [(i // n, i % n) for i in range(k)]
    at_place = [close(_place(found, r, c, h, w), images[i]) for i, (r, c) in enumerate(places)]
    borders = found[~inside]
    empty = [_place(found, i // n, i % n, h, w) for i in range(k, n * n)]
    if all(at_place):
        if not close(borders, np.full(borders.shape, 0.5)):
            values = np.unique(np.round(borders, 9))
            if values.size == 1 and values[0] == 0:
                return Mistake("montage_background_zero", "the background is 0; it is 0.5 (mid-grey), so "
                               "borders stand out against both dark and light pixels.", None), ""
            if values.size == 1:
                return Mistake("montage_background_value", "the background (borders and empty places) has "
                               "another value than 0.5, the mid-grey that stands out against both dark and light "
                               "pixels.", None), ""
            return None, "the images are in their places, but the borders are not all 0.5"
        if empty and not all(close(e, np.full(e.shape, 0.5)) for e in empty):
            return Mistake("montage_empty_places_not_grey", "the places of the grid that hold no image must "
                           "stay 0.5, like the borders (start from np.full(..., 0.5)).", None), ""
        return None, "the images are in their places and the borders 0.5, but some pixels differ"
    column_first = [close(_place(found, i % n, i // n, h, w), images[i]) for i in range(k)]
    if all(column_first):
        return Mistake("montage_column_first", "the images are placed column by column; fill the grid row by "
                       "row: image i at row i // n, column i % n.", None), ""
    shifted = [close(_place(found, r, c, h, w, start=0), images[i]) for i, (r, c) in enumerate(places)]
    if all(shifted):
        return Mistake("montage_offset_off_by_one", "every image starts one pixel too early (at r (h + 1) "
                       "instead of 1 + r (h + 1)): the top and left borders are missing, the bottom and right "
                       "ones doubled.", None), ""
    missing = [i for i, ok in enumerate(at_place) if not ok]
    grey = [close(_place(found, *places[i], h, w), np.full(images[i].shape, 0.5)) for i in missing]
    if len(missing) < k and all(grey):
        return Mistake("montage_images_missing", "some images are missing (their places are left grey) while the "
                       "others are in their places: every one of the k images is copied, for i in range(k).",
                       None), ""
    # Each image in its place up to an affine change of its values (x -> a x + c with a > 0, a != 1).
    pairs = [(_place(found, r, c, h, w), images[i]) for i, (r, c) in enumerate(places) if np.ptp(images[i]) > 0]
    ratios = [np.ptp(tile) / np.ptp(image) for tile, image in pairs]
    if not any(at_place) and pairs and all(ratio > 0 for ratio in ratios) and all(
            close(tile - tile.min(), (image - image.min()) * ratio) for (tile, image), ratio in zip(pairs, ratios)):
        return Mistake("montage_rescaled", "the pixel values were changed (rescaled or normalized): copy the "
                       "images into the picture as they are.", None), ""
    return None, (f"image {missing[0]} is not at its place (grid row {places[missing[0]][0]}, column "
                  f"{places[missing[0]][1]})")


def check_montage(montage, seed=None):
    """montage lays k images on a ceil(√k) grid, row by row, 1-pixel borders, 0.5 background.

    A wrong result is judged by its structure: the shape of the canvas (number of rows and columns
    of the grid, borders, colour axis), then the borders, then where each image went.
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "montage"
    check_origin(montage, name)
    shapes_tried = [(4, 2, 3), (9, 3, 2), (1, 2, 2), (5, 2, 3), (3, 3, 4), (2, 2, 3, 3), (7, 3, 2, 3)]
    raised_on = []
    advice = ("With n = ceil(√k): n h + n + 1 rows, n w + n + 1 columns (and the colour axis of colour images), "
              "background 0.5, image i at rows 1 + r (h + 1) ... with r, c = divmod(i, n).")
    for shape in shapes_tried:
        images = rng.random(shape)
        k, h, w = shape[:3]
        case = f"{k} {'colour' if len(shape) == 4 else 'grey'} image(s) of {h}×{w} pixels"
        try:
            found = call_without_mutation(montage, name, seed, images, case=f"for {case}")
        except CheckFailure as failure:
            if failure.error is None:
                raise
            raised_on.append((shape, failure))
            continue
        expected = reference.montage(images)
        require(name, seed, assert_array, f"the montage of {case}", found)
        if found.shape == expected.shape and close(found, expected):
            continue
        if found.shape != expected.shape:
            problem = f"the montage of {case} has shape {found.shape}; expected {expected.shape}"
            if found.ndim == 2 and len(shape) == 4:
                fail(name, problem, seed, Mistake(
                    "montage_dropped_channel", "the picture has no colour axis: for colour images of shape "
                    "(k, h, w, 3) it has shape (H, W, 3); add images.shape[3:] to the shape of the canvas.", None))
            if found.ndim == 3 and len(shape) == 3:
                fail(name, problem, seed, Mistake(
                    "montage_added_channel", "grey images of shape (k, h, w) give a picture of shape (H, W), "
                    "without a colour axis: add images.shape[3:], which is () for them.", None))
            fits = [m for m in MONTAGE_SHAPE_MISTAKES
                    if m.result(k, h, w) == found.shape[:2] and m.result(k, h, w) != expected.shape[:2]]
            if len(fits) == 1 and found.shape[2:] == expected.shape[2:]:
                fail(name, problem, seed, fits[0])
            fail(name, problem, seed, advice=advice)
        mistake, observed = _montage_layout(found, images)
        fail(name, f"wrong pixels for {case}" + (f": {observed}" if observed else ""), seed, mistake,
             advice=advice)
    if raised_on:
        shape, failure = raised_on[0]
        message = failure.problem.split(" Run the function")[0]
        shapes = re.search(r"from shape \(([\d,\s]*)\) into shape \(([\d,\s]*)\)", str(failure.error))
        if shapes:
            source, target = ([int(x) for x in group.split(",") if x.strip()] for group in shapes.groups())
            if len(target) < len(source) and source[:len(target)] == target:
                # An (h, w, 3) image put into an (h, w) place: the canvas has no colour axis.
                mistake = Mistake("montage_dropped_channel", "the picture has no colour axis: for colour images "
                                  "of shape (k, h, w, 3) it has shape (H, W, 3); add images.shape[3:] to the shape "
                                  "of the canvas.", None)
                raise CheckFailure(message, mistake.name, error=failure.error, hint=mistake.hint)
            if source[:2] == target[:2][::-1] and source[0] != source[1]:
                # An image of h × w pixels put into a place of w × h: the place is transposed.
                raise CheckFailure(message, MONTAGE_SHAPE_MISTAKES[3].name, error=failure.error,
                                   hint=MONTAGE_SHAPE_MISTAKES[3].hint)
            non_squares = {s[0] for s in shapes_tried if math.isqrt(s[0]) ** 2 != s[0]}
            failed_k = {s[0] for s, _ in raised_on}
            smaller = len(target) == len(source) and target[:2] != source[:2] and all(
                t <= u for t, u in zip(target[:2], source[:2]))
            if smaller and failed_k <= non_squares and len(raised_on) < len(shapes_tried):
                # A place cut short at the edge, only when k is not a perfect square: the grid is too small.
                raise CheckFailure(f"{message} It fails only when k is not a perfect square.",
                                   MONTAGE_SHAPE_MISTAKES[0].name, error=failure.error,
                                   hint=MONTAGE_SHAPE_MISTAKES[0].hint)
        raise failure
