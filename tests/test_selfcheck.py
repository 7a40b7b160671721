"""Self-check: a learner grades their own notebook with the real autograder."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import catalogue
import course
import selfcheck
import staging

STAGE = "01-sigmoid"


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_correct_notebook_gets_full_marks_and_is_left_untouched(tmp_path):
    path = write(catalogue.build_submission(STAGE), tmp_path / STAGE / f"{STAGE}.ipynb")
    before = digest(path)
    lines = []
    assert selfcheck.self_check(STAGE, path, echo=lines.append), f"expected full marks, found {lines}"
    assert digest(path) == before, "expected the learner's notebook unchanged by the check"
    assert any(line.startswith("Score: 5/5") for line in lines), f"expected 'Score: 5/5', found {lines}"
    feedback = lines[-1].split("Feedback: ")[1].split(" (new")[0]
    assert open(feedback).read().count("Score") > 0, f"expected a feedback page at {feedback}"


def test_an_untouched_notebook_says_not_attempted_yet_per_exercise(tmp_path):
    path = write(catalogue.build_submission(STAGE, blank=True), tmp_path / f"{STAGE}.ipynb")
    lines = []
    assert not selfcheck.self_check(STAGE, path, echo=lines.append), "expected no full marks for a blank notebook"
    cells = [line for line in lines if line.startswith("  ")]
    assert len(cells) == 3 and all("not attempted yet" in line for line in cells), \
        f"expected 'not attempted yet' for each of the 3 exercises, found {cells}"
    assert not any("NotImplementedError" in line or "Traceback" in line for line in lines), f"found a traceback: {lines}"


def test_a_mistake_is_named(tmp_path):
    path = write(catalogue.build_submission(STAGE, ["sigmoid_sign_error"]), tmp_path / f"{STAGE}.ipynb")
    lines = []
    assert not selfcheck.self_check(STAGE, path, echo=lines.append)
    failed = [line for line in lines if "sigmoid_tests" in line]
    assert failed and "0/2" in failed[0] and "a sign error" in failed[0], f"expected the sign error named, found {failed}"


def test_a_renamed_notebook_saved_by_an_editor_that_drops_metadata_is_found_and_graded(tmp_path):
    nb = catalogue.build_submission(STAGE)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)  # as some editors do
    write(nb, tmp_path / "folder" / "my copy of the sigmoid notebook.ipynb")
    write(nbformat.v4.new_notebook(), tmp_path / "folder" / "scratch.ipynb")
    found = selfcheck.find_learner_notebook(STAGE, tmp_path / "folder")
    assert found.name == "my copy of the sigmoid notebook.ipynb", f"expected the renamed notebook, found {found}"
    lines = []
    assert selfcheck.self_check(STAGE, tmp_path / "folder", echo=lines.append), f"expected full marks, found {lines}"
    assert any("put back the grading information" in line for line in lines), f"expected a note on mended cells, found {lines}"


def test_the_renamed_notebook_rule_guesses_only_when_one_notebook_holds_exercises(tmp_path):
    folder = tmp_path / "handed-in"
    work = catalogue.build_submission(STAGE)
    work.cells = [c for c in work.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "sigmoid"]  # an id lost
    write(work, folder / "my work.ipynb")
    write(nbformat.v4.new_notebook(), folder / "scratch.ipynb")
    found = staging.renamed_notebook(folder, STAGE)
    assert found == folder / "my work.ipynb", f"expected the only notebook with exercises, found {found}"
    write(catalogue.build_submission(STAGE, blank=True), folder / "untouched release.ipynb")
    found = staging.renamed_notebook(folder, STAGE)
    assert found is None, f"expected no guess between two notebooks with exercises, found {found}"
    (folder / "untouched release.ipynb").unlink()
    (folder / "link.ipynb").symlink_to(folder / "my work.ipynb")
    os.mkfifo(folder / "pipe.ipynb")  # never opened: reading it would block
    found = staging.renamed_notebook(folder, STAGE)
    assert found == folder / "my work.ipynb", f"expected links and special files never taken, found {found}"


def test_no_notebook_or_several_give_a_clear_message(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(course.CourseError, match=r"rename your notebook to 01-sigmoid.ipynb"):
        selfcheck.find_learner_notebook(STAGE, tmp_path / "empty")
    for name in ("a.ipynb", "b.ipynb"):
        write(catalogue.build_submission(STAGE, blank=True), tmp_path / "two" / name)
    with pytest.raises(course.CourseError, match=r"several notebooks hold 01-sigmoid's exercises \(a.ipynb, b.ipynb\)"):
        selfcheck.find_learner_notebook(STAGE, tmp_path / "two")


def test_notebook_is_found_from_the_working_folder_and_from_the_stage_folder(tmp_path, monkeypatch):
    """NOTEBOOK=my-copy.ipynb finds JupyterLab's Duplicate in the stage's folder; a miss names every place tried."""
    release = tmp_path / "notebooks"
    monkeypatch.setattr(selfcheck, "RELEASE", release)
    copy = write(catalogue.build_submission(STAGE), release / STAGE / "my-copy.ipynb")
    mine = write(catalogue.build_submission(STAGE), tmp_path / "work" / "mine" / "sigmoid.ipynb")
    monkeypatch.chdir(tmp_path / "work")
    for given, expected in (("my-copy.ipynb", copy), ("my-copy", copy), ("mine/sigmoid.ipynb", mine),
                            (str(mine), mine), ("mine", mine)):
        found = selfcheck.find_learner_notebook(STAGE, given)
        assert found.resolve() == expected.resolve(), f"expected NOTEBOOK={given} to find {expected}, found {found}"
    with pytest.raises(course.CourseError) as raised:
        selfcheck.find_learner_notebook(STAGE, "nowhere.ipynb")
    message = str(raised.value)
    for place in (tmp_path / "work" / "nowhere.ipynb", release / STAGE / "nowhere.ipynb"):
        assert str(place) in message, f"expected the error to name {place}, found {message!r}"
    assert "no such folder" not in message, f"expected one error about the notebook, found {message!r}"


def test_two_checks_at_once_exit_0_and_1_do_not_collide_and_the_last_pages_are_kept(tmp_path):
    """Two learners' ``classroom.py check`` at once (one at full marks, one below them), then a notebook that is not there."""
    good = write(catalogue.build_submission(STAGE), tmp_path / "a" / f"{STAGE}.ipynb")
    wrong = write(catalogue.build_submission(STAGE, ["sigmoid_sign_error"]), tmp_path / "b" / f"{STAGE}.ipynb")
    script = str(course.AUTOGRADER / "classroom.py")
    runs = [subprocess.Popen([sys.executable, script, "check", STAGE, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for path in (good, wrong)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 1], \
        f"expected exit 0 at full marks and 1 below them, both graded, found {outputs}"
    pages = [line.split("Feedback: ", 1)[1].split(" (new")[0] for out, _ in outputs for line in out.splitlines()
             if line.startswith("Feedback: ")]
    assert len(set(pages)) == 2 and all(Path(p).is_file() for p in pages), f"expected two new feedback pages, found {pages}"
    kept = sorted((course.GRADING / "check" / STAGE / "feedback").glob("*.html"))
    assert len(kept) <= selfcheck.CHECK_HISTORY, f"expected at most {selfcheck.CHECK_HISTORY} pages kept, found {len(kept)}"
    missing = subprocess.run([sys.executable, script, "check", STAGE, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("error: "), \
        f"expected exit 2 with one error line, found {missing.returncode}: {missing.stderr!r}"


def test_a_warning_in_the_feedback_names_the_learners_line_not_the_sandbox_path(tmp_path):
    """Issue 19: a RuntimeWarning showed /tmp/firstneuron-kernel-…/work/ipykernel_…/….py:7 in the feedback."""
    stage = "02-propagate"
    nb = catalogue.build_submission(stage)
    cell = next(c for c in nb.cells if course.cell_grade_id(c) == "propagate")
    lines = cell.source.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "m = X.shape[1]")
    lines.insert(at + 1, "    _ = np.log(np.zeros(1))  # correct code that warns")
    cell.source = "\n".join(lines)
    path = write(nb, tmp_path / f"{stage}.ipynb")
    printed = []
    assert selfcheck.self_check(stage, path, echo=printed.append), f"expected full marks for correct code, found {printed}"
    page = Path(printed[-1].split("Feedback: ")[1].split(" (new")[0]).read_text()
    expected = f"line {at + 2} of your `propagate`: RuntimeWarning: divide by zero encountered in log"
    assert expected in page, f"expected the feedback to say {expected!r}, found {page.count('RuntimeWarning')} other warnings"
    assert "ipykernel_" not in page and "firstneuron-kernel-" not in page, "expected no scratch path in the feedback"
