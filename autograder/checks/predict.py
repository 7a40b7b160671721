"""Checks of stage 4: `predict` and `model`."""
import contextlib
import io
import re

import numpy as np

import reference
from learner import as_learner_function
from firstneuron.testing import assert_array, describe

from .core import (
    CheckFailure, Mistake, PROBLEM_SIZES, call_without_mutation, check_origin, close, diagnose_all, fail,
    logistic_problem, new_seed, require, substituted,
)
from .optimize import ignored_arguments

__all__ = ["check_predict", "check_model"]


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
            fail(name, f"wrong predictions for {case}", seed, _predict_diagnosis(founds, cases),
                 advice="Y_prediction is 1 where σ(w X + b) > 0.5 and 0 elsewhere.")


def _predict_diagnosis(founds, cases):
    """The mistake that fits every case, else the one that fits the random cases (the last is the 0.5 tie).

    A second mistake that shows only at exactly 0.5 (``>=``, ``np.round``) must not hide the first:
    without ``+ b`` and with ``A >= 0.5`` the predictions fit no fingerprint on the tie case, but
    ``predict_forgot_b`` on every other one.  The random cases are evidence only when the
    predictions differ from the right ones there, so that the fingerprint explains a difference.
    """
    args = [(w, b, X) for w, b, X, _ in cases]
    mistake = diagnose_all(founds, PREDICT_MISTAKES, args)
    wrong_off_tie = any(not close(found, reference.predict(*a), rtol=0, atol=0)
                        for found, a in zip(founds[:-1], args[:-1]))
    if mistake is None and wrong_off_tie:
        off_tie = [m for m in PREDICT_MISTAKES if m.name != "predict_threshold_inclusive"]
        mistake = diagnose_all(founds[:-1], off_tie, args[:-1])
    return mistake


MODEL_KEYS = ("costs", "Y_prediction_test", "Y_prediction_train", "w", "b", "learning_rate", "num_iterations")
MODEL_NAME = "model"
#: n_x, m_train and m_test of the problem model is checked on.
MODEL_SIZES = (4, 12, 6)
#: The num_iterations and learning_rate model is checked with.
NUM_ITERATIONS, LEARNING_RATE = 150, 0.05
#: Each argument changed alone, in this order: passed on to optimize, its change changes the learned w and b.
ARGUMENT_CHANGES = {"num_iterations": NUM_ITERATIONS + 250, "learning_rate": LEARNING_RATE * 4}
#: A line of optimize's cost log, as printed when print_cost is True.
COST_LINE = re.compile(r"^Cost after iteration \d+", re.M)


def _arguments(num_iterations=NUM_ITERATIONS, learning_rate=LEARNING_RATE, print_cost=False):
    """The arguments of one call of model after the data: the check's, with those given changed."""
    return num_iterations, learning_rate, print_cost


#: The calls of model the check makes, in order: as it trains, with each argument changed alone, printing the cost.
MODEL_CALLS = [_arguments(), *(_arguments(**{argument: value}) for argument, value in ARGUMENT_CHANGES.items()),
               _arguments(print_cost=True)]

#: Fingerprints of the learned w and b: ``result(problem, expected)`` is the dict such a model returns.
MODEL_MISTAKES = [
    Mistake("model_trains_on_test_set", "the model is trained on the test set: optimize with X_train and Y_train.",
            lambda problem, expected: _quiet_model(*problem, NUM_ITERATIONS, LEARNING_RATE, swap=True)),
    Mistake("model_returns_initial_params", "w and b are the initial zeros: return the trained parameters from "
            "optimize.", lambda problem, expected: dict(expected, w=np.zeros((1, problem[0].shape[0])), b=0.0)),
]
MODEL_MISSING_KEY = Mistake("model_missing_key", f"return all of {', '.join(MODEL_KEYS)}.", None)
MODEL_RETURNS_PROBABILITIES = Mistake(
    "model_returns_probabilities", "the predictions are the probabilities σ(w X + b), between 0 and 1; "
    "Y_prediction_train and Y_prediction_test hold the classes 0 or 1, which predict gives.", None)
MODEL_IGNORES_PRINT_COST = Mistake(
    "model_ignores_print_cost", "print_cost decides whether optimize prints the cost: model must hand its own "
    "print_cost on to optimize, not True or False written in the code (nor leave it out).", None)


def _predictions_swapped(key="Y_prediction_train"):
    """The diagnosis of the predictions of one set stored under the other's key, `key` named first."""
    other = "Y_prediction_test" if key == "Y_prediction_train" else "Y_prediction_train"
    return Mistake("model_predictions_swapped", f"{key} and {other} are swapped: predict X_train for "
                   "Y_prediction_train and X_test for Y_prediction_test.", None)


def _ignores(ignored):
    """The diagnosis of `ignored`, the arguments (num_iterations, learning_rate or both) model does not pass on."""
    both = len(ignored) == 2
    return Mistake("model_ignores_arguments" if both else f"model_ignores_{ignored[0]}",
                   f"the {' and '.join(ignored)} argument{'s are' if both else ' is'} not passed on to optimize: the "
                   f"learned w and b do not change when {'they change' if both else 'it changes'}. optimize "
                   f"must train with the {' and '.join(ignored)} that model was given, not with "
                   f"{'numbers' if both else 'a number'} written in the code.", None)


def _model_problem(rng, n_x, m_train, m_test):
    """X_train (n_x, m_train), Y_train (1, m_train), X_test (n_x, m_test), Y_test (1, m_test) a line separates."""
    w_true, b_true, X_train, _ = logistic_problem(rng, n_x, m_train)
    X_test = rng.normal(0, 1, size=(n_x, m_test))
    Y_train = (np.dot(w_true, X_train) + b_true > 0).astype(float)
    Y_test = (np.dot(w_true, X_test) + b_true > 0).astype(float)
    return X_train, Y_train, X_test, Y_test


def _quiet_model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5, swap=False):
    with contextlib.redirect_stdout(io.StringIO()):
        if swap:
            return reference.model(X_test, Y_test, X_train, Y_train, num_iterations, learning_rate)
        return reference.model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate)


def check_model(model, seed=None):
    """model trains with its arguments, predicts both sets, prints accuracies, returns the dict.

    The learner's `predict` is replaced by the reference's while the check
    runs, so a mistake in predict costs predict's points only.  When the
    result is wrong, each of num_iterations and learning_rate is changed alone
    to see whether model passes it on; print_cost is checked both ways (no cost
    printed with False, the cost printed with True).  A w whose size does not
    follow X_train is called again with other sizes to tell a size written in
    the code (the classic course's 12288) from one taken from the wrong axis.
    """
    seed = new_seed(seed)
    model = as_learner_function(model)  # the solution notebook's own kernel passes the plain function
    check_origin(model, MODEL_NAME)
    problem = _model_problem(np.random.default_rng(seed), *MODEL_SIZES)
    calls = _model_calls(model, seed, problem)
    d, printed = calls[_arguments()]
    _check_model_form(d, printed, seed)
    _check_model_values(d, calls, problem, seed)
    _check_model_print_cost(printed, calls[_arguments(print_cost=True)][1], seed)


def _model_calls(model, seed, problem):
    """``{arguments: (d, printed)}`` of model's calls `MODEL_CALLS`, each with the reference's predict.

    A call that raises fails the check, with model's own diagnosis when one fits.
    """
    X_train, _, X_test, _ = problem
    calls, raised = {}, None
    with substituted(model, "predict", reference.predict):  # the learner's predict is not model's to lose
        try:
            for arguments in MODEL_CALLS:
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    d = call_without_mutation(model, MODEL_NAME, seed, *problem, *arguments,
                                              case=f"for X_train of shape {X_train.shape}, X_test of shape "
                                                   f"{X_test.shape}")
                calls[arguments] = (d, out.getvalue())
        except CheckFailure as failure:
            raised = failure
    if raised is not None:
        raise _model_failure(model, seed, raised)
    return calls


def _model_failure(model, seed, raised):
    """The failure to report when a call of model raised `raised`: swapped predictions or a fixed n_x, else itself."""
    _, m_train, m_test = MODEL_SIZES
    sets = {f"(1,{m_train}) (1,{m_test})", f"(1,{m_test}) (1,{m_train})"}
    found = re.search(r"broadcast together with shapes (\S+) (\S+)", str(raised.error))
    if found and f"{found.group(1)} {found.group(2)}" in sets:
        # The predictions of one set compared with the labels of the other: they were swapped.
        swapped = _predictions_swapped()
        return CheckFailure(raised.problem, swapped.name, error=raised.error, hint=swapped.hint)
    fixed = _fixed_n_x(model, seed, raised)
    if fixed is not None:
        return CheckFailure(raised.problem, fixed.name, error=raised.error, hint=fixed.hint)
    return raised


def _check_model_form(d, printed, seed):
    """d is a dict with every key, both accuracies were printed as plain floats, neither set's predictions swapped."""
    if not isinstance(d, dict):
        fail(MODEL_NAME, f"expected a dictionary, found {describe(d)}", seed)
    missing = [k for k in MODEL_KEYS if k not in d]
    if missing:
        fail(MODEL_NAME, f"the dictionary has no key {missing[0]!r}", seed, MODEL_MISSING_KEY)
    if "train accuracy" not in printed or "test accuracy" not in printed:
        fail(MODEL_NAME, "expected it to print the train accuracy and the test accuracy", seed)
    if "np.float64" in printed:
        fail(MODEL_NAME, "the accuracy is printed as np.float64(...): print a plain float (float(...))", seed)
    _, m_train, m_test = MODEL_SIZES
    for key, m in (("Y_prediction_train", m_train), ("Y_prediction_test", m_test)):
        shape = np.shape(d[key])
        if shape != (1, m) and shape == (1, m_train + m_test - m):
            fail(MODEL_NAME, f"d[{key!r}] has shape {shape}: it holds the predictions of the other set", seed,
                 _predictions_swapped(key))


def _check_model_values(d, calls, problem, seed):
    """d holds what the reference's model returns when trained with the check's arguments."""
    expected = _quiet_model(*problem, NUM_ITERATIONS, LEARNING_RATE)
    wrong = [k for k in MODEL_KEYS if not close(d[k], expected[k])]
    if wrong:
        fail(MODEL_NAME, f"wrong {', '.join(wrong)} (trained with num_iterations={NUM_ITERATIONS}, "
             f"learning_rate={LEARNING_RATE})", seed, _model_diagnosis(d, calls, problem, expected))


def _model_diagnosis(d, calls, problem, expected):
    """The mistake that explains wrong values of `d`, or None.

    In turn: a fingerprint of w and b (when w is wrong), an argument that changed alone leaves w and b
    unchanged (`ignored_arguments`, the search optimize's check makes too), predictions that are probabilities.
    """
    for mistake in MODEL_MISTAKES:
        other = mistake.result(problem, expected)
        if all(close(d[k], other[k]) for k in ("w", "b")) and not close(d["w"], expected["w"]):
            return mistake
    ignored = ignored_arguments(lambda **change: calls[_arguments(**change)][0], ARGUMENT_CHANGES, _same_w_b)
    if ignored:
        return _ignores(ignored)
    if _holds_probabilities(d, expected, problem[0], problem[2]):
        return MODEL_RETURNS_PROBABILITIES
    return None


def _same_w_b(d, other):
    """True when `other`, what a call of model with another argument returned, learned `d`'s w and b."""
    return isinstance(other, dict) and all(close(other.get(k), d[k]) for k in ("w", "b"))


def _check_model_print_cost(printed, printed_with_costs, seed):
    """model hands its print_cost on to optimize: the cost is printed with print_cost=True, and only then."""
    if "Cost after iteration 0" not in printed_with_costs:
        fail(MODEL_NAME, "with print_cost=True it prints no cost ('Cost after iteration 0: ...')", seed,
             MODEL_IGNORES_PRINT_COST)
    if COST_LINE.search(printed):
        fail(MODEL_NAME, "with print_cost=False it prints the cost ('Cost after iteration ...') all the same", seed,
             MODEL_IGNORES_PRINT_COST)


def _holds_probabilities(d, expected, X_train, X_test):
    """True when a wrong prediction of `d` is σ(w X + b) of the learned w, b (probabilities, not classes)."""
    found = False
    for key, X in (("Y_prediction_train", X_train), ("Y_prediction_test", X_test)):
        if close(d[key], expected[key]):
            continue
        if not close(d[key], reference.sigmoid(np.dot(expected["w"], X) + expected["b"])):
            return False
        found = True
    return found


def _fixed_n_x(model, seed, raised):
    """The diagnosis of a w whose size is written in the code (12288, the classic course's n_x), or None.

    `raised` said that w has shape (1, K) where X needs another n_x. The model is
    called once more with another n_x and other numbers of examples: the same K
    again means that K does not come from the data.
    """
    wrong = re.search(r"got shape \(1, (\d+)\)", str(raised.error))
    if not wrong:
        return None
    size = int(wrong.group(1))
    n_x, m_train, m_test = 7, 17, 5
    X_train, Y_train, X_test, Y_test = _model_problem(np.random.default_rng(seed + 1), n_x, m_train, m_test)
    if size in (n_x, m_train, m_test):
        return None
    try:
        with substituted(model, "predict", reference.predict), contextlib.redirect_stdout(io.StringIO()):
            call_without_mutation(model, MODEL_NAME, seed, X_train, Y_train, X_test, Y_test, NUM_ITERATIONS,
                                  LEARNING_RATE, False)
    except CheckFailure as again:
        same = re.search(r"got shape \(1, (\d+)\)", str(again.error))
        if same and int(same.group(1)) == size:
            classic = (" 12288 = 64 × 64 × 3 is the n_x of the classic course's cat pictures;"
                       if size == 12288 else "")
            return Mistake("model_n_x_hard_coded", f"w has {size} weights whatever the data:{classic} this "
                           "course's pictures, and the hidden tests' data, have another n_x. n_x is the number "
                           "of rows of X_train: make w with initialize_with_zeros(X_train.shape[0]).", None)
    return None
