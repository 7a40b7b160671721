"""The checks library that hidden tests call: passes correct code, names known mistakes."""
import numpy as np
import pytest

import checks
import classroom
import reference
from firstneuron.data import load_dataset

VARIANTS = classroom.load_variants()
FUNCTION_CHECKS = {"sigmoid": checks.check_sigmoid,
                   "flatten_and_standardize": checks.check_flatten_and_standardize}


def run_cell(stage, cell, variant=None):
    """Execute a (possibly changed) solution cell as a learner's code; returns its namespace."""
    source = classroom.solution_cells(stage)[cell]
    if variant is not None:
        source = classroom.apply_variant(source, variant)
    train_x_orig, _, test_x_orig, _, _ = load_dataset("faces")
    namespace = {"np": np, "train_x_orig": train_x_orig, "test_x_orig": test_x_orig}
    exec(compile(source, f"<{stage}:{cell}>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_passes(name, seed):
    FUNCTION_CHECKS[name](getattr(reference, name), seed=seed)


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
def test_the_notebook_solution_passes(name):
    FUNCTION_CHECKS[name](run_cell("01-sigmoid", name)[name])


@pytest.mark.parametrize("variant", [v for v in VARIANTS.values() if v.kind == "correct"], ids=lambda v: v.id)
def test_correct_variants_pass(variant):
    FUNCTION_CHECKS[variant.cell](run_cell(variant.stage, variant.cell, variant)[variant.cell], seed=7)


MISTAKES = [v for v in VARIANTS.values() if v.kind == "mistake" and v.cell in FUNCTION_CHECKS]


@pytest.mark.parametrize("variant", MISTAKES, ids=lambda v: v.id)
def test_mistakes_fail_with_their_diagnosis(variant):
    function = run_cell(variant.stage, variant.cell, variant)[variant.cell]
    with pytest.raises(AssertionError) as failure:
        FUNCTION_CHECKS[variant.cell](function, seed=3)
    message = str(failure.value)
    assert "case seed 3" in message, f"expected the seed in the message, found {message!r}"
    if variant.diagnosis == "shape":
        assert "shape" in message, f"expected a shape message for {variant.id}, found {message!r}"
    elif variant.diagnosis:
        hint = next(m.hint for m in checks.FLATTEN_MISTAKES + checks.SIGMOID_MISTAKES if m.name == variant.diagnosis)
        assert hint in message, f"expected the diagnosis {variant.diagnosis!r} for {variant.id}, found {message!r}"


def test_messages_do_not_show_reference_values():
    function = run_cell("01-sigmoid", "sigmoid", VARIANTS["sigmoid_sign_error"])["sigmoid"]
    with pytest.raises(AssertionError) as failure:
        checks.check_sigmoid(function, seed=5)
    rng = np.random.default_rng(5)
    expected = reference.sigmoid(float(rng.normal(0, 3)))
    for digits in (f"{expected:.4f}", f"{expected:.3f}"):
        assert digits not in str(failure.value), f"expected no reference value in the message, found {digits}"


def test_dataset_sizes():
    train_x_orig, _, test_x_orig, _, _ = load_dataset("faces")
    ns = run_cell("01-sigmoid", "dataset_sizes")
    checks.check_dataset_sizes(ns["m_train"], ns["m_test"], ns["num_px"], train_x_orig, test_x_orig)
    ns = run_cell("01-sigmoid", "dataset_sizes", VARIANTS["sizes_swapped"])
    with pytest.raises(AssertionError, match="m_train is not the number of training images"):
        checks.check_dataset_sizes(ns["m_train"], ns["m_test"], ns["num_px"], train_x_orig, test_x_orig)
    with pytest.raises(AssertionError, match="expected an integer, found a float"):
        checks.check_dataset_sizes(160.0, 40, 25, train_x_orig, test_x_orig)


def test_a_function_that_changes_its_input_fails():
    def sigmoid_in_place(z):
        if isinstance(z, np.ndarray):
            z *= -1
            np.exp(z, out=z)
            z += 1
            np.reciprocal(z, out=z)
            return z
        return 1 / (1 + np.exp(-z))

    with pytest.raises(AssertionError, match="changed in place"):
        checks.check_sigmoid(sigmoid_in_place, seed=1)


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
    assert all(np.array_equal(a, b) for a, b in zip(first, seen)) and len(first) == len(seen), \
        "expected the same inputs when the seed is replayed, found different ones"
