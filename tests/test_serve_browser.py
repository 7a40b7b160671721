"""The grade reaches the learner in the lab: the Assignment List with the grading service, and Validate.

In a class (an exchange set up): a learner fetches, submits and fetches the feedback from
nbgrader's Assignment List while `classroom serve` grades the submission.

Validate in the learners' lab tells the truth (learner-lab/firstneuron_validate.py).

In a real browser (Debian's chromium driven by Playwright, as tests/test_browser.py),
`make lab` on a notebook whose mistake the visible tests miss (an ``optimize`` that prints
when ``print_cost`` is False): the toolbar's Validate shows the hidden test's named mistake,
the points, and a feedback page that opens.  Without the hidden tests, Validate never says
that the notebook passes all the tests.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

import catalogue
import course
from conftest import require_chromium
from test_browser import SHOTS, TOKEN, lab_server
from test_exchange import instructor

sys.path.insert(0, str(course.REPO / "learner-lab"))
import firstneuron_validate  # noqa: E402

STAGE = "03-optimize"
MISTAKE = "prints_without_print_cost"
HINT = "it prints even when print_cost is False"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a scratch course folder holding a 03-optimize with a mistake only the hidden tests see."""
    require_chromium()
    folder = tmp_path_factory.mktemp("validate") / "course"
    (folder / STAGE).mkdir(parents=True)
    nbformat.write(catalogue.build_submission(STAGE, [MISTAKE]), str(course.notebook_path(folder, STAGE)))
    for name in ("given.py",):
        source = course.RELEASE / STAGE / name
        if source.is_file():
            (folder / STAGE / name).write_bytes(source.read_bytes())
    with lab_server(folder, tmp_path_factory.mktemp("validate-lab")) as url:
        yield url, folder


def test_the_visible_tests_pass_so_only_the_hidden_ones_can_tell(lab):
    _, folder = lab
    answer = firstneuron_validate.visible_only(
        {"success": True, "value": {}})  # what nbgrader's validator says of it (its visible tests pass)
    assert answer["success"] is False and "visible tests only" in answer["value"] \
        and "passes all the tests" not in answer["value"], \
        f"expected the visible-tests answer to say it is not the grade, found {answer}"


def test_validate_shows_the_hidden_tests_named_mistake(browser, lab):  # noqa: F811
    url, _ = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(300_000)  # a loaded machine; a pass takes seconds
    try:
        page.goto(f"{url}/lab/workspaces/validate/tree/{STAGE}/{STAGE}.ipynb?reset&token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
        page.get_by_role("button", name="Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        page.wait_for_function("() => document.querySelector('.jp-Dialog #validation-message')")
        text = dialog.inner_text()
        shots = os.environ.get("FIRSTNEURON_SHOTS", "/tmp/firstneuron-shots")
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=f"{shots}/validate-{STAGE}.png")
        assert HINT in text, f"expected Validate's dialog to name the mistake ({HINT!r}), found: {text!r}"
        assert "passes all the tests" not in text, f"expected no 'passes all the tests', found: {text!r}"
        # optimize is graded in parts: printing when print_cost is False costs the printing part only.
        assert "Score: 3/4" in text and re.search(r"optimize_printing_tests\s+0/1\s+failed", text) \
            and re.search(r"optimize_steps_tests\s+1/1\s+passed", text), \
            f"expected the score (3/4) and each part's points and verdict, found: {text!r}"
        link = dialog.locator("a", has_text="Open the feedback page").get_attribute("href")
        with urllib.request.urlopen(urllib.request.Request(
                url + link, headers={"Authorization": f"token {TOKEN}"}), timeout=30) as response:
            feedback = response.read().decode()
            policy = response.headers.get("Content-Security-Policy", "")
        assert "prints even when print_cost is False" in feedback and "BEGIN HIDDEN TESTS" not in feedback, \
            "expected the linked feedback page to name the mistake and hide the hidden tests"
        assert "sandbox" in policy, f"expected the feedback page served with a sandboxing policy, found {policy!r}"
    finally:
        page.close()


def test_validate_route_answers_in_nbgraders_format(lab):
    url, _ = lab
    request = urllib.request.Request(f"{url}/assignments/validate", data=f"path={STAGE}/{STAGE}.ipynb".encode(),
                                     headers={"Authorization": f"token {TOKEN}"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    failed = answer.get("value", {}).get("failed", []) if answer.get("success") else []
    assert failed and any(HINT in entry["error"] for entry in failed), \
        f"expected nbgrader's format with a failed entry naming the mistake, found {answer}"


CLASS_STAGE = "01-sigmoid"
COURSE_ID = "firstneuron"
LEARNER = "lea"
#: The learner's mistake, and what the fetched feedback must say of it.
CLASS_MISTAKE, CLASS_HINT, CLASS_SCORE = "sigmoid_sign_error", "a sign error", "Score: 3.0 / 5.0"


@pytest.fixture(scope="module")
def class_lab(tmp_path_factory):
    """An instructor's course with 01-sigmoid released to an exchange, and a learner's lab that sees it."""
    require_chromium()
    root = tmp_path_factory.mktemp("assignment-list")
    exchange = root / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    config = f"c.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
    workspace = course.make_workspace(root / "instructor")
    with open(workspace / "nbgrader_config.py", "a") as f:
        f.write(config + "c.ExchangeCollect.check_owner = False\n")  # one OS account plays both (test_exchange.py)
    instructor(["generate_assignment", CLASS_STAGE, "--force"], workspace, "create the release")
    instructor(["release_assignment", CLASS_STAGE], workspace, "put the release in the exchange")
    home = root / LEARNER
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n" + config + f"c.CourseDirectory.student_id = {LEARNER!r}\n"
        # Where Fetch puts assignments (nbgrader's default is the server's working folder: `make lab`'s notebooks/).
        f"c.Exchange.assignment_dir = {str(home)!r}\n")
    with lab_server(home, tmp_path_factory.mktemp("assignment-list-lab"), home=home) as url:
        yield url, workspace, home


def run_command(page, label, timeout=120):
    """Run JupyterLab's command `label` from its palette, once the lab handles the shortcut and lists it.

    On a loaded machine the shell is drawn before the extensions have registered their commands:
    the palette is opened again until it shows, and Enter is pressed once the command is the
    palette's active item (Enter runs whatever the palette lists first; the list is drawn again
    as commands change, so a click on an item can miss it).
    """
    palette = page.locator(".lm-CommandPalette-input")
    deadline = time.monotonic() + timeout
    while not palette.is_visible():
        assert time.monotonic() < deadline, f"expected JupyterLab's command palette within {timeout} s"
        page.keyboard.press("Control+Shift+c")
        page.wait_for_timeout(500)
    palette.fill(label)
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=label).wait_for(state="attached")
    palette.press("Enter")


def test_a_learner_submits_and_fetches_feedback_from_the_assignment_list(browser, class_lab):  # noqa: F811
    url, workspace, home = class_lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(120_000)  # a loaded machine; each step takes seconds
    try:
        page.goto(f"{url}/lab/workspaces/assignments?reset&token={TOKEN}")
        page.wait_for_selector(".jp-Launcher")  # the reset layout is restored: a tab opened before would be closed
        run_command(page, "Assignment List")
        page.get_by_role("button", name="Fetch", exact=True).click()
        submit = page.get_by_role("button", name="Submit", exact=True)
        submit.wait_for()
        # The learner's work, as they saved it in the fetched notebook.
        notebook = course.notebook_path(home, CLASS_STAGE)
        assert notebook.is_file(), f"expected the Assignment List's Fetch to put {notebook} in place"
        nbformat.write(catalogue.build_submission(CLASS_STAGE, [CLASS_MISTAKE], release_dir=home), str(notebook))
        submit.click()
        page.get_by_role("button", name="Fetch Feedback", exact=True).wait_for()

        served = subprocess.run([sys.executable, "-m", "classroom", "serve", "--course", str(workspace), "--once"],
                                cwd=workspace, env=course.grading_env(), capture_output=True, text=True, timeout=300)
        assert served.returncode == 0 and f"{LEARNER}  {CLASS_STAGE}  3/5" in served.stdout, \
            f"expected one pass of the service to grade {LEARNER}'s submission 3/5, found:\n{served.stdout}{served.stderr}"

        page.get_by_role("button", name="Fetch Feedback", exact=True).click()
        view = page.get_by_text("(view feedback)")
        view.wait_for()
        page.screenshot(path=str(SHOTS / "assignment-list-feedback.png"))
        pages = sorted(home.glob(f"{CLASS_STAGE}/feedback/*/{CLASS_STAGE}.html"))
        assert pages, f"expected the fetched feedback page under {home / CLASS_STAGE / 'feedback'}"
        text = pages[-1].read_text()
        assert CLASS_SCORE in text and CLASS_HINT in text and "BEGIN HIDDEN TESTS" not in text, \
            f"expected the fetched page to show {CLASS_SCORE!r} and name the mistake ({CLASS_HINT!r}), hidden tests hidden"
        view.click()  # nbgrader's link takes the file browser to the fetched page
        page.locator(".jp-DirListing-item", has_text=f"{CLASS_STAGE}.html").dblclick()
        page.wait_for_selector(f".lm-TabBar-tab:has-text('{CLASS_STAGE}.html')")  # JupyterLab's HTML viewer
        page.screenshot(path=str(SHOTS / "assignment-list-feedback-page.png"))
    finally:
        page.close()
