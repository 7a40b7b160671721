"""The hostile catalogue: submissions of 02-propagate that try to forge grades or hurt others.

The cases are written in ``tests/hostile.toml``, one ``[[case]]`` table each,
with the fields of `Case`; this module reads them into `CASES`.  Each case is
a cell added to a learner's notebook (after the ``propagate`` exercise) and
the score an honest learner with the same functions would get.  The notebook
leaves out the lesson's figure cells, as a learner may: no case attacks
through them (the honest controls keep them).  Most cases
start from `WRONG`: a ``propagate`` that is wrong everywhere but on the
visible example, so that it passes the visible tests and deserves 1/6
(``initialize_with_zeros`` only); an attack that beat the hidden checks would
show as more.  Cases with ``base = "correct"`` start from correct code and
must keep all 6 points: machinery (a warning, a crash or a stuck loop in an
ungraded cell) never costs an honest learner.  ``{repo}``, ``{course}`` and
``{port}`` are filled in by the test: the course is public, so attackers
know every path.  ``{PWN}`` and the other names of `TEXTS` are filled in
here, and a handed-in file names its text (``"report.py" = "HELPER"``).
"""
import base64
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

#: A propagate right on the visible example only (what a forger would hand in).
WRONG = '''
def propagate(w, b, X, Y):
    if X.shape == (2, 3) and np.allclose(X, [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]):
        cost = 5.801545319394553 if np.allclose(w, [[1.0, 2.0]]) else float(np.log(2))
        return {"dw": np.array([[0.99845601, 2.39507239]]), "db": 0.00145557813678}, cost
    return {"dw": np.zeros_like(w), "db": 0.0}, 0.0
'''


#: What each page payload runs: a mark the browser tests look for (and `scripted` looks for in a page).
PWN = "window.__pwned = true; document.title = 'pwned'"
PWN_BARE = "window.__pwned=document.title=/pwned/.source"  # no spaces or quotes: fits an unquoted attribute
#: A 1x1 PNG (base64).
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
#: The width a learner's picture claims: nbconvert writes it unquoted, so it would add the handlers.
PNG_WIDTH = f"1 onload={PWN_BARE} onerror={PWN_BARE}"
RASTER = re.compile(r"\s*data:image/(png|jpeg|gif);base64,", re.I)

#: A learner's own helper module (handed in as report.py): a right propagate, written differently.
HELPER = '''import numpy as np


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = 1.0 / (1.0 + np.exp(-(w @ X + b)))
    cost = float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m)
    error = A - Y
    return {"dw": error @ X.T / m, "db": float(error.sum() / m)}, cost
'''

#: What a forger hands in under the grader's module names: checks that pass anything, a reference that agrees.
PASS_EVERYTHING = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"


@dataclass
class Case:
    """One hostile (or broken) submission."""

    id: str
    what: str
    code: str = ""
    base: str = "wrong"        # "wrong" (deserves 1/6) or "correct" (deserves 6/6)
    exact: bool = False        # the honest score exactly (fairness), not just at most
    notebook: str = ""         # "corrupt", "empty", "no_metadata", "duplicate", "renamed": the file itself
    slow: bool = False
    markdown: str = ""         # a markdown cell added after the exercise (with `attachments`)
    attachments: dict = field(default_factory=dict)
    files: tuple = ()          # (name, text) of files handed in beside the notebook
    deserved: float = None     # the honest score when it is not the base's (a helper module's code counts)
    cells: int = 1             # copies of the code cell (base "correct" only)
    refused: str = ""          # not graded, with this in the reason (a cap crossed before it runs)


#: The texts the catalogue names: ``{NAME}`` in a case's strings, and a handed-in file's text by its name.
TEXTS = {"PWN": PWN, "PWN_BARE": PWN_BARE, "PNG": PNG, "PNG_WIDTH": PNG_WIDTH, "HELPER": HELPER,
         "PASS_EVERYTHING": PASS_EVERYTHING}
CATALOGUE = Path(__file__).with_name("hostile.toml")


def filled(text):
    """`text` with each ``{NAME}`` of `TEXTS` written out (``{repo}`` and the like are the test's to fill)."""
    for name, value in TEXTS.items():
        text = text.replace("{" + name + "}", value)
    return text


def load_cases(path=CATALOGUE):
    """The cases of `path`: one ``[[case]]`` table per `Case`; attachments are written as text and sent in base64."""
    try:
        with open(path, "rb") as f:
            entries = tomllib.load(f)["case"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: cannot read the hostile catalogue ({type(error).__name__}: {error})") from error
    cases = []
    for entry in entries:
        fields = {key: filled(value) if isinstance(value, str) else value for key, value in entry.items()}
        fields["files"] = tuple((name, TEXTS[text]) for name, text in entry.get("files", {}).items())
        fields["attachments"] = {name: {mime: base64.b64encode(filled(text).encode()).decode()
                                        for mime, text in bundle.items()}
                                 for name, bundle in entry.get("attachments", {}).items()}
        cases.append(Case(**fields))
    return cases


CASES = load_cases()


def scripted(markup):
    """Where a learner's payload (it names ``__pwned``) sits in `markup` so that a browser would run it.

    In a ``<script>``, an event-handler attribute (``on...``), or a ``javascript:``
    or ``data:`` URL of an element other than a raster ``<img>``.  Returns a list
    of short descriptions: empty for an inert page.
    """
    from bs4 import BeautifulSoup

    found = []
    for element in BeautifulSoup(markup, "html.parser").find_all(True):
        if element.name in ("script", "svg", "iframe", "object", "embed") and "__pwned" in element.decode():
            found.append(f"<{element.name}> {element.decode()[:80]}")
        for name, value in element.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on") and "__pwned" in value:
                found.append(f"<{element.name} {name}={value[:60]}>")
            if re.match(r"\s*(javascript|data):", value, re.I) and not RASTER.match(value) and "__pwned" in (
                    value + decoded(value)):
                found.append(f"<{element.name} {name}={value[:60]}>")
    return found


def decoded(url):
    """The text of a base64 ``data:`` URL ('' if it is not one)."""
    match = re.match(r"\s*data:[^,]*;base64,(.*)", url, re.S)
    try:
        return base64.b64decode(match.group(1)).decode(errors="replace") if match else ""
    except ValueError:
        return ""


def formgrader_page(path):
    """The HTML nbgrader's formgrader draws for the autograded notebook at `path` (its exporter and template)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "a", "notebook_id": "n", "submission_id": "s", "index": 0, "total": 1,
                 "base_url": "", "student": "s", "last_name": "", "first_name": "", "notebook_path": str(path)}
    page, _ = exporter.from_filename(str(path), resources=resources)
    return page
