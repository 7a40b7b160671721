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
    return f"{ename}: {evalue}" if evalue else ename


class ShortenTracebacks(NbGraderPreprocessor):
    """Replace each error traceback by `short_error` of its exception.

    A traceback through a hidden test shows the test's source lines and the
    instructor modules' file names; the exception message written by the
    checks library is all a learner needs.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [short_error(output.get("ename", ""), output.get("evalue", ""))]
        return cell, resources


LEARNER_FEEDBACK_PREPROCESSORS = [
    GetGrades,
    ClearHiddenTests,
    ShortenTracebacks,
    CSSHTMLHeaderPreprocessor,
]
