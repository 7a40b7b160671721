"""The course's files: paths, the stage registry, notebooks, given.py and nbgrader's release.

Everything else builds on this module (it imports no other module of the
course): the catalogue of variants, the grading driver, the self-check and
the command line (``classroom.py``).
"""
import ast
import contextlib
import copy
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import nbgrader.api
import sqlalchemy
from nbgrader.utils import is_solution
from traitlets.config import Config

REPO = Path(__file__).resolve().parent.parent
AUTOGRADER = REPO / "autograder"
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"
GRADING = REPO / ".grading"

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


REFERENCE_FILE = AUTOGRADER / "reference.py"
GIVEN_NAME = "given.py"


class CourseError(Exception):
    """A problem with the course files or a submission, with the file it concerns."""


def stages():
    """The stage (nbgrader assignment) names, in order: ``["01-sigmoid", ...]``."""
    return sorted(p.name for p in SOLUTIONS.iterdir()
                  if p.name[:2].isdigit() and notebook_path(SOLUTIONS, p.name).is_file())


def cell_grade_id(cell):
    """The nbgrader grade_id of `cell`, or None (nbgrader.utils has is_grade and is_solution, not this)."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def diagnoses(path):
    """The diagnoses the hidden checks left in an autograded notebook: ``{grade_id: {"name", "hint"}}``."""
    if not Path(path).is_file():
        return {}
    from cells import stored_diagnosis

    return {cell_grade_id(c): stored_diagnosis(c) for c in read_notebook(path).cells if stored_diagnosis(c) is not None}


def graded_functions():
    """The stage registry: ``{stage: (function, ...)}``, in order.

    A stage grades the functions whose exercise cell (an nbgrader solution
    cell) has the function's name as grade_id and whose reference version is
    in ``reference.py``; so a new stage is its reference function(s), its
    checks and its notebook.  A stage's ``given.py`` holds the reference
    versions of everything graded before it.
    """
    reference = {node.name for node in ast.parse(REFERENCE_FILE.read_text()).body if isinstance(node, ast.FunctionDef)}
    registry = {}
    for stage in stages():
        nb = nbformat.read(str(notebook_path(SOLUTIONS, stage)), as_version=4)
        registry[stage] = tuple(c.metadata.nbgrader.grade_id for c in nb.cells
                                if is_solution(c) and c.metadata.nbgrader.get("grade_id") in reference)
    return registry


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
        grade_id = cell_grade_id(cell)
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
    """Read a notebook; a broken file raises CourseError naming it."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError, nbformat.ValidationError) as error:
        raise CourseError(f"{path}: cannot read this notebook ({error})") from error


def write_notebook(nb, path):
    """Write `nb` as JSON with one-space indentation (nbformat's), ending with a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


#: What every grading process and learner's kernel runs with: matplotlib draws without a display,
#: the debugger's warning about frozen modules is off, and BLAS keeps to one thread.  The grader
#: already runs a process per core; OpenBLAS's threads spin while they wait, and on a busy machine
#: they took 2 to 10 times the CPU of one thread (benchmarks/blas_threads.py).
HEADLESS = {"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def grading_variables(pythonpath=""):
    """The environment variables of the grader's processes: autograder/ importable, `HEADLESS`.

    Parameters
    ----------
    pythonpath : str, optional
        A ``PYTHONPATH`` to keep, after ``autograder/``.

    Returns
    -------
    variables : dict of str to str
        ``PYTHONPATH`` and the `HEADLESS` variables.
    """
    paths = [str(AUTOGRADER)] + [p for p in pythonpath.split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), **HEADLESS}


def grading_env():
    """The environment for the grader's processes and instructor notebooks: this one with `grading_variables`.

    The one place the grading environment is made: the command line applies it
    to itself (`use_grading_env`), tests and benchmarks start processes with it.
    """
    env = dict(os.environ)
    env.update(grading_variables(env.get("PYTHONPATH", "")))
    # nbgrader runs tools of its environment (alembic) by name.
    paths = [str(Path(sys.executable).parent)] + env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def use_grading_env():
    """Make this process's environment `grading_env` (inherited by the processes and kernels it starts)."""
    os.environ.update(grading_env())


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

#: The stage registry (see `graded_functions`).
GRADED_FUNCTIONS = graded_functions()


def given_functions(stage):
    """The functions graded before `stage`, which its ``given.py`` provides."""
    names = list(GRADED_FUNCTIONS)
    if stage not in names:
        raise CourseError(f"{SOLUTIONS / stage}: not a stage of the course ({', '.join(names)})")
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
            raise CourseError(f"{reference_file}: no function {name!r} for {stage}'s {GIVEN_NAME}")
        needed.add(name)
        todo.extend(n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name) and n.id in defined)
    graded_in = {f: earlier for earlier, functions in GRADED_FUNCTIONS.items() for f in functions}
    parts = ["# This file is generated from autograder/reference.py by `make release`. Do not edit it.\n"
             f'"""Functions from the earlier stages, for {stage}: {", ".join(wanted)}.\n\n'
             'Import them with ``from given import ...``.\n"""',
             "\n".join(imports)]
    seen = set()
    for name in order:
        node = defined[name]
        if name in needed and id(node) not in seen:
            seen.add(id(node))
            where = f"# Graded in stage {graded_in[name]}.\n" if name in graded_in else ""
            parts.append(where + ast.get_source_segment(text, node))
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
        f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})  # noqa: F821\n"
        "# Its own gradebook (nbgrader's default, gradebook.db here), never the course's database.\n"
        "c.CourseDirectory.pop('db_url', None)\n")
    for stage in only or stages():
        shutil.copytree(SOLUTIONS / stage, path / "solutions" / stage,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return path


def generate_release(workspace, only=None):
    """nbgrader's generate_assignment (in this process) for every stage, or those in `only`; returns notebooks/."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    workspace = Path(workspace)
    config = load_course_config(workspace)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    for stage in only or stages():
        result = api.generate_assignment(stage, force=True, create=True)
        if not result["success"]:
            reason = last_error_line(result.get("error") or result.get("log") or "")
            raise CourseError(f"{notebook_path(SOLUTIONS, stage)}: nbgrader generate_assignment failed: {reason}")
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


def load_course_config(course, overrides=None):
    """The course folder's nbgrader configuration (its ``nbgrader_config.py``), with `overrides`."""
    from traitlets.config.loader import PyFileConfigLoader

    bin_folder = str(Path(sys.executable).parent)  # nbgrader runs its environment's `alembic` by name
    if bin_folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_folder, os.environ.get("PATH", "")])
    course = Path(course).resolve()
    path = course / "nbgrader_config.py"
    if not path.is_file():
        raise CourseError(f"{path}: no nbgrader configuration in the course folder")
    config = PyFileConfigLoader(path.name, path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    if overrides:
        config.merge(Config(overrides))
    return config


def gradebook_url(course, config=None):
    """Where the gradebook of `course` is: nbgrader's ``CourseDirectory.db_url`` (default: its ``gradebook.db``).

    Parameters
    ----------
    course : path
        The course folder (with ``nbgrader_config.py``).
    config : traitlets.config.Config, optional
        Its configuration, when already loaded (`load_course_config`).
    """
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config if config is not None else load_course_config(course)).db_url


@functools.cache
def gradebook_schema():
    """The schema version nbgrader stamps on a gradebook it creates: the head of its own migrations.

    nbgrader finds it by running the ``alembic heads`` command (a second Python,
    about 3 s of every new gradebook); this reads the same migrations in this
    process, once.  Importing this module puts it in nbgrader's place
    (``nbgrader_config.py`` imports it, so nbgrader's own commands use it too).
    """
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


nbgrader.api.get_alembic_version = gradebook_schema


@functools.cache
def gradebook_engine(url, **options):
    """nbgrader's SQLAlchemy engine of the gradebook at `url`: one per gradebook in a process.

    nbgrader's `Gradebook` made a new engine each time it was opened: several
    times for every submission autograded or given feedback (the converter, then
    each of its preprocessors), each engine with an empty cache of compiled SQL, so
    the same statements were compiled again each time (about 0.1 s of every
    submission in the driver).
    An engine is meant to last; `Gradebook.close` still closes its connections
    (``engine.dispose()``).  Importing this module puts it in nbgrader's place,
    like `gradebook_schema`.  The grading processes fork from a fork server that
    opens no gradebook, so no connection is shared between processes.
    """
    return sqlalchemy.create_engine(url, **options)


nbgrader.api.create_engine = gradebook_engine


@contextlib.contextmanager
def open_gradebook(course, config=None):
    """nbgrader's `Gradebook` of `course`, at its ``db_url`` (sqlite file or a database server), closed afterwards."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    course_dir = CourseDirectory(config=config if config is not None else load_course_config(course))
    with Gradebook(course_dir.db_url, course_dir.course_id) as gb:
        yield gb


def has_gradebook(course, config=None):
    """True when the gradebook of `course` exists and holds nbgrader's tables (nothing is created to find out)."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(gradebook_url(course, config))
    if url.get_backend_name() == "sqlite":
        return bool(url.database) and Path(url.database).is_file() and Path(url.database).stat().st_size > 0
    engine = sqlalchemy.create_engine(url)
    try:
        return "assignment" in sqlalchemy.inspect(engine).get_table_names()
    except sqlalchemy.exc.OperationalError as error:
        raise CourseError(f"{Path(course) / 'nbgrader_config.py'}: cannot reach the gradebook at "
                          f"{url.render_as_string(hide_password=True)}: {last_error_line(error)}") from error
    finally:
        engine.dispose()


def copy_gradebook(course, target_url):
    """Copy every row of the gradebook of `course` into the empty database at `target_url`; returns the row count.

    nbgrader has no command that moves a gradebook between databases
    (``nbgrader db upgrade`` upgrades one in place): this creates nbgrader's
    tables at `target_url` and copies the rows table by table, parents first
    (every key is a string, so no sequence needs resetting), with the schema
    version (``alembic_version``).  Set ``CourseDirectory.db_url`` to
    `target_url` afterwards.
    """
    import sqlalchemy
    from nbgrader.api import Base

    source = sqlalchemy.create_engine(gradebook_url(course))
    target = sqlalchemy.create_engine(target_url)
    shown = target.url.render_as_string(hide_password=True)
    copied = 0
    try:
        if not has_gradebook(course):
            raise CourseError(f"{course}: no gradebook to copy (its CourseDirectory.db_url)")
        version = sqlalchemy.Table("alembic_version", sqlalchemy.MetaData(), autoload_with=source)
        tables = [*Base.metadata.sorted_tables, version]
        with source.connect() as src, target.begin() as dst:
            if sqlalchemy.inspect(dst).get_table_names():
                raise CourseError(f"{shown}: not an empty database; copy the gradebook into a new one")
            Base.metadata.create_all(dst)
            version.create(dst)
            for table in tables:
                rows = [dict(row._mapping) for row in src.execute(table.select())]
                if rows:
                    dst.execute(table.insert(), rows)
                copied += len(rows)
    except sqlalchemy.exc.OperationalError as error:
        raise CourseError(f"{shown}: cannot copy the gradebook there: {last_error_line(error)}") from error
    finally:
        source.dispose()
        target.dispose()
    return copied


@contextlib.contextmanager
def locked(path, wait=True, busy=None):
    """Hold an exclusive lock on the file `path` while the block runs (where the platform has one).

    The lock is ``flock``'s: the system releases it when its holder ends,
    killed or not, so a stale lock file never blocks anyone.  The holder's
    process id is written in the file.

    Parameters
    ----------
    path : path
        The lock file (created, never removed).
    wait : bool, default=True
        Wait for the holder to finish; else raise `CourseError` with `busy`.
    busy : str, optional
        The error's message; ``{pid}`` is replaced by the holder's process id.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise CourseError((busy or "{path}: locked by process {pid}").format(path=path, pid=holder)) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def last_error_line(text):
    """The line of a log that best says what went wrong (the last exception, else the last line)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    exceptions = [line for line in lines if "Error" in line or "Exception" in line]
    return (exceptions or lines or ["unknown error"])[-1][:300]


# --- Solutions ---------------------------------------------------------------------

def strip_solution_markers(source):
    """A solution cell's code as a learner would write it: the nbgrader markers removed."""
    lines = [line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(lines)


def solution_cells(stage):
    """The solution code of each solution cell of `stage`, by grade_id, markers removed."""
    nb = read_notebook(notebook_path(SOLUTIONS, stage))
    return {cell.metadata.nbgrader.grade_id: strip_solution_markers(cell.source)
            for cell in nb.cells if is_solution(cell)}


def heading_level(line):
    """The level of a Markdown heading line (``## ...`` is 2), 0 for any other line."""
    return len(line) - len(line.lstrip("#")) if line.startswith("#") else 0


def is_optional_heading(line):
    """True for the heading of an optional section: its text starts with "Optional"."""
    return heading_level(line) > 0 and line.lstrip("# ").lower().startswith("optional")


def lesson_words(nb):
    """Words of prose in `nb`'s markdown cells: ``(required, optional)``.

    A section whose heading starts with "Optional" (``### Optional: ...``) is optional
    up to the next heading of the same or a higher level; everything else is the
    required path a learner reads. Words are whitespace-separated tokens, formulas
    included.
    """
    required = optional = 0
    optional_level = None
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = heading_level(line)
            if heading and optional_level is not None and heading <= optional_level:
                optional_level = None
            if optional_level is None and is_optional_heading(line):
                optional_level = heading
            words = len(line.split())
            if optional_level is None:
                required += words
            else:
                optional += words
    return required, optional
