"""What every check is made of: comparing, diagnosing, failing, and calling the learner's function.

Tolerances, `Mistake` fingerprints and `diagnose`, `CheckFailure` and `fail`,
the translation of a learner's exception into its likely cause (`CAUSES`,
`explain`), `call` / `call_without_mutation`, and the helpers several stages
share (`check_origin`, `substituted`, `logistic_problem`).
"""
import contextlib
import os
import re
import secrets
import warnings
from typing import Callable, NamedTuple

import numpy as np

from firstneuron.testing import describe

#: What the package re-exports, for hidden tests and the grader.
__all__ = ["ATOL", "RTOL", "CAUSES", "CheckFailure", "Mistake", "call", "call_without_mutation", "check_origin",
           "close", "diagnose", "diagnose_all", "explain", "fail", "learner_frames", "logistic_problem",
           "new_seed", "require", "substituted"]


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


#: Files of the grader's own code: reference.py and the modules of this package (checks/*.py).
_GRADER = re.compile(r"(^|[\\/])(reference|checks([\\/]\w+)?)\.py$")
#: Files whose frames are not the learner's own lines: the grader, numpy, the course's given code.
_NOT_LEARNER = re.compile(_GRADER.pattern + r"|(^|[\\/])given\.py$|[\\/](site-packages|numpy|lib[\\/]python3[^\\/]*)[\\/]")


def learner_frames(error):
    """The frames of the learner's code in `error`'s traceback, outermost first.

    Parameters
    ----------
    error : BaseException
        An exception raised while a check called the learner's function.

    Returns
    -------
    frames : list of (filename, lineno, function_name, source_line)
        As the channel to the learner's code reported them (``error.learner_frames``, set
        by `learner.learner_exception`); none for an exception that did not come from there.
    """
    return list(getattr(error, "learner_frames", None) or [])


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
            # Name the course's function the learner's line called (optimize), not a helper inside it.
            called = next((f for f in every[every.index(frames[-1]) + 1:]
                           if re.search(r"(^|[\\/])given\.py$", str(f[0]))), deepest)
            where = f"inside the course's {called[2]} (given.py), called from {where}"
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



#: Modules a learner's function must not come from: the grader's own code.
INSTRUCTOR_MODULES = {"reference", "checks", "given"}


def check_origin(function, name):
    """Fail when `function` is not the learner's own (imported from the reference, or not a function)."""
    if not callable(function):
        raise AssertionError(f"{name}: expected a function, found {describe(function)}")
    module = getattr(function, "__module__", None) or ""
    if module.split(".")[0] in INSTRUCTOR_MODULES:  # checks.core, checks.propagate ... too
        raise AssertionError(f"{name}: this function comes from the course's own code ({module}); "
                             "write it yourself in the notebook.")


@contextlib.contextmanager
def substituted(function, name, replacement):
    """While the block runs, `function` finds `replacement` under the global `name`.

    `function` is a `learner.LearnerFunction`: the learner's side asks the
    grader for each call of `name`, so the replacement never enters the
    learner's kernel.
    """
    with function.substitute(name, replacement):
        yield


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
