"""The check of stage 3's `optimize`: the loop, the recorded costs, the arguments it must use."""
import contextlib
import io
import re

import numpy as np

import reference
from firstneuron.testing import assert_array, describe

from .core import (
    Mistake, call_without_mutation, check_origin, close, fail, logistic_problem, new_seed, require,
    wrong_order,
)


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


def _ignored_argument(run, changes, same):
    """The name of the one argument whose change leaves the result unchanged, or None.

    Parameters
    ----------
    run : callable
        ``run(**change)`` calls the learner's function with one argument changed and returns its result.
    changes : dict
        ``{argument name: the changed value}``; each is tried alone.
    same : callable
        ``same(result_a, result_b)``: whether two results are the same.
    """
    base = run()
    ignored = [arg for arg, value in changes.items() if same(base, run(**{arg: value}))]
    return ignored[0] if len(ignored) == 1 else None


IGNORED_HINT = {
    "learning_rate": "the learning_rate argument is not used: a number is written in instead (the results "
                     "do not change when the learning rate does). Use learning_rate in the update.",
    "num_iterations": "the num_iterations argument is not used: the number of steps is written in (the "
                      "results do not change when num_iterations does). Loop over range(num_iterations).",
}

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


def _agrees_to_printed_digits(printed, value):
    """The number `printed` (text) is `value` to the digits printed: at least 2 decimals, or e-notation."""
    mantissa = printed.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "e" not in printed.lower() and decimals < 2:
        return False
    scale = 10.0 ** int(printed.lower().split("e")[1]) if "e" in printed.lower() else 1.0
    return abs(float(printed) - value) <= 0.5 * scale * 10.0 ** -min(decimals, 12) + 1e-9 * abs(value)


def check_optimize(optimize, seed=None):
    """optimize runs num_iterations steps of gradient descent, records costs every 100, leaves inputs alone.

    With print_cost=True it prints one line "Cost after iteration i: cost" per recorded cost; the
    number may have any float format with at least 2 decimals (``%f``, ``{cost}``, ``{cost:.4f}`` ...).
    """
    seed = new_seed(seed)
    rng = np.random.default_rng(seed)
    name = "optimize"
    check_origin(optimize, name)
    in_place = Mistake("w_updated_in_place", "`w -= learning_rate * dw` changes the caller's array in "
                       "place; write w = w - learning_rate * dw, which makes a new array.", None)

    def run(w, b, X, Y, num_iterations, learning_rate, print_cost=False):
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}, X of shape {X.shape}"
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = call_without_mutation(optimize, name, seed, w, b, X, Y, num_iterations, learning_rate,
                                           print_cost, mistake=in_place, case=case)
        if not (isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], dict)):
            kinds = [type(part).__name__ for part in result] if isinstance(result, tuple) else []
            swapped = len(kinds) == 3 and sorted(kinds) == ["dict", "dict", "list"]
            fail(name, f"expected (params, grads, costs) {case}, found {describe(result)}"
                 + (f" of ({', '.join(kinds)})" if swapped else ""), seed,
                 wrong_order("params, grads, costs") if swapped else None)
        return result, out.getvalue()

    for (n_x, m), num_iterations, learning_rate in [((3, 5), 250, 0.05), ((4, 1), 101, 0.02),
                                                    ((2, 6), 1, 0.1)]:
        w, b, X, Y = logistic_problem(rng, n_x, m)
        case = f"for {num_iterations} iteration(s), learning rate {learning_rate}"
        result, printed = run(w, b, X, Y, num_iterations, learning_rate)
        if printed.strip():
            fail(name, f"it prints with print_cost=False {case}", seed,
                 Mistake("prints_without_print_cost", "it prints even when print_cost is False: print only "
                         "inside `if print_cost:`.", None))
        params, grads, costs = result
        if isinstance(grads, list) and isinstance(costs, dict):
            fail(name, f"the second part of the result is a list and the third a dict {case}", seed,
                 wrong_order("params, grads, costs"))
        for key, where in (("w", params), ("b", params), ("dw", grads), ("db", grads)):
            if not isinstance(where, dict) or key not in where:
                fail(name, f"the result has no {key!r} {case}", seed)
        expected_params, expected_grads, expected_costs = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        try:
            costs = list(costs)
        except TypeError:
            fail(name, f"costs is {describe(costs)}, not a list {case}", seed)
        require(name, seed, assert_array, "params['w']", params["w"], shape=w.shape, dtype_kind="f")
        found = (params["w"], params["b"], grads["dw"], grads["db"], costs)
        expected = (expected_params["w"], expected_params["b"], expected_grads["dw"], expected_grads["db"],
                    expected_costs)
        if len(costs) == len(expected_costs) and all(close(f, e) for f, e in zip(found, expected)):
            continue
        # Wrong: first vary one argument at a time, then try the fingerprints of known mistakes.
        probe = num_iterations if num_iterations > 1 else 120
        ignored = _ignored_argument(
            lambda **change: run(w, b, X, Y, change.get("num_iterations", probe),
                                 change.get("learning_rate", learning_rate))[0][0],
            {"learning_rate": learning_rate * 3, "num_iterations": probe + 150},
            lambda p, q: close(p["w"], q["w"]) and close(p["b"], q["b"]))
        match = (Mistake(f"{ignored}_ignored", IGNORED_HINT[ignored], None) if ignored
                 else _match_optimize(_optimize_mistakes(num_iterations, learning_rate), params, costs, w, b, X, Y))
        if len(costs) != len(expected_costs):
            fail(name, f"{len(costs)} costs {case}: expected ceil(num_iterations / 100) of them", seed, match)
        wrong = [label for label, f, e in zip(("w", "b", "dw", "db", "costs"), found, expected) if not close(f, e)]
        fail(name, f"wrong {', '.join(wrong)} {case}", seed, match,
             advice="Each iteration: grads, cost = propagate(w, b, X, Y); w = w - learning_rate * dw; "
                    "b = b - learning_rate * db.")
    # Printing, and a cost that goes down at a small learning rate.
    w, b, X, Y = logistic_problem(rng, 3, 8)
    (_, _, costs), printed = run(w, b, X, Y, 300, 0.01, True)
    lines = _printed_costs(printed)
    expected_format = ("with print_cost=True and 300 iterations, expected the 3 lines 'Cost after iteration 0: "
                       "<cost>', 100 and 200, the cost with at least 2 decimals")
    if not printed.strip():
        fail(name, "it prints nothing with print_cost=True", seed,
             Mistake("print_cost_ignored", "the print_cost argument is not used: with print_cost=True, print "
                     "\"Cost after iteration %i: %f\" each time a cost is recorded.", None))
    if lines is None or [i for i, _ in lines] != [0, 100, 200]:
        fail(name, expected_format, seed)
    if not all(_agrees_to_printed_digits(value, cost) for (_, value), cost in zip(lines, costs)):
        fail(name, "with print_cost=True the printed numbers are not the recorded costs to the digits printed, "
             "with at least 2 decimals (\"%f\", {cost}, {cost:.4f} ... are fine)", seed)
    if not costs[-1] < costs[0]:
        fail(name, "the cost does not go down at a small learning rate (0.01)", seed)
