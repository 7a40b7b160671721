"""The grading service (autograder/serve.py) on nbgrader's real exchange, end to end.

An instructor's course with an exchange (as tests/test_exchange.py sets one
up) is served by ``python -m classroom serve`` in the background.  Three
learners submit 02-propagate (correct, a catalogue mistake, a hostile case of
tests/hostile.toml) and fetch their feedback with ``nbgrader fetch_feedback``:
each page has the right score and diagnosis within 30 s.  Then the service
is killed with ``kill -9`` while it grades a new submission and started
again: nothing is lost, duplicated or graded twice.  The attempt limit
(3 per hour here) holds: the fourth submission within the hour gets a page
saying when it will be graded.
"""
import datetime
import hashlib
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest

import catalogue
import course
import sandbox
import serve
from hostile import CASES, WRONG
from conftest import visible_text
from test_hostile import with_cell_after

STAGE = "02-propagate"
COURSE = "firstneuron"
MAX_SCORE = 6.0
LIMIT = 3
#: Seconds a learner may wait for feedback (the issue's figure; FIRSTNEURON_PATIENCE on a machine loaded by others).
PATIENCE = float(os.environ.get("FIRSTNEURON_PATIENCE", 30))
#: Seconds the service may take to start (its imports).
STARTUP = 300
HOSTILE = next(case for case in CASES if case.id == "fake_checks_module")

pytestmark = pytest.mark.skipif(sandbox.available() is not None and not os.environ.get("CI"),
                                reason=f"no sandbox here: {sandbox.available()}")


def answer(student, release):
    """The notebook `student` hands in: correct, a catalogue mistake, or the hostile case (on `WRONG`)."""
    if student == "ben":
        return catalogue.build_submission(STAGE, ["dw_forgot_1_over_m"], release_dir=release)
    nb = catalogue.build_submission(STAGE, release_dir=release)
    if student == "eve":
        with_cell_after(nb, "propagate", HOSTILE.code)
        with_cell_after(nb, "propagate", WRONG)
    return nb


class Class:
    """The instructor's course, its exchange, the learners' homes and the service."""

    def __init__(self, root):
        self.root = root
        self.exchange = root / "exchange"
        self.exchange.mkdir()
        self.exchange.chmod(0o777)
        settings = f"c.CourseDirectory.course_id = {COURSE!r}\nc.Exchange.root = {str(self.exchange)!r}\n"
        self.workspace = course.make_workspace(root / "instructor", only=[STAGE])
        with open(self.workspace / "nbgrader_config.py", "a") as f:
            f.write(settings + "c.ExchangeCollect.check_owner = False\n"  # one OS account (test_exchange.py)
                    f"c.Serve.poll_interval = 0.5\nc.Serve.attempts_per_hour = {LIMIT}\n")
        course.generate_release(self.workspace, only=[STAGE])
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        config = course.load_course_config(self.workspace)
        released = NbGraderAPI(CourseDirectory(config=config), config=config).release_assignment(STAGE)
        assert released.get("success"), f"expected nbgrader's release_assignment to succeed, found {released}"
        self.homes = {}
        self.service = None
        self.logs = []

    def as_learner(self, app, student):
        """Run nbgrader's exchange app `app` (ExchangeFetchAssignment, ExchangeSubmit, ...) as `student`.

        In this process, with the learner's own folder and nbgrader cache (a
        ``nbgrader`` command per step would add its start-up, not its work;
        tests/test_exchange.py runs the commands).
        """
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        home = self.root / "students" / student
        config = Config()
        config.CourseDirectory.course_id = COURSE
        config.Exchange.root = str(self.exchange)
        config.Exchange.assignment_dir = str(home)
        config.Exchange.cache = str(home / "cache")
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id, coursedir.student_id = STAGE, student
        app(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
        return home

    def home(self, student):
        from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment

        if student not in self.homes:
            self.homes[student] = self.as_learner(ExchangeFetchAssignment, student)
        return self.homes[student]

    def start(self):
        log = self.root / f"serve-{len(self.logs) + 1}.log"
        self.logs.append(log)
        self.service = subprocess.Popen(
            [sys.executable, "-m", "classroom", "serve", "--course", str(self.workspace)], cwd=self.workspace,
            env=course.grading_env(), stdin=subprocess.DEVNULL, stdout=open(log, "w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + STARTUP
        while "serving " not in log.read_text():  # its imports done: it polls from now on
            assert self.service.poll() is None and time.monotonic() < deadline, \
                f"expected the service to start within {STARTUP} s, found:\n{log.read_text()}"
            time.sleep(0.2)

    def kill(self):
        os.killpg(self.service.pid, signal.SIGKILL)
        self.service.wait(timeout=30)

    def log(self, number):
        return self.logs[number - 1].read_text()

    def submit(self, student, nb):
        """`student` hands in `nb`; returns the exchange's path of the feedback page for this submission."""
        from nbgrader.exchange.default.submit import ExchangeSubmit

        home = self.home(student)
        course.write_notebook(nb, course.notebook_path(home, STAGE))
        self.as_learner(ExchangeSubmit, student)
        cache = home / "cache" / COURSE
        newest = max(cache.glob(f"{student}+{STAGE}+*"), key=lambda p: p.name.rsplit("+", 1)[-1])
        secret = (newest / "submission_secret.txt").read_text()
        page_id = hashlib.md5((secret + STAGE).encode()).hexdigest()  # nbgrader.utils.notebook_hash(secret=..)
        return self.exchange / COURSE / "feedback" / f"{page_id}.html"

    def feedback(self, student, released):
        """Wait (at most `PATIENCE` s) for the `released` page, then fetch it as the learner does; its text."""
        deadline = time.monotonic() + PATIENCE
        while not released.is_file():
            assert self.service.poll() is None, f"expected the service to keep running, found it ended:\n{self.log(len(self.logs))}"
            assert time.monotonic() < deadline, (f"expected {student}'s feedback within {PATIENCE} s of submitting, "
                                                 f"found none; service log:\n{self.log(len(self.logs))}")
            time.sleep(0.2)
        from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback

        home = self.as_learner(ExchangeFetchFeedback, student)
        pages = sorted((home / STAGE / "feedback").glob(f"*/{STAGE}.html"))
        assert pages, f"expected fetch_feedback to write {home / STAGE / 'feedback'}/TIMESTAMP/{STAGE}.html, found none"
        return visible_text(pages[-1].read_text())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    klass = Class(tmp_path_factory.mktemp("served-class"))
    release = klass.workspace / "notebooks"
    klass.start()
    try:
        for student in ("ada", "ben", "eve"):  # fetched before the service starts: the three submit at once
            klass.home(student)
        pages = {student: klass.submit(student, answer(student, release)) for student in ("ada", "ben", "eve")}
        texts = {student: klass.feedback(student, page) for student, page in pages.items()}
        yield klass, texts
    finally:
        if klass.service is not None and klass.service.poll() is None:
            klass.kill()


def score_line(score):
    return f"{STAGE} (Score: {score:.1f} / {MAX_SCORE:.1f})"


def test_each_learner_fetches_the_right_score_and_diagnosis(served):
    klass, texts = served
    for student, score in (("ada", 6.0), ("ben", 3.0), ("eve", 1.0)):
        assert score_line(score) in texts[student], \
            f"expected {student}'s fetched feedback to show {score_line(score)!r}, found: {texts[student][:300]!r}"
    assert "dw is missing the factor 1/m" in texts["ben"], \
        f"expected ben's feedback to name dw_forgot_1_over_m, found: {texts['ben'][:1500]!r}"
    for student, text in texts.items():
        assert "BEGIN HIDDEN TESTS" not in text and "from checks import" not in text, \
            f"expected no hidden test in {student}'s feedback, found one"


def test_one_log_line_per_graded_submission(served):
    klass, _ = served
    log = klass.log(1)
    for student, score in (("ada", 6), ("ben", 3), ("eve", 1)):
        lines = [line for line in log.splitlines() if f"  {student}  {STAGE}  " in line]
        assert len(lines) == 1 and f"{score}/6" in lines[0] and lines[0].endswith(" s"), \
            f"expected one log line 'TIME  {student}  {STAGE}  {score}/6  SECONDS s', found {lines}\nlog:\n{log}"


def test_kill_9_mid_grading_then_restart_loses_duplicates_and_regrades_nothing(served):
    klass, _ = served
    nb = answer("ada", klass.workspace / "notebooks")
    nb.cells.append(nbformat.v4.new_markdown_cell("A second try."))
    released = klass.submit("ada", nb)
    attempts = klass.workspace / serve.STATE / "ada" / STAGE / "attempts"
    deadline = time.monotonic() + PATIENCE
    while len(attempts.read_text().splitlines()) < 2:  # its grading has begun
        assert time.monotonic() < deadline, f"expected the service to start grading ada's second submission, " \
                                            f"found {attempts.read_text()!r}\nlog:\n{klass.log(1)}"
        time.sleep(0.05)
    klass.kill()
    assert not released.exists(), "expected the kill to land mid-grading (no feedback yet), found the page released"
    klass.start()
    text = klass.feedback("ada", released)
    assert score_line(6.0) in text, f"expected ada's second feedback to show {score_line(6.0)!r}, found {text[:300]!r}"
    time.sleep(2)  # a few more passes: nothing else may be graded
    log = klass.log(2)
    graded = [line for line in log.splitlines() if f"  {STAGE}  " in line]
    assert len(graded) == 1 and "  ada  " in graded[0], \
        f"expected the restarted service to grade only ada's interrupted submission, found {graded}"
    assert len(attempts.read_text().splitlines()) == 2, \
        f"expected ada's two submissions recorded once each, found {attempts.read_text()!r}"
    pages = sorted((klass.exchange / COURSE / "feedback").glob("*.html"))
    assert len(pages) == 4, f"expected 4 released pages (one per submission), found {len(pages)}: {pages}"
    with course.open_gradebook(klass.workspace) as gb:
        found = sorted((s.student_id, s.score) for s in gb.assignment_submissions(STAGE))
    assert found == [("ada", 6.0), ("ben", 3.0), ("eve", 1.0)], f"expected one gradebook entry per learner, found {found}"


def test_the_attempt_limit_holds(served):
    klass, _ = served
    nb = answer("ada", klass.workspace / "notebooks")
    nb.cells.append(nbformat.v4.new_markdown_cell("A third try."))
    text = klass.feedback("ada", klass.submit("ada", nb))  # the third within the hour: graded
    assert score_line(6.0) in text, f"expected ada's third submission graded, found {text[:300]!r}"
    with_cell_after(nb, "propagate", "# a fourth try")
    text = klass.feedback("ada", klass.submit("ada", nb))  # the fourth: past the limit
    assert "waiting to be graded" in text and "will be graded at" in text, \
        f"expected ada's fourth submission to get a page saying when it will be graded, found {text[:500]!r}"
    log = klass.log(len(klass.logs))
    assert f"ada  {STAGE}  waiting until" in log, f"expected the log to say ada waits, found:\n{log}"


def test_a_folder_still_being_written_is_left_for_the_next_pass(tmp_path):
    inbound = tmp_path / "inbound"
    name = f"ada+{STAGE}+2026-12-02 05:00:00.000000 UTC+abc"
    (inbound / name).mkdir(parents=True)
    (inbound / name / "timestamp.txt").write_text("2026-12-02 05:00:00.000000 UTC")
    found = serve.inbound_submissions(inbound, {STAGE})
    assert found == {}, f"expected a submission without its secret to wait, found {found}"
    (inbound / name / "submission_secret.txt").write_text("f" * serve.SECRET_LENGTH)
    found = serve.inbound_submissions(inbound, {STAGE})
    expected = datetime.datetime(2026, 12, 2, 5, 0, tzinfo=datetime.timezone.utc)
    assert [(s.student, s.timestamp) for s in found.values()] == [("ada", expected)], \
        f"expected ada's complete submission of 05:00 UTC, found {found}"


def test_attempt_window(tmp_path):
    records = serve.Records(tmp_path, "ada", STAGE)
    now = 10_000.0
    for i, began in enumerate((now - 4000, now - 3000, now - 100)):
        records.add_attempt(f"t{i}", began)
    records.add_attempt("t2", now)  # the same submission again (a restart): counted once
    assert records.next_free("t3", 2, now) == now - 3000 + serve.WINDOW, \
        f"expected the window to free when the older of the last 2 attempts is an hour old, " \
        f"found {records.next_free('t3', 2, now)}"
    assert records.next_free("t3", 3, now) is None, "expected a third attempt in the hour allowed at a limit of 3"
    assert records.next_free("t2", 1, now) is None, "expected a submission whose grading began to be finished"
    assert records.next_free("t3", 0, now) is None, "expected no limit at attempts_per_hour = 0"
