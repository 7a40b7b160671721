"""nbgrader configuration of the First Neuron course.

nbgrader reads this file from the folder it runs in: the repository root for
an instructor, or a grading workspace whose own ``nbgrader_config.py`` loads
this one (see ``autograder/classroom.py``).  Paths are resolved from this file,
never from the working directory.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTOGRADER = HERE / "autograder"
# The feedback preprocessors live in autograder/; the grading kernels find the
# checks and the reference there too (classroom.py and the Makefile put the
# folder on PYTHONPATH).
if str(AUTOGRADER) not in sys.path:
    sys.path.insert(0, str(AUTOGRADER))

from feedback_filter import LEARNER_FEEDBACK_PREPROCESSORS, LearnerFeedbackExporter  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades)
from trusted import TrustedExecute  # noqa: E402

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "firstneuron"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Never let a learner's file shadow an instructor module (reference.py, the
# checks package, ...): a file of such a name (NAME.py, or a package's folder)
# is not copied from a submission to grading, and the hidden checks import
# theirs in the grader's process, from autograder/ (tests/test_grading.py).
INSTRUCTOR_PACKAGES = sorted(p.name for p in AUTOGRADER.iterdir() if (p / "__init__.py").is_file())
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*",
    *sorted(p.name for p in AUTOGRADER.glob("*.py")),
    *INSTRUCTOR_PACKAGES, *(f"{name}.py" for name in INSTRUCTOR_PACKAGES),
]

# Release notebooks: no outputs, one generic kernel.
c.ClearOutput.enabled = True

# Autograding: a deleted test cell is put back and graded; a cell that runs
# too long is interrupted and the rest of the notebook still runs.
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 20
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 60
# The trust boundary (autograder/trusted.py): learner code runs in a sandboxed
# kernel (autograder/sandbox.py, limits in c.Sandbox), hidden tests in the
# grader's process.  This replaces nbgrader's Execute even for a bare
# `nbgrader autograde`; `make grade` adds every core and a time limit per submission.
c.Autograde.autograde_preprocessors = [
    TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]

# Feedback: hidden tests removed, tracebacks cut to the assertion message, learners'
# HTML/JavaScript outputs made inert; the page renders formulas offline (MathML, no CDN).
c.GenerateFeedback.preprocessors = LEARNER_FEEDBACK_PREPROCESSORS
c.GenerateFeedback.exporter_class = LearnerFeedbackExporter

# The grading service (`make serve`, autograder/serve.py): each submission in the
# exchange graded as it arrives, its feedback released to its learner.
c.Serve.attempts_per_hour = 6    # graded submissions per learner and stage in any hour (0: no limit)
c.Serve.release_feedback = True  # False: grade only; the instructor runs `nbgrader release_feedback`
c.Serve.stages = []              # [] = every stage released to the exchange
c.Serve.poll_interval = 2.0      # seconds between two looks at the exchange's inbound
