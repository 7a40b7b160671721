"""nbgrader pieces that keep feedback useful to a learner and free of leaks.

``nbgrader generate_feedback`` renders the *autograded* notebook, which holds
the hidden tests that autograde put back.  The preprocessors listed in
`LEARNER_FEEDBACK_PREPROCESSORS` (set as ``GenerateFeedback.preprocessors`` in
``nbgrader_config.py``) remove them and cut every traceback down to the line a
learner can act on, so no hidden test code, reference value or instructor
module path reaches the learner.  `InertOutputs` keeps only plain outputs
(text and raster images), so a learner's HTML, JavaScript or SVG never runs in
a feedback page.

`LearnerFeedbackExporter` (set as ``GenerateFeedback.exporter_class``) makes the
page readable offline: formulas become MathML, which browsers draw natively,
instead of waiting for MathJax from a CDN; the index names each exercise; long
lines of outputs wrap.
"""
import html
import re

from bs4 import BeautifulSoup, NavigableString
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

NOT_ATTEMPTED = "Not attempted yet: replace `raise NotImplementedError()` with your code."
NEEDS_AN_EXERCISE = ("Not run: this cell uses an exercise above that is not attempted yet "
                     "(nothing to change in this cell).")
TIMED_OUT = ("Stopped: this cell ran longer than the time limit. Does a loop in your code never end?")
# Exceptions whose message is the whole story (the checks' and firstneuron.testing's).
MESSAGE_ONLY = ("CheckFailure", "VisibleTestFailure")


def short_error(ename, evalue):
    """One line for a learner: the exception name and its message.

    Parameters
    ----------
    ename : str
        Exception class name, e.g. ``"AssertionError"``.
    evalue : str
        Exception message.

    Returns
    -------
    line : str
    """
    if ename == "NotImplementedError" and not evalue:
        return NOT_ATTEMPTED
    if ename == "NotAttempted":  # firstneuron.testing.visible_tests before the exercise was attempted
        return NOT_ATTEMPTED
    if ename in ("KeyboardInterrupt", "CellTimeoutError"):
        return TIMED_OUT
    if ename in MESSAGE_ONLY:  # these messages start with the function's name
        return evalue
    return f"{ename}: {evalue}" if evalue else ename


def unattempted(cell):
    """True for a solution cell the learner has not touched: it still raises NotImplementedError."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) and "raise NotImplementedError()" in cell.get("source", "")


def learner_errors(nb):
    """The line to show for each cell that failed: ``{cell index: line}``.

    An error in a test cell whose exercise (the solution cell before it) was
    never attempted is reported as `NOT_ATTEMPTED`, not as the NameError or
    NotImplementedError it causes.  An ungraded cell (a plot, a demo) that
    fails that way while an exercise above it is unattempted gets
    `NEEDS_AN_EXERCISE`: there is nothing in it to attempt.
    """
    lines, open_exercise, any_open = {}, False, False
    for index, cell in enumerate(nb.cells):
        if is_solution(cell):
            open_exercise = unattempted(cell)
            any_open = any_open or open_exercise
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            ename, evalue = errors[0].get("ename", ""), errors[0].get("evalue", "")
            if meta.get("grade") and open_exercise:
                lines[index] = NOT_ATTEMPTED
            elif (any_open and not meta.get("grade") and not meta.get("solution")
                  and ename in ("NotImplementedError", "NameError", "NotAttempted")):
                lines[index] = NEEDS_AN_EXERCISE
            else:
                lines[index] = short_error(ename, evalue)
    return lines


def failure_messages(path):
    """The one-line error each failing grade cell of an autograded notebook shows: ``{grade_id: line}``."""
    import nbformat

    if not path.is_file():
        return {}
    nb = nbformat.read(str(path), as_version=4)
    return {nb.cells[i].metadata["nbgrader"]["grade_id"]: line for i, line in learner_errors(nb).items()
            if is_grade(nb.cells[i])}


class ShortenTracebacks(NbGraderPreprocessor):
    """Replace each error traceback by one line a learner can act on (see `learner_errors`).

    A traceback through a hidden test shows the test's source lines and the
    instructor modules' file names; the exception message written by the
    checks library is all a learner needs.
    """

    def preprocess(self, nb, resources):
        for index, line in learner_errors(nb).items():
            for output in nb.cells[index].get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [line]
        return nb, resources


#: The output types a feedback page shows; none of them can run code.
INERT_MIMETYPES = ("text/plain", "image/png", "image/jpeg", "image/gif")


class InertOutputs(NbGraderPreprocessor):
    """Keep only inert outputs, so that a learner's HTML, JavaScript or SVG never runs in the page.

    Any representation of a ``display_data`` or ``execute_result`` output other
    than `INERT_MIMETYPES` (``text/html``, ``application/javascript``,
    ``image/svg+xml``, ``text/markdown``, widgets ...) is dropped.  When no plain
    text is left, the dropped HTML or Markdown source is shown as plain text,
    which the page escapes, or a note says what was left out.
    """

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") in ("display_data", "execute_result"):
                    neutralize(output)
        return nb, resources


def neutralize(output):
    """Drop the non-inert representations of one output (in place), keeping something to show."""
    data = output.get("data", {})
    dropped = sorted(set(data) - set(INERT_MIMETYPES))
    if not dropped:
        return
    if "text/plain" not in data:
        source = next((data[m] for m in ("text/html", "text/markdown") if m in data), None)
        if source is None:
            data["text/plain"] = f"[an output of type {', '.join(dropped)}: not shown in feedback]"
        else:
            data["text/plain"] = source if isinstance(source, str) else "".join(source)
    for mimetype in dropped:
        del data[mimetype]


#: Added to the page: long lines of code, outputs and errors wrap instead of running off the right edge.
WRAP_CSS = """
div.input_area pre, div.output_area pre, div.output_subarea pre, div.output_error pre, div.output_stderr pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
div.output_subarea, div.inner_cell { max-width: 100%; min-width: 0; }
math[display="block"] { display: block; margin: 0.6em 0; overflow-x: auto; }
"""

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
MTEXT = re.compile(r"<mtext>[^<]*</mtext>")


def math_to_mathml(text):
    """Replace every ``$...$`` and ``$$...$$`` of `text` by MathML; escape the rest.

    Parameters
    ----------
    text : str
        Plain text (entities decoded), as in the rendering of a Markdown cell.

    Returns
    -------
    markup : str
        HTML. A formula that cannot be converted is shown as its TeX source in ``<code>``.
    """
    parts, end = [], 0
    for match in MATH.finditer(text):
        parts.append(html.escape(text[end:match.start()], quote=False))
        block = match.group(1) is not None
        tex = match.group(1) if block else match.group(2)
        try:
            mathml = latex_to_mathml(tex.strip(), display="block" if block else "inline")
        except Exception:  # noqa: BLE001 - the parser raises many kinds: show the source instead
            mathml = f"<code>{html.escape(tex)}</code>"
        parts.append(MTEXT.sub(lambda m: m.group(0).replace("\\_", "_"), mathml))
        end = match.end()
    parts.append(html.escape(text[end:], quote=False))
    return "".join(parts)


def docstring_line(source):
    """The one-line docstring a test cell starts with ('' if none)."""
    first = source.strip().splitlines()[0] if source.strip() else ""
    for quote in ("'''", '"""'):
        if first.startswith(quote) and first.endswith(quote) and len(first) > 6:
            return first[3:-3].strip()
    return ""


def exercise_titles(nb):
    """``{grade_id: title}`` of the test cells: the exercise's name and what the cell checks."""
    titles = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
            name = meta["grade_id"].removesuffix("_tests")
            doc = docstring_line(cell.get("source", ""))
            titles[meta["grade_id"]] = f"{name}: {doc}" if doc else name
    return titles


def offline_page(page, titles):
    """Make a rendered feedback page readable offline.

    Formulas of Markdown cells become MathML and MathJax's CDN script is removed;
    the index names each exercise instead of "Test cell"; long output lines wrap.

    Parameters
    ----------
    page : str
        The HTML of nbgrader's feedback template.
    titles : dict
        ``{grade_id: title}`` of the test cells (`exercise_titles`).

    Returns
    -------
    page : str
    """
    soup = BeautifulSoup(page, "html.parser")
    for script in soup.find_all("script"):
        if "mathjax" in (script.get("src") or "").lower() or script.get("type") == "text/x-mathjax-config":
            script.decompose()
    for block in soup.select("div.text_cell_render"):
        for node in list(block.find_all(string=True)):
            if "$" in node and not node.find_parent(["code", "pre"]) and isinstance(node, NavigableString):
                node.replace_with(BeautifulSoup(math_to_mathml(str(node)), "html.parser"))
    for link in soup.select("div#toc a[href]"):
        grade_id = link["href"].lstrip("#")
        if grade_id in titles and link.get_text(strip=True) == "Test cell":
            link.string = titles[grade_id]
    style = soup.new_tag("style")
    style.string = WRAP_CSS
    (soup.head or soup).append(style)
    return str(soup)


class LearnerFeedbackExporter(HTMLExporter):
    """nbgrader's feedback page (same template), made readable offline by `offline_page`."""

    def from_notebook_node(self, nb, resources=None, **kwargs):
        page, resources = super().from_notebook_node(nb, resources, **kwargs)
        return offline_page(page, exercise_titles(nb)), resources


LEARNER_FEEDBACK_PREPROCESSORS = [
    GetGrades,
    ClearHiddenTests,
    ShortenTracebacks,
    InertOutputs,
    CSSHTMLHeaderPreprocessor,
]
