"""What several test modules share: page text, ports, servers, a browser, and classes graded once per session.

Plain helpers are imported by name (``from conftest import visible_text``);
fixtures are found by pytest.  A fixture here with ``scope="session"`` grades
its class once, however many modules use it: a module that needs the class
in another state copies its folder first and never writes to the shared one.
"""
import contextlib
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import catalogue
import staging
import course
import sandbox

#: Where the grading tests find bubblewrap (a class graded without it says so instead).
SANDBOX = sandbox.available() is None


def visible_text(page):
    """What a browser shows of an HTML page: no styles or scripts, tags removed, entities decoded, spaces collapsed."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def same_words(text):
    """`text` with its white space collapsed, to be looked for in `visible_text`."""
    return " ".join(text.split())


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Debian's chromium: the page tests drive it with Playwright (never a browser Playwright downloads).
CHROMIUM = Path("/usr/bin/chromium")


def require_chromium():
    """Skip where Debian's chromium is missing, fail on CI (``.ci/run`` installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"expected Debian's chromium at {CHROMIUM} on CI (.ci/run installs it), found none")
        pytest.skip(f"no {CHROMIUM} on this machine (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright: one per test module that asks for it."""
    require_chromium()
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def stop_group(process, timeout=20):
    """End a server a test started (its whole process group), politely first."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def short_private_root():
    """A new, short folder for a sandbox's private root (kernels' sockets live below it: 107 bytes at most)."""
    return Path(tempfile.mkdtemp(prefix="fnroot-")) / "private-root"


@pytest.fixture()
def private_root():
    """A sandbox's private root of this test's own, short whatever pytest's temporary folder is."""
    root = short_private_root()
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


# --- The sigmoid class: four learners of 01-sigmoid, graded from the command line --------------

SIGMOID = "01-sigmoid"
#: student -> (catalogue variants, hands in the blank release, score the class gets with seed 7)
SIGMOID_CLASS = {
    "ada": ((), False, 5.0),
    "ben": ((), True, 0.0),
    "cy": (("sigmoid_sign_error",), False, 3.0),
    "fay": ((), False, 5.0),
}
SIGMOID_SCORES = {student: score for student, (_, _, score) in SIGMOID_CLASS.items()}
#: The time limit of one cell in these courses' configuration.
CELL_TIMEOUT = "c.Execute.timeout = 10\n"


def make_sigmoid_course(root, extra_config=""):
    """A course folder with the release of 01-sigmoid and the class's submissions; `extra_config` ends its config."""
    workspace = course.make_workspace(root)
    with open(workspace / "nbgrader_config.py", "a") as f:
        f.write(CELL_TIMEOUT + extra_config)
    release = course.generate_release(workspace, only=[SIGMOID])
    for student, (variants, blank, _) in SIGMOID_CLASS.items():
        staging.submit(workspace, student, SIGMOID, catalogue.build_submission(SIGMOID, variants, blank, release))
    return workspace


def grade_command(workspace, *args):
    """``python -m classroom grade 01-sigmoid --course WORKSPACE ARGS`` (``--no-sandbox`` where there is none)."""
    command = [sys.executable, "-m", "classroom", "grade", SIGMOID, "--course", str(workspace), *args]
    return command if SANDBOX else [*command, "--no-sandbox"]


def grading_environment(seed="7"):
    """The environment an instructor's shell gives ``python -m classroom``, with the class's seed."""
    return {**course.grading_env(), "FIRSTNEURON_SEED": seed}


@pytest.fixture(scope="session")
def sigmoid_class(tmp_path_factory):
    """The sigmoid class graded once by ``python -m classroom grade --workers 2`` (seed 7), as an instructor does.

    While that grader runs, a second grader is started on the same course (it must be refused,
    tests/test_servers.py checks how); once it has ended, a third one (it must find everything done).
    Yields ``{"workspace", "first", "second", "third"}``: the course folder and the three runs
    (``subprocess.CompletedProcess``-like: returncode, stdout, stderr, pid).  Tests that change the
    course copy its folder first.
    """
    import classroom

    workspace = make_sigmoid_course(tmp_path_factory.mktemp("sigmoid-class") / "course")
    env = grading_environment()
    first = subprocess.Popen(grade_command(workspace, "--workers", "2"), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lock = workspace / classroom.GRADING_LOCK
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None and not (lock.is_file() and lock.read_text().strip()):
        time.sleep(0.1)
    second = subprocess.run(grade_command(workspace, "--workers", "1"), env=env, capture_output=True, text=True,
                            timeout=120)
    stdout, stderr = first.communicate(timeout=300)
    first_run = subprocess.CompletedProcess(first.args, first.returncode, stdout, stderr)
    first_run.pid = first.pid
    third = subprocess.run(grade_command(workspace), env=env, capture_output=True, text=True, timeout=300)
    yield {"workspace": workspace, "first": first_run, "second": second, "third": third}


# --- Order: the longest modules first ---------------------------------------------------------------------

#: The modules that take longest (a minute or more of a 2-core machine), longest first.  `make test` runs
#: modules side by side (pytest-xdist, ``--dist loadfile``: a module stays on one worker, its fixtures are
#: made once); starting the longest first lets the workers end together.  The others follow in their usual
#: order, then the notebooks nbval checks.
LONGEST_FIRST = ["test_hostile", "test_grading", "test_servers", "test_browser", "test_bounds",
                 "test_celeba_switch", "test_exchange", "test_serve_browser", "test_grading_driver"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: (item.path.suffix == ".ipynb", rank.get(item.path.stem, len(rank))))
