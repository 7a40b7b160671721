"""Grade a class: every core (or a Dask cluster), sandboxed kernels, one writer of the gradebook.

The driver (`grade_stages`, `grade_class` for one stage) works in an nbgrader
course folder (``source/`` here called ``solutions/``,
``submitted/STUDENT/STAGE/``, the gradebook):

1. For each submission it builds what nbgrader's ``autograde`` would run
   (staging.py: a mended copy, the notebook after nbgrader's own sanitizing
   preprocessors, the folder's files with the course's ``given.py``) and
   sends it, as plain data, to an executor: a local process pool
   (``Grading.workers``, default: every core) or a Dask cluster
   (``Grading.scheduler``).
2. A worker (worker.py) runs the notebook with `trusted.TrustedExecute`
   (sandboxed kernel, hidden checks outside it) and sends back the executed
   notebook.
3. As results come back, the driver leaves each executed notebook in the
   staging folder and runs nbgrader's real ``autograde`` for that student in
   its own process, with `ReplayExecute` in place of nbgrader's ``Execute``
   (it hands over the worker's outputs), so nbgrader writes the autograded
   notebook, the grades and late penalties; `FeedbackPass` then generates the
   feedback while the others are graded.  Only the driver writes the gradebook.
4. Each graded submission's `results.Outcome` is read from the gradebook.

A submission is marked done (``autograded/STUDENT/STAGE/.graded``, holding the
submitted notebook's hash) only after its feedback is written, so a driver
killed at any point loses nothing on a rerun, which skips what is done.
"""
import concurrent.futures
import contextlib
import os
import shutil
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, Unicode, default
from traitlets.config import Config, Configurable

import cells
import worker
from course import last_error_line, load_course_config
from results import Outcome, grading_summary, read_outcomes
from staging import (STAGING, GradingError, executed_path, folder_files, notebook_hash, renamed_notebook, sanitized,
                     stage_submission, submissions_of)

DONE_MARK = ".graded"
QUARANTINED = ".quarantined"


class Grading(Configurable):
    """Settings of class grading (``c.Grading.*`` in ``nbgrader_config.py``; ``make grade`` flags map onto them)."""

    workers = Integer(0, help="Local worker processes grading at once (0: every core). "
                      "Command line: --workers.").tag(config=True)
    scheduler = Unicode("", help="A Dask scheduler's address, e.g. tcp://10.0.0.5:8786: grade on that cluster "
                        "instead of local workers ('': local). Command line: --scheduler.").tag(config=True)
    max_folder_bytes = Integer(64 * 1024**2, help="Bytes of a submission's files (besides its notebook) sent to "
                               "a worker, at most; files past them stay behind. Default: 64 MiB.").tag(config=True)
    quarantine_after = Integer(2, help="Deaths of a grader's worker while grading one version of a submission "
                               "after which it is quarantined for manual review (graded again only with "
                               "--force). Default: 2.").tag(config=True)
    seed = Integer(None, allow_none=True, help="The hidden checks' random seed, for reproducible grading (None: a "
                   "fresh seed per check). Default: the environment variable FIRSTNEURON_SEED.").tag(config=True)

    @default("seed")
    def _seed_from_environment(self):
        value = os.environ.get("FIRSTNEURON_SEED", "")
        try:
            return int(value) if value else None
        except ValueError:
            raise GradingError(f"FIRSTNEURON_SEED={value!r}: the hidden checks' seed is a whole number") from None


# nbgrader's own gradebook code trips this SQLAlchemy warning on every submission; it is noise here.
warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")


class InlineExecutor(concurrent.futures.Executor):
    """An executor that runs each task at once, in this process (one submission: no worker to start)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # the future carries it, as a pool's would
            future.set_exception(error)
        return future


class ReplayExecute(NbGraderPreprocessor):
    """nbgrader's Execute step, for notebooks a worker already ran: hands over the worker's outputs.

    The driver writes each worker's executed notebook to the staging folder
    (`staging.executed_path` under `course`) before calling nbgrader's
    autograde for that student; this step reads it and removes it.
    """

    course = Unicode("", help="The course folder whose staging folder holds the executed notebooks "
                     "(set by the grading driver).").tag(config=True)

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        key = (meta["student"], meta["assignment"], meta["notebook"])
        path = executed_path(self.course, *key)
        if not path.is_file():
            raise GradingError(f"no executed notebook for {key}")
        executed = nbformat.read(str(path), as_version=4)
        path.unlink()
        if [c.source for c in executed.cells] != [c.source for c in nb.cells]:
            raise GradingError(f"{'/'.join(key)}: the notebook changed while it was graded")
        for cell, done in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = done.outputs
                cell.execution_count = done.get("execution_count")
            if cells.METADATA_KEY in done.metadata:  # the hidden checks' diagnoses (learner.run_hidden)
                cell.metadata[cells.METADATA_KEY] = done.metadata[cells.METADATA_KEY]
        nb.metadata["language_info"] = executed.metadata.get("language_info", {"name": "python"})
        return nb, resources


def replay_steps(config):
    """nbgrader's autograde preprocessors of `config` with `ReplayExecute` in place of its Execute step.

    The step replaced is found by its class (nbgrader's ``Execute`` or a subclass, such as
    `trusted.TrustedExecute`); a list without one, or with several, raises GradingError.
    """
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute
    from traitlets.utils.importstring import import_item

    steps = config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()["autograde_preprocessors"].default()
    classes = [import_item(step) if isinstance(step, str) else step for step in steps]
    found = [i for i, cls in enumerate(classes) if isinstance(cls, type) and issubclass(cls, Execute)]
    if len(found) != 1:
        raise GradingError(f"c.Autograde.autograde_preprocessors has {len(found)} Execute steps (nbgrader's Execute "
                           "or trusted.TrustedExecute); the grader replaces exactly one")
    return [ReplayExecute if i == found[0] else step for i, step in enumerate(steps)]


def make_executor(workers=None, scheduler=None):
    """The executor: a Dask cluster's (`scheduler` address) or a local process pool of `workers`.

    Returns
    -------
    executor : concurrent.futures.Executor
    client : distributed.Client or None
        The Dask client, to close after the executor (None for the local pool).

    On Dask, every task is impure (``pure=False``: two identical notebooks
    are two tasks), and a task whose worker died (killed, restarted by its
    nanny) is run again on another worker by the scheduler, up to its
    ``distributed.scheduler.allowed-failures``; its future gets one result,
    so the submission is recorded once.  The workers import worker.py by
    name: start them with ``PYTHONPATH=.../autograder`` (docs/instructor.md §8).
    """
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise GradingError(f"--scheduler {scheduler}: no Dask scheduler answers there: {error}") from error
        return client.get_executor(pure=False), client
    workers = workers or os.cpu_count() or 1
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=worker.worker_init,
                                                  initargs=(os.getpid(),), mp_context=process_context())
    return pool, None


#: What the server that starts the grading processes imports once, so that each process it forks
#: starts with them: the worker's (nbclient, the checks, the sandbox) and the feedback's (nbgrader's
#: exporters).  Imported in each new process, they cost 2 to 3 s of CPU.
PRELOAD = ["__main__", "worker", "trusted", "feedback_filter", "nbgrader.apps"]


def process_context():
    """How the grading and feedback processes start: forked from multiprocessing's fork server.

    The fork server is one process per driver, started with nothing of the driver
    but its path (no threads, no open gradebook, no kernel), with `PRELOAD` imported.
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def stop_executor(executor, pending, client=None):
    """Cancel the `pending` futures not started yet, wait for the running ones, then shut `executor` down.

    Works with a local process pool and with Dask's ``ClientExecutor`` (whose
    ``shutdown`` has no ``cancel_futures``; cancelling its future cancels the
    task on the cluster).  `client`, the Dask client, is closed last.
    """
    for future in list(pending):
        future.cancel()
    try:
        executor.shutdown(wait=True)
    finally:
        if client is not None:
            client.close()


@dataclass
class Job:
    """One submission sent to a worker, kept until its result is in (to send it again if its worker dies)."""

    student: str
    stage: str
    folder: Path
    digest: str
    note: str
    notebook: str
    files: dict
    sent: int = 0  # times sent to a worker

    @property
    def key(self):
        """``STUDENT/STAGE``: which submission a worker holds (its claim)."""
        return f"{self.student}/{self.stage}"


class WorkerPool:
    """The driver's executor; when a local worker dies, only the submission it held is lost.

    A local process pool breaks when one of its workers dies (killed, out of
    memory): every pending submission then fails with ``BrokenProcessPool``.
    Each worker writes the submission it holds to ``claims/PID``
    (`worker.execute_submission`).  After a break, the workers that died by
    themselves (not terminated by the broken pool, with ``SIGTERM``) name the
    submissions that killed them; the pool is replaced and every other
    pending submission is sent again.  Nobody is blamed when that is not
    certain.

    Parameters
    ----------
    executor : concurrent.futures.Executor
    replace : callable, optional
        Returns a new executor for a broken one (None: a broken pool is not replaced).
    claims : path, optional
        The folder where local workers say what they hold (None: Dask, or an executor of the caller's).
    """

    #: Times a submission is sent again after breaks it did not cause.
    MAX_SENDS = 4

    def __init__(self, executor, replace=None, claims=None):
        self.executor, self.replace, self.claims = executor, replace, claims
        self.pending = {}
        if claims is not None:
            Path(claims).mkdir(parents=True, exist_ok=True)

    def submit(self, job, settings):
        job.sent += 1
        claim = (str(self.claims), job.key) if self.claims is not None else None
        future = self.executor.submit(worker.execute_submission, job.notebook, job.files, settings, claim)
        self.pending[future] = (job, settings)

    def results(self):
        """``(job, result)`` as each result comes in; a job lost with a dead worker gets ``{"error", "died"}``."""
        from concurrent.futures.process import BrokenProcessPool

        while self.pending:
            done, _ = concurrent.futures.wait(self.pending, return_when=concurrent.futures.FIRST_COMPLETED)
            if any(not f.cancelled() and isinstance(f.exception(), BrokenProcessPool) for f in done):
                yield from self._after_break()
                continue
            for future in done:
                job, _ = self.pending.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # a worker lost on a cluster, a result that could not travel
                    result = {"error": f"the grader's worker failed: {type(error).__name__}: {error}"[:500]}
                yield job, result

    def _after_break(self):
        from concurrent.futures.process import BrokenProcessPool

        culprits = self._culprits()
        broken = [f for f in self.pending
                  if f.done() and not f.cancelled() and isinstance(f.exception(), BrokenProcessPool)]
        lost = [self.pending.pop(f) for f in broken]
        if self.replace is not None:
            with contextlib.suppress(Exception):
                self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = self.replace()
        for job, settings in lost:
            if job.key in culprits:
                yield job, {"error": "the grader's worker died while grading it (killed, or out of memory)",
                            "died": True}
            elif self.replace is None or job.sent >= self.MAX_SENDS:
                yield job, {"error": "the grader's worker died (not while it graded this submission, as far as "
                                     "can be told): grade it again"}
            else:
                self.submit(job, settings)

    def _culprits(self):
        """Keys of the submissions held by workers that died by themselves (the pool SIGTERMs the others)."""
        processes = dict(getattr(self.executor, "_processes", None) or {})
        found = set()
        for pid, process in processes.items():
            process.join(timeout=30)
            if self.claims is None:
                continue
            claim = Path(self.claims) / str(pid)
            with contextlib.suppress(OSError):
                if process.exitcode not in (None, 0, -signal.SIGTERM):
                    found.add(claim.read_text())
                claim.unlink()  # the pid may come back as a new worker's
        return found


def worker_deaths(course, student, stage, digest, settings, add=False):
    """Times this version (`digest`) of a submission killed a grader's worker; with `add`, one more, recorded.

    The count is kept in ``autograded/STUDENT/STAGE/.worker-deaths``; from
    ``settings.quarantine_after`` deaths on (`Grading`), ``.quarantined`` there says the submission waits for
    a person (`grade_class` skips it unless forced).
    """
    folder = Path(course) / "autograded" / student / stage
    record = folder / ".worker-deaths"
    seen, count = "", 0
    with contextlib.suppress(OSError, ValueError):
        seen, count = record.read_text().split()
        count = int(count)
    count = count if seen == digest else 0
    if add:
        count += 1
        folder.mkdir(parents=True, exist_ok=True)
        record.write_text(f"{digest} {count}\n")
        if count >= settings.quarantine_after:
            (folder / QUARANTINED).write_text(f"{digest}\nit killed the grader's worker {count} times: look at it, "
                                               "then grade it with --force\n")
    return count


def grade_class(course, stage, students=None, **options):
    """Grade every submission of `stage` in the nbgrader course folder `course` (`grade_stages` of one stage).

    `stage` is the assignment, e.g. ``"02-propagate"``; `students` only these
    students (default: everyone who submitted); `options` as for `grade_stages`.

    Returns
    -------
    outcomes : list of Outcome
    """
    return grade_stages(course, {stage: students}, **options)


@dataclass
class Graded:
    """A submission nbgrader autograded, waiting for its feedback page (`FeedbackPass`)."""

    student: str
    stage: str
    digest: str  # its notebook's hash, written to its done mark
    seconds: float
    manual_review: str


def grade_stages(course, stages, force=False, sandbox=None, workers=None, scheduler=None,
                 executor=None, overrides=None, progress=True, warm=True, timings=None, echo=print, on_done=None):
    """Grade the submissions of several stages in one pass: one pool of workers, feedback made alongside.

    Every core stays busy across stages (a stage with fewer submissions than
    cores does not leave the others idle, as grading stage after stage would),
    and each feedback page is made while the other submissions are graded
    (`FeedbackPass`).

    Parameters
    ----------
    course : path
        The course folder (with ``nbgrader_config.py``, ``submitted/``, the gradebook).
    stages : dict of str to list of str or None
        ``{assignment: students}``, e.g. ``{"02-propagate": None}``: None is everyone who submitted it.
    force : bool, default=False
        Grade again what is already graded.
    sandbox : bool, optional
        Run learners' kernels in bubblewrap (see sandbox.py); default: ``TrustedExecute.sandbox`` (True).
    workers : int, optional
        Local worker processes; default: ``Grading.workers`` (every core).
    scheduler : str, optional
        A Dask scheduler's address: run the work there instead; default: ``Grading.scheduler``.
    executor : concurrent.futures.Executor, optional
        Use this executor (tests, benchmarks).
    overrides : dict, optional
        nbgrader settings, e.g. ``{"Execute": {"timeout": 5}}``.
    progress : bool, default=True
        Show a progress bar (tqdm) with an estimate of the time left.
    warm : bool, default=True
        Let each worker boot its next sandboxed kernel while it grades (off for a single submission).
    timings : dict, optional
        Filled with the seconds of ``"grading"`` (until every grade is in) and ``"feedback"``
        (until the last feedback page is written after that).
    on_done : callable, optional
        Called with each graded `Outcome` as soon as its feedback page is written and its
        scores read (the grading service releases it then), while the others are graded.

    Returns
    -------
    outcomes : list of Outcome
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    start = time.monotonic()
    timings = {} if timings is None else timings
    course = Path(course).resolve()
    config = load_course_config(course, overrides)
    if sandbox is not None:
        config.TrustedExecute.sandbox = sandbox
    settings = Grading(config=config)
    config.Grading.seed = settings.seed  # as this process found it: workers elsewhere have their own environment
    course_dir = CourseDirectory(config=config)
    todo, outcomes, done_before = [], [], []  # outcomes: an Outcome, or the (student, stage) of one graded
    for stage, students in stages.items():
        for student, folder in submissions_of(course, stage, students):
            mark = course / "autograded" / student / stage / DONE_MARK
            digest = notebook_hash(folder)
            if not force and mark.is_file() and mark.read_text().strip() == digest:
                outcomes.append((student, stage))
                done_before.append({"student": student, "stage": stage, "skipped": True})
                continue
            if not force and worker_deaths(course, student, stage, digest, settings) >= settings.quarantine_after:
                outcomes.append(Outcome(student, stage, False, f"{folder}: quarantined for manual review: it killed "
                                        f"the grader's worker {settings.quarantine_after} times (autograded/{student}/"
                                        f"{stage}/{QUARANTINED}); grade it with --force after a look"))
                continue
            todo.append((student, stage, folder, digest))
    found = {(o.student, o.stage): o for o in read_outcomes(course, done_before)} if done_before else {}
    if not todo:
        outcomes = [found[o] if isinstance(o, tuple) else o for o in outcomes]
        echo(grading_summary(outcomes))
        return outcomes
    limits = _limits(config)
    jobs = {"config": worker.plain_config(config, Grading), "warm": warm}
    if limits.sandbox:
        import sandbox as sandboxing

        problem = sandboxing.socket_path_problem(sandboxing.Sandbox(config=config))
        if problem:  # every kernel would fail to start: said once, before any submission is touched
            raise GradingError(problem)
        note = sandboxing.limits_note(config)
        if note:  # one line per class, not one per kernel
            echo(note)
    replay = Config(config)
    replay.CourseDirectory.submitted_directory = str(Path(STAGING) / "submitted")
    replay.Autograde.autograde_preprocessors = replay_steps(config)
    replay.ReplayExecute.course = str(course)
    workers = workers or settings.workers or None
    scheduler = scheduler or settings.scheduler or None
    own_executor = executor is None
    client = None
    if own_executor:
        executor, client = make_executor(workers, scheduler)
    local = own_executor and client is None  # a local pool of this driver's: replaced when a worker dies
    pool = WorkerPool(executor, (lambda: make_executor(workers)[0]) if local else None,
                      course / STAGING / "claims" if local else None)
    api = NbGraderAPI(CourseDirectory(config=replay), config=replay)
    bar = _progress(len(todo), progress)
    feedback = FeedbackPass(api, course_dir, len(todo), workers, on_done)
    try:
        staging = course / STAGING / "submitted"
        shutil.rmtree(course / STAGING / "executed", ignore_errors=True)  # what a killed driver left
        for index, (student, stage, folder, digest) in enumerate(todo):
            path = Path(folder) / f"{stage}.ipynb"
            try:
                note = stage_submission(course_dir, stage, student, folder, staging, limits.max_notebook_bytes,
                                        limits.max_cells)
                staged = staging / student / stage
                nb = sanitized(course_dir, config, stage, student, staged / f"{stage}.ipynb")
                files = folder_files(course_dir, stage, staged, settings.max_folder_bytes)
            except Exception as error:  # a broken file: named, and the others go on
                shutil.rmtree(staging / student / stage, ignore_errors=True)
                outcomes.append(Outcome(student, stage, False, f"{path}: {type(error).__name__}: {error}"[:500]))
                bar.update(1)
                continue
            # A pool of this call's own is stopped at the end: the last submissions boot no kernel for a next one.
            last = own_executor and client is None and index >= len(todo) - (workers or os.cpu_count() or 1)
            pool.submit(Job(student, stage, folder, digest, note, nbformat.writes(nb), files),
                        {**jobs, "warm": False} if last else jobs)
        for job, result in pool.results():  # a job's notebook is not kept once recorded
            quarantine = settings.quarantine_after
            if result.get("died") and worker_deaths(course, job.student, job.stage, job.digest, settings,
                                                    add=True) >= quarantine:
                result["error"] += f"; it did so {quarantine} times: quarantined for manual review"
            failure = _record(api, course, job, result)
            shutil.rmtree(staging / job.student / job.stage, ignore_errors=True)
            bar.update(1)
            if failure is not None:
                outcomes.append(failure)
                bar.write(f"not graded: {job.student} {job.stage}: {failure.reason}")
            else:
                outcomes.append((job.student, job.stage))
                feedback.add(Graded(job.student, job.stage, job.digest, result.get("seconds", 0.0), job.note))
            feedback.collect()
        timings["grading"] = time.monotonic() - start
        bar.close()
        feedback.collect(wait=True)
        timings["feedback"] = time.monotonic() - start - timings["grading"]
    finally:
        bar.close()
        feedback.close()
        if pool.claims is not None:
            shutil.rmtree(pool.claims, ignore_errors=True)  # what workers that died held
        _remove_empty_folders(course / STAGING)  # empty once every staged copy was graded
        executor = pool.executor  # a replacement, when a worker died
        if own_executor:
            stop_executor(executor, pool.pending, client)
    found.update(feedback.outcomes)
    outcomes = [found[o] if isinstance(o, tuple) else o for o in outcomes]
    echo(grading_summary(outcomes))
    echo(f"  grading {timings.get('grading', 0):.0f} s, then feedback {timings.get('feedback', 0):.0f} s")
    return outcomes


def _limits(config):
    """The caps of `trusted.TrustedExecute` as `config` sets them (the driver checks some before a worker runs)."""
    import trusted

    return trusted.TrustedExecute(config=config)


def _remove_empty_folders(root):
    """Remove `root` and the folders under it that hold no file (bottom up)."""
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            Path(folder).rmdir()


def _record(api, course, job, result):
    """nbgrader's autograde of one executed submission (in the driver: the gradebook's one writer).

    The worker's notebook is handed to `ReplayExecute` as a file in the staging folder.
    Returns None when nbgrader graded it, else the `Outcome` saying why it was not graded.
    """
    seconds = result.get("seconds", 0.0)
    path = Path(job.folder) / f"{job.stage}.ipynb"
    if "error" in result:
        return Outcome(job.student, job.stage, False, f"{path}: {result['error']}", seconds)
    executed = executed_path(course, job.student, job.stage, job.stage)
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.write_text(result["notebook"], encoding="utf-8")
    try:
        done = api.autograde(job.stage, job.student, force=True, create=True)
    finally:
        executed.unlink(missing_ok=True)
    if not done.get("success"):
        reason = last_error_line(done.get("error") or done.get("log") or "nbgrader autograde failed")
        return Outcome(job.student, job.stage, False, f"{path}: {reason}", seconds)
    return None


_FEEDBACK = {}


def feedback_init(driver, course):
    """A feedback worker: nbgrader's API on the course folder, ended with its driver."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    worker.exit_with_driver(driver)
    config = load_course_config(course)
    _FEEDBACK["api"] = NbGraderAPI(CourseDirectory(config=config), config=config)


def make_feedback(stage, student):
    """nbgrader's feedback page of one graded submission (it only reads the gradebook); '' or why it failed."""
    result = _FEEDBACK["api"].generate_feedback(stage, student, force=True)
    return "" if result.get("success") else last_error_line(result.get("error") or result.get("log") or "failed")


class FeedbackPass:
    """The feedback pages of graded submissions, made as each grade comes in, on every core of this machine.

    Pages are made by a pool of processes while the other submissions are still
    graded (in this process when there are fewer than `POOL_FROM` submissions: a pool's
    processes each import nbgrader's exporters first, which costs more than a few pages).  Once a
    page is written, the submission is marked done, its `Outcome` is read from
    the gradebook into `outcomes` and `on_done` is called with it.

    Parameters
    ----------
    api : nbgrader.apps.NbGraderAPI
    course_dir : nbgrader.coursedir.CourseDirectory
    expected : int
        How many submissions may be graded (decides whether a pool is worth its start).
    workers : int, optional
        Processes of the pool (default: every core).
    on_done : callable, optional
    """

    #: Submissions from which the pages are made by a pool of processes.
    POOL_FROM = 9

    def __init__(self, api, course_dir, expected, workers=None, on_done=None):
        self.api, self.course_dir, self.on_done = api, course_dir, on_done
        self.course = Path(course_dir.root)
        self.expected, self.workers = expected, workers
        self.pool, self.pending = None, {}
        self.outcomes = {}  # (student, stage) -> Outcome, once its page is written (or failed)

    def add(self, graded):
        """Start the page of `graded` (a `Graded` submission)."""
        if self.expected < self.POOL_FROM:
            _FEEDBACK["api"] = self.api
            try:
                failure = make_feedback(graded.stage, graded.student)
            except Exception as error:  # this page only, as from the pool
                failure = f"{type(error).__name__}: {error}"[:300]
            self._finish(graded, failure)
            return
        if self.pool is None:
            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=min(self.expected, self.workers or os.cpu_count() or 1), initializer=feedback_init,
                initargs=(os.getpid(), str(self.course)), mp_context=process_context())
        self.pending[self.pool.submit(make_feedback, graded.stage, graded.student)] = graded

    def collect(self, wait=False):
        """Finish the pages that are ready (with `wait`, every page started)."""
        if wait and self.pending:
            concurrent.futures.wait(self.pending)
        for future in [f for f in self.pending if f.done()]:
            graded = self.pending.pop(future)
            try:
                failure = future.result()
            except Exception as error:  # a feedback process lost: this page only
                failure = f"{type(error).__name__}: {error}"[:300] or "failed"
            self._finish(graded, failure)

    def _finish(self, graded, failure):
        key = (graded.student, graded.stage)
        if not failure:
            try:
                name_as_submitted(self.course_dir, graded.stage, graded.student)
                mark = self.course / "autograded" / graded.student / graded.stage / DONE_MARK
                temporary = mark.with_suffix(".tmp")
                temporary.write_text(graded.digest + "\n")
                os.replace(temporary, mark)
            except OSError as error:  # this submission is not marked done: graded again next time
                failure = f"{type(error).__name__}: {error}"[:300]
        if failure:
            self.outcomes[key] = Outcome(graded.student, graded.stage, False, f"feedback: {failure}", graded.seconds,
                                         manual_review=graded.manual_review)
            return
        outcome, = read_outcomes(self.course, [{"student": graded.student, "stage": graded.stage,
                                                "seconds": graded.seconds, "manual_review": graded.manual_review}])
        self.outcomes[key] = outcome
        if self.on_done is not None:
            self.on_done(outcome)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def name_as_submitted(course_dir, stage, student):
    """Give a renamed notebook's feedback page the name it was handed in under; returns the page, or None.

    A renamed notebook is graded as ``STAGE.ipynb`` (`stage_submission`), so
    nbgrader writes ``STAGE.html``.  ``nbgrader release_feedback`` releases a
    page under a hash of its name, and ``fetch_feedback`` looks for the hash of
    the name the learner submitted: the page is copied to that name too.
    """
    handed_in = renamed_notebook(course_dir.format_path(course_dir.submitted_directory, student, stage), stage)
    page = Path(course_dir.format_path(course_dir.feedback_directory, student, stage)) / f"{stage}.html"
    if handed_in is None or not page.is_file():
        return None
    renamed = page.with_name(f"{handed_in.stem}.html")
    shutil.copyfile(page, renamed)
    return renamed


class _NoBar:
    def update(self, n):
        pass

    def write(self, line):
        print(line, file=sys.stderr)

    def close(self):
        pass


def _progress(total, enabled):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", dynamic_ncols=True, file=sys.stderr)
