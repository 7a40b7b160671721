"""nbgrader pieces that keep feedback useful to a learner and free of leaks.

``nbgrader generate_feedback`` renders the *autograded* notebook, which holds
the hidden tests that autograde put back.  The preprocessors listed in
`LEARNER_FEEDBACK_PREPROCESSORS` (set as ``GenerateFeedback.preprocessors`` in
``nbgrader_config.py``) remove them and cut every traceback down to the line a
learner can act on, so no hidden test code, reference value or instructor
module path reaches the learner.
"""
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor

NOT_ATTEMPTED = "Not attempted yet: replace `raise NotImplementedError()` with your code."
TIMED_OUT = ("Stopped: this cell ran longer than the time limit. Does a loop in your code never end?")


def short_error(ename, evalue):
    """One line for a learner: the exception name and its message.

    Parameters
    ----------
    ename : str
        Exception class name, e.g. ``"AssertionError"``.
    evalue : str
        Exception message.

    Returns
    -------
    line : str
    """
    if ename == "NotImplementedError" and not evalue:
        return NOT_ATTEMPTED
    if ename in ("KeyboardInterrupt", "CellTimeoutError"):
        return TIMED_OUT
    if ename == "CheckFailure":  # the checks' own messages start with the function's name
        return evalue
    return f"{ename}: {evalue}" if evalue else ename


def unattempted(cell):
    """True for a solution cell the learner has not touched: it still raises NotImplementedError."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) and "raise NotImplementedError()" in cell.get("source", "")


def learner_errors(nb):
    """The line to show for each cell that failed: ``{cell index: line}``.

    An error in a test cell whose exercise (the solution cell before it) was
    never attempted is reported as `NOT_ATTEMPTED`, not as the NameError or
    NotImplementedError it causes.
    """
    lines, open_exercise = {}, False
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            open_exercise = unattempted(cell)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            grade = cell.get("metadata", {}).get("nbgrader", {}).get("grade")
            lines[index] = (NOT_ATTEMPTED if grade and open_exercise
                            else short_error(errors[0].get("ename", ""), errors[0].get("evalue", "")))
    return lines


def failure_messages(path):
    """The one-line error each failing grade cell of an autograded notebook shows: ``{grade_id: line}``."""
    import nbformat

    if not path.is_file():
        return {}
    nb = nbformat.read(str(path), as_version=4)
    return {nb.cells[i].metadata["nbgrader"]["grade_id"]: line for i, line in learner_errors(nb).items()
            if nb.cells[i].metadata.get("nbgrader", {}).get("grade")}


class ShortenTracebacks(NbGraderPreprocessor):
    """Replace each error traceback by one line a learner can act on (see `learner_errors`).

    A traceback through a hidden test shows the test's source lines and the
    instructor modules' file names; the exception message written by the
    checks library is all a learner needs.
    """

    def preprocess(self, nb, resources):
        for index, line in learner_errors(nb).items():
            for output in nb.cells[index].get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [line]
        return nb, resources


LEARNER_FEEDBACK_PREPROCESSORS = [
    GetGrades,
    ClearHiddenTests,
    ShortenTracebacks,
    CSSHTMLHeaderPreprocessor,
]
