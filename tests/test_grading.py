"""nbgrader end to end: release, submit, autograde, feedback, export, with exact scores."""
import html
import re

import nbformat
import pytest

import classroom

STAGE = "01-sigmoid"
#: Points of each graded cell of the stage, as the solution notebook sets them.
POINTS = {"dataset_sizes_tests": 1, "flatten_and_standardize_tests": 2, "sigmoid_tests": 2}
TOTAL = sum(POINTS.values())

# student id -> (variants, blank, the cells expected to lose their points)
CLASS = {
    "correct": ((), False, set()),
    "blank": ((), True, set(POINTS)),
    "sign": (("sigmoid_sign_error", "sizes_swapped"), False, {"sigmoid_tests", "dataset_sizes_tests"}),
    "reshape": (("reshape_without_transpose",), False, {"flatten_and_standardize_tests"}),
    "unstable": (("sigmoid_unstable", "forgot_to_standardize"), False,
                 {"sigmoid_tests", "flatten_and_standardize_tests"}),
    "rewritten": (("sigmoid_stable_where", "flatten_loop"), False, set()),
    "expit": (("sigmoid_expit",), False, set()),
    "endless": (("sigmoid_endless_loop",), False, {"sigmoid_tests"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A workspace where the class above and one corrupt notebook were autograded."""
    workspace = classroom.make_workspace(tmp_path_factory.mktemp("grading") / "course")
    release = classroom.generate_release(workspace)
    for student, (variants, blank, _) in CLASS.items():
        classroom.submit(workspace, student, STAGE, classroom.build_submission(STAGE, variants, blank, release))
    corrupt = classroom.notebook_path(workspace / "submitted" / "corrupt", STAGE)
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"cells": [ this is not json')
    lines = []
    submissions = [(s, STAGE) for s in ["corrupt", *CLASS]]
    outcomes = classroom.grade(workspace, submissions, cell_timeout=5, echo=lines.append)
    return workspace, {o.student: o for o in outcomes}, lines


@pytest.mark.parametrize("student", list(CLASS))
def test_scores_are_exact(graded, student):
    _, outcomes, _ = graded
    outcome = outcomes[student]
    lost = CLASS[student][2]
    assert outcome.graded, f"expected {student} to be graded, found: {outcome.reason}"
    assert set(outcome.failed_cells) == lost, f"expected {student} to lose points in {sorted(lost)}, found {sorted(outcome.failed_cells)}"
    expected = TOTAL - sum(POINTS[c] for c in lost)
    assert (outcome.score, outcome.max_score) == (expected, TOTAL), \
        f"expected {student} to score {expected}/{TOTAL}, found {outcome.score}/{outcome.max_score}"


def test_a_corrupt_notebook_is_reported_and_the_others_still_graded(graded):
    _, outcomes, lines = graded
    corrupt = outcomes["corrupt"]
    assert not corrupt.graded, "expected the corrupt notebook not to be graded"
    assert corrupt.reason, "expected a reason for the corrupt notebook"
    assert sum(o.graded for o in outcomes.values()) == len(CLASS), \
        f"expected all {len(CLASS)} other students graded, found {sum(o.graded for o in outcomes.values())}"
    assert re.match(r"\[1/\d+\] corrupt 01-sigmoid: NOT GRADED", lines[0]), f"expected a progress line, found {lines[0]!r}"


def test_exported_grades(graded):
    workspace, _, _ = graded
    rows = {r["student_id"]: r for r in classroom.read_grades_csv(classroom.export_grades(workspace))}
    assert float(rows["correct"]["score"]) == TOTAL, f"expected full marks in grades.csv, found {rows['correct']['score']}"
    assert float(rows["blank"]["score"]) == 0, f"expected 0 for the blank notebook, found {rows['blank']['score']}"


def feedback_html(workspace, student):
    return (classroom.notebook_path(workspace / "feedback" / student, STAGE).with_suffix(".html")).read_text()


def visible_text(page):
    """What a browser shows of an HTML page: no styles or scripts, tags removed, entities decoded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("student", ["sign", "reshape", "unstable", "blank", "endless"])
def test_feedback_names_the_mistake_and_leaks_nothing(graded, student):
    workspace, _, _ = graded
    page = feedback_html(workspace, student)
    text = visible_text(page)
    source = nbformat.read(str(classroom.notebook_path(classroom.SOLUTIONS, STAGE)), as_version=4)
    hidden = [line.strip() for c in source.cells for line in
              c.source.split("### BEGIN HIDDEN TESTS")[-1].split("### END HIDDEN TESTS")[0].splitlines()
              if "BEGIN HIDDEN TESTS" in c.source and line.strip()]
    for secret in ["HIDDEN TESTS", "reference", "checks", "autograder", "Traceback (most recent call last)", *hidden]:
        assert secret not in page, f"expected no {secret!r} in {student}'s feedback, found it"
    frame = re.search(r'File ".*", line \d+', text)
    assert frame is None, f"expected no traceback frame in {student}'s feedback, found {frame and frame.group()!r}"
    if student == "sign":
        assert "a sign error" in text, "expected the sign error to be named in the feedback"
    if student == "reshape":
        assert "mixes the pixels of different images" in text, "expected the reshape mistake to be named"
    if student == "blank":
        assert "Not attempted yet" in text, "expected 'Not attempted yet' for an untouched exercise"


def test_the_untouched_release_passes_no_test_and_the_solution_all():
    release = classroom.notebook_path(classroom.RELEASE, STAGE)
    assert classroom.validate(release, invert=True), "expected no test to pass on the untouched release"
    assert not classroom.validate(release), "expected the untouched release to fail validation"
