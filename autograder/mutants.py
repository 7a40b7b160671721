"""Mutation test of the autograder: every known mistake is caught and named, no correct variant fails.

Each variant of ``variants/*.toml`` is applied to the solution of its stage;
the stage's solution cells then run, as a learner's notebook would, after
the stage's ``given.py`` and data, and every hidden test of the stage runs
the checks exactly as the notebook's hidden tests call them (their source is
read from the solution notebook).  ``python -m mutants`` (``make mutants``)
prints one line per variant and a summary, and fails unless every mistake is
killed, at least `MIN_DIAGNOSED` of them are diagnosed by name, and no
correct variant loses a point.
"""
import argparse
import contextlib
import io
import re
import sys
from dataclasses import dataclass, field

import nbformat
import numpy as np

import classroom
from firstneuron.data import load_course_data

#: Share of the mistakes whose diagnosis must name the catalogue's mistake.
MIN_DIAGNOSED = 0.8
#: Seeds the hidden checks run with (each variant is judged on all of them).
SEEDS = (2026, 7)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def hidden_tests(stage):
    """The hidden tests of `stage`, by the grade_id of their test cell: ``{grade_id: source}``."""
    nb = nbformat.read(str(classroom.notebook_path(classroom.SOLUTIONS, stage)), as_version=4)
    tests = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found = HIDDEN.findall(cell.source)
            if found:
                tests[meta["grade_id"]] = "\n".join(found)
    return tests


def points(stage):
    """Points of each test cell of `stage`, by grade_id."""
    nb = nbformat.read(str(classroom.notebook_path(classroom.SOLUTIONS, stage)), as_version=4)
    return {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.get("points", 0) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


_DATA = {}


def learner_namespace(stage, variants=()):
    """The variables a learner's notebook of `stage` holds after its solution cells ran.

    ``given.py``'s functions, the data (``train_x_orig`` ...) and numpy, then
    every solution cell in order, with each of `variants` (a Variant or a
    sequence of them) applied to its cell.
    """
    if isinstance(variants, classroom.Variant):
        variants = [variants]
    if "data" not in _DATA:
        _DATA["data"] = load_course_data()
    train_x_orig, train_y, test_x_orig, test_y, classes = _DATA["data"]
    namespace = {"__name__": "__main__", "np": np, "train_x_orig": train_x_orig, "train_y": train_y,
                 "test_x_orig": test_x_orig, "test_y": test_y, "classes": classes}
    given = classroom.SOLUTIONS / stage / classroom.GIVEN_NAME
    if given.exists():
        module = {"__name__": "given"}
        exec(compile(given.read_text(), str(given), "exec"), module)
        namespace.update({name: module[name] for name in classroom.given_functions(stage)})
    for grade_id, source in classroom.solution_cells(stage).items():
        for variant in variants:
            if variant.stage == stage and variant.cell == grade_id:
                source = classroom.apply_variant(source, variant)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<{stage}:{grade_id}>", "exec"), namespace)
    return namespace


@dataclass
class Verdict:
    """What the hidden tests said of one variant."""

    variant: classroom.Variant
    failed: dict = field(default_factory=dict)  # test grade_id -> (mistake name or None, message)

    @property
    def killed(self):
        return bool(self.failed)

    @property
    def named(self):
        """The mistake names the failing checks reported."""
        return {mistake for mistake, _ in self.failed.values() if mistake}

    @property
    def diagnosed(self):
        expected = self.variant.diagnosis
        return bool(self.named) and (not expected or expected in self.named)


def judge(variant, seeds=SEEDS, together=()):
    """Run every hidden test of the variant's stage on it (and on `together`, other variants), for each seed."""
    verdict = Verdict(variant)
    namespace = learner_namespace(variant.stage, [variant, *together])
    for grade_id, source in hidden_tests(variant.stage).items():
        for seed in seeds:
            try:
                with classroom.environment({"FIRSTNEURON_SEED": str(seed)}), \
                        contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                    exec(compile(source, f"<hidden:{grade_id}>", "exec"), dict(namespace))
            except AssertionError as error:
                verdict.failed[grade_id] = (getattr(error, "mistake", None), str(error))
                break
            except Exception as error:  # a learner's code may raise anything; that fails the test
                verdict.failed[grade_id] = (None, f"{type(error).__name__}: {error}")
                break
    return verdict


def run(variants=None, echo=print):
    """Judge every mistake and correct variant; returns (verdicts, summary dict, ok)."""
    catalogue = variants if variants is not None else classroom.load_variants()
    verdicts = [judge(v) for v in catalogue.values() if v.kind in ("mistake", "correct")]
    mistakes = [v for v in verdicts if v.variant.kind == "mistake"]
    correct = [v for v in verdicts if v.variant.kind == "correct"]
    for v in verdicts:
        if v.variant.kind == "mistake":
            state = "killed" if v.killed else "SURVIVED"
            named = ", ".join(sorted(v.named)) or "-"
            diag = "diagnosed" if v.diagnosed else f"NOT diagnosed (expected {v.variant.diagnosis or 'a name'})"
            echo(f"mistake  {v.variant.stage:13} {v.variant.id:32} {state:8} {diag}; named: {named}")
        else:
            state = "FALSE FAIL in " + ", ".join(v.failed) if v.killed else "passes"
            echo(f"correct  {v.variant.stage:13} {v.variant.id:32} {state}")
    summary = {"mutants": len(mistakes), "killed": sum(v.killed for v in mistakes),
               "diagnosed": sum(v.diagnosed for v in mistakes), "correct variants": len(correct),
               "false fails": sum(v.killed for v in correct)}
    ok = (summary["killed"] == summary["mutants"] and summary["false fails"] == 0
          and summary["diagnosed"] >= MIN_DIAGNOSED * summary["mutants"])
    echo(", ".join(f"{k}: {n}" for k, n in summary.items()))
    return verdicts, summary, ok


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mutants", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    _, summary, ok = run()
    if not ok:
        print(f"FAILED: every mistake must be killed, at least {MIN_DIAGNOSED:.0%} diagnosed by name, "
              "and no correct variant may lose a point", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
