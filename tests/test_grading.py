"""nbgrader end to end, every stage: release, submit, autograde, feedback, export, with exact scores.

For each stage the class holds a correct submission written differently from
the solution where the catalogue has such variants (full marks; the
solutions themselves pass their hidden tests under nbval), the untouched
release (0), and a submission with one known mistake per graded function (it
loses exactly the points of the cells the mutation test says it fails, and
keeps the others). Stage 1 also gets a notebook that never terminates and a
corrupt file: they must not stop the others.
"""
import functools
import html
import os
import re
import shutil
import subprocess

import nbformat
import numpy as np
import pytest
from PIL import Image

import classroom
import catalogue
import staging
import course
import mutants
from conftest import same_words, visible_text

STAGES = course.stages()
VARIANTS = catalogue.load_variants()


def one_mistake_per_cell(stage):
    """Mistake variants that together fail every test cell of `stage`, each failing only its own."""
    chosen, covered, cells = [], set(), set(mutants.points(stage))
    for variant in (v for v in VARIANTS.values() if v.stage == stage and v.kind == "mistake"):
        if covered >= cells:
            break  # every test cell has its mistake: no later variant can be chosen
        failed = set(mutants.judge(variant).failed)
        if len(failed) == 1 and not failed <= covered:
            try:
                mutants.learner_namespace(stage, [*chosen, variant])
            except course.CourseError:
                continue  # it edits what another chosen variant already changed
            chosen.append(variant)
            covered |= failed
    return chosen


def submissions():
    """student -> stage -> (variant ids, blank, expected failed test cells)."""
    plan = {"correct": {}, "blank": {}, "mistakes": {}}
    for stage in STAGES:
        cells = set(mutants.points(stage))
        plan["blank"][stage] = ((), True, cells)
        chosen = one_mistake_per_cell(stage)
        expected = set(mutants.judge(chosen[0], together=chosen[1:]).failed) if chosen else set()
        plan["mistakes"][stage] = (tuple(v.id for v in chosen), False, expected)
        correct, taken = [], set()
        for v in VARIANTS.values():
            if v.stage == stage and v.kind == "correct" and v.cell not in taken:
                correct.append(v.id)
                taken.add(v.cell)
        plan["correct"][stage] = (tuple(correct), False, set())
    plan["endless"] = {"01-sigmoid": (("sigmoid_endless_loop",), False, {"sigmoid_tests"})}
    # A learner who deleted the test cell of a wrong sigmoid: nbgrader puts it back and grades it.
    plan["deleter"] = {"01-sigmoid": (("sigmoid_sign_error",), False, {"sigmoid_tests"})}
    # A learner who hands in a checks.py (and a checks/ package) whose checks pass everything: it never reaches the grader.
    plan["shadow"] = {"01-sigmoid": (("sigmoid_sign_error",), False, {"sigmoid_tests"})}
    # A learner whose code writes a fake checks.py at run time: the real checks are already loaded.
    plan["forger"] = {"01-sigmoid": (("writes_fake_checks",), False, {"dataset_sizes_tests"})}
    # Wrong sizes read from 1-image arrays swapped in around the test cell: the truth is the grader's data.
    plan["swapper"] = {"01-sigmoid": ((), False, {"dataset_sizes_tests"})}
    return plan


FAKE_CHECKS = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
SWAP_IN = "_kept = train_x_orig, test_x_orig\ntrain_x_orig, test_x_orig = train_x_orig[:1], test_x_orig[:1]\n"
SWAP_BACK = "train_x_orig, test_x_orig = _kept\n"


def swap_data_around_sizes(nb):
    """`nb` with 1-image arrays as train_x_orig / test_x_orig from the sizes exercise to its test cell's end."""
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    nb.cells[index["dataset_sizes"]].source = SWAP_IN + nb.cells[index["dataset_sizes"]].source
    nb.cells.insert(index["dataset_sizes_tests"] + 1, nbformat.v4.new_code_cell(SWAP_BACK))
    return nb


#: Who hands in which stages; what each hands in (`plan`) is worked out when a test needs it, not at
#: collection, where every parallel worker would judge the variants.
ROSTER = {**{student: STAGES for student in ("correct", "blank", "mistakes")},
          **{student: ["01-sigmoid"] for student in ("endless", "deleter", "shadow", "forger", "swapper")}}


@functools.cache
def plan():
    """`submissions()`, once; it must hand in what `ROSTER` says."""
    found = submissions()
    assert {student: list(stages) for student, stages in found.items()} == ROSTER, \
        f"expected the submissions of ROSTER {ROSTER}, found {({s: list(t) for s, t in found.items()})}"
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A workspace where the class above and one corrupt notebook were autograded."""
    workspace = course.make_workspace(tmp_path_factory.mktemp("grading") / "course")
    release = course.generate_release(workspace)
    todo = [("corrupt", "01-sigmoid")]
    for student, stages in plan().items():
        for stage, (variants, blank, _) in stages.items():
            nb = catalogue.build_submission(stage, variants, blank, release)
            if student == "swapper":
                swap_data_around_sizes(nb)
            if student == "deleter":
                nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "sigmoid_tests"]
            path = staging.submit(workspace, student, stage, nb)
            if student == "shadow":
                (path.parent / "checks.py").write_text(FAKE_CHECKS)
                (path.parent / "checks").mkdir()  # the package's own name, as a folder
                (path.parent / "checks" / "__init__.py").write_text(FAKE_CHECKS)
                (path.parent / "reference.py").write_text(FAKE_CHECKS)
            todo.append((student, stage))
    corrupt = course.notebook_path(workspace / "submitted" / "corrupt", "01-sigmoid")
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"cells": [ this is not json')
    lines = []
    outcomes = classroom.grade(workspace, todo, cell_timeout=5, echo=lines.append)
    return workspace, {(o.student, o.stage): o for o in outcomes}, lines


def test_every_graded_function_has_a_mistake_in_the_plan():
    for stage in STAGES:
        variants = [VARIANTS[v] for v in plan()["mistakes"][stage][0]]
        cells = {v.cell for v in variants}
        missing = set(course.GRADED_FUNCTIONS[stage]) - cells
        assert not missing, f"expected a known mistake for every graded function of {stage}, none for {missing}"
        assert plan()["mistakes"][stage][2] == set(mutants.points(stage)), \
            f"expected the mistakes of {stage} to fail every test cell, found {plan()['mistakes'][stage][2]}"


@pytest.mark.parametrize("student,stage", [(s, t) for s, stages in ROSTER.items() for t in stages])
def test_scores_are_exact(graded, student, stage):
    _, outcomes, _ = graded
    outcome = outcomes[(student, stage)]
    variants, _, lost = plan()[student][stage]
    points = mutants.points(stage)
    assert outcome.graded, f"expected {student}/{stage} to be graded, found: {outcome.reason}"
    assert set(outcome.failed_cells) == lost, \
        f"expected {student}/{stage} ({', '.join(variants) or 'no variant'}) to lose points in {sorted(lost)}, found {sorted(outcome.failed_cells)}"
    expected = sum(points.values()) - sum(points[c] for c in lost)
    assert (outcome.score, outcome.max_score) == (expected, sum(points.values())), \
        f"expected {student}/{stage} to score {expected}/{sum(points.values())}, found {outcome.score}/{outcome.max_score}"


def test_a_corrupt_notebook_is_reported_and_the_others_still_graded(graded):
    _, outcomes, lines = graded
    corrupt = outcomes[("corrupt", "01-sigmoid")]
    assert not corrupt.graded, f"expected the corrupt notebook not graded, found {corrupt}"
    assert "submitted/corrupt/01-sigmoid/01-sigmoid.ipynb: " in corrupt.reason and "not appear to be JSON" in corrupt.reason, \
        f"expected a reason naming the file and the problem, found {corrupt.reason!r}"
    others = [o for key, o in outcomes.items() if key[0] != "corrupt"]
    assert all(o.graded for o in others), f"expected every other submission graded, found {[o for o in others if not o.graded]}"
    summary = lines[-1].splitlines()
    # The learner who deleted a test cell is graded with the cell put back, and flagged for a look.
    expected = f"Summary: {len(others)} graded (0 already done), 1 failed to grade, 1 need manual review"
    assert summary[0] == expected, f"expected {expected!r}, found {summary[0]!r}"
    assert summary[1].startswith("  not graded: corrupt 01-sigmoid: "), \
        f"expected the corrupt notebook listed with its reason, found {summary[1:]}"
    assert any(line.startswith("  manual review: deleter 01-sigmoid: 1 missing") for line in summary), \
        f"expected the deleted test cell named for review, found {summary}"
    assert summary[-1].startswith("  slowest: endless "), f"expected the endless sigmoid slowest, found {summary[-1]!r}"


def test_exported_grades(graded):
    workspace, _, _ = graded
    rows = classroom.read_grades_csv(classroom.export_grades(workspace))
    found = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    for stage in STAGES:
        total = sum(mutants.points(stage).values())
        assert found[("correct", stage)] == total, f"expected full marks for correct/{stage} in grades.csv, found {found[('correct', stage)]}"
        assert found[("blank", stage)] == 0, f"expected 0 for blank/{stage} in grades.csv, found {found[('blank', stage)]}"


@pytest.mark.parametrize("student,stage", [(s, t) for s in ("mistakes", "blank") for t in STAGES] + [("endless", "01-sigmoid")])
def test_feedback_names_the_mistake_and_leaks_nothing(graded, student, stage):
    workspace, _, _ = graded
    page = course.notebook_path(workspace / "feedback" / student, stage).with_suffix(".html").read_text()
    text = visible_text(page)
    hidden = [line.strip() for source in mutants.hidden_tests(stage).values() for line in source.splitlines() if line.strip()]
    # "checks" is also an English word of the lessons ("the derivative checks it"): the module is named as code
    for secret in ["HIDDEN TESTS", "reference", "from checks", "import checks", "checks.", "autograder",
                   "Traceback (most recent call last)", *hidden]:
        assert secret not in page, f"expected no {secret!r} in {student}'s {stage} feedback, found it"
    frame = re.search(r'File ".*", line \d+', text)
    assert frame is None, f"expected no traceback frame in {student}'s {stage} feedback, found {frame and frame.group()!r}"
    if student == "endless":
        assert "ran longer than the time limit" in text, "expected the time limit named in the endless loop's feedback"
    if student == "blank":
        assert "Not attempted yet" in text, f"expected 'Not attempted yet' in the blank {stage} feedback"
    if student == "mistakes":
        chosen = [VARIANTS[v] for v in plan()["mistakes"][stage][0]]
        for variant in chosen:
            for mistake, message in mutants.judge(variant).failed.values():
                if mistake:
                    hint = message.split("Likely mistake: ")[1]
                    assert same_words(hint) in text, f"expected the diagnosis of {variant.id} in the {stage} feedback: {hint!r}"


def test_validate_gives_a_verdict(tmp_path):
    """nbgrader's validator, both ways. That no test passes on any stage's untouched release is what the
    blank student's grades say above (every test cell failed, the hidden tests' too)."""
    release = course.notebook_path(course.RELEASE, "01-sigmoid")
    assert course.validate(release, invert=True), "expected nbgrader validate --invert to pass on the untouched release"
    solved = tmp_path / "01-sigmoid.ipynb"
    nbformat.write(catalogue.build_submission("01-sigmoid"), str(solved))
    assert course.validate(solved), "expected a correct notebook to pass validation"


def chromium_screenshot(page, png, tmp_path, size="1000,1400"):
    """Render `page` in headless Chromium (Debian's package) into `png`."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("expected Debian's chromium on CI (.ci/run installs it), found none")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium'}", f"--window-size={size}",
                    f"--screenshot={png}", page.as_uri()], check=True, capture_output=True, timeout=120)
    return Image.open(png).convert("RGB")


def share_of(image, colour, tolerance=30):
    """The share of pixels within `tolerance` of `colour` (RGB)."""
    pixels = np.asarray(image, dtype=int)
    return float(np.mean(np.all(np.abs(pixels - np.array(colour)) <= tolerance, axis=-1)))


def test_class_report(graded):
    import report

    workspace, outcomes, _ = graded
    page = report.write_report(workspace, workspace / "report")
    text = page.read_text()
    for figure in ("scores.png", "mistakes.png"):
        data = (page.parent / figure).read_bytes()
        assert data.startswith(b"\x89PNG") and f'src="{figure}"' in text, f"expected the figure {figure} in the report"
    shown = visible_text(text)
    assert re.search(r"corrupt\s*01-sigmoid\s*not graded", shown), "expected the corrupt notebook listed as not graded"
    assert re.search(r"blank\s*02-propagate\s*0/6", shown), "expected the blank student listed below the threshold"
    hint = next(line.split("Likely mistake: ")[1] for o in outcomes.values() if o.student == "mistakes"
                for line in o.messages.values() if "Likely mistake: " in line)
    assert html.escape(hint) in text, f"expected the diagnosis {hint!r} counted in the report"


def test_pages_render_in_a_browser(graded, tmp_path):
    """The class report shows its figures, and a feedback page renders, in a real browser."""
    import report

    workspace, _, _ = graded
    page = report.write_report(workspace, workspace / "report")
    shot = chromium_screenshot(page, tmp_path / "report.png", tmp_path)
    blue, red = share_of(shot, (76, 114, 176)), share_of(shot, (196, 78, 82))
    assert blue > 0.002 and red > 0.002, f"expected the report's figures drawn (blue bars, red bars), found shares {blue:.4f}, {red:.4f}"
    feedback = course.notebook_path(workspace / "feedback" / "mistakes", "02-propagate").with_suffix(".html")
    shot = chromium_screenshot(feedback, tmp_path / "feedback.png", tmp_path)
    ink = 1 - share_of(shot, (255, 255, 255), tolerance=10)
    assert ink > 0.05, f"expected a rendered feedback page, found {ink:.3f} of the screenshot not white"


@pytest.mark.parametrize("stage", STAGES)
def test_diagnoses_travel_as_data(graded, stage):
    _, outcomes, _ = graded
    outcome = outcomes[("mistakes", stage)]
    expected = {VARIANTS[v].diagnosis for v in plan()["mistakes"][stage][0] if VARIANTS[v].diagnosis}
    found = {d["name"] for d in outcome.diagnoses.values()}
    assert expected <= found, f"expected the diagnoses {sorted(expected)} in the gradebook's notebook, found {sorted(found)}"
    for cell, diagnosis in outcome.diagnoses.items():
        assert diagnosis["hint"] and diagnosis["hint"] in outcome.messages[cell], \
            f"expected {cell}'s hint {diagnosis['hint']!r} to be what its feedback line says, found {outcome.messages[cell]!r}"


def test_instructor_module_names_handed_in_reach_the_kernel_only(graded):
    """The learner's checks.py, checks/ and reference.py go to the learner's kernel; the grader keeps its own."""
    workspace, outcomes, _ = graded
    autograded = workspace / "autograded" / "shadow" / "01-sigmoid"
    found = sorted(p.name for p in autograded.iterdir() if p.name in ("checks.py", "checks", "reference.py"))
    assert found == ["checks", "checks.py", "reference.py"], \
        f"expected the learner's checks.py, checks/ and reference.py beside the graded notebook, found {found}"
    failed = set(outcomes[("shadow", "01-sigmoid")].failed_cells)
    assert failed == {"sigmoid_tests"}, f"expected the wrong sigmoid still caught by the grader's checks, found {failed}"
