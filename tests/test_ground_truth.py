"""Nothing the learner's kernel says is ground truth: an audit of every hidden block.

When graded, a hidden block runs in the grader's process, and every name it does
not define itself is fetched from the learner's kernel.  Such a name may be the
thing being graded (a graded function, an answer such as ``m_train``) or the
notebook's ``CELEBA`` switch, which only chooses which of the grader's own data
sets is the truth; it may never be data an expected value is computed from
(``train_x_orig``): a kernel can swap it for whatever makes a wrong answer right.
The end-to-end case (01-sigmoid with 1-image arrays swapped in around the test
cell: 4/5, not 5/5) is graded in tests/test_grading.py (student ``swapper``).
"""
import ast
import builtins

import pytest

import cells
import course

#: Names a hidden block may take from the kernel besides the graded functions and answers.
SWITCHES = {"CELEBA"}


def kernel_names(source):
    """The names a hidden block reads without defining them (the ones the kernel would supply)."""
    tree = ast.parse(source)
    defined = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    defined |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return read - defined - set(dir(builtins))


def answers(stage):
    """What the learner's solution cells define: the graded functions and answers such as m_train."""
    names = set()
    for source in course.solution_cells(stage).values():
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                names.add(node.name)
            for target in getattr(node, "targets", []):
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("stage", course.stages())
def test_hidden_blocks_take_no_data_from_the_kernel(stage):
    nb = course.read_notebook(course.notebook_path(course.SOLUTIONS, stage))
    allowed = answers(stage) | SWITCHES
    audited = 0
    for cell in nb.cells:
        hidden, _ = cells.split_hidden(cell.source) if cell.cell_type == "code" else (None, None)
        if hidden is None:
            continue
        audited += 1
        taken = kernel_names(hidden) - allowed
        assert not taken, (f"expected the hidden block of {stage}/{course.cell_grade_id(cell)} to take only graded "
                           f"functions, answers and {sorted(SWITCHES)} from the kernel, found it reads {sorted(taken)}")
    assert audited, f"expected hidden blocks in {stage}, found none"
