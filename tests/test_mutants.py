"""The mutation test, as `make mutants` runs it (``python -m mutants``, autograder/mutants.py).

Every known mistake of the catalogue (autograder/variants/) is caught by the hidden tests and named by
its own diagnosis, none costs points outside its own function, no message shows a traceback or the
reference, and no correct rewrite loses a point.  (tests/test_checks.py does not judge the catalogue again.)
`make test` runs it here, beside the other modules, instead of before them.
"""
import re
import subprocess
import sys

import course

SUMMARY = re.compile(r"^mutants: (\d+), killed: (\d+), diagnosed: (\d+), misdiagnosed: (\d+), "
                     r"cross-function losses: (\d+), unnamed diagnoses: (\d+), leaky messages: (\d+), "
                     r"correct variants: (\d+), false fails: (\d+)", re.M)


def test_every_known_mistake_is_caught_and_named_and_no_correct_rewrite_loses_a_point():
    run = subprocess.run([sys.executable, "-m", "mutants"], env=course.grading_env(), capture_output=True,
                         text=True, timeout=900)
    found = SUMMARY.search(run.stdout)
    failing = [line for line in run.stdout.splitlines()
               if re.search(r"SURVIVED|MISDIAGNOSED|NOT NAMED|COSTS POINTS|TRACEBACK|FALSE FAIL", line)]
    assert run.returncode == 0 and found, \
        f"expected `python -m mutants` to pass, found exit {run.returncode}: {failing or run.stderr[-2000:]}"
    mutants, killed, diagnosed, misdiagnosed, cross, unnamed, leaky, correct, false_fails = map(int, found.groups())
    assert mutants >= 100 and correct >= 20, f"expected the whole catalogue judged, found {found.group()}"
    assert (killed, misdiagnosed, cross, unnamed, leaky, false_fails) == (mutants, 0, 0, 0, 0, 0), \
        f"expected every mistake caught and named by its own diagnosis where it has one, none costing others' " \
        f"points, no message showing a traceback or the reference, no false fail: {found.group()}"
    print("\n" + found.group())
