"""Checks of stage 4: `predict` and `model`."""
import contextlib
import io
import re

import numpy as np

import reference
from firstneuron.testing import assert_array, describe

from .core import (
    CheckFailure, Mistake, PROBLEM_SIZES, call_without_mutation, check_origin, close, diagnose_all, fail,
    logistic_problem, new_seed, require, substituted,
)

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
    name = "model"
    check_origin(model, name)
    n_x, m_train, m_test = 4, 12, 6
    X_train, Y_train, X_test, Y_test = _model_problem(np.random.default_rng(seed), n_x, m_train, m_test)
    num_iterations, learning_rate = 150, 0.05
    calls = {}  # (num_iterations, learning_rate, print_cost) -> (result, printed)

    def run(num_iterations=num_iterations, learning_rate=learning_rate, print_cost=False):
        key = (num_iterations, learning_rate, print_cost)
        if key not in calls:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                d = call_without_mutation(model, name, seed, X_train, Y_train, X_test, Y_test, num_iterations,
                                          learning_rate, print_cost,
                                          case=f"for X_train of shape {X_train.shape}, X_test of shape "
                                               f"{X_test.shape}")
            calls[key] = (d, out.getvalue())
        return calls[key]

    def probes():
        try:
            run()
            run(num_iterations=num_iterations + 250)
            run(learning_rate=learning_rate * 4)
            run(print_cost=True)
        except CheckFailure as failure:
            return failure
        return None

    with substituted(model, "predict", reference.predict):  # the learner's predict is not model's to lose
        raised = probes()

    if raised is not None:
        sets = {f"(1,{m_train}) (1,{m_test})", f"(1,{m_test}) (1,{m_train})"}
        found = re.search(r"broadcast together with shapes (\S+) (\S+)", str(raised.error))
        if found and f"{found.group(1)} {found.group(2)}" in sets:
            # The predictions of one set compared with the labels of the other: they were swapped.
            raise CheckFailure(raised.problem, "model_predictions_swapped", error=raised.error,
                               hint="Y_prediction_train and Y_prediction_test are swapped: predict X_train for "
                                    "Y_prediction_train and X_test for Y_prediction_test.")
        fixed = _fixed_n_x(model, seed, raised)
        if fixed is not None:
            raise CheckFailure(raised.problem, fixed.name, error=raised.error, hint=fixed.hint)
        raise raised

    d, printed = run()
    if not isinstance(d, dict):
        fail(name, f"expected a dictionary, found {describe(d)}", seed)
    missing = [k for k in MODEL_KEYS if k not in d]
    if missing:
        fail(name, f"the dictionary has no key {missing[0]!r}", seed,
             Mistake("model_missing_key", f"return all of {', '.join(MODEL_KEYS)}.", None))
    if "train accuracy" not in printed or "test accuracy" not in printed:
        fail(name, "expected it to print the train accuracy and the test accuracy", seed)
    if "np.float64" in printed:
        fail(name, "the accuracy is printed as np.float64(...): print a plain float (float(...))", seed)
    for key, m in (("Y_prediction_train", m_train), ("Y_prediction_test", m_test)):
        other = "Y_prediction_test" if key == "Y_prediction_train" else "Y_prediction_train"
        shape = np.shape(d[key])
        if shape != (1, m) and shape == (1, m_train + m_test - m):
            fail(name, f"d[{key!r}] has shape {shape}: it holds the predictions of the other set", seed,
                 Mistake("model_predictions_swapped", f"{key} and {other} are swapped: predict X_train for "
                         "Y_prediction_train and X_test for Y_prediction_test.", None))
    expected = _quiet_model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate)
    wrong = [k for k in MODEL_KEYS if not close(d[k], expected[k])]
    problem = f"wrong {', '.join(wrong)} (trained with num_iterations={num_iterations}, learning_rate={learning_rate})"
    if wrong:
        mistakes = [
            Mistake("model_trains_on_test_set", "the model is trained on the test set: optimize with "
                    "X_train and Y_train.", lambda: _quiet_model(X_train, Y_train, X_test, Y_test,
                                                                  num_iterations, learning_rate, swap=True)),
            Mistake("model_returns_initial_params", "w and b are the initial zeros: return the trained "
                    "parameters from optimize.",
                    lambda: dict(expected, w=np.zeros((1, n_x)), b=0.0)),
        ]
        for mistake in mistakes:
            other = mistake.result()
            if all(close(d[k], other[k]) for k in ("w", "b")) and not (
                    mistake.name == "model_trains_on_test_set" and close(d["w"], expected["w"])):
                fail(name, problem, seed, mistake)
        same = [arg for arg, key in (("num_iterations", (num_iterations + 250, learning_rate, False)),
                                     ("learning_rate", (num_iterations, learning_rate * 4, False)))
                if isinstance(calls[key][0], dict) and all(close(calls[key][0].get(k), d[k]) for k in ("w", "b"))]
        if same:
            both = len(same) == 2
            fail(name, problem, seed, Mistake(
                "model_ignores_arguments" if both else f"model_ignores_{same[0]}",
                f"the {' and '.join(same)} argument{'s are' if both else ' is'} not passed on to optimize: the "
                f"learned w and b do not change when {'they change' if both else 'it changes'}. optimize "
                f"must train with the {' and '.join(same)} that model was given, not with "
                f"{'numbers' if both else 'a number'} written in the code.", None))
        if _holds_probabilities(d, expected, X_train, X_test):
            fail(name, problem, seed, Mistake(
                "model_returns_probabilities", "the predictions are the probabilities σ(w X + b), between 0 "
                "and 1; Y_prediction_train and Y_prediction_test hold the classes 0 or 1, which predict "
                "gives.", None))
        fail(name, problem, seed)
    _, printed_with_costs = run(print_cost=True)
    ignored = Mistake("model_ignores_print_cost", "print_cost decides whether optimize prints the cost: "
                      "model must hand its own print_cost on to optimize, not True or False written in the "
                      "code (nor leave it out).", None)
    if "Cost after iteration 0" not in printed_with_costs:
        fail(name, "with print_cost=True it prints no cost ('Cost after iteration 0: ...')", seed, ignored)
    if COST_LINE.search(printed):
        fail(name, "with print_cost=False it prints the cost ('Cost after iteration ...') all the same", seed,
             ignored)


#: A line of optimize's cost log, as printed when print_cost is True.
COST_LINE = re.compile(r"^Cost after iteration \d+", re.M)


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
            call_without_mutation(model, "model", seed, X_train, Y_train, X_test, Y_test, 150, 0.05, False)
    except CheckFailure as again:
        same = re.search(r"got shape \(1, (\d+)\)", str(again.error))
        if same and int(same.group(1)) == size:
            classic = (" 12288 = 64 × 64 × 3 is the n_x of the classic course's cat pictures;"
                       if size == 12288 else "")
            return Mistake("model_n_x_hard_coded", f"w has {size} weights whatever the data:{classic} this "
                           "course's pictures, and the hidden tests' data, have another n_x. n_x is the number "
                           "of rows of X_train: make w with initialize_with_zeros(X_train.shape[0]).", None)
    return None
