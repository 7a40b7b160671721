"""Pages no learner can script: markdown, attachments and output metadata made inert (issue 16, item 5).

The sanitizer (autograder/sanitize.py) is checked on its own, then on real
pages in Debian's chromium: each page case of the hostile catalogue
(tests/hostile.py, ids ``xss_*``) is graded by the real driver, and its
payload, which sets ``window.__pwned`` and the page's title, must not run

- in the learner's feedback page (``file://``), with its Content-Security-Policy
  and with the policy bypassed (the sanitizer alone);
- in nbgrader's formgrader, a real ``jupyter server`` logged in as the
  instructor, at ``/formgrader/submissions/ID/``.

Controls prove the payloads and the detector work: the same notebook drawn by
nbconvert without the sanitizer runs the payload, and so does the formgrader
once the autograded notebook on disk is swapped for an unsanitized one.
"""
import copy
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

import course
import grading
import sandbox
import sanitize
from hostile import CASES, PNG, PNG_WIDTH, formgrader_page, scripted
from test_browser import CHROMIUM, free_port, require_chromium
from test_hostile import hostile_submission

STAGE = "02-propagate"
PAGE_CASES = [c for c in CASES if c.id.startswith("xss_")]
#: The cases whose payload runs in nbconvert's page when nothing is sanitized (an SVG in an <img> never runs).
RUNS_UNSANITIZED = {"xss_markdown_img", "xss_markdown_script", "xss_png_width"}
TOKEN = "firstneuron-formgrader-test"
RAN = "() => Boolean(window.__pwned) || document.title === 'pwned'"
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


# --- real pages in chromium --------------------------------------------------------------------------------

def unsanitized(nb, case):
    """`nb` (an autograded notebook) with `case`'s payload put back as the learner wrote it (in place)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and case.markdown and ("__pwned" in cell.source or "attachment:" in cell.source):
            cell.source = case.markdown
            if case.attachments:
                cell.attachments = copy.deepcopy(case.attachments)
        for output in cell.get("outputs", []):
            if output.get("data", {}).get("image/png") == PNG:
                output.metadata = {"image/png": {"width": PNG_WIDTH}}
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The page cases graded by the real driver in one course folder."""
    workspace = course.make_workspace(tmp_path_factory.mktemp("xss") / "course")
    release = course.generate_release(workspace, only=[STAGE])
    for case in PAGE_CASES:
        hostile_submission(case, workspace, release, port=9)
    outcomes = grading.grade_class(workspace, STAGE, force=True, sandbox=sandbox.available() is None, workers=2,
                                   progress=False, overrides={"Execute": {"timeout": 10}}, echo=lambda line: None)
    failed = [(o.student, o.reason) for o in outcomes if not o.graded]
    assert not failed, f"expected every page case graded, found {failed}"
    return workspace


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def formgrader(graded, tmp_path_factory):
    """A real Jupyter server with nbgrader's formgrader on the graded course, on a free port of 127.0.0.1."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("formgrader") / "server.log"
    log = log_path.open("w")
    command = [str(course.REPO / ".venv" / "bin" / "jupyter"), "server", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={graded}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, cwd=graded, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # up once the formgrader answers (it loads after the server itself)
            try:
                urllib.request.urlopen(f"{url}/formgrader/?token={TOKEN}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"expected a Jupyter server with the formgrader on port {port}, found: "
                                f"{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server this fixture started, nothing else
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def submission_id(workspace, student):
    """The formgrader's id of `student`'s autograded notebook (nbgrader's gradebook)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(STAGE, STAGE, student).id


def script_ran(browser, url, bypass_csp=False):
    """Open `url` in a fresh chromium context and tell whether a payload ran (it sets ``window.__pwned``)."""
    context = browser.new_context(bypass_csp=bypass_csp)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)  # handlers (onload, onerror) fire as images load
        return page.evaluate(RAN), page.content()
    finally:
        context.close()


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.id)
def test_the_feedback_page_runs_no_learner_script(browser, graded, case, tmp_path):
    page = course.notebook_path(graded / "feedback" / case.id, STAGE).with_suffix(".html")
    ran, html = script_ran(browser, page.as_uri())
    assert not ran, f"expected {case.id}'s payload not run in its feedback page ({case.what})"
    ran, _ = script_ran(browser, page.as_uri(), bypass_csp=True)
    assert not ran, f"expected {case.id}'s feedback page inert by the sanitizer alone (policy bypassed)"
    assert scripted(html) == [], f"expected no payload where a browser runs script, found {scripted(html)}"
    assert "Content-Security-Policy" in html, "expected the page's Content-Security-Policy"

    # Control: the notebook drawn by nbconvert without the sanitizer runs the payload (the detector works)...
    from nbconvert.exporters import HTMLExporter

    raw = unsanitized(nbformat.read(str(course.notebook_path(graded / "autograded" / case.id, STAGE)), 4), case)
    control = tmp_path / "unsanitized.html"
    control.write_text(HTMLExporter(template_name="classic").from_notebook_node(raw)[0])
    ran, _ = script_ran(browser, control.as_uri())
    assert ran == (case.id in RUNS_UNSANITIZED), (
        f"expected the unsanitized page to {'run' if case.id in RUNS_UNSANITIZED else 'not run'} {case.id}'s payload, "
        f"found it {'ran' if ran else 'did not run'}")
    # ... and the feedback page's policy alone stops it.
    policy = html[:html.index("</head>")]
    shielded = tmp_path / "unsanitized-with-policy.html"
    shielded.write_text(policy + control.read_text().split("</head>", 1)[-1])
    ran, _ = script_ran(browser, shielded.as_uri())
    assert not ran, f"expected the feedback page's Content-Security-Policy alone to stop {case.id}'s payload"


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.id)
def test_the_formgrader_runs_no_learner_script(browser, graded, formgrader, case):
    path = course.notebook_path(graded / "autograded" / case.id, STAGE)
    url = f"{formgrader}/formgrader/submissions/{submission_id(graded, case.id)}/?token={TOKEN}"
    ran, html = script_ran(browser, url)
    assert "propagate" in html and "formgrade" in html, f"expected the formgrader's page of {case.id}, found {html[:300]!r}"
    assert not ran, f"expected {case.id}'s payload not run in the formgrader, in the instructor's session ({case.what})"
    assert scripted(html) == [], f"expected no payload where a browser runs script, found {scripted(html)}"
    assert scripted(formgrader_page(path)) == [], "expected the catalogue's static check to agree"

    # Control: the same page drawn from an unsanitized autograded notebook runs the payload.
    sanitized = path.read_bytes()
    try:
        nbformat.write(unsanitized(nbformat.read(str(path), 4), case), str(path))
        ran, _ = script_ran(browser, url)
    finally:
        path.write_bytes(sanitized)
    assert ran == (case.id in RUNS_UNSANITIZED), (
        f"expected the formgrader to {'run' if case.id in RUNS_UNSANITIZED else 'not run'} {case.id}'s payload "
        f"from an unsanitized notebook, found it {'ran' if ran else 'did not run'}")
