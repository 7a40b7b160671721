"""Assertions for the visible tests in the notebooks.

Each one raises ``AssertionError`` with a message that says what was expected
and what was found, checking the type first, then the shape, then the values,
so that the first message a learner sees is the most basic thing to fix.
The autograder's hidden checks use the same assertions.
"""
import numbers

import numpy as np


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
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise AssertionError(f"{name}: expected an integer, found {describe(value)}")


def assert_float(name, value):
    """`value` is a real number (a Python float, a numpy float or a 0-d array)."""
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
    found = np.asarray(found, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if found.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, found {found.shape}")
    if not np.allclose(found, expected, rtol=rtol, atol=atol):
        with np.printoptions(precision=8, suppress=True):
            raise AssertionError(
                f"{name}: expected {expected} (within rtol={rtol}, atol={atol}), found {found}")
