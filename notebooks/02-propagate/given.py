# This file is generated from autograder/reference.py by `make release`. Do not edit it.
"""Functions from the earlier stages, for 02-propagate: flatten_and_standardize, sigmoid.

Import them with ``from given import ...``.
"""


import math
import operator
import numpy as np


_EXP_CUTOFF = 708.0


def _exp_neg_abs(z):
    """Return ``exp(-|z|)`` without overflow or underflow warnings.

    Parameters
    ----------
    z : ndarray of float64, any shape

    Returns
    -------
    e : ndarray of float64, same shape as `z`
        ``exp(-|z|)`` in ``[0, 1]``; exactly 0 where ``|z| > 708`` (where the
        true value is below the smallest normal float64).
    """
    a = np.abs(z)
    far = a > _EXP_CUTOFF
    e = np.exp(-np.where(far, _EXP_CUTOFF, a))
    return np.where(far, 0.0, e)


def _as_float_array(x, name):
    """``np.asarray(x, dtype=float64)`` with a clear error message."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be numeric array-like, got {type(x).__name__}: {exc}"
        ) from exc


# Graded in stage 01-sigmoid.
def sigmoid(z):
    """Compute the logistic sigmoid of `z`, element-wise.

    .. math:: \\sigma(z) = \\frac{1}{1 + e^{-z}}

    Numerically stable: with ``e = exp(-|z|)`` (never ``exp`` of a large
    positive number), ``sigma(z) = 1 / (1 + e)`` for ``z >= 0`` and
    ``e / (1 + e)`` for ``z < 0``. No overflow or underflow warning is raised,
    even under ``np.errstate(all="raise")``; for ``z < -708`` the result is
    exactly ``0.0`` (the true value is below the smallest normal float64).

    Parameters
    ----------
    z : float or array_like of any shape
        Pre-activation(s).

    Returns
    -------
    s : numpy.float64 or ndarray of float64, same shape as `z`
        Values in ``[0, 1]``. A Python scalar or 0-d input gives a
        ``numpy.float64`` (a subclass of ``float``).
    """
    z = _as_float_array(z, "z")
    e = _exp_neg_abs(z)
    s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s[()]


# Graded in stage 01-sigmoid.
def flatten_and_standardize(images):
    """Turn a stack of 8-bit images into the design matrix ``X``.

    Each image is flattened in C order (row by row, channels innermost) into a
    column of ``X``, and pixel values are divided by 255:

    .. math:: X_{:, j} = \\mathrm{vec}(\\mathrm{images}[j]) / 255

    i.e. ``X = images.reshape(m, -1).T / 255.``

    Parameters
    ----------
    images : ndarray of uint8 of shape (m, height, width, channels)
        ``m`` images with pixel values 0..255. Other integer dtypes (or
        array-likes) are accepted if every value lies in 0..255; any trailing
        shape is flattened the same way.

    Returns
    -------
    X : ndarray of float64 of shape (n_x, m)
        ``n_x = height * width * channels``; values in ``[0, 1]``.

    Raises
    ------
    ValueError
        If `images` has fewer than 2 dimensions or integer values outside
        0..255.
    TypeError
        If `images` is not of an integer dtype (e.g. already-scaled floats).
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(
            f"images must have shape (m, height, width, channels), got shape {images.shape}"
        )
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.integer):
            raise TypeError(
                f"images must hold 8-bit pixel values (uint8, 0..255), got dtype {images.dtype}"
            )
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(
                f"pixel values must lie in 0..255, found range "
                f"[{images.min()}, {images.max()}]"
            )
    m = images.shape[0]
    return images.reshape(m, -1).T / 255.0
