"""The notebook's vocabulary (`cells`): test cells, their hidden part, the exercise each grades, diagnoses."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import cells
import course


def graded(source, grade_id, solution=False, points=1):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": not solution, "solution": solution, "grade_id": grade_id, "points": points}
    return cell


def test_a_test_cell_is_split_into_its_hidden_and_visible_parts():
    source = "'''doc'''\n  ### BEGIN HIDDEN TESTS\ncheck(f)\n  ### END HIDDEN TESTS\nassert f(0) == 0\n"
    hidden, visible = cells.split_hidden(source)
    assert hidden == "check(f)\n" and visible == "'''doc'''\nassert f(0) == 0\n", \
        f"expected the hidden block (indented markers too) and the rest, found {hidden!r}, {visible!r}"
    assert cells.split_hidden("assert True") == (None, "assert True"), "expected no hidden part without markers"


@pytest.mark.parametrize("test_id, expected", [("optimize_steps_tests", "optimize"), ("optimize_tests", "optimize"),
                                               ("initialize_with_zeros_tests", "initialize_with_zeros"),
                                               ("a_b_tests", "a_b"), ("sigmoid_test", None), ("other_tests", None)])
def test_a_test_cell_grades_the_exercise_its_name_starts_with(test_id, expected):
    found = cells.function_of(test_id, ["optimize", "initialize_with_zeros", "a", "a_b"])
    assert found == expected, f"expected {test_id} to grade {expected}, found {found}"


def test_the_test_cells_of_a_notebook_are_its_grade_cells_that_are_not_exercises():
    nb = new_notebook(cells=[graded("raise NotImplementedError()", "f", solution=True),
                             graded("### BEGIN HIDDEN TESTS\ncheck(f)\n### END HIDDEN TESTS\nf(1)", "f_tests", points=2),
                             new_code_cell("x = 1\nplt.show()")])
    found = cells.test_cells(nb)
    assert [(t.grade_id, t.points, t.hidden, t.visible) for t in found] == [("f_tests", 2, "check(f)\n", "f(1)")], \
        f"expected one test cell of 2 points with its parts, found {found}"
    assert cells.unattempted(nb.cells[0]) and not cells.unattempted(nb.cells[1]), "expected the stub unattempted"
    assert [cells.is_figure_cell(c) for c in nb.cells] == [False, False, True], "expected the last cell a figure"


@pytest.mark.parametrize("stage", course.stages())
def test_every_test_cell_of_the_course_grades_one_exercise(stage):
    nb = nbformat.read(str(course.notebook_path(course.SOLUTIONS, stage)), as_version=4)
    exercises = [course.cell_grade_id(c) for c in nb.cells if cells.is_solution_cell(c)]
    orphans = [t.grade_id for t in cells.test_cells(nb) if cells.function_of(t.grade_id, exercises) is None]
    assert not orphans, f"expected every test cell of {stage} to grade an exercise of {exercises}, found {orphans}"


def test_a_diagnosis_travels_in_the_cell_metadata():
    class Failure(AssertionError):
        mistake, hint = "sigmoid_sign_error", "exp(z) where exp(-z) is meant"

    cell = graded("", "sigmoid_tests")
    cells.set_diagnosis(cell, cells.Diagnosis.of(Failure()))
    assert cells.stored_diagnosis(cell) == {"name": "sigmoid_sign_error", "hint": "exp(z) where exp(-z) is meant"}, \
        f"expected the diagnosis kept as data, found {cell.metadata}"
    cells.set_diagnosis(cell, cells.Diagnosis.of(AssertionError("no name")))
    assert cells.stored_diagnosis(cell) is None, f"expected an unnamed failure to leave no diagnosis, found {cell.metadata}"
