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

import course  # noqa: E402,F401  (nbgrader reads a new gradebook's schema version in-process: course.gradebook_schema)
from feedback_filter import LEARNER_FEEDBACK_PREPROCESSORS, LearnerFeedbackExporter  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades)
from sanitize import SanitizeLearnerContent  # noqa: E402
from trusted import TrustedExecute  # noqa: E402

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "firstneuron"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# A learner's files are handed to the learner's kernel, whatever their names: a
# helper module named report.py or checks.py is the learner's own and is used
# there.  It cannot shadow the grader's code: the hidden checks run in the
# grader's process, which imports `checks` and `reference` from autograder/
# before any submission (worker.worker_init) and never has a submission's
# folder on its path (tests/hostile.toml: instructor_names_handed_in).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

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
# SanitizeLearnerContent (autograder/sanitize.py) makes the learner's markdown, attachments and
# output metadata inert before the autograded notebook is written: the formgrader draws it in
# the instructor's Jupyter origin, and the feedback page is drawn from it.
c.Autograde.autograde_preprocessors = [
    TrustedExecute, SanitizeLearnerContent, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
# Caps on what a learner's kernel sends and what a learner hands in (defaults shown;
# docs/instructor.md section 7 says what crossing each one costs):
# c.TrustedExecute.max_message_bytes = 64 * 1024**2   # one message of the kernel (never read past it)
# c.TrustedExecute.max_answer_bytes = 64 * 1024**2    # one answer to a hidden check
# c.TrustedExecute.max_output = 1_000_000             # characters of output kept per cell
# c.TrustedExecute.max_notebook_output = 5_000_000    # characters of output kept per notebook
# c.TrustedExecute.max_error_chars = 20_000           # characters of one error output
# c.TrustedExecute.max_notebook_bytes = 32 * 1024**2  # a submitted notebook file (make grade)
# c.TrustedExecute.max_cells = 300                    # cells of a submitted notebook (make grade)
# c.TrustedExecute.max_restarts = 3                   # restarts of a dead or stuck kernel per submission
# c.TrustedExecute.interrupt_grace = 3.0              # seconds a kernel gets to stop after an interrupt
# c.Sandbox.scratch_limit = 256 * 1024**2            # a kernel's folder (and its /tmp); the sandbox's other limits are in section 7 too

# Class grading (`make grade`, autograder/grading.py; defaults shown, the command line's flags win):
# c.Grading.workers = 0                     # local worker processes (0: every core); --workers
# c.Grading.scheduler = ""                  # a Dask scheduler's address (docs/instructor.md section 8); --scheduler
# c.Grading.max_folder_bytes = 64 * 1024**2  # a submission's files besides its notebook sent to the kernel
# c.Grading.quarantine_after = 2            # worker deaths after which a submission waits for a person
# c.Grading.seed = None                     # the hidden checks' seed (default: $FIRSTNEURON_SEED)

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
