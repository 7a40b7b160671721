"""Mutation test of the autograder: every known mistake is caught and named, no correct variant fails.

Each variant of ``variants/*.toml`` is applied to the solution of its stage, and
the stage's notebook then runs as a learner's would, in process: its code
cells in order up to the last test cell (figure cells, `cells.is_figure_cell`,
are skipped).  The setup cells before the first exercise (imports, the data,
``given.py``'s functions) cannot depend on the learner's code: they run once
per stage.  Each test cell runs its hidden part once per seed through a
`learner.LocalChannel` (every argument and result through the bridge's plain
data, as when grading), with Python's warnings turned into errors in the
checks (a correct function that warns must keep its points), then its
visible part.

``python -m mutants`` (``make mutants``) prints one line per variant and a
summary, and fails unless

- every mistake fails one of its own function's test cells (caught),
- at least `MIN_DIAGNOSED` of the mistakes are named by their own diagnosis, and every
  mistake that has a diagnosis in the catalogue is named by it,
- no mistake is named with another diagnosis (misdiagnosed),
- no mistake fails a test cell of another function, hidden or visible part
  (cross-function loss),
- no correct variant fails any test cell (false fail),
- no message a learner would read shows a traceback or the reference (leaky message).
"""
import argparse
import contextlib
import functools
import io
import linecache
import sys
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

import catalogue
import cells
import course
from learner import LocalChannel, run_hidden

#: Share of the mistakes whose diagnosis must name the catalogue's mistake.
MIN_DIAGNOSED = 0.9
#: Seeds the hidden checks run with (each variant is judged on all of them).
SEEDS = (2026, 7)


@functools.lru_cache(maxsize=None)
def _notebook(stage):
    """The solution notebook of `stage` (read once: nothing here changes it)."""
    return course.read_notebook(course.notebook_path(course.SOLUTIONS, stage))


def _cells(stage):
    return [c for c in _notebook(stage).cells if c.cell_type == "code"]


def hidden_tests(stage):
    """The hidden tests of `stage`, by the grade_id of their test cell: ``{grade_id: source}``."""
    return {test.grade_id: test.hidden for test in cells.test_cells(_notebook(stage)) if test.hidden}


def visible_tests(stage):
    """The visible part of each test cell of `stage` (what follows the hidden tests), by grade_id."""
    return {test.grade_id: test.visible for test in cells.test_cells(_notebook(stage))}


def points(stage):
    """Points of each test cell of `stage`, by grade_id."""
    return {test.grade_id: test.points for test in cells.test_cells(_notebook(stage))}


def own_cells(stage, cell):
    """The test cells that grade the solution cell `cell` (`cells.function_of`)."""
    exercises = [course.cell_grade_id(c) for c in _cells(stage) if cells.is_solution_cell(c)]
    return {g for g in points(stage) if cells.function_of(g, exercises) == cell}


def _exec(source, filename, namespace):
    """Run `source` in `namespace` with its lines known to linecache, so tracebacks show them."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def _run_cell(source, filename, namespace):
    """Run an ungraded code cell as a learner's kernel would (magics left out); True when it ran to its end."""
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _exec(source, filename, namespace)
    except Exception:  # cells tagged raises-exception may fail with a learner's code
        return False
    finally:
        if "matplotlib.pyplot" in sys.modules:  # figures of cells that draw as they compute
            sys.modules["matplotlib.pyplot"].close("all")
    return True


_GIVEN, _SETUP = {}, {}


def _given(stage):
    """Make this stage's ``given.py`` the module the notebook's ``from given import ...`` finds."""
    if stage not in _GIVEN:
        module = types.ModuleType("given")
        path = course.SOLUTIONS / stage / course.GIVEN_NAME
        if path.exists():
            exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
        _GIVEN[stage] = module
    sys.modules["given"] = _GIVEN[stage]


def _setup_count(stage):
    """How many code cells come before the stage's first exercise or test cell (its setup)."""
    return next(i for i, c in enumerate(_cells(stage)) if cells.is_graded(c) or cells.is_solution_cell(c))


def setup_namespace(stage):
    """The variables of `stage`'s notebook after its setup cells (imports, data) ran, as a new dict.

    The setup runs once per stage (it cannot depend on the learner's code); each
    caller gets its own copy of its arrays.
    """
    _given(stage)
    if stage not in _SETUP:
        namespace = {"__name__": "__main__"}
        for cell in _cells(stage)[:_setup_count(stage)]:
            if not cells.is_figure_cell(cell):
                _run_cell(cell.source, f"<{stage}:setup>", namespace)
        _SETUP[stage] = namespace
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in _SETUP[stage].items()}


def _sources(stage, variants):
    sources = course.solution_cells(stage)
    for variant in variants:
        if variant.stage == stage:
            sources[variant.cell] = catalogue.apply_variant(sources[variant.cell], variant)
    return sources


def learner_namespace(stage, variants=()):
    """The variables a learner's notebook of `stage` holds after its setup and solution cells ran.

    The setup cells (`setup_namespace`), then every solution cell in order,
    with each of `variants` (a Variant or a sequence of them) applied to its cell.
    """
    if isinstance(variants, catalogue.Variant):
        variants = [variants]
    namespace = setup_namespace(stage)
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
    def unnamed(self):
        """The catalogue gives this mistake a diagnosis, and no failing check named it."""
        return bool(self.variant.diagnosis) and not self.diagnosed

    @property
    def leaky(self):
        """Test cells whose message shows a traceback or the reference (the learner reads it)."""
        return {g for g, (_, message) in self.failed.items() if "Traceback" in message or "reference" in message}

    @property
    def cross(self):
        """Test cells of other functions that the variant failed (it cost points outside its function)."""
        return set(self.failed) - self.own


def _run_test_cell(grade_id, hidden, visible, namespace, seeds):
    """(mistake, message, part) of the first failure of one test cell, or None when it passes."""
    if hidden:
        for seed in seeds:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("error")  # a warning that reaches the check is a false fail
                outcome = run_hidden(hidden, LocalChannel(namespace), seed)
            if isinstance(outcome.error, AssertionError):
                return getattr(outcome.error, "mistake", None), str(outcome.error), "hidden"
            if not outcome.passed:  # a learner's exception that no check explained
                return None, f"{outcome.ename}: {outcome.error}", "hidden"
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _exec(visible, f"<visible:{grade_id}>", namespace)
    except Exception as error:  # visible asserts and whatever the learner's code raises
        return None, f"{type(error).__name__}: {error}", "visible"
    return None


def run_notebook(stage, variants=(), seeds=SEEDS):
    """Run `stage`'s notebook with `variants` applied; ``{test grade_id: (mistake, message, part)}`` of failures."""
    namespace = setup_namespace(stage)
    sources = _sources(stage, variants)
    hidden, visible = hidden_tests(stage), visible_tests(stage)
    code = _cells(stage)
    last = max(i for i, c in enumerate(code) if cells.is_graded(c))
    failures = {}
    for cell in code[_setup_count(stage):last + 1]:
        grade_id = course.cell_grade_id(cell)
        if cells.is_solution_cell(cell):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    _exec(sources[grade_id], f"<{stage}:{grade_id}>", namespace)
            except Exception:  # a learner's cell may raise; its tests then fail
                continue
        elif cells.is_test_cell(cell):
            failure = _run_test_cell(grade_id, hidden.get(grade_id, ""), visible[grade_id], namespace, seeds)
            if failure:
                failures[grade_id] = failure
        elif not cells.is_figure_cell(cell):
            _run_cell(cell.source, f"<{stage}:cell>", namespace)
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
                    else "NOT NAMED" if v.unnamed else "not named")
            extra = f"; COSTS POINTS IN {', '.join(sorted(v.cross))}" if v.cross else ""
            extra += f"; MESSAGE SHOWS A TRACEBACK OR THE REFERENCE IN {', '.join(sorted(v.leaky))}" if v.leaky else ""
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
               "unnamed diagnoses": sum(v.unnamed for v in mistakes),
               "leaky messages": sum(bool(v.leaky) for v in mistakes),
               "correct variants": len(correct), "false fails": sum(bool(v.failed) for v in correct)}
    ok = (summary["killed"] == n and summary["false fails"] == 0 and summary["misdiagnosed"] == 0
          and summary["cross-function losses"] == 0 and summary["unnamed diagnoses"] == 0
          and summary["leaky messages"] == 0 and diagnosed >= MIN_DIAGNOSED * n)
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
