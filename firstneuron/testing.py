"""Assertions for the visible tests in the notebooks.

Each one raises ``AssertionError`` with a message that says what was expected
and what was found, checking the type first, then the shape, then the values,
so that the first message a learner sees is the most basic thing to fix.
The autograder's hidden checks use the same assertions.

A test cell wraps its visible tests in `visible_tests`, which prints one
"✓ ... passed" line when they pass, shows a failure as its message only (no
traceback through this module), and says "not attempted yet" when the
exercise's cell still raises ``NotImplementedError`` or was not run.
"""
import contextlib
import io
import numbers
import re
import sys

import numpy as np

PASSED = "✓ {name}: the visible tests passed."
NOT_ATTEMPTED = ("{name}: not attempted yet. Replace `raise NotImplementedError()` in the "
                 "exercise's cell with your code, run that cell, then run this one.")


class VisibleTestFailure(AssertionError):
    """A visible test failed. Jupyter shows only its message (`_render_traceback_`)."""

    def _render_traceback_(self):
        """The lines IPython shows instead of a traceback: the message, in red."""
        return [f"\x1b[0;31m✗ {line}\x1b[0m" if i == 0 else line
                for i, line in enumerate(str(self).splitlines() or [""])]


class NotAttempted(VisibleTestFailure):
    """The visible tests ran before the exercise was attempted."""

    def _render_traceback_(self):
        """The message alone, without the ✗ of a failure: nothing was tried yet."""
        return [f"\x1b[0;33m… {self}\x1b[0m"]


class visible_tests:
    """Context manager around the visible tests of one exercise.

    ::

        with visible_tests("sigmoid"):
            assert_close("sigmoid(0)", sigmoid(0.0), 0.5)

    On success it prints ``✓ sigmoid: the visible tests passed.``.  An
    ``AssertionError`` becomes a `VisibleTestFailure` that Jupyter shows as its
    message only.  A ``NotImplementedError`` (the exercise's stub), or a
    ``NameError`` raised by the test cell itself (the exercise's cell was not
    run), becomes `NotAttempted`.  Any other error, such as a ``TypeError``
    inside the learner's function, keeps its traceback: it points to the
    learner's own line.

    Parameters
    ----------
    name : str
        The exercise, as the learner knows it (a function's name).
    """

    def __init__(self, name):
        self.name = name
        self.cell_code = None

    def __enter__(self):
        self.cell_code = sys._getframe(1).f_code  # the test cell, to tell its NameErrors apart
        return self

    def __exit__(self, kind, error, traceback):
        __tracebackhide__ = True
        if kind is None:
            print(PASSED.format(name=self.name))
            return False
        if issubclass(kind, VisibleTestFailure):
            return False
        if issubclass(kind, NotImplementedError) or (
                issubclass(kind, NameError) and self._raised_in_cell(traceback)):
            raise NotAttempted(NOT_ATTEMPTED.format(name=self.name)) from None
        if issubclass(kind, AssertionError):
            raise VisibleTestFailure(str(error) or f"{self.name}: a visible test failed") from None
        return False

    def _raised_in_cell(self, traceback):
        """True when the innermost frame of `traceback` is the test cell's own code.

        That is the cell itself, or a comprehension or lambda written in it, but not
        a function the learner defined (whose NameError is a bug to show).
        """
        while traceback.tb_next is not None:
            traceback = traceback.tb_next
        code = traceback.tb_frame.f_code
        return code is self.cell_code or (
            code.co_filename == self.cell_code.co_filename and code.co_name.startswith("<"))


def describe(value):
    """Say in a few words what `value` is: ``"an array of shape (1, 3)"``, ``"a float"`` ...

    For assertion messages. To summarise a whole data set, see
    `firstneuron.data.summarize`.
    """
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"a 0-d array of dtype {value.dtype}"
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, numbers.Integral):
        return "an integer"
    if isinstance(value, numbers.Real):
        return "a float"
    if value is None:
        return "None (did the function forget to return?)"
    return f"a {type(value).__name__}"


def is_real_number(value):
    """True for a Python or numpy real number, or a 0-d numeric array (not a bool)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and np.issubdtype(value.dtype, np.number)
    return isinstance(value, numbers.Real)


def assert_integer(name, value):
    """`value` is a Python or numpy integer."""
    __tracebackhide__ = True
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise AssertionError(f"{name}: expected an integer, found {describe(value)}")


def assert_float(name, value):
    """`value` is a real number (a Python float, a numpy float or a 0-d array)."""
    __tracebackhide__ = True
    if not is_real_number(value):
        raise AssertionError(f"{name}: expected a float, found {describe(value)}")


def assert_array(name, value, shape=None, dtype_kind=None):
    """`value` is an ndarray, of `shape` if given, of a dtype kind in `dtype_kind` if given.

    Parameters
    ----------
    name : str
        What the learner calls the value, for the message.
    value : object
    shape : tuple of int, optional
    dtype_kind : str, optional
        numpy dtype kinds accepted, e.g. ``"f"`` for floats, ``"fiu"`` for numbers.
    """
    __tracebackhide__ = True
    if not isinstance(value, np.ndarray):
        raise AssertionError(f"{name}: expected a numpy array, found {describe(value)}")
    if shape is not None and value.shape != tuple(shape):
        raise AssertionError(f"{name}: expected shape {tuple(shape)}, found {value.shape}")
    if dtype_kind is not None and value.dtype.kind not in dtype_kind:
        kinds = {"f": "floats", "i": "integers", "u": "unsigned integers", "b": "booleans"}
        wanted = " or ".join(kinds.get(k, k) for k in dtype_kind)
        raise AssertionError(f"{name}: expected {wanted}, found dtype {value.dtype}")


def assert_close(name, found, expected, rtol=1e-7, atol=1e-12):
    """Values of `found` equal `expected` within ``|found - expected| <= atol + rtol * |expected|``.

    The message shows both, so use it only where the expected values are
    meant to be seen (visible tests).
    """
    __tracebackhide__ = True
    found = np.asarray(found, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if found.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, found {found.shape}")
    if not np.allclose(found, expected, rtol=rtol, atol=atol):
        with np.printoptions(precision=8, suppress=True):
            raise AssertionError(
                f"{name}: expected {expected} (within rtol={rtol}, atol={atol}), found {found}")


# --- optimize (stage 3): the visible tests of the four parts of its grade -------------------------

#: The classic course's example (its published values; w is a row here): w, b, X, Y.
OPTIMIZE_EXAMPLE = ([[1.0, 2.0]], 2.0, [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]], [[1, 0, 1]])
#: What the classic course published for 100 iterations at learning rate 0.009 on the example.
OPTIMIZE_EXPECTED = {"w": [[0.19033591, 0.12259159]], "b": 1.92535983008, "dw": [[0.67752042, 1.41625495]],
                     "db": 0.219194504541, "costs": [5.80154532]}
#: The parts of optimize's grade, as `optimize_visible_tests` takes them.
OPTIMIZE_PARTS = ("steps", "costs", "printing", "inputs")
#: The def line of optimize: the notebook calls it with these keywords.
OPTIMIZE_SIGNATURE = "optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False)"
_UNEXPECTED_KEYWORD = re.compile(r"^[\w.<>]+\(\) got an unexpected keyword argument '(\w+)'")
_PRINTED_COST = re.compile(r"Cost after iteration (\d+): (\S+)")


def agrees_to_printed_digits(printed, value):
    """True when the text `printed` is the number `value` to the digits printed, with at least 2 decimals.

    Parameters
    ----------
    printed : str
        A number as printed: ``"0.693147"``, ``"0.6931471805599453"``, ``"6.93e-01"`` ...
        (e-notation needs no decimals).
    value : float
        The number it should show.
    """
    text = printed.lower()
    try:
        number, value = float(text), float(value)
    except (TypeError, ValueError):
        return False
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    if not exponent and decimals < 2:
        return False
    scale = 10.0 ** int(exponent) if exponent else 1.0
    return abs(number - value) <= 0.5 * scale * 10.0 ** -min(decimals, 12) + 1e-9 * abs(value)


def _run_optimize(optimize, num_iterations, print_cost=False, keywords=(), result_checked=True):
    """Call `optimize` on the example: ``((params, grads, costs), printed lines, the w given)``.

    The arguments named in `keywords` are passed by name, as the notebook passes them, the
    others by position: a part of the grade depends only on the names it needs.
    """
    __tracebackhide__ = True
    w, b, X, Y = (np.array(part, dtype=float) if isinstance(part, list) else part for part in OPTIMIZE_EXAMPLE)
    values = {"num_iterations": num_iterations, "learning_rate": 0.009, "print_cost": print_cost}
    named = {argument: value for argument, value in values.items() if argument in keywords}
    positional = []  # the arguments before the first one passed by name
    for argument, value in values.items():
        if argument in keywords:
            break
        positional.append(value)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            result = optimize(w, b, X, Y, *positional, **named)
    except TypeError as error:
        keyword = _UNEXPECTED_KEYWORD.match(str(error))
        if not keyword:
            raise
        raise AssertionError(f"optimize must accept {keyword.group(1)}=..., as in its def line {OPTIMIZE_SIGNATURE} "
                             f"(the notebook calls it so); found: TypeError: {error}") from None
    if result_checked:
        if not (isinstance(result, tuple) and len(result) == 3):
            raise AssertionError(f"optimize: expected a tuple (params, grads, costs), found {describe(result)}")
        for name, value, keys in [("params", result[0], ["b", "w"]), ("grads", result[1], ["db", "dw"])]:
            if not isinstance(value, dict):
                raise AssertionError(f"{name}: expected a dict, found {describe(value)}")
            if sorted(map(str, value)) != keys:
                raise AssertionError(f"{name}: expected the keys {keys}, found {sorted(map(str, value))}")
    return result, output.getvalue().splitlines(), w


def optimize_visible_tests(optimize, part):
    """The visible tests of one part of `optimize`'s grade, on the classic course's example.

    Parameters
    ----------
    optimize : callable
        The learner's ``optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False)``.
    part : {"steps", "costs", "printing", "inputs"}
        ``"steps"``: params and grads after 100 iterations at learning rate 0.009 (w of shape (1, 2),
        b and db floats, dw of shape (1, 2), the published values); ``"costs"``: the list of costs, one
        per 100 iterations; ``"printing"``: nothing printed by default, and with ``print_cost=True`` one
        line ``Cost after iteration i: cost`` per recorded cost; ``"inputs"``: the caller's w unchanged.
    """
    __tracebackhide__ = True
    if part not in OPTIMIZE_PARTS:
        raise ValueError(f"part must be one of {OPTIMIZE_PARTS}, found {part!r}")
    if part == "inputs":
        _, _, w = _run_optimize(optimize, 100, result_checked=False)
        if not np.array_equal(w, np.array(OPTIMIZE_EXAMPLE[0])):
            raise AssertionError(f"the caller's w: expected it unchanged, [[1. 2.]], found {w}; "
                                 f"write w = w - learning_rate * dw, which makes a new array")
        return
    (params, grads, costs), lines, _ = _run_optimize(
        optimize, 100, keywords=("num_iterations", "learning_rate") if part == "steps" else ())
    if part == "steps":
        assert_array('params["w"]', params["w"], shape=(1, 2), dtype_kind="f")
        assert_float('params["b"]', params["b"])
        assert_array('grads["dw"]', grads["dw"], shape=(1, 2), dtype_kind="f")
        assert_float('grads["db"]', grads["db"])
        for name, found, key in [('params["w"]', params["w"], "w"), ('params["b"]', params["b"], "b"),
                                 ('grads["dw"]', grads["dw"], "dw"), ('grads["db"]', grads["db"], "db")]:
            assert_close(name, found, OPTIMIZE_EXPECTED[key], rtol=1e-6)
    elif part == "costs":
        if not isinstance(costs, list):
            raise AssertionError(f"costs: expected a list, found {describe(costs)}")
        if len(costs) != 1:
            raise AssertionError(f"costs: expected 1 cost for 100 iterations (iteration 0), found {len(costs)}")
        assert_close("costs", costs, OPTIMIZE_EXPECTED["costs"], rtol=1e-6)
        (_, _, costs), _, _ = _run_optimize(optimize, 250)
        if len(costs) != 3:
            raise AssertionError(f"costs: expected 3 costs for 250 iterations (iterations 0, 100, 200), "
                                 f"found {len(costs)}")
    elif part == "printing":
        if lines:
            raise AssertionError(f"print_cost=False: expected nothing printed, found {lines}")
        (_, _, costs), lines, _ = _run_optimize(optimize, 250, print_cost=True, keywords=("print_cost",))
        starts = [f"Cost after iteration {i}: " for i in (0, 100, 200)]
        if len(lines) != 3 or not all(line.startswith(start) for line, start in zip(lines, starts)):
            raise AssertionError(f"print_cost=True, 250 iterations: expected 3 lines starting {starts}, "
                                 f"found {lines}")
        for line in lines:
            number = line.split(": ", 1)[1].strip()
            if not (_PRINTED_COST.fullmatch(line.strip()) and any(agrees_to_printed_digits(number, cost)
                                                                  for cost in costs)):
                raise AssertionError(f"print_cost=True: expected {line!r} to show a recorded cost as a number "
                                     f"with at least 2 decimals (\"%f\", {{cost}}, {{cost:.4f}} ... are fine); "
                                     f"the recorded costs are {costs}")
