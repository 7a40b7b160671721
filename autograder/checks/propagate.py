"""Checks of stage 2: `initialize_with_zeros`, and `propagate`'s cost and gradients."""
import functools

import numpy as np

import reference
from firstneuron.testing import assert_array, assert_float, describe

from .core import (
    Mistake, PROBLEM_SIZES, call, call_without_mutation, check_origin, close, diagnose, fail,
    logistic_problem, new_seed, require, wrong_order,
)

__all__ = [
    "check_initialize_with_zeros",
    "check_propagate_cost",
    "check_propagate_gradients",
    "finite_difference_gradients",
    "relative_error",
]


def relative_error(a, b):
    """|a - b| / max(1e-8, |a| + |b|), with norms for arrays (CS231n's measure of agreement)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b)))


#: Relative errors of a gradient against finite differences: below GRAD_OK it is right,
#: above GRAD_WRONG it is wrong (in between: suspicious).
GRAD_OK = 1e-7
GRAD_WRONG = 1e-2


#: Shapes of w that known mistakes give for initialize_with_zeros(dim): ``result(dim)``, None where it is right.
W_SHAPE_MISTAKES = [
    Mistake("w_column_vector", "w must be a row vector of shape (1, dim), as in Z = w X + b; np.zeros((dim, 1)) "
            "makes a column.", lambda dim: (dim, 1) if dim > 1 else None),
    Mistake("w_one_dimensional", "np.zeros(dim) makes a 1-D array; w is a row of shape (1, dim): np.zeros((1, dim)).",
            lambda dim: (dim,)),
]
W_INTEGER_DTYPE = Mistake("w_integer_dtype", "w holds integers; the weights are floats: leave np.zeros's default "
                          "dtype (float).", None)
W_NOT_ZEROS = Mistake("w_not_zeros", "w must start at zero: np.zeros, not np.ones, np.empty or random values.", None)
B_NOT_FLOAT = Mistake("b_not_float", "b is one number, the bias: write b = 0.0, not an array.", None)
B_NOT_ZERO = Mistake("b_not_zero", "b must start at 0.0 like w.", None)


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
        _check_zeros_w(name, seed, w, dim)
        _check_zero_b(name, seed, b)


def _check_zeros_w(name, seed, w, dim):
    """w is a float array of zeros of shape (1, dim); a shape or dtype of a known mistake gets its diagnosis."""
    require(name, seed, assert_array, f"w for dim = {dim}", w)
    for mistake in W_SHAPE_MISTAKES:
        if w.shape == mistake.result(dim):
            fail(name, f"w for dim = {dim} has shape {w.shape}", seed, mistake)
    if w.shape == (1, dim) and w.dtype.kind in "iub":
        fail(name, f"w for dim = {dim} has the integer dtype {w.dtype}", seed, W_INTEGER_DTYPE)
    require(name, seed, assert_array, f"w for dim = {dim}", w, shape=(1, dim), dtype_kind="f")
    if np.any(w != 0):
        fail(name, f"w for dim = {dim} is not all zeros", seed, W_NOT_ZEROS)


def _check_zero_b(name, seed, b):
    """b is the float 0."""
    if isinstance(b, np.ndarray) and b.ndim > 0:
        fail(name, f"b is {describe(b)}", seed, B_NOT_FLOAT)
    require(name, seed, assert_float, "b", b)
    if b != 0:
        fail(name, "b is not 0", seed, B_NOT_ZERO)


def _cost_parts(w, b, X, Y, use_b=True):
    Z = np.dot(w, X) + (b if use_b else 0.0)
    A = reference.sigmoid(Z)
    return Z, A


def _cost_of(Z, Y, both_log_a=False):
    m = Z.shape[1]
    log_a = -reference.softplus(-Z)
    log_1ma = -reference.softplus(Z)
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
    return float(np.sum(Y * reference.softplus(-Z)) / Y.shape[1])


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
        pair = isinstance(result, tuple) and len(result) == 2
        fail(name, f"expected (grads, cost) with grads a dict, found {describe(result)}"
             + (" whose second part is the dict" if swapped else f" whose first part is {describe(result[0])}"
                if pair else ""), seed, wrong_order("grads, cost") if swapped else None)
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


COST_NOT_A_NUMBER = Mistake("cost_not_a_number", "the cost is an array with one entry (np.dot gives a (1, 1) array); "
                            "make it one number with float(...) or np.squeeze(...).", None)
COST_NOT_SUMMED = Mistake("cost_not_summed", "the cost has one entry per example: sum the losses over the examples "
                          "(np.sum) and divide by m.", None)


def check_propagate_cost(propagate, seed=None):
    """The cost propagate returns is the mean negative log-likelihood of the labels, as a float."""
    seed = new_seed(seed)
    name = "propagate"
    for n_x, m, w, b, X, Y, (_, cost) in _propagate_cases(propagate, seed):
        require_number(name, seed, "the cost", cost, n_x, m, COST_NOT_A_NUMBER, COST_NOT_SUMMED)
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


def gradient_verdict(err):
    """In plain words, whether gradients agree with the slopes of the learner's own cost (relative error `err`)."""
    measured = (f"Measured against the slopes of your own cost (finite differences), your gradients are off by "
                f"a relative error of {err:.1g}")
    if err < GRAD_OK:
        return f"{measured}, below {GRAD_OK:g}"
    if err > GRAD_WRONG:
        return f"{measured}, above {GRAD_WRONG:g}: they do not match your cost (a match is below {GRAD_OK:g})"
    return f"{measured}: they nearly match your cost, but not as closely as right gradients do (below {GRAD_OK:g})"


#: Shapes of dw that known mistakes give for n_x features and m examples: ``result(n_x, m)``, None where it is right.
DW_SHAPE_MISTAKES = [
    Mistake("dw_elementwise_product", "dw has one column per example: X * dZ is an elementwise product; "
            "dw = (1/m) np.dot(dZ, X.T) multiplies and sums over the examples.",
            lambda n_x, m: (n_x, m) if m > 1 else None),
    Mistake("dw_one_dimensional", "dw is 1-D (a sum along an axis drops it); it is a row of shape (1, n_x), like w: "
            "np.dot(dZ, X.T) keeps both axes.", lambda n_x, m: (n_x,) if n_x > 1 else None),
    Mistake("dw_transposed", "dw is transposed: like w it is a row of shape (1, n_x); dw = (1/m) dZ Xᵀ with dZ of "
            "shape (1, m).", lambda n_x, m: (n_x, 1) if n_x > 1 else None),
]
DB_NOT_A_NUMBER = Mistake("db_not_a_number", "db is an array with one entry; it is one number: np.sum(dZ) / m without "
                          "axis or keepdims, or float(...).", None)
DB_NOT_SUMMED = Mistake("db_not_summed", "db has one entry per example: db = (1/m) Σ dZ, the sum over the examples.",
                        None)


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
        _check_gradient_forms(name, seed, dw, db, n_x, m)
        expected_dw, expected_db = _grads(w, b, X, Y)
        dw_ok, db_ok = close(dw, expected_dw), close(db, expected_db)
        if not (dw_ok and db_ok):
            _fail_gradients(propagate, name, seed, w, b, X, Y, dw, db, "dw" if not dw_ok else "db")


def _check_gradient_forms(name, seed, dw, db, n_x, m):
    """dw is a float array of shape (1, n_x) and db one number; the form of a known mistake gets its diagnosis."""
    require(name, seed, assert_array, "dw", dw)
    for mistake in DW_SHAPE_MISTAKES:
        if dw.shape == mistake.result(n_x, m):
            fail(name, f"dw has shape {dw.shape} for n_x = {n_x}, m = {m}", seed, mistake)
    require(name, seed, assert_array, f"dw for n_x = {n_x}, m = {m}", dw, shape=(1, n_x), dtype_kind="f")
    require_number(name, seed, "db", db, n_x, m, DB_NOT_A_NUMBER, DB_NOT_SUMMED)


def _own_cost(propagate, name, seed, X, Y, w, b):
    """The cost the learner's propagate returns for w and b (its entries summed, should it return an array)."""
    return float(np.asarray(call(propagate, name, seed, w, b, X, Y)[1], dtype=float).sum())


def _fail_gradients(propagate, name, seed, w, b, X, Y, dw, db, which):
    """Fail for wrong gradients, saying whether they match the slopes of the learner's own cost."""
    n_x, m = X.shape
    with np.errstate(all="ignore"):
        fd_dw, fd_db = finite_difference_gradients(functools.partial(_own_cost, propagate, name, seed, X, Y), w, b)
    err = relative_error(np.append(dw, db), np.append(fd_dw, fd_db))
    mistake = diagnose(np.append(dw, db), GRADIENT_MISTAKES, w, b, X, Y)
    problem = f"wrong {which} for n_x = {n_x}, m = {m}. " + gradient_verdict(err)
    advice = ("Your gradients match your cost, so the cost formula itself is wrong: fix the cost first."
              if err < GRAD_OK else "Check dZ = A - Y, dw = (1/m) dZ Xᵀ, db = (1/m) Σ dZ.")
    fail(name, problem, seed, mistake, advice)
