"""The checks library that hidden tests call, and its mutation test.

The reference passes every check; every known mistake of the catalogue is
caught and named by the hidden tests as the notebooks call them; no correct
variant loses a point.
"""
import types

import numpy as np
import pytest

import checks
import classroom
import mutants
import reference
from firstneuron.data import load_dataset

VARIANTS = classroom.load_variants()
CHECKED = {  # check -> reference function it judges
    checks.check_sigmoid: "sigmoid", checks.check_flatten_and_standardize: "flatten_and_standardize",
    checks.check_initialize_with_zeros: "initialize_with_zeros", checks.check_propagate_cost: "propagate",
    checks.check_propagate_gradients: "propagate", checks.check_optimize: "optimize",
    checks.check_predict: "predict", checks.check_model: "model", checks.check_montage: "montage",
}


def as_learner(function):
    """A copy of a reference function that looks as if a learner wrote it in a notebook."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__module__ = "__main__"
    return copy


@pytest.mark.parametrize("check", list(CHECKED), ids=lambda c: c.__name__)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_passes(check, seed):
    check(as_learner(getattr(reference, CHECKED[check])), seed=seed)


@pytest.mark.parametrize("check", list(CHECKED), ids=lambda c: c.__name__)
def test_the_reference_itself_is_refused(check):
    with pytest.raises(AssertionError, match="comes from the course's own code"):
        check(getattr(reference, CHECKED[check]), seed=0)


@pytest.mark.parametrize("stage", classroom.stages())
def test_the_notebook_solutions_pass_their_hidden_tests(stage):
    namespace = mutants.learner_namespace(stage)
    assert mutants.hidden_tests(stage), f"expected hidden tests in {stage}, found none"
    for grade_id, source in mutants.hidden_tests(stage).items():
        exec(compile(source, grade_id, "exec"), dict(namespace))


@pytest.mark.parametrize("variant", [v for v in VARIANTS.values() if v.kind == "correct"], ids=lambda v: v.id)
def test_correct_variants_keep_full_marks(variant):
    verdict = mutants.judge(variant)
    assert not verdict.failed, f"expected {variant.id} ({variant.description}) to pass, found {verdict.failed}"


@pytest.mark.parametrize("variant", [v for v in VARIANTS.values() if v.kind == "mistake"], ids=lambda v: v.id)
def test_mistakes_are_caught_and_named(variant):
    verdict = mutants.judge(variant)
    assert verdict.killed, f"expected {variant.id} ({variant.description}) to fail a hidden test, found all passed"
    if variant.diagnosis:
        assert variant.diagnosis in verdict.named, \
            f"expected the diagnosis {variant.diagnosis!r} for {variant.id}, found {sorted(verdict.named)}: {verdict.failed}"
    for _, message in verdict.failed.values():
        assert "Traceback" not in message and "reference" not in message, f"expected a short message, found {message!r}"


def test_the_mutation_summary_meets_its_bar():
    lines = []
    _, summary, ok = mutants.run(echo=lines.append)
    assert ok, f"expected every mistake caught, >= 90 % named, none misdiagnosed, no cross-function loss, no false fail; found {summary}"
    assert summary["mutants"] == sum(v.kind == "mistake" for v in VARIANTS.values())
    assert lines[-1].startswith("mutants: "), f"expected a summary line, found {lines[-1]!r}"


def test_messages_do_not_show_reference_values():
    function = mutants.learner_namespace("01-sigmoid", VARIANTS["sigmoid_sign_error"])["sigmoid"]
    with pytest.raises(AssertionError) as failure:
        checks.check_sigmoid(function, seed=5)
    rng = np.random.default_rng(5)
    expected = reference.sigmoid(float(rng.normal(0, 3)))
    for digits in (f"{expected:.4f}", f"{expected:.3f}"):
        assert digits not in str(failure.value), f"expected no reference value in the message, found {digits}"
    assert "case seed 5" in str(failure.value), f"expected the seed in the message, found {failure.value}"


def test_dataset_sizes_must_be_integers():
    train_x_orig, _, test_x_orig, _, _ = load_dataset("faces")
    with pytest.raises(AssertionError, match="expected an integer, found a float"):
        checks.check_dataset_sizes(160.0, 40, 25, train_x_orig, test_x_orig)


def test_a_function_that_changes_its_input_fails():
    def sigmoid_in_place(z):
        if isinstance(z, np.ndarray):
            np.negative(z, out=z)
            np.exp(z, out=z)
            z += 1
            np.reciprocal(z, out=z)
            return z
        return 1 / (1 + np.exp(-z))

    with pytest.raises(AssertionError, match="changed in place"):
        checks.check_sigmoid(sigmoid_in_place, seed=1)


def test_objects_that_pretend_to_be_arrays_get_no_credit():
    class AlwaysEqual:
        shape = (1, 1)

        def __eq__(self, other):
            return True

        def __array__(self, dtype=None, copy=None):
            raise TypeError("not an array")

    with pytest.raises(AssertionError, match="expected a numpy array"):
        checks.check_sigmoid(lambda z: AlwaysEqual() if isinstance(z, np.ndarray) else 1 / (1 + np.exp(-z)), seed=0)


def test_the_seed_replays_the_same_case(monkeypatch):
    seen = []

    def spy(z):
        seen.append(np.array(z, copy=True))
        return reference.sigmoid(z)

    checks.check_sigmoid(spy, seed=11)
    first = list(seen)
    seen.clear()
    monkeypatch.setenv("FIRSTNEURON_SEED", "11")
    checks.check_sigmoid(spy)
    assert len(first) == len(seen) and all(np.array_equal(a, b) for a, b in zip(first, seen)), \
        "expected the same inputs when the seed is replayed, found different ones"


def test_finite_differences_separate_cost_from_gradient_mistakes():
    def propagate_consistent_but_wrong_cost(w, b, X, Y):
        grads, cost = reference.propagate(w, b, X, Y)
        return {"dw": 2 * grads["dw"], "db": 2 * grads["db"]}, 2 * cost

    with pytest.raises(AssertionError, match=r"match your cost, so the cost formula itself is wrong"):
        checks.check_propagate_gradients(propagate_consistent_but_wrong_cost, seed=3)
