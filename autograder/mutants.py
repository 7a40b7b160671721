"""Mutation test of the autograder: every known mistake is caught and named, no correct variant fails.

Each variant of ``variants/*.toml`` is applied to the solution of its stage, and
the stage's notebook then runs as a learner's would, in process: ``given.py``
and the data, then every code cell in order up to the last test cell (cells
that only draw, or load the data again, are skipped).  Each test cell runs
its hidden part once per seed, with Python's warnings turned into errors (a
correct function that warns must keep its points), then its visible part.

``python -m mutants`` (``make mutants``) prints one line per variant and a
summary, and fails unless

- every mistake fails one of its own function's test cells (caught),
- at least `MIN_DIAGNOSED` of the mistakes are named by their own diagnosis,
- no mistake is named with another diagnosis (misdiagnosed),
- no mistake fails a test cell of another function, hidden or visible part
  (cross-function loss),
- no correct variant fails any test cell (false fail).
"""
import argparse
import contextlib
import io
import linecache
import re
import sys
import types
import warnings
from dataclasses import dataclass, field

import nbformat
from nbgrader.utils import is_grade, is_solution
import numpy as np

import catalogue
import course
from firstneuron.data import load_course_data

#: Share of the mistakes whose diagnosis must name the catalogue's mistake.
MIN_DIAGNOSED = 0.9
#: Seeds the hidden checks run with (each variant is judged on all of them).
SEEDS = (2026, 7)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS\n?", re.S)
#: Cells that only draw or load the data again: skipped (the data is already in the namespace).
SKIPPED_CELL = re.compile(r"plt\.|load_course_data\(")


def _cells(stage):
    nb = nbformat.read(str(course.notebook_path(course.SOLUTIONS, stage)), as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def hidden_tests(stage):
    """The hidden tests of `stage`, by the grade_id of their test cell: ``{grade_id: source}``."""
    tests = {}
    for cell in _cells(stage):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            found = HIDDEN.findall(cell.source)
            if found:
                tests[meta["grade_id"]] = "\n".join(found)
    return tests


def visible_tests(stage):
    """The visible part of each test cell of `stage` (what follows the hidden tests), by grade_id."""
    return {c.metadata.nbgrader.grade_id: HIDDEN.sub("", c.source) for c in _cells(stage)
            if is_grade(c) and not is_solution(c)}


def points(stage):
    """Points of each test cell of `stage`, by grade_id."""
    return {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.get("points", 0) for c in _cells(stage)
            if is_grade(c)}


def own_cells(stage, cell):
    """The test cells that grade the solution cell `cell`: ``<cell>_tests`` and ``<cell>_..._tests``."""
    return {g for g in points(stage) if g == f"{cell}_tests" or (g.startswith(f"{cell}_") and g.endswith("_tests"))}


_DATA = {}


def _exec(source, filename, namespace):
    """Run `source` in `namespace` with its lines known to linecache, so tracebacks show them."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def _base_namespace(stage):
    if "data" not in _DATA:
        _DATA["data"] = load_course_data()
    train_x_orig, train_y, test_x_orig, test_y, classes = _DATA["data"]
    namespace = {"__name__": "__main__", "np": np, "train_x_orig": train_x_orig, "train_y": train_y,
                 "test_x_orig": test_x_orig, "test_y": test_y, "classes": classes, "CELEBA": None}
    given = course.SOLUTIONS / stage / course.GIVEN_NAME
    if given.exists():
        module = types.ModuleType("given")
        exec(compile(given.read_text(), str(given), "exec"), module.__dict__)
        namespace.update({name: getattr(module, name) for name in course.given_functions(stage)})
        sys.modules["given"] = module  # the notebook's `from given import ...` finds this stage's
    return namespace


def _sources(stage, variants):
    sources = course.solution_cells(stage)
    for variant in variants:
        if variant.stage == stage:
            sources[variant.cell] = catalogue.apply_variant(sources[variant.cell], variant)
    return sources


def learner_namespace(stage, variants=()):
    """The variables a learner's notebook of `stage` holds after its solution cells ran.

    ``given.py``'s functions, the data (``train_x_orig`` ...) and numpy, then
    every solution cell in order, with each of `variants` (a Variant or a
    sequence of them) applied to its cell.
    """
    if isinstance(variants, catalogue.Variant):
        variants = [variants]
    namespace = _base_namespace(stage)
    for grade_id, source in _sources(stage, variants).items():
        with contextlib.redirect_stdout(io.StringIO()):
            _exec(source, f"<{stage}:{grade_id}>", namespace)
    return namespace


@dataclass
class Verdict:
    """What the test cells said of one variant."""

    variant: catalogue.Variant
    failed: dict = field(default_factory=dict)  # test grade_id -> (mistake name or None, message)
    visible: set = field(default_factory=set)   # test grade_ids that failed in their visible part
    own: set = field(default_factory=set)       # test grade_ids of the variant's own function

    @property
    def killed(self):
        return bool(set(self.failed) & self.own)

    @property
    def named(self):
        """The mistake names the failing checks reported."""
        return {mistake for mistake, _ in self.failed.values() if mistake}

    @property
    def diagnosed(self):
        return bool(self.variant.diagnosis) and self.variant.diagnosis in self.named

    @property
    def misdiagnosed(self):
        """Named, but with a name that is not the mistake's own diagnosis."""
        return bool(self.named - {self.variant.diagnosis})

    @property
    def cross(self):
        """Test cells of other functions that the variant failed (it cost points outside its function)."""
        return set(self.failed) - self.own


def _run_test_cell(grade_id, hidden, visible, namespace, seeds):
    """(mistake, message, part) of the first failure of one test cell, or None when it passes."""
    if hidden:
        for seed in seeds:
            try:
                with course.environment({"FIRSTNEURON_SEED": str(seed)}), warnings.catch_warnings(), \
                        contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                    warnings.simplefilter("error")  # a warning that reaches the check is a false fail
                    _exec(hidden, f"<hidden:{grade_id}>", dict(namespace))
            except AssertionError as error:
                return getattr(error, "mistake", None), str(error), "hidden"
            except Exception as error:  # a learner's code may raise anything; that fails the test
                return None, f"{type(error).__name__}: {error}", "hidden"
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _exec(visible, f"<visible:{grade_id}>", namespace)
    except Exception as error:  # visible asserts and whatever the learner's code raises
        return None, f"{type(error).__name__}: {error}", "visible"
    return None


def run_notebook(stage, variants=(), seeds=SEEDS):
    """Run `stage`'s notebook with `variants` applied; ``{test grade_id: (mistake, message, part)}`` of failures."""
    namespace = _base_namespace(stage)
    sources = _sources(stage, variants)
    hidden, visible = hidden_tests(stage), visible_tests(stage)
    cells = _cells(stage)
    last = max(i for i, c in enumerate(cells) if is_grade(c))
    failures = {}
    for cell in cells[:last + 1]:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution"):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    _exec(sources[grade_id], f"<{stage}:{grade_id}>", namespace)
            except Exception:  # a learner's cell may raise; its tests then fail
                continue
        elif meta.get("grade"):
            failure = _run_test_cell(grade_id, hidden.get(grade_id, ""), visible[grade_id], namespace, seeds)
            if failure:
                failures[grade_id] = failure
        elif not SKIPPED_CELL.search(cell.source):
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _exec(source, f"<{stage}:cell>", namespace)
            except Exception:  # cells tagged raises-exception may fail with a learner's code
                continue
    return failures


def judge(variant, seeds=SEEDS, together=()):
    """Run the variant's stage notebook with the variant (and `together`, other variants) applied."""
    verdict = Verdict(variant, own=own_cells(variant.stage, variant.cell))
    for grade_id, (mistake, message, part) in run_notebook(variant.stage, [variant, *together], seeds).items():
        verdict.failed[grade_id] = (mistake, message)
        if part == "visible":
            verdict.visible.add(grade_id)
    return verdict


def run(variants=None, echo=print):
    """Judge every mistake and correct variant; returns (verdicts, summary dict, ok)."""
    known = variants if variants is not None else catalogue.load_variants()
    verdicts = [judge(v) for v in known.values() if v.kind in ("mistake", "correct")]
    mistakes = [v for v in verdicts if v.variant.kind == "mistake"]
    correct = [v for v in verdicts if v.variant.kind == "correct"]
    stage_points = {stage: points(stage) for stage in {v.variant.stage for v in verdicts}}
    for v in verdicts:
        if v.variant.kind == "mistake":
            own_points = {g: p for g, p in stage_points[v.variant.stage].items() if g in v.own}
            state = "killed" if v.killed else "SURVIVED"
            named = ", ".join(sorted(v.named)) or "-"
            diag = ("MISDIAGNOSED" if v.misdiagnosed else "diagnosed" if v.diagnosed
                    else "not named")
            extra = f"; COSTS POINTS IN {', '.join(sorted(v.cross))}" if v.cross else ""
            lost = sum(p for g, p in own_points.items() if g in v.failed)
            echo(f"mistake  {v.variant.stage:13} {v.variant.id:36} {state:8} {diag} "
                 f"(expected {v.variant.diagnosis or '-'}); named: {named}; loses {lost:g} of "
                 f"{sum(own_points.values()):g} points{extra}")
        else:
            state = "FALSE FAIL in " + ", ".join(v.failed) if v.failed else "passes"
            echo(f"correct  {v.variant.stage:13} {v.variant.id:36} {state}")
    n = len(mistakes)
    diagnosed = sum(v.diagnosed for v in mistakes)
    summary = {"mutants": n, "killed": sum(v.killed for v in mistakes), "diagnosed": diagnosed,
               "misdiagnosed": sum(v.misdiagnosed for v in mistakes),
               "cross-function losses": sum(bool(v.cross) for v in mistakes),
               "correct variants": len(correct), "false fails": sum(bool(v.failed) for v in correct)}
    ok = (summary["killed"] == n and summary["false fails"] == 0 and summary["misdiagnosed"] == 0
          and summary["cross-function losses"] == 0 and diagnosed >= MIN_DIAGNOSED * n)
    echo(", ".join(f"{k}: {v}" for k, v in summary.items()) + f" ({diagnosed / max(n, 1):.0%} named)")
    return verdicts, summary, ok


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mutants", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    _, summary, ok = run()
    if not ok:
        print(f"FAILED: every mistake must be caught, at least {MIN_DIAGNOSED:.0%} named by their own diagnosis, "
              "none misdiagnosed, none costing points outside its function, and no correct variant may lose "
              "a point", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
