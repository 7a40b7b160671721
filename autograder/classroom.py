"""Classroom workflows built on nbgrader: release, sample class, grading, validation.

Run with ``autograder/`` on ``sys.path`` (the Makefile does)::

    python -m classroom release            # regenerate notebooks/ from solutions/
    python -m classroom demo               # release, grade a sample class, print grades
    python -m classroom validate NOTEBOOK  # nbgrader validate with a real exit code
    python -m classroom execute-solutions  # refresh the outputs stored for nbval
    python -m classroom grade STAGE [--course DIR]  # grade a class (grading.py: sandboxed, every core)

The demo and the self-check work in a *grading workspace*: a folder whose
``nbgrader_config.py`` loads the course's, with a copy of ``solutions/``,
graded with the same driver as a class.
"""
import argparse
import ast
import contextlib
import copy
import csv
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

import grading
import sandbox

REPO = Path(__file__).resolve().parent.parent
AUTOGRADER = REPO / "autograder"
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"
GRADING = REPO / ".grading"
VARIANTS_DIR = AUTOGRADER / "variants"

#: Seconds one cell may run while the demo grades (the course default is in nbgrader_config.py).
DEMO_CELL_TIMEOUT = 5
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# What ipykernel reports for the course's Python: stored in every notebook so that JupyterLab,
# which writes the kernel's language_info into the notebook it opens, finds nothing to change
# and does not show a freshly opened notebook as modified.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": f"ipython{sys.version_info[0]}",
    "version": ".".join(map(str, sys.version_info[:3])),
}


#: The functions each stage grades, in order. A stage's ``given.py`` holds the
#: reference versions of everything graded before it.
GRADED_FUNCTIONS = {
    "01-sigmoid": ("flatten_and_standardize", "sigmoid"),
    "02-propagate": ("initialize_with_zeros", "propagate"),
    "03-optimize": ("optimize",),
    "04-predict": ("predict", "model"),
    "05-montage": ("montage",),
}
REFERENCE_FILE = AUTOGRADER / "reference.py"
GIVEN_NAME = "given.py"


class ClassroomError(Exception):
    """A problem with the course files or a submission, with the file it concerns."""


def stages():
    """The stage (nbgrader assignment) names, in order: ``["01-sigmoid", ...]``."""
    return sorted(p.name for p in SOLUTIONS.iterdir()
                  if p.name[:2].isdigit() and notebook_path(SOLUTIONS, p.name).is_file())


def notebook_path(folder, stage):
    """The notebook of `stage` inside `folder` (``folder/stage/stage.ipynb``)."""
    return Path(folder) / stage / f"{stage}.ipynb"


# --- Notebook files ------------------------------------------------------------

def normalize_notebook(nb):
    """Clean in place: one generic kernel and its language_info, no editor fields, stable cell ids, streams merged.

    Parameters
    ----------
    nb : nbformat.NotebookNode

    Returns
    -------
    nb : nbformat.NotebookNode
    """
    nb.metadata = nbformat.NotebookNode(
        kernelspec=dict(KERNELSPEC),
        language_info=copy.deepcopy(LANGUAGE_INFO),
    )
    seen = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cell_id = cell.get("id") or grade_id or f"cell-{index:02d}"
        while cell_id in seen:
            cell_id = f"{cell_id}-{index:02d}"
        cell["id"] = cell_id
        seen.add(cell_id)
        for key in ("collapsed", "scrolled", "execution", "jupyter", "vscode", "ExecuteTime"):
            cell.metadata.pop(key, None)
        merged = []  # one output per run of printing, however the kernel chunked it
        for output in cell.get("outputs", []):
            if (output.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == output["name"]):
                merged[-1]["text"] += output["text"]
            else:
                merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
    nbformat.validate(nb)
    return nb


def read_notebook(path):
    """Read a notebook; a broken file raises ClassroomError naming it."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError, nbformat.ValidationError) as error:
        raise ClassroomError(f"{path}: cannot read this notebook ({error})") from error


def write_notebook(nb, path):
    """Write `nb` as JSON with one-space indentation (nbformat's), ending with a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def grading_env():
    """The environment for instructor notebooks (solutions, validation): autograder/ importable, no display."""
    env = dict(os.environ)
    paths = [str(AUTOGRADER)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # nbgrader runs tools of its environment (alembic) by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@contextlib.contextmanager
def environment(values):
    """Set environment variables (inherited by kernels started meanwhile), restoring them afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_notebook(nb, folder, timeout=120):
    """Execute `nb` in place with a kernel working in `folder`, in the grading environment."""
    from nbclient import NotebookClient

    with environment(grading_env()):
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def execute_notebook(path, timeout=120):
    """Run a solution notebook in its folder and store its outputs, normalized."""
    nb = run_notebook(read_notebook(path), path.parent, timeout)
    write_notebook(normalize_notebook(nb), path)


# --- given.py: earlier stages' functions, from the reference ---------------------

def given_functions(stage):
    """The functions graded before `stage`, which its ``given.py`` provides."""
    names = list(GRADED_FUNCTIONS)
    if stage not in names:
        raise ClassroomError(f"{SOLUTIONS / stage}: not a stage of the course ({', '.join(names)})")
    return [f for earlier in names[:names.index(stage)] for f in GRADED_FUNCTIONS[earlier]]


def given_source(stage, reference_file=REFERENCE_FILE):
    """The text of `stage`'s ``given.py``: the reference's functions graded before it.

    Each function is copied from ``reference.py`` with the module-level
    helpers and constants it uses, in the reference's order, so that there is
    one source of truth for every solution a learner is handed.
    """
    text = reference_file.read_text()
    tree = ast.parse(text)
    defined, order, imports = {}, [], []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(text, node))
        elif isinstance(node, ast.FunctionDef):
            defined[node.name] = node
            order.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defined[target.id] = node
                    order.append(target.id)
    wanted = given_functions(stage)
    needed, todo = set(), list(wanted)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in defined:
            raise ClassroomError(f"{reference_file}: no function {name!r} for {stage}'s {GIVEN_NAME}")
        needed.add(name)
        todo.extend(n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name) and n.id in defined)
    parts = [f'"""Functions from the earlier stages, for {stage}: {", ".join(wanted)}.\n\n'
             "Generated from the course's reference implementation by `make release`;\n"
             'do not edit. Import them with ``from given import ...``.\n"""',
             "\n".join(imports)]
    seen = set()
    for name in order:
        node = defined[name]
        if name in needed and id(node) not in seen:
            seen.add(id(node))
            parts.append(ast.get_source_segment(text, node))
    return "\n\n\n".join(parts) + "\n"


def write_given():
    """Write ``given.py`` into every stage of solutions/ after the first."""
    for stage in stages():
        if given_functions(stage):
            (SOLUTIONS / stage / GIVEN_NAME).write_text(given_source(stage))


# --- nbgrader --------------------------------------------------------------------

def make_workspace(path, only=None):
    """A fresh grading workspace at `path`: a config that loads the course's, and solutions/ (or `only` stages)."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / "nbgrader_config.py").write_text(
        "# Grading workspace: the course's configuration, rooted here.\n"
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})  # noqa: F821\n")
    for stage in only or stages():
        shutil.copytree(SOLUTIONS / stage, path / "solutions" / stage,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return path


def generate_release(workspace, only=None):
    """nbgrader's generate_assignment (in this process) for every stage, or those in `only`; returns notebooks/."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    workspace = Path(workspace)
    config = grading.load_course_config(workspace)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    for stage in only or stages():
        result = api.generate_assignment(stage, force=True, create=True)
        if not result["success"]:
            reason = grading.last_error_line(result.get("error") or result.get("log") or "")
            raise ClassroomError(f"{notebook_path(SOLUTIONS, stage)}: nbgrader generate_assignment failed: {reason}")
    return workspace / "notebooks"


def release():
    """Regenerate ``given.py`` files and the committed release, notebooks/, from solutions/."""
    write_given()
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate_release(make_workspace(Path(tmp) / "course"))
        if RELEASE.exists():
            shutil.rmtree(RELEASE)
        shutil.copytree(generated, RELEASE)
    print(f"release regenerated in {RELEASE.relative_to(REPO)}/ for stages {', '.join(stages())}")


def validate(path, invert=False):
    """nbgrader's validator with an answer: True when the notebook passes (or, inverted, fails) all tests.

    ``nbgrader validate`` exits 0 whatever it finds; this prints the same
    report and returns the verdict, for an exit code.
    """
    from nbgrader.validator import Validator
    from traitlets.config import Config

    class Verdict(Validator):
        """nbgrader's Validator, keeping the results it prints (the notebook runs once)."""

        def validate(self, filename):
            self.results = super().validate(filename)
            return self.results

    config = Config()
    config.Validator.invert = invert
    validator = Verdict(config=config)
    with environment(grading_env()):
        validator.validate_and_print(str(Path(path).resolve()))
    return not validator.results


# --- Sample submissions ---------------------------------------------------------------

@dataclass
class Variant:
    """A change to a solution cell: a known mistake, a correct rewrite, or a hostile submission.

    Read from ``autograder/variants/STAGE.toml``: replacing `find` by `replace` (once)
    in the solution of cell `cell` of `stage`.
    """

    id: str
    stage: str
    cell: str
    find: str
    replace: str
    kind: str = "mistake"
    diagnosis: str = ""
    description: str = ""
    source: str = ""  # the kind of source the mistake or rewrite was taken from (no link to a person)


def load_variants(folder=VARIANTS_DIR):
    """The variants catalogue (every ``*.toml`` file in `folder`), by id."""
    variants = {}
    for path in sorted(Path(folder).glob("*.toml")):
        with open(path, "rb") as f:
            try:
                entries = tomllib.load(f).get("variant", [])
            except tomllib.TOMLDecodeError as error:
                raise ClassroomError(f"{path}: not valid TOML: {error}") from error
        for entry in entries:
            try:
                variant = Variant(**entry)
            except TypeError as error:
                raise ClassroomError(f"{path}: bad variant {entry.get('id', entry)!r}: {error}") from error
            if variant.id in variants:
                raise ClassroomError(f"{path}: variant id {variant.id!r} appears twice")
            variants[variant.id] = variant
    return variants


def strip_solution_markers(source):
    """A solution cell's code as a learner would write it: the nbgrader markers removed."""
    lines = [line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(lines)


def solution_cells(stage):
    """The solution code of each solution cell of `stage`, by grade_id, markers removed."""
    nb = read_notebook(notebook_path(SOLUTIONS, stage))
    return {cell.metadata.nbgrader.grade_id: strip_solution_markers(cell.source)
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution")}


def apply_variant(source, variant):
    """`source` with the variant's change; it must match exactly once."""
    count = source.count(variant.find)
    if count != 1:
        raise ClassroomError(f"{VARIANTS_DIR / variant.stage}.toml: variant {variant.id!r} expects {variant.find!r} once "
                             f"in cell {variant.cell!r} of {variant.stage}, found it {count} times")
    return source.replace(variant.find, variant.replace)


def build_submission(stage, variant_ids=(), blank=False, release_dir=RELEASE):
    """A learner's notebook for `stage`: the release with every solution filled in.

    Parameters
    ----------
    stage : str
    variant_ids : sequence of str
        Variants from the catalogue applied to the filled-in solutions.
    blank : bool, default=False
        Return the release notebook untouched.
    release_dir : path, default=notebooks/

    Returns
    -------
    nb : nbformat.NotebookNode
    """
    nb = read_notebook(notebook_path(release_dir, stage))
    if blank:
        return nb
    sources = solution_cells(stage)
    catalogue = load_variants()
    for variant_id in variant_ids:
        variant = catalogue[variant_id]
        if variant.stage == stage:
            sources[variant.cell] = apply_variant(sources[variant.cell], variant)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


@dataclass
class Student:
    """A member of the sample class: who, what they did, and which variants their work has."""

    id: str
    profile: str
    variants: tuple = ()
    blank: bool = False


SAMPLE_CLASS = [
    Student("ada", "correct everywhere"),
    Student("ben", "handed in the untouched releases", blank=True),
    Student("cy", "typical mistakes, one per stage",
            ("sigmoid_sign_error", "dw_forgot_1_over_m", "gradient_ascent",
             "predict_returns_probabilities", "montage_column_first")),
    Student("dee", "other typical mistakes",
            ("reshape_without_transpose", "cost_sign_error", "costs_every_iteration",
             "predict_threshold_inclusive", "model_trains_on_test_set", "montage_background_zero")),
    Student("eve", "a sigmoid that never returns, the rest right", ("sigmoid_endless_loop",)),
]


def submit(workspace, student_id, stage, nb):
    """Place `nb` where nbgrader collects it: ``submitted/STUDENT/STAGE/STAGE.ipynb``."""
    path = notebook_path(Path(workspace) / "submitted" / student_id, stage)
    write_notebook(nb, path)
    (path.parent / "timestamp.txt").write_text("2026-11-27 09:00:00.000000 UTC\n")
    return path


# --- Grading -----------------------------------------------------------------------

def sandbox_or_warning(echo=print):
    """True when learners' kernels can be sandboxed here; else warn (trusted code only) and return False."""
    reason = sandbox.available()
    if reason:
        echo(f"warning: running without a sandbox: {reason}")
    return reason is None


def grade(workspace, submissions, cell_timeout=None, echo=print, executor=None):
    """Grade each ``(student, stage)`` of `workspace` with the class grading driver (grading.py).

    The sandbox is used where bubblewrap works, with a warning otherwise (the
    demo and the self-check grade trusted notebooks).  Feedback is generated
    for every graded submission.

    Returns
    -------
    outcomes : list of Outcome
    """
    stages_of = {}
    for student, stage in submissions:
        stages_of.setdefault(stage, []).append(student)
    overrides = {"Execute": {"timeout": cell_timeout}} if cell_timeout else None
    use_sandbox = sandbox_or_warning(echo)
    pool = executor or grading.make_executor(min(len(submissions), os.cpu_count() or 1))[0]
    outcomes = []
    try:
        for stage, students in stages_of.items():
            outcomes += grading.grade_class(workspace, stage, students, force=True, sandbox=use_sandbox,
                                            executor=pool, overrides=overrides, progress=False,
                                            echo=lambda line: None)
    finally:
        if executor is None:
            pool.shutdown()
    order = {key: i for i, key in enumerate(submissions)}
    outcomes.sort(key=lambda o: order.get((o.student, o.stage), 0))
    echo(grading.grading_summary(outcomes))
    return outcomes


def export_grades(workspace):
    """nbgrader's export to grades.csv in `workspace`; returns its path."""
    return grading.export_grades(workspace)


def grade_table(outcomes, profiles=None):
    """A plain-text table: one row per student, one column per stage, then the total."""
    profiles = profiles or {}
    students = list(dict.fromkeys(o.student for o in outcomes))
    stage_names = list(dict.fromkeys(o.stage for o in outcomes))
    cells = {(o.student, o.stage): o for o in outcomes}
    header = ["student", "profile", *stage_names, "total"]
    rows = []
    for student in students:
        row = [student, profiles.get(student, "")]
        total = maximum = 0.0
        for stage in stage_names:
            o = cells.get((student, stage))
            if o is None:
                row.append("-")
            elif not o.graded:
                row.append("not graded")
            else:
                row.append(f"{o.score:g}/{o.max_score:g}")
                total, maximum = total + o.score, maximum + o.max_score
        row.append(f"{total:g}/{maximum:g}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def demo(workspace=GRADING / "demo", students=SAMPLE_CLASS, echo=print):
    """The main job: release, grade the sample class with nbgrader, export and print the grades."""
    workspace = make_workspace(workspace)
    echo(f"Grading workspace: {workspace}")
    generated = generate_release(workspace)
    echo(f"Released {len(stages())} stage(s) with nbgrader generate_assignment: {', '.join(stages())}")
    submissions = []
    for student in students:
        for stage in stages():
            nb = build_submission(stage, student.variants, student.blank, release_dir=generated)
            submit(workspace, student.id, stage, nb)
            submissions.append((student.id, stage))
    echo(f"Sample class: {len(students)} students, {len(submissions)} submissions; autograding ...")
    outcomes = grade(workspace, submissions, cell_timeout=DEMO_CELL_TIMEOUT, echo=echo)
    csv_path = export_grades(workspace)
    echo("")
    echo(grade_table(outcomes, {s.id: s.profile for s in students}))
    echo("")
    echo("What the feedback tells each student where points were lost:")
    for o in outcomes:
        for cell in o.failed_cells:
            echo(f"  {o.student} {o.stage} {cell}: {o.messages.get(cell, '(no message)')}")
    echo("")
    from report import write_report

    echo(f"Grades (CSV):  {csv_path}")
    echo(f"Feedback HTML: {workspace / 'feedback'}/STUDENT/STAGE/STAGE.html")
    echo(f"Class report:  {write_report(workspace)}")
    return outcomes


# --- Self-check for learners ------------------------------------------------------------

def find_learner_notebook(stage, path=None):
    """The learner's notebook of `stage`, wherever it is.

    `path` if it is a notebook; else the notebooks in `path` (default
    ``notebooks/STAGE/``) that hold this stage's graded cells, which finds a
    renamed copy.  Raises ClassroomError saying what to rename or pass when
    there is none or more than one.
    """
    if path is not None and Path(path).is_file():
        return Path(path)
    folder = Path(path) if path is not None else RELEASE / stage
    expected = folder / f"{stage}.ipynb"
    if expected.is_file():
        return expected
    if not folder.is_dir():
        raise ClassroomError(f"{folder}: no such folder; expected your notebook at {expected}")
    wanted = set(GRADED_FUNCTIONS.get(stage, ()))
    found = []
    for candidate in sorted(folder.glob("*.ipynb")):
        try:
            cells = read_notebook(candidate).cells
        except ClassroomError:
            continue
        ids = {c.get("id") for c in cells} | {c.metadata.get("nbgrader", {}).get("grade_id") for c in cells}
        if wanted <= ids:
            found.append(candidate)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ClassroomError(f"{expected}: not found, and no other notebook in {folder} holds the "
                             f"exercises of {stage}; rename your notebook to {expected.name}")
    names = ", ".join(p.name for p in found)
    raise ClassroomError(f"{folder}: several notebooks hold {stage}'s exercises ({names}); say which one "
                         f"to check: make check STAGE={stage} NOTEBOOK=path/to/it.ipynb")


#: Feedback pages of earlier self-checks kept per stage.
CHECK_HISTORY = 5


def source_hash(stage):
    """A hash of what `stage`'s release is generated from (its source folder and the course's configuration)."""
    digest = hashlib.sha256()
    for path in [REPO / "nbgrader_config.py", *sorted((SOLUTIONS / stage).rglob("*"))]:
        if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path):
    """Hold an exclusive lock on `path` (where the platform has one) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: checks of one stage at the same time may rebuild the release twice
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_course(stage):
    """A graded-ready course folder for `stage` (its release and gradebook), rebuilt only when its source changed."""
    folder = GRADING / "check" / stage
    course, stamp = folder / "course", folder / "course.sha256"
    with _locked(folder / "course.lock"):
        wanted = source_hash(stage)
        if not (stamp.is_file() and stamp.read_text() == wanted and (course / "gradebook.db").is_file()):
            make_workspace(course, only=[stage])
            generate_release(course, only=[stage])
            stamp.write_text(wanted)
    return course


def self_check(stage, notebook=None, echo=print):
    """Grade a learner's own notebook with the real autograder, hidden tests included.

    The notebook is copied into a private folder under ``.grading/check/STAGE``
    (so that two checks at once do not collide), never changed; the
    repository's files and any gradebook are not touched.  The feedback page is
    kept with a time stamp in its name, with the last `CHECK_HISTORY` ones.

    Returns
    -------
    full_marks : bool
    """
    if stage not in GRADED_FUNCTIONS:
        raise ClassroomError(f"{stage}: not a stage of the course ({', '.join(GRADED_FUNCTIONS)})")
    path = find_learner_notebook(stage, notebook)
    echo(f"Checking {path} ({stage}) with the autograder ...")
    nb = read_notebook(path)
    course = check_course(stage)
    use_sandbox = sandbox_or_warning(echo)
    history = GRADING / "check" / stage / "feedback"
    with tempfile.TemporaryDirectory(prefix="run-", dir=GRADING / "check" / stage) as tmp:
        workspace = Path(tmp) / "course"
        shutil.copytree(course, workspace)
        submit(workspace, "self", stage, nb)
        outcome = grading.grade_class(workspace, stage, ["self"], force=True, sandbox=use_sandbox,
                                      executor=grading.InlineExecutor(), progress=False, warm=False,
                                      echo=lambda line: None)[0]
        if not outcome.graded:
            raise ClassroomError(f"{path}: could not be graded: {outcome.reason}")
        page = history / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.html"
        history.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook_path(workspace / "feedback" / "self", stage).with_suffix(".html"), page)
    for old in sorted(history.glob(f"{stage}-*.html"))[:-CHECK_HISTORY]:
        old.unlink(missing_ok=True)
    if outcome.manual_review:
        echo(f"(mended before grading: {outcome.manual_review}; your editor had dropped them)")
    for cell, (score, maximum) in outcome.cells.items():
        message = outcome.messages.get(cell, "")
        if score >= maximum:
            verdict = "passed"
        elif message.startswith("Not attempted"):
            verdict = "not attempted yet"
        else:
            verdict = f"failed: {message}" if message else "failed"
        echo(f"  {cell:32} {score:g}/{maximum:g}  {verdict}")
    echo(f"Score: {outcome.score:g}/{outcome.max_score:g}")
    echo(f"Feedback: {page} (new; the last {CHECK_HISTORY} are kept in {history})")
    return outcome.max_score > 0 and outcome.score >= outcome.max_score


def grade_command(args):
    """``python -m classroom grade``: a class, graded safely; exit 1 when a submission could not be graded."""
    if not args.no_sandbox:
        reason = sandbox.available()
        if reason:
            raise ClassroomError(f"cannot sandbox learners' code: {reason}; install the Debian package "
                                 "'bubblewrap', or pass --no-sandbox to run it unprotected")
    if not (args.course / "nbgrader_config.py").is_file():
        raise ClassroomError(f"{args.course / 'nbgrader_config.py'}: not an nbgrader course folder")
    try:
        outcomes = grading.grade_class(args.course, args.stage, args.student, force=args.force,
                                       sandbox=not args.no_sandbox, workers=args.workers, scheduler=args.scheduler)
    except grading.GradingError as error:
        raise ClassroomError(str(error)) from error
    if not outcomes:
        raise ClassroomError(f"{args.course / 'submitted'}: no submission of {args.stage}")
    print(f"Grades (CSV): {export_grades(args.course)}")
    print(f"Feedback:     {args.course / 'feedback'}/STUDENT/{args.stage}/")
    return 0 if all(o.graded for o in outcomes) else 1


def read_grades_csv(path):
    """The rows of nbgrader's grades.csv as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m classroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    sub.add_parser("demo", help="release, grade a sample class, print the grades")
    p = sub.add_parser("report", help="write the class report of a graded workspace")
    p.add_argument("workspace", type=Path, nargs="?", default=Path("."), help="an nbgrader course folder")
    sub.add_parser("execute-solutions", help="re-run the solution notebooks, storing outputs")
    p = sub.add_parser("grade", help="grade every submission of a stage: sandboxed, every core, feedback, grades.csv")
    p.add_argument("stage", help="e.g. 02-propagate")
    p.add_argument("--course", type=Path, default=REPO, help="the nbgrader course folder (default: this repository)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--no-sandbox", action="store_true", help="run learners' code without bubblewrap (unsafe)")
    p.add_argument("--workers", type=int, help="local worker processes (default: every core)")
    p.add_argument("--scheduler", help="a Dask scheduler's address: grade on that cluster")
    p = sub.add_parser("check", help="grade your own notebook of a stage (exit 0 at full marks)")
    p.add_argument("stage", help="e.g. 02-propagate")
    p.add_argument("notebook", nargs="?", type=Path, help="default: notebooks/STAGE/STAGE.ipynb")
    p = sub.add_parser("validate", help="nbgrader validate with an exit code (0 = passes)")
    p.add_argument("notebook", type=Path)
    p.add_argument("--invert", action="store_true", help="succeed when no test passes")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            release()
        elif args.command == "demo":
            demo()
        elif args.command == "execute-solutions":
            for stage in stages():
                execute_notebook(notebook_path(SOLUTIONS, stage))
                print(f"executed {notebook_path(SOLUTIONS, stage).relative_to(REPO)}")
        elif args.command == "report":
            from report import write_report

            if not (args.workspace / "gradebook.db").is_file():
                raise ClassroomError(f"{args.workspace / 'gradebook.db'}: no gradebook; grade the class first")
            print(f"Class report: {write_report(args.workspace)}")
        elif args.command == "grade":
            return grade_command(args)
        elif args.command == "check":
            return 0 if self_check(args.stage, args.notebook) else 1
        elif args.command == "validate":
            if not args.notebook.is_file():
                raise ClassroomError(f"{args.notebook}: no such notebook")
            return 0 if validate(args.notebook, args.invert) else 1
    except ClassroomError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
