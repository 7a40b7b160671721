"""Grades a learner cannot forge: the hostile catalogue (tests/hostile.toml) graded as one class.

The honest controls are graded alone first; then the whole class, controls
and every hostile case, is graded together with the real driver (sandboxed
kernels, hidden checks in the grader).  For each case: no unearned credit;
the controls' scores, autograded notebooks and feedback byte-identical to
their run alone; the course folder and the repository unchanged; no process
and no kernel folder left (looked for under the run's own private scratch
root, so other graders on the machine are not counted); nothing reached a
listener on 127.0.0.1; no feedback page carries the reference, an old
gradebook planted elsewhere on the host, the grader's private file, or a
learner's script; the sandbox's caps held (the cases say what they got).  The page cases
(``xss_*``) are then opened in Debian's chromium: their feedback pages and nbgrader's formgrader
run none of their script.

The test plants a copy of the course (``autograder/reference.py``) and an old
gradebook under ``/opt/fn-test-*/`` (where a second checkout or last
semester's folder could be), and a mode-600 file in a mode-700 folder of the
grader, and removes them afterwards.  The catalogue is graded as root and
again as an ordinary grading user (see `graded_nonroot`).
"""
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

import catalogue
import cells
import staging
import course
import grading
import sandbox
from conftest import free_port, short_private_root, stop_group
from hostile import CASES, PNG, PNG_WIDTH, WRONG, formgrader_page, scripted

STAGE = "02-propagate"
#: Honest learners: student id -> catalogue variants (None: the untouched release).
CONTROLS = {"control_correct": (), "control_mistaken": ("dw_forgot_1_over_m",), "control_blank": None}
#: What an honest learner with the same functions scores.
HONEST = {"wrong": 1.0, "correct": 6.0, "none": 0.0}
CELL_TIMEOUT = 5
#: Text only the instructor's files hold: if a feedback page shows it, something leaked.
SECRETS = ("def _softplus", "call_without_mutation", "### BEGIN HIDDEN TESTS", "GRAD_WRONG",
           "FN-OLD-GRADEBOOK-4711", "FN-GRADER-PRIVATE-0815")
#: What the sandbox's caps let a case get, read from its own output: case -> (pattern, at most).
CAPS = {"fork_cap": (r"forked (\d+)", sandbox.Sandbox().process_limit),
        "shm_fill": (r"shm bytes (\d+)", sandbox.Sandbox().shm_limit),
        "tmp_fill": (r"tmp bytes (\d+)", sandbox.Sandbox().scratch_limit),
        "planted_reference_copy": (r"reference copies: \S+ (\d+)", 0),
        "planted_gradebook_printed": (r"old course files: (\d+)", 0),
        "classmates_kernels": (r"classmates kernels: (\d+)", 0)}
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


def hostile_submission(case, workspace, release, port, values=None):
    """Write `case`'s submission into the course folder (`values` fills more ``{name}`` fields of its code)."""
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
    # The lesson's figures are left out, as a learner may delete them: no case attacks through them,
    # and they cost their drawing, their PNGs and their places in the feedback page (a quarter of a submission's CPU).
    nb.cells = [cell for cell in nb.cells if not cells.is_figure_cell(cell)]
    if case.base == "wrong":
        with_cell_after(nb, "propagate", WRONG)
    if case.code:
        code = case.code.replace("{repo}", str(course.REPO)).replace("{course}", str(workspace))
        for name, value in (values or {}).items():
            code = code.replace("{" + name + "}", str(value))
        for _ in range(case.cells):
            with_cell_after(nb, "propagate", code.replace("{port}", str(port)))
        if case.base == "wrong":  # the attack runs after the forged propagate is defined
            order = nb.cells
            i = next(i for i, c in enumerate(order) if c.source == code.replace("{port}", str(port)))
            order[i], order[i + 1] = order[i + 1], order[i]
    if case.markdown:  # a learner's markdown cell (notes, a picture) after the exercise
        index = next(i for i, c in enumerate(nb.cells) if course.cell_grade_id(c) == "propagate")
        cell = nbformat.v4.new_markdown_cell(case.markdown)
        if case.attachments:
            cell.attachments = case.attachments
        nb.cells.insert(index + 1, cell)
    if case.notebook == "duplicate":
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "propagate_cost_tests")
        nb.cells.append(nbformat.from_dict(dict(test)))
    cost_tests = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "propagate_cost_tests"]
    if case.notebook == "deleted_test_cell":
        del nb.cells[cost_tests[0]]
    if case.notebook == "pasted_test_cell":  # as Jupyter pastes it: a copy with an id of its own
        pasted = nbformat.from_dict(dict(nb.cells[cost_tests[0]]))
        pasted["id"] = "pasted-copy"
        nb.cells.insert(2, pasted)
    for name, text in case.files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
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


def sandbox_processes(root, width=100):
    """Processes whose command line or working folder names `root` (a run's own private scratch root).

    Each as "PID: COMMAND", the command cut at `width` characters (None: whole).
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if str(root) in command or cwd.startswith(str(root)):
            found.append(f"{entry}: {command[:width]}")
    return found


def kernel_folders(root):
    """The kernel folders left under the private scratch root `root`."""
    return sorted(p.name for p in Path(root).glob(f"{sandbox.FOLDER_PREFIX}*")) if Path(root).is_dir() else []


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A second checkout with the reference and an old gradebook under /opt, and a private file of the grader."""
    base = Path(tempfile.mkdtemp(prefix="fn-test-", dir="/opt")) if os.access("/opt", os.W_OK) else None
    if base is not None:
        os.chmod(base, 0o755)
        shutil.copytree(course.REPO / "autograder", base / "course-2025" / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (base / "course-2025" / "gradebook.db").write_text("students: ada 6/6 FN-OLD-GRADEBOOK-4711\n")
        (base / "course-2025" / "grades.csv").write_text("ada,6,FN-OLD-GRADEBOOK-4711\n")
        for path in [base, *base.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    private = tmp_path_factory.mktemp("grader-private")
    os.chmod(private, 0o700)
    secret = private / "token.txt"
    secret.write_text("FN-GRADER-PRIVATE-0815\n")
    os.chmod(secret, 0o600)
    yield {"opt": base, "secret": secret, "secret_folder": private}
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, monkeypatch_module, planted):
    monkeypatch_module.setenv("FIRSTNEURON_SEED", "2026")
    root = short_private_root()  # this run's own: other graders' kernels are not
    workspace = course.make_workspace(tmp_path_factory.mktemp("hostile") / "course")
    release = course.generate_release(workspace, only=[STAGE])
    for student, variants in CONTROLS.items():
        staging.submit(workspace, student, STAGE, catalogue.build_submission(
            STAGE, variants or (), blank=variants is None, release_dir=release))
    overrides = {"Execute": {"timeout": CELL_TIMEOUT}, "Sandbox": {"scratch_root": str(root)}}
    alone = grading.grade_class(workspace, STAGE, force=True, overrides=overrides, progress=False, echo=print)
    baseline = {o.student: (o.score, o.messages, control_files(workspace, o.student)) for o in alone}

    listener = Listener()
    values = {"secret": planted["secret"], "secret_folder": planted["secret_folder"], "tmpdir": tempfile.gettempdir()}
    for case in CASES:
        hostile_submission(case, workspace, release, listener.port, values)
    before = digest_tree(workspace, skip=OUTPUTS)
    repo_before = {folder: digest_tree(course.REPO / folder) for folder in ("autograder", "solutions", "firstneuron")}
    start = time.monotonic()
    lines = []
    outcomes = grading.grade_class(workspace, STAGE, force=True, overrides=overrides, progress=False,
                                   echo=lines.append)
    seconds = time.monotonic() - start
    time.sleep(1)
    left = sandbox_processes(root)
    listener.close()
    return {"workspace": workspace, "baseline": baseline, "outcomes": {o.student: o for o in outcomes},
            "before": before, "after": digest_tree(workspace, skip=OUTPUTS), "repo_before": repo_before,
            "left": left, "folders_left": kernel_folders(root), "received": listener.received, "seconds": seconds,
            "summary": lines, "root": root}


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
    honest = deserved(case)
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


def deserved(case):
    """The score an honest learner with the same functions gets for `case`."""
    return HONEST[case.base] if case.deserved is None else case.deserved


def test_a_pasted_copy_of_a_test_cell_is_flagged_for_review(graded):
    outcome = graded["outcomes"]["pasted_cost_tests"]
    assert "copy of a graded cell" in outcome.manual_review and "propagate_cost_tests" in outcome.manual_review, \
        f"expected a manual-review note naming the pasted propagate_cost_tests, found {outcome.manual_review!r}"


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
            assert now[kind] == files[kind], \
                f"expected {student}'s {kind} file byte-identical to the run alone, found {first_difference(files[kind], now[kind])}"


def first_difference(expected, found):
    """Where the bytes `found` first differ from `expected`, with 150 bytes of each around it."""
    if expected is None or found is None:
        return f"{'no file' if found is None else 'a file'} where the run alone had {'none' if expected is None else 'one'}"
    at = next((i for i, (a, b) in enumerate(zip(expected, found)) if a != b), min(len(expected), len(found)))
    return f"at byte {at}: alone {expected[max(0, at - 150):at + 150]!r}, in the class {found[max(0, at - 150):at + 150]!r}"


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


def test_no_kernel_folder_is_left(graded):
    assert graded["folders_left"] == [], \
        f"expected no kernel folder under {graded['root']} after grading, found {graded['folders_left']}"


def test_the_process_check_sees_a_live_kernel(private_root):
    """The checks above cannot pass vacuously: they see a live kernel and its folder, and then neither."""
    from jupyter_core.utils import run_sync
    from traitlets.config import Config

    root = private_root
    km = sandbox.SandboxedKernelManager(kernel_name="python3", config=Config({"Sandbox": {"scratch_root": str(root)}}))
    run_sync(km.start_kernel)()
    try:
        client = km.client()
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)
        client.stop_channels()
        live, folders = sandbox_processes(root, width=None), kernel_folders(root)
        kernel = [p for p in live if "ipykernel_launcher" in p and "bwrap" not in p]
        assert kernel, f"expected the live kernel among {[p[:100] for p in live]}"
        assert folders == [km.scratch.name], f"expected the live kernel's folder {km.scratch.name}, found {folders}"
    finally:
        run_sync(km.shutdown_kernel)(now=True)
    time.sleep(0.5)
    assert sandbox_processes(root) == [], f"expected no process after shutdown, found {sandbox_processes(root)}"
    assert kernel_folders(root) == [], f"expected no kernel folder after shutdown, found {kernel_folders(root)}"


#: Starts a sandboxed kernel under the private root argv[1], says its folder, and waits to be killed.
KILLED_GRADER = """
import sys, time
from jupyter_core.utils import run_sync
from traitlets.config import Config
import sandbox
km = sandbox.SandboxedKernelManager(kernel_name="python3", config=Config({"Sandbox": {"scratch_root": sys.argv[1]}}))
run_sync(km.start_kernel)()
print(km.scratch.name, flush=True)
time.sleep(600)
"""


def test_a_killed_grader_leaves_no_kernel_and_no_folder(private_root):
    """kill -9 of the grader: its guard ends the sandbox and removes the kernel's folder; what a grader
    killed with its guard left (a folder named after a process that is gone) goes at the next start."""
    root = private_root
    grader = subprocess.Popen([sys.executable, "-c", KILLED_GRADER, str(root)], stdout=subprocess.PIPE, text=True,
                              env=course.grading_env())
    try:
        name = grader.stdout.readline().strip()
        assert name and (root / name).is_dir(), f"expected a kernel folder under {root}, found {kernel_folders(root)}"
        assert sandbox_processes(root), "expected the grader's sandbox to be running"
    finally:
        grader.kill()
        grader.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end and (sandbox_processes(root) or kernel_folders(root)):
        time.sleep(0.2)
    assert sandbox_processes(root) == [], f"expected no sandbox process after kill -9, found {sandbox_processes(root)}"
    assert kernel_folders(root) == [], f"expected the guard to remove the kernel folder, found {kernel_folders(root)}"
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = root / f"{sandbox.FOLDER_PREFIX}{gone.pid}-0123456789ab"
    (stale / "work").mkdir(parents=True)
    from traitlets.config import Config
    km = sandbox.IpcKernelManager(config=Config({"Sandbox": {"scratch_root": str(root)}}))
    sandbox.remove_tree(km.scratch)
    assert not stale.exists(), f"expected {stale} (its grader is gone) removed at the next start"


#: A grader whose kernel command leaves a process behind in the guard's group, as bubblewrap's init was left
#: when bubblewrap was killed while it set the sandbox up: it starts guard.py (argv[1]) as the kernel manager
#: does, in a session of its own, says the leftover's process id and waits to be killed.
LEAVING_GRADER = """
import subprocess, sys, time
guard = subprocess.Popen([sys.executable, "-S", sys.argv[1], "--", "sh", "-c", "sleep 600 & echo $!; wait"],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
print(guard.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


def running(pid):
    """True while process `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        return "\nState:\tZ" not in open(f"/proc/{pid}/status").read()
    except OSError:
        return False


def test_a_killed_grader_leaves_nothing_of_its_guards_process_group():
    grader = subprocess.Popen([sys.executable, "-c", LEAVING_GRADER, str(sandbox.GUARD)], stdout=subprocess.PIPE,
                              text=True)
    try:
        left = int(grader.stdout.readline())
        assert running(left), f"expected the kernel command's leftover (process {left}) running"
    finally:
        grader.kill()
        grader.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end and running(left):
        time.sleep(0.1)
    try:
        assert not running(left), f"expected the guard to end process {left} of its group after kill -9 of the grader"
    finally:
        if running(left):
            os.kill(left, signal.SIGKILL)


def case_output(workspace, student):
    """The text of every output of `student`'s autograded notebook."""
    path = course.notebook_path(workspace / "autograded" / student, STAGE)
    nb = nbformat.read(str(path), as_version=4)
    return "\n".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def check_caps(workspace, students):
    """Each case of `CAPS` in `students` said what it got, and got at most its cap."""
    for case_id, (pattern, cap) in CAPS.items():
        if case_id not in students:
            continue
        found = [int(n) for n in re.findall(pattern, case_output(workspace, case_id))]
        assert found, f"expected {case_id} to say what it got ({pattern}), found no such line"
        assert max(found) <= cap, f"expected {case_id} to get at most {cap}, found {found}"


def test_the_sandbox_caps_hold(graded):
    check_caps(graded["workspace"], graded["outcomes"])


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


@pytest.mark.parametrize("case", [c for c in CASES if c.id.startswith("xss_") or c.id == "html_script"],
                         ids=lambda c: c.id)
def test_pages_are_inert(graded, case):
    """The learner's feedback page and the formgrader's view of the autograded notebook run none of its script."""
    autograded = course.notebook_path(graded["workspace"] / "autograded" / case.id, STAGE)
    feedback = course.notebook_path(graded["workspace"] / "feedback" / case.id, STAGE).with_suffix(".html")
    for kind, page in (("feedback page", feedback.read_text()), ("formgrader view", formgrader_page(autograded))):
        found = scripted(page)
        assert found == [], f"expected {case.id}'s {kind} inert ({case.what}), found the payload in {found}"


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
        honest = deserved(case) if case else graded["baseline"][student][0]
        obtained = f"{outcome.score:g}" if outcome.graded else "not graded"
        print(f"| {student} | {honest:g} | {obtained} | {found['autograded']:,} B | {found['feedback']:,} B |")
        if max(found.values()) > MAX_PAGE_BYTES:
            too_big[student] = found
    assert not too_big, f"expected every autograded notebook and feedback page under {MAX_PAGE_BYTES} bytes, found {too_big}"


def test_time_is_bounded(graded):
    import trusted

    limit = trusted.TrustedExecute().submission_timeout  # the course's setting (the default)
    slow = {s: o.seconds for s, o in graded["outcomes"].items() if o.seconds > limit}
    assert not slow, f"expected every submission within {limit} s, found {slow}"
    print(f"\nhostile class: {len(graded['outcomes'])} submissions in {graded['seconds']:.0f} s")
    print("\n".join(graded["summary"]))
    print("| case | honest | obtained |")
    for case in CASES:
        o = graded["outcomes"][case.id]
        print(f"| {case.id} | {deserved(case):g} | {o.score:g} |" if o.graded else f"| {case.id} | - | not graded |")


# --- The same catalogue graded by an ordinary user (the usual case for an instructor) -----------------------

#: The cases graded as an ordinary user, with the controls: those aimed at what differs without root (the
#: kernel's user, the process count, memory without a cgroup, files of the grader, the private root under a
#: TMPDIR outside /tmp, classmates' kernel folders, leftovers), and the classic thefts as a check that the
#: allow-list holds there too.  The rest of the catalogue tests the trust boundary, which is the same in both
#: modes; leaving it out keeps this run near a minute.
NONROOT_CASES = ["planted_reference_copy", "planted_gradebook_printed", "grader_private_file", "fork_cap",
                 "shm_fill", "tmp_fill", "scratch_fill", "classmates_kernels", "exit_leaving_scratch",
                 "reference_by_path", "print_reference", "network", "memory_hog"]
NONROOT_USER = "fn-hostile-grader"
#: Grades the class as the grading user and writes {student: outcome} as JSON (run by `graded_nonroot`).
NONROOT_SCRIPT = """
import json, sys
import grading
outcomes = grading.grade_class(sys.argv[1], sys.argv[2], sys.argv[4:], force=True,
                               overrides={"Execute": {"timeout": %d}}, progress=False, echo=print)
json.dump({o.student: {"graded": o.graded, "score": o.score, "messages": o.messages, "reason": o.reason}
           for o in outcomes}, open(sys.argv[3], "w"))
""" % CELL_TIMEOUT


def _run_as(user, command, **kw):
    return subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *command], **kw)


@pytest.fixture(scope="module")
def graded_nonroot(planted, graded):
    """The controls with `NONROOT_CASES`, graded by an ordinary user made for the test, with TMPDIR outside /tmp.

    The controls' scores and messages graded alone are those of the root run's controls alone
    (`graded`): an ordinary grading user must give an honest learner the same grade as root does.

    Needs root (to make the user); the Python environment and the checkout must be reachable by that user
    (skipped, with the reason, where they are not): where the environment lives under a mode-700 /root
    (pyenv), /root is made traversable (o+x, not listable) for the run and restored.
    """
    if os.geteuid() != 0:
        pytest.skip("the tests run as an ordinary user: the catalogue above already ran without root")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("useradd or setpriv is missing: cannot make an ordinary grading user")
    if subprocess.run(["id", NONROOT_USER], capture_output=True).returncode != 0:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                               NONROOT_USER], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make the grading user {NONROOT_USER}: {made.stderr.strip()}")
    base = Path(tempfile.mkdtemp(prefix="fn-hostile-nonroot-", dir="/var/tmp"))
    root_mode = os.stat("/root").st_mode & 0o777
    try:
        os.chmod(base, 0o755)
        tmpdir = base / "tmp"  # TMPDIR outside /tmp: the old sandbox did not hide it
        tmpdir.mkdir()
        workspace = course.make_workspace(base / "course")
        release = course.generate_release(workspace, only=[STAGE])
        for student, variants in CONTROLS.items():
            staging.submit(workspace, student, STAGE, catalogue.build_submission(
                STAGE, variants or (), blank=variants is None, release_dir=release))
        private = base / "grader-private"  # the grading user's own private file
        private.mkdir(mode=0o700)
        (private / "token.txt").write_text("FN-GRADER-PRIVATE-0815\n")
        os.chmod(private / "token.txt", 0o600)
        listener = Listener()
        values = {"secret": private / "token.txt", "secret_folder": private, "tmpdir": tmpdir}
        for case in CASES:
            if case.id in NONROOT_CASES:
                hostile_submission(case, workspace, release, listener.port, values)
        subprocess.run(["chown", "-R", f"{NONROOT_USER}:", str(base)], check=True)
        if any(Path(p).resolve().is_relative_to("/root") for p in (sys.base_prefix, os.path.realpath(sys.executable))):
            os.chmod("/root", root_mode | 0o001)  # traversable, not listable: the environment lives below
        probe = _run_as(NONROOT_USER, [sys.executable, "-c", "import sys, grading; print(sys.base_prefix)"],
                        capture_output=True, text=True, env={"PATH": os.environ["PATH"], **course.grading_variables()})
        if probe.stdout.strip() != sys.base_prefix:
            pytest.skip(f"the grading user cannot run this Python environment or read this checkout's autograder/ "
                        f"(found {probe.stdout.strip()!r}, expected {sys.base_prefix!r}): {probe.stderr.strip()[-300:]}")
        env = {"PATH": os.environ["PATH"], "HOME": str(base), "TMPDIR": str(tmpdir), "LANG": "C.UTF-8",
               **course.grading_variables(), "FIRSTNEURON_SEED": "2026"}
        result = base / "class.json"
        start = time.monotonic()
        run = _run_as(NONROOT_USER, [sys.executable, "-c", NONROOT_SCRIPT, str(workspace), STAGE, str(result),
                                     *CONTROLS, *NONROOT_CASES], env=env, cwd=str(base), capture_output=True,
                      text=True, timeout=900)
        assert run.returncode == 0 and result.is_file(), \
            f"expected the grading user to grade the class, found exit {run.returncode}: {run.stderr[-2000:]}"
        outcomes, seconds, log = json.loads(result.read_text()), time.monotonic() - start, run.stdout + run.stderr
        time.sleep(1)
        listener.close()
        uid = int(subprocess.run(["id", "-u", NONROOT_USER], capture_output=True, text=True).stdout)
        root = tmpdir / f"firstneuron-sandbox-{uid}"
        alone = {student: {"score": score, "messages": messages}
                 for student, (score, messages, _) in graded["baseline"].items()}
        yield {"workspace": workspace, "outcomes": outcomes, "alone": alone,
               "seconds": seconds, "left": sandbox_processes(base), "folders_left": kernel_folders(root),
               "root": root, "received": listener.received, "log": log}
    finally:
        os.chmod("/root", root_mode)
        shutil.rmtree(base, ignore_errors=True)


def test_as_an_ordinary_user_no_unearned_credit_and_controls_as_alone(graded_nonroot):
    outcomes = graded_nonroot["outcomes"]
    rows = []
    for case in CASES:
        if case.id not in NONROOT_CASES:
            continue
        o = outcomes[case.id]
        rows.append(f"| {case.id} | {deserved(case):g} | {o['score']:g} |" if o["graded"] else
                    f"| {case.id} | {deserved(case):g} | not graded: {o['reason']} |")
    print(f"\nas {NONROOT_USER}: {len(outcomes)} submissions in {graded_nonroot['seconds']:.0f} s")
    print("| case | honest | obtained |\n" + "\n".join(rows))
    for case in CASES:
        if case.id not in NONROOT_CASES:
            continue
        o = outcomes[case.id]
        assert o["graded"], f"expected {case.id} graded as an ordinary user, found: {o['reason']}"
        honest = deserved(case)
        if case.exact:
            assert o["score"] == honest, f"expected {case.id} to keep exactly {honest}/6, found {o['score']}"
        else:
            assert o["score"] <= honest, f"expected {case.id} to earn at most {honest}/6, found {o['score']}"
    for student, alone in graded_nonroot["alone"].items():
        o = outcomes[student]
        assert (o["score"], o["messages"]) == (alone["score"], alone["messages"]), \
            f"expected {student} to score as when graded alone by root ({alone}), found {o}"


def test_as_an_ordinary_user_nothing_is_left_or_leaked(graded_nonroot):
    found = graded_nonroot
    notes = found["log"].count("no cgroup can be made here")
    assert notes <= 1, f"expected at most one line about memory without a cgroup, found {notes}"
    assert found["left"] == [], f"expected no sandbox process after grading, found {found['left']}"
    assert found["folders_left"] == [], f"expected no kernel folder under {found['root']}, found {found['folders_left']}"
    assert found["received"] == [], f"expected no connection to 127.0.0.1, found {found['received']}"
    check_caps(found["workspace"], [c for c in NONROOT_CASES if c in found["outcomes"]])
    for page in sorted((found["workspace"] / "feedback").rglob("*.html")):
        text = page.read_text(errors="replace")
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"expected no instructor or grader text in {page}, found {leaked}"


# --- The page cases in chromium: the feedback page and nbgrader's formgrader ---------------------------------
# Each page case of the catalogue (ids ``xss_*``), graded above with the class, must not run its payload
# (it sets ``window.__pwned`` and the page's title) in its feedback page (``file://``) nor in nbgrader's
# formgrader, a real ``jupyter server`` logged in as the instructor, at ``/formgrader/submissions/ID/``.
# Controls prove the payloads and the detector work: the same notebook drawn by nbconvert without the
# sanitizer runs the payload, and so does the formgrader once the autograded notebook on disk is swapped
# for an unsanitized one.  (tests/test_xss.py checks the sanitizer on its own.)

PAGE_CASES = [c for c in CASES if c.id.startswith("xss_")]
#: The cases whose payload runs in nbconvert's page when nothing is sanitized (an SVG in an <img> never runs).
RUNS_UNSANITIZED = {"xss_markdown_img", "xss_markdown_script", "xss_png_width"}
FORMGRADER_TOKEN = "firstneuron-formgrader-test"
RAN = "() => Boolean(window.__pwned) || document.title === 'pwned'"


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
def formgrader(graded, tmp_path_factory):
    """A real Jupyter server with nbgrader's formgrader on the graded class's folder, on a free port of 127.0.0.1."""
    workspace = graded["workspace"]
    port = free_port()
    log_path = tmp_path_factory.mktemp("formgrader") / "server.log"
    log = log_path.open("w")
    command = [str(course.REPO / ".venv" / "bin" / "jupyter"), "server", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={FORMGRADER_TOKEN}", f"--ServerApp.root_dir={workspace}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, cwd=workspace, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # up once the formgrader answers (it loads after the server itself)
            try:
                urllib.request.urlopen(f"{url}/formgrader/?token={FORMGRADER_TOKEN}", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"expected a Jupyter server with the formgrader on port {port}, found: "
                                f"{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        stop_group(server)  # the server this fixture started, nothing else
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
    workspace = graded["workspace"]
    page = course.notebook_path(workspace / "feedback" / case.id, STAGE).with_suffix(".html")
    # With its policy bypassed: inert by the sanitizer alone (a policy only ever forbids, so with it too).
    ran, html = script_ran(browser, page.as_uri(), bypass_csp=True)
    assert not ran, f"expected {case.id}'s feedback page inert by the sanitizer alone (policy bypassed) ({case.what})"
    assert scripted(html) == [], f"expected no payload where a browser runs script, found {scripted(html)}"
    assert "Content-Security-Policy" in html, "expected the page's Content-Security-Policy"

    # Control: the notebook drawn by nbconvert without the sanitizer runs the payload (the detector works)...
    from nbconvert.exporters import HTMLExporter

    raw = unsanitized(nbformat.read(str(course.notebook_path(workspace / "autograded" / case.id, STAGE)), 4), case)
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
    workspace = graded["workspace"]
    path = course.notebook_path(workspace / "autograded" / case.id, STAGE)
    url = f"{formgrader}/formgrader/submissions/{submission_id(workspace, case.id)}/?token={FORMGRADER_TOKEN}"
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
