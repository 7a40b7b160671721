"""Validate in the learners' lab tells the truth (learner-lab/firstneuron_validate.py).

In a real browser (Debian's chromium driven by Playwright, as tests/test_browser.py),
`make lab` on a notebook whose mistake the visible tests miss (an ``optimize`` that prints
when ``print_cost`` is False): the toolbar's Validate shows the hidden test's named mistake,
the points, and a feedback page that opens.  Without the hidden tests, Validate never says
that the notebook passes all the tests.
"""
import json
import os
import re
import sys
import urllib.request

import nbformat
import pytest

import catalogue
import course
from test_browser import CHROMIUM, TOKEN, browser, lab_server, require_chromium  # noqa: F401  (fixtures)

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
