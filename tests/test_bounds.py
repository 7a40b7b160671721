"""Bounded by construction: what a kernel sends is capped before it is read, and a dying worker costs one submission.

- A cell that sends a 300 MB message (issue 16, item 6) costs that cell: the
  grader's client never reads it (libzmq's MAXMSGSIZE), the kernel is
  restarted, and the grader's peak memory stays far below the message.
- A grader's worker killed while it grades a submission (as the OOM killer
  would) costs that submission only: the class finishes, the others are
  graded, the culprit is reported, and after a second death quarantined.
- The caps on error texts, notebook size and cell count say which cap was crossed.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import nbformat
import pytest

import catalogue
import grading
import learner
import staging
import sandbox
import trusted
from cells import ErrorKind
from course import generate_release, grading_env, make_workspace

STAGE = "01-sigmoid"
SANDBOX = sandbox.available() is None
#: The class of the dead-worker test: student -> expected score (the sleeper is killed).
CLASS = {"ada": 5.0, "ben": 0.0, "fay": 5.0}
SLEEPER = "zed"

#: Runs a notebook of three cells (argv[1]: JSON of the middle cell's source, settings by class and code for the
#: first cell) in a sandboxed kernel (argv[2]: "1") or not; prints its outputs, seconds and this process' peak
#: memory.  A middle cell with hidden tests is a test cell.
RUN = """
import json, resource, sys, time
import nbformat
import trusted
from traitlets.config import Config

middle, settings, setup = json.loads(sys.argv[1])
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in ["x = 41\\n" + setup, middle,
                                                                            "print('after', x + 1)"]])
if "### BEGIN HIDDEN TESTS" in middle:
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                        "grade_id": "middle_tests", "schema_version": 3}
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
start = time.monotonic()
config = Config({"Execute": {"timeout": 120}, **settings})
trusted.TrustedExecute(config=config, sandbox=sys.argv[2] == "1").preprocess(nb, {"metadata": {"path": "."}})
print(json.dumps({"outputs": [c.outputs for c in nb.cells], "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
SEND = ("k = get_ipython().kernel\n"
        "k.session.send(k.iopub_socket, 'display_data', {'data': {'text/plain': 'x' * 300_000_000}, 'metadata': {}}, "
        "parent=k.get_parent('shell'))\nprint('sent')")
FLOOD = ("for i in range(60):\n    with open(f'fill{i}.bin', 'wb') as f:\n        f.write(b'0' * 60 * 1024**2)\n"
         "    time.sleep(0.2)")


def run_notebook(tmp_path, middle, settings=None, sandboxed=SANDBOX, env=None, setup=""):
    """Outputs of the middle cell, seconds and the grader's peak memory (MB) of one run of `RUN` (`env`: more
    of the grader's environment variables; `setup`: code for the first cell)."""
    run = subprocess.run([sys.executable, "-c", RUN, json.dumps([middle, settings or {}, setup]),
                          "1" if sandboxed else "0"],
                         cwd=tmp_path, env={**grading_env(), **(env or {})}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"expected the notebook to run to its end, found {run.returncode}:\n{run.stderr[-2000:]}"
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["outputs"][2] == [{"output_type": "stream", "name": "stdout", "text": "after 42\n"}], \
        f"expected the last cell to run in a kernel with the earlier cells, found {found['outputs'][2]}"
    return found["outputs"][1], found["seconds"], found["peak_mb"]


def test_a_300_mb_message_costs_its_cell_and_is_never_read(tmp_path):
    outputs, seconds, peak = run_notebook(tmp_path, SEND)
    print(f"\n300 MB message: {seconds:.1f} s, grader's peak memory {peak:.0f} MB")
    assert [o.get("ename") for o in outputs] == [ErrorKind.TOO_LARGE], \
        f"expected the sending cell to fail with {ErrorKind.TOO_LARGE}, found {outputs}"
    assert "TrustedExecute.max_message_bytes" in outputs[0]["evalue"], f"expected the cap named, found {outputs[0]}"
    assert peak < 600, f"expected the grader's peak memory far below the message, found {peak} MB"
    assert seconds < 120, f"expected the notebook done within 120 s, found {seconds:.0f} s"


@pytest.mark.skipif(not SANDBOX, reason="the scratch folder is the sandbox's")
def test_a_kernel_that_fills_its_scratch_folder_costs_its_cell(tmp_path):
    cap = 200 * 1024**2
    outputs, seconds, _ = run_notebook(tmp_path, "import time\n" + FLOOD, {"Sandbox": {"scratch_limit": cap}})
    print(f"\n60 files of 60 MB: {seconds:.1f} s")
    expected = f"the kernel's folder grew past {cap} bytes or 20,000 files (Sandbox.scratch_limit)"
    assert [o.get("ename") for o in outputs] == [ErrorKind.KERNEL_DIED] and expected in outputs[0]["evalue"], \
        f"expected the writing cell to fail with {ErrorKind.KERNEL_DIED} saying {expected!r}, found {outputs}"


@pytest.mark.skipif(not SANDBOX, reason="the scratch folder is the sandbox's")
def test_a_kernel_that_fills_its_folder_during_a_hidden_check_costs_that_test_cell(tmp_path):
    cap = 200 * 1024**2
    fill = "def fill():\n    import time\n" + "".join(f"    {line}\n" for line in FLOOD.splitlines()) + "    return 1"
    test_cell = "### BEGIN HIDDEN TESTS\nassert fill() == 1\n### END HIDDEN TESTS"
    outputs, _, _ = run_notebook(tmp_path, test_cell, {"Sandbox": {"scratch_limit": cap}}, setup=fill)
    expected = f"the kernel's folder grew past {cap} bytes or 20,000 files (Sandbox.scratch_limit)"
    assert [o.get("ename") for o in outputs] == [ErrorKind.KERNEL_DIED] and expected in outputs[0]["evalue"], \
        f"expected the test cell to fail with {ErrorKind.KERNEL_DIED} saying {expected!r}, found {outputs}"


@pytest.mark.skipif(not SANDBOX, reason="the font list is put in the sandbox's folder")
def test_a_kernel_is_given_a_font_list_where_the_grader_had_none_cached(tmp_path):
    # An ordinary grading account that never drew has no matplotlib font list cached; each of its
    # kernels then built one (fc-list run twice, 0.4 s of CPU) when the notebook first imported pyplot.
    from matplotlib import font_manager

    empty = tmp_path / "grader-mpl"
    empty.mkdir()
    listed = ("import glob, os\nprint([os.path.basename(p) for p in "
              "glob.glob(os.path.join(os.environ['MPLCONFIGDIR'], 'fontlist-*.json'))])")
    outputs, _, _ = run_notebook(tmp_path, listed, env={"MPLCONFIGDIR": str(empty)})
    expected = [f"fontlist-v{font_manager.FontManager.__version__}.json"]
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": f"{expected}\n"}], \
        f"expected the kernel's matplotlib folder to hold {expected} before it imported matplotlib, found {outputs}"


def test_printing_split_by_the_kernel_s_flushes_is_stored_as_one_output(tmp_path):
    # Under load, a cell's printing reaches the grader in several messages; alone, in one. The file must not
    # depend on which (an honest learner's notebook graded in a busy class is the same file as alone).
    middle = ("import sys, time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b', flush=True)\n"
              "print('oops', file=sys.stderr, flush=True)\ntime.sleep(0.3)\nprint('c')")
    outputs, _, _ = run_notebook(tmp_path, middle, sandboxed=False)
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
                       {"output_type": "stream", "name": "stderr", "text": "oops\n"},
                       {"output_type": "stream", "name": "stdout", "text": "c\n"}], \
        f"expected consecutive printing merged into one output per stream, in order, found {outputs}"


class LateChannel(learner.KernelChannel):
    """A bridge channel whose IOPub subscription reaches the kernel only at its third kernel_info request."""

    def _subscribed(self):
        import zmq

        socket, ask, self.asked = self.kc.iopub_channel.socket, self.kc.kernel_info, 0
        socket.setsockopt(zmq.UNSUBSCRIBE, b"")

        def kernel_info():
            self.asked += 1
            if self.asked == 3:
                socket.setsockopt(zmq.SUBSCRIBE, b"")
            return ask()

        self.kc.kernel_info = kernel_info
        super()._subscribed()


def test_the_bridge_asks_once_its_subscription_reached_the_kernel(tmp_path):
    """ZeroMQ's slow joiner: what a kernel publishes before a new client's subscription reaches it is lost
    to that client.  On a busy machine the bridge lost answers so (an honest learner's cell failed as if
    the kernel had died); its channel now asks only once the kernel's messages reach it."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=grading_env())
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.execute_interactive("def double(x):\n    return 2 * x", timeout=60)
        client.stop_channels()
        channel = LateChannel(km, time.monotonic() + 30)
        try:
            answer = channel.describe("double")
        finally:
            channel.close()
        assert answer.kind.value == "function" and answer.module == "__main__", \
            f"expected the kernel's function double described, found {answer}"
        assert channel.asked >= 3, f"expected the channel to ask again until subscribed, found {channel.asked} request(s)"
    finally:
        km.shutdown_kernel(now=True)


def test_error_outputs_are_cut_to_their_cap_and_keep_their_class():
    output = nbformat.v4.new_output("error", ename="ValueError", evalue="v" * 50_000, traceback=["t" * 30_000] * 5)
    cut = trusted.bounded_error(output, 20_000)
    size = len(cut["evalue"]) + sum(len(line) for line in cut["traceback"])
    assert cut["ename"] == "ValueError", f"expected the class kept, found {cut['ename']}"
    assert size < 41_000, f"expected the message and traceback cut to 20,000 characters each, found {size}"
    assert "TrustedExecute.max_error_chars" in cut["evalue"], f"expected the cut to name its cap, found {cut['evalue'][-100:]}"
    plain = nbformat.v4.new_output("stream", name="stdout", text="x" * 50_000)
    assert trusted.bounded_error(plain, 10) is plain, "expected outputs other than errors left to max_output"


def test_a_learner_exception_from_the_kernel_is_bounded():
    error = learner.learner_exception({"type": "ValueError", "builtin": True, "message": "m" * 30_000_000,
                                        "frames": [["f" * 10_000, 1, "g", "s" * 10_000]] * 1000})
    assert type(error) is ValueError and len(str(error)) <= 2000, \
        f"expected a ValueError of at most 2,000 characters, found {type(error).__name__} of {len(str(error))}"
    assert len(error.learner_frames) <= 20 and all(len(f[0]) <= 300 for f in error.learner_frames), \
        f"expected at most 20 frames of short texts, found {len(error.learner_frames)}"


@pytest.fixture()
def class_course(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTNEURON_SEED", "7")
    workspace = make_workspace(tmp_path / "course")
    release = generate_release(workspace, only=[STAGE])
    for student, score in CLASS.items():
        staging.submit(workspace, student, STAGE, catalogue.build_submission(STAGE, (), score == 0.0, release))
    nb = catalogue.build_submission(STAGE, (), False, release)
    # Long enough for `kill_the_worker_of` (1 s after the claim); the run that nobody kills waits it out.
    nb.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(5)"))
    staging.submit(workspace, SLEEPER, STAGE, nb)
    return workspace


def kill_the_worker_of(course, student, killed, timeout=180):
    """Find the grader's worker that holds `student`'s submission (by its claim) and SIGKILL it."""
    claims = course / grading.STAGING / "claims"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for claim in claims.glob("*") if claims.is_dir() else []:
            try:
                if claim.read_text() == f"{student}/{STAGE}":  # the claim names STUDENT/STAGE
                    time.sleep(1)
                    os.kill(int(claim.name), signal.SIGKILL)
                    killed.append(int(claim.name))
                    return
            except (OSError, ValueError):
                continue
        time.sleep(0.05)


def grade_and_kill(course, force=False):
    killed = []
    killer = threading.Thread(target=kill_the_worker_of, args=(course, SLEEPER, killed), daemon=True)
    killer.start()
    lines = []
    outcomes = grading.grade_class(course, STAGE, force=force, sandbox=SANDBOX, workers=2, progress=False,
                                   echo=lines.append, overrides={"Execute": {"timeout": 30}})
    killer.join(timeout=1)
    return {o.student: o for o in outcomes}, killed, "\n".join(lines)


def test_a_dead_worker_costs_only_the_submission_it_held(class_course):
    first, killed, summary = grade_and_kill(class_course)
    print(f"\nfirst run (worker {killed} killed):\n{summary}")
    assert killed, "expected the test to find and kill the worker grading the sleeper"
    sleeper = first[SLEEPER]
    assert not sleeper.graded and "the grader's worker died" in sleeper.reason, \
        f"expected {SLEEPER} reported as not graded because its worker died, found {sleeper}"
    assert {s: (o.graded, o.score) for s, o in first.items() if s != SLEEPER} == \
           {s: (True, score) for s, score in CLASS.items()}, \
        f"expected every classmate graded with their score, found {[(o.student, o.score, o.reason) for o in first.values()]}"
    marks = class_course / "autograded"
    for student in CLASS:
        assert (marks / student / STAGE / grading.DONE_MARK).is_file(), f"expected {student} marked done"
        assert (class_course / "feedback" / student / STAGE / f"{STAGE}.html").is_file(), \
            f"expected {student}'s feedback page"
    assert not (marks / SLEEPER / STAGE / grading.QUARANTINED).exists(), "expected no quarantine after one death"

    second, killed, summary = grade_and_kill(class_course)
    print(f"second run (worker {killed} killed):\n{summary}")
    assert set(second) == set(CLASS) | {SLEEPER} and all(second[s].skipped for s in CLASS), \
        f"expected the classmates skipped as done, found {[(o.student, o.skipped) for o in second.values()]}"
    assert "quarantined for manual review" in second[SLEEPER].reason, \
        f"expected {SLEEPER} quarantined after killing a second worker, found {second[SLEEPER]}"
    assert (marks / SLEEPER / STAGE / grading.QUARANTINED).is_file(), "expected the quarantine recorded on disk"

    start = time.monotonic()
    third = {o.student: o for o in grading.grade_class(class_course, STAGE, sandbox=SANDBOX, workers=2,
                                                       progress=False, echo=lambda line: None)}
    assert "quarantined" in third[SLEEPER].reason and not third[SLEEPER].graded, \
        f"expected a rerun to report the quarantine without grading it, found {third[SLEEPER]}"
    assert time.monotonic() - start < 60, "expected a rerun with nothing to grade to be quick"

    forced = {o.student: o for o in grading.grade_class(class_course, STAGE, students=[SLEEPER], force=True,
                                                        sandbox=SANDBOX, workers=2, progress=False,
                                                        echo=lambda line: None,
                                                        overrides={"Execute": {"timeout": 30}})}
    assert forced[SLEEPER].graded and forced[SLEEPER].score == 5.0, \
        f"expected --force to grade the quarantined submission (5/5 when nobody kills it), found {forced[SLEEPER]}"


def test_a_notebook_over_its_size_or_cell_cap_is_not_graded_and_says_which(class_course):
    folder = class_course / "submitted" / "ada" / STAGE
    with pytest.raises(staging.GradingError, match=r"TrustedExecute\.max_notebook_bytes") as caught:
        staging.check_size(folder, 1000)
    assert f"{STAGE}.ipynb" in str(caught.value), f"expected the file named, found {caught.value}"
    nb = nbformat.read(str(folder / f"{STAGE}.ipynb"), as_version=4)
    with pytest.raises(staging.GradingError, match=r"TrustedExecute\.max_cells"):
        staging.check_cells(nb, f"{STAGE}.ipynb", 3)
    staging.check_cells(nb, f"{STAGE}.ipynb", 300)  # the release is far below the default
    assert trusted.TrustedExecute().max_cells >= 5 * len(nb.cells), "expected the default cell cap far above a release"
