"""The catalogue of variants (known mistakes, correct rewrites, hostile code) and sample submissions.

``variants/STAGE.toml`` holds one ``[[variant]]`` per change to a solution
cell of STAGE (its stage is the file's name).  `build_submission` fills a
release notebook with the solutions and applies variants; the demo's sample
class is made of them (and handed in with `staging.submit`, as ``submit`` here).
"""
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nbgrader.utils import is_solution

from course import AUTOGRADER, RELEASE, CourseError, cell_grade_id, notebook_path, read_notebook, solution_cells

VARIANTS_DIR = AUTOGRADER / "variants"


@dataclass
class Variant:
    """A change to a solution cell: a known mistake, a correct rewrite, or a hostile submission.

    Read from ``autograder/variants/STAGE.toml``: replacing `find` by `replace` (once)
    in the solution of cell `cell` of `stage`.
    """

    id: str
    stage: str
    cell: str
    find: str
    replace: str
    kind: str = "mistake"
    diagnosis: str = ""
    description: str = ""
    source: str = ""  # the kind of source the mistake or rewrite was taken from (no link to a person)


def load_variants(folder=VARIANTS_DIR):
    """The variants catalogue (every ``*.toml`` file in `folder`), by id."""
    variants = {}
    for path in sorted(Path(folder).glob("*.toml")):
        with open(path, "rb") as f:
            try:
                entries = tomllib.load(f).get("variant", [])
            except tomllib.TOMLDecodeError as error:
                raise CourseError(f"{path}: not valid TOML: {error}") from error
        for entry in entries:
            if entry.setdefault("stage", path.stem) != path.stem:
                raise CourseError(f"{path}: variant {entry.get('id')!r} names stage {entry['stage']!r}; "
                                  f"a file holds the variants of its own stage, {path.stem}")
            try:
                variant = Variant(**entry)
            except TypeError as error:
                raise CourseError(f"{path}: bad variant {entry.get('id', entry)!r}: {error}") from error
            if variant.id in variants:
                raise CourseError(f"{path}: variant id {variant.id!r} appears twice")
            variants[variant.id] = variant
    return variants


def apply_variant(source, variant):
    """`source` with the variant's change; it must match exactly once."""
    count = source.count(variant.find)
    if count != 1:
        raise CourseError(f"{VARIANTS_DIR / variant.stage}.toml: variant {variant.id!r} expects {variant.find!r} once "
                             f"in cell {variant.cell!r} of {variant.stage}, found it {count} times")
    return source.replace(variant.find, variant.replace)


def build_submission(stage, variant_ids=(), blank=False, release_dir=RELEASE):
    """A learner's notebook for `stage`: the release with every solution filled in.

    Parameters
    ----------
    stage : str
    variant_ids : sequence of str
        Variants from the catalogue applied to the filled-in solutions.
    blank : bool, default=False
        Return the release notebook untouched.
    release_dir : path, default=notebooks/

    Returns
    -------
    nb : nbformat.NotebookNode
    """
    nb = read_notebook(notebook_path(release_dir, stage))
    if blank:
        return nb
    sources = solution_cells(stage)
    catalogue = load_variants()
    for variant_id in variant_ids:
        variant = catalogue[variant_id]
        if variant.stage == stage:
            sources[variant.cell] = apply_variant(sources[variant.cell], variant)
    for cell in nb.cells:
        grade_id = cell_grade_id(cell)
        if is_solution(cell) and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


@dataclass
class Student:
    """A member of the sample class: who, what they did, and which variants their work has."""

    id: str
    profile: str
    variants: tuple = ()
    blank: bool = False


SAMPLE_CLASS = [
    Student("ada", "correct everywhere"),
    Student("ben", "handed in the untouched releases", blank=True),
    Student("cy", "typical mistakes, one per stage",
            ("sigmoid_sign_error", "dw_forgot_1_over_m", "gradient_ascent",
             "predict_returns_probabilities", "montage_column_first")),
    Student("dee", "other typical mistakes",
            ("reshape_without_transpose", "cost_sign_error", "costs_every_iteration",
             "predict_threshold_inclusive", "model_trains_on_test_set", "montage_background_zero")),
    Student("eve", "a sigmoid that never returns, the rest right", ("sigmoid_endless_loop",)),
]
