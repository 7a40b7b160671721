"""The checks of stage 3's `optimize`, one per part of its grade.

`optimize` is graded in four parts, each its own test cell with its own points, so that one slip
costs its part only: the steps and the returned values (`check_optimize_steps`), the cost log
(`check_optimize_costs`), the printing (`check_optimize_printing`) and the caller's arrays left
unchanged (`check_optimize_inputs`). `check_optimize` runs the four in turn. When a part finds
wrong values, every part names the same mistake, from the same evidence.
"""
import contextlib
import io
import re

import numpy as np

import reference
from firstneuron.testing import agrees_to_printed_digits, assert_array, describe

from .core import (
    CheckFailure, Mistake, call, call_without_mutation, check_origin, close, fail, logistic_problem, new_seed,
    require, wrong_order,
)

__all__ = [
    "check_optimize",
    "check_optimize_steps",
    "check_optimize_costs",
    "check_optimize_printing",
    "check_optimize_inputs",
    "ignored_arguments",
]

NAME = "optimize"
#: The def line the notebook gives; the notebook's training cell calls optimize with these keywords.
SIGNATURE = "optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False)"
#: (n_x, m), num_iterations, learning_rate of the cases of the steps and the cost log.
#: The arguments the steps' part passes by name, as the notebook's training cell does.
KEYWORDS = ("num_iterations", "learning_rate")
CASES = [((3, 5), 250, 0.05), ((4, 1), 101, 0.02), ((2, 6), 1, 0.1)]
ADVICE = ("Each iteration: grads, cost = propagate(w, b, X, Y); dw = grads[\"dw\"]; db = grads[\"db\"]; "
          "w = w - learning_rate * dw; b = b - learning_rate * db.")


def _optimize_like(w, b, X, Y, num_iterations, learning_rate, sign=-1.0, every=100, offset=0,
                   grads_once=False, w_with_db=False, b_sign=-1.0, update_b=True, cost_after=False):
    """Gradient descent as the reference does it, with the knobs of known mistakes."""
    w = np.array(w, dtype=float, copy=True)
    costs = []
    grads, cost = reference.propagate(w, b, X, Y)
    for i in range(num_iterations):
        if not grads_once or i == 0:
            grads, cost = reference.propagate(w, b, X, Y)
        w = w + sign * learning_rate * (grads["db"] if w_with_db else grads["dw"])
        if update_b:
            b = b + (b_sign if sign < 0 else sign) * learning_rate * grads["db"]
        if i % every == offset:
            costs.append(reference.propagate(w, b, X, Y)[1] if cost_after else cost)
    return {"w": w, "b": b}, grads, costs


def _optimize_mistakes(num_iterations, learning_rate):
    n, lr = num_iterations, learning_rate
    return [
        Mistake("gradient_ascent", "w and b move up the gradient: the update is w := w - α dw (minus).",
                lambda *p: _optimize_like(*p, n, lr, sign=1.0)),
        Mistake("gradients_outside_loop", "the gradients are computed once, before the loop: call propagate "
                "in every iteration, with the current w and b.",
                lambda *p: _optimize_like(*p, n, lr, grads_once=True)),
        Mistake("costs_wrong_iterations", "the costs are recorded at the wrong iterations: at i = 0, 100, "
                "200, ... (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, offset=99)),
        Mistake("one_iteration_short", "the loop makes num_iterations - 1 steps: range(num_iterations) "
                "makes num_iterations.", lambda *p: _optimize_like(*p, max(n - 1, 0), lr)),
        Mistake("one_iteration_too_many", "the loop makes num_iterations + 1 steps: range(num_iterations) "
                "makes num_iterations.", lambda *p: _optimize_like(*p, n + 1, lr)),
        Mistake("w_updated_with_db", "w is updated with db: w := w - α dw, and b := b - α db.",
                lambda *p: _optimize_like(*p, n, lr, w_with_db=True)),
        Mistake("costs_every_iteration", "the cost is recorded in every iteration; record it every 100 "
                "iterations (i % 100 == 0).", lambda *p: _optimize_like(*p, n, lr, every=1)),
        *[Mistake("costs_wrong_interval", f"the cost is recorded every {every} iterations; record it every 100 "
                  "iterations (i % 100 == 0).", lambda *p, every=every: _optimize_like(*p, n, lr, every=every))
          for every in (10, 50, 1000)],
        Mistake("b_moves_up_the_gradient", "b moves up its gradient: b := b - α db (minus), like w.",
                lambda *p: _optimize_like(*p, n, lr, b_sign=1.0)),
        Mistake("b_not_updated", "b is never updated: every iteration also does b = b - learning_rate * db.",
                lambda *p: _optimize_like(*p, n, lr, update_b=False)),
        Mistake("cost_recorded_after_update", "the recorded cost is that of the updated parameters: record "
                "the cost that propagate returned at the start of the iteration, before the step.",
                lambda *p: _optimize_like(*p, n, lr, cost_after=True)),
    ]


def _match_optimize(mistakes, params, costs, w, b, X, Y):
    """The first mistake whose w, b and costs all match what the learner's optimize returned."""
    for mistake in mistakes:
        with np.errstate(all="ignore"):
            try:
                p, _, c = mistake.result(w, b, X, Y)
            except (ArithmeticError, ValueError, TypeError):
                continue
        if close(params["w"], p["w"]) and close(params["b"], p["b"]) and close(costs, c):
            return mistake
    return None


def ignored_arguments(run, changes, same):
    """The arguments whose change alone leaves the result of the learner's function the same.

    An argument the function does not use (a number written in the code instead) is found by
    changing it alone: the result does not change. optimize's check and model's use this search.

    Parameters
    ----------
    run : callable
        ``run(**change)`` returns the learner's result with the arguments in `change` changed
        (``run()``: as the check called it). It may call the function, or read a result made before.
    changes : dict
        ``{argument name: its changed value}``; each is tried alone, in this order, after ``run()``.
    same : callable
        ``same(result, changed_result)``: whether the result with one argument changed is the same.

    Returns
    -------
    ignored : list of str
        The names of `changes` whose change left the result the same, in the order of `changes`.
    """
    base = run()
    return [argument for argument, value in changes.items() if same(base, run(**{argument: value}))]


IGNORED_HINT = {
    "learning_rate": "the learning_rate argument is not used: a number is written in instead (the results "
                     "do not change when the learning rate does). Use learning_rate in the update.",
    "num_iterations": "the num_iterations argument is not used: the number of steps is written in (the "
                      "results do not change when num_iterations does). Loop over range(num_iterations).",
}

#: A renamed (or missing) parameter: Python refuses the keyword the notebook calls optimize with.
UNEXPECTED_KEYWORD = re.compile(r"[\w.<>]+\(\) got an unexpected keyword argument '(?P<arg>\w+)'")
#: The gradients used under other names than the dw and db that the lines after the learner's code return.
GRADIENT_NOT_NAMED = re.compile(r"NameError: .*'(?P<var>dw|db)'")


def _renamed(argument):
    return Mistake("optimize_parameter_renamed", f"optimize must accept {argument}=...: keep the parameter names of "
                   f"its def line, {SIGNATURE} (the notebook's training cell calls it with these names).", None)


def _gradients_not_named(var):
    return Mistake("gradients_not_named_dw_db", f"`{var}` is not defined when the lines after your code build "
                   f"grads = {{\"dw\": dw, \"db\": db}}: inside the loop, after grads, cost = propagate(w, b, X, Y), "
                   f"write dw = grads[\"dw\"] and db = grads[\"db\"] (the first step of the instructions), then use "
                   f"dw and db in the update.", None)


def _named_failure(failure):
    """`failure` (a learner's exception, explained) with optimize's own diagnosis when one fits, else itself."""
    error = failure.error
    if error is None:
        return failure
    text = f"{type(error).__name__}: {error}"
    keyword = UNEXPECTED_KEYWORD.search(text)
    if keyword and keyword.group("arg") in ("num_iterations", "learning_rate", "print_cost"):
        mistake = _renamed(keyword.group("arg"))
    else:
        name = GRADIENT_NOT_NAMED.search(text)
        if not name:
            return failure
        mistake = _gradients_not_named(name.group("var"))
    problem = failure.problem.split(" Run the function")[0]  # the generic advice gives way to the diagnosis
    return CheckFailure(problem, mistake.name, error=error, hint=mistake.hint)


def _run(optimize, seed, w, b, X, Y, num_iterations, learning_rate, print_cost=False, keywords=()):
    """The learner's optimize on a copy of w: ``((params, grads, costs), printed text)``; fails on a wrong structure.

    The arguments named in `keywords` are passed by name, as the notebook passes them; the others by position.
    """
    case = f"for {num_iterations} iteration(s), learning rate {learning_rate}, X of shape {X.shape}"
    values = {"num_iterations": num_iterations, "learning_rate": learning_rate, "print_cost": print_cost}
    positional = []
    for argument in values:
        if argument in keywords:
            break
        positional.append(values[argument])
    named = {argument: value for argument, value in values.items() if argument in keywords}
    if not named:
        function, args = optimize, (w.copy(), b, X, Y, *positional)
    else:
        function, args = (lambda *given: optimize(*given, **named)), (w.copy(), b, X, Y, *positional)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = call(function, NAME, seed, *args, case=case)
    except CheckFailure as failure:
        raise _named_failure(failure) from None
    if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], dict)):
        kinds = [type(part).__name__ for part in result] if isinstance(result, tuple) else []
        swapped = len(kinds) == 3 and sorted(kinds) == ["dict", "dict", "list"]
        fail(NAME, f"expected (params, grads, costs) {case}, found {describe(result)}"
             + (f" of ({', '.join(kinds)})" if swapped else ""), seed,
             wrong_order("params, grads, costs") if swapped else None)
    params, grads, costs = result
    if isinstance(grads, list) and isinstance(costs, dict):
        fail(NAME, f"the second part of the result is a list and the third a dict {case}", seed,
             wrong_order("params, grads, costs"))
    for key, where in (("w", params), ("b", params), ("dw", grads), ("db", grads)):
        if not isinstance(where, dict) or key not in where:
            fail(NAME, f"the result has no {key!r} {case}", seed)
    try:
        costs = list(costs)
    except TypeError:
        fail(NAME, f"costs is {describe(costs)}, not a list {case}", seed)
    return (params, grads, costs), out.getvalue()


def _diagnosis(optimize, seed, w, b, X, Y, num_iterations, learning_rate, params, costs, keywords):
    """The mistake that explains wrong values: an argument found ignored by changing it alone, else a fingerprint."""
    probe = num_iterations if num_iterations > 1 else 120
    ignored = ignored_arguments(
        lambda **change: _run(optimize, seed, w, b, X, Y, change.get("num_iterations", probe),
                              change.get("learning_rate", learning_rate), keywords=keywords)[0][0],
        {"learning_rate": learning_rate * 3, "num_iterations": probe + 150},
        lambda p, q: close(p["w"], q["w"]) and close(p["b"], q["b"]))
    if len(ignored) == 1:  # both: optimize may not train at all, which neither name explains
        return Mistake(f"{ignored[0]}_ignored", IGNORED_HINT[ignored[0]], None)
    return _match_optimize(_optimize_mistakes(num_iterations, learning_rate), params, costs, w, b, X, Y)


def _cases(seed):
    rng = np.random.default_rng(seed)
    for (n_x, m), num_iterations, learning_rate in CASES:
        yield (*logistic_problem(rng, n_x, m), num_iterations, learning_rate)


def check_optimize_steps(optimize, seed=None):
    """optimize, called as the notebook calls it, takes num_iterations steps and returns params and the last grads.

    Compares w, b, dw and db with the reference (the costs are `check_optimize_costs`'s part).
    """
    seed = new_seed(seed)
    check_origin(optimize, NAME)
    for w, b, X, Y, num_iterations, learning_rate in _cases(seed):
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}"
        (params, grads, costs), _ = _run(optimize, seed, w, b, X, Y, num_iterations, learning_rate,
                                         keywords=KEYWORDS)
        require(NAME, seed, assert_array, "params['w']", params["w"], shape=w.shape, dtype_kind="f")
        expected_params, expected_grads, _ = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        found = (params["w"], params["b"], grads["dw"], grads["db"])
        expected = (expected_params["w"], expected_params["b"], expected_grads["dw"], expected_grads["db"])
        wrong = [label for label, f, e in zip(("w", "b", "dw", "db"), found, expected) if not close(f, e)]
        if wrong:
            mistake = _diagnosis(optimize, seed, w, b, X, Y, num_iterations, learning_rate, params, costs, KEYWORDS)
            fail(NAME, f"wrong {', '.join(wrong)} {case}", seed, mistake, advice=ADVICE)


def check_optimize_costs(optimize, seed=None):
    """optimize records the cost of iterations 0, 100, 200, ... in the list costs (the cost before each step)."""
    seed = new_seed(seed)
    check_origin(optimize, NAME)
    for w, b, X, Y, num_iterations, learning_rate in _cases(seed):
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}"
        (params, _, costs), _ = _run(optimize, seed, w, b, X, Y, num_iterations, learning_rate)
        _, _, expected = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        if len(costs) == len(expected) and close(costs, expected):
            continue
        mistake = _diagnosis(optimize, seed, w, b, X, Y, num_iterations, learning_rate, params, costs, ())
        if len(costs) != len(expected):
            fail(NAME, f"{len(costs)} costs {case}: expected ceil(num_iterations / 100) of them, those of "
                 "iterations 0, 100, 200, ...", seed, mistake)
        fail(NAME, f"wrong costs {case}: expected the cost propagate returns at iterations 0, 100, 200, ...",
             seed, mistake, advice=ADVICE)


PRINT_PATTERN = re.compile(r"Cost after iteration (\d+): (\S+)")


def _printed_costs(text):
    """The (iteration, printed number as text) of each line ``Cost after iteration i: number``, else None."""
    found = []
    for line in (line for line in text.splitlines() if line.strip()):
        match = PRINT_PATTERN.fullmatch(line.strip())
        if not match:
            return None
        try:
            float(match.group(2))
        except ValueError:
            return None
        found.append((int(match.group(1)), match.group(2)))
    return found


def check_optimize_printing(optimize, seed=None):
    """optimize prints nothing with print_cost=False, and with print_cost=True one line per recorded cost.

    The line is "Cost after iteration i: cost"; the number may have any float format with at least 2
    decimals (``%f``, ``{cost}``, ``{cost:.4f}`` ...) and must be the cost optimize recorded (right or not:
    the cost log is `check_optimize_costs`'s part).
    """
    seed = new_seed(seed)
    check_origin(optimize, NAME)
    rng = np.random.default_rng(seed)
    w, b, X, Y = logistic_problem(rng, 3, 8)
    _, printed = _run(optimize, seed, w, b, X, Y, 250, 0.05)
    if printed.strip():
        fail(NAME, "it prints with print_cost=False (250 iterations)", seed,
             Mistake("prints_without_print_cost", "it prints even when print_cost is False: print only "
                     "inside `if print_cost:`.", None))
    (_, _, costs), printed = _run(optimize, seed, w, b, X, Y, 300, 0.01, print_cost=True,
                                  keywords=("print_cost",))
    lines = _printed_costs(printed)
    if not printed.strip():
        fail(NAME, "it prints nothing with print_cost=True", seed,
             Mistake("print_cost_ignored", "the print_cost argument is not used: with print_cost=True, print "
                     "\"Cost after iteration %i: %f\" each time a cost is recorded.", None))
    if lines is None or [i for i, _ in lines] != [0, 100, 200]:
        fail(NAME, "with print_cost=True and 300 iterations, expected the 3 lines 'Cost after iteration 0: "
             "<cost>', 100 and 200, the cost with at least 2 decimals", seed)
    # A printed number is a cost optimize recorded, or the right cost of that iteration when the record is
    # wrong: a slip in the cost log is check_optimize_costs's part.
    _, _, expected = reference.optimize(w, b, X, Y, 300, 0.01)
    if not all(any(agrees_to_printed_digits(value, cost) for cost in [*costs, expected[k]])
               for k, (_, value) in enumerate(lines)):
        fail(NAME, "with print_cost=True the printed numbers are not the recorded costs to the digits printed, "
             "with at least 2 decimals (\"%f\", {cost}, {cost:.4f} ... are fine)", seed)


def check_optimize_inputs(optimize, seed=None):
    """optimize leaves the caller's arrays w, X and Y unchanged (w = w - ..., never w -= ...)."""
    seed = new_seed(seed)
    check_origin(optimize, NAME)
    in_place = Mistake("w_updated_in_place", "`w -= learning_rate * dw` changes the caller's array in "
                       "place; write w = w - learning_rate * dw, which makes a new array.", None)
    # Not the 1-iteration case: a loop one step short would fail here as well as in the steps' part.
    for w, b, X, Y, num_iterations, learning_rate in list(_cases(seed))[:2]:
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}, X of shape {X.shape}"
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                call_without_mutation(optimize, NAME, seed, w, b, X, Y, num_iterations, learning_rate, False,
                                      mistake=in_place, case=case)
        except CheckFailure as failure:
            raise _named_failure(failure) from None


def check_optimize(optimize, seed=None):
    """All four parts of optimize's grade in turn: steps, cost log, printing, the caller's arrays."""
    for part in (check_optimize_steps, check_optimize_costs, check_optimize_printing, check_optimize_inputs):
        part(optimize, seed)
