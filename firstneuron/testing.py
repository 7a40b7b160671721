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
import numbers
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
