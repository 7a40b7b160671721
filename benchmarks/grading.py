"""Grading speed: the class driver against ``nbgrader autograde``, and the self-check.

Builds a course of N submissions of one stage (correct ones, every catalogue
mistake of the stage, blanks; hidden-check seed fixed), grades one copy with
``python -m nbgrader autograde STAGE`` (one process, the course's
configuration: sandboxed kernels, checks outside them) and another with the
driver (``python -m classroom grade``), and prints seconds per submission,
the ratio (until every grade is in the gradebook, as ``nbgrader autograde``;
then with the feedback pages, which ``autograde`` does not make), the driver's peak memory, and whether every cell got the same
score both ways.  Then it times ``make check`` (a warm run, after the release
is cached).  Run on a quiet machine::

    .venv/bin/python benchmarks/grading.py --sizes 50 200
"""
import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograder"))

from course import REPO, generate_release, grading_env, make_workspace, write_notebook  # noqa: E402
import catalogue
import staging
import grading  # noqa: E402

SEED = "2026"


def build_course(folder, stage, size):
    """A course folder with `size` submissions of `stage`: correct, each catalogue mistake, blank, in turn."""
    course = make_workspace(folder, only=[stage])
    release = generate_release(course, only=[stage])
    mistakes = [v.id for v in catalogue.load_variants().values() if v.stage == stage and v.kind == "mistake"]
    plan = itertools.cycle([((), False), ((), True)] + [((m,), False) for m in mistakes])
    for index, (variants, blank) in zip(range(size), plan):
        staging.submit(course, f"s{index:04d}", stage, catalogue.build_submission(stage, variants, blank, release))
    return course


def cell_scores(course, stage):
    """{(student, cell): score} from a course's gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for submission in gb.find_assignment(stage).submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    scores[(submission.student.id, grade.name)] = grade.score
    return scores


def run_nbgrader(course, stage):
    env = dict(grading_env(), FIRSTNEURON_SEED=SEED)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", stage, "--force"], cwd=course, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - start


def run_driver(course, stage):
    """The driver in a process of its own; returns its seconds and peak memory (MiB)."""
    env = dict(grading_env(), FIRSTNEURON_SEED=SEED)
    out = subprocess.run([sys.executable, __file__, "--driver", str(course), stage], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def driver_only(course, stage):
    timings = {}
    start = time.monotonic()
    outcomes = grading.grade_class(course, stage, force=True, progress=False, timings=timings, echo=lambda line: None)
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "grading": timings["grading"], "peak_mib": peak,
                      "graded": sum(o.graded for o in outcomes)}))


def time_check(stage):
    """Seconds of `make check` on a correct notebook, after a first run that caches the release."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stage}.ipynb"
        write_notebook(catalogue.build_submission(stage), path)
        command = ["make", "-s", "check", f"STAGE={stage}", f"NOTEBOOK={path}"]
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        runs = []
        for _ in range(3):
            start = time.monotonic()
            subprocess.run(command, cwd=REPO, capture_output=True, check=True)
            runs.append(time.monotonic() - start)
        return min(runs), max(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="02-propagate")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--driver", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.driver:
        driver_only(args.driver, rest[0])
        return
    print(f"{os.cpu_count()} cores; stage {args.stage}; hidden-check seed {SEED}")
    print("| submissions | `nbgrader autograde` s/sub | driver: grades in, s/sub | ratio | driver with feedback s/sub "
          "| driver peak MiB | same score in every cell |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            plain = build_course(Path(tmp) / "nbgrader", args.stage, size)
            ours = Path(tmp) / "driver"
            shutil.copytree(plain, ours)
            baseline = run_nbgrader(plain, args.stage)
            driver = run_driver(ours, args.stage)
            same = cell_scores(plain, args.stage) == cell_scores(ours, args.stage)
            print(f"| {size} | {baseline / size:.2f} | {driver['grading'] / size:.2f} | "
                  f"{baseline / driver['grading']:.2f} | {driver['seconds'] / size:.2f} | {driver['peak_mib']:.0f} | "
                  f"{same} |", flush=True)
    fastest, slowest = time_check(args.stage)
    print(f"make check STAGE={args.stage} (release cached): {fastest:.1f} s to {slowest:.1f} s over 3 runs")


if __name__ == "__main__":
    main()
