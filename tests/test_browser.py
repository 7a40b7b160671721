"""The learner's path in a real browser: the learners' JupyterLab (`make lab`) and an offline feedback page.

Drives Debian's chromium (``/usr/bin/chromium``) with Playwright; no browser is
downloaded.  Screenshots go to ``$FIRSTNEURON_SHOTS`` (default
``/tmp/firstneuron-shots``): each notebook's first screen, the wrong sigmoid's
message and a feedback page opened with the network off.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

import selfcheck
import catalogue
import staging
import cells
import course
from conftest import free_port, require_chromium

REPO = course.REPO
SHOTS = Path(os.environ.get("FIRSTNEURON_SHOTS", "/tmp/firstneuron-shots"))
TOKEN = "firstneuron-test"
STAGES = course.stages()
PASS_MARK = "✓ "
WRONG_SIGMOID = "def sigmoid(z):\n    return np.exp(z) / (1 + np.exp(z))\n"

def graded_cells(nb):
    """grade_ids of the test cells of `nb`."""
    return [test.grade_id for test in cells.test_cells(nb)]


def figure_cells(stage):
    """How many cells of the executed solution notebook show a figure."""
    nb = nbformat.read(str(course.notebook_path(course.SOLUTIONS, stage)), as_version=4)
    return sum(any("image/png" in o.get("data", {}) for o in c.get("outputs", [])) for c in nb.cells)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a free local port, serving a scratch copy of notebooks/ with every answer filled in."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("lab")
    folder = tmp / "course"
    shutil.copytree(course.RELEASE, folder)
    for stage in STAGES:
        nbformat.write(catalogue.build_submission(stage), str(course.notebook_path(folder, stage)))
    with lab_server(folder, tmp) as url:
        yield url, folder


@contextlib.contextmanager
def lab_server(folder, tmp, home=None):
    """`make lab` serving `folder` on a free local port (its settings and log in `tmp`); yields its URL.

    With `home`, the server runs as a learner whose HOME (their ``~/.jupyter`` and nbgrader's cache) is `home`.
    """
    # A fresh JupyterLab profile: no restored tabs; every cell in the page (no windowing), so
    # the test sees every output.
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if home is not None:
        env = {k: v for k, v in env.items() if not k.startswith("JUPYTER")}
        env["HOME"] = str(home)
    env.update(JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    port = free_port()
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN} "
            f"--ServerApp.root_dir={folder}")
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"expected `make lab` to serve on port {port}, found: {(tmp / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the Jupyter server it started, nothing else
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@contextlib.contextmanager
def opened_offline(browser, path, **options):
    """The page of the file `path`, loaded in a fresh chromium context with the network off."""
    context = browser.new_context(offline=True, **options)
    try:
        page = context.new_page()
        page.goto(Path(path).as_uri())
        page.wait_for_load_state("load")
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def lab_page(browser, lab):
    """The learners' lab, loaded once in a fresh workspace (no tabs restored); the tests open notebooks in it.

    ``first_screen`` is the page's text 2 s after it loaded: by then the
    Assignment List extension has asked the server for courses, and a
    notification it raised would still be shown.
    """
    url, _ = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/lab/workspaces/learner?reset&token={TOKEN}")
    page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('File')", timeout=60_000)
    page.wait_for_timeout(2000)
    page.first_screen = page.evaluate("() => document.body.innerText")
    yield page
    page.close()


def file_menu(page, item):
    """Click `item` of the lab's File menu."""
    page.click(".lm-MenuBar-itemLabel:text-is('File')")
    page.click(f".lm-Menu-itemLabel:text-is('{item}')")


def open_notebook(page, stage):
    """Open the stage's notebook in the lab `page` as a learner would: File, Open from Path…; the only one open."""
    while page.locator(".jp-NotebookPanel").count():
        close_notebook(page)
    file_menu(page, "Open from Path…")
    page.fill(".jp-Dialog input", f"{stage}/{stage}.ipynb")
    page.click(".jp-Dialog .jp-mod-accept")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.wait_for_timeout(1500)  # MathJax typesets after the cells appear
    return page


def close_notebook(page):
    """File, Close and Shut Down Notebook…, Ok: the tab closed and its kernel shut down."""
    file_menu(page, "Close and Shut Down Notebook…")
    page.click(".jp-Dialog .jp-mod-accept")
    page.wait_for_selector(".jp-NotebookPanel", state="detached", timeout=30_000)


def run_all(page):
    """Run All Cells from the menu, and wait until no cell is queued or running."""
    prompts = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(f"() => ({prompts})().some(p => p.includes('*'))", timeout=30_000)
    page.wait_for_function(f"() => !({prompts})().some(p => p.includes('*'))", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    return page.evaluate(prompts)


def outputs_of(page):
    return page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()


@pytest.mark.parametrize("stage", STAGES)
def test_a_learner_runs_the_stage_in_the_learners_lab(lab_page, lab, stage):
    _, folder = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_notebook(lab_page, stage)
    try:
        page.screenshot(path=str(SHOTS / f"{stage}.png"))
        dirty = page.locator(".lm-TabBar-tab.jp-mod-dirty").all_inner_texts()
        assert not dirty, f"expected the notebook unmodified after opening it, found modified tabs {dirty}"
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "Formgrader" not in " ".join(menus), f"expected no instructor menu, found {menus}"
        side = " ".join(page.locator(".lm-TabBar-tab").evaluate_all(
            "tabs => tabs.map(t => (t.getAttribute('title') || '') + ' ' + t.textContent)"))
        assert "Create Assignment" not in side and "Formgrader" not in side, (
            f"expected no nbgrader instructor panel, found the tabs {side!r}")

        assert page.locator(".jp-Notebook mjx-container").count() > 0, "expected formulas typeset by MathJax"
        errors = page.locator(".jp-Notebook mjx-merror").count()
        assert errors == 0, f"expected no MathJax error, found {errors}"
        prose = page.evaluate("""() => [...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')]
            .map(m => { const c = m.cloneNode(true);
                        c.querySelectorAll('mjx-container, code, pre, script').forEach(e => e.remove());
                        return c.textContent; }).join(' ')""")
        assert "$" not in prose, f"expected every formula rendered, found a raw $ in {prose[prose.find('$') - 80:][:160]!r}"

        prompts = run_all(page)
        shown = outputs_of(page)
        errors = page.locator(".jp-Notebook [data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
        assert not errors, f"expected Run All to run every cell without an error, found {errors[:2]}"
        not_run = [i for i, p in enumerate(prompts) if not any(ch.isdigit() for ch in p)]
        assert not not_run, f"expected every code cell run, found cells {not_run} not run (prompts {prompts})"
        passes = [line for text in shown for line in text.splitlines() if line.startswith(PASS_MARK)]
        nb = nbformat.read(str(course.notebook_path(folder, stage)), as_version=4)
        expected = graded_cells(nb)
        assert len(passes) == len(expected), (
            f"expected a pass line for each of the {len(expected)} test cells {expected}, found {passes}")
        figures = page.locator(".jp-Notebook .jp-RenderedImage img").count()
        assert figures >= figure_cells(stage), f"expected at least {figure_cells(stage)} figures, found {figures}"
        page.screenshot(path=str(SHOTS / f"{stage}-after-run-all.png"))
    finally:
        close_notebook(page)


def learner_lab_config():
    """learner-lab/jupyter_server_config.py as a module (imported, it only defines its functions)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("learner_lab_config", REPO / "learner-lab" / "jupyter_server_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lab_keeps_the_assignment_list_only_where_an_exchange_is_set_up(tmp_path):
    config = learner_lab_config()
    exchange = tmp_path / "exchange"
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text(f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n")
    assert not config.exchange_is_set_up([str(folder)]), f"expected no exchange while {exchange} does not exist"
    exchange.mkdir()
    assert config.exchange_is_set_up([str(folder)]), f"expected the exchange {exchange} (from nbgrader_config.py) found"
    (folder / "nbgrader_config.py").write_text("c = get_config()\nc.ExchangeFactory.exchange = 'my_exchange.Exchange'\n")
    assert config.exchange_is_set_up([str(folder)]), "expected an exchange class of its own to count as an exchange"


@pytest.fixture(scope="module")
def sigmoid_page(lab_page):
    """01-sigmoid opened in the lab: the self-study checks look at it, then the wrong sigmoid is typed in."""
    page = open_notebook(lab_page, "01-sigmoid")
    yield page
    close_notebook(page)


def test_the_self_study_lab_shows_no_assignment_list_without_an_exchange(sigmoid_page, lab):
    """Issue 19: "Error fetching courses!", the Assignment List three times and a traceback in the log, gone."""
    _, folder = lab
    from jupyter_core.paths import jupyter_config_path

    if learner_lab_config().exchange_is_set_up([*reversed(jupyter_config_path()), str(folder)]):
        pytest.skip("this machine has an nbgrader exchange: the lab rightly shows the Assignment List")
    page = sigmoid_page
    try:
        shown = page.first_screen + page.evaluate("() => document.body.innerText")
        page.keyboard.press("Control+Shift+c")  # the command palette lists every command, menus included
        page.wait_for_selector(".lm-CommandPalette-content", timeout=10_000)
        palette = page.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
        for words in ("Error fetching courses", "exchange directory does not exist"):
            assert words not in shown, f"expected no {words!r} in the learners' lab, found it on the page"
        listed = [label for label in palette if "Assignment List" in label]
        assert not listed, f"expected no Assignment List command without an exchange, found {listed}"
        page.keyboard.press("Escape")
        toolbar = page.locator(".jp-NotebookPanel-toolbar").first.inner_text()
        assert "Validate" in toolbar, f"expected nbgrader's Validate button to stay, found the toolbar {toolbar!r}"
        page.screenshot(path=str(SHOTS / "lab-without-exchange.png"))
    finally:
        page.keyboard.press("Escape")  # the palette closed for the next test on this page
    log = (folder.parent / "lab.log").read_text()
    for words in ("exchange directory does not exist", "Traceback"):
        assert words not in log, f"expected no {words!r} in the server's log, found {log[log.find(words) - 300:][:800]}"


def test_a_wrong_sigmoid_shows_its_message_without_a_traceback(sigmoid_page):
    """On the self-study page: Run All, then a wrong sigmoid typed in and its test cell run again."""
    page = sigmoid_page
    run_all(page)  # the imports and the data, as a learner would have run them (no test's kernel reused)
    solution = page.locator(".jp-CodeCell", has_text="def sigmoid(z):").first
    editor = solution.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_SIGMOID)
    page.keyboard.press("Shift+Enter")  # run the answer cell; the test cell after it is selected
    test_cell = page.locator(".jp-CodeCell", has_text='visible_tests("sigmoid")').first
    test_cell.click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    message = test_cell.locator(".jp-OutputArea-output")
    deadline = time.monotonic() + 30
    while not message.first.inner_text().strip() or message.first.inner_text().startswith(PASS_MARK):
        assert time.monotonic() < deadline, "expected the test cell to run again within 30 s"
        page.wait_for_timeout(200)  # Run All's pass line is replaced once the cell runs again
    text = message.first.inner_text()
    assert "sigmoid(np.array([[-800.0, 800.0]]))" in text and "nan" in text, (
        f"expected the large-|z| test's message naming the nan, found {text!r}")
    assert "Traceback" not in text and "File " not in text and "testing.py" not in text, (
        f"expected the message without a traceback, found {text!r}")
    assert len(text.strip().splitlines()) <= 2, f"expected a short message, found {text!r}"
    test_cell.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "01-sigmoid-wrong-sigmoid.png"))


#: axe-core's rule tags for WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page, what):
    """axe-core (axe-playwright-python, which ships its script: nothing is downloaded) finds no WCAG 2 A/AA violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    violations = [(v["id"], len(v["nodes"]), [n["target"] for n in v["nodes"][:2]])
                  for v in results.response["violations"]]
    assert violations == [], f"expected no WCAG 2 A/AA violation on the {what}, found {violations}"


def assert_failures_are_marked(page):
    """A failed test cell says so in words and in colour; a passed one says "Passed"; the index links to the cell."""
    failed = page.locator("div.nbgrader_cell.failed-cell")
    assert failed.count() == 1, f"expected one failed test cell marked, found {failed.count()}"
    heading = failed.locator(".panel-heading").inner_text()
    assert "Failed: 0 of 3 points" in heading and "propagate_gradients_tests" in heading, (
        f"expected the failed cell's heading to say 'Failed: 0 of 3 points', found {heading!r}")
    colour = failed.evaluate("e => getComputedStyle(e).borderTopColor")
    assert colour != page.locator("div.nbgrader_cell:not(.failed-cell)").first.evaluate(
        "e => getComputedStyle(e).borderTopColor"), f"expected the failed cell coloured apart, found {colour}"
    message = page.locator("div.failed-output pre").first.inner_text()
    assert message.startswith("Failed: propagate:"), f"expected the error to start with 'Failed:', found {message[:80]!r}"
    passed = page.locator("div.nbgrader_cell .verdict.passed").all_inner_texts()
    assert "Passed: 2 of 2 points" in passed, f"expected the passed cost cell to say so, found {passed}"
    link = page.locator("#toc a[href='#propagate_gradients_tests']")
    link.click()
    page.wait_for_timeout(300)
    top = page.locator("a[name='propagate_gradients_tests']").evaluate("e => e.getBoundingClientRect().top")
    assert -1 <= top < 200, f"expected the index's link to bring the failed cell to the top, found it at {top}px"


def assert_display_math_is_laid_out_by_the_browser(page):
    """Block formulas: the browser's ``display: block math``, centred and taller than inline ones."""
    boxes = page.evaluate("""() => {
        const block = [...document.querySelectorAll('math[display="block"]')].find(m => m.querySelector('munderover, mfrac'));
        const inline = document.querySelector('math[display="inline"]');
        const holder = block.parentElement.getBoundingClientRect(), box = block.getBoundingClientRect();
        return {display: getComputedStyle(block).display, left: box.left - holder.left, right: holder.right - box.right,
                height: box.height, inline: inline.getBoundingClientRect().height,
                size: parseFloat(getComputedStyle(block).fontSize), text: parseFloat(getComputedStyle(block.parentElement).fontSize)};
    }""")
    assert boxes["display"] == "block math", f"expected display: block math, found {boxes['display']!r}"
    assert abs(boxes["left"] - boxes["right"]) < 0.1 * (boxes["left"] + boxes["right"]) + 4, (
        f"expected the block formula centred, found {boxes['left']:.0f}px left and {boxes['right']:.0f}px right")
    assert boxes["height"] > 1.5 * boxes["inline"], (
        f"expected a block formula with a fraction or a sum taller than inline text, found {boxes}")
    assert boxes["size"] > boxes["text"], f"expected block formulas slightly larger than the text, found {boxes}"


def test_a_feedback_page_renders_its_formulas_offline(browser, tmp_path):
    """A self-check's feedback page, opened with the network off: MathML formulas, a wrapped diagnosis."""
    stage = "02-propagate"
    notebook = tmp_path / stage / f"{stage}.ipynb"
    notebook.parent.mkdir()
    nb = catalogue.build_submission(stage, ["dw_forgot_1_over_m"])
    solution = next(c for c in nb.cells if course.cell_grade_id(c) == "propagate")
    solution.source += "\n    # a long comment " + "that runs on " * 40  # a line far wider than the page
    nbformat.write(nb, str(notebook))
    lines = []
    selfcheck.self_check(stage, notebook, echo=lines.append)
    page_path = Path(next(line.split("Feedback: ", 1)[1].split(" (new")[0] for line in lines if line.startswith("Feedback: ")))
    with opened_offline(browser, page_path, viewport={"width": 900, "height": 1200}) as page:
        formulas = page.locator("math").count()
        assert formulas > 20, f"expected the formulas of the lesson as MathML, found {formulas}"
        widths = page.locator("math").evaluate_all("ms => ms.map(m => m.getBoundingClientRect().width)")
        assert min(widths) > 0, "expected every formula drawn with a width"
        prose = page.evaluate("""() => [...document.querySelectorAll('.text_cell_render')]
            .map(m => { const c = m.cloneNode(true); c.querySelectorAll('math, code, pre').forEach(e => e.remove());
                        return c.textContent; }).join(' ')""")
        assert "$" not in prose, f"expected no raw $ left, found {prose[prose.find('$') - 80:][:160]!r}"
        index = page.locator("#toc li").all_inner_texts()
        assert any(text.startswith("propagate_gradients:") for text in index), (
            f"expected the index to name each exercise, found {index}")
        gradients = next(text for text in index if text.startswith("propagate_gradients:"))
        assert "0 / 3 points" in gradients and "Failed:" in gradients and "Likely mistake" in gradients, (
            f"expected the index to give the failed exercise's points, 'Failed:' and its message, found {gradients!r}")
        cost = next(text for text in index if text.startswith("propagate_cost:"))
        assert "2 / 2 points" in cost and "Passed" in cost, f"expected the passed exercise's points, found {cost!r}"
        diagnosis = page.locator("pre", has_text="Likely mistake").first
        diagnosis.scroll_into_view_if_needed()
        box = diagnosis.bounding_box()
        overflow = diagnosis.evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 0 and box["x"] + box["width"] <= 900, (
            f"expected the 'Likely mistake' line to wrap inside the page, found it {overflow}px too wide at {box}")
        too_wide = page.locator("div.input_area pre").evaluate_all(
            "ps => ps.filter(p => p.scrollWidth > p.clientWidth || p.getBoundingClientRect().right > 900)"
            "        .map(p => p.textContent.slice(0, 60))")
        assert not too_wide, f"expected every line of code to wrap inside the page, found {too_wide}"
        assert_failures_are_marked(page)
        assert_display_math_is_laid_out_by_the_browser(page)
        assert_accessible(page, "feedback page")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "feedback-offline.png"))
        page.locator("text=Checking gradients numerically").first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "feedback-offline-formulas.png"))


def test_the_class_report_is_accessible(browser, tmp_path):
    """report.py's page for a small class graded with nbgrader: no WCAG 2 A/AA violation."""
    import grading
    import report
    import sandbox

    stage = "01-sigmoid"
    workspace = course.make_workspace(tmp_path / "course")
    release = course.generate_release(workspace, only=[stage])
    for student, variants in (("correct", ()), ("mistaken", ("sigmoid_sign_error",))):
        staging.submit(workspace, student, stage, catalogue.build_submission(stage, variants, release_dir=release))
    grading.grade_class(workspace, stage, force=True, sandbox=sandbox.available() is None,
                        executor=grading.InlineExecutor(), warm=False, progress=False, echo=lambda line: None)
    with opened_offline(browser, report.write_report(workspace)) as page:
        rows = page.locator("table tr").count()
        assert rows > 4, f"expected the report's tables filled, found {rows} rows"
        assert_accessible(page, "class report")
