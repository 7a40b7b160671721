"""Checks of stage 1's data exercises: the sizes of the data set and `flatten_and_standardize`."""
import functools

import numpy as np

import reference
from firstneuron.data import COURSE_CELEBA_IMAGES, load_course_data
from firstneuron.data.celeba import CELEBA_SIZE, celeba_train_size
from firstneuron.testing import assert_array, assert_integer

from .core import Mistake, call_without_mutation, check_origin, close, diagnose, fail, new_seed, require

__all__ = ["check_dataset_sizes", "check_flatten_and_standardize"]


@functools.lru_cache(maxsize=1)
def _builtin_shapes():
    train_x_orig, _, test_x_orig, _, _ = load_course_data(None)
    return train_x_orig.shape, test_x_orig.shape


def course_data_shapes(celeba):
    """The shapes of ``train_x_orig`` and ``test_x_orig`` that ``load_course_data(celeba)`` gives.

    Computed in the grader from its own data, never from arrays the learner's kernel
    holds: with ``celeba`` None the built-in data set is loaded here; otherwise the
    CelebA rule applies (`COURSE_CELEBA_IMAGES` images of 64x64x3, split by
    `celeba_train_size`), without reading any folder (the path names the learner's copy).

    Parameters
    ----------
    celeba : None or str
        The notebook's ``CELEBA`` switch.

    Returns
    -------
    train_shape, test_shape : tuple of int
        ``(m, num_px, num_px, channels)`` of the training and the test images.
    """
    if celeba is None:
        return _builtin_shapes()
    n, m_train = COURSE_CELEBA_IMAGES, celeba_train_size(COURSE_CELEBA_IMAGES)
    return (m_train, CELEBA_SIZE, CELEBA_SIZE, 3), (n - m_train, CELEBA_SIZE, CELEBA_SIZE, 3)


def check_dataset_sizes(m_train, m_test, num_px, celeba=None):
    """`m_train`, `m_test` and `num_px` describe the images ``load_course_data(celeba)`` loads.

    The expected sizes come from the grader's own copy of the data (`course_data_shapes`),
    not from the learner's arrays: what the kernel holds is never ground truth.

    Parameters
    ----------
    m_train, m_test, num_px : int
        The learner's answers.
    celeba : None or str, default=None
        The notebook's ``CELEBA`` switch (None: the built-in data set).
    """
    for name, value in (("m_train", m_train), ("m_test", m_test), ("num_px", num_px)):
        assert_integer(name, value)
    seed = None  # nothing random here
    train_shape, test_shape = course_data_shapes(celeba)
    swapped = m_train == test_shape[0] and m_test == train_shape[0]
    if swapped and m_train != m_test:
        fail("m_train, m_test", "m_train is the number of test images and m_test that of training images",
             seed, Mistake("sizes_swapped", "m_train and m_test are swapped: m_train counts the training "
                           "images, train_x_orig.shape[0].", None))
    axis_mistake = Mistake("size_from_wrong_axis", "a size was read from the wrong entry of the shape: "
                           "images have shape (m, num_px, num_px, channels), so m is shape[0] and num_px "
                           "shape[1].", None)
    if m_train != train_shape[0]:
        fail("m_train", "not the number of training images", seed,
             axis_mistake if m_train in train_shape[1:] else None,
             advice="It is the first entry of train_x_orig.shape.")
    if m_test != test_shape[0]:
        fail("m_test", "not the number of test images", seed, advice="It is the first entry of test_x_orig.shape.")
    if num_px != train_shape[1]:
        fail("num_px", "not the height (= width) of an image in pixels", seed,
             axis_mistake if num_px in (train_shape[0], train_shape[3]) else None,
             advice="It is the second entry of train_x_orig.shape.")


FLATTEN_MISTAKES = [
    Mistake("reshape_without_transpose",
            "`images.reshape(n_x, m)` has the right shape but mixes the pixels of different "
            "images; reshape to (m, -1) first, then transpose with `.T`.",
            lambda images: images.reshape(-1, images.shape[0]) / 255.0),
    Mistake("forgot_to_standardize",
            "the pixel values were not divided by 255, so they are not in [0, 1].",
            lambda images: images.reshape(images.shape[0], -1).T.astype(float)),
    Mistake("column_major_flatten",
            "the pixels of each image were read in reversed axis order (order=\"F\", or images.T.reshape(-1, m) "
            "which is the same); reshape to (m, -1) in numpy's default order, then transpose with .T.",
            lambda images: images.reshape(images.shape[0], -1, order="F").T / 255.0),
    Mistake("divided_by_256",
            "the pixel values were divided by 256; the largest pixel value is 255.",
            lambda images: images.reshape(images.shape[0], -1).T / 256.0),
    Mistake("divided_by_data_max",
            "the pixel values were divided by the largest value in the data; divide by 255, the largest "
            "value a pixel can have, so that every data set is scaled the same way.",
            lambda images: images.reshape(images.shape[0], -1).T / float(images.max())),
    Mistake("integer_division",
            "`//` is integer division: pixel // 255 is 0 or 1; divide with `/`.",
            lambda images: (images.reshape(images.shape[0], -1).T // 255).astype(float)),
    Mistake("standardized_by_mean_and_std",
            "the values were standardized with the mean and standard deviation; here standardizing means "
            "dividing by 255, the largest pixel value.",
            lambda images: _mean_std(images.reshape(images.shape[0], -1).T.astype(float))),
]


def _mean_std(X):
    return (X - X.mean()) / X.std()


def check_flatten_and_standardize(flatten_and_standardize, seed=None):
    """`flatten_and_standardize` turns uint8 images into standardized columns.

    Checks images of shape (m, height, width, channels) with n_x != m, m = 1
    and 3 channels.  Raises AssertionError naming the first problem.
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    # The last images have no pixel of 255: dividing by the data's maximum is not dividing by 255.
    for shape, top in [((3, 4, 5, 1), 255), ((1, 2, 3, 3), 255), ((7, 2, 2, 3), 255), ((4, 3, 2, 3), 200)]:
        images = rng.integers(0, top + 1, size=shape, dtype=np.uint8)
        images.flat[0] = top  # the largest pixel value occurs
        m, n_x = shape[0], int(np.prod(shape[1:]))
        name = "flatten_and_standardize"
        check_origin(flatten_and_standardize, name)
        X = call_without_mutation(flatten_and_standardize, name, seed, images,
                                  case=f"for images of shape {shape}, dtype uint8")
        expected = reference.flatten_and_standardize(images)
        what = f"the result for images of shape {shape}"
        require(name, seed, assert_array, what, X)
        if X.shape == (m, n_x) and m != n_x:
            fail(name, f"for images of shape {shape} the result has shape {X.shape}", seed,
                 Mistake("forgot_transpose", "one row per image instead of one column: transpose the "
                         "result of reshape with `.T`.", None))
        if X.shape != (n_x, m):
            fail(name, f"for images of shape {shape}: expected shape (n_x, m) = ({n_x}, {m}), "
                 f"found {X.shape}", seed)
        require(name, seed, assert_array, what, X, dtype_kind="f",
                mistake=diagnose(X, FLATTEN_MISTAKES, images))
        # Decided on purpose: float32 is accepted (x / 255 in float32 is within 6e-8 of the exact
        # value, well inside RTOL); float16 is not (3 significant digits).
        if X.dtype.itemsize < 4:
            fail(name, f"the result is stored as {X.dtype}, which keeps only about 3 significant digits", seed,
                 Mistake("low_precision_dtype", "store the result as float (float64) or at least float32: "
                         "divide by 255 without converting to float16.", None))
        if not close(X, expected):
            fail(name, f"wrong values for images of shape {shape}", seed,
                 diagnose(X, FLATTEN_MISTAKES, images),
                 advice="Each column must be one image, flattened, with values divided by 255.")
