"""The course's files: release in sync, no leaks, pins in step, clean notebooks."""
import ast
import json
import os
import re
import subprocess

import nbformat
import pytest
import sqlalchemy
import yaml

import catalogue
import cells
import course

REPO = course.REPO
GRADED_FUNCTIONS = {f for functions in course.GRADED_FUNCTIONS.values() for f in functions}
LEARNER_FOLDERS = ["notebooks", "firstneuron", "data"]
#: Lines too generic to give anything away (loop headers, bare keywords).
GENERIC_LINE = re.compile(r"for \w+ in range\(\w+\):|else:|try:|return \w+|pass")
INSTRUCTOR_IMPORT = re.compile(r"^\s*(import|from)\s+(reference|checks|classroom|feedback_filter)\b", re.M)


def learner_files():
    """Every file a learner receives."""
    for folder in LEARNER_FOLDERS:
        yield from sorted(p for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def code_of(path):
    """The Python source in a file: a module's text, or a notebook's code cells."""
    if path.suffix == ".py":
        return path.read_text()
    if path.suffix == ".ipynb":
        nb = nbformat.read(str(path), as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return None


def defined_functions(source):
    """(name, node) for every function defined in `source` (IPython magics dropped)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    return [(node.name, node) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def test_stages_are_the_five_in_order():
    found = course.stages()
    assert found[0] == "01-sigmoid" and found == sorted(found), f"expected stages starting at 01-sigmoid, found {found}"
    for stage in found:
        assert course.notebook_path(course.SOLUTIONS, stage).is_file(), f"expected a notebook for {stage}"


@pytest.mark.parametrize("path", list(learner_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_no_solution_or_hidden_test_reaches_learners(path):
    text = path.read_text(errors="replace")
    marker = cells.MARKER.search(text)
    assert marker is None, f"expected no nbgrader solution/hidden-test marker in {path}, found {marker.group()!r}"
    code = code_of(path)
    if code is None:
        return
    imported = INSTRUCTOR_IMPORT.search(code)
    assert imported is None, f"expected no import of an instructor module in {path}, found {imported.group().strip()!r}"
    given_here = set()
    if path.name == course.GIVEN_NAME and path.parent.parent == course.RELEASE:
        given_here = set(course.given_functions(path.parent.name))
    for name, node in defined_functions(code):
        if name not in GRADED_FUNCTIONS or name in given_here:
            continue
        assert path.suffix == ".ipynb", f"expected no graded function in {path}, found def {name}"
        raises = [n for n in ast.walk(node) if isinstance(n, ast.Raise)
                  and "NotImplementedError" in ast.unparse(n)]
        assert raises, f"expected {name} in {path} to be an unfinished stub, found a body without NotImplementedError"


@pytest.mark.parametrize("stage", course.stages())
def test_no_solution_line_appears_in_the_release(stage):
    """Every line inside a solution region or a hidden test is absent from the release notebook."""
    source = nbformat.read(str(course.notebook_path(course.SOLUTIONS, stage)), as_version=4)
    released = nbformat.read(str(course.notebook_path(course.RELEASE, stage)), as_version=4)
    release_lines = {line.strip() for c in released.cells for line in c.source.splitlines()}
    secret = []
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if cells.MARKER.search(line):
                inside = "BEGIN" in line
                continue
            if inside and line.strip() and not GENERIC_LINE.fullmatch(line.strip()):
                secret.append(line.strip())
    assert secret, f"expected solution regions in {stage}'s source notebook, found none"
    leaked = [line for line in secret if line in release_lines]
    assert not leaked, f"expected no solution or hidden-test line in the {stage} release, found {leaked}"


@pytest.mark.parametrize("stage", course.stages())
def test_given_holds_exactly_the_earlier_stages_functions_from_the_reference(stage):
    for folder in (course.SOLUTIONS, course.RELEASE):
        path = folder / stage / course.GIVEN_NAME
        earlier = course.given_functions(stage)
        if not earlier:
            assert not path.exists(), f"expected no {path} in the first stage"
            continue
        assert path.read_text() == course.given_source(stage), f"{path} differs from the reference: run `make release`"
        public = {name for name, _ in defined_functions(path.read_text()) if not name.startswith("_")}
        assert public == set(earlier), f"expected {path} to define {sorted(earlier)}, found {sorted(public)}"


def test_graded_functions_match_the_solution_cells():
    for stage in course.stages():
        cells = set(course.solution_cells(stage))
        functions = set(course.GRADED_FUNCTIONS[stage])
        assert functions <= cells, f"expected solution cells {sorted(functions)} in {stage}, found {sorted(cells)}"


def test_committed_release_matches_a_fresh_generation(tmp_path):
    generated = course.generate_release(course.make_workspace(tmp_path / "course"))
    expected = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    found = sorted(p.relative_to(course.RELEASE) for p in course.RELEASE.rglob("*") if p.is_file())
    assert found == expected, f"expected notebooks/ to hold {expected}, found {found}: run `make release`"
    for rel in expected:
        fresh, committed = (generated / rel).read_bytes(), (course.RELEASE / rel).read_bytes()
        assert committed == fresh, f"notebooks/{rel} differs from nbgrader's fresh release: run `make release`"


def pins_from_requirements():
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            name = name.split("[")[0]  # psycopg[binary]: the package, its extra's pins are in the lock file
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_environment_yml_has_the_same_pins_as_requirements():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and "=" in dep and not dep.startswith("python="):
            name, version = dep.split("=", 1)
            conda[name.strip().lower().replace("_", "-")] = version.strip()
        elif isinstance(dep, dict):  # pip: the packages conda-forge does not have, pinned with ==
            for line in dep.get("pip", []):
                if "==" in line:
                    name, version = line.split("==", 1)
                    conda[name.strip().lower().replace("_", "-")] = version.strip()
    expected = pins_from_requirements()
    assert conda == expected, f"expected environment.yml to pin {expected}, found {conda}"


#: Maintainers' tools and the class grader's (a cluster, a database server), left out of Binder's learners-only environment.
NOT_FOR_LEARNERS = {"pytest", "pytest-xdist", "nbval", "playwright", "axe-playwright-python", "distributed", "psycopg"}


def test_binder_has_the_learners_pins_of_requirements_and_applies_the_learners_lab():
    binder = {}
    for line in (REPO / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            binder[name.strip().lower().replace("_", "-")] = version.strip()
    expected = {name: version for name, version in pins_from_requirements().items() if name not in NOT_FOR_LEARNERS}
    assert binder == expected, f"expected binder/requirements.txt to pin {expected}, found {binder}"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH",)}
    env["PYTHONPATH"] = str(REPO / "autograder")
    shown = subprocess.run(["bash", str(REPO / "binder" / "start"), "env"], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    config = [line for line in shown if line.startswith(("JUPYTER_CONFIG_PATH=", "PYTHONPATH="))]
    assert config == [f"JUPYTER_CONFIG_PATH={REPO / 'learner-lab'}"], (
        f"expected binder/start to set JUPYTER_CONFIG_PATH to learner-lab/ and drop PYTHONPATH, found {config}")


def test_requirements_agree_with_the_lock_file():
    lock = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.strip().lower().replace("_", "-")] = version.strip()
    for name, version in pins_from_requirements().items():
        assert lock.get(name) == version, f"expected {name}=={version} in requirements-lock.txt, found {lock.get(name)}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme, "expected README.md to show make demo and make test"
    assert re.search(r"^make test$", (REPO / ".ci/run").read_text(), re.M), "expected .ci/run to run `make test`"


@pytest.mark.parametrize("path", sorted((REPO / "solutions").rglob("*.ipynb")) + sorted((REPO / "notebooks").rglob("*.ipynb")),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_are_clean(path):
    text = path.read_text()
    nb = json.loads(text)
    assert text.startswith('{\n "cells": [\n'), f"expected {path} indented one level per block, found {text[:20]!r}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"expected the generic python3 kernel in {path}"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, f"expected no editor metadata in {path}, found {set(nb['metadata'])}"
    if "notebooks" in path.parts:
        outputs = [c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code" and c.get("outputs")]
        assert not outputs, f"expected the release {path} without outputs"
    else:
        size = path.stat().st_size
        assert size < 400_000, f"expected {path} under 400 kB (small figures), found {size} bytes"


def test_every_graded_cell_has_a_docstring_and_a_stable_id():
    for stage in course.stages():
        nb = nbformat.read(str(course.notebook_path(course.SOLUTIONS, stage)), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert re.fullmatch(r"[a-z][a-z0-9_]*", meta["grade_id"]), f"expected a snake_case grade_id, found {meta['grade_id']!r}"
                first = cell.source.lstrip().splitlines()[0]
                assert first.startswith(("'''", '"""')), f"expected {stage}:{meta['grade_id']} to start with a docstring, found {first!r}"
                assert cells.split_hidden(cell.source)[0], f"expected hidden tests in {stage}:{meta['grade_id']}"


def test_variants_catalogue_applies_to_the_solutions():
    variants = catalogue.load_variants()
    for variant in variants.values():
        sources = course.solution_cells(variant.stage)
        assert variant.cell in sources, f"expected variant {variant.id} to name a solution cell of {variant.stage}, found {variant.cell!r}"
        changed = catalogue.apply_variant(sources[variant.cell], variant)
        assert changed != sources[variant.cell], f"expected variant {variant.id} to change the code"
        assert variant.kind in {"mistake", "correct", "hostile"}, f"unknown kind {variant.kind!r} in {variant.id}"


def test_the_demo_class_is_built_from_the_catalogue():
    variants = catalogue.load_variants()
    for student in catalogue.SAMPLE_CLASS:
        unknown = [v for v in student.variants if v not in variants]
        assert not unknown, f"expected {student.id}'s variants in the catalogue, found unknown {unknown}"
        for stage in course.stages():
            nb = catalogue.build_submission(stage, student.variants, student.blank)
            untouched = [c.metadata.nbgrader.grade_id for c in nb.cells
                         if c.metadata.get("nbgrader", {}).get("solution") and "NotImplementedError" in c.source]
            assert bool(untouched) == student.blank, \
                f"expected {student.id}'s {stage} {'blank' if student.blank else 'filled in'}, found unfilled {untouched}"


def test_the_readme_table_lists_every_stage_and_its_graded_functions():
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\d\d-[\w-]+)` \| (.*) \|$", (REPO / "README.md").read_text(), re.M)}
    assert list(rows) == course.stages(), f"expected a README row per stage {course.stages()}, found {list(rows)}"
    for stage, functions in course.GRADED_FUNCTIONS.items():
        missing = [f for f in functions if f"`{f}`" not in rows[stage]]
        assert not missing, f"expected README's row for {stage} to name {missing}, found {rows[stage]!r}"


#: Words of prose a stage may ask a learner to read (issue 11: "14,000 words for 59 lines of solution code").
REQUIRED_WORDS, OPTIONAL_WORDS, COURSE_WORDS = 2000, 500, 11000


def test_each_stage_reads_in_one_sitting():
    words = {stage: course.lesson_words(course.read_notebook(course.notebook_path(course.SOLUTIONS, stage)))
             for stage in course.stages()}
    long = {stage: w for stage, w in words.items() if w[0] > REQUIRED_WORDS or w[1] > OPTIONAL_WORDS}
    assert not long, (f"expected at most {REQUIRED_WORDS} words on each stage's required path and "
                      f"{OPTIONAL_WORDS} in its optional sections, found (required, optional) {long}")
    total = sum(r + o for r, o in words.values())
    assert total <= COURSE_WORDS, f"expected at most {COURSE_WORDS} words of prose in the course, found {total}"


def test_optional_sections_say_they_can_be_skipped():
    for stage in course.stages():
        nb = course.read_notebook(course.notebook_path(course.SOLUTIONS, stage))
        lines = [line for cell in nb.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]
        for i, line in enumerate(lines):
            if course.is_optional_heading(line):
                following = next((text for text in lines[i + 1:] if text.strip()), "")
                assert following.startswith("*") and "skip" in following.lower(), (
                    f"expected the optional section {line!r} of {stage} to start with an italic line saying "
                    f"it can be skipped, found {following!r}")


def test_a_new_gradebook_is_stamped_with_the_schema_alembic_names(tmp_path):
    """course.gradebook_schema (read in-process) is what nbgrader's own `alembic heads` command prints,
    and a gradebook nbgrader creates carries it, so nbgrader's later migrations start from the right place."""
    from nbgrader.api import Gradebook
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini(f"sqlite:///{tmp_path / 'unused.db'}") as ini:
        printed = subprocess.check_output(["alembic", "-c", ini, "heads"], text=True).split()[0]
    assert course.gradebook_schema() == printed, \
        f"expected the in-process schema {course.gradebook_schema()!r} to be alembic's head {printed!r}"
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "firstneuron") as gb:
        stamped = gb.db.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    assert stamped == printed, f"expected a new gradebook stamped {printed!r}, found {stamped!r}"


def test_gradebooks_of_one_database_share_an_engine_and_see_it_made_again(tmp_path):
    """course.gradebook_engine: nbgrader's Gradebook opened twice on one file uses one engine (its compiled SQL
    cached), another file gets its own, and a gradebook file removed and made again is read anew."""
    from nbgrader.api import Gradebook

    url, other = f"sqlite:///{tmp_path / 'gradebook.db'}", f"sqlite:///{tmp_path / 'other.db'}"
    with Gradebook(url, "firstneuron") as first:
        first.add_student("ada")
        engine = first.engine
    with Gradebook(url, "firstneuron") as second:
        assert second.engine is engine, "expected a second Gradebook of the same file to reuse its engine"
        assert [s.id for s in second.students] == ["ada"], "expected the second Gradebook to read what the first wrote"
    with Gradebook(other, "firstneuron") as elsewhere:
        assert elsewhere.engine is not engine, "expected a Gradebook of another file to have an engine of its own"
    (tmp_path / "gradebook.db").unlink()
    with Gradebook(url, "firstneuron") as again:
        assert [s.id for s in again.students] == [], \
            f"expected the gradebook made again to be empty, found {[s.id for s in again.students]}"
