"""The learner's self-check: ``make check STAGE=...`` grades one notebook with the real autograder.

The stage's release and gradebook are built once per hash of its source
(``.grading/check/STAGE/course``); each check grades a copy of it in a
private folder, in this process, and keeps its feedback page with a time
stamp (the last `CHECK_HISTORY` of them).
"""
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import grading
import sandbox
import worker
from course import (GRADED_FUNCTIONS, GRADING, RELEASE, REPO, SOLUTIONS, CourseError, generate_release, has_gradebook,
                    locked, make_workspace, notebook_path, read_notebook)
from feedback_filter import NOT_ATTEMPTED
from staging import holds_exercises, renamed_notebook, submit


def notebook_places(stage, path):
    """Where ``NOTEBOOK=path`` may be: as given (from the working folder), then in the stage's folder.

    A relative `path` is tried from the working folder and from ``notebooks/STAGE/``, where
    JupyterLab's Duplicate puts a copy; a name without ``.ipynb`` is tried with it too.
    """
    given = Path(path)
    bases = [given] if given.is_absolute() else [Path.cwd() / given, RELEASE / stage / given]
    places = []
    for place in bases:
        places.append(place)
        if place.suffix != ".ipynb":
            places.append(place.with_name(place.name + ".ipynb"))
    return list(dict.fromkeys(places))


def find_learner_notebook(stage, path=None):
    """The learner's notebook of `stage`, wherever it is.

    `path` if it is a notebook, looked for by `notebook_places`; else the
    notebook of the folder `path` (default ``notebooks/STAGE/``): ``STAGE.ipynb``,
    or a renamed copy by the grader's own rule (`staging.renamed_notebook`).
    Raises CourseError naming the places tried, or saying what to rename or
    pass when there is none or more than one.
    """
    folder = RELEASE / stage
    if path is not None:
        places = notebook_places(stage, path)
        for place in places:
            if place.is_file():
                return place
        folders = [place for place in places if place.is_dir()]
        if not folders:
            tried = " and ".join(str(place) for place in places)
            raise CourseError(f"{path}: no such notebook; looked for {tried} (NOTEBOOK= is a path from the "
                              f"folder you run make in, or a name in {RELEASE / stage})")
        folder = folders[0]
    expected = folder / f"{stage}.ipynb"
    if expected.is_file():
        return expected
    if not folder.is_dir():
        raise CourseError(f"{folder}: no such folder; expected your notebook at {expected}")
    renamed = renamed_notebook(folder, stage)
    if renamed is not None:
        return renamed
    found = [candidate for candidate in sorted(folder.glob("*.ipynb")) if holds_exercises(candidate, stage)]
    if not found:
        raise CourseError(f"{expected}: not found, and no other notebook in {folder} holds the "
                             f"exercises of {stage}; rename your notebook to {expected.name}")
    names = ", ".join(p.name for p in found)
    raise CourseError(f"{folder}: several notebooks hold {stage}'s exercises ({names}); say which one "
                         f"to check: make check STAGE={stage} NOTEBOOK=path/to/it.ipynb")


def prestart_kernel():
    """Boot the sandboxed kernel of the next self-check in this process now, where the sandbox works.

    It boots while the release is found and the notebook copied (`grade_own`),
    or while the learner reads a Validate's answer (learner-lab/firstneuron_validate.py);
    a kernel already booting is kept.

    Returns
    -------
    sandboxed : bool
        Whether learners' kernels can be sandboxed here.
    """
    use_sandbox = sandbox.available() is None
    if use_sandbox:
        worker.prestart_kernel()
    return use_sandbox


#: Feedback pages of earlier self-checks kept per stage.
CHECK_HISTORY = 5


def source_hash(stage):
    """A hash of what `stage`'s release is generated from (its source folder and the course's configuration)."""
    digest = hashlib.sha256()
    for path in [REPO / "nbgrader_config.py", *sorted((SOLUTIONS / stage).rglob("*"))]:
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check_course(stage):
    """A graded-ready course folder for `stage` (its release and gradebook), rebuilt only when its source changed."""
    folder = GRADING / "check" / stage
    course, stamp = folder / "course", folder / "course.sha256"
    with locked(folder / "course.lock"):  # checks of one stage at the same time build it once
        wanted = source_hash(stage)
        built = stamp.is_file() and stamp.read_text() == wanted and (course / "nbgrader_config.py").is_file()
        if not (built and has_gradebook(course)):
            make_workspace(course, only=[stage])
            generate_release(course, only=[stage])
            stamp.write_text(wanted)
    return course


def grade_own(stage, notebook=None, echo=print):
    """Grade a learner's own notebook with the real autograder, hidden tests included.

    The notebook is copied into a private folder under ``.grading/check/STAGE``
    (so that two checks at once do not collide), never changed; the
    repository's files and any gradebook are not touched.  The feedback page is
    kept with a time stamp in its name, with the last `CHECK_HISTORY` ones.

    Returns
    -------
    path : Path
        The notebook graded.
    outcome : results.Outcome
    page : Path
        Its feedback page.
    """
    if stage not in GRADED_FUNCTIONS:
        raise CourseError(f"{stage}: not a stage of the course ({', '.join(GRADED_FUNCTIONS)})")
    path = find_learner_notebook(stage, notebook)
    echo(f"Checking {path} ({stage}) with the autograder ...")
    nb = read_notebook(path)
    use_sandbox = sandbox.warn_if_unavailable(echo)
    if use_sandbox:  # the kernel boots while the release is found and the notebook copied
        worker.prestart_kernel()
    course = check_course(stage)
    history = GRADING / "check" / stage / "feedback"
    with tempfile.TemporaryDirectory(prefix="run-", dir=GRADING / "check" / stage) as tmp:
        workspace = Path(tmp) / "course"
        shutil.copytree(course, workspace)
        submit(workspace, "self", stage, nb)
        outcome = grading.grade_class(workspace, stage, ["self"], force=True, sandbox=use_sandbox,
                                      executor=grading.InlineExecutor(), progress=False, warm=False,
                                      echo=lambda line: None)[0]
        if not outcome.graded:
            raise CourseError(f"{path}: could not be graded: {outcome.reason}")
        page = history / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.html"
        history.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook_path(workspace / "feedback" / "self", stage).with_suffix(".html"), page)
    for old in sorted(history.glob(f"{stage}-*.html"))[:-CHECK_HISTORY]:
        old.unlink(missing_ok=True)
    return path, outcome, page


def verdict(outcome, cell):
    """What a test cell of `outcome` gave, in words: "passed", "not attempted yet" or "failed: MESSAGE"."""
    score, maximum = outcome.cells[cell]
    message = outcome.messages.get(cell, "")
    if score >= maximum:
        return "passed"
    if message == NOT_ATTEMPTED:  # the line the feedback gives every unattempted exercise
        return "not attempted yet"
    return f"failed: {message}" if message else "failed"


def self_check(stage, notebook=None, echo=print):
    """Grade a learner's own notebook (`grade_own`) and print each test cell's points and verdict.

    Returns
    -------
    full_marks : bool
    """
    path, outcome, page = grade_own(stage, notebook, echo)
    if outcome.manual_review:
        echo(f"(mended before grading: {outcome.manual_review}; your editor had dropped them)")
    for cell, (score, maximum) in outcome.cells.items():
        echo(f"  {cell:32} {score:g}/{maximum:g}  {verdict(outcome, cell)}")
    echo(f"Score: {outcome.score:g}/{outcome.max_score:g}")
    echo(f"Feedback: {page} (new; the last {CHECK_HISTORY} are kept in {page.parent})")
    return outcome.max_score > 0 and outcome.score >= outcome.max_score
