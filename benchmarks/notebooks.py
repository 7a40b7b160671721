"""Seconds each solution notebook takes to execute (target: under 20 s each on 2 cores).

    .venv/bin/python benchmarks/notebooks.py
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograder"))
import course


def main():
    total = 0.0
    for stage in course.stages():
        path = course.notebook_path(course.SOLUTIONS, stage)
        nb = course.read_notebook(path)
        start = time.perf_counter()
        course.run_notebook(nb, path.parent)
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{stage:14} {seconds:6.1f} s")
    print(f"{'all':14} {total:6.1f} s")


if __name__ == "__main__":
    main()
