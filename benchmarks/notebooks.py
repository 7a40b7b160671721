"""Seconds each solution notebook takes to execute (target: under 20 s each on 2 cores).

    PYTHONPATH=autograder .venv/bin/python benchmarks/notebooks.py
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograder"))
import classroom  # noqa: E402


def main():
    os.environ.update(classroom.grading_env())
    total = 0.0
    for stage in classroom.stages():
        path = classroom.notebook_path(classroom.SOLUTIONS, stage)
        nb = nbformat.read(str(path), as_version=4)
        with tempfile.TemporaryDirectory():
            start = time.perf_counter()
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds = time.perf_counter() - start
        total += seconds
        print(f"{stage:14} {seconds:6.1f} s")
    print(f"{'all':14} {total:6.1f} s")


if __name__ == "__main__":
    main()
