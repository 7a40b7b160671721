"""The classroom path with nbgrader's own commands and its exchange, end to end.

An instructor and three students share one exchange directory (as they would on
a JupyterHub), here a folder in tmp_path:

    instructor: nbgrader generate_assignment, release_assignment
    students:   nbgrader fetch_assignment, (answer the notebook), submit
    instructor: nbgrader collect, autograde, generate_feedback, release_feedback
    students:   nbgrader fetch_feedback
    instructor: nbgrader export

The instructor works in a grading workspace (course.make_workspace: the
course's configuration, autograder/ on PYTHONPATH). Each student has a folder
of their own that is also their HOME (so their nbgrader cache, where `submit`
keeps the secret that `fetch_feedback` needs, is theirs alone), a
``~/.jupyter/nbgrader_config.py`` with nothing but the course id and the
exchange root, and an environment without autograder/ on PYTHONPATH.

How students are told apart: nbgrader's exchange names a submission after the
OS account that runs ``nbgrader submit`` (``pwd.getpwuid(os.getuid())``; the
USER variable is not read, and JUPYTERHUB_USER only for the account "jovyan").
All simulated students run under the one account of the test, so each passes
its id the way nbgrader supports for that case: ``--student=ID``
(CourseDirectory.student_id), which ``submit`` and ``fetch_feedback`` use
instead of the account name. For the same reason collect's owner cross-check
(ExchangeCollect.check_owner), which compares the id with the owner of the
submitted files, is switched off here; on a real hub it stays on.
"""
import csv
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import catalogue
import course
from conftest import visible_text

STAGE = "01-sigmoid"
COURSE = "firstneuron"

#: student id -> (variants of the catalogue in their answers, hands in the blank release, expected score)
STUDENTS = {
    "ada": ((), False, 5.0),                        # correct everywhere, saved under another name: full marks
    "ben": (("sigmoid_sign_error",), False, 3.0),   # e^z for e^-z: sigmoid's 2 points lost
    "cy": ((), True, 0.0),                          # the fetched notebook, untouched
}
#: student id -> the name their notebook was submitted under ("Save As" in Jupyter, the original deleted)
RENAMED = {"ada": f"{STAGE}-Copy1.ipynb"}


def submitted_name(student):
    """The name of the notebook `student` handed in."""
    return RENAMED.get(student, f"{STAGE}.ipynb")
MAX_SCORE = 5.0


def run(args, cwd, env, what, timeout=120):
    """Run ``python -m nbgrader ARGS`` in `cwd`; fail the test, with nbgrader's output, if it fails."""
    process = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    output = process.stdout + process.stderr
    assert process.returncode == 0, \
        f"expected `nbgrader {' '.join(args)}` ({what}) to succeed, found exit code {process.returncode}:\n{output}"
    return output


def instructor(args, workspace, what, module="nbgrader"):
    """An instructor command (``python -m nbgrader ...`` or ``python -m classroom ...``) in the workspace."""
    process = subprocess.run([sys.executable, "-m", module, *args], cwd=workspace, env=course.grading_env(),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    text = process.stdout + process.stderr
    assert process.returncode == 0, \
        f"expected `{module} {' '.join(args)}` ({what}) to succeed, found exit code {process.returncode}:\n{text}"
    return text


def student_env(home):
    """A student's environment: their own HOME, no autograder/ on PYTHONPATH, no inherited Jupyter paths."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUPYTER") and k not in ("PYTHONPATH", "HOME", "USER", "LOGNAME")}
    env.update(HOME=str(home), **course.HEADLESS)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def every_student(step):
    """Run `step(student)` for every student at once (they are separate people); re-raise any failure."""
    with ThreadPoolExecutor(max_workers=len(STUDENTS)) as pool:
        for future in [pool.submit(step, student) for student in STUDENTS]:
            future.result()


@pytest.fixture(scope="module")
def classroom_run(tmp_path_factory):
    """The whole round trip; returns the folders and how long it took."""
    root = tmp_path_factory.mktemp("exchange-class")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # what an administrator does once: writable by every account
    config = (f"c.CourseDirectory.course_id = {COURSE!r}\n"
              f"c.Exchange.root = {str(exchange)!r}\n")

    # Instructor: the course's configuration plus the exchange root.
    workspace = course.make_workspace(root / "instructor")
    (workspace / "logs").mkdir()
    with open(workspace / "nbgrader_config.py", "a") as f:
        f.write(config)
        # Every simulated student runs under the test's one OS account (see the module docstring).
        f.write("c.ExchangeCollect.check_owner = False\n")
    instructor(["generate_assignment", STAGE, "--force"], workspace, "create the release")
    instructor(["release_assignment", STAGE], workspace, "put the release in the exchange")

    # Students, each in their own folder and at the same time: fetch, answer, submit.
    homes = {student: root / "students" / student for student in STUDENTS}
    for home in homes.values():
        (home / ".jupyter").mkdir(parents=True)
        (home / ".jupyter" / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n" + config)

    def do_assignment(student):
        variants, blank, _ = STUDENTS[student]
        home, env = homes[student], student_env(homes[student])
        run(["fetch_assignment", STAGE], home, env, f"{student} fetches")
        fetched = course.notebook_path(home, STAGE)
        assert fetched.is_file(), f"expected {student}'s fetched notebook at {fetched}, found {sorted(home.rglob('*'))}"
        nb = catalogue.build_submission(STAGE, variants, blank, release_dir=home)
        course.write_notebook(nb, fetched)
        if student in RENAMED:
            fetched.rename(fetched.with_name(RENAMED[student]))
        run(["submit", STAGE, f"--student={student}"], home, env, f"{student} submits")

    every_student(do_assignment)

    # Instructor: collect, grade, feedback.
    collected = instructor(["collect", STAGE], workspace, "collect the submissions")
    graded = instructor(["grade", STAGE, "--course", str(workspace), "--force"], workspace,
                        "grade every submission, sandboxed, with feedback", module="classroom")
    instructor(["release_feedback", STAGE], workspace, "put the feedback in the exchange")

    # Students: fetch their feedback.
    every_student(lambda student: run(["fetch_feedback", STAGE, f"--student={student}"], homes[student],
                                      student_env(homes[student]), f"{student} fetches feedback"))

    instructor(["export", "--to=grades.csv"], workspace, "export the gradebook")
    return {"exchange": exchange, "workspace": workspace, "homes": homes, "collected": collected, "graded": graded}


def test_the_release_reached_the_exchange(classroom_run):
    outbound = classroom_run["exchange"] / COURSE / "outbound" / STAGE / f"{STAGE}.ipynb"
    assert outbound.is_file(), f"expected the released notebook at {outbound}, found it missing"
    inbound = classroom_run["exchange"] / COURSE / "inbound"
    mode = stat.S_IMODE(inbound.stat().st_mode)
    assert mode & 0o733 == 0o733 and not mode & 0o004, \
        f"expected the inbound folder writable but not listable by others (-wx), found mode {oct(mode)}"


def test_each_submission_is_in_the_exchange_under_its_student_id(classroom_run):
    inbound = classroom_run["exchange"] / COURSE / "inbound"
    owners = sorted(p.name.split("+")[0] for p in inbound.iterdir())
    assert owners == sorted(STUDENTS), f"expected one submission from each of {sorted(STUDENTS)}, found {owners}"


def test_collect_puts_each_submission_in_submitted(classroom_run):
    workspace = classroom_run["workspace"]
    for student in STUDENTS:
        path = workspace / "submitted" / student / STAGE / submitted_name(student)
        assert path.is_file(), f"expected `nbgrader collect` to write {path}, found it missing"
        assert (path.parent / "timestamp.txt").is_file(), f"expected the submission's timestamp.txt next to {path}"
        line = f"Collecting submission: {student} {STAGE}"
        assert line in classroom_run["collected"], \
            f"expected `nbgrader collect` to log {line!r}, found:\n{classroom_run['collected']}"


def test_each_student_fetched_their_own_feedback(classroom_run):
    for student, home in classroom_run["homes"].items():
        name = Path(submitted_name(student)).stem  # fetch_feedback names a page after the notebook handed in
        pages = sorted((home / STAGE / "feedback").glob(f"*/{name}.html"))
        assert len(pages) == 1, \
            f"expected one feedback page in {home / STAGE / 'feedback'}/TIMESTAMP/, found {[str(p) for p in pages]}"
        text = visible_text(pages[0].read_text())
        heading = f"{STAGE} (Score: {STUDENTS[student][2]:.1f} / {MAX_SCORE:.1f})"
        assert heading in text, f"expected {student}'s feedback to show the heading {heading!r}, found: {text[:200]!r}"


def test_feedback_names_the_mistake_and_hides_the_hidden_tests(classroom_run):
    page = next((classroom_run["homes"]["ben"] / STAGE / "feedback").glob(f"*/{STAGE}.html")).read_text()
    text = visible_text(page).lower()
    assert "likely mistake: a sign error" in text, \
        f"expected ben's feedback to name the sign error, found: {text[text.find('checkfailure'):][:300]!r}"
    for secret in ("BEGIN HIDDEN TESTS", "from checks import", "Traceback (most recent call last)"):
        assert secret not in page, f"expected no {secret!r} in the feedback a student fetches, found it"


def test_exported_grades_are_exact(classroom_run):
    path = classroom_run["workspace"] / "grades.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    expected_columns = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                        "email", "raw_score", "late_submission_penalty", "score", "max_score"]
    assert columns == expected_columns, f"expected the CSV columns {expected_columns}, found {columns}"
    found = {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"])) for r in rows}
    expected = {(STAGE, s): (score, MAX_SCORE) for s, (_, _, score) in STUDENTS.items()}
    assert found == expected, f"expected the exported (score, max_score) {expected}, found {found}"


def test_a_renamed_notebook_is_graded_and_flagged_for_review(classroom_run):
    for student, name in RENAMED.items():
        line = f"manual review: {student} {STAGE}: the notebook was named {name!r}; graded as {STAGE}.ipynb"
        assert line in classroom_run["graded"], \
            f"expected the grading summary to say {line!r}, found:\n{classroom_run['graded']}"
