"""Pages no learner can script: markdown, attachments and output metadata made inert (issue 16, item 5).

The sanitizer (autograder/sanitize.py) on its own.  The page cases of the hostile
catalogue (tests/hostile.toml, ids ``xss_*``) on real pages, the feedback page and
nbgrader's formgrader in Debian's chromium, are in tests/test_hostile.py, which
grades them with the rest of the catalogue.
"""
import copy
from pathlib import Path

import nbformat
import pytest

import course
import sanitize
from hostile import PNG, PNG_WIDTH

COURSE_MARKDOWN = sorted(Path(course.RELEASE).glob("*/*.ipynb")) + sorted(Path(course.SOLUTIONS).glob("*/*.ipynb"))


# --- the sanitizer alone ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", COURSE_MARKDOWN, ids=lambda p: p.name)
def test_the_courses_own_markdown_is_kept_as_written(path):
    nb = nbformat.read(str(path), as_version=4)
    before = copy.deepcopy(nb)
    changed = sanitize.sanitize_notebook(nb)
    assert changed == [], f"expected every markdown cell of {path.name} kept as written, found cells {changed} changed"
    assert nb == before, f"expected {path.name} unchanged by the sanitizer"


@pytest.mark.parametrize("source", [
    "Math stays: $a<b$ and $$\\sum_i x_i < 1$$", "**bold**, <b>bold</b>, <sub>1</sub>, `a<b`",
    "| a | b |\n|:-|-:|\n| 1 | 2 |", "- [x] done\n- [ ] to do", "[a link](https://example.org) and ![p](pic.png)",
])
def test_harmless_learner_markdown_is_kept(source):
    assert sanitize.safe_markdown(source) == source, f"expected {source!r} kept as written"


@pytest.mark.parametrize("source, shown", [
    ('<img src=x onerror="window.__pwned = 1">', "&lt;img src=x"),
    ("<script>window.__pwned = 1</script>", "&lt;script>"),
    ("<svg onload='window.__pwned = 1'></svg>", "&lt;svg"),
    ("<a href='javascript:window.__pwned = 1'>x</a>", "&lt;a href="),
    ("<div style='position: fixed'>Score: 6 / 6</div>", "&lt;div style"),
    ("[click](javascript:window.__pwned=1)", "```text\n[click](javascript:"),
    ("```mermaid\ngraph TD; A-->B\n```", "````text\n```mermaid"),
])
def test_active_learner_markdown_is_shown_as_text(source, shown):
    safe = sanitize.safe_markdown(source)
    assert safe.startswith(shown), f"expected {source!r} rewritten to start with {shown!r}, found {safe!r}"
    rendered = sanitize.render_markdown(safe)
    assert sanitize.is_clean_markdown(safe), f"expected the rewritten source to render clean, found {rendered!r}"
    words = source.split(">")[1].split("<")[0] if ">" in source and "<" in source else source[1:6]
    assert words in rendered.replace("&gt;", ">"), f"expected the learner's text {words!r} still shown, found {rendered!r}"


def test_attachments_keep_raster_images_only():
    kept = sanitize.safe_attachments({"p.svg": {"image/svg+xml": "PHN2Zz4=", "text/html": "PHNjcmlwdD4="},
                                      "p.png": {"image/png": PNG, "text/html": "PHNjcmlwdD4="},
                                      "bad.png": {"image/png": "<svg onload=x>"}})
    assert kept == {"p.png": {"image/png": PNG}}, f"expected only the PNG kept, found {kept}"


def test_a_reference_to_a_dropped_attachment_is_shown_as_code():
    safe = sanitize.safe_markdown("![plot](attachment:p.svg)", {})
    assert safe.startswith("```"), f"expected a code block for a missing attachment, found {safe!r}"


def test_output_metadata_keeps_numeric_sizes_only():
    metadata = {"image/png": {"width": PNG_WIDTH, "height": 40, "isolated": True, "alt": "a dot"},
                "width": "100%", "height": 12.5, "filenames": {"image/png": "javascript:x"}, "unconfined": "yes"}
    assert sanitize.safe_output_metadata(metadata) == {"image/png": {"height": 40, "alt": "a dot"}, "height": 12.5}, (
        f"expected numeric sizes and text alt only, found {sanitize.safe_output_metadata(metadata)}")
    assert sanitize.safe_output_metadata({"image/png": {"width": True}}) == {}, "expected a boolean width dropped"


def test_a_raw_cell_with_html_is_shown_as_text():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("<img src=x onerror='window.__pwned = 1'>"),
                                         nbformat.v4.new_raw_cell("plain words")])
    assert sanitize.sanitize_notebook(nb) == [0], "expected only the raw cell with HTML changed"
    assert nb.cells[0].source.startswith("&lt;img"), f"expected its HTML escaped, found {nb.cells[0].source!r}"


def test_widget_state_is_dropped():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
                                            "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    sanitize.sanitize_notebook(nb)
    assert "widgets" not in nb.metadata and nb.metadata.kernelspec["name"] == "python3", (
        f"expected the widget state dropped and the kernelspec kept, found {dict(nb.metadata)}")
