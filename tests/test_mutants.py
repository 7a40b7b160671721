"""The mutation test, as `make mutants` runs it (``python -m mutants``, autograder/mutants.py).

Every known mistake of the catalogue (autograder/variants/) is caught by the hidden tests and named by
its own diagnosis, none costs points outside its own function, and no correct rewrite loses a point.
`make test` runs it here, beside the other modules, instead of before them.
"""
import re
import subprocess
import sys

import course

SUMMARY = re.compile(r"^mutants: (\d+), killed: (\d+), diagnosed: (\d+), misdiagnosed: (\d+), "
                     r"cross-function losses: (\d+), correct variants: (\d+), false fails: (\d+)", re.M)


def test_every_known_mistake_is_caught_and_named_and_no_correct_rewrite_loses_a_point():
    run = subprocess.run([sys.executable, "-m", "mutants"], env=course.grading_env(), capture_output=True,
                         text=True, timeout=900)
    found = SUMMARY.search(run.stdout)
    failing = [line for line in run.stdout.splitlines()
               if re.search(r"SURVIVED|MISDIAGNOSED|COSTS POINTS|FALSE FAIL|not named", line)]
    assert run.returncode == 0 and found, \
        f"expected `python -m mutants` to pass, found exit {run.returncode}: {failing or run.stderr[-2000:]}"
    mutants, killed, diagnosed, misdiagnosed, cross, correct, false_fails = map(int, found.groups())
    assert mutants >= 100 and correct >= 20, f"expected the whole catalogue judged, found {found.group()}"
    assert (killed, misdiagnosed, cross, false_fails) == (mutants, 0, 0, 0), \
        f"expected every mistake caught, none misdiagnosed or costing others' points, no false fail: {found.group()}"
    print("\n" + found.group())
