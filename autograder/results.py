"""What grading gave: each submission's `Outcome`, read from the gradebook, the class summary, the export.

An `Outcome` is made once: from the gradebook and the autograded notebook
(`read_outcomes`) for a submission graded, or with its reason for one that
could not be.
"""
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from course import diagnoses, load_course_config, open_gradebook


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


def read_outcomes(course, graded):
    """The outcomes of graded submissions: scores, failed cells and feedback lines from the gradebook.

    Parameters
    ----------
    course : path
        The course folder.
    graded : list of dict
        One per submission: ``student``, ``stage``, and optionally ``seconds``, ``manual_review``,
        ``skipped`` (fields of `Outcome`).

    Returns
    -------
    outcomes : list of Outcome
        In the order of `graded`; a submission missing from the gradebook is not graded, saying so.
    """
    from nbgrader.api import MissingEntry

    from feedback_filter import failure_messages

    outcomes = []
    with open_gradebook(course) as gb:
        for known in graded:
            try:
                submission = gb.find_submission(known["stage"], known["student"])
            except MissingEntry:
                outcomes.append(Outcome(**known, graded=False, reason="no submission in the gradebook"))
                continue
            outcome = Outcome(**known, graded=True, score=submission.score, max_score=submission.max_score,
                              needs_manual_grade=bool(submission.needs_manual_grade))
            for notebook in submission.notebooks:
                order = {c.name: i for i, c in enumerate(notebook.notebook.grade_cells)}
                for g in sorted(notebook.grades, key=lambda g: order.get(g.name, 0)):
                    outcome.cells[g.name] = (g.score, g.max_score)
                    if g.max_score and g.score < g.max_score:
                        outcome.failed_cells.append(g.name)
            autograded = Path(course) / "autograded" / outcome.student / outcome.stage / f"{outcome.stage}.ipynb"
            outcome.messages = failure_messages(autograded)
            outcome.diagnoses = diagnoses(autograded)
            outcomes.append(outcome)
    return outcomes


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
