"""The checks library: what every hidden test calls.

A check draws fresh random inputs from a seeded generator (the seed is in
every failure message, so a case can be replayed with ``seed=``), chosen to
expose transposes and broadcasting (n_x != m, m = 1) and extreme values, and
compares the learner's function with the reference: type first, then shape,
then values.  When the values are wrong it tries the fingerprints of known
mistakes and names the one that matches.  Messages never show the reference's
numbers: a learner is told what is wrong, not what to type.
"""
import os
import secrets
from typing import Callable, NamedTuple

import numpy as np

import reference
from firstneuron.testing import assert_array, assert_integer, describe

#: Tolerance for values compared with the reference: |found - expected| <= ATOL + RTOL * |expected|.
RTOL = 1e-6
ATOL = 1e-9


class Mistake(NamedTuple):
    """A known mistake: what the faulty function would return, and what to tell the learner."""

    name: str
    hint: str
    result: Callable


def new_seed(seed=None):
    """The seed for one check: `seed` if given, else ``$FIRSTNEURON_SEED``, else a fresh one."""
    if seed is not None:
        return int(seed)
    env = os.environ.get("FIRSTNEURON_SEED")
    return int(env) if env else secrets.randbelow(2**31)


def close(found, expected, rtol=RTOL, atol=ATOL):
    """True when `found` has `expected`'s shape and values within the tolerance (nan never matches)."""
    try:
        found = np.asarray(found, dtype=float)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=float)
    return found.shape == expected.shape and bool(np.allclose(found, expected, rtol=rtol, atol=atol))


def diagnose(found, mistakes, *args):
    """The first of `mistakes` whose result on `args` matches `found`, or None."""
    with np.errstate(all="ignore"):
        for mistake in mistakes:
            try:
                if close(found, mistake.result(*args)):
                    return mistake
            except (ArithmeticError, ValueError, TypeError):
                continue
    return None


def fail(function, problem, seed, mistake=None, advice=None):
    """Raise the AssertionError a learner reads in the feedback."""
    message = f"{function}: {problem} (case seed {seed})."
    if mistake is not None:
        message += f" Likely mistake: {mistake.hint}"
    elif advice:
        message += f" {advice}"
    raise AssertionError(message)


def require(function, seed, assertion, *args, mistake=None, **kwargs):
    """Run a `firstneuron.testing` assertion; on failure, `fail` with its message and the seed."""
    try:
        assertion(*args, **kwargs)
    except AssertionError as error:
        fail(function, str(error), seed, mistake)


def call_without_mutation(function, name, seed, *args):
    """Call ``function(*args)`` and fail if it changed any of its array arguments."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    with np.errstate(all="ignore"):
        result = function(*args)
    for i, (arg, before) in enumerate(zip(args, copies)):
        if before is not None and not np.array_equal(arg, before, equal_nan=True):
            fail(name, f"argument {i + 1} was changed in place", seed,
                 advice="Compute new arrays instead of modifying the ones you were given.")
    return result


# --- Stage 1: the data -------------------------------------------------------

def check_dataset_sizes(m_train, m_test, num_px, train_x_orig, test_x_orig):
    """`m_train`, `m_test` and `num_px` describe the loaded images.

    Parameters
    ----------
    m_train, m_test, num_px : int
        The learner's answers.
    train_x_orig : ndarray of shape (m_train, num_px, num_px, channels)
    test_x_orig : ndarray of shape (m_test, num_px, num_px, channels)
    """
    for name, value in (("m_train", m_train), ("m_test", m_test), ("num_px", num_px)):
        assert_integer(name, value)
    if m_train != train_x_orig.shape[0]:
        hint = " (that is the number of test images)" if m_train == test_x_orig.shape[0] else ""
        raise AssertionError(f"m_train is not the number of training images{hint}: "
                             "it is the first entry of train_x_orig.shape.")
    if m_test != test_x_orig.shape[0]:
        hint = " (that is the number of training images)" if m_test == train_x_orig.shape[0] else ""
        raise AssertionError(f"m_test is not the number of test images{hint}: "
                             "it is the first entry of test_x_orig.shape.")
    if num_px != train_x_orig.shape[1]:
        raise AssertionError("num_px is not the height (= width) of an image in pixels: "
                             "it is the second entry of train_x_orig.shape.")


FLATTEN_MISTAKES = [
    Mistake("reshape_without_transpose",
            "`images.reshape(n_x, m)` has the right shape but mixes the pixels of different "
            "images; reshape to (m, -1) first, then transpose with `.T`.",
            lambda images: images.reshape(-1, images.shape[0]) / 255.0),
    Mistake("forgot_to_standardize",
            "the pixel values were not divided by 255, so they are not in [0, 1].",
            lambda images: images.reshape(images.shape[0], -1).T.astype(float)),
    Mistake("column_major_flatten",
            "the images were flattened in Fortran (column-first) order; use numpy's default order.",
            lambda images: images.reshape(images.shape[0], -1, order="F").T / 255.0),
    Mistake("divided_by_256",
            "the pixel values were divided by 256; the largest pixel value is 255.",
            lambda images: images.reshape(images.shape[0], -1).T / 256.0),
]


def check_flatten_and_standardize(flatten_and_standardize, seed=None):
    """`flatten_and_standardize` turns uint8 images into standardized columns.

    Checks images of shape (m, height, width, channels) with n_x != m, m = 1
    and 3 channels.  Raises AssertionError naming the first problem.
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    for shape in [(3, 4, 5, 1), (1, 2, 3, 3), (7, 2, 2, 3)]:
        images = rng.integers(0, 256, size=shape, dtype=np.uint8)
        images.flat[0] = 255  # the largest pixel value occurs
        m, n_x = shape[0], int(np.prod(shape[1:]))
        name = "flatten_and_standardize"
        X = call_without_mutation(flatten_and_standardize, name, seed, images)
        expected = reference.flatten_and_standardize(images)
        what = f"the result for images of shape {shape}"
        require(name, seed, assert_array, what, X)
        if X.shape == (m, n_x) and m != n_x:
            fail(name, f"for images of shape {shape} the result has shape {X.shape}: one "
                 "column per image was expected, rows and columns are swapped", seed,
                 advice="Did you forget the transpose `.T`?")
        if X.shape != (n_x, m):
            fail(name, f"for images of shape {shape}: expected shape (n_x, m) = ({n_x}, {m}), "
                 f"found {X.shape}", seed)
        require(name, seed, assert_array, what, X, dtype_kind="f",
                mistake=diagnose(X, FLATTEN_MISTAKES, images))
        if not close(X, expected):
            fail(name, f"wrong values for images of shape {shape}", seed,
                 diagnose(X, FLATTEN_MISTAKES, images),
                 advice="Each column must be one image, flattened, with values divided by 255.")


# --- Stage 1: sigmoid ----------------------------------------------------------

SIGMOID_MISTAKES = [
    Mistake("sigmoid_sign_error",
            "a sign error: the formula is 1 / (1 + e^(-z)), with a minus sign in the exponent.",
            lambda z: 1.0 / (1.0 + np.exp(z))),
    Mistake("sigmoid_no_reciprocal",
            "the result is 1 + e^(-z); the sigmoid is its reciprocal, 1 / (1 + e^(-z)).",
            lambda z: 1.0 + np.exp(-z)),
    Mistake("sigmoid_minus_in_denominator",
            "the denominator is 1 - e^(-z); it is 1 + e^(-z).",
            lambda z: 1.0 / (1.0 - np.exp(-z))),
    Mistake("sigmoid_forgot_one",
            "the 1 in the denominator is missing: 1 / e^(-z) is e^z, not the sigmoid.",
            lambda z: np.exp(z)),
    Mistake("sigmoid_is_tanh",
            "this is tanh(z), whose values lie in (-1, 1); the sigmoid's lie in (0, 1).",
            np.tanh),
    Mistake("sigmoid_rounded",
            "the values were rounded; return the exact probabilities, not 0/1 classes.",
            lambda z: np.round(1.0 / (1.0 + np.exp(-z)))),
]


def check_sigmoid(sigmoid, seed=None):
    """`sigmoid` computes 1 / (1 + e^(-z)) elementwise, for arrays of any shape and large |z|."""
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "sigmoid"
    # A scalar.
    z = float(rng.normal(0, 3))
    s = call_without_mutation(sigmoid, name, seed, z)
    if not (np.ndim(s) == 0 and np.issubdtype(np.asarray(s).dtype, np.floating)):
        fail(name, f"for a number z the result must be a float, found {describe(s)}", seed)
    if not close(s, reference.sigmoid(z)):
        fail(name, "wrong value for a number z", seed,
             diagnose(s, SIGMOID_MISTAKES, z),
             advice="Compare your formula with σ(z) = 1 / (1 + e^(-z)).")
    # Arrays whose shapes expose broadcasting and transposes.
    for shape in [(4, 3), (1, 1), (1, 6), (5,)]:
        z = rng.normal(0, 4, size=shape)
        s = call_without_mutation(sigmoid, name, seed, z)
        require(name, seed, assert_array, f"the result for z of shape {shape}", s, shape=shape, dtype_kind="f")
        if not close(s, reference.sigmoid(z)):
            fail(name, f"wrong values for z of shape {shape}", seed,
                 diagnose(s, SIGMOID_MISTAKES, z),
                 advice="Compare your formula with σ(z) = 1 / (1 + e^(-z)).")
    # Large |z|: e^(-z) overflows for z << 0; the result must still be a probability.
    z = np.array([[-800.0, -500.0, -40.0, 40.0, 500.0, 800.0]])
    s = call_without_mutation(sigmoid, name, seed, z)
    require(name, seed, assert_array, "the result for large |z|", s, shape=z.shape, dtype_kind="f")
    if not np.all(np.isfinite(s)):
        fail(name, "for large |z| (such as ±500) the result contains nan or inf", seed,
             advice="Write it so that no inf / inf happens: 1 / (1 + np.exp(-z)) is safe, "
                    "np.exp(z) / (1 + np.exp(z)) is not.")
    if not close(s, reference.sigmoid(z)):
        fail(name, "wrong values for large |z| (such as ±500)", seed,
             diagnose(s, SIGMOID_MISTAKES, z))
