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
instead of waiting for MathJax from a CDN; long lines of outputs wrap.  It shows
where to look: the index gives each exercise's points and one-line message,
linked to its cell, and a failed test cell says "Failed" in its heading and its
message, not by colour alone.  The page is accessible (WCAG 2 AA: a language,
contrast, underlined links, scrollable formulas reachable by keyboard) and
carries a Content-Security-Policy that forbids every script, behind
`sanitize.SanitizeLearnerContent`, which already made the learner's markdown inert.
"""
import functools
import html
import re
import secrets
from html.parser import HTMLParser

from bs4 import BeautifulSoup, Comment, NavigableString
from jinja2 import BytecodeCache
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor

import sanitize
from cells import ErrorKind, exercise_name, is_graded, is_solution_cell, test_cells, unattempted
from sanitize import SanitizeLearnerContent

NOT_ATTEMPTED = "Not attempted yet: replace `raise NotImplementedError()` with your code."
NEEDS_AN_EXERCISE = ("Not run: this cell uses an exercise above that is not attempted yet "
                     "(nothing to change in this cell).")
TIME_LIMIT_MESSAGE = ("Stopped: this cell ran longer than the time limit. Does a loop in your code never end?")
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
    if ename == ErrorKind.NOT_ATTEMPTED:  # firstneuron.testing.visible_tests before the exercise was attempted
        return NOT_ATTEMPTED
    if ename in (KeyboardInterrupt.__name__, ErrorKind.TIMED_OUT):
        return TIME_LIMIT_MESSAGE
    if ename in MESSAGE_ONLY:  # these messages start with the function's name
        return evalue
    return f"{ename}: {evalue}" if evalue else ename


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
        if is_solution_cell(cell):
            open_exercise = unattempted(cell)
            any_open = any_open or open_exercise
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            ename, evalue = errors[0].get("ename", ""), errors[0].get("evalue", "")
            if is_graded(cell) and open_exercise:
                lines[index] = NOT_ATTEMPTED
            elif (any_open and not is_graded(cell) and not is_solution_cell(cell)
                  and ename in (NotImplementedError.__name__, NameError.__name__, ErrorKind.NOT_ATTEMPTED)):
                lines[index] = NEEDS_AN_EXERCISE
            else:
                lines[index] = short_error(ename, evalue)
    return lines


def grade_messages(nb):
    """The one-line error each failing grade cell of `nb` shows: ``{grade_id: line}``."""
    return {nb.cells[i].metadata["nbgrader"]["grade_id"]: line for i, line in learner_errors(nb).items()
            if is_graded(nb.cells[i])}


def failure_messages(path):
    """The one-line error each failing grade cell of an autograded notebook shows: ``{grade_id: line}``."""
    import nbformat

    if not path.is_file():
        return {}
    return grade_messages(nbformat.read(str(path), as_version=4))


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




class InertOutputs(NbGraderPreprocessor):
    """Keep only inert outputs, so that a learner's HTML, JavaScript or SVG never runs in the page.

    Any representation of a ``display_data`` or ``execute_result`` output other
    than `sanitize.INERT_MIMETYPES` (``text/html``, ``application/javascript``,
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
    dropped = sorted(set(data) - set(sanitize.INERT_MIMETYPES))
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


#: Added to the page: long lines of code, outputs and errors wrap instead of running off the right
#: edge; failed test cells are marked (colour and a word); contrast and links meet WCAG 2 AA;
#: display formulas keep the browser's own MathML layout (centred, sized), slightly larger.
PAGE_CSS = """
div.input_area pre, div.output_area pre, div.output_subarea pre, div.output_error pre, div.output_stderr pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
div.output_subarea, div.inner_cell { max-width: 100%; min-width: 0; }
math[display="block"] { display: block math; font-size: 1.15em; }
span.display-math { display: block; margin: 0.6em 0; overflow-x: auto; }
a, a:visited { color: #1d4f7c; text-decoration: underline; }
.rendered_html a.anchor-link { text-decoration: underline; }
div.input_area, div.input_area div.highlight, div.input_area pre { background: #ffffff; }
div.nbgrader_cell > .panel-heading, div.panel-primary > .panel-heading { background-color: #1d4f7c;
  border-color: #1d4f7c; color: #ffffff; }
div.nbgrader_cell > .panel-heading a { color: #ffffff; }
div.panel.failed-cell { border: 2px solid #a51d1d; }
div.panel.failed-cell > .panel-heading { background-color: #8c1616; border-color: #8c1616; }
.verdict { display: inline-block; font-weight: bold; padding: 0 0.4em; border-radius: 3px; margin: 0 0.3em; }
.verdict.failed { background: #8c1616; color: #ffffff; }
.verdict.passed { background: #1b5e20; color: #ffffff; }
div.failed-output { border-left: 6px solid #a51d1d; background: #fdeeee; }
div.failed-output pre { background: #fdeeee; color: #3a0b0b; }
#toc li { margin: 0.3em 0; }
#toc .points { font-weight: bold; }
"""

#: Scripts never run in a feedback page: it needs none (formulas are MathML), and a learner's would be refused.
CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "img-src data:; style-src 'unsafe-inline'; font-src data:")
#: The points nbgrader writes in a test cell's heading and in the index.
SCORE = re.compile(r"Score:\s*([-\d.]+)\s*/\s*([-\d.]+)")

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
    if len(text) <= sanitize.CACHED_CHARS:  # the course's formulas come back on every page
        return _cached_mathml(text)
    return _math_to_mathml(text)


def _math_to_mathml(text):
    """`math_to_mathml` itself."""
    parts, end = [], 0
    for match in MATH.finditer(text):
        parts.append(html.escape(text[end:match.start()], quote=False))
        block = match.group(1) is not None
        tex = match.group(1) if block else match.group(2)
        try:
            mathml = inert_mathml(latex_to_mathml(tex.strip(), display="block" if block else "inline"))
        except Exception:  # noqa: BLE001 - the parser raises many kinds: show the source instead
            mathml = f"<code>{html.escape(tex)}</code>"
        mathml = MTEXT.sub(lambda m: m.group(0).replace("\\_", "_"), mathml)
        if block:  # a wide formula scrolls sideways: its box is reachable by keyboard (WCAG 2.1.1)
            mathml = f'<span class="display-math" tabindex="0" role="group" aria-label="formula">{mathml}</span>'
        parts.append(mathml)
        end = match.end()
    parts.append(html.escape(text[end:], quote=False))
    return "".join(parts)


_cached_mathml = functools.lru_cache(maxsize=4096)(_math_to_mathml)


#: The elements and attributes latex2mathml writes (``style`` left out: a formula does not restyle the page).
MATHML_ELEMENTS = frozenset({
    "math", "menclose", "mfrac", "mi", "mn", "mo", "mover", "mpadded", "mphantom", "mroot", "mrow", "mspace",
    "msqrt", "mstyle", "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover"})
MATHML_ATTRIBUTES = frozenset({
    "accent", "columnalign", "columnlines", "columnspacing", "depth", "display", "displaystyle", "fence", "form",
    "height", "largeop", "linethickness", "lspace", "mathbackground", "mathcolor", "mathsize", "mathvariant",
    "maxsize", "minsize", "movablelimits", "notation", "rowlines", "rowspacing", "rspace", "scriptlevel",
    "separator", "stretchy", "voffset", "width", "xmlns"})


class _InertMathML(HTMLParser):
    """Rebuilds latex2mathml's output: its MathML elements and attributes, every other character as text."""

    CDATA_CONTENT_ELEMENTS = ()  # a <script> typed in \\text{} is text like any other

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, name, attributes, closed=False):
        if name not in MATHML_ELEMENTS:
            self.handle_data(self.get_starttag_text())
            return
        kept = "".join(f' {key}="{html.escape(value or "")}"' for key, value in attributes
                       if key in MATHML_ATTRIBUTES)
        self.parts.append(f"<{name}{kept}{'/' if closed else ''}>")

    def handle_startendtag(self, name, attributes):
        self.handle_starttag(name, attributes, closed=name in MATHML_ELEMENTS)

    def handle_endtag(self, name):
        self.parts.append(f"</{name}>" if name in MATHML_ELEMENTS else html.escape(f"</{name}>", quote=False))

    def handle_data(self, data):
        self.parts.append(html.escape(data, quote=False))

    def unknown_decl(self, data):
        self.handle_data(f"<![{data}]>")

    def handle_comment(self, data):
        self.handle_data(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.handle_data(f"<!{decl}>")

    def handle_pi(self, data):
        self.handle_data(f"<?{data}>")


def inert_mathml(markup):
    """latex2mathml's `markup` with only MathML elements and attributes; anything else shown as text.

    latex2mathml copies the argument of ``\\text{...}`` as it is: ``$\\text{<img onerror=...>}$``
    in a learner's Markdown (math, so the Markdown renderer escapes it and the sanitizer keeps it
    as text) would otherwise become an element of the feedback page (tests/hostile.toml:
    ``xss_markdown_math``).
    """
    parser = _InertMathML()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


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
    for test in test_cells(nb):
        doc = docstring_line(test.source)
        titles[test.grade_id] = f"{exercise_name(test.grade_id)}: {doc}" if doc else exercise_name(test.grade_id)
    return titles


def offline_page(page, titles, messages=None):
    """Make a rendered feedback page readable offline, show where to look, and forbid scripts.

    Formulas of Markdown cells become MathML and MathJax's CDN script is removed;
    the index gives each exercise's name, points and one-line message; a failed
    test cell says "Failed" (`mark_results`); long output lines wrap; the page
    gets a language, a Content-Security-Policy (`CSP`) and `PAGE_CSS`.

    Parameters
    ----------
    page : str
        The HTML of nbgrader's feedback template.
    titles : dict
        ``{grade_id: title}`` of the test cells (`exercise_titles`).
    messages : dict, optional
        ``{grade_id: line}`` of the failing test cells (`grade_messages`).

    Returns
    -------
    page : str
    """
    aside = SetAside()
    soup = BeautifulSoup(HIGHLIGHTED_CODE.sub(lambda m: aside.mark(m.group()), page), "html.parser")
    for script in soup.find_all("script"):
        if "mathjax" in (script.get("src") or "").lower() or script.get("type") == "text/x-mathjax-config":
            script.decompose()
    for block in soup.select("div.text_cell_render"):
        for node in list(block.find_all(string=True)):
            if "$" in node and not node.find_parent(["code", "pre"]) and type(node) is NavigableString:
                node.replace_with(Comment(aside.label(math_to_mathml(str(node)))))
    mark_results(soup, titles, messages or {})
    accessible(soup)
    if soup.html is not None:
        soup.html["lang"] = "en"
    head = soup.head or soup
    policy = soup.new_tag("meta", attrs={"http-equiv": "Content-Security-Policy", "content": CSP})
    head.insert(0, policy)  # first, before anything the policy governs
    style = soup.new_tag("style")
    style.string = PAGE_CSS
    head.append(style)
    return aside.put_back(str(soup))


#: The alternative text nbconvert gives an image that has none.
NO_ALT = "No description has been provided for this image"


def accessible(soup):
    """What nbconvert's HTMLExporter adds for screen readers and keyboards, in place.

    Every image gets alternative text (`NO_ALT` where it has none), and each
    cell's input and output can take the keyboard's focus (``tabindex="0"``).
    nbconvert does this in a parse of the page of its own; `LearnerFeedbackExporter`
    skips that parse, so the page is parsed once, by `offline_page`.
    """
    for image in soup.select("img:not([alt])"):
        image["alt"] = NO_ALT
    for block in soup.select(".jp-Notebook div.jp-Cell-inputWrapper, .jp-Notebook div.jp-OutputArea-output"):
        block["tabindex"] = "0"


#: A code cell's source as nbconvert highlights it (Pygments: spans and text only; its template writes
#: ``class=" highlight ..."``, with a space, which a parsed and printed page loses).  Such a block
#: is set aside while the page is parsed (it has nothing `offline_page` changes, and it is most of
#: the page's elements) and put back as it was.
HIGHLIGHTED_CODE = re.compile(r'<div class=" ?highlight hl-ipython3"><pre>(?:[^<]+|<span(?: class="[\w -]*")?>|</span>)*'
                              r'</pre></div>')


class SetAside:
    """Pieces of a page kept out of its parsed tree, each behind a comment no learner can write.

    The label carries a random key made for this page; `put_back` replaces each label by its piece.
    """

    def __init__(self):
        self.key, self.pieces = secrets.token_hex(8), []
        self.pattern = re.compile(f"<!--aside-{self.key}-(\\d+)-->")

    def label(self, piece):
        """The text of the comment standing for `piece` (HTML of the page's own making)."""
        self.pieces.append(piece)
        return f"aside-{self.key}-{len(self.pieces) - 1}"

    def mark(self, piece):
        """The comment standing for `piece`, to be put in unparsed HTML."""
        return f"<!--{self.label(piece)}-->"

    def put_back(self, page):
        """`page` with every piece back in place of its comment."""
        return self.pattern.sub(lambda m: self.pieces[int(m.group(1))], page)


def points(text):
    """``(score, maximum)`` from nbgrader's "Score: 1.0 / 3.0", or None."""
    match = SCORE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None


def mark_results(soup, titles, messages):
    """Show where to look, in place: the index and each test cell say "Failed" or "Passed".

    Each entry of the index (``div#toc``) links to its test cell with the
    exercise's title, its points and, when it lost points, "Failed:" and the
    cell's one-line message.  A failed test cell's heading says "Failed" and its
    error output starts with "Failed:"; both are also coloured.
    """
    for item in soup.select("div#toc li"):
        link = item.find("a", href=True)
        grade_id = link["href"].lstrip("#") if link else None
        score = points(item.get_text())
        if grade_id not in titles or score is None:
            continue
        link.string = titles[grade_id]
        for node in list(link.next_siblings):
            node.extract()
        item.append(" ")
        item.append(tag(soup, "span", f"{score[0]:g} / {score[1]:g} points", "points"))
        failed = score[0] < score[1]
        item.append(tag(soup, "span", "Failed:" if failed else "Passed", "verdict " + ("failed" if failed else "passed")))
        if failed and grade_id in messages:
            item.append(tag(soup, "span", messages[grade_id], "message"))
    for anchor in soup.find_all("a", attrs={"name": True}):
        panel = anchor.find_parent("div", class_="nbgrader_cell")
        heading = panel.find("div", class_="panel-heading") if panel else None
        score = points(heading.get_text()) if heading else None
        if anchor["name"] not in titles or score is None:
            continue
        failed = score[0] < score[1]
        verdict = (f"Failed: {score[0]:g} of {score[1]:g} points" if failed
                   else f"Passed: {score[0]:g} of {score[1]:g} points")
        label = heading.find("span", class_="nbgrader-label") or heading
        label.insert_after(tag(soup, "span", verdict, "verdict " + ("failed" if failed else "passed")))
        if not failed:
            continue
        panel["class"] = panel.get("class", []) + ["failed-cell"]
        cell = panel.find_parent("div", class_="cell")
        for output in (cell.select("div.output_error") if cell else []):
            output["class"] = output.get("class", []) + ["failed-output"]
            pre = output.find("pre")
            if pre is not None:
                first = next(iter(pre.contents), None)
                if isinstance(first, NavigableString) and first.startswith("\n"):  # a browser drops it after <pre>
                    first.replace_with(first[1:])
                pre.insert(0, tag(soup, "strong", "Failed: ", "failed-word"))


def tag(soup, name, text, classes):
    """A new element `name` of `soup` holding `text`, with the CSS `classes`."""
    element = soup.new_tag(name, attrs={"class": classes})
    element.string = text
    return element


class _TemplateCache(BytecodeCache):
    """Jinja's compiled templates, kept for the life of the process.

    nbgrader makes a new exporter for each feedback page, and each would compile
    the same templates again (about a fifth of a page's time); a template whose
    source changes gets a new key, so nothing stale is used.
    """

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _TemplateCache()


class LearnerFeedbackExporter(HTMLExporter):
    """nbgrader's feedback page (same template), made readable offline by `offline_page`."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kwargs):
        """The page of `nb`, parsed once: by `offline_page`, which also does HTMLExporter's own pass (`accessible`).

        This is `HTMLExporter.from_notebook_node` (nbconvert 7) up to its BeautifulSoup
        pass: a second parse and print of the whole page, a third of its cost.
        """
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kwargs)
        return offline_page(page, exercise_titles(nb), grade_messages(nb)), resources


LEARNER_FEEDBACK_PREPROCESSORS = [
    SanitizeLearnerContent,
    GetGrades,
    ClearHiddenTests,
    ShortenTracebacks,
    InertOutputs,
    CSSHTMLHeaderPreprocessor,
]
