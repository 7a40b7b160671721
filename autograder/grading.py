"""Grade a class: every core (or a Dask cluster), sandboxed kernels, one writer of the gradebook.

The driver (`grade_class`) works in an nbgrader course folder
(``source/`` here called ``solutions/``, ``submitted/STUDENT/STAGE/``, the
gradebook):

1. For each submission it builds what nbgrader's ``autograde`` would run —
   the notebook after nbgrader's own sanitizing preprocessors (outputs
   cleared, hidden tests put back from the gradebook, kernelspec reset) and
   the files of the submission's folder with the course's ``given.py`` —
   and sends them, as plain data, to an executor: a local process pool
   (``workers``, default: every core) or a Dask cluster (``scheduler``).
2. A worker runs the notebook with `trusted.TrustedExecute` (sandboxed
   kernel, hidden checks outside it) and sends back the executed notebook.
   Each worker imports everything once and keeps the next sandboxed kernel
   booting while the current one runs.
3. As results come back, the driver runs nbgrader's real ``autograde`` for
   that student in its own process, with `ReplayExecute` in place of
   ``Execute`` (it hands over the worker's outputs), so nbgrader writes the
   autograded notebook, the grades and late penalties, and then generates
   the feedback.  Only the driver writes the gradebook.

A submission is marked done (``autograded/STUDENT/STAGE/.graded``, holding the
submitted notebook's hash) only after its feedback is written, so a driver
killed at any point loses nothing on a rerun, which skips what is done.
"""
import concurrent.futures
import contextlib
import copy
import hashlib
import multiprocessing.util
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import warnings
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets.config import Config, Configurable

from course import cell_grade_id, diagnoses, last_error_line, load_course_config, open_gradebook

REPO = Path(__file__).resolve().parent.parent
DONE_MARK = ".graded"
#: The driver's copies of the submissions being graded (mended, never the originals), in the course folder.
STAGING = ".grading-staging"
#: Seconds one submission may take in all (the cell limit is ``Execute.timeout``).
SUBMISSION_TIMEOUT = 300
#: Bytes of a submission's folder sent to a worker, at most.
MAX_FOLDER_BYTES = 64 * 1024**2
#: Deaths of a grader's worker after which a submission is quarantined for manual review.
QUARANTINE = 2
QUARANTINED = ".quarantined"


class GradingError(Exception):
    """A problem with the course folder or the grading set-up, naming the file or setting."""


@dataclass
class Outcome:
    """What grading one submission gave."""

    student: str
    stage: str
    graded: bool
    reason: str = ""
    seconds: float = 0.0
    score: float = 0.0
    max_score: float = 0.0
    failed_cells: list = field(default_factory=list)
    cells: dict = field(default_factory=dict)  # test cell -> (score, max_score), in notebook order
    needs_manual_grade: bool = False
    manual_review: str = ""  # why a person should look (a renamed or mended notebook)
    messages: dict = field(default_factory=dict)  # failed test cell -> the line its feedback shows
    diagnoses: dict = field(default_factory=dict)  # failed test cell -> {"name", "hint"} of the named mistake
    skipped: bool = False


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


# --- The worker's side ------------------------------------------------------------------------

_WARM = {}


def _exit_with(driver):
    """End this worker as soon as the process `driver` is gone (killed with -9: no orphan keeps grading)."""
    def watch():
        while True:
            time.sleep(0.5)
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                os._exit(1)  # the sandbox guards see their parent die and take the kernels down
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="driver-watch").start()


def worker_init(driver):
    """Import the grading machinery once per worker process, and end the worker with its driver."""
    _exit_with(driver)
    import trusted  # noqa: F401  (numpy, nbclient, the checks' dependencies)


def _shut_down_warm_kernel():
    """Shut down the kernel this process kept booting for a next submission that never came."""
    km = _WARM.pop("km", None)
    if km is not None:
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)


def _keep_warm(km):
    """Keep `km` for the next submission; it is shut down at this process's exit if none comes.

    A worker of a process pool ends with ``os._exit`` after multiprocessing's
    finalizers (atexit handlers do not run there); in the driver's own process
    the finalizers run at exit too.  Registered once per process (a forked
    child starts with no finalizers).
    """
    if _WARM.get("finalizer") != os.getpid():
        multiprocessing.util.Finalize(None, _shut_down_warm_kernel, exitpriority=100)
        _WARM["finalizer"] = os.getpid()
    _WARM["km"] = km


def prestart_kernel(course=None):
    """Start booting the sandboxed kernel of the next submission graded in this process (the self-check).

    The kernel boots (numpy and matplotlib imported) while the driver prepares
    the submission; `execute_submission` takes it.  The kernel sees no course
    folder (the sandbox shows an allow-list), so `course` does not matter.
    """
    _keep_warm(_warm_kernel({"config": {}}))


def _fits(km, settings):
    """True when the sandbox of `km` has exactly the settings `settings` asks for."""
    wanted = settings["config"].get("Sandbox", {})
    defaults = {name: trait.default() for name, trait in km.settings.traits(config=True).items()}
    return all(getattr(km.settings, name) == wanted.get(name, default) for name, default in defaults.items())


def _warm_kernel(settings):
    """A sandboxed kernel already booting (numpy and matplotlib imported), for the next submission."""
    import sandbox
    from jupyter_core.utils import run_sync

    config = Config(settings["config"])
    km = sandbox.SandboxedKernelManager(kernel_name="python3", config=config)
    run_sync(km.start_kernel)(extra_arguments=[
        "--HistoryManager.hist_file=:memory:",
        "--IPKernelApp.exec_lines=['import numpy, matplotlib, matplotlib.pyplot']"])
    return km


def _claim(claim):
    """Write which submission this worker holds, ``(folder, key)``, to ``folder/PID``; returns the file, or None."""
    if not claim:
        return None
    path = Path(claim[0]) / str(os.getpid())
    with contextlib.suppress(OSError):
        path.write_text(str(claim[1]))
        return path
    return None


def execute_submission(notebook_json, files, settings, claim=None):
    """Run one sanitized submission with `TrustedExecute`; return plain data.

    Parameters
    ----------
    notebook_json : str
        The notebook after nbgrader's sanitizing preprocessors.
    files : dict of str to bytes
        The other files of the submission's folder (the course's ``given.py`` among them).
    settings : dict
        ``config`` (traitlets settings as nested dicts), ``sandbox`` (bool).
    claim : (str, str), optional
        A folder and the submission's key: while it runs, ``folder/PID`` holds the key, so
        that the driver knows which submission a worker that died was grading (`WorkerPool`).

    Returns
    -------
    result : dict
        ``notebook`` (JSON text) and ``seconds``, or ``error`` (one line).
    """
    import trusted
    from jupyter_core.utils import run_sync

    start = time.monotonic()
    claimed = _claim(claim)
    config = Config(settings["config"])
    if settings.get("seed"):  # the hidden checks' seed, for reproducible grading (checks.new_seed)
        os.environ["FIRSTNEURON_SEED"] = str(settings["seed"])
    else:
        os.environ.pop("FIRSTNEURON_SEED", None)
    km = None
    folder = Path(tempfile.mkdtemp(prefix="firstneuron-submission-"))
    try:
        nb = nbformat.reads(notebook_json, as_version=4)
        for name, data in files.items():
            target = (folder / name).resolve()
            if not target.is_relative_to(folder):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if settings["sandbox"]:
            km = _WARM.pop("km", None)
            if km is not None and not (_fits(km, settings) and run_sync(km.is_alive)()):
                run_sync(km.shutdown_kernel)(now=True)  # booted for another course or died: not this one's
                km = None
            km = km or _warm_kernel(settings)
            work = km.scratch / "work"
            shutil.copytree(folder, work, dirs_exist_ok=True)
            if km.uid is not None:
                for path in [work, *work.rglob("*")]:
                    os.chown(path, km.uid, km.uid, follow_symlinks=False)
            if settings.get("warm", True):
                _keep_warm(_warm_kernel(settings))  # boots while this one runs
        executor = trusted.TrustedExecute(config=config, sandbox=settings["sandbox"])
        executor.preprocess(nb, {"metadata": {"path": str(folder)}}, km=km)
        return {"notebook": nbformat.writes(nb), "seconds": time.monotonic() - start}
    except Exception as error:  # one broken submission never stops the others: report it as data
        return {"error": f"{type(error).__name__}: {error}"[:500], "seconds": time.monotonic() - start}
    finally:
        if km is not None:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
        shutil.rmtree(folder, ignore_errors=True)
        if claimed is not None:
            claimed.unlink(missing_ok=True)


# --- The driver's side ------------------------------------------------------------------------------

class ReplayExecute(NbGraderPreprocessor):
    """nbgrader's Execute step, for notebooks a worker already ran: hands over the worker's outputs.

    The driver registers each result in `results` under (student, assignment,
    notebook) before calling nbgrader's autograde for that student.
    """

    results = {}

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        key = (meta["student"], meta["assignment"], meta["notebook"])
        if key not in self.results:
            raise GradingError(f"no executed notebook for {key}")
        executed = self.results.pop(key)
        if [c.source for c in executed.cells] != [c.source for c in nb.cells]:
            raise GradingError(f"{'/'.join(key)}: the notebook changed while it was graded")
        for cell, done in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = done.outputs
                cell.execution_count = done.get("execution_count")
            if "firstneuron" in done.metadata:  # the hidden checks' diagnoses (trusted.run_hidden)
                cell.metadata["firstneuron"] = done.metadata["firstneuron"]
        nb.metadata["language_info"] = executed.metadata.get("language_info", {"name": "python"})
        return nb, resources


def _plain(config):
    """The settings a worker's kernel and executor read, as nested dicts of plain values (to send to workers).

    Every section named after a configurable class of `trusted.TrustedExecute`,
    `sandbox.SandboxedKernelManager` or `sandbox.Sandbox` (their bases included:
    ``Execute``, ``NotebookClient``, ``KernelManager`` ...) is sent; values that
    are not plain data (classes, functions) stay behind.
    """
    import sandbox
    import trusted

    def plain(value):
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or isinstance(value, (int, float, str, bool))

    sections = {cls.__name__ for root in (trusted.TrustedExecute, sandbox.SandboxedKernelManager, sandbox.Sandbox)
                for cls in root.mro() if issubclass(cls, Configurable)}
    out = {}
    for section in sorted(sections & set(config)):
        values = {k: v for k, v in config[section].items() if plain(v)}
        if values:
            out[section] = values
    return out


def submissions_of(course, stage, students=None):
    """``[(student, folder)]`` for every ``submitted/STUDENT/STAGE/`` in `course` (or those of `students`)."""
    root = Path(course) / "submitted"
    found = sorted((p.parent.name, p) for p in root.glob(f"*/{stage}") if p.is_dir()) if root.is_dir() else []
    if students:
        wanted = set(students)
        missing = wanted - {s for s, _ in found}
        if missing:
            raise GradingError(f"{root}: no submission of {stage} for {', '.join(sorted(missing))}")
        found = [(s, p) for s, p in found if s in wanted]
    return found


def notebook_hash(folder):
    """A hash of every notebook in a submission's folder (what decides whether it must be regraded)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.ipynb")):
        digest.update(path.name.encode() + b"\0")
        with contextlib.suppress(OSError), path.open("rb") as file:  # read by blocks: a notebook may be huge
            for block in iter(lambda: file.read(1024**2), b""):
                digest.update(block)
    return digest.hexdigest()


def mend_cells(nb, release_nb):
    """Put back what an editor or a learner lost, from the release notebook; returns what was mended.

    Cells that lost their nbgrader metadata get it back (matched by cell id).
    Of several cells with one grade_id (a pasted copy), the one graded is the
    one at the release's place (`_original_of`); the others run as ordinary
    cells and are named in the note, for manual review.  Exercise and test
    cells missing altogether are put back, untouched, at their place in the
    release: right after the nearest cell before it in the release that the
    notebook still has (nbgrader would stop with a KeyError).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The submitted notebook, changed in place.
    release_nb : nbformat.NotebookNode
        The release notebook of the same stage.

    Returns
    -------
    note : str
        What was mended ('' when nothing was).
    """
    by_id = {c.get("id"): c.metadata["nbgrader"] for c in release_nb.cells if "nbgrader" in c.metadata}
    notes = []
    restored = 0
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata and cell.get("id") in by_id:
            cell.metadata["nbgrader"] = copy.deepcopy(by_id[cell["id"]])
            restored += 1
    if restored:
        notes.append(f"put back the grading information of {restored} cell(s)")
    copies = []
    release_index = {cell_grade_id(c): i for i, c in enumerate(release_nb.cells) if cell_grade_id(c)}
    for grade_id in dict.fromkeys(cell_grade_id(c) for c in nb.cells if cell_grade_id(c)):
        cells = [i for i, c in enumerate(nb.cells) if cell_grade_id(c) == grade_id]
        if len(cells) < 2:
            continue
        kept = _original_of(nb, release_nb, cells, release_index.get(grade_id))
        for i in cells:
            if i != kept:
                del nb.cells[i].metadata["nbgrader"]
                copies.append(f"{grade_id} (cell {i + 1})")
    if copies:
        notes.append(f"a copy of a graded cell ran as an ordinary cell, not graded: {', '.join(copies)}; "
                     "the cell at the release's place was graded")
    missing = 0
    present = {cell_grade_id(c) for c in nb.cells}
    for r, cell in enumerate(release_nb.cells):
        grade_id = cell_grade_id(cell)
        if grade_id and grade_id not in present:
            anchors = _anchors(nb, release_nb)
            before = [i for i, (q, _) in anchors.items() if q < r]
            position = max(before, key=lambda i: (anchors[i][0], i)) + 1 if before else 0
            nb.cells.insert(position, copy.deepcopy(cell))
            missing += 1
    if missing:
        notes.append(f"{missing} missing exercise or test cell(s) put back from the release")
    return "; ".join(notes)


def _anchors(nb, release_nb):
    """``{index in nb: (index in the release, how)}`` for the cells of `nb` that match one release cell.

    A cell matches by its id when that id is once in each notebook, else by its grade_id
    when that grade_id is once in each.
    """
    def unique(cells, key):
        keys = [key(c) for c in cells]
        return {k: i for i, k in enumerate(keys) if k and keys.count(k) == 1}

    release_ids, own_ids = unique(release_nb.cells, lambda c: c.get("id")), unique(nb.cells, lambda c: c.get("id"))
    release_grades, own_grades = unique(release_nb.cells, cell_grade_id), unique(nb.cells, cell_grade_id)
    anchors = {i: (release_ids[k], "id") for k, i in own_ids.items() if k in release_ids}
    for k, i in own_grades.items():
        if k in release_grades and i not in anchors:
            anchors[i] = (release_grades[k], "grade_id")
    return anchors


def _original_of(nb, release_nb, cells, r):
    """Which of `cells` (indices in `nb` of cells sharing one grade_id) is the release's cell `r`.

    The one at the release's place: its neighbours (the nearest cells before and after it
    that match a release cell) sit around `r` in the release.  Among those, the one with the
    release cell's id (nbformat gives a repeated id to the first cell that has it, so an id
    alone could favour a copy pasted above), then the one whose neighbours are closest to
    `r`, then the first.
    """
    if r is None:
        return cells[0]
    release_id = release_nb.cells[r].get("id")
    anchors = {i: q for i, (q, _) in _anchors(nb, release_nb).items() if i not in cells}
    order = sorted(anchors)

    def rank(i):
        before = [anchors[j] for j in order if j < i]
        after = [anchors[j] for j in order if j > i]
        p = before[-1] if before else -1
        q = after[0] if after else len(release_nb.cells)
        return (0 if p < r < q else 1, 0 if release_id and nb.cells[i].get("id") == release_id else 1,
                abs(r - p) + abs(q - r), i)

    return min(cells, key=rank)


def renamed_notebook(folder, stage):
    """The notebook of a submission handed in under another name than ``STAGE.ipynb``, or None.

    It is the folder's only notebook when ``STAGE.ipynb`` is missing; with
    several notebooks and none of the expected name, none is guessed.
    """
    folder = Path(folder)
    if (folder / f"{stage}.ipynb").is_file():
        return None
    notebooks = sorted(folder.glob("*.ipynb"))
    return notebooks[0] if len(notebooks) == 1 else None


def check_size(folder, max_bytes):
    """Raise GradingError when a notebook in `folder` is over `max_bytes` (before anything reads it)."""
    for path in sorted(Path(folder).glob("*.ipynb")):
        size = path.stat().st_size
        if size > max_bytes:
            raise GradingError(f"{path.name} is {size} bytes, more than TrustedExecute.max_notebook_bytes "
                               f"({max_bytes}); it is not graded")


def check_cells(nb, name, max_cells):
    """Raise GradingError when the notebook `nb` (read from the file `name`) has more than `max_cells` cells."""
    if len(nb.cells) > max_cells:
        raise GradingError(f"{name} has {len(nb.cells)} cells, more than TrustedExecute.max_cells ({max_cells}); "
                           "it is not graded")


def stage_submission(course_dir, stage, student, folder, staging, max_bytes=None, max_cells=None):
    """Copy a submission to the driver's staging folder, mended; returns a note for manual review, or ''.

    The submitted files are never changed: a renamed notebook is graded
    under the name nbgrader expects, and cells lost by an editor are put back
    (`mend_cells`), in the copy.  Raises for a notebook that cannot be read,
    or is over `max_bytes` bytes or `max_cells` cells (GradingError).
    """
    if max_bytes is not None:
        check_size(folder, max_bytes)
    target = Path(staging) / student / stage
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder, target, ignore=lambda where, names: [n for n in names if (Path(where) / n).is_symlink()])
    notes = []
    expected = target / f"{stage}.ipynb"
    renamed = renamed_notebook(target, stage)
    if renamed is not None:
        renamed.rename(expected)
        notes.append(f"the notebook was named {renamed.name!r}; graded as {expected.name}")
    if expected.is_file():
        nb = nbformat.read(str(expected), as_version=4)
        if max_cells is not None:
            check_cells(nb, (renamed or expected).name, max_cells)
        release = Path(course_dir.format_path(course_dir.release_directory, ".", stage)) / f"{stage}.ipynb"
        if release.is_file():
            note = mend_cells(nb, nbformat.read(str(release), as_version=4))
            if note:
                nbformat.write(nb, str(expected))
                notes.append(note)
    return "; ".join(notes)


def _folder_files(course_dir, stage, folder):
    """The files nbgrader's autograde puts beside the notebook: the student's, then the course's."""
    from nbgrader import utils

    files, total = {}, 0
    source = Path(course_dir.format_path(course_dir.source_directory, ".", stage))
    for base in (Path(folder), source):
        for path in utils.find_all_files(str(base), course_dir.ignore + ["*.ipynb"]):
            path = Path(path)
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > MAX_FOLDER_BYTES:
                break
            files[str(path.relative_to(base))] = path.read_bytes()
    return files


def _sanitized(course_dir, config, stage, student, notebook_path):
    """The notebook as nbgrader's autograde sanitizes it before running it (its own preprocessors)."""
    from nbgrader.converters.autograde import Autograde

    nb = nbformat.read(str(notebook_path), as_version=4)
    resources = {"nbgrader": {"db_url": course_dir.db_url, "assignment": stage, "student": student,
                              "notebook": notebook_path.stem}, "metadata": {"path": str(notebook_path.parent)}}
    for cls in Autograde.class_traits()["sanitize_preprocessors"].default():
        nb, resources = cls(config=config).preprocess(nb, resources)
    return nb


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
    so the submission is recorded once.  The workers import this module by
    name: start them with ``PYTHONPATH=.../autograder`` (docs/instructor.md §8).
    """
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise GradingError(f"--scheduler {scheduler}: no Dask scheduler answers there: {error}") from error
        return client.get_executor(pure=False), client
    import multiprocessing

    workers = workers or os.cpu_count() or 1
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=worker_init, initargs=(os.getpid(),),
                                                  mp_context=multiprocessing.get_context("forkserver"))
    return pool, None


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
    (`execute_submission`).  After a break, the workers that died by
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
        future = self.executor.submit(execute_submission, job.notebook, job.files, settings, claim)
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


def worker_deaths(course, student, stage, digest, add=False):
    """Times this version (`digest`) of a submission killed a grader's worker; with `add`, one more, recorded.

    The count is kept in ``autograded/STUDENT/STAGE/.worker-deaths``; from
    `QUARANTINE` deaths on, ``.quarantined`` there says the submission waits for
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
        if count >= QUARANTINE:
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


def grade_stages(course, stages, force=False, sandbox=True, workers=None, scheduler=None,
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
    sandbox : bool, default=True
        Run learners' kernels in bubblewrap (see sandbox.py).
    workers : int, optional
        Local worker processes (default: every core).
    scheduler : str, optional
        A Dask scheduler's address: run the work there instead.
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
    config.TrustedExecute.sandbox = sandbox
    course_dir = CourseDirectory(config=config)
    todo, outcomes = [], []
    for stage, students in stages.items():
        for student, folder in submissions_of(course, stage, students):
            mark = course / "autograded" / student / stage / DONE_MARK
            digest = notebook_hash(folder)
            if not force and mark.is_file() and mark.read_text().strip() == digest:
                outcomes.append(Outcome(student, stage, True, skipped=True))
                continue
            if not force and worker_deaths(course, student, stage, digest) >= QUARANTINE:
                outcomes.append(Outcome(student, stage, False, f"{folder}: quarantined for manual review: it killed "
                                        f"the grader's worker {QUARANTINE} times (autograded/{student}/{stage}/"
                                        f"{QUARANTINED}); grade it with --force after a look"))
                continue
            todo.append((student, stage, folder, digest))
    if not todo:
        _fill_scores(course, outcomes)
        echo(grading_summary(outcomes))
        return outcomes
    settings = {"config": _plain(config), "sandbox": sandbox, "seed": os.environ.get("FIRSTNEURON_SEED"), "warm": warm}
    if sandbox:
        import sandbox as sandboxing

        problem = sandboxing.socket_path_problem(sandboxing.Sandbox(config=config))
        if problem:  # every kernel would fail to start: said once, before any submission is touched
            raise GradingError(problem)
        note = sandboxing.limits_note(config)
        if note:  # one line per class, not one per kernel
            echo(note)
    own_executor = executor is None
    client = None
    if own_executor:
        executor, client = make_executor(workers, scheduler)
    local = own_executor and client is None  # a local pool of this driver's: replaced when a worker dies
    pool = WorkerPool(executor, (lambda: make_executor(workers)[0]) if local else None,
                      course / STAGING / "claims" if local else None)
    limits = _limits(config)
    from nbgrader.converters.autograde import Autograde

    replay = Config(config)
    replay.CourseDirectory.submitted_directory = str(Path(STAGING) / "submitted")
    steps = config.Autograde.get("autograde_preprocessors") or Autograde.class_traits()["autograde_preprocessors"].default()
    replay.Autograde.autograde_preprocessors = [ReplayExecute, *steps[1:]]  # the first is Execute
    api = NbGraderAPI(CourseDirectory(config=replay), config=replay)
    bar = _progress(len(todo), progress)
    feedback = FeedbackPass(api, course_dir, len(todo), workers, on_done)
    try:
        staging = course / STAGING / "submitted"
        for student, stage, folder, digest in todo:
            path = Path(folder) / f"{stage}.ipynb"
            try:
                note = stage_submission(course_dir, stage, student, folder, staging, limits.max_notebook_bytes,
                                        limits.max_cells)
                staged = staging / student / stage
                nb = _sanitized(course_dir, config, stage, student, staged / f"{stage}.ipynb")
                files = _folder_files(course_dir, stage, staged)
            except Exception as error:  # a broken file: named, and the others go on
                shutil.rmtree(staging / student / stage, ignore_errors=True)
                outcomes.append(Outcome(student, stage, False, f"{path}: {type(error).__name__}: {error}"[:500]))
                bar.update(1)
                continue
            pool.submit(Job(student, stage, folder, digest, note, nbformat.writes(nb), files), settings)
        for job, result in pool.results():  # a job's notebook is not kept once recorded
            student, stage, folder, digest, note = job.student, job.stage, job.folder, job.digest, job.note
            if result.get("died") and worker_deaths(course, student, stage, digest, add=True) >= QUARANTINE:
                result["error"] += f"; it did so {QUARANTINE} times: quarantined for manual review"
            outcome = _record(api, stage, student, folder, note, result)
            shutil.rmtree(staging / student / stage, ignore_errors=True)
            outcomes.append(outcome)
            bar.update(1)
            if not outcome.graded:
                bar.write(f"not graded: {student} {stage}: {outcome.reason}")
            else:
                feedback.add(outcome, digest)  # made while the others are graded
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
    _fill_scores(course, [o for o in outcomes if id(o) not in feedback.filled])  # those skipped as done
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


def _record(api, stage, student, folder, note, result):
    """nbgrader's autograde of one executed submission (in the driver: the gradebook's one writer)."""
    seconds = result.get("seconds", 0.0)
    path = Path(folder) / f"{stage}.ipynb"
    if "error" in result:
        return Outcome(student, stage, False, f"{path}: {result['error']}", seconds)
    ReplayExecute.results[(student, stage, stage)] = nbformat.reads(result["notebook"], as_version=4)
    try:
        done = api.autograde(stage, student, force=True, create=True)
    finally:
        ReplayExecute.results.pop((student, stage, stage), None)
    if not done.get("success"):
        reason = last_error_line(done.get("error") or done.get("log") or "nbgrader autograde failed")
        return Outcome(student, stage, False, f"{path}: {reason}", seconds)
    return Outcome(student, stage, True, seconds=seconds, manual_review=note)


_FEEDBACK = {}


def feedback_init(driver, course):
    """A feedback worker: nbgrader's API on the course folder, ended with its driver."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _exit_with(driver)
    config = load_course_config(course)
    _FEEDBACK["api"] = NbGraderAPI(CourseDirectory(config=config), config=config)


def make_feedback(stage, student):
    """nbgrader's feedback page of one graded submission (it only reads the gradebook); '' or why it failed."""
    result = _FEEDBACK["api"].generate_feedback(stage, student, force=True)
    return "" if result.get("success") else last_error_line(result.get("error") or result.get("log") or "failed")


class FeedbackPass:
    """The feedback pages of graded outcomes, made as each grade comes in, on every core of this machine.

    Pages are made by a pool of processes while the other submissions are still
    graded (in this process when there are two submissions or fewer).  Once a
    page is written, the outcome is marked done, its scores are read from the
    gradebook and `on_done` is called with it.

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

    def __init__(self, api, course_dir, expected, workers=None, on_done=None):
        self.api, self.course_dir, self.on_done = api, course_dir, on_done
        self.course = Path(course_dir.root)
        self.expected, self.workers = expected, workers
        self.pool, self.pending, self.filled = None, {}, set()

    def add(self, outcome, digest):
        """Start the page of `outcome` (graded); `digest` is its notebook's, written to its done mark."""
        if self.expected <= 2:
            _FEEDBACK["api"] = self.api
            self._finish(outcome, digest, make_feedback(outcome.stage, outcome.student))
            return
        if self.pool is None:
            import multiprocessing

            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=min(self.expected, self.workers or os.cpu_count() or 1), initializer=feedback_init,
                initargs=(os.getpid(), str(self.course)), mp_context=multiprocessing.get_context("forkserver"))
        self.pending[self.pool.submit(make_feedback, outcome.stage, outcome.student)] = (outcome, digest)

    def collect(self, wait=False):
        """Finish the pages that are ready (with `wait`, every page started)."""
        if wait and self.pending:
            concurrent.futures.wait(self.pending)
        for future in [f for f in self.pending if f.done()]:
            outcome, digest = self.pending.pop(future)
            try:
                failure = future.result()
            except Exception as error:  # a feedback process lost: this page only
                failure = f"{type(error).__name__}: {error}"[:300] or "failed"
            self._finish(outcome, digest, failure)

    def _finish(self, outcome, digest, failure):
        if failure:
            outcome.graded, outcome.reason = False, f"feedback: {failure}"
            return
        name_as_submitted(self.course_dir, outcome.stage, outcome.student)
        mark = self.course / "autograded" / outcome.student / outcome.stage / DONE_MARK
        temporary = mark.with_suffix(".tmp")
        temporary.write_text(digest + "\n")
        os.replace(temporary, mark)
        _fill_scores(self.course, [outcome])
        self.filled.add(id(outcome))
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


def _fill_scores(course, outcomes):
    """Read each graded outcome's scores, failed cells and feedback lines from the gradebook."""
    from nbgrader.api import MissingEntry

    from feedback_filter import failure_messages

    with open_gradebook(course) as gb:
        for outcome in outcomes:
            if not outcome.graded:
                continue
            try:
                submission = gb.find_submission(outcome.stage, outcome.student)
            except MissingEntry:
                outcome.graded, outcome.reason = False, "no submission in the gradebook"
                continue
            outcome.score, outcome.max_score = submission.score, submission.max_score
            outcome.needs_manual_grade = bool(submission.needs_manual_grade)
            for notebook in submission.notebooks:
                order = {c.name: i for i, c in enumerate(notebook.notebook.grade_cells)}
                for g in sorted(notebook.grades, key=lambda g: order.get(g.name, 0)):
                    outcome.cells[g.name] = (g.score, g.max_score)
                    if g.max_score and g.score < g.max_score:
                        outcome.failed_cells.append(g.name)
            autograded = Path(course) / "autograded" / outcome.student / outcome.stage / f"{outcome.stage}.ipynb"
            outcome.messages = failure_messages(autograded)
            outcome.diagnoses = diagnoses(autograded)


def grading_summary(outcomes):
    """Counts, the submissions that could not be graded (with reasons) or need review, and timings."""
    ungraded = [o for o in outcomes if not o.graded]
    review = [o for o in outcomes if o.graded and (o.needs_manual_grade or o.manual_review)]
    skipped = [o for o in outcomes if o.skipped]
    lines = [f"Summary: {len(outcomes) - len(ungraded)} graded ({len(skipped)} already done), "
             f"{len(ungraded)} failed to grade, {len(review)} need manual review"]
    lines += [f"  not graded: {o.student} {o.stage}: {o.reason}" for o in ungraded]
    lines += [f"  manual review: {o.student} {o.stage}: {o.manual_review or 'nbgrader asks for it'}" for o in review]
    timed = sorted((o for o in outcomes if o.seconds and not o.skipped), key=lambda o: -o.seconds)
    if len(timed) >= 2:
        seconds = [o.seconds for o in timed]
        q = statistics.quantiles(seconds, n=4, method="inclusive")
        lines.append(f"  seconds per submission (in a worker): min {min(seconds):.1f}, median {q[1]:.1f}, "
                     f"90th percentile {statistics.quantiles(seconds, n=10, method='inclusive')[-1]:.1f}, max {max(seconds):.1f}")
        lines.append("  slowest: " + ", ".join(f"{o.student} {o.seconds:.1f} s" for o in timed[:3]))
    return "\n".join(lines)


def export_grades(course):
    """nbgrader's export of the gradebook to ``grades.csv`` in `course`; returns its path."""
    from nbgrader.plugins import CsvExportPlugin

    config = load_course_config(course)
    path = Path(course) / "grades.csv"
    config.CsvExportPlugin.to = str(path)
    plugin = CsvExportPlugin(config=config)
    with open_gradebook(course, config) as gb:
        plugin.export(gb)
    return path

