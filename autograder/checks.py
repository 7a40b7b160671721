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
import traceback
import warnings
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
    """The one of `mistakes` whose result on `args` matches `found`, or None.

    When two mistakes fit, none is named: a wrong name costs more trust than no name.
    """
    matches = []
    with np.errstate(all="ignore"):
        for mistake in mistakes:
            try:
                if close(found, mistake.result(*args)):
                    matches.append(mistake)
            except (ArithmeticError, ValueError, TypeError):
                continue
    return matches[0] if len(matches) == 1 else None


def diagnose_all(founds, mistakes, cases):
    """The one of `mistakes` that matches every result in `founds` on its case of `cases`, or None.

    Evidence from every case: a fingerprint that fits one small case by chance is not named.
    """
    fits = []
    with np.errstate(all="ignore"):
        for mistake in mistakes:
            try:
                if all(close(found, mistake.result(*args)) for found, args in zip(founds, cases)):
                    fits.append(mistake)
            except (ArithmeticError, ValueError, TypeError):
                continue
    return fits[0] if len(fits) == 1 else None


class CheckFailure(AssertionError):
    """A failed check. Its message is for the learner; `mistake` names the diagnosis (or None).

    `error` is the exception the learner's function raised, when that is why the check failed.
    """

    def __init__(self, message, mistake=None, error=None, hint=None):
        super().__init__(message + (f" Likely mistake: {hint}" if hint else ""))
        self.problem = message  # what was observed, without the diagnosis
        self.mistake = mistake  # the diagnosis's name, the data a report counts
        self.hint = hint  # what the diagnosis tells the learner
        self.error = error


def wrong_order(expected):
    """The diagnosis of a result whose parts are all there but in another order than `expected`."""
    return Mistake("returns_in_wrong_order", f"the parts of the result are in the wrong order: return {expected}.",
                   None)


def fail(function, problem, seed, mistake=None, advice=None):
    """Raise the CheckFailure a learner reads in the feedback."""
    message = f"{function}: {problem}" + (f" (case seed {seed})." if seed is not None else ".")
    if mistake is not None:
        raise CheckFailure(message, mistake.name, hint=mistake.hint)
    raise CheckFailure(message + (f" {advice}" if advice else ""))


def require(function, seed, assertion, *args, mistake=None, **kwargs):
    """Run a `firstneuron.testing` assertion; on failure, `fail` with its message and the seed."""
    try:
        assertion(*args, **kwargs)
    except AssertionError as error:
        fail(function, str(error), seed, mistake)


#: Files whose frames are not the learner's own lines: the grader, numpy, the course's given code.
_NOT_LEARNER = re.compile(r"(^|[\\/])(checks|reference|given)\.py$|[\\/](site-packages|numpy|lib[\\/]python3[^\\/]*)[\\/]")


def learner_frames(error):
    """The frames of the learner's code in `error`'s traceback, outermost first.

    Parameters
    ----------
    error : BaseException
        An exception raised while a check called the learner's function.

    Returns
    -------
    frames : list of (filename, lineno, function_name, source_line)
        Set by the proxy that runs the learner's code elsewhere (``error.learner_frames``),
        else read from ``error.__traceback__``, without the frames of checks.py and reference.py.
    """
    return getattr(error, "learner_frames", None) or [
        (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(error.__traceback__)
        if os.path.basename(f.filename) not in ("checks.py", "reference.py")]


class Cause(NamedTuple):
    """What an exception's message usually means: a diagnosis name and the explanation for the learner."""

    name: str
    pattern: str  # a regular expression searched in "ExceptionClass: message"
    hint: str     # formatted with the pattern's named groups


#: Exceptions a learner's code raises, in the order they are tried; the first whose pattern matches
#: names the diagnosis.  Each says what the operation was and what it usually means.
CAUSES = [
    Cause("shapes_not_aligned",
          r"shapes \((?P<a>[^)]*)\) and \((?P<b>[^)]*)\) not aligned|matmul: Input operand",
          "a matrix product (np.dot or @) of arrays whose inner dimensions differ{shapes}: in np.dot(a, b) "
          "the last dimension of a must equal the first of b. With w of shape (1, n_x) and X of shape "
          "(n_x, m), Z = np.dot(w, X); a transpose too many (w.T) or the operands in the wrong order "
          "break it."),
    Cause("shapes_not_broadcastable",
          r"operands could not be broadcast together with shapes (?P<a>\S+) (?P<b>\S+)",
          "an elementwise operation (+, -, *, /) between arrays of shapes {a} and {b}, which do not "
          "match: elementwise operands must have the same shape (or 1 where they differ). A transposed "
          "array, or * where a matrix product (np.dot) was meant, usually causes it."),
    Cause("slice_assignment_shape",
          r"could not broadcast input array from shape (?P<a>\S+) into shape (?P<b>\S+)",
          "an array of shape {a} was assigned to a slice of shape {b}: the slice on the left must have "
          "the shape of the value on the right (check the slice's start and end, and that the picture "
          "is big enough)."),
    Cause("math_module_on_array",
          r"TypeError: (only (length-1|size-1|0-dimensional|integer scalar) arrays|must be real number"
          r"|can only convert an array of size 1|bad operand type for abs)",
          "a function of the math module (math.exp, math.log, ...) was given an array: they work on one "
          "number only; np.exp, np.log work entry by entry on arrays."),
    Cause("b_became_array",
          r"b must be a scalar",
          "b became an array: b is one number, so its update b = b - learning_rate * db must use db, "
          "which is one number too (not dw)."),
    Cause("w_wrong_shape",
          r"w must be a row vector",
          "w does not have the shape (1, n_x) that X of shape (n_x, m) requires: it is made by "
          "initialize_with_zeros(n_x) with n_x = X.shape[0], and keeps its shape when it is updated with dw "
          "(w = w - learning_rate * dw; dw has w's shape)."),
    Cause("float_used_as_count",
          r"TypeError: '(numpy\.)?float(64)?' object cannot be interpreted as an integer"
          r"|num_iterations must be a positive integer, got -?\d*\.\d+",
          "a float was used where a whole number is needed (range(...), the shape of an array, an index): a "
          "count such as n = np.ceil(...) needs int(...), and positional arguments passed in the wrong order "
          "(learning_rate where num_iterations goes) give the same error."),
    Cause("boolean_mask_shape",
          r"IndexError: boolean index did not match",
          "a boolean mask (such as A > 0.5) was used on an array of another shape: the mask and the array it "
          "selects from must have the same shape, here (1, m)."),
    Cause("index_out_of_range",
          r"IndexError: .*out of bounds",
          "an index past the end of an array: check the range of the loop and which axis is indexed "
          "(X has shape (n_x, m): examples are columns)."),
    Cause("too_many_indices",
          r"IndexError: too many indices",
          "an array was indexed with more indices than it has axes (for example A[0, i] on a 1-D array, "
          "or a channel index on grey images)."),
    Cause("missing_dictionary_key",
          r"KeyError: (?P<key>.*)",
          "a dictionary has no key {key}: check the spelling of the keys (\"dw\", \"db\", \"w\", \"b\")."),
    Cause("undefined_name",
          r"NameError: .*'(?P<var>\w+)'",
          "the name {var} is used before it is given a value inside the function (a variable of "
          "another cell, or one set only inside an if or a loop that did not run)."),
    Cause("number_used_as_array",
          r"AttributeError: '(float|int|numpy\.float64)' object has no attribute '(?P<attr>\w+)'",
          "a number was used as an array (.{attr}): the argument, or a result such as the cost, can be "
          "a plain number here; np.shape(x), np.asarray(x) work for both."),
    Cause("own_assert_failed",
          r"^AssertionError",
          "an assert in your own code failed: check the condition it tests. The classic course's asserts "
          "expect a column w of shape (n_x, 1); here w and dw are rows of shape (1, n_x)."),
    Cause("division_by_zero",
          r"ZeroDivisionError",
          "a division by zero: check what the denominator is for the smallest inputs (m = 1, k = 1)."),
]


def _shape_text(match):
    groups = match.groupdict()
    if groups.get("a") is not None and groups.get("b") is not None:
        return f" (shapes ({groups['a']}) and ({groups['b']}))"
    return ""


def explain(error, name, seed, case, args=()):
    """Fail with what `error` (raised by the learner's `name`) means: the operation, the shapes, the line.

    Parameters
    ----------
    error : Exception
        What the learner's function raised (a builtin class with the original message).
    name : str
        The learner's function, as the message names it.
    seed : int or None
    case : str
        The inputs, in words (``"for X of shape (4, 3)"``).
    args : tuple
        The arguments it was called with, for their shapes.
    """
    kind = type(error).__name__
    text = f"{kind}: {error}" if str(error) else kind
    shapes = ", ".join(f"argument {i + 1} {describe(a)}" for i, a in enumerate(args) if isinstance(a, np.ndarray))
    problem = f"raised {text.strip()} {case}".rstrip() + (f" (called with {shapes})" if shapes and not case else "")
    every = learner_frames(error)
    frames = [f for f in every if not _NOT_LEARNER.search(str(f[0]))]
    if frames:
        _, lineno, function, line = frames[-1]
        where = f"line {lineno} of {function}"
        deepest = every[-1] if every else None
        if deepest is not None and re.search(r"(^|[\\/])given\.py$", str(deepest[0])):
            where = f"inside the course's {deepest[2]} (given.py), called from {where}"
        problem += f"; it failed {'at ' if where.startswith('line') else ''}{where}" + (f": `{line.strip()}`" if line and line.strip() else "")
    cause = None
    for candidate in CAUSES:
        match = re.search(candidate.pattern, text)
        if match:
            groups = {k: (v if v is not None else "") for k, v in match.groupdict().items()}
            cause = Mistake(candidate.name, candidate.hint.format(shapes=_shape_text(match), **groups), None)
            break
    message = f"{name}: {problem}" + (f" (case seed {seed})." if seed is not None else ".")
    if cause is not None:
        raise CheckFailure(message, cause.name, error=error, hint=cause.hint)
    raise CheckFailure(message + " Run the function on these shapes in your notebook to see which line fails.",
                       error=error)


def call(function, name, seed, *args, case=""):
    """``function(*args)`` with numpy's and Python's warnings silenced; an exception becomes an `explain`ed failure.

    A warning (overflow in np.exp, a deprecation) never costs a point: only the values count.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return function(*args)
        except Exception as error:  # the learner's code may raise anything: say what it means
            explain(error, name, seed, case, args)


def call_without_mutation(function, name, seed, *args, mistake=None, case=""):
    """Call ``function(*args)`` and fail (naming `mistake` if given) if it changed any of its array arguments."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    result = call(function, name, seed, *args, case=case)
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
    axis_mistake = Mistake("size_from_wrong_axis", "a size was read from the wrong entry of the shape: "
                           "images have shape (m, num_px, num_px, channels), so m is shape[0] and num_px "
                           "shape[1].", None)
    if m_train != train_x_orig.shape[0]:
        fail("m_train", "not the number of training images", seed,
             axis_mistake if m_train in train_x_orig.shape[1:] else None,
             advice="It is the first entry of train_x_orig.shape.")
    if m_test != test_x_orig.shape[0]:
        fail("m_test", "not the number of test images", seed, advice="It is the first entry of test_x_orig.shape.")
    if num_px != train_x_orig.shape[1]:
        fail("num_px", "not the height (= width) of an image in pixels", seed,
             axis_mistake if num_px in (train_x_orig.shape[0], train_x_orig.shape[3]) else None,
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
    Mistake("sigmoid_exp_of_minus_one",
            "e^(-1) z is not e^(-z): the exponent is -z, as in np.exp(-z).",
            lambda z: 1.0 / (1.0 + np.exp(-1.0) * z)),
    Mistake("sigmoid_is_exp_minus_z",
            "the result is e^(-z), the term in the denominator; the sigmoid is 1 / (1 + e^(-z)).",
            lambda z: np.exp(-z)),
    Mistake("sigmoid_derivative",
            "this is the derivative σ(z) (1 - σ(z)), not the sigmoid σ(z) itself.",
            lambda z: reference.sigmoid(z) * (1 - reference.sigmoid(z))),
    Mistake("sigmoid_base_10",
            "the power is 10^(-z); the sigmoid uses e^(-z): np.exp(-z).",
            lambda z: 1.0 / (1.0 + 10.0 ** (-z))),
]


def check_sigmoid(sigmoid, seed=None):
    """`sigmoid` computes 1 / (1 + e^(-z)) elementwise, for arrays of any shape and large |z|."""
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "sigmoid"
    check_origin(sigmoid, name)
    # A scalar.
    z = float(rng.normal(0, 3))
    s = call_without_mutation(sigmoid, name, seed, z, case="for a number z (a Python float)")
    if not (np.ndim(s) == 0 and np.issubdtype(np.asarray(s).dtype, np.floating)):
        fail(name, f"for a number z the result must be a float, found {describe(s)}", seed)
    if not close(s, reference.sigmoid(z)):
        fail(name, "wrong value for a number z", seed,
             diagnose(s, SIGMOID_MISTAKES, z),
             advice="Compare your formula with σ(z) = 1 / (1 + e^(-z)).")
    # Arrays whose shapes expose broadcasting and transposes.
    for shape in [(4, 3), (1, 1), (1, 6), (5,)]:
        z = rng.normal(0, 4, size=shape)
        s = call_without_mutation(sigmoid, name, seed, z, case=f"for z of shape {shape}")
        require(name, seed, assert_array, f"the result for z of shape {shape}", s, shape=shape, dtype_kind="f")
        if not close(s, reference.sigmoid(z)):
            fail(name, f"wrong values for z of shape {shape}", seed,
                 diagnose(s, SIGMOID_MISTAKES, z),
                 advice="Compare your formula with σ(z) = 1 / (1 + e^(-z)).")
    # Large |z|: e^(-z) overflows for z << 0; the result must still be a probability.
    z = np.array([[-800.0, -500.0, -40.0, 40.0, 500.0, 800.0]])
    s = call_without_mutation(sigmoid, name, seed, z, case="for large |z| (such as ±500)")
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
        result = call(initialize_with_zeros, name, seed, dim, case=f"for dim = {dim}")
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(name, f"expected a pair (w, b), found {describe(result)}", seed)
        w, b = result
        if isinstance(b, np.ndarray) and b.shape == (1, dim) and not isinstance(w, np.ndarray):
            fail(name, f"the pair for dim = {dim} is ({describe(w)}, {describe(b)})", seed, wrong_order("w, b"))
        require(name, seed, assert_array, f"w for dim = {dim}", w)
        if w.shape == (dim, 1) and dim > 1:
            fail(name, f"w for dim = {dim} has shape {w.shape}", seed,
                 Mistake("w_column_vector", "w must be a row vector of shape (1, dim), as in "
                         "Z = w X + b; np.zeros((dim, 1)) makes a column.", None))
        if w.shape == (dim,):
            fail(name, f"w for dim = {dim} has shape {w.shape}", seed,
                 Mistake("w_one_dimensional", "np.zeros(dim) makes a 1-D array; w is a row of shape (1, dim): "
                         "np.zeros((1, dim)).", None))
        if w.shape == (1, dim) and w.dtype.kind in "iub":
            fail(name, f"w for dim = {dim} has the integer dtype {w.dtype}", seed,
                 Mistake("w_integer_dtype", "w holds integers; the weights are floats: leave np.zeros's "
                         "default dtype (float).", None))
        require(name, seed, assert_array, f"w for dim = {dim}", w, shape=(1, dim), dtype_kind="f")
        if np.any(w != 0):
            fail(name, f"w for dim = {dim} is not all zeros", seed,
                 Mistake("w_not_zeros", "w must start at zero: np.zeros, not np.ones, np.empty or random "
                         "values.", None))
        if isinstance(b, np.ndarray) and b.ndim > 0:
            fail(name, f"b is {describe(b)}", seed,
                 Mistake("b_not_float", "b is one number, the bias: write b = 0.0, not an array.", None))
        require(name, seed, assert_float, "b", b)
        if b != 0:
            fail(name, "b is not 0", seed, Mistake("b_not_zero", "b must start at 0.0 like w.", None))


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
    Mistake("cost_terms_swapped", "the two terms are swapped: J = -(1/m) Σ [Y log A + (1 - Y) log(1 - A)], "
            "Y goes with log A (A = σ(-Z) instead of σ(Z) gives the same cost).",
            lambda w, b, X, Y: reference.propagate(w, b, X, 1 - Y)[1]),
    Mistake("cost_a_transposed", "A (or log A) was transposed before the elementwise product: Y * log(A.T) "
            "multiplies a (1, m) row by an (m, 1) column, which broadcasts to an (m, m) matrix; keep both "
            "(1, m) with *, or use np.dot(Y, np.log(A).T).",
            lambda w, b, X, Y: _cost_broadcast(_cost_parts(w, b, X, Y)[1], Y)),
    Mistake("cost_is_squared_error", "this is the squared error; the cost of logistic regression is the "
            "cross-entropy -(1/m) Σ [Y log A + (1 - Y) log(1 - A)].",
            lambda w, b, X, Y: _squared(_cost_parts(w, b, X, Y)[1], Y)),
    Mistake("cost_only_first_term", "only the term Y log A is there; add (1 - Y) log(1 - A), the term of the "
            "examples with label 0.",
            lambda w, b, X, Y: _first_term(_cost_parts(w, b, X, Y)[0], Y)),
    Mistake("m_is_number_of_features", "m is the number of examples, X.shape[1] (X has one column per "
            "example); X.shape[0] is n_x.",
            lambda w, b, X, Y: X.shape[1] / X.shape[0] * reference.propagate(w, b, X, Y)[1]),
    Mistake("integer_division_1_over_m", "`1 // m` is integer division, 0 when m > 1: write 1 / m.",
            lambda w, b, X, Y: reference.propagate(w, b, X, Y)[1] if X.shape[1] == 1 else 0.0),
    Mistake("cost_averaged_twice", "the cost is divided by m twice (np.mean already divides by m): use "
            "either -np.mean(...) or -(1/m) np.sum(...).",
            lambda w, b, X, Y: reference.propagate(w, b, X, Y)[1] / X.shape[1]),
]


def _cost_broadcast(A, Y):
    m = Y.shape[1]
    with np.errstate(all="ignore"):
        return float(-np.sum(Y * np.log(A.T) + (1 - Y) * np.log(1 - A.T)) / m)


def _squared(A, Y):
    return float(np.sum((A - Y) ** 2) / Y.shape[1])


def _first_term(Z, Y):
    return float(np.sum(Y * reference._softplus(-Z)) / Y.shape[1])


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
    Mistake("m_is_number_of_features", "m is the number of examples, X.shape[1] (X has one column per "
            "example); X.shape[0] is n_x.", _grads_pair(scale_dw=lambda X: X.shape[1] / X.shape[0],
                                                        scale_db=lambda X: X.shape[1] / X.shape[0])),
    Mistake("integer_division_1_over_m", "`1 // m` is integer division, 0 when m > 1: write 1 / m.",
            _grads_pair(scale_dw=lambda X: float(X.shape[1] == 1), scale_db=lambda X: float(X.shape[1] == 1))),
    Mistake("db_from_z_not_dz", "db is the mean of dZ = A - Y, not of Z or A.",
            lambda w, b, X, Y: np.append(reference.propagate(w, b, X, Y)[0]["dw"],
                                         np.mean(reference.sigmoid(np.dot(w, X) + b)))),
]


def _propagate_result(propagate, name, seed, w, b, X, Y):
    """Call the learner's propagate and check the form of what it returns: ((dict dw, db), cost)."""
    n_x, m = X.shape
    result = call_without_mutation(propagate, name, seed, w, b, X, Y,
                                   case=f"for w of shape (1, {n_x}), X of shape ({n_x}, {m}), Y of shape (1, {m})")
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict)):
        swapped = isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)
        fail(name, f"expected (grads, cost) with grads a dict, found {describe(result)}"
             + (" whose second part is the dict" if swapped else ""), seed, wrong_order("grads, cost") if swapped else None)
    grads, cost = result
    missing = [k for k in ("dw", "db") if k not in grads]
    if missing:
        fail(name, f"grads has no key {missing[0]!r}", seed)
    return grads, cost


def require_number(function, seed, what, value, n_x, m, one_entry, per_example):
    """`value` is one real number; an array of one entry, or of one entry per example, gets its diagnosis."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim > 0:
        fail(function, f"{what} is {describe(value)}", seed, one_entry)
    if isinstance(value, np.ndarray) and value.ndim > 0 and value.size == m and m > 1:
        fail(function, f"{what} is {describe(value)} for n_x = {n_x}, m = {m}", seed, per_example)
    require(function, seed, assert_float, what, value)


def _propagate_cases(propagate, seed):
    """(n_x, m, w, b, X, Y, what propagate returned) for each problem size, from the check's seed."""
    rng = np.random.default_rng(seed)
    check_origin(propagate, "propagate")
    for n_x, m in PROBLEM_SIZES:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        yield n_x, m, w, b, X, Y, _propagate_result(propagate, "propagate", seed, w, b, X, Y)


def check_propagate_cost(propagate, seed=None):
    """The cost propagate returns is the mean negative log-likelihood of the labels, as a float."""
    seed = new_seed(seed)
    name = "propagate"
    for n_x, m, w, b, X, Y, (_, cost) in _propagate_cases(propagate, seed):
        require_number(name, seed, "the cost", cost, n_x, m,
                       Mistake("cost_not_a_number", "the cost is an array with one entry (np.dot gives a (1, 1) "
                               "array); make it one number with float(...) or np.squeeze(...).", None),
                       Mistake("cost_not_summed", "the cost has one entry per example: sum the losses over the "
                               "examples (np.sum) and divide by m.", None))
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
    name = "propagate"
    for n_x, m, w, b, X, Y, (grads, _) in _propagate_cases(propagate, seed):
        dw, db = grads["dw"], grads["db"]
        require(name, seed, assert_array, "dw", dw)
        if dw.shape == (n_x, m) and m > 1:
            fail(name, f"dw has shape {dw.shape} for n_x = {n_x}, m = {m}", seed,
                 Mistake("dw_elementwise_product", "dw has one column per example: X * dZ is an elementwise "
                         "product; dw = (1/m) np.dot(dZ, X.T) multiplies and sums over the examples.", None))
        if dw.shape == (n_x,) and n_x > 1:
            fail(name, f"dw has shape {dw.shape} for n_x = {n_x}, m = {m}", seed,
                 Mistake("dw_one_dimensional", "dw is 1-D (a sum along an axis drops it); it is a row of "
                         "shape (1, n_x), like w: np.dot(dZ, X.T) keeps both axes.", None))
        if dw.shape == (n_x, 1) and n_x > 1:
            fail(name, f"dw has shape {dw.shape} for n_x = {n_x}, m = {m}", seed,
                 Mistake("dw_transposed", "dw is transposed: like w it is a row of shape (1, n_x); "
                         "dw = (1/m) dZ Xᵀ with dZ of shape (1, m).", None))
        require(name, seed, assert_array, f"dw for n_x = {n_x}, m = {m}", dw, shape=(1, n_x), dtype_kind="f")
        require_number(name, seed, "db", db, n_x, m,
                       Mistake("db_not_a_number", "db is an array with one entry; it is one number: np.sum(dZ) / m "
                               "without axis or keepdims, or float(...).", None),
                       Mistake("db_not_summed", "db has one entry per example: db = (1/m) Σ dZ, the sum over "
                               "the examples.", None))
        expected_dw, expected_db = _grads(w, b, X, Y)
        dw_ok, db_ok = close(dw, expected_dw), close(db, expected_db)
        if dw_ok and db_ok:
            continue

        def own_cost(w_, b_):
            return float(np.asarray(call(propagate, name, seed, w_, b_, X, Y)[1], dtype=float).sum())

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
                   grads_once=False, w_with_db=False, b_sign=-1.0, update_b=True, cost_after=False):
    """Gradient descent as the reference does it, with the knobs of known mistakes."""
    w = np.array(w, dtype=float, copy=True)
    costs = []
    grads, cost = reference.propagate(w, b, X, Y)
    for i in range(num_iterations):
        if not grads_once or i == 0:
            grads, cost = reference.propagate(w, b, X, Y)
        w = w + sign * learning_rate * (grads["db"] if w_with_db else grads["dw"])
        if update_b:
            b = b + (b_sign if sign < 0 else sign) * learning_rate * grads["db"]
        if i % every == offset:
            costs.append(reference.propagate(w, b, X, Y)[1] if cost_after else cost)
    return {"w": w, "b": b}, grads, costs


def _optimize_mistakes(num_iterations, learning_rate):
    n, lr = num_iterations, learning_rate
    return [
        Mistake("gradient_ascent", "w and b move up the gradient: the update is w := w - α dw (minus).",
                lambda *p: _optimize_like(*p, n, lr, sign=1.0)),
        Mistake("gradients_outside_loop", "the gradients are computed once, before the loop: call propagate "
                "in every iteration, with the current w and b.",
                lambda *p: _optimize_like(*p, n, lr, grads_once=True)),
        Mistake("costs_wrong_iterations", "the costs are recorded at the wrong iterations: at i = 0, 100, "
                "200, ... (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, offset=99)),
        Mistake("one_iteration_short", "the loop makes num_iterations - 1 steps: range(num_iterations) "
                "makes num_iterations.", lambda *p: _optimize_like(*p, max(n - 1, 0), lr)),
        Mistake("one_iteration_too_many", "the loop makes num_iterations + 1 steps: range(num_iterations) "
                "makes num_iterations.", lambda *p: _optimize_like(*p, n + 1, lr)),
        Mistake("w_updated_with_db", "w is updated with db: w := w - α dw, and b := b - α db.",
                lambda *p: _optimize_like(*p, n, lr, w_with_db=True)),
        Mistake("costs_every_iteration", "the cost is recorded in every iteration; record it every 100 "
                "iterations (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, every=1)),
        *[Mistake("costs_wrong_interval", f"the cost is recorded every {every} iterations; record it every 100 "
                  "iterations (i % 100 == 0).", lambda *p, every=every: _optimize_like(*p, n, lr, every=every))
          for every in (10, 50, 1000)],
        Mistake("b_moves_up_the_gradient", "b moves up its gradient: b := b - α db (minus), like w.",
                lambda *p: _optimize_like(*p, n, lr, b_sign=1.0)),
        Mistake("b_not_updated", "b is never updated: every iteration also does b = b - learning_rate * db.",
                lambda *p: _optimize_like(*p, n, lr, update_b=False)),
        Mistake("cost_recorded_after_update", "the recorded cost is that of the updated parameters: record "
                "the cost that propagate returned at the start of the iteration, before the step.",
                lambda *p: _optimize_like(*p, n, lr, cost_after=True)),
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


def _ignored_argument(run, changes, same):
    """The name of the one argument whose change leaves the result unchanged, or None.

    Parameters
    ----------
    run : callable
        ``run(**change)`` calls the learner's function with one argument changed and returns its result.
    changes : dict
        ``{argument name: the changed value}``; each is tried alone.
    same : callable
        ``same(result_a, result_b)``: whether two results are the same.
    """
    base = run()
    ignored = [arg for arg, value in changes.items() if same(base, run(**{arg: value}))]
    return ignored[0] if len(ignored) == 1 else None


IGNORED_HINT = {
    "learning_rate": "the learning_rate argument is not used: a number is written in instead (the results "
                     "do not change when the learning rate does). Use learning_rate in the update.",
    "num_iterations": "the num_iterations argument is not used: the number of steps is written in (the "
                      "results do not change when num_iterations does). Loop over range(num_iterations).",
}

PRINT_PATTERN = re.compile(r"Cost after iteration (\d+): (\S+)")


def _printed_costs(text):
    """The (iteration, printed number as text) of each line ``Cost after iteration i: number``, else None."""
    found = []
    for line in (line for line in text.splitlines() if line.strip()):
        match = PRINT_PATTERN.fullmatch(line.strip())
        if not match:
            return None
        try:
            float(match.group(2))
        except ValueError:
            return None
        found.append((int(match.group(1)), match.group(2)))
    return found


def _agrees_to_printed_digits(printed, value):
    """The number `printed` (text) is `value` to the digits printed: at least 2 decimals, or e-notation."""
    mantissa = printed.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "e" not in printed.lower() and decimals < 2:
        return False
    scale = 10.0 ** int(printed.lower().split("e")[1]) if "e" in printed.lower() else 1.0
    return abs(float(printed) - value) <= 0.5 * scale * 10.0 ** -min(decimals, 12) + 1e-9 * abs(value)


def check_optimize(optimize, seed=None):
    """optimize runs num_iterations steps of gradient descent, records costs every 100, leaves inputs alone.

    With print_cost=True it prints one line "Cost after iteration i: cost" per recorded cost; the
    number may have any float format with at least 2 decimals (``%f``, ``{cost}``, ``{cost:.4f}`` ...).
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "optimize"
    check_origin(optimize, name)
    in_place = Mistake("w_updated_in_place", "`w -= learning_rate * dw` changes the caller's array in "
                       "place; write w = w - learning_rate * dw, which makes a new array.", None)

    def run(w, b, X, Y, num_iterations, learning_rate, print_cost=False):
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}, X of shape {X.shape}"
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = call_without_mutation(optimize, name, seed, w, b, X, Y, num_iterations, learning_rate,
                                           print_cost, mistake=in_place, case=case)
        if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], dict)):
            kinds = [type(part).__name__ for part in result] if isinstance(result, tuple) else []
            swapped = len(kinds) == 3 and sorted(kinds) == ["dict", "dict", "list"]
            fail(name, f"expected (params, grads, costs) {case}, found {describe(result)}"
                 + (f" of ({', '.join(kinds)})" if swapped else ""), seed,
                 wrong_order("params, grads, costs") if swapped else None)
        return result, out.getvalue()

    for (n_x, m), num_iterations, learning_rate in [((3, 5), 250, 0.05), ((4, 1), 101, 0.02),
                                                    ((2, 6), 1, 0.1)]:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}"
        result, printed = run(w, b, X, Y, num_iterations, learning_rate)
        if printed.strip():
            fail(name, f"it prints with print_cost=False {case}", seed,
                 Mistake("prints_without_print_cost", "it prints even when print_cost is False: print only "
                         "inside `if print_cost:`.", None))
        params, grads, costs = result
        if isinstance(grads, list) and isinstance(costs, dict):
            fail(name, f"the second part of the result is a list and the third a dict {case}", seed,
                 wrong_order("params, grads, costs"))
        for key, where in (("w", params), ("b", params), ("dw", grads), ("db", grads)):
            if not isinstance(where, dict) or key not in where:
                fail(name, f"the result has no {key!r} {case}", seed)
        expected_params, expected_grads, expected_costs = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        try:
            costs = list(costs)
        except TypeError:
            fail(name, f"costs is {describe(costs)}, not a list {case}", seed)
        require(name, seed, assert_array, "params['w']", params["w"], shape=w.shape, dtype_kind="f")
        found = (params["w"], params["b"], grads["dw"], grads["db"], costs)
        expected = (expected_params["w"], expected_params["b"], expected_grads["dw"], expected_grads["db"],
                    expected_costs)
        if len(costs) == len(expected_costs) and all(close(f, e) for f, e in zip(found, expected)):
            continue
        # Wrong: first vary one argument at a time, then try the fingerprints of known mistakes.
        probe = num_iterations if num_iterations > 1 else 120
        ignored = _ignored_argument(
            lambda **change: run(w, b, X, Y, change.get("num_iterations", probe),
                                 change.get("learning_rate", learning_rate))[0][0],
            {"learning_rate": learning_rate * 3, "num_iterations": probe + 150},
            lambda p, q: close(p["w"], q["w"]) and close(p["b"], q["b"]))
        match = (Mistake(f"{ignored}_ignored", IGNORED_HINT[ignored], None) if ignored
                 else _match_optimize(_optimize_mistakes(num_iterations, learning_rate), params, costs, w, b, X, Y))
        if len(costs) != len(expected_costs):
            fail(name, f"{len(costs)} costs {case}: expected ceil(num_iterations / 100) of them", seed, match)
        wrong = [label for label, f, e in zip(("w", "b", "dw", "db", "costs"), found, expected) if not close(f, e)]
        fail(name, f"wrong {', '.join(wrong)} {case}", seed, match,
             advice="Each iteration: grads, cost = propagate(w, b, X, Y); w = w - learning_rate * dw; "
                    "b = b - learning_rate * db.")
    # Printing, and a cost that goes down at a small learning rate.
    w, b, X, Y = logistic_problem(rng, 3, 8)
    (_, _, costs), printed = run(w, b, X, Y, 300, 0.01, True)
    lines = _printed_costs(printed)
    expected_format = ("with print_cost=True and 300 iterations, expected the 3 lines 'Cost after iteration 0: "
                       "<cost>', 100 and 200, the cost with at least 2 decimals")
    if not printed.strip():
        fail(name, "it prints nothing with print_cost=True", seed,
             Mistake("print_cost_ignored", "the print_cost argument is not used: with print_cost=True, print "
                     "\"Cost after iteration %i: %f\" each time a cost is recorded.", None))
    if lines is None or [i for i, _ in lines] != [0, 100, 200]:
        fail(name, expected_format, seed)
    if not all(_agrees_to_printed_digits(value, cost) for (_, value), cost in zip(lines, costs)):
        fail(name, "with print_cost=True the printed numbers are not the recorded costs to the digits printed, "
             "with at least 2 decimals (\"%f\", {cost}, {cost:.4f} ... are fine)", seed)
    if not costs[-1] < costs[0]:
        fail(name, "the cost does not go down at a small learning rate (0.01)", seed)


# --- Stage 4: predict and model -------------------------------------------------------------

PREDICT_MISTAKES = [
    Mistake("predict_returns_probabilities", "the probabilities A are returned; predict turns them into "
            "classes: 1 where A > 0.5, else 0.",
            lambda w, b, X: reference.sigmoid(np.dot(w, X) + b)),
    Mistake("predict_threshold_inclusive", "a probability of exactly 0.5 is class 0: use A > 0.5, not A >= 0.5 "
            "(np.floor(A + 0.5) also makes 0.5 class 1).",
            lambda w, b, X: (reference.sigmoid(np.dot(w, X) + b) >= 0.5).astype(float)),
    Mistake("predict_forgot_b", "b is left out: A = σ(w X + b).",
            lambda w, b, X: reference.predict(w, 0.0, X)),
    Mistake("predict_threshold_on_z", "the threshold 0.5 is applied to Z = w X + b, not to the probability "
            "A = σ(Z): A > 0.5 is the same as Z > 0, not Z > 0.5.",
            lambda w, b, X: (np.dot(w, X) + b > 0.5).astype(float)),
    Mistake("predict_classes_inverted", "the classes are inverted: 1 where A > 0.5 (a face), 0 elsewhere.",
            lambda w, b, X: (reference.sigmoid(np.dot(w, X) + b) <= 0.5).astype(float)),
    Mistake("predict_only_ones_set", "only the entries above 0.5 were set (to 1); those at or below 0.5 "
            "keep their probability: start from np.zeros((1, m)), or set them to 0 too.",
            lambda w, b, X: _ones_set(reference.sigmoid(np.dot(w, X) + b))),
]


def _ones_set(A):
    A = A.copy()
    A[A > 0.5] = 1.0
    return A


def check_predict(predict, seed=None):
    """predict returns 0/1 of shape (1, m): 1 where σ(w X + b) > 0.5, and 0 at exactly 0.5.

    Any rounding that sends exactly 0.5 to 0 is right: ``A > 0.5``, and also ``np.round(A)`` (numpy
    rounds halves to even).  Decided on purpose: the lesson's rule is about the classes, not the code.
    """
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
    founds = [call_without_mutation(predict, name, seed, w, b, X,
                                    case=f"for w of shape {w.shape}, X of shape {X.shape} ({case})")
              for w, b, X, case in cases]
    for (w, b, X, case), found in zip(cases, founds):
        m = X.shape[1]
        require(name, seed, assert_array, f"the prediction for {case}", found)
        if found.shape == (m,) and m > 1 or found.shape == (m, 1) and m > 1:
            fail(name, f"the prediction for {case} has shape {found.shape}", seed,
                 Mistake("predict_wrong_shape", "the prediction is a row of shape (1, m), like Y.", None))
        require(name, seed, assert_array, f"the prediction for {case}", found, shape=(1, m), dtype_kind="fiub")
        if not close(found, reference.predict(w, b, X), rtol=0, atol=0):
            fail(name, f"wrong predictions for {case}", seed,
                 diagnose_all(founds, PREDICT_MISTAKES, [(w_, b_, X_) for w_, b_, X_, _ in cases]),
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
    runs, so a mistake in predict costs predict's points only.  When the
    result is wrong, each of num_iterations, learning_rate and print_cost is
    changed alone to see whether model passes it on.
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
    calls = {}  # (num_iterations, learning_rate, print_cost) -> (result, printed)

    def run(num_iterations=num_iterations, learning_rate=learning_rate, print_cost=False):
        key = (num_iterations, learning_rate, print_cost)
        if key not in calls:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                d = call_without_mutation(model, name, seed, X_train, Y_train, X_test, Y_test, num_iterations,
                                          learning_rate, print_cost,
                                          case=f"for X_train of shape {X_train.shape}, X_test of shape "
                                               f"{X_test.shape}")
            calls[key] = (d, out.getvalue())
        return calls[key]

    def probes():
        try:
            run()
            run(num_iterations=num_iterations + 250)
            run(learning_rate=learning_rate * 4)
            run(print_cost=True)
        except CheckFailure as failure:
            return failure
        return None

    with substituted(model, "predict", reference.predict):  # the learner's predict is not model's to lose
        raised = probes()

    if raised is not None:
        sets = {f"(1,{m_train}) (1,{m_test})", f"(1,{m_test}) (1,{m_train})"}
        found = re.search(r"broadcast together with shapes (\S+) (\S+)", str(raised.error))
        if found and f"{found.group(1)} {found.group(2)}" in sets:
            # The predictions of one set compared with the labels of the other: they were swapped.
            raise CheckFailure(raised.problem, "model_predictions_swapped", error=raised.error,
                               hint="Y_prediction_train and Y_prediction_test are swapped: predict X_train for "
                                    "Y_prediction_train and X_test for Y_prediction_test.")
        raise raised

    d, printed = run()
    if not isinstance(d, dict):
        fail(name, f"expected a dictionary, found {describe(d)}", seed)
    missing = [k for k in MODEL_KEYS if k not in d]
    if missing:
        fail(name, f"the dictionary has no key {missing[0]!r}", seed,
             Mistake("model_missing_key", f"return all of {', '.join(MODEL_KEYS)}.", None))
    if "train accuracy" not in printed or "test accuracy" not in printed:
        fail(name, "expected it to print the train accuracy and the test accuracy", seed)
    if "np.float64" in printed:
        fail(name, "the accuracy is printed as np.float64(...): print a plain float (float(...))", seed)
    for key, m in (("Y_prediction_train", m_train), ("Y_prediction_test", m_test)):
        other = "Y_prediction_test" if key == "Y_prediction_train" else "Y_prediction_train"
        shape = np.shape(d[key])
        if shape != (1, m) and shape == (1, m_train + m_test - m):
            fail(name, f"d[{key!r}] has shape {shape}: it holds the predictions of the other set", seed,
                 Mistake("model_predictions_swapped", f"{key} and {other} are swapped: predict X_train for "
                         "Y_prediction_train and X_test for Y_prediction_test.", None))
    expected = _quiet_model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate)
    wrong = [k for k in MODEL_KEYS if not close(d[k], expected[k])]
    problem = f"wrong {', '.join(wrong)} (trained with num_iterations={num_iterations}, learning_rate={learning_rate})"
    if wrong:
        mistakes = [
            Mistake("model_trains_on_test_set", "the model is trained on the test set: optimize with "
                    "X_train and Y_train.", lambda: _quiet_model(X_train, Y_train, X_test, Y_test,
                                                                  num_iterations, learning_rate, swap=True)),
            Mistake("model_returns_initial_params", "w and b are the initial zeros: return the trained "
                    "parameters from optimize.",
                    lambda: dict(expected, w=np.zeros((1, n_x)), b=0.0)),
        ]
        for mistake in mistakes:
            other = mistake.result()
            if all(close(d[k], other[k]) for k in ("w", "b")) and not (
                    mistake.name == "model_trains_on_test_set" and close(d["w"], expected["w"])):
                fail(name, problem, seed, mistake)
        same = [arg for arg, key in (("num_iterations", (num_iterations + 250, learning_rate, False)),
                                     ("learning_rate", (num_iterations, learning_rate * 4, False)))
                if isinstance(calls[key][0], dict) and all(close(calls[key][0].get(k), d[k]) for k in ("w", "b"))]
        if same:
            both = len(same) == 2
            fail(name, problem, seed, Mistake(
                "model_ignores_arguments" if both else f"model_ignores_{same[0]}",
                f"the {' and '.join(same)} argument{'s are' if both else ' is'} not passed on to optimize: the "
                f"learned w and b do not change when {'they change' if both else 'it changes'}. Call optimize("
                "w, b, X_train, Y_train, num_iterations, learning_rate, print_cost).", None))
        fail(name, problem, seed)
    _, printed_with_costs = run(print_cost=True)
    if "Cost after iteration 0" not in printed_with_costs:
        fail(name, "with print_cost=True it prints no cost ('Cost after iteration 0: ...')", seed,
             Mistake("model_ignores_print_cost", "print_cost is not passed on to optimize: call optimize(w, b, "
                     "X_train, Y_train, num_iterations, learning_rate, print_cost).", None))


# --- Stage 5: montage ------------------------------------------------------------------------

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
