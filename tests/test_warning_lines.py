"""A warning of the learner's code names "line N of your `propagate`", never a scratch file's path."""
import contextlib
import io
import linecache
import sys
import warnings

import numpy as np
import pytest

from firstneuron import warning_lines

CELL = "import numpy as np\n\n\ndef propagate(A):\n    cost = np.log(A)\n    return cost\n\n\nz = np.log(0.0 * np.ones(1))\n"
#: What ipykernel names a cell's file, here under the grader's sandbox scratch folder.
CELL_FILE = "/tmp/firstneuron-kernel-ab12/work/ipykernel_81/2041583.py"


def show(message, category, filename, lineno, file=None, line=None):
    """Python's own showwarning: the formatted warning to stderr."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run_cell(filename):
    """Run CELL as if compiled from `filename`, then call its propagate; return what went to stderr."""
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace = {}
    err = io.StringIO()
    with contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show  # as Python shows it, while the warning is raised (pytest records them)
        exec(compile(CELL, filename, "exec"), namespace)
        namespace["propagate"](np.zeros((1, 3)))
    return err.getvalue()


def test_a_warning_of_a_cells_function_names_its_line_and_function():
    printed = run_cell(CELL_FILE)
    expected = ["line 9 of the cell: RuntimeWarning: divide by zero encountered in log",
                "  z = np.log(0.0 * np.ones(1))",
                "line 5 of your `propagate`: RuntimeWarning: divide by zero encountered in log",
                "  cost = np.log(A)"]
    assert printed.splitlines() == expected, f"expected {expected}, found {printed.splitlines()}"
    assert "ipykernel_" not in printed and "/tmp" not in printed, f"expected no scratch path, found {printed!r}"


def test_a_warning_of_any_other_file_keeps_pythons_form():
    printed = run_cell("/srv/course/helpers.py")
    assert "/srv/course/helpers.py:5: RuntimeWarning: divide by zero encountered in log" in printed, (
        f"expected Python's own form for a file that is not a cell, found {printed!r}")


def test_a_real_kernel_names_the_learners_line():
    """In an ipykernel, as in the learner's JupyterLab and the grader's sandbox: importing firstneuron is enough."""
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3")
    try:
        streams = []

        def keep(message):
            if message["msg_type"] == "stream":
                streams.append((message["content"]["name"], message["content"]["text"]))

        code = ("import numpy as np\nimport firstneuron.testing\n\n"
                "def propagate(w, b, X, Y):\n    A = np.zeros((1, 3))\n    return np.log(A)\n\n"
                "propagate(None, None, None, None)\n")
        kc.execute_interactive(code, output_hook=keep, timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    stderr = "".join(text for name, text in streams if name == "stderr")
    assert "line 6 of your `propagate`: RuntimeWarning: divide by zero encountered in log" in stderr, (
        f"expected the warning to name line 6 of propagate, found {stderr!r}")
    assert "ipykernel_" not in stderr, f"expected no path of the cell's scratch file, found {stderr!r}"
