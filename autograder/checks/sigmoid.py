"""The check of stage 1's `sigmoid`, and its known mistakes."""
import numpy as np

import reference
from firstneuron.testing import assert_array, describe

from .core import Mistake, call_without_mutation, check_origin, close, diagnose, fail, new_seed, require

__all__ = ["check_sigmoid"]


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
