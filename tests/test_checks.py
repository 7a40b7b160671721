"""The checks library that hidden tests call, and its mutation test.

The reference passes every check; every known mistake of the catalogue is
caught and named by the hidden tests as the notebooks call them; no correct
variant loses a point.
"""
import ast
import importlib
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import catalogue
import cells
import checks
import course
import mutants
import reference
from learner import LocalChannel, run_hidden
from firstneuron.data import load_dataset

VARIANTS = catalogue.load_variants()


def hidden_checks():
    """{check: the graded function it judges}, read from the hidden tests of every stage's notebook."""
    found = {}
    for stage in course.stages():
        for cell in course.read_notebook(course.notebook_path(course.SOLUTIONS, stage)).cells:
            hidden, _ = cells.split_hidden(cell.source)
            for node in ast.walk(ast.parse(hidden or "")):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1
                        and isinstance(node.args[0], ast.Name) and node.func.id.startswith("check_")):
                    found[getattr(checks, node.func.id)] = node.args[0].id
    return found


CHECKED = hidden_checks()  # check -> reference function it judges


def test_every_graded_function_has_a_hidden_check():
    graded = {f for functions in course.GRADED_FUNCTIONS.values() for f in functions}
    assert set(CHECKED.values()) == graded, \
        f"expected hidden checks of {sorted(graded)} (the stage registry), found {sorted(set(CHECKED.values()))}"


def test_the_package_re_exports_each_lesson_modules_documented_checks():
    folder = Path(checks.__file__).parent
    expected = sorted(path.stem for path in folder.glob("*.py") if path.stem not in ("__init__", "core"))
    found = [module.__name__.rpartition(".")[2] for module in checks.lesson_modules()]
    assert found == expected, f"expected the lesson modules {expected}, found {found}"
    for module in checks.lesson_modules():
        defined = {name for name, value in vars(module).items()
                   if name.startswith("check_") and getattr(value, "__module__", None) == module.__name__}
        assert defined <= set(module.__all__), \
            f"expected every check of {module.__name__} in its __all__, missing {sorted(defined - set(module.__all__))}"
        for name in module.__all__:
            assert getattr(checks, name, None) is getattr(module, name), \
                f"expected checks.{name} to be {module.__name__}.{name}, found {getattr(checks, name, None)!r}"
            assert (getattr(module, name).__doc__ or "").strip(), \
                f"expected a docstring saying what {module.__name__}.{name} checks, found none"
    shared = ("CheckFailure", "Mistake", "diagnose", "learner_frames", "substituted", "new_seed")
    missing = [name for name in shared if name not in checks.__all__]
    assert not missing, f"expected checks to re-export core's {shared}, missing {missing}"


def test_a_new_lesson_module_is_found_without_editing_the_package(tmp_path, monkeypatch):
    copy = tmp_path / "checks_with_a_sixth_stage"
    shutil.copytree(Path(checks.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "newstage.py").write_text('"""A sixth stage."""\n__all__ = ["check_newstage"]\n\n\n'
                                      'def check_newstage(function, seed=None):\n    """Nothing yet."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        package = importlib.import_module(copy.name)
        assert "check_newstage" in package.__all__, f"expected check_newstage exported, found {package.__all__}"
        assert package.check_newstage is importlib.import_module(f"{copy.name}.newstage").check_newstage
        assert set(package.__all__) == set(checks.__all__) | {"check_newstage"}, \
            f"expected the package's names and check_newstage, found {sorted(package.__all__)}"
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == copy.name]:
            del sys.modules[name]


def through_the_bridge(function):
    """`function` as a check sees a learner's: a proxy whose calls cross the bridge's plain data (`LocalChannel`)."""
    return LocalChannel({function.__name__: function}).function(function.__name__)


def as_learner(function):
    """A copy of a reference function that looks as if a learner wrote it in a notebook, behind the bridge."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__module__ = "__main__"
    return through_the_bridge(copy)


@pytest.mark.parametrize("check", list(CHECKED), ids=lambda c: c.__name__)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_passes(check, seed):
    check(as_learner(getattr(reference, CHECKED[check])), seed=seed)


@pytest.mark.parametrize("check", list(CHECKED), ids=lambda c: c.__name__)
def test_the_reference_itself_is_refused(check):
    with pytest.raises(AssertionError, match="comes from the course's own code"):
        check(getattr(reference, CHECKED[check]), seed=0)


@pytest.mark.parametrize("stage", course.stages())
def test_the_notebook_solutions_pass_their_hidden_tests(stage):
    namespace = mutants.learner_namespace(stage)
    assert mutants.hidden_tests(stage), f"expected hidden tests in {stage}, found none"
    for grade_id, source in mutants.hidden_tests(stage).items():
        outcome = run_hidden(source, LocalChannel(namespace), seed=0)
        assert outcome.passed, f"expected {stage}'s solutions to pass {grade_id}, found {outcome.error!r}"


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
        checks.check_dataset_sizes(float(len(train_x_orig)), len(test_x_orig), train_x_orig.shape[1], None)


def test_dataset_sizes_are_judged_against_the_graders_own_data():
    train_x_orig, _, test_x_orig, _, _ = load_dataset("faces")
    right = (len(train_x_orig), len(test_x_orig), train_x_orig.shape[1])
    checks.check_dataset_sizes(*right, None)
    # Sizes that fit arrays a kernel could swap in (one image each) are not what the course loads.
    with pytest.raises(AssertionError, match="m_train: not the number of training images"):
        checks.check_dataset_sizes(1, 1, train_x_orig.shape[1], None)
    # CelebA: 100 images of 64x64x3, 80 for training, whatever folder the notebook names.
    checks.check_dataset_sizes(80, 20, 64, "/nowhere/celeba")
    with pytest.raises(AssertionError, match="m_train: not the number of training images"):
        checks.check_dataset_sizes(*right, "/nowhere/celeba")


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


def test_learner_frames_prefers_what_the_proxy_sent():
    error = ValueError("shapes (4,1) and (4,3) not aligned")
    error.learner_frames = [("<cell>", 3, "predict", "A = sigmoid(np.dot(w.T, X) + b)")]
    assert checks.learner_frames(error) == error.learner_frames, \
        f"expected the proxy's frames, found {checks.learner_frames(error)}"


@pytest.fixture()
def transposed_predict_failure():
    """The CheckFailure of a predict that multiplies by w.T (shapes (n_x, 1) and (n_x, m) not aligned)."""
    def predict(w, b, X):
        return np.dot(w.T, X)

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_predict(through_the_bridge(predict), seed=0)
    return failure


def test_learner_frames_from_the_channel_leave_out_the_grader(transposed_predict_failure):
    failure = transposed_predict_failure
    frames = checks.learner_frames(failure.value.error)
    names = [frame[2] for frame in frames]
    assert "predict" in names, f"expected the learner's predict among the frames, found {names}"
    own = [frame for frame in frames if Path(frame[0]).parent == Path(checks.__file__).parent
           or Path(frame[0]) == Path(reference.__file__)]
    assert not own, f"expected no frame of the checks package or reference.py, found {own}"


def test_an_exception_is_explained_with_the_operation_the_shapes_and_the_line(transposed_predict_failure):
    failure = transposed_predict_failure
    message = str(failure.value)
    assert failure.value.mistake == "shapes_not_aligned", f"expected shapes_not_aligned, found {failure.value.mistake}"
    for part in ("ValueError", "(4,1) and (4,3)", "np.dot(w.T, X)", "matrix product"):
        assert part in message, f"expected {part!r} in the message, found {message!r}"


def test_an_unknown_exception_is_reported_without_a_name():
    def sigmoid(z):
        raise RuntimeError("something unusual")

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_sigmoid(sigmoid, seed=0)
    assert failure.value.mistake is None, f"expected no diagnosis name, found {failure.value.mistake}"
    assert "RuntimeError: something unusual" in str(failure.value), f"expected the error in {failure.value}"


def test_a_correct_function_that_warns_keeps_its_points():
    import warnings

    def sigmoid(z):
        warnings.warn("a learner's own warning")
        with np.errstate(over="warn"):
            return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))[()]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checks.check_sigmoid(sigmoid, seed=0)


@pytest.mark.parametrize("line", ["Cost after iteration {i}: {cost}", "Cost after iteration {i}: {cost:.4f}",
                                  "Cost after iteration {i}: {cost:f}", "Cost after iteration {i}: {cost:.3e}"])
def test_optimize_accepts_any_float_format_with_two_decimals(line):
    def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
        params, grads, costs = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        if print_cost:
            for i, cost in zip(range(0, num_iterations, 100), costs):
                print(line.format(i=i, cost=cost))
        return params, grads, costs

    checks.check_optimize(optimize, seed=4)


def test_optimize_refuses_a_cost_printed_without_decimals():
    def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
        params, grads, costs = reference.optimize(w, b, X, Y, num_iterations, learning_rate)
        if print_cost:
            for i, cost in zip(range(0, num_iterations, 100), costs):
                print(f"Cost after iteration {i}: {cost:.0f}")
        return params, grads, costs

    with pytest.raises(AssertionError, match="at least 2 decimals"):
        checks.check_optimize(optimize, seed=4)


@pytest.mark.parametrize("argument", ["learning_rate", "num_iterations"])
def test_an_ignored_argument_of_optimize_is_named_whatever_value_is_written_in(argument):
    def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
        fixed = {"learning_rate": (num_iterations, 0.0123), "num_iterations": (37, learning_rate)}[argument]
        return reference.optimize(w, b, X, Y, *fixed)

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_optimize(optimize, seed=1)
    assert failure.value.mistake == f"{argument}_ignored", f"expected {argument}_ignored, found {failure.value}"


def test_two_fitting_fingerprints_give_no_name():
    twins = [checks.Mistake("a", "one", lambda z: z), checks.Mistake("b", "other", lambda z: z)]
    assert checks.diagnose(np.ones(2), twins, np.ones(2)) is None, "expected no name when two mistakes fit"
    assert checks.diagnose(np.ones(2), twins[:1], np.ones(2)) is twins[0], "expected the one mistake that fits"


def test_a_montage_without_colour_axis_is_not_called_the_floor_of_the_root():
    def montage(images):
        return reference.montage(images[..., 0] if images.ndim == 4 else images)

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_montage(montage, seed=0)
    assert failure.value.mistake == "montage_dropped_channel", f"expected montage_dropped_channel, found {failure.value}"


def test_flatten_divided_by_the_data_maximum_is_caught():
    def flatten_and_standardize(images):
        return images.reshape(images.shape[0], -1).T / images.max()

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_flatten_and_standardize(flatten_and_standardize, seed=0)
    assert failure.value.mistake == "divided_by_data_max", f"expected divided_by_data_max, found {failure.value}"


def test_every_variant_says_where_it_comes_from():
    added = [v for v in VARIANTS.values() if v.kind in ("mistake", "correct")]
    missing = [v.id for v in added if not v.source.strip()]
    assert not missing, f"expected a source note on every mistake and correct rewrite, found none on {missing}"


def test_the_catalogue_is_large_enough():
    mistakes = sum(v.kind == "mistake" for v in VARIANTS.values())
    correct = sum(v.kind == "correct" for v in VARIANTS.values())
    assert mistakes >= 120 and correct >= 30, f"expected >= 120 mistakes and >= 30 correct rewrites, found {mistakes}, {correct}"
    assert all(v.diagnosis for v in VARIANTS.values() if v.kind == "mistake"), \
        "expected every mistake to name the diagnosis it should get"


def test_a_mistake_that_fails_another_functions_cell_is_a_cross_function_loss():
    predict_raises = catalogue.Variant(id="t", stage="04-predict", cell="predict", find="sigmoid(np.dot(w, X) + b)",
                                       replace="sigmoid(np.dot(w.T, X) + b)", diagnosis="shapes_not_aligned")
    verdict = mutants.judge(predict_raises)
    assert verdict.killed and not verdict.cross, \
        f"expected predict's mistake to fail predict_tests only, found {sorted(verdict.failed)}"
    model_broken = catalogue.Variant(id="u", stage="04-predict", cell="model", find="predict(w, b, X_test)",
                                     replace="predict(w, b, X_test)[0]", diagnosis="x")
    both = mutants.judge(predict_raises, together=[model_broken])
    assert "model_tests" in both.failed and "model_tests" not in both.own, \
        f"expected model_tests outside predict's own cells, found own {both.own}, failed {sorted(both.failed)}"


def test_a_misdiagnosis_is_counted():
    variant = catalogue.Variant(id="t", stage="01-sigmoid", cell="sigmoid", find="np.exp(-z)", replace="np.exp(z)",
                                diagnosis="sigmoid_no_reciprocal")
    _, summary, ok = mutants.run({"t": variant}, echo=lambda line: None)
    assert summary["misdiagnosed"] == 1 and not ok, f"expected one misdiagnosis and a failed run, found {summary}"


def test_a_mistake_its_diagnosis_does_not_name_is_counted():
    variant = catalogue.Variant(id="t", stage="01-sigmoid", cell="sigmoid", find="s = 1 / (1 + np.exp(-z))",
                                replace="s = 0.3 + 0 * z", diagnosis="sigmoid_sign_error")
    _, summary, ok = mutants.run({"t": variant}, echo=lambda line: None)
    assert (summary["killed"], summary["unnamed diagnoses"], ok) == (1, 1, False), \
        f"expected a caught mistake its own diagnosis does not name counted and the run failed, found {summary}"


def test_a_message_that_shows_the_reference_is_counted():
    variant = catalogue.Variant(id="t", stage="01-sigmoid", cell="sigmoid", find="s = 1 / (1 + np.exp(-z))",
                                replace='raise ValueError("the reference says no")', diagnosis=None)
    _, summary, ok = mutants.run({"t": variant}, echo=lambda line: None)
    assert (summary["leaky messages"], ok) == (1, False), \
        f"expected the message naming the reference counted and the run failed, found {summary}"


def test_the_gradient_verdict_is_plain_words():
    """Issue 19: "(wrong: < 1e-07 is right, > 0.01 is wrong)" read as a riddle; the verdict now says it in words."""
    def propagate_dw_doubled(w, b, X, Y):
        grads, cost = reference.propagate(w, b, X, Y)
        return {"dw": 2 * grads["dw"], "db": grads["db"]}, cost

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_propagate_gradients(propagate_dw_doubled, seed=3)
    message = str(failure.value)
    assert "they do not match your cost (a match is below 1e-07)" in message, (
        f"expected the verdict in words, found {message!r}")
    assert "is right, >" not in message, f"expected no riddle of thresholds, found {message!r}"


def test_a_predict_wrong_only_at_the_tie_is_not_called_a_missing_b():
    """The random cases name a mistake only when the predictions differ there too."""
    def predict_half_at_the_tie(w, b, X):
        A = reference.sigmoid(np.dot(w, X) + b)
        Y_prediction = (A > 0.5).astype(float)
        Y_prediction[A == 0.5] = 0.5
        return Y_prediction

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_predict(predict_half_at_the_tie, seed=5)
    assert failure.value.mistake is None, f"expected no name for a slip at exactly 0.5, found {failure.value.mistake}"


def test_a_size_of_w_taken_from_the_data_is_not_called_hard_coded():
    """w sized by X_train.size (it changes with the data) is not a size written in the code."""
    def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.005, print_cost=False):
        w, b = reference.initialize_with_zeros(X_train.size)
        params, _, costs = reference.optimize(w, b, X_train, Y_train, num_iterations, learning_rate, print_cost)
        return params

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_model(through_the_bridge(model), seed=2)
    assert failure.value.mistake != "model_n_x_hard_coded", (
        f"expected no 'hard-coded n_x' for a size that follows the data, found {failure.value}")
    assert failure.value.mistake == "w_wrong_shape", f"expected the shape of w explained, found {failure.value}"


# --- lessons: optimize and montage graded in parts, and their messages ----------------------------

def _optimize_reference(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
    return reference.optimize(w, b, X, Y, num_iterations, learning_rate, print_cost)


def test_a_renamed_parameter_of_optimize_is_named_in_the_steps_part_only():
    def optimize(w, b, X, Y, num_iters=100, learning_rate=0.009, print_cost=False):
        return _optimize_reference(w, b, X, Y, num_iters, learning_rate, print_cost)

    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_optimize_steps(optimize, seed=3)
    assert failure.value.mistake == "optimize_parameter_renamed", f"expected optimize_parameter_renamed, found {failure.value}"
    assert "optimize must accept num_iterations=" in str(failure.value), f"expected the parameter named, found {failure.value}"
    for part in (checks.check_optimize_costs, checks.check_optimize_printing, checks.check_optimize_inputs):
        part(optimize, seed=3)  # positional calls: the other parts keep their points


def test_gradients_not_named_dw_db_get_their_own_hint():
    namespace = {"propagate": reference.propagate}
    exec("def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):\n"
         "    costs = []\n"
         "    for i in range(num_iterations):\n"
         "        grads, cost = propagate(w, b, X, Y)\n"
         "        w = w - learning_rate * grads['dw']\n"
         "        b = b - learning_rate * grads['db']\n"
         "    params = {'w': w, 'b': b}\n"
         "    grads = {'dw': dw, 'db': db}\n"
         "    return params, grads, costs\n", namespace)
    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_optimize_steps(namespace["optimize"], seed=3)
    assert failure.value.mistake == "gradients_not_named_dw_db", f"expected gradients_not_named_dw_db, found {failure.value}"
    assert 'dw = grads["dw"]' in str(failure.value), f"expected the line to write in the hint, found {failure.value}"


def test_w_changed_in_place_costs_only_the_inputs_part():
    def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
        params, grads, costs = _optimize_reference(w, b, X, Y, num_iterations, learning_rate, print_cost)
        w[...] = params["w"]
        return params, grads, costs

    for part in (checks.check_optimize_steps, checks.check_optimize_costs, checks.check_optimize_printing):
        part(optimize, seed=5)
    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_optimize_inputs(optimize, seed=5)
    assert failure.value.mistake == "w_updated_in_place", f"expected w_updated_in_place, found {failure.value}"


def test_a_float_n_in_montage_gets_a_hint_about_montage():
    def montage(images):
        k, h, w = images.shape[:3]
        n = np.ceil(np.sqrt(k))
        size = int(n)
        picture = np.full((size * h + size + 1, size * w + size + 1) + images.shape[3:], 0.5)
        for i in range(k):
            top, left = 1 + (i // n) * (h + 1), 1 + (i % n) * (w + 1)
            picture[top:top + h, left:left + w] = images[i]
        return picture

    for part in (checks.check_montage_canvas, checks.check_montage_background, checks.check_montage_places):
        with pytest.raises(checks.CheckFailure) as failure:
            part(montage, seed=0)
        assert failure.value.mistake == "montage_float_n", f"expected montage_float_n, found {failure.value}"
        assert "learning_rate" not in failure.value.hint and "np.ceil" in failure.value.hint, \
            f"expected a hint about montage's n, found {failure.value.hint}"


def test_a_grey_background_of_another_value_costs_only_the_background_part():
    def montage(images):
        picture = reference.montage(images)
        return np.where(picture == 0.5, 0.0, picture)

    checks.check_montage_canvas(montage, seed=1)
    checks.check_montage_places(montage, seed=1)
    with pytest.raises(checks.CheckFailure) as failure:
        checks.check_montage_background(montage, seed=1)
    assert failure.value.mistake == "montage_background_zero", f"expected montage_background_zero, found {failure.value}"


def test_optimize_visible_tests_name_a_renamed_parameter_without_a_traceback():
    from firstneuron.testing import optimize_visible_tests

    def optimize(w, b, X, Y, num_iterations=100, alpha=0.009, print_cost=False):
        return _optimize_reference(w, b, X, Y, num_iterations, alpha, print_cost)

    with pytest.raises(AssertionError, match=r"optimize must accept learning_rate="):
        optimize_visible_tests(optimize, "steps")
    for part in ("costs", "printing", "inputs"):
        optimize_visible_tests(optimize, part)
