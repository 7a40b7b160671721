"""The notebook's vocabulary: what a test cell is, its hidden part, the exercise it grades, its diagnosis.

The one definition every other module uses (grading, the mutation test, the
feedback pages, the course's files, the tests):

- a *solution cell* is an nbgrader solution cell: the learner's exercise; its
  grade_id is the function's name.  It is *unattempted* while it still raises
  ``NotImplementedError()``;
- a *test cell* is an nbgrader grade cell that is not a solution cell.  Its
  grade_id is ``NAME_tests``, or ``NAME_PART_tests`` for a function graded in
  parts (`grades`, `function_of`); it has points and a *hidden part* between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (`split_hidden`),
  which runs in the grader, the rest (the visible tests) in the learner's kernel;
- a *figure cell* is any other code cell that ends with ``plt.show()``;
- a test cell whose check named the learner's mistake carries a `Diagnosis`
  in its metadata;
- an error output's `ErrorKind` says why a cell stopped when it is not the
  learner's own exception (the grader's time limit, a kernel that died ...).
"""
import re
from dataclasses import dataclass
from enum import StrEnum

from firstneuron.testing import NotAttempted

#: The hidden part of a test cell (indented markers too, as a learner's editor may leave them).
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
#: Any nbgrader marker of a solution or of hidden tests, however it is written: none may reach a learner.
MARKER = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS)")
#: What ends the grade_id of every test cell.
TEST_SUFFIX = "_tests"
#: What a solution cell holds until the learner attempts it.
STUB = "raise NotImplementedError()"
#: The key of the course's own data in a cell's metadata (the diagnosis of its hidden checks).
METADATA_KEY = "firstneuron"


class ErrorKind(StrEnum):
    """The class name of an error output that is not the learner's own exception: why the cell stopped."""

    TIMED_OUT = "CellTimeoutError"     # the cell, or the notebook, ran past its time limit
    KERNEL_DIED = "KernelDied"         # the kernel died, or was restarted (scratch folder full)
    TOO_LARGE = "MessageTooLarge"      # the kernel sent a message over its cap; it was not read
    NOT_ATTEMPTED = NotAttempted.__name__  # firstneuron.testing's visible tests before the exercise was attempted


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution_cell(cell):
    """True for an nbgrader solution cell (an exercise)."""
    return bool(_nbgrader(cell).get("solution"))


def is_graded(cell):
    """True for a cell with points: an nbgrader grade cell (a test cell, or a solution cell graded as a whole)."""
    return bool(_nbgrader(cell).get("grade"))


def is_test_cell(cell):
    """True for a test cell: an nbgrader grade cell that is not a solution cell."""
    return is_graded(cell) and not is_solution_cell(cell)


def is_figure_cell(cell):
    """True for a code cell that is neither an exercise nor a test and ends with ``plt.show()`` (it draws)."""
    lines = [line.strip() for line in cell.get("source", "").splitlines() if line.strip()]
    return (cell.get("cell_type") == "code" and not is_graded(cell) and not is_solution_cell(cell)
            and bool(lines) and lines[-1] == "plt.show()")


def unattempted(cell):
    """True for a solution cell the learner has not touched: it still raises NotImplementedError."""
    return is_solution_cell(cell) and STUB in cell.get("source", "")


def split_hidden(source):
    """``(hidden, visible)``: a test cell's hidden tests and the rest, or ``(None, source)`` without hidden tests."""
    hidden = HIDDEN.findall(source)
    if not hidden:
        return None, source
    return "\n".join(hidden), HIDDEN.sub("", source)


def grades(test_id, function):
    """True when the test cell `test_id` grades the solution cell `function`: ``function_tests``, ``function_..._tests``."""
    return test_id == f"{function}{TEST_SUFFIX}" or (test_id.startswith(f"{function}_")
                                                    and test_id.endswith(TEST_SUFFIX))


def function_of(test_id, functions):
    """The one of `functions` (solution cells' grade_ids) whose cell `test_id` grades, or None.

    When two fit (``a`` and ``a_b`` for ``a_b_tests``), the longer name is the one.
    """
    fits = [function for function in functions if grades(test_id, function)]
    return max(fits, key=len) if fits else None


def exercise_name(test_id):
    """What a test cell is called for a learner: its grade_id without ``_tests`` (``optimize_steps``)."""
    return test_id.removesuffix(TEST_SUFFIX)


@dataclass(frozen=True)
class TestCell:
    """One test cell: its grade_id, points, hidden part (None without one), visible part, and source."""

    __test__ = False  # not a pytest class

    grade_id: str
    points: float
    hidden: str
    visible: str
    source: str


def test_cells(nb):
    """The test cells of `nb`, in order (a list of `TestCell`)."""
    found = []
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and is_test_cell(cell):
            meta = _nbgrader(cell)
            hidden, visible = split_hidden(cell.get("source", ""))
            found.append(TestCell(meta["grade_id"], meta.get("points", 0), hidden, visible, cell.get("source", "")))
    return found


test_cells.__test__ = False  # not a pytest test either


@dataclass(frozen=True)
class Diagnosis:
    """The learner's mistake as a check named it: `name` (the data a report counts) and `hint` (what to do)."""

    name: str
    hint: str = None

    @classmethod
    def of(cls, error):
        """The diagnosis a check's failure `error` carries (its ``mistake`` and ``hint``), or None."""
        name = getattr(error, "mistake", None)
        return cls(name, getattr(error, "hint", None)) if isinstance(name, str) else None

    def as_dict(self):
        """``{"name": ..., "hint": ...}``: the form kept in the notebook and the gradebook's readers."""
        return {"name": self.name, "hint": self.hint}


def set_diagnosis(cell, diagnosis):
    """Keep `diagnosis` (or None: no diagnosis) in the metadata of the test cell `cell`, in place."""
    cell.metadata.pop(METADATA_KEY, None)
    if diagnosis is not None:
        cell.metadata[METADATA_KEY] = {"diagnosis": diagnosis.as_dict()}


def stored_diagnosis(cell):
    """The diagnosis `set_diagnosis` kept in `cell`: ``{"name", "hint"}``, or None."""
    return cell.get("metadata", {}).get(METADATA_KEY, {}).get("diagnosis")
