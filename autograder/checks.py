"""The checks library: what every hidden test calls.

A check draws fresh random inputs from a seeded generator (the seed is in
every failure message, so a case can be replayed with ``seed=``), chosen to
expose transposes and broadcasting (n_x != m, m = 1) and extreme values, and
compares the learner's function with the reference: type first, then shape,
then values.  When the values are wrong it tries the fingerprints of known
mistakes and names the one that matches.  Messages never show the reference's
numbers: a learner is told what is wrong, not what to type.
"""
import contextlib
import io
import math
import os
import re
import secrets
from typing import Callable, NamedTuple

import numpy as np

import reference
from firstneuron.testing import assert_array, assert_float, assert_integer, describe

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


class CheckFailure(AssertionError):
    """A failed check. Its message is for the learner; `mistake` names the diagnosis (or None)."""

    def __init__(self, message, mistake=None):
        super().__init__(message)
        self.mistake = mistake


def fail(function, problem, seed, mistake=None, advice=None):
    """Raise the CheckFailure a learner reads in the feedback."""
    message = f"{function}: {problem}" + (f" (case seed {seed})." if seed is not None else ".")
    if mistake is not None:
        message += f" Likely mistake: {mistake.hint}"
    elif advice:
        message += f" {advice}"
    raise CheckFailure(message, mistake.name if mistake is not None else None)


def require(function, seed, assertion, *args, mistake=None, **kwargs):
    """Run a `firstneuron.testing` assertion; on failure, `fail` with its message and the seed."""
    try:
        assertion(*args, **kwargs)
    except AssertionError as error:
        fail(function, str(error), seed, mistake)


def call_without_mutation(function, name, seed, *args, mistake=None):
    """Call ``function(*args)`` and fail (naming `mistake` if given) if it changed any of its array arguments."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    with np.errstate(all="ignore"):
        result = function(*args)
    for i, (arg, before) in enumerate(zip(args, copies)):
        if before is not None and not np.array_equal(arg, before, equal_nan=True):
            fail(name, f"argument {i + 1} was changed in place", seed, mistake,
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
    seed = None  # nothing random here
    swapped = m_train == test_x_orig.shape[0] and m_test == train_x_orig.shape[0]
    if swapped and m_train != m_test:
        fail("m_train, m_test", "m_train is the number of test images and m_test that of training images",
             seed, Mistake("sizes_swapped", "m_train and m_test are swapped: m_train counts the training "
                           "images, train_x_orig.shape[0].", None))
    if m_train != train_x_orig.shape[0]:
        fail("m_train", "not the number of training images", seed,
             advice="It is the first entry of train_x_orig.shape.")
    if m_test != test_x_orig.shape[0]:
        fail("m_test", "not the number of test images", seed, advice="It is the first entry of test_x_orig.shape.")
    if num_px != train_x_orig.shape[1]:
        fail("num_px", "not the height (= width) of an image in pixels", seed,
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
        check_origin(flatten_and_standardize, name)
        X = call_without_mutation(flatten_and_standardize, name, seed, images)
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
    check_origin(sigmoid, name)
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
             Mistake("sigmoid_overflow_nan", "e^z overflows to inf for large z and inf / inf is nan: "
                     "1 / (1 + np.exp(-z)) is safe, np.exp(z) / (1 + np.exp(z)) is not.", None))
    if not close(s, reference.sigmoid(z)):
        fail(name, "wrong values for large |z| (such as ±500)", seed,
             diagnose(s, SIGMOID_MISTAKES, z))


# --- Shared ------------------------------------------------------------------------

#: Modules a learner's function must not come from: the grader's own code.
INSTRUCTOR_MODULES = {"reference", "checks", "given"}


def check_origin(function, name):
    """Fail when `function` is not the learner's own (imported from the reference, or not a function)."""
    if not callable(function):
        raise AssertionError(f"{name}: expected a function, found {describe(function)}")
    module = getattr(function, "__module__", None)
    if module in INSTRUCTOR_MODULES:
        raise AssertionError(f"{name}: this function comes from the course's own code ({module}); "
                             "write it yourself in the notebook.")


@contextlib.contextmanager
def substituted(function, name, replacement):
    """While the block runs, `function` finds `replacement` under the global `name`.

    For a learner's function in a sandboxed kernel (`trusted.LearnerFunction`)
    the kernel asks the grader for each call of `name`, so the replacement
    never enters the kernel; for a plain function its module's globals are
    patched and restored.
    """
    substitute = getattr(function, "substitute", None)
    if substitute is not None:
        with substitute(name, replacement):
            yield
        return
    namespace = getattr(function, "__globals__", {})
    missing = object()
    saved = namespace.get(name, missing)
    namespace[name] = replacement
    try:
        yield
    finally:
        if saved is missing:
            namespace.pop(name, None)
        else:
            namespace[name] = saved


def relative_error(a, b):
    """|a - b| / max(1e-8, |a| + |b|), with norms for arrays (CS231n's measure of agreement)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b)))


#: Relative errors of a gradient against finite differences: below GRAD_OK it is right,
#: above GRAD_WRONG it is wrong (in between: suspicious).
GRAD_OK = 1e-7
GRAD_WRONG = 1e-2


def logistic_problem(rng, n_x, m):
    """A random problem: w (1, n_x), b float, X (n_x, m), Y (1, m) with both labels when m > 1."""
    w = rng.normal(0, 0.5, size=(1, n_x))
    b = float(rng.normal(0, 0.5))
    X = rng.normal(0, 1, size=(n_x, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    if m > 1:
        Y[0, 0], Y[0, 1] = 0.0, 1.0
    return w, b, X, Y


#: Problem sizes (n_x, m) that expose transposes and broadcasting.
PROBLEM_SIZES = [(4, 3), (3, 1), (1, 5), (6, 10)]


# --- Stage 2: initialize_with_zeros and propagate ---------------------------------------

def check_initialize_with_zeros(initialize_with_zeros, seed=None):
    """w is a row of zeros of shape (1, dim) and b the float 0."""
    seed = new_seed(seed)
    name = "initialize_with_zeros"
    check_origin(initialize_with_zeros, name)
    for dim in (1, 2, 7):
        result = initialize_with_zeros(dim)
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(name, f"expected a pair (w, b), found {describe(result)}", seed)
        w, b = result
        require(name, seed, assert_array, f"w for dim = {dim}", w)
        if w.shape == (dim, 1) and dim > 1:
            fail(name, f"w for dim = {dim} has shape {w.shape}", seed,
                 Mistake("w_column_vector", "w must be a row vector of shape (1, dim), as in "
                         "Z = w X + b; np.zeros((dim, 1)) makes a column.", None))
        require(name, seed, assert_array, f"w for dim = {dim}", w, shape=(1, dim), dtype_kind="f")
        if np.any(w != 0):
            fail(name, f"w for dim = {dim} is not all zeros", seed)
        if isinstance(b, np.ndarray) and b.ndim > 0:
            fail(name, f"b is {describe(b)}", seed,
                 Mistake("b_not_float", "b is one number, the bias: write b = 0.0, not an array.", None))
        require(name, seed, assert_float, "b", b)
        if b != 0:
            fail(name, "b is not 0", seed)


def _cost_parts(w, b, X, Y, use_b=True):
    Z = np.dot(w, X) + (b if use_b else 0.0)
    A = reference.sigmoid(Z)
    return Z, A


def _cost_of(Z, Y, both_log_a=False):
    m = Z.shape[1]
    log_a = -reference._softplus(-Z)
    log_1ma = -reference._softplus(Z)
    if both_log_a:
        log_1ma = log_a
    return float(-np.sum(Y * log_a + (1 - Y) * log_1ma) / m)


COST_MISTAKES = [
    Mistake("cost_summed_not_averaged", "the cost is summed over the examples but not averaged: "
            "multiply by 1/m.", lambda w, b, X, Y: X.shape[1] * reference.propagate(w, b, X, Y)[1]),
    Mistake("cost_sign_error", "the minus sign of the cost is missing: J = -(1/m) Σ [y log a + (1-y) log(1-a)] "
            "is positive.", lambda w, b, X, Y: -reference.propagate(w, b, X, Y)[1]),
    Mistake("cost_log_a_both_terms", "log(A) is used in both terms: the second term is (1 - Y) log(1 - A).",
            lambda w, b, X, Y: _cost_of(_cost_parts(w, b, X, Y)[0], Y, both_log_a=True)),
    Mistake("forgot_b_in_z", "b is left out of Z: Z = w X + b.",
            lambda w, b, X, Y: reference.propagate(w, 0.0, X, Y)[1]),
]


def _grads(w, b, X, Y, scale_dw=1.0, scale_db=1.0, sign=1.0, use_b=True):
    grads, _ = reference.propagate(w, b if use_b else 0.0, X, Y)
    return sign * scale_dw * grads["dw"], sign * scale_db * grads["db"]


def _grads_pair(**knobs):
    """A fingerprint of the gradients: dw and db of the reference with a mistake's knobs, in one vector."""
    return lambda w, b, X, Y: np.append(*_grads(w, b, X, Y, **{k: v(X) if callable(v) else v
                                                            for k, v in knobs.items()}))


GRADIENT_MISTAKES = [
    Mistake("dw_forgot_1_over_m", "dw is missing the factor 1/m: dw = (1/m) dZ Xᵀ.",
            _grads_pair(scale_dw=lambda X: X.shape[1])),
    Mistake("db_forgot_1_over_m", "db is missing the factor 1/m: db = (1/m) Σ dZ.",
            _grads_pair(scale_db=lambda X: X.shape[1])),
    Mistake("dz_sign_error", "dZ has the wrong sign: dZ = A - Y, not Y - A.", _grads_pair(sign=-1.0)),
    Mistake("forgot_b_in_z", "b is left out of Z: Z = w X + b.", _grads_pair(use_b=False)),
]


def _propagate_result(propagate, name, seed, w, b, X, Y):
    """Call the learner's propagate and check the form of what it returns: ((dict dw, db), cost)."""
    result = call_without_mutation(propagate, name, seed, w, b, X, Y)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict)):
        fail(name, f"expected (grads, cost) with grads a dict, found {describe(result)}", seed)
    grads, cost = result
    missing = [k for k in ("dw", "db") if k not in grads]
    if missing:
        fail(name, f"grads has no key {missing[0]!r}", seed)
    return grads, cost


def check_propagate_cost(propagate, seed=None):
    """The cost propagate returns is the mean negative log-likelihood of the labels, as a float."""
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "propagate"
    check_origin(propagate, name)
    for n_x, m in PROBLEM_SIZES:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        _, cost = _propagate_result(propagate, name, seed, w, b, X, Y)
        if isinstance(cost, np.ndarray) and cost.size == 1 and cost.ndim > 0:
            fail(name, f"the cost is {describe(cost)}", seed,
                 advice="It should be one number: use float(...) or np.squeeze(...).")
        require(name, seed, assert_float, "the cost", cost)
        if not np.isfinite(cost):
            fail(name, f"the cost is {cost} for n_x = {n_x}, m = {m}", seed)
        if not close(cost, reference.propagate(w, b, X, Y)[1]):
            fail(name, f"wrong cost for n_x = {n_x}, m = {m}", seed,
                 diagnose(cost, COST_MISTAKES, w, b, X, Y),
                 advice="Check J = -(1/m) Σ [Y log A + (1 - Y) log(1 - A)] with A = σ(w X + b).")


def finite_difference_gradients(cost_of, w, b, epsilon=1e-6):
    """Centred differences (J(θ + ε) - J(θ - ε)) / (2ε) of `cost_of(w, b)` for every entry of w and for b."""
    dw = np.zeros_like(w, dtype=float)
    for j in range(w.shape[1]):
        plus, minus = w.copy(), w.copy()
        plus[0, j] += epsilon
        minus[0, j] -= epsilon
        dw[0, j] = (cost_of(plus, b) - cost_of(minus, b)) / (2 * epsilon)
    db = (cost_of(w, b + epsilon) - cost_of(w, b - epsilon)) / (2 * epsilon)
    return dw, float(db)


def check_propagate_gradients(propagate, seed=None):
    """dw has shape (1, n_x) and db is a float, both equal to the gradients of the cost.

    Compared with the reference and with centred finite differences of the
    learner's own cost, so that the message says whether the gradients or the
    cost are wrong.
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "propagate"
    check_origin(propagate, name)
    for n_x, m in PROBLEM_SIZES:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        grads, _ = _propagate_result(propagate, name, seed, w, b, X, Y)
        dw, db = grads["dw"], grads["db"]
        require(name, seed, assert_array, "dw", dw)
        if dw.shape == (n_x, 1) and n_x > 1:
            fail(name, f"dw has shape {dw.shape} for n_x = {n_x}, m = {m}", seed,
                 Mistake("dw_transposed", "dw is transposed: like w it is a row of shape (1, n_x); "
                         "dw = (1/m) dZ Xᵀ with dZ of shape (1, m).", None))
        require(name, seed, assert_array, f"dw for n_x = {n_x}, m = {m}", dw, shape=(1, n_x), dtype_kind="f")
        if isinstance(db, np.ndarray) and db.size == 1 and db.ndim > 0:
            fail(name, f"db is {describe(db)}", seed, advice="db is one number: use float(...) or np.sum.")
        require(name, seed, assert_float, "db", db)
        expected_dw, expected_db = _grads(w, b, X, Y)
        dw_ok, db_ok = close(dw, expected_dw), close(db, expected_db)
        if dw_ok and db_ok:
            continue

        def own_cost(w_, b_):
            return float(np.asarray(propagate(w_, b_, X, Y)[1], dtype=float))

        with np.errstate(all="ignore"):
            fd_dw, fd_db = finite_difference_gradients(own_cost, w, b)
        err = relative_error(np.append(dw, db), np.append(fd_dw, fd_db))
        verdict = "right" if err < GRAD_OK else "wrong" if err > GRAD_WRONG else "doubtful"
        which = "dw" if not dw_ok else "db"
        mistake = diagnose(np.append(dw, db), GRADIENT_MISTAKES, w, b, X, Y)
        problem = (f"wrong {which} for n_x = {n_x}, m = {m}; relative error between your gradients and "
                   f"finite differences of your own cost: {err:.1e} ({verdict}: < {GRAD_OK:g} is right, "
                   f"> {GRAD_WRONG:g} is wrong)")
        advice = ("Your gradients match your cost, so the cost formula itself is wrong."
                  if err < GRAD_OK else "Check dZ = A - Y, dw = (1/m) dZ Xᵀ, db = (1/m) Σ dZ.")
        fail(name, problem, seed, mistake, advice)


# --- Stage 3: optimize --------------------------------------------------------------------

def _optimize_like(w, b, X, Y, num_iterations, learning_rate, sign=-1.0, every=100, offset=0,
                   grads_once=False, w_with_db=False):
    """Gradient descent as the reference does it, with the knobs of known mistakes."""
    w = np.array(w, dtype=float, copy=True)
    costs = []
    grads, cost = reference.propagate(w, b, X, Y)
    for i in range(num_iterations):
        if not grads_once or i == 0:
            grads, cost = reference.propagate(w, b, X, Y)
        w = w + sign * learning_rate * (grads["db"] if w_with_db else grads["dw"])
        b = b + sign * learning_rate * grads["db"]
        if i % every == offset:
            costs.append(cost)
    return {"w": w, "b": b}, grads, costs


def _optimize_mistakes(num_iterations, learning_rate):
    n, lr = num_iterations, learning_rate
    return [
        Mistake("gradient_ascent", "w and b move up the gradient: the update is w := w - α dw (minus).",
                lambda *p: _optimize_like(*p, n, lr, sign=1.0)),
        Mistake("gradients_outside_loop", "the gradients are computed once, before the loop: call propagate "
                "in every iteration, with the current w and b.",
                lambda *p: _optimize_like(*p, n, lr, grads_once=True)),
        Mistake("learning_rate_ignored", "the learning_rate argument is not used (0.009 is written in "
                "instead).", lambda *p: _optimize_like(*p, n, 0.009)),
        Mistake("costs_wrong_iterations", "the costs are recorded at the wrong iterations: at i = 0, 100, "
                "200, ... (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, offset=99)),
        Mistake("one_iteration_short", "the loop makes num_iterations - 1 steps: range(num_iterations) "
                "makes num_iterations.", lambda *p: _optimize_like(*p, max(n - 1, 0), lr)),
        Mistake("w_updated_with_db", "w is updated with db: w := w - α dw, and b := b - α db.",
                lambda *p: _optimize_like(*p, n, lr, w_with_db=True)),
        Mistake("costs_every_iteration", "the cost is recorded in every iteration; record it every 100 "
                "iterations (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, every=1)),
    ]


def _match_optimize(mistakes, params, costs, w, b, X, Y):
    """The first mistake whose w, b and costs all match what the learner's optimize returned."""
    for mistake in mistakes:
        with np.errstate(all="ignore"):
            try:
                p, _, c = mistake.result(w, b, X, Y)
            except (ArithmeticError, ValueError, TypeError):
                continue
        if close(params["w"], p["w"]) and close(params["b"], p["b"]) and close(costs, c):
            return mistake
    return None


def check_optimize(optimize, seed=None):
    """optimize runs num_iterations steps of gradient descent, records costs every 100, leaves inputs alone."""

    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "optimize"
    check_origin(optimize, name)
    for (n_x, m), num_iterations, learning_rate in [((3, 5), 250, 0.05), ((4, 1), 101, 0.02),
                                                    ((2, 6), 1, 0.1)]:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}"
        in_place = Mistake("w_updated_in_place", "`w -= learning_rate * dw` changes the caller's array in "
                           "place; write w = w - learning_rate * dw, which makes a new array.", None)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = call_without_mutation(optimize, name, seed, w, b, X, Y, num_iterations, learning_rate, False,
                                           mistake=in_place)
        if out.getvalue().strip():
            fail(name, f"it prints with print_cost=False {case}", seed)
        if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], dict)):
            fail(name, f"expected (params, grads, costs) {case}, found {describe(result)}", seed)
        params, grads, costs = result
        for key, where in (("w", params), ("b", params), ("dw", grads), ("db", grads)):
            if not isinstance(where, dict) or key not in where:
                fail(name, f"the result has no {key!r} {case}", seed)
        expected_params, expected_grads, expected_costs = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        try:
            costs = list(costs)
        except TypeError:
            fail(name, f"costs is {describe(costs)}, not a list {case}", seed)
        require(name, seed, assert_array, "params['w']", params["w"], shape=w.shape, dtype_kind="f")
        mistakes = _optimize_mistakes(num_iterations, learning_rate)
        if len(costs) != len(expected_costs):
            fail(name, f"{len(costs)} costs {case}: expected ceil(num_iterations / 100) of them",
                 seed, _match_optimize(mistakes, params, costs, w, b, X, Y))
        found = (params["w"], params["b"], grads["dw"], grads["db"], costs)
        expected = (expected_params["w"], expected_params["b"], expected_grads["dw"], expected_grads["db"],
                    expected_costs)
        if not all(close(f, e) for f, e in zip(found, expected)):
            match = _match_optimize(mistakes, params, costs, w, b, X, Y)
            wrong = [label for label, f, e in zip(("w", "b", "dw", "db", "costs"), found, expected) if not close(f, e)]
            fail(name, f"wrong {', '.join(wrong)} {case}", seed, match,
                 advice="Each iteration: grads, cost = propagate(w, b, X, Y); w = w - learning_rate * dw; "
                        "b = b - learning_rate * db.")
    # Printing, and a cost that goes down at a small learning rate.
    w, b, X, Y = logistic_problem(rng, 3, 8)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        _, _, costs = optimize(w, b, X, Y, 300, 0.01, True)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    pattern = r"Cost after iteration (\d+): -?\d+\.\d{6}"
    if [int(re.fullmatch(pattern, line).group(1)) if re.fullmatch(pattern, line) else None for line in lines] != [0, 100, 200]:
        fail(name, "with print_cost=True, expected the lines 'Cost after iteration 0: ...', 100 and 200 "
             "(format \"Cost after iteration %i: %f\")", seed)
    if not costs[-1] < costs[0]:
        fail(name, "the cost does not go down at a small learning rate (0.01)", seed)


# --- Stage 4: predict and model -------------------------------------------------------------

PREDICT_MISTAKES = [
    Mistake("predict_returns_probabilities", "the probabilities A are returned; predict turns them into "
            "classes: 1 where A > 0.5, else 0.",
            lambda w, b, X: reference.sigmoid(np.dot(w, X) + b)),
    Mistake("predict_threshold_inclusive", "a probability of exactly 0.5 is class 0: use A > 0.5, not A >= 0.5.",
            lambda w, b, X: (reference.sigmoid(np.dot(w, X) + b) >= 0.5).astype(float)),
    Mistake("predict_forgot_b", "b is left out: A = σ(w X + b).",
            lambda w, b, X: reference.predict(w, 0.0, X)),
]


def check_predict(predict, seed=None):
    """predict returns 0/1 of shape (1, m): 1 where σ(w X + b) > 0.5, and 0 at exactly 0.5."""
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "predict"
    check_origin(predict, name)
    cases = []
    for n_x, m in PROBLEM_SIZES:
        w, b, X, _ = logistic_problem(rng, n_x, m)
        cases.append((w, b, X, f"n_x = {n_x}, m = {m}"))
    w, b, X, _ = logistic_problem(rng, 3, 6)
    X[:, 2] = 0.0  # a probability of exactly 0.5 with b = 0
    cases.append((w, 0.0, X, "a probability of exactly 0.5"))
    for w, b, X, case in cases:
        m = X.shape[1]
        found = call_without_mutation(predict, name, seed, w, b, X)
        require(name, seed, assert_array, f"the prediction for {case}", found)
        if found.shape == (m,) and m > 1 or found.shape == (m, 1) and m > 1:
            fail(name, f"the prediction for {case} has shape {found.shape}", seed,
                 Mistake("predict_wrong_shape", "the prediction is a row of shape (1, m), like Y.", None))
        require(name, seed, assert_array, f"the prediction for {case}", found, shape=(1, m), dtype_kind="fiub")
        if not close(found, reference.predict(w, b, X), rtol=0, atol=0):
            fail(name, f"wrong predictions for {case}", seed, diagnose(found, PREDICT_MISTAKES, w, b, X),
                 advice="Y_prediction is 1 where σ(w X + b) > 0.5 and 0 elsewhere.")


MODEL_KEYS = ("costs", "Y_prediction_test", "Y_prediction_train", "w", "b", "learning_rate", "num_iterations")


def _quiet_model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5, swap=False):
    with contextlib.redirect_stdout(io.StringIO()):
        if swap:
            return reference.model(X_test, Y_test, X_train, Y_train, num_iterations, learning_rate)
        return reference.model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate)


def check_model(model, seed=None):
    """model trains with its arguments, predicts both sets, prints accuracies, returns the dict.

    The learner's `predict` is replaced by the reference's while the check
    runs, so a mistake in predict costs predict's points only.
    """

    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "model"
    check_origin(model, name)
    n_x, m_train, m_test = 4, 12, 6
    w_true, b_true, X_train, _ = logistic_problem(rng, n_x, m_train)
    X_test = rng.normal(0, 1, size=(n_x, m_test))
    Y_train = (np.dot(w_true, X_train) + b_true > 0).astype(float)
    Y_test = (np.dot(w_true, X_test) + b_true > 0).astype(float)
    num_iterations, learning_rate = 150, 0.05
    with substituted(model, "predict", reference.predict), contextlib.redirect_stdout(io.StringIO()) as out:
        d = call_without_mutation(model, name, seed, X_train, Y_train, X_test, Y_test,
                                  num_iterations, learning_rate, False)
    if not isinstance(d, dict):
        fail(name, f"expected a dictionary, found {describe(d)}", seed)
    missing = [k for k in MODEL_KEYS if k not in d]
    if missing:
        fail(name, f"the dictionary has no key {missing[0]!r}", seed,
             Mistake("model_missing_key", f"return all of {', '.join(MODEL_KEYS)}.", None))
    printed = out.getvalue()
    if "train accuracy" not in printed or "test accuracy" not in printed:
        fail(name, "expected it to print the train accuracy and the test accuracy", seed)
    if "np.float64" in printed:
        fail(name, "the accuracy is printed as np.float64(...): print a plain float (float(...))", seed)
    expected = _quiet_model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate)
    wrong = [k for k in MODEL_KEYS if not close(d[k], expected[k])]
    if wrong:
        mistakes = [
            Mistake("model_ignores_arguments", "the num_iterations and learning_rate arguments are not "
                    "passed on to optimize.", lambda: _quiet_model(X_train, Y_train, X_test, Y_test)),
            Mistake("model_trains_on_test_set", "the model is trained on the test set: optimize with "
                    "X_train and Y_train.", lambda: _quiet_model(X_train, Y_train, X_test, Y_test,
                                                                  num_iterations, learning_rate, swap=True)),
            Mistake("model_returns_initial_params", "w and b are the initial zeros: return the trained "
                    "parameters from optimize.",
                    lambda: dict(expected, w=np.zeros((1, n_x)), b=0.0)),
        ]
        match = None
        for mistake in mistakes:
            other = mistake.result()
            if all(close(d[k], other[k]) for k in ("w", "b")) and not (
                    mistake.name == "model_trains_on_test_set" and close(d["w"], expected["w"])):
                match = mistake
                break
        fail(name, f"wrong {', '.join(wrong)} (trained with num_iterations={num_iterations}, "
             f"learning_rate={learning_rate})", seed, match)


# --- Stage 5: montage ------------------------------------------------------------------------

def _montage_like(images, column_first=False, floor=False, background=0.5, outer=True, swap_hw=False):
    k, h, w = images.shape[:3]
    n = math.isqrt(k) if floor else math.isqrt(k) + (math.isqrt(k) ** 2 < k)
    if swap_hw:
        h, w = w, h
    edge = 1 if outer else -1
    H, W = n * h + n + edge, n * w + n + edge
    out = np.full((H, W) + images.shape[3:], background, dtype=float)
    start = 1 if outer else 0
    for i in range(min(k, n * n)):
        r, c = (i % n, i // n) if column_first else divmod(i, n)
        top, left = start + r * (h + 1), start + c * (w + 1)
        out[top:top + h, left:left + w] = images[i].reshape((h, w) + images.shape[3:]) if swap_hw else images[i]
    return out


MONTAGE_MISTAKES = [
    Mistake("montage_column_first", "the images are placed column by column; fill the grid row by row: "
            "image i at row i // n, column i % n.", lambda im: _montage_like(im, column_first=True)),
    Mistake("montage_floor_sqrt", "n is the floor of √k; it must be the ceiling, so that n² ≥ k images fit.",
            lambda im: _montage_like(im, floor=True)),
    Mistake("montage_background_zero", "the background is 0; it is 0.5 (mid-grey), so borders stand out "
            "against both dark and light pixels.", lambda im: _montage_like(im, background=0.0)),
    Mistake("montage_no_outer_border", "there is no border around the outside: every image has a 1-pixel "
            "border on all four sides, so the height is n h + n + 1.", lambda im: _montage_like(im, outer=False)),
    Mistake("montage_swapped_hw", "height and width are swapped: an image of shape (h, w) has h rows.",
            lambda im: _montage_like(im, swap_hw=True)),
]


def check_montage(montage, seed=None):
    """montage lays k images on a ceil(√k) grid, row by row, 1-pixel borders, 0.5 background."""
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "montage"
    check_origin(montage, name)
    shapes = [(4, 2, 3), (9, 3, 2), (1, 2, 2), (5, 2, 3), (3, 3, 4), (2, 2, 3, 3), (7, 3, 2, 3)]
    raised_on = []
    for shape in shapes:
        images = rng.random(shape)
        case = f"{shape[0]} {'colour' if len(shape) == 4 else 'grey'} image(s) of {shape[1]}×{shape[2]} pixels"
        try:
            found = call_without_mutation(montage, name, seed, images)
        except (IndexError, ValueError) as error:
            raised_on.append((shape, case, error))
            continue
        expected = reference.montage(images)
        require(name, seed, assert_array, f"the montage of {case}", found)
        if found.shape != expected.shape or not close(found, expected):
            mistake = diagnose(found, MONTAGE_MISTAKES, images)
            problem = (f"wrong shape {found.shape} for {case}" if found.shape != expected.shape
                       else f"wrong pixels for {case}")
            fail(name, problem, seed, mistake,
                 advice="With n = ceil(√k): n h + n + 1 rows, n w + n + 1 columns, background 0.5, "
                        "image i at rows 1 + r (h + 1) ... with r, c = divmod(i, n).")
    if raised_on:
        shape, case, error = raised_on[0]
        squares_only = all(int(np.sqrt(s[0])) ** 2 != s[0] for s, _, _ in raised_on)
        fail(name, f"{type(error).__name__} for {case}: {error}", seed,
             MONTAGE_MISTAKES[1] if squares_only else None)
