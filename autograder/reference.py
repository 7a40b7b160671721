"""Reference implementation of every graded function of the First Neuron course.

Instructor-only. One sigmoid neuron is logistic regression: for a batch of
``m`` examples stored as the columns of ``X``,

.. math::

    Z = w X + b, \\qquad A = \\sigma(Z) = \\frac{1}{1 + e^{-Z}}.

Shapes follow the original blog's ROW-vector convention:

=========  ==============  =============================================
name       shape           meaning
=========  ==============  =============================================
``X``      ``(n_x, m)``    one example per column, ``n_x`` features
``Y``      ``(1, m)``      labels, 0 or 1
``w``      ``(1, n_x)``    weights (a row vector)
``b``      scalar          bias (a Python float)
``Z, A``   ``(1, m)``      pre-activation and activation
``dw``     ``(1, n_x)``    gradient of the cost with respect to ``w``
``db``     scalar          gradient of the cost with respect to ``b``
=========  ==============  =============================================

Everything is computed in float64, vectorized, and numerically stable:
``sigmoid`` and the cost never evaluate ``exp`` of a large positive number, so
they raise no floating-point warning even under ``np.errstate(all="raise")``.
No function mutates its inputs.

The module is flat on purpose (``autograder/`` is put on ``sys.path``); import
it as ``import reference``. It imports nothing from the other autograder
modules.
"""

import math
import operator

import numpy as np

__all__ = [
    "sigmoid",
    "softplus",
    "flatten_and_standardize",
    "initialize_with_zeros",
    "propagate",
    "optimize",
    "predict",
    "model",
    "montage",
]

# exp(-_EXP_CUTOFF) ~ 3.3e-308 is still a normal float64; exp of anything more
# negative would underflow (a FloatingPointError under errstate(all="raise")),
# so such exponents are clipped and the result is replaced by an exact 0.
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


#: ``softplus(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``, elementwise and stable:
#: the public name of `_softplus` (parameters and returns in its docstring), for the checks'
#: fingerprints of the cost. The reference's own functions call `_softplus`, so that a stage's
#: ``given.py`` copies it as a private helper and hands learners only the graded functions.
softplus = _softplus


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
    return s[()]  # 0-d array -> numpy.float64 scalar; n-d arrays unchanged


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


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
    """Fit ``w`` and ``b`` by batch gradient descent.

    For ``i = 0, ..., num_iterations - 1``::

        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * dw
        b = b - learning_rate * db

    The cost is recorded (and, with `print_cost`, printed as
    ``"Cost after iteration %i: %f" % (i, cost)``) when ``i % 100 == 0``, so
    ``len(costs) == ceil(num_iterations / 100)``. The caller's `w` is never
    modified.

    Parameters
    ----------
    w : ndarray of shape (1, n_x)
        Initial weights.
    b : float
        Initial bias.
    X : ndarray of shape (n_x, m)
        Inputs, one example per column.
    Y : ndarray of shape (1, m)
        Labels, 0 or 1.
    num_iterations : int, default 100
        Number of gradient steps (``>= 1``).
    learning_rate : float, default 0.009
        Step size.
    print_cost : bool, default False
        Print the cost every 100 iterations.

    Returns
    -------
    params : dict
        ``{"w": ndarray of float64 of shape (1, n_x), "b": float}`` after the
        last step.
    grads : dict
        ``{"dw": ndarray of shape (1, n_x), "db": float}``, the gradients
        computed at the last iteration (at the parameters *before* the last
        step).
    costs : list of float
        The costs at iterations 0, 100, 200, ...

    Raises
    ------
    ValueError
        If `num_iterations` is not a positive integer, or the shapes are
        inconsistent.
    """
    if isinstance(num_iterations, bool):
        raise ValueError(f"num_iterations must be a positive integer, got {num_iterations!r}")
    try:
        num_iterations = operator.index(num_iterations)
    except TypeError as exc:
        raise ValueError(
            f"num_iterations must be a positive integer, got {num_iterations!r}"
        ) from exc
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be a positive integer, got {num_iterations}")

    w, b, X = _check_w_b_X(w, b, X)
    w = w.copy()  # never mutate the caller's array (asarray may return it as is)
    Y = _check_Y(Y, X.shape[1])
    learning_rate = float(learning_rate)

    costs = []
    grads = None
    for i in range(num_iterations):
        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * grads["dw"]
        b = b - learning_rate * grads["db"]
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))

    return {"w": w, "b": float(b)}, grads, costs


def predict(w, b, X):
    """Predict labels 0 or 1 with the learned neuron.

    .. math:: \\hat{Y}_i = 1 \\text{ if } \\sigma(w X_{:, i} + b) > 0.5
              \\text{ else } 0

    A probability of exactly 0.5 (``z = 0``) is predicted as class 0.

    Parameters
    ----------
    w : ndarray of shape (1, n_x)
        Weights (row vector).
    b : float
        Bias.
    X : ndarray of shape (n_x, m)
        Inputs, one example per column.

    Returns
    -------
    Y_prediction : ndarray of float64 of shape (1, m)
        Entries ``0.0`` or ``1.0``.
    """
    w, b, X = _check_w_b_X(w, b, X)
    A = sigmoid(w @ X + b)
    return (A > 0.5).astype(np.float64)


def _accuracy(Y_prediction, Y):
    """Percentage of correct 0/1 predictions, as a plain Python float."""
    return float(100 - np.mean(np.abs(Y_prediction - Y)) * 100)


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.005,
          print_cost=False):
    """Build, train and evaluate one neuron (logistic regression).

    Initialises ``w, b`` with zeros, runs :func:`optimize`, predicts on both
    sets and prints::

        train accuracy: <100 - mean(|Y_prediction_train - Y_train|) * 100> %
        test accuracy: <the same for the test set> %

    Parameters
    ----------
    X_train : ndarray of shape (n_x, m_train)
    Y_train : ndarray of shape (1, m_train)
    X_test : ndarray of shape (n_x, m_test)
    Y_test : ndarray of shape (1, m_test)
    num_iterations : int, default 2000
    learning_rate : float, default 0.005
    print_cost : bool, default False
        Passed to :func:`optimize`.

    Returns
    -------
    d : dict
        ``"costs"`` (list of float), ``"Y_prediction_test"`` (ndarray (1,
        m_test)), ``"Y_prediction_train"`` (ndarray (1, m_train)), ``"w"``
        (ndarray (1, n_x)), ``"b"`` (float), ``"learning_rate"``,
        ``"num_iterations"``.
    """
    X_train = _as_float_array(X_train, "X_train")
    X_test = _as_float_array(X_test, "X_test")
    if X_train.ndim != 2 or X_test.ndim != 2:
        raise ValueError(
            f"X_train and X_test must have shape (n_x, m), got {X_train.shape} and {X_test.shape}"
        )
    if X_test.shape[0] != X_train.shape[0]:
        raise ValueError(
            f"X_train and X_test must have the same number of features n_x, got "
            f"{X_train.shape[0]} and {X_test.shape[0]}"
        )
    Y_train = _check_Y(Y_train, X_train.shape[1])
    Y_test = _check_Y(Y_test, X_test.shape[1])

    w, b = initialize_with_zeros(X_train.shape[0])
    params, grads, costs = optimize(w, b, X_train, Y_train, num_iterations, learning_rate,
                                    print_cost)
    w, b = params["w"], params["b"]

    Y_prediction_test = predict(w, b, X_test)
    Y_prediction_train = predict(w, b, X_train)

    print("train accuracy: {} %".format(_accuracy(Y_prediction_train, Y_train)))
    print("test accuracy: {} %".format(_accuracy(Y_prediction_test, Y_test)))

    return {
        "costs": costs,
        "Y_prediction_test": Y_prediction_test,
        "Y_prediction_train": Y_prediction_train,
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
    }


def montage(images):
    """Tile ``k`` images into one square grid image with 1-pixel borders.

    The grid has ``n = n_rows = n_cols = ceil(sqrt(k))`` rows and columns,
    filled row by row: image ``i`` goes to grid row ``r = i // n`` and column
    ``c = i % n``. Every image has a 1-pixel border on each side (borders
    between neighbours are shared, the outer edge is included), so

    .. math::

        H = n h + n + 1, \\qquad W = n w + n + 1

    and image ``i`` occupies rows ``1 + r (h + 1) : 1 + r (h + 1) + h`` and
    columns ``1 + c (w + 1) : 1 + c (w + 1) + w``. (For ``r = n - 1`` the
    rows end at ``n (h + 1)``, leaving exactly the last row ``H - 1 = n h +
    n`` as the bottom border.) Borders and empty slots (``k < n^2``) are 0.5.
    Pixel values are copied as they are (no rescaling).

    Parameters
    ----------
    images : array_like of shape (k, h, w) or (k, h, w, 3)
        ``k >= 1`` grey or colour images, any integer, boolean or float dtype.

    Returns
    -------
    m : ndarray of float64 of shape (H, W) or (H, W, 3)

    Raises
    ------
    ValueError
        If `images` does not have 3 dimensions or 4 with 3 channels last, or
        if ``k == 0``.
    TypeError
        If `images` is not real-valued numeric.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            "images must have shape (k, h, w) (grey) or (k, h, w, 3) (colour), "
            f"got ndim={images.ndim}, shape {images.shape}"
        )
    if images.ndim == 4 and images.shape[3] != 3:
        raise ValueError(
            f"colour images must have shape (k, h, w, 3), got {images.shape[3]} channels "
            f"(shape {images.shape})"
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
            or images.dtype == np.bool_):
        raise TypeError(f"images must be real-valued numeric, got dtype {images.dtype}")
    k, h, w = images.shape[:3]
    if k == 0:
        raise ValueError(f"images must hold at least one image (k >= 1), got shape {images.shape}")

    n = math.isqrt(k)
    if n * n < k:
        n += 1  # n = ceil(sqrt(k)), computed exactly
    H = n * h + n + 1
    W = n * w + n + 1
    out = np.full((H, W) + images.shape[3:], 0.5, dtype=np.float64)
    for i in range(k):
        r, c = divmod(i, n)
        top = 1 + r * (h + 1)
        left = 1 + c * (w + 1)
        out[top:top + h, left:left + w] = images[i]
    return out
