"""Warnings that name the learner's own line ("line 7 of your `propagate`"), not a scratch file's path.

IPython compiles each notebook cell into a file of its own (``.../ipykernel_PID/HASH.py``),
and Python's warnings name that file: ``/tmp/ipykernel_81/2041.py:7: RuntimeWarning: ...``,
and in the grader's sandbox a path under its scratch folder.  Neither means anything to a
learner.  Once `install` has run (importing `firstneuron` runs it), a warning raised by code
written in a cell says which line of which of the learner's functions raised it; warnings of
any other file keep Python's own form.
"""
import linecache
import re
import sys
import warnings

#: The names IPython gives the code of a cell: ipykernel's files, and older IPython's pseudo-files.
CELL_FILE = re.compile(r"(^|[\\/])ipykernel_\d+[\\/]-?\d+\.py$|^<ipython-input-[\w-]+>$")

_python_formatwarning = warnings.formatwarning


def where(filename, lineno, frame=None):
    """Name a line of a cell's code as a learner knows it.

    Parameters
    ----------
    filename : str
        The file a warning names.
    lineno : int
        The line it names.
    frame : frame or None
        The innermost frame to search for the function running that line.

    Returns
    -------
    place : str or None
        ``"line N of your `NAME`"`` when a function NAME defined in a cell runs that line,
        ``"line N of the cell"`` for a cell's own top-level code, None for any other file.
    """
    if not CELL_FILE.search(str(filename)):
        return None
    while frame is not None:
        code = frame.f_code
        if code.co_filename == filename and frame.f_lineno == lineno and not code.co_name.startswith("<"):
            return f"line {lineno} of your `{code.co_name}`"
        frame = frame.f_back
    return f"line {lineno} of the cell"


def formatwarning(message, category, filename, lineno, line=None):
    """`warnings.formatwarning`, with a cell's line named by `where` instead of its file's path."""
    place = where(filename, lineno, sys._getframe(1))
    if place is None:
        return _python_formatwarning(message, category, filename, lineno, line)
    if line is None:
        line = linecache.getline(filename, lineno)
    source = line.strip() if line else ""
    return f"{place}: {category.__name__}: {message}\n" + (f"  {source}\n" if source else "")


def install():
    """Make Python's warnings name a cell's lines with `where` (once per process)."""
    if warnings.formatwarning is not formatwarning:
        warnings.formatwarning = formatwarning
