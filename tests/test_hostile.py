"""Grades a learner cannot forge: the hostile catalogue (tests/hostile.py) graded as one class.

The honest controls are graded alone first; then the whole class, controls
and every hostile case, is graded together with the real driver (sandboxed
kernels, hidden checks in the grader).  For each case: no unearned credit;
the controls' scores, autograded notebooks and feedback byte-identical to
their run alone; the course folder and the repository unchanged; no process
left; nothing reached a listener on 127.0.0.1; no feedback page carries the
reference or a learner's script.
"""
import hashlib
import os
import re
import socket
import threading
import time

import nbformat
import pytest

import catalogue
import course
import grading
import sandbox
from hostile import CASES, WRONG

STAGE = "02-propagate"
#: Honest learners: student id -> catalogue variants (None: the untouched release).
CONTROLS = {"control_correct": (), "control_mistaken": ("dw_forgot_1_over_m",), "control_blank": None}
#: What an honest learner with the same functions scores.
HONEST = {"wrong": 1.0, "correct": 6.0, "none": 0.0}
CELL_TIMEOUT = 5
#: Text only the instructor's files hold: if a feedback page shows it, something leaked.
SECRETS = ("def _softplus", "call_without_mutation", "### BEGIN HIDDEN TESTS", "GRAD_WRONG")
OUTPUTS = ("autograded", "feedback", "gradebook.db", "grades.csv", "logs")

pytestmark = pytest.mark.skipif(sandbox.available() is not None and not os.environ.get("CI"),
                                reason=f"no sandbox here: {sandbox.available()}")


def digest_tree(root, skip=()):
    """{relative path: sha256} of every file under `root` (folders in `skip` left out)."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or "__pycache__" in relative.parts:
            continue
        found[str(relative)] = hashlib.sha256(path.read_bytes() if not path.is_symlink() else
                                              str(os.readlink(path)).encode()).hexdigest()
    return found


def control_files(workspace, student):
    """The bytes of a student's autograded notebook and feedback page."""
    files = {}
    for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
        path = course.notebook_path(workspace / folder / student, STAGE).with_suffix(suffix)
        files[folder] = path.read_bytes() if path.is_file() else None
    return files


def with_cell_after(nb, grade_id, source):
    """`nb` with a new code cell holding `source` right after the cell `grade_id`."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb


def hostile_submission(case, workspace, release, port):
    """Write `case`'s submission into the course folder."""
    folder = workspace / "submitted" / case.id / STAGE
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-11-27 09:00:00.000000 UTC\n")
    target = folder / f"{STAGE}.ipynb"
    if case.notebook == "corrupt":
        target.write_text('{"cells": [ this is not json')
        return
    if case.notebook == "empty":
        nb = nbformat.v4.new_notebook()
        nbformat.write(nb, str(target))
        return
    nb = catalogue.build_submission(STAGE, release_dir=release)
    if case.base == "wrong":
        with_cell_after(nb, "propagate", WRONG)
    if case.code:
        code = case.code.replace("{repo}", str(course.REPO)).replace("{course}", str(workspace))
        for _ in range(case.cells):
            with_cell_after(nb, "propagate", code.replace("{port}", str(port)))
        if case.base == "wrong":  # the attack runs after the forged propagate is defined
            cells = nb.cells
            i = next(i for i, c in enumerate(cells) if c.source == code.replace("{port}", str(port)))
            cells[i], cells[i + 1] = cells[i + 1], cells[i]
    if case.notebook == "duplicate":
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "propagate_cost_tests")
        nb.cells.append(nbformat.from_dict(dict(test)))
    if case.notebook == "renamed":
        target = folder / f"{STAGE} (1).ipynb"
    if case.notebook == "symlink":
        (folder / "given.py").symlink_to(course.REPO / "autograder" / "reference.py")
    nbformat.write(nb, str(target))


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever connects to it."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.port = self.socket.getsockname()[1]
        self.received, self.stop = [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.received.append(connection.recv(1000))
            connection.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.socket.close()


def sandbox_processes():
    """Processes of the sandboxes' user ids, or whose command line names a sandbox's scratch folder."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = open(f"/proc/{entry}/status").read()
            command = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        if uid in sandbox.UID_POOL or "firstneuron-kernel-" in command:
            found.append(f"{entry}: {command[:100]}")
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("FIRSTNEURON_SEED", "2026")
    workspace = course.make_workspace(tmp_path_factory.mktemp("hostile") / "course")
    release = course.generate_release(workspace, only=[STAGE])
    for student, variants in CONTROLS.items():
        catalogue.submit(workspace, student, STAGE, catalogue.build_submission(
            STAGE, variants or (), blank=variants is None, release_dir=release))
    overrides = {"Execute": {"timeout": CELL_TIMEOUT}}
    alone = grading.grade_class(workspace, STAGE, force=True, overrides=overrides, progress=False, echo=print)
    baseline = {o.student: (o.score, o.messages, control_files(workspace, o.student)) for o in alone}

    listener = Listener()
    for case in CASES:
        hostile_submission(case, workspace, release, listener.port)
    before = digest_tree(workspace, skip=OUTPUTS)
    repo_before = {folder: digest_tree(course.REPO / folder) for folder in ("autograder", "solutions", "firstneuron")}
    start = time.monotonic()
    lines = []
    outcomes = grading.grade_class(workspace, STAGE, force=True, overrides=overrides, progress=False,
                                   echo=lines.append)
    seconds = time.monotonic() - start
    time.sleep(1)
    left = sandbox_processes()
    listener.close()
    return {"workspace": workspace, "baseline": baseline, "outcomes": {o.student: o for o in outcomes},
            "before": before, "after": digest_tree(workspace, skip=OUTPUTS), "repo_before": repo_before,
            "left": left, "received": listener.received, "seconds": seconds, "summary": lines}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_catalogue_covers_forty_cases():
    assert len(CASES) >= 40, f"expected at least 40 hostile or broken submissions, found {len(CASES)}"
    assert len({c.id for c in CASES}) == len(CASES), "expected every case id once"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_unearned_credit(graded, case):
    outcome = graded["outcomes"][case.id]
    honest = HONEST[case.base]
    if case.notebook == "corrupt":
        assert not outcome.graded and f"{case.id}/{STAGE}/{STAGE}.ipynb" in outcome.reason, \
            f"expected the corrupt notebook reported with its file, found {outcome}"
        return
    if case.refused:
        assert not outcome.graded and case.refused in outcome.reason and case.id in outcome.reason, \
            f"expected {case.id} ({case.what}) not graded, naming its file and {case.refused}, found {outcome}"
        return
    assert outcome.graded, f"expected {case.id} ({case.what}) graded, found: {outcome.reason}"
    if case.exact:
        assert outcome.score == honest, \
            f"expected {case.id} ({case.what}) to keep exactly {honest}/6, found {outcome.score} {outcome.messages}"
    else:
        assert outcome.score <= honest, \
            f"expected {case.id} ({case.what}) to earn at most {honest}/6, found {outcome.score}/{outcome.max_score}"


def test_the_renamed_notebook_is_flagged_for_review(graded):
    outcome = graded["outcomes"]["renamed_notebook"]
    assert "(1).ipynb" in outcome.manual_review, f"expected a manual-review note naming the file, found {outcome}"


def test_honest_students_are_graded_as_if_alone(graded):
    for student, (score, messages, files) in graded["baseline"].items():
        outcome = graded["outcomes"][student]
        now = control_files(graded["workspace"], student)
        assert (outcome.score, outcome.messages) == (score, messages), \
            f"expected {student} to score {score} with {messages} as when graded alone, found {outcome.score} {outcome.messages}"
        for kind in files:
            assert now[kind] == files[kind], f"expected {student}'s {kind} file byte-identical to the run alone"


def test_the_course_folder_and_the_repository_are_unchanged(graded):
    before, after = graded["before"], graded["after"]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"expected the course folder unchanged (submissions included), found {changed}"
    for folder, digests in graded["repo_before"].items():
        now = digest_tree(course.REPO / folder)
        assert now == digests, f"expected {folder}/ unchanged, found changes in " \
                               f"{sorted(k for k in now.keys() | digests.keys() if now.get(k) != digests.get(k))}"


def test_no_process_is_left(graded):
    assert graded["left"] == [], f"expected no sandbox process after grading, found {graded['left']}"


def test_nothing_reached_the_network(graded):
    assert graded["received"] == [], f"expected no connection to 127.0.0.1, found {graded['received']}"


def test_feedback_carries_no_secret_and_no_script(graded):
    for page in sorted((graded["workspace"] / "feedback").rglob("*.html")):
        text = page.read_text(errors="replace")
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"expected no instructor text in {page}, found {leaked}"
        script = re.search(r"<script[^>]*>[^<]*pwned", text)
        assert script is None, f"expected no learner script in {page}, found {script.group() if script else ''}"
    own = graded["workspace"] / "feedback" / "hostile_own_feedback"
    assert not own.exists(), f"expected no feedback forged by a learner, found {own}"


def sizes(workspace, student):
    """Bytes of a student's autograded notebook and feedback page (0 when missing)."""
    found = {}
    for folder, suffix in (("autograded", ".ipynb"), ("feedback", ".html")):
        path = course.notebook_path(workspace / folder / student, STAGE).with_suffix(suffix)
        found[folder] = path.stat().st_size if path.is_file() else 0
    return found


#: Bytes of an autograded notebook or feedback page, at most (TrustedExecute.max_notebook_output is 5,000,000
#: characters; the release's own cells, error outputs and the page's styles come on top).
MAX_PAGE_BYTES = 8 * 1024**2


def test_outputs_are_bounded(graded):
    print("\n| case | deserved | obtained | autograded notebook | feedback page |")
    too_big = {}
    for student in [c.id for c in CASES] + list(CONTROLS):
        found = sizes(graded["workspace"], student)
        outcome = graded["outcomes"][student]
        case = next((c for c in CASES if c.id == student), None)
        deserved = HONEST[case.base] if case else graded["baseline"][student][0]
        obtained = f"{outcome.score:g}" if outcome.graded else "not graded"
        print(f"| {student} | {deserved:g} | {obtained} | {found['autograded']:,} B | {found['feedback']:,} B |")
        if max(found.values()) > MAX_PAGE_BYTES:
            too_big[student] = found
    assert not too_big, f"expected every autograded notebook and feedback page under {MAX_PAGE_BYTES} bytes, found {too_big}"


def test_time_is_bounded(graded):
    slow = {s: o.seconds for s, o in graded["outcomes"].items() if o.seconds > grading.SUBMISSION_TIMEOUT}
    assert not slow, f"expected every submission within {grading.SUBMISSION_TIMEOUT} s, found {slow}"
    print(f"\nhostile class: {len(graded['outcomes'])} submissions in {graded['seconds']:.0f} s")
    print("\n".join(graded["summary"]))
    print("| case | honest | obtained |")
    for case in CASES:
        o = graded["outcomes"][case.id]
        print(f"| {case.id} | {HONEST[case.base]:g} | {o.score:g} |" if o.graded else f"| {case.id} | - | not graded |")
