"""The grading service: every submission in nbgrader's exchange graded and its feedback released, seconds later.

``python -m classroom serve [--course DIR] [--stage S ...] [--once]`` (``make serve``)
polls the exchange's inbound every `Serve.poll_interval` seconds.  For each
learner and stage it takes the newest complete submission and:

1. collects it with nbgrader's own collect, for that learner only
   (``NbGraderAPI.collect(stage, update=True)`` with the course directory's
   ``student_id`` set);
2. grades it with the class driver (`grading.grade_class`: the same trust
   boundary, sandbox, warm kernels and executor as ``make grade``), which
   writes the gradebook, the feedback page and the ``.graded`` mark;
3. releases the feedback to that learner with nbgrader's own
   ``NbGraderAPI.release_feedback(stage, student)``, so the Assignment List's
   "Fetch Feedback" (or ``nbgrader fetch_feedback``) shows it.

A learner who has had `Serve.attempts_per_hour` submissions of one stage
graded in the last hour gets, for the next one, a released page saying when it
will be graded; it is graded then (the newest submission by that time).

What is done is read from files, never kept in memory: the exchange's
timestamps, ``submitted/`` (nbgrader's ``timestamp.txt``), the ``.graded``
marks and feedback folders, and this service's own records in
``COURSE/.serve/STUDENT/STAGE/`` (``attempts``: the submissions whose grading
began, with the time; ``released``, ``failed``: the submission's timestamp).
A service killed at any moment and started again loses, duplicates and
regrades nothing.  The course lock (``COURSE/.grading.lock``) is held while
a pass collects, grades and releases, so ``make grade`` is refused meanwhile
(and a pass waits while ``make grade`` runs).
"""
import contextlib
import datetime
import html
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import Configurable

import grading
from classroom import GRADING_LOCK
from course import CourseError, last_error_line, load_course_config, locked
from results import Outcome
from staging import GradingError, notebook_hash

#: The service's records, in the course folder.
STATE = ".serve"
#: The window of `Serve.attempts_per_hour`, in seconds.
WINDOW = 3600
#: Characters of nbgrader's submission secret (``secrets.token_hex(64)``): written last by ``nbgrader submit``.
SECRET_LENGTH = 128


class Serve(Configurable):
    """Policy of the grading service (``c.Serve.*`` in ``nbgrader_config.py``)."""

    attempts_per_hour = Int(6, help=(
        "Submissions of one stage graded per learner in any hour (default 6; 0: no limit). "
        "A submission past it is collected at once, its learner's released feedback says when "
        "it will be graded, and it is graded then (the newest one by that time).")).tag(config=True)
    release_feedback = Bool(True, help=(
        "Release each feedback page to its learner as soon as it is generated (default True). "
        "False: grade only; the instructor releases with `nbgrader release_feedback`.")).tag(config=True)
    stages = List(Unicode(), help=(
        "The stages served, e.g. ['01-sigmoid', '02-propagate'] (default []: every stage "
        "released to the exchange). `--stage` on the command line overrides it.")).tag(config=True)
    poll_interval = Float(2.0, help=(
        "Seconds between two looks at the exchange's inbound (default 2.0).")).tag(config=True)


@dataclass(frozen=True)
class Submission:
    """One complete submission in the exchange's inbound."""

    student: str
    stage: str
    timestamp: datetime.datetime
    path: Path


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(text):
    """A timestamp of nbgrader's (as it writes them) as an aware UTC datetime."""
    from nbgrader.utils import parse_utc

    moment = parse_utc(text)
    return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment.astimezone(datetime.timezone.utc)


def inbound_submissions(inbound, stages):
    """The newest complete submission of each ``(student, stage)`` in the exchange's `inbound` folder.

    A folder is complete once ``nbgrader submit`` wrote its secret (the last
    file it writes); a folder still being copied is left for the next pass.
    """
    newest = {}
    if not inbound.is_dir():
        return newest
    for path in inbound.iterdir():
        parts = path.name.rsplit("+", 3)
        if len(parts) != 4 or parts[1] not in stages:
            continue
        secret = path / "submission_secret.txt"
        try:
            complete = secret.is_file() and len(secret.read_text().strip()) >= SECRET_LENGTH
            timestamp = parse_time(parts[2])
        except (OSError, ValueError, OverflowError):
            continue
        if not complete:
            continue
        key = (parts[0], parts[1])
        if key not in newest or timestamp > newest[key].timestamp:
            newest[key] = Submission(parts[0], parts[1], timestamp, path)
    return newest


def read_timestamp(folder):
    """nbgrader's ``timestamp.txt`` in `folder` as a UTC datetime, or None."""
    try:
        return parse_time((Path(folder) / "timestamp.txt").read_text().strip())
    except (OSError, ValueError, OverflowError):
        return None


def same_files(source, copy):
    """True when every file of the folder `source` is in `copy` with the same size (a finished copy)."""
    for path in Path(source).rglob("*"):
        if path.is_file():
            other = Path(copy) / path.relative_to(source)
            if not other.is_file() or other.stat().st_size != path.stat().st_size:
                return False
    return True


class Records:
    """The service's records of one learner's stage, in ``COURSE/.serve/STUDENT/STAGE/``."""

    def __init__(self, course, student, stage):
        self.folder = Path(course) / STATE / student / stage

    def read(self, name):
        with contextlib.suppress(OSError):
            return (self.folder / name).read_text().strip()
        return ""

    def write(self, name, text):
        """Replace the record `name` at once (a crash leaves the old or the new one, never half)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{name}.tmp"
        temporary.write_text(text + "\n")
        os.replace(temporary, self.folder / name)

    def attempts(self):
        """``{submission timestamp: epoch seconds its grading began}``."""
        found = {}
        for line in self.read("attempts").splitlines():
            key, _, began = line.rpartition("\t")
            with contextlib.suppress(ValueError):
                found[key] = float(began)
        return found

    def add_attempt(self, key, began):
        attempts = self.attempts()
        if key not in attempts:
            attempts[key] = began
            self.write("attempts", "\n".join(f"{k}\t{v:.3f}" for k, v in attempts.items()))

    def next_free(self, key, limit, now):
        """None when the submission `key` may be graded at `now` (epoch s), else the epoch when it may."""
        if limit <= 0:
            return None
        attempts = self.attempts()
        if key in attempts:  # its grading began already (then the service stopped): finish it
            return None
        recent = sorted(began for began in attempts.values() if now - began < WINDOW)
        if len(recent) < limit:
            return None
        return recent[-limit] + WINDOW


def notice_page(stage, title, lines):
    """A small feedback page of the service's own (no learner content in it)."""
    body = "".join(f"<p>{html.escape(line)}</p>\n" for line in lines)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(stage)}</title></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n")


def clock(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%H:%M:%S UTC")


class Service:
    """One grading service on an nbgrader course with an exchange; `run` polls, `one_pass` does one pass."""

    def __init__(self, course, stages=None, overrides=None, echo=print):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        self.course = Path(course).resolve()
        if not (self.course / "nbgrader_config.py").is_file():
            raise CourseError(f"{self.course / 'nbgrader_config.py'}: not an nbgrader course folder")
        self.overrides = overrides  # the command line's settings (classroom.flag_settings)
        self.config = load_course_config(self.course, overrides)
        self.settings = Serve(config=self.config)
        self.grading = grading.Grading(config=self.config)
        self.api = NbGraderAPI(CourseDirectory(config=self.config), config=self.config)
        self.coursedir = self.api.coursedir
        course_id = self.coursedir.course_id
        root = self.api.exchange.Collect(coursedir=self.coursedir, authenticator=self.api.authenticator,
                                         parent=self.api).root
        if not course_id:
            raise CourseError(f"{self.course / 'nbgrader_config.py'}: no CourseDirectory.course_id; "
                              "the exchange needs one")
        self.exchange = Path(root) / course_id
        self.wanted = list(stages or self.settings.stages)
        self.echo = echo
        self.executor = self.client = None
        self.waiting_for_lock = False
        self.done = set()  # (student, stage, timestamp) found finished: not read again (a cache; the files decide)

    # --- what there is to do ---------------------------------------------------------------

    def served_stages(self):
        """The stages served: those asked for, else every stage released to the exchange's outbound."""
        outbound = self.exchange / "outbound"
        released = sorted(p.name for p in outbound.iterdir() if p.is_dir()) if outbound.is_dir() else []
        return self.wanted or released

    def submitted_folder(self, student, stage):
        return Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, stage))

    def feedback_folder(self, student, stage):
        return Path(self.coursedir.format_path(self.coursedir.feedback_directory, student, stage))

    def collected(self, submission):
        """True when `submission` is the one in ``submitted/`` (nbgrader's timestamp, every file copied)."""
        folder = self.submitted_folder(submission.student, submission.stage)
        return read_timestamp(folder) == submission.timestamp and same_files(submission.path, folder)

    def graded(self, student, stage):
        """True when the collected submission is graded: its ``.graded`` mark and its feedback's timestamp."""
        folder = self.submitted_folder(student, stage)
        mark = self.course / "autograded" / student / stage / grading.DONE_MARK
        try:
            done = mark.read_text().strip() == notebook_hash(folder)
        except OSError:
            return False
        return done and read_timestamp(self.feedback_folder(student, stage)) == read_timestamp(folder)

    # --- one pass -----------------------------------------------------------------------------

    def one_pass(self):
        """Collect, grade and release whatever is new; returns the outcomes graded in this pass."""
        stages = self.served_stages()
        newest = inbound_submissions(self.exchange / "inbound", set(stages))
        pending = []
        for submission in newest.values():
            key = (submission.student, submission.stage, submission.timestamp)
            if key in self.done:
                continue
            if self._finished(submission):
                if self._limited(submission) is None:  # a waiting one is looked at again when its time comes
                    self.done.add(key)
                continue
            pending.append(submission)
        if not pending:
            return []
        busy = ("{path}: another grader (process {pid}) is grading this course; "
                "the service grades once it has finished")
        try:
            with locked(self.course / GRADING_LOCK, wait=False, busy=busy):
                self.waiting_for_lock = False
                return self._work(pending)
        except CourseError as error:
            if "another grader" not in str(error):
                raise
            if not self.waiting_for_lock:
                self.echo(f"{stamp()}  waiting: {error}")
            self.waiting_for_lock = True
            return []

    def _finished(self, submission):
        records = Records(self.course, submission.student, submission.stage)
        key = submission.timestamp.isoformat()
        if not self.collected(submission):
            return False
        if records.read("failed") == key:
            return True
        if not self.graded(submission.student, submission.stage):
            return records.read("notice") == key and self._limited(submission) is not None
        return not self.settings.release_feedback or records.read("released") == key

    def _limited(self, submission):
        """None when `submission` may be graded now, else the epoch when it may (`Serve.attempts_per_hour`).

        A notebook identical to the one graded last is not another attempt.
        """
        mark = self.course / "autograded" / submission.student / submission.stage / grading.DONE_MARK
        with contextlib.suppress(OSError):
            if mark.read_text().strip() == notebook_hash(self.submitted_folder(submission.student, submission.stage)):
                return None
        records = Records(self.course, submission.student, submission.stage)
        return records.next_free(submission.timestamp.isoformat(), self.settings.attempts_per_hour, time.time())

    def _work(self, pending):
        for submission in pending:
            if not self.collected(submission):
                self._collect(submission)
        to_grade = {}
        for submission in pending:
            student, stage = submission.student, submission.stage
            records = Records(self.course, student, stage)
            key = submission.timestamp.isoformat()
            if not self.collected(submission) or records.read("failed") == key:
                continue
            if self.graded(student, stage):
                self._release(submission, "released")  # graded before a restart, not yet released
                continue
            free_at = self._limited(submission)
            if free_at is not None:
                if records.read("notice") != key:
                    self._notice(submission, free_at)
                continue
            records.add_attempt(key, time.time())
            to_grade.setdefault(stage, []).append(submission)
        submissions = sorted((s for group in to_grade.values() for s in group), key=lambda s: s.timestamp)
        return self._grade(submissions) if submissions else []

    def _collect(self, submission):
        from nbgrader.utils import temp_attrs  # what nbgrader's API uses to aim at one student

        with temp_attrs(self.coursedir, student_id=submission.student):
            result = self.api.collect(submission.stage, update=True)
        if not result or not result.get("success"):
            reason = last_error_line((result or {}).get("error") or (result or {}).get("log") or "collect failed")
            self.echo(f"{stamp()}  {submission.student}  {submission.stage}  not collected: {reason}")

    def _grade(self, submissions):
        """Grade `submissions` (of any stages) in one pass of the class driver; each is released as soon as
        its feedback is written, while the others are graded.  A pass that breaks is graded one by one."""
        by_key = {(s.student, s.stage): s for s in submissions}
        handled = set()

        def done(outcome):
            submission = by_key.get((outcome.student, outcome.stage))
            if submission is not None:
                handled.add(id(submission))
                self._after_grading(submission, outcome)

        try:
            outcomes = self._grade_class(submissions, done)
        except Exception as error:  # a worker lost, the executor broken: each alone, on a fresh executor
            self._stop_executor()
            left = [s for s in submissions if id(s) not in handled]
            if len(submissions) == 1:
                outcomes = [Outcome(s.student, s.stage, False, f"{type(error).__name__}: {error}"[:300])
                            for s in left]
            else:
                outcomes = []
                for submission in left:
                    outcomes += self._grade([submission])
                return outcomes
        for outcome in outcomes:  # those not graded (done was called for the others)
            submission = by_key.get((outcome.student, outcome.stage))
            if submission is not None and id(submission) not in handled:
                handled.add(id(submission))
                self._after_grading(submission, outcome)
        return outcomes

    def _grade_class(self, submissions, on_done):
        if self.executor is None:
            self.executor, self.client = grading.make_executor(self.grading.workers, self.grading.scheduler)
        stages = {}
        for submission in submissions:
            stages.setdefault(submission.stage, []).append(submission.student)
        return grading.grade_stages(self.course, stages, force=True, executor=self.executor, overrides=self.overrides,
                                    progress=False, echo=lambda line: None, on_done=on_done)

    def _after_grading(self, submission, outcome):
        records = Records(self.course, submission.student, submission.stage)
        key = submission.timestamp.isoformat()
        latency = (utc_now() - submission.timestamp).total_seconds()
        if outcome.graded:
            released = self._release(submission, "released") if self.settings.release_feedback else False
            latency = (utc_now() - submission.timestamp).total_seconds()
            self.echo(f"{stamp()}  {outcome.student}  {outcome.stage}  {outcome.score:g}/{outcome.max_score:g}  "
                      f"{latency:.1f} s{'' if released or not self.settings.release_feedback else '  (not released)'}")
            return
        records.write("failed", key)
        self.echo(f"{stamp()}  {outcome.student}  {outcome.stage}  not graded  {latency:.1f} s  {outcome.reason}")
        self._notice(submission, None)

    def _release(self, submission, record):
        """nbgrader's release_feedback for that learner; the record says which submission it was."""
        if record == "released" and not self.settings.release_feedback:
            return False
        result = self.api.release_feedback(submission.stage, submission.student)
        if not result or not result.get("success"):
            reason = last_error_line((result or {}).get("error") or (result or {}).get("log") or "release failed")
            self.echo(f"{stamp()}  {submission.student}  {submission.stage}  feedback not released: {reason}")
            return False
        Records(self.course, submission.student, submission.stage).write(record, submission.timestamp.isoformat())
        return True

    def _notice(self, submission, free_at):
        """Release a page of the service's own for `submission`: when it will be graded, or that it could not be."""
        student, stage = submission.student, submission.stage
        submitted = self.submitted_folder(student, stage)
        when = submission.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")
        if free_at is None:
            title = f"{stage}: not graded automatically"
            lines = [f"Your submission of {when} could not be graded automatically.",
                     "Your instructor has been told and will grade it by hand; you can also submit again."]
        else:
            limit = self.settings.attempts_per_hour
            title = f"{stage}: waiting to be graded"
            lines = [f"Your submission of {when} is in the queue: {limit} submissions of {stage} per hour are "
                     f"graded, and you had {limit} graded in the last hour.",
                     f"It will be graded at {clock(free_at)} (the newest submission you have made by then); "
                     "fetch the feedback again after that time."]
        page = notice_page(stage, title, lines)
        feedback = self.feedback_folder(student, stage)
        if feedback.exists():
            shutil.rmtree(feedback)
        feedback.mkdir(parents=True)
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(submitted / name, feedback / name)
        for notebook in sorted(submitted.glob("*.ipynb")):  # the page fetch_feedback looks for: one per notebook
            (feedback / f"{notebook.stem}.html").write_text(page)
        if self.settings.release_feedback or free_at is not None:
            self._release(submission, "notice" if free_at is not None else "released")
        if free_at is not None:
            self.echo(f"{stamp()}  {student}  {stage}  waiting until {clock(free_at)} "
                      f"({self.settings.attempts_per_hour} graded in the last hour)")

    # --- the loop -------------------------------------------------------------------------------

    def run(self, once=False):
        """Poll until stopped (Ctrl-C, SIGTERM) or, with `once`, do one pass."""
        self.echo(f"{stamp()}  serving {self.course} (exchange {self.exchange}): stages "
                  f"{', '.join(self.served_stages()) or '(none released yet)'}; every {self.settings.poll_interval:g} s, "
                  f"{self.settings.attempts_per_hour or 'unlimited'} graded attempts per hour, feedback "
                  f"{'released at once' if self.settings.release_feedback else 'kept for the instructor'}")
        try:
            while True:
                started = time.monotonic()
                try:
                    self.one_pass()
                except (OSError, CourseError, GradingError) as error:  # the next pass tries again
                    self.echo(f"{stamp()}  pass failed, trying again: {last_error_line(error)}")
                if once:
                    return
                time.sleep(max(0.0, self.settings.poll_interval - (time.monotonic() - started)))
        finally:
            self._stop_executor()

    def _stop_executor(self):
        if self.executor is not None:
            with contextlib.suppress(Exception):  # a broken pool cannot be shut down cleanly
                grading.stop_executor(self.executor, [], self.client)
        self.executor = self.client = None


def stamp():
    return utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")


def serve(course, stages=None, once=False, overrides=None, echo=None):
    """Run the grading service on `course` (see the module's docstring); returns when stopped or after `once`.

    `overrides` are settings over the course's ``nbgrader_config.py``, e.g.
    ``{"Grading": {"workers": 2}, "TrustedExecute": {"sandbox": False}}`` (the command line's flags).
    """
    echo = echo or (lambda line: print(line, flush=True))
    Service(course, stages, overrides, echo).run(once)


if __name__ == "__main__":
    sys.exit("run it as: python -m classroom serve [--course DIR] [--stage S ...] [--once]")
