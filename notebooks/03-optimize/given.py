# This file is generated from autograder/reference.py by `make release`. Do not edit it.
"""Functions from the earlier stages, for 03-optimize: flatten_and_standardize, sigmoid, initialize_with_zeros, propagate.

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


def _softplus(z):
    """Return ``log(1 + exp(z))`` stably, as ``max(z, 0) + log1p(exp(-|z|))``.

    Note ``-softplus(-z) = log(sigmoid(z))`` and
    ``-softplus(z) = log(1 - sigmoid(z))``.

    Parameters
    ----------
    z : ndarray of float64, any shape

    Returns
    -------
    s : ndarray of float64, same shape as `z`, values ``>= 0``
    """
    return np.maximum(z, 0.0) + np.log1p(_exp_neg_abs(z))


def _as_float_array(x, name):
    """``np.asarray(x, dtype=float64)`` with a clear error message."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be numeric array-like, got {type(x).__name__}: {exc}"
        ) from exc


def _check_w_b_X(w, b, X):
    """Convert and check ``w`` (1, n_x), ``b`` scalar, ``X`` (n_x, m)."""
    w = _as_float_array(w, "w")
    X = _as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_x, m), got ndim={X.ndim}, shape {X.shape}")
    n_x = X.shape[0]
    if w.shape != (1, n_x):
        raise ValueError(
            f"w must be a row vector of shape (1, n_x) = (1, {n_x}) to match X of shape "
            f"{X.shape}, got shape {w.shape}"
        )
    if np.ndim(b) != 0:
        raise ValueError(f"b must be a scalar, got shape {np.shape(b)}")
    return w, float(b), X


def _check_Y(Y, m):
    """Convert and check labels ``Y`` of shape (1, m)."""
    Y = _as_float_array(Y, "Y")
    if Y.shape != (1, m):
        raise ValueError(f"Y must have shape (1, m) = (1, {m}), got shape {Y.shape}")
    return Y


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


# Graded in stage 02-propagate.
def initialize_with_zeros(dim):
    """Create the zero-initialised parameters of one neuron.

    Parameters
    ----------
    dim : int
        Number of input features ``n_x`` (positive).

    Returns
    -------
    w : ndarray of float64 of shape (1, dim)
        All zeros.
    b : float
        ``0.0`` (a Python float).

    Raises
    ------
    ValueError
        If `dim` is not a positive integer.
    """
    if isinstance(dim, bool):
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    try:
        dim = operator.index(dim)
    except TypeError as exc:
        raise ValueError(f"dim must be a positive integer, got {dim!r}") from exc
    if dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim}")
    return np.zeros((1, dim), dtype=np.float64), 0.0


# Graded in stage 02-propagate.
def propagate(w, b, X, Y):
    """Forward and backward pass: the cross-entropy cost and its gradient.

    .. math::

        Z = w X + b, \\quad A = \\sigma(Z)

        J = -\\frac{1}{m} \\sum_{i=1}^{m}
            \\left[ Y_i \\log A_i + (1 - Y_i) \\log(1 - A_i) \\right]

        dZ = A - Y, \\quad dw = \\frac{1}{m}\\, dZ\\, X^T, \\quad
        db = \\frac{1}{m} \\sum_{i=1}^{m} dZ_i

    The cost is computed from ``Z`` with ``log(sigma(z)) = -softplus(-z)``
    and ``log(1 - sigma(z)) = -softplus(z)``, so it stays finite (no
    ``log(0)``) when ``A`` saturates to exactly 0 or 1.

    Parameters
    ----------
    w : ndarray of shape (1, n_x)
        Weights (row vector).
    b : float
        Bias.
    X : ndarray of shape (n_x, m)
        Inputs, one example per column.
    Y : ndarray of shape (1, m)
        Labels, 0 or 1.

    Returns
    -------
    grads : dict
        ``{"dw": ndarray of float64 of shape (1, n_x), "db": float}``.
    cost : float
        The cost ``J`` (a Python float, ``>= 0``).

    Raises
    ------
    ValueError
        If the shapes are inconsistent.
    """
    w, b, X = _check_w_b_X(w, b, X)
    m = X.shape[1]
    if m == 0:
        raise ValueError("X must hold at least one example (m >= 1), got m = 0")
    Y = _check_Y(Y, m)

    Z = w @ X + b  # (1, m)
    A = sigmoid(Z)  # (1, m)
    cost = float(np.sum(Y * _softplus(-Z) + (1.0 - Y) * _softplus(Z)) / m)

    dZ = A - Y  # (1, m)
    dw = (dZ @ X.T) / m  # (1, n_x)
    db = float(np.sum(dZ) / m)
    return {"dw": dw, "db": db}, cost
