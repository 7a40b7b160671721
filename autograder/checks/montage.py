"""The checks of stage 5's `montage`, judged by the structure of its result, one per part of its grade.

`montage` is graded in three parts, each its own test cell with its own points, so that one slip
costs its part only where the parts can be told apart: the canvas's shape (`check_montage_canvas`),
the grey background of borders and empty places (`check_montage_background`) and each image in its
place, unchanged (`check_montage_places`). `check_montage` runs the three in turn. Every part judges
the same results with the same diagnoses, so a mistake gets one name whichever parts it fails.
"""
import math
import re

import numpy as np

import reference
from firstneuron.testing import assert_array

from .core import CheckFailure, Mistake, call_without_mutation, check_origin, close, fail, new_seed, require

__all__ = ["check_montage", "check_montage_canvas", "check_montage_background", "check_montage_places"]


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
    Mistake("montage_two_borders_per_image", "the picture counts two borders per image, n (h + 2) rows: "
            "neighbouring images share the border between them, so n images need n + 1 border lines, "
            "n h + n + 1 rows and n w + n + 1 columns.",
            lambda k, h, w: ((math.isqrt(k - 1) + 1) * (h + 2), (math.isqrt(k - 1) + 1) * (w + 2))),
    Mistake("montage_grid_too_large", "the grid is larger than needed: n = ceil(√k), the smallest n with "
            "n² ≥ k (not one more).", lambda k, h, w: _montage_shape(k, h, w, n=math.isqrt(k - 1) + 2)),
]


def _place(picture, r, c, h, w, start=1):
    top, left = start + r * (h + 1), start + c * (w + 1)
    return picture[top:top + h, left:left + w]


BACKGROUND_ZERO = Mistake("montage_background_zero", "the background is 0; it is 0.5 (mid-grey), so borders stand "
                          "out against both dark and light pixels.", None)
BACKGROUND_VALUE = Mistake("montage_background_value", "the background (borders and empty places) has another value "
                           "than 0.5, the mid-grey that stands out against both dark and light pixels.", None)
EMPTY_NOT_GREY = Mistake("montage_empty_places_not_grey", "the places of the grid that hold no image must stay 0.5, "
                         "like the borders (start from np.full(..., 0.5)).", None)


def _uniform_background(borders):
    """(the background mistake, "") when every border pixel has one value other than 0.5, else None."""
    values = np.unique(np.round(borders, 9))
    if values.size == 1 and values[0] != 0.5:
        return (BACKGROUND_ZERO if values[0] == 0 else BACKGROUND_VALUE), ""
    return None


def _montage_layout(found, images):
    """A diagnosis from the structure of a montage of the right shape, or (None, what was observed).

    Looks at the borders, the empty places and where each image went; names a mistake only when
    the evidence is specific to it.
    """
    k, h, w = images.shape[:3]
    n, inside = _grid(images.shape)
    places = [(i // n, i % n) for i in range(k)]
    at_place = [close(_place(found, r, c, h, w), images[i]) for i, (r, c) in enumerate(places)]
    borders = found[~inside]
    empty = [_place(found, i // n, i % n, h, w) for i in range(k, n * n)]
    if all(at_place):
        if not close(borders, np.full(borders.shape, 0.5)):
            return _uniform_background(borders) or (
                None, "the images are in their places, but the borders are not all 0.5")
        if empty and not all(close(e, np.full(e.shape, 0.5)) for e in empty):
            return EMPTY_NOT_GREY, ""
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


#: The cases every part judges: (k, h, w) grey and (k, h, w, 3) colour images.
SHAPES_TRIED = [(4, 2, 3), (9, 3, 2), (1, 2, 2), (5, 2, 3), (3, 3, 4), (2, 2, 3, 3), (7, 3, 2, 3)]
ADVICE = ("With n = ceil(√k): n h + n + 1 rows, n w + n + 1 columns (and the colour axis of colour images), "
          "background 0.5, image i at rows 1 + r (h + 1) ... with r, c = divmod(i, n).")
NAME = "montage"
#: A float used as a size or an index: np.ceil gives 4.0, and shapes, range() and slices want 4.
MONTAGE_FLOAT = Mistake("montage_float_n", "a float was used as a size or an index: np.ceil returns a float (4.0, "
                        "not 4), and the shape given to np.full, range() and slices need whole numbers: make n one with "
                        "int(...), and the sizes, r, c, top and left computed from it are whole numbers too.", None)
_FLOAT_AS_INTEGER = re.compile(r"cannot be interpreted as an integer|slice indices must be integers"
                               r"|only integers, slices")


def _case(shape):
    k, h, w = shape[:3]
    return f"{k} {'colour' if len(shape) == 4 else 'grey'} image(s) of {h}×{w} pixels"


def _raised(raised_on):
    """The failure to report when montage raised on some cases: its cause, in montage's terms when one fits."""
    shape, failure = raised_on[0]
    message = failure.problem.split(" Run the function")[0]
    if failure.mistake == "float_used_as_count" or _FLOAT_AS_INTEGER.search(str(failure.error)):
        return CheckFailure(message, MONTAGE_FLOAT.name, error=failure.error, hint=MONTAGE_FLOAT.hint)
    shapes = re.search(r"from shape \(([\d,\s]*)\) into shape \(([\d,\s]*)\)", str(failure.error))
    if shapes:
        source, target = ([int(x) for x in group.split(",") if x.strip()] for group in shapes.groups())
        if len(target) < len(source) and source[:len(target)] == target:
            # An (h, w, 3) image put into an (h, w) place: the canvas has no colour axis.
            return CheckFailure(message, DROPPED_CHANNEL.name, error=failure.error, hint=DROPPED_CHANNEL.hint)
        if source[:2] == target[:2][::-1] and source[0] != source[1]:
            # An image of h × w pixels put into a place of w × h: the place is transposed.
            return CheckFailure(message, MONTAGE_SHAPE_MISTAKES[3].name, error=failure.error,
                                hint=MONTAGE_SHAPE_MISTAKES[3].hint)
        non_squares = {s[0] for s in SHAPES_TRIED if math.isqrt(s[0]) ** 2 != s[0]}
        failed_k = {s[0] for s, _ in raised_on}
        smaller = len(target) == len(source) and target[:2] != source[:2] and all(
            t <= u for t, u in zip(target[:2], source[:2]))
        if smaller and failed_k <= non_squares and len(raised_on) < len(SHAPES_TRIED):
            # A place cut short at the edge, only when k is not a perfect square: the grid is too small.
            return CheckFailure(f"{message} It fails only when k is not a perfect square.",
                                MONTAGE_SHAPE_MISTAKES[0].name, error=failure.error,
                                hint=MONTAGE_SHAPE_MISTAKES[0].hint)
    return failure


DROPPED_CHANNEL = Mistake("montage_dropped_channel", "the picture has no colour axis: for colour images of shape "
                          "(k, h, w, 3) it has shape (H, W, 3); add images.shape[3:] to the shape of the canvas.", None)
ADDED_CHANNEL = Mistake("montage_added_channel", "grey images of shape (k, h, w) give a picture of shape (H, W), "
                        "without a colour axis: add images.shape[3:], which is () for them.", None)


def _results(montage, seed):
    """montage on every case of `SHAPES_TRIED`: a list of (shape, images, picture, expected picture).

    Fails (with montage's own diagnosis when one fits) if it raised on any case or returned no array.
    """
    rng = np.random.default_rng(seed)
    check_origin(montage, NAME)
    results, raised_on = [], []
    for shape in SHAPES_TRIED:
        images = rng.random(shape)
        try:
            found = call_without_mutation(montage, NAME, seed, images, case=f"for {_case(shape)}")
        except CheckFailure as failure:
            if failure.error is None:
                raise
            raised_on.append((shape, failure))
            continue
        require(NAME, seed, assert_array, f"the montage of {_case(shape)}", found)
        results.append((shape, images, found, reference.montage(images)))
    if raised_on:
        raise _raised(raised_on)
    return results


def _fail_shape(shape, found, expected, seed):
    """Fail for a canvas of the wrong shape, naming the mistake whose shape it is when exactly one fits."""
    k, h, w = shape[:3]
    problem = f"the montage of {_case(shape)} has shape {found.shape}; expected {expected.shape}"
    if found.ndim == 2 and len(shape) == 4:
        fail(NAME, problem, seed, DROPPED_CHANNEL)
    if found.ndim == 3 and len(shape) == 3:
        fail(NAME, problem, seed, ADDED_CHANNEL)
    fits = [m for m in MONTAGE_SHAPE_MISTAKES
            if m.result(k, h, w) == found.shape[:2] and m.result(k, h, w) != expected.shape[:2]]
    if len(fits) == 1 and found.shape[2:] == expected.shape[2:]:
        fail(NAME, problem, seed, fits[0])
    fail(NAME, problem, seed, advice=ADVICE)


def _grid(shape):
    """n, and a mask of the picture's pixels that belong to a place of the grid (True) or a border (False)."""
    k, h, w = shape[:3]
    n = math.isqrt(k - 1) + 1
    inside = np.zeros((n * h + n + 1, n * w + n + 1), dtype=bool)
    for r in range(n):
        for c in range(n):
            top, left = 1 + r * (h + 1), 1 + c * (w + 1)
            inside[top:top + h, left:left + w] = True
    return n, inside


def _judged_region(shape, found, expected, seed):
    """The part of `found` to judge the background and the places in, and the pixels beyond it.

    A canvas larger than expected (same colour axis) is judged in its top-left corner of the expected
    size, its extra rows and columns counting as background: a canvas too large costs the canvas's part
    only. A smaller or otherwise different canvas cannot be judged: it fails with its shape's diagnosis.
    """
    if found.shape == expected.shape:
        return found, np.empty(0)
    height, width = expected.shape[:2]
    if found.ndim == expected.ndim and found.shape[2:] == expected.shape[2:] and \
            found.shape[0] >= height and found.shape[1] >= width:
        outside = np.ones(found.shape[:2], dtype=bool)
        outside[:height, :width] = False
        return found[:height, :width], found[outside]
    _fail_shape(shape, found, expected, seed)


def check_montage_canvas(montage, seed=None):
    """The picture has n h + n + 1 rows and n w + n + 1 columns, n = ceil(√k), and colour images' colour axis."""
    seed = new_seed(seed)
    for shape, _, found, expected in _results(montage, seed):
        if found.shape != expected.shape:
            _fail_shape(shape, found, expected, seed)


def check_montage_background(montage, seed=None):
    """The borders are 0.5, and so are the n² - k places without an image (wherever the images went).

    A canvas too large is judged in its top-left corner, its extra pixels counted as border.
    """
    seed = new_seed(seed)
    for shape, images, found, expected in _results(montage, seed):
        found, beyond = _judged_region(shape, found, expected, seed)
        k, h, w = shape[:3]
        n, inside = _grid(shape)
        borders = np.concatenate([found[~inside].ravel(), beyond.ravel()])
        grey_places = sum(close(_place(found, r, c, h, w), np.full(images[0].shape, 0.5))
                          for r in range(n) for c in range(n))
        borders_grey = close(borders, np.full(borders.shape, 0.5))
        if borders_grey and grey_places >= n * n - k:
            continue
        # Evidence about the background itself first, wherever the images went: borders of one other value,
        # or grey borders with places of one other value (random images are never constant).
        constant = sum(np.ptp(place) == 0 and not close(place, np.full(place.shape, 0.5))
                       for place in (_place(found, r, c, h, w) for r in range(n) for c in range(n)))
        if not borders_grey and _uniform_background(borders):
            mistake, observed = _uniform_background(borders)
        elif borders_grey and constant and grey_places + constant >= n * n - k:
            mistake, observed = EMPTY_NOT_GREY, ""
        else:
            mistake, observed = _montage_layout(found, images)
        fail(NAME, f"the background of the montage of {_case(shape)} (its borders and the places without an "
             "image) is not all 0.5" + (f"; {observed}" if observed else ""), seed, mistake, advice=ADVICE)


def check_montage_places(montage, seed=None):
    """Image i is at grid row i // n and column i % n, its pixels copied without rescaling.

    A canvas too large is judged in its top-left corner.
    """
    seed = new_seed(seed)
    for shape, images, found, expected in _results(montage, seed):
        found, _ = _judged_region(shape, found, expected, seed)
        n, _ = _grid(shape)
        h, w = shape[1:3]
        if all(close(_place(found, i // n, i % n, h, w), image) for i, image in enumerate(images)):
            continue
        mistake, observed = _montage_layout(found, images)
        fail(NAME, f"wrong pixels for {_case(shape)}" + (f": {observed}" if observed else ""), seed, mistake,
             advice=ADVICE)


def check_montage(montage, seed=None):
    """All three parts of montage's grade in turn: the canvas, the background, the places."""
    for part in (check_montage_canvas, check_montage_background, check_montage_places):
        part(montage, seed)
