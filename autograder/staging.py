"""Staging: each submission made ready to grade, in the driver's own copy (the submitted files never change).

For one ``submitted/STUDENT/STAGE/`` folder the driver (grading.py) calls,
in turn: `check_size` (before anything reads a notebook), `stage_submission`
(a copy in `STAGING`, its notebook renamed to ``STAGE.ipynb`` and mended:
`renamed_notebook`, `mend_cells`, `check_cells`), `sanitized` (what
nbgrader's autograde runs: its own sanitizing preprocessors) and
`folder_files` (the files nbgrader's autograde puts beside the notebook),
and sends the last two to a worker as plain data.  The worker's executed
notebook comes back through `STAGING` too (`executed_path`), where
`grading.ReplayExecute` reads it.
"""
import contextlib
import copy
import hashlib
import shutil
from pathlib import Path

import nbformat

from course import GRADED_FUNCTIONS, cell_grade_id, notebook_path, read_notebook, write_notebook

#: The driver's copies of the submissions being graded (mended, never the originals), in the course folder.
STAGING = ".grading-staging"
#: The hand-in time written beside a notebook placed by `submit` (the sample class, a self-check).
SUBMITTED_AT = "2026-11-27 09:00:00.000000 UTC"


class GradingError(Exception):
    """A problem with the course folder or the grading set-up, naming the file or setting."""


def submit(workspace, student_id, stage, nb, timestamp=SUBMITTED_AT):
    """Place `nb` where nbgrader collects it: ``submitted/STUDENT/STAGE/STAGE.ipynb``, with its hand-in time.

    Parameters
    ----------
    workspace : path
        The course folder.
    student_id, stage : str
    nb : nbformat.NotebookNode
    timestamp : str, default=`SUBMITTED_AT`
        nbgrader's ``timestamp.txt``.

    Returns
    -------
    path : Path
        The notebook written.
    """
    path = notebook_path(Path(workspace) / "submitted" / student_id, stage)
    write_notebook(nb, path)
    (path.parent / "timestamp.txt").write_text(timestamp + "\n")
    return path


def executed_path(course, student, stage, notebook):
    """Where the driver leaves a worker's executed notebook for `grading.ReplayExecute`, in `STAGING`."""
    return Path(course) / STAGING / "executed" / student / stage / f"{notebook}.ipynb"


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


def exercise_ids(path):
    """The cell ids and grade_ids of the notebook at `path`: empty for a link, a special file or one that cannot be read."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():  # never followed, never opened (a FIFO would block)
        return set()
    try:
        cells = read_notebook(path).cells
        return {c.get("id") for c in cells} | {cell_grade_id(c) for c in cells}
    except Exception:  # a learner's file: whatever it holds, it is no notebook of the stage
        return set()


def holds_exercises(path, stage):
    """True when the notebook at `path` holds every graded exercise of `stage` (by cell id or grade_id)."""
    return set(GRADED_FUNCTIONS.get(stage, ())) <= exercise_ids(path)


def renamed_notebook(folder, stage):
    """The notebook of `stage` handed in under another name than ``STAGE.ipynb``, or None.

    The one rule for a renamed notebook (the grader's and the self-check's):
    when ``STAGE.ipynb`` is missing, the folder's only notebook, else the only
    one that holds any of the stage's exercises (an editor's copy beside a
    scratch notebook); with none or several of those, none is guessed.  Links
    and special files are never taken (nor opened).
    """
    folder = Path(folder)
    if (folder / f"{stage}.ipynb").is_file():
        return None
    notebooks = [path for path in sorted(folder.glob("*.ipynb")) if path.is_file() and not path.is_symlink()]
    if len(notebooks) > 1:
        graded = set(GRADED_FUNCTIONS.get(stage, ()))
        notebooks = [path for path in notebooks if exercise_ids(path) & graded]
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


def folder_files(course_dir, stage, folder, max_bytes):
    """The files nbgrader's autograde puts beside the notebook: the student's, then the course's.

    Parameters
    ----------
    course_dir : nbgrader.coursedir.CourseDirectory
    stage : str
    folder : path
        The staged submission's folder.
    max_bytes : int
        Bytes read at most, in all (``Grading.max_folder_bytes``): the files past them stay behind.

    Returns
    -------
    files : dict of str to bytes
        By path relative to the folder.
    """
    from nbgrader import utils

    files, total = {}, 0
    source = Path(course_dir.format_path(course_dir.source_directory, ".", stage))
    for base in (Path(folder), source):
        for path in utils.find_all_files(str(base), course_dir.ignore + ["*.ipynb"]):
            path = Path(path)
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > max_bytes:
                break
            files[str(path.relative_to(base))] = path.read_bytes()
    return files


def sanitized(course_dir, config, stage, student, notebook_path):
    """The notebook as nbgrader's autograde sanitizes it before running it (its own preprocessors)."""
    from nbgrader.converters.autograde import Autograde

    nb = nbformat.read(str(notebook_path), as_version=4)
    resources = {"nbgrader": {"db_url": course_dir.db_url, "assignment": stage, "student": student,
                              "notebook": notebook_path.stem}, "metadata": {"path": str(notebook_path.parent)}}
    for cls in Autograde.class_traits()["sanitize_preprocessors"].default():
        nb, resources = cls(config=config).preprocess(nb, resources)
    return nb
