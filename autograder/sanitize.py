"""Learner content no browser will run: markdown, attachments and output metadata made inert.

A learner's notebook reaches two pages: the feedback page nbgrader generates
(opened by the learner) and the formgrader's view of the autograded notebook,
served from the instructor's Jupyter origin, where a learner's script would run
in the instructor's session.  Both are drawn by nbconvert from the autograded
notebook, so `SanitizeLearnerContent` cleans that notebook before nbgrader
writes it (an ``Autograde.autograde_preprocessors`` step right after the
executor) and again before a feedback page is drawn:

- **Markdown cells** are rendered as nbconvert renders them and the result is
  checked against an allow-list HTML sanitizer (`nh3`, the binding of the
  maintained Rust crate *ammonia*).  A cell whose rendering the sanitizer
  leaves unchanged (all of the course's own markdown) is kept as written; any
  other cell is rewritten until its rendering is clean: first with ``<`` as
  ``&lt;`` (its HTML shows as text), else as a code block of its source.
- **Raw cells**, which nbconvert copies into the page, are kept only if the
  sanitizer leaves them unchanged; otherwise their HTML is escaped (shown as text).
- **Attachments** keep raster images only (PNG, JPEG, GIF); an SVG or HTML
  attachment is dropped.
- **Output metadata** keeps what the templates use for pictures: ``width`` and
  ``height`` as plain numbers, ``unconfined`` as a boolean, ``alt`` as text;
  anything else (``isolated``, ``filenames``, a width such as
  ``"1 onerror=..."``, which nbconvert writes unquoted) is dropped.
- **Widget state** in the notebook's metadata is dropped: with it, nbconvert's
  page loads the widgets' script from a CDN and draws the learner's widgets.

Output *data* is filtered with one allow-list, `INERT_MIMETYPES`: the executor keeps only
those types of what the kernel sends, and so does the feedback's ``feedback_filter.InertOutputs``.
"""
import functools
import html
import math
import re

import nh3
from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbgrader.preprocessors import NbGraderPreprocessor

#: Tags the rendering of a markdown cell may hold (what Markdown itself produces, and a little inline HTML).
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "kbd", "li", "ol", "p", "pre", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}
#: Attributes kept, per tag (``*``: any tag).  URLs are checked by `URL_SCHEMES` and `keep_attribute`.
ATTRIBUTES = {
    "*": {"class", "id", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "input": {"type", "checked", "disabled"},
    "ol": {"start"},
    "td": {"style", "align"},
    "th": {"style", "align"},
}
URL_SCHEMES = {"http", "https", "mailto", "data"}
#: The only ``data:`` URLs kept: raster images in an ``<img>`` (attachments are drawn that way).
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*\Z")
TEXT_ALIGN = re.compile(r"text-align:\s*(left|right|center);?\Z")
#: Attachment types kept: raster images, which a browser never runs.
ATTACHMENT_MIME = ("image/png", "image/jpeg", "image/gif")
#: The output types kept from a learner's kernel and shown in feedback: none of them can run code.
INERT_MIMETYPES = ("text/plain", "image/png", "image/jpeg")  # nbconvert's pages draw no image/gif output
#: Output metadata keys kept, with the test their value must pass.
OUTPUT_METADATA = {
    "width": lambda v: is_size(v),
    "height": lambda v: is_size(v),
    "unconfined": lambda v: isinstance(v, bool),
    "alt": lambda v: isinstance(v, str),
}


def is_size(value):
    """True for a plain finite non-negative number (not a bool, not a string)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def keep_attribute(tag, attribute, value):
    """`nh3`'s attribute filter: the value to keep, or None to drop the attribute."""
    if attribute in ("width", "height"):
        return value if re.fullmatch(r"\d{1,5}(\.\d+)?%?", value.strip()) else None
    if attribute == "style":
        return value if TEXT_ALIGN.match(value.strip()) else None
    if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and DATA_IMAGE.match(value.strip()) else None
    if attribute == "class" and "mermaid" in value.lower():  # drawn by a script (mermaid.js)
        return None
    if attribute == "type":
        return value if value.lower() == "checkbox" else None
    return value


def clean_html(markup):
    """`markup` with everything off the allow-list removed (scripts, handlers, styles, unsafe URLs).

    Parameters
    ----------
    markup : str
        An HTML fragment.

    Returns
    -------
    markup : str
        The sanitized fragment (`nh3`).
    """
    return nh3.clean(markup, tags=TAGS, attributes=ATTRIBUTES, attribute_filter=keep_attribute,
                     url_schemes=URL_SCHEMES, link_rel=None, strip_comments=True)


def render_markdown(source, attachments=None):
    """The HTML nbconvert draws for a markdown cell (the renderer of its templates)."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


def canonical(markup):
    """A comparable form of an HTML fragment: elements, sorted attributes and text, in order.

    The fragment is parsed by html5lib, which follows the WHATWG parsing rules a
    browser follows: markup written to be read one way by a lenient parser and
    another way by the browser cannot pass for clean.
    """
    found = []
    for node in BeautifulSoup(markup, "html5lib").descendants:  # parsed as a browser parses it (head too)
        if isinstance(node, Tag):
            found.append((node.name, tuple(sorted((k, " ".join(v) if isinstance(v, list) else v)
                                                  for k, v in node.attrs.items()))))
        elif isinstance(node, Comment):
            found.append(("<!--", str(node)))
        elif isinstance(node, NavigableString) and str(node).strip():
            found.append(" ".join(str(node).split()))
    return found


def is_clean_html(markup):
    """True when the sanitizer leaves `markup` unchanged (up to how it is written)."""
    return canonical(clean_html(markup)) == canonical(markup)


def is_clean_markdown(source, attachments=None):
    """True when the sanitizer leaves the rendering of `source` unchanged.

    A source that nbconvert cannot render (an ``attachment:`` link to a missing
    attachment, for one) is not clean.  The answer for a source without
    attachments is remembered: the course's own cells come back in every
    submission, and each is checked twice (grading, then the feedback page).
    """
    if not attachments and len(source) <= CACHED_CHARS:
        return _is_clean_text(source)
    return _is_clean(source, attachments)


#: Longest source whose verdict is remembered (the course's cells are far shorter; a learner's
#: huge cells are checked each time, so the memory the cache holds stays bounded).
CACHED_CHARS = 20_000


@functools.lru_cache(maxsize=1024)
def _is_clean_text(source):
    return _is_clean(source, None)


def _is_clean(source, attachments):
    try:
        rendered = render_markdown(source, attachments)
    except Exception:  # noqa: BLE001 - nbconvert raises InvalidNotebook, mistune others: not clean
        return False
    return is_clean_html(rendered)


def code_block(source):
    """`source` as a fenced code block: shown as text, never rendered."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{source}\n{fence}"


def safe_markdown(source, attachments=None):
    """A markdown source whose rendering passes the allow-list.

    Parameters
    ----------
    source : str
        A markdown cell's source.
    attachments : dict, optional
        The cell's attachments, ``{name: {mimetype: base64}}`` (already `safe_attachments`).

    Returns
    -------
    source : str
        `source` itself when its rendering is clean; else `source` with every
        ``<`` written ``&lt;`` (its HTML shown as text) when that is clean; else
        `source` as a code block.
    """
    if is_clean_markdown(source, attachments):
        return source
    escaped = source.replace("<", "&lt;")
    if is_clean_markdown(escaped, attachments):
        return escaped
    return code_block(source)


def safe_attachments(attachments):
    """The raster images of a markdown cell's attachments: ``{name: {mimetype: base64}}``."""
    kept = {}
    for name, bundle in (attachments or {}).items():
        if not isinstance(bundle, dict):
            continue
        images = {mime: data for mime, data in bundle.items()
                  if mime in ATTACHMENT_MIME and isinstance(data, str) and DATA_IMAGE.match(f"data:{mime};base64,{data}")}
        if images:
            kept[str(name)] = images
    return kept


def safe_output_metadata(metadata):
    """The keys of `OUTPUT_METADATA` whose values pass, at the top level and per MIME type."""
    kept = {}
    for key, value in (metadata or {}).items():
        if isinstance(value, dict) and "/" in key:
            inner = {k: v for k, v in value.items() if k in OUTPUT_METADATA and OUTPUT_METADATA[k](v)}
            if inner:
                kept[key] = inner
        elif key in OUTPUT_METADATA and OUTPUT_METADATA[key](value):
            kept[key] = value
    return kept


def sanitize_notebook(nb):
    """Make every markdown and raw cell, attachment and output metadata of `nb` inert, and drop its widget state (in place).

    Returns
    -------
    changed : list of int
        Indices of the cells whose markdown or attachments were changed.
    """
    changed = []
    nb.get("metadata", {}).pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        before = (cell.get("source"), cell.get("attachments"))
        if "attachments" in cell:
            cell["attachments"] = safe_attachments(cell["attachments"])
            if not cell["attachments"]:
                del cell["attachments"]
        if cell.get("cell_type") == "markdown":
            cell["source"] = safe_markdown(cell.get("source", ""), cell.get("attachments"))
        elif cell.get("cell_type") == "raw" and not is_clean_html(cell.get("source", "")):
            cell["source"] = html.escape(cell["source"], quote=False)
        for output in cell.get("outputs", []):
            if "metadata" in output:
                output["metadata"] = safe_output_metadata(output["metadata"])
        if (cell.get("source"), cell.get("attachments")) != before:
            changed.append(index)
    return changed


class SanitizeLearnerContent(NbGraderPreprocessor):
    """Markdown, attachments and output metadata no browser will run (see the module's docstring).

    Listed in ``Autograde.autograde_preprocessors`` right after the executor, so
    that the autograded notebook the formgrader draws is inert, and in the
    feedback's preprocessors (``feedback_filter.LEARNER_FEEDBACK_PREPROCESSORS``).
    """

    def preprocess(self, nb, resources):
        changed = sanitize_notebook(nb)
        if changed:
            self.log.warning("Markdown or attachments with HTML off the allow-list made inert in cells %s",
                             changed)
        return nb, resources
