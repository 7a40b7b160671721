"""The class grading driver: nothing lost when it is killed, settings that reach every worker.

Dask is tested on a real scheduler and workers started from their command line (test_servers.py).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import classroom
from course import grading_env, load_course_config, make_workspace
import grading
import sandbox
import trusted
import worker
from conftest import SIGMOID, SIGMOID_CLASS, grade_command, make_sigmoid_course
from test_hostile import kernel_folders, sandbox_processes

STAGE = SIGMOID
#: The class: the session's sigmoid class (tests/conftest.py), here graded from the command line and killed.
CLASS = SIGMOID_CLASS


@pytest.fixture()
def course(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTNEURON_SEED", "7")
    return make_sigmoid_course(tmp_path / "course")


def test_a_killed_driver_loses_and_duplicates_nothing(course, request):
    command = grade_command(course, "--workers", "2")
    # This run's own TMPDIR, so its private scratch root is its own; short, as kernels' socket paths must be.
    tmpdir = Path(tempfile.mkdtemp(prefix="fn-kd-"))
    request.addfinalizer(lambda: shutil.rmtree(tmpdir, ignore_errors=True))
    env = {**grading_env(), "TMPDIR": str(tmpdir)}
    root = tmpdir / f"firstneuron-sandbox-{os.geteuid()}"
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marks = course / "autograded"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(marks.glob(f"*/{STAGE}/{STAGE}.ipynb"))) < 2:
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)  # as the OOM killer or a closed laptop would, midway
    driver.wait()
    graded_before = len(list(marks.glob(f"*/{STAGE}/{STAGE}.ipynb")))
    done_before = len(list(marks.glob(f"*/{STAGE}/{grading.DONE_MARK}")))
    assert graded_before >= 2 and done_before < len(CLASS), \
        f"expected the driver killed midway, found {graded_before} autograded and {done_before} done"
    settle = time.monotonic() + 20  # each worker's watcher notices the driver's death within a second or two
    while time.monotonic() < settle and (sandbox_processes(root) or kernel_folders(root)):
        time.sleep(0.5)
    assert sandbox_processes(root) == [], f"expected no kernel left by the killed driver, found {sandbox_processes(root)}"
    assert kernel_folders(root) == [], f"expected no kernel folder left by the killed driver, found {kernel_folders(root)}"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, f"expected the rerun to grade the rest, found {rerun.returncode}:\n{rerun.stderr[-2000:]}"
    assert f"({done_before} already done)" in rerun.stdout, \
        f"expected the rerun to skip the {done_before} graded submissions, found:\n{rerun.stdout}"
    from course import open_gradebook

    with open_gradebook(course) as gb:
        found = {s.student.id: s.score for s in gb.find_assignment(STAGE).submissions}
    assert found == {s: v[2] for s, v in CLASS.items()}, f"expected each student graded once with their score, found {found}"
    rows = classroom.read_grades_csv(course / "grades.csv")
    assert sorted(r["student_id"] for r in rows) == sorted(CLASS), f"expected one row per student, found {rows}"


#: A grading worker of the driver argv[1] that has made a kernel folder under the private root argv[2] and not
#: yet started its kernel (so no guard watches the folder); it says the folder's name and waits.
UNSTARTED_WORKER = """
import sys, time
from traitlets.config import Config
import sandbox, worker
worker.exit_with_driver(int(sys.argv[1]))
km = sandbox.IpcKernelManager(config=Config({"Sandbox": {"scratch_root": sys.argv[2]}}))
print(km.scratch.name, flush=True)
time.sleep(600)
"""


def test_a_worker_ended_with_its_driver_removes_the_folder_of_a_kernel_not_started(private_root):
    """A kernel's guard removes its folder when the grader dies, but the folder is made before the kernel and
    its guard start: a worker that ends with its killed driver in between removes it itself."""
    driver = subprocess.Popen(["sleep", "600"])
    process = subprocess.Popen([sys.executable, "-c", UNSTARTED_WORKER, str(driver.pid), str(private_root)],
                               stdout=subprocess.PIPE, text=True, env=grading_env())
    try:
        name = process.stdout.readline().strip()
        assert name and (private_root / name).is_dir(), f"expected the worker's kernel folder, found {name!r}"
        driver.kill()
        driver.wait()
        process.wait(timeout=20)
        assert not (private_root / name).exists(), f"expected {name} removed by the worker ending with its driver"
    finally:
        for child in (driver, process):
            child.kill()
            child.wait()


def test_without_bubblewrap_class_grading_refuses_in_one_line(course, monkeypatch, capsys):
    import classroom

    monkeypatch.setattr(sandbox, "available", lambda: "bubblewrap is not installed (Debian/Ubuntu: apt-get install "
                                                       "bubblewrap)")
    assert classroom.main(["grade", STAGE, "--course", str(course)]) == 2, "expected exit code 2 without a sandbox"
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "bubblewrap" in error and "--no-sandbox" in error, \
        f"expected one line naming bubblewrap and --no-sandbox, found {error!r}"
    assert not (course / "autograded").exists(), "expected nothing graded without a sandbox"


def test_a_course_that_turns_the_sandbox_off_is_refused_without_the_flag(course, capsys):
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("c.TrustedExecute.sandbox = False\n")
    if sandbox.available() is not None:
        pytest.skip(f"no sandbox here, so the refusal names bubblewrap first: {sandbox.available()}")
    assert classroom.main(["grade", STAGE, "--course", str(course)]) == 2, \
        "expected exit code 2 when the course's configuration turns the sandbox off and --no-sandbox is not given"
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "nbgrader_config.py" in error and "--no-sandbox" in error, \
        f"expected one line naming the course's configuration and --no-sandbox, found {error!r}"
    assert not (course / "autograded").exists(), "expected nothing graded unsandboxed without the flag"


def test_each_grading_option_sets_its_setting_in_the_course_configuration(tmp_path):
    """--workers, --scheduler and --no-sandbox reach the traits they name, over nbgrader_config.py's values."""
    parser = argparse.ArgumentParser()
    classroom.add_grading_options(parser)
    found = classroom.flag_settings(parser.parse_args([]))
    assert found == {}, f"expected no setting from a command line without options, found {found}"
    args = parser.parse_args(["--workers", "3", "--scheduler", "tcp://10.0.0.5:8786", "--no-sandbox"])
    course = make_workspace(tmp_path / "course")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("c.Grading.workers = 1\nc.TrustedExecute.sandbox = True\n")
    config = load_course_config(course, classroom.flag_settings(args))
    settings = grading.Grading(config=config)
    execute = trusted.TrustedExecute(config=config)
    found = (settings.workers, settings.scheduler, execute.sandbox)
    assert found == (3, "tcp://10.0.0.5:8786", False), (
        f"expected the options over the course's settings (workers, scheduler, sandbox) = "
        f"(3, 'tcp://10.0.0.5:8786', False), found {found}")
    classes = {"Grading": grading.Grading, "TrustedExecute": trusted.TrustedExecute}
    for section, name, *_ in [*classroom.ALIASES.values(), *classroom.FLAGS.values()]:
        traits = classes[section].class_traits(config=True)
        assert name in traits, f"expected {section}.{name} to be a setting, found only {sorted(traits)}"


def test_a_warm_kernel_serves_only_the_settings_it_was_started_with():
    from traitlets.config import Config

    km = sandbox.SandboxedKernelManager(kernel_name="python3", config=Config({"Sandbox": {"shm_limit": 2**20}}))
    try:
        same = {"config": {"Sandbox": {"shm_limit": 2**20}}}
        looser = {"config": {"Sandbox": {"shm_limit": 2**20, "memory_limit": 2**40}}}
        default = {"config": {}}
        assert worker.kernel_fits(km, same), "expected a kernel to serve the settings it was started with"
        assert not worker.kernel_fits(km, looser), "expected a kernel with other limits not to serve"
        assert not worker.kernel_fits(km, default), "expected a kernel with a smaller /dev/shm not to serve the defaults"
    finally:
        sandbox.remove_tree(km.scratch)


def test_workers_get_every_setting_of_the_executor_and_the_sandbox():
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = 7                    # nbgrader's Execute
    config.NotebookClient.iopub_timeout = 9       # a base class of Execute (nbclient)
    config.KernelManager.shutdown_wait_time = 2.5  # a base class of the sandboxed kernel manager
    config.Sandbox.extra_read_only = ["/srv/x"]
    config.TrustedExecute.sandbox = False
    config.Execute.kernel_manager_class = sandbox.SandboxedKernelManager  # a class: not plain data
    config.GenerateFeedback.force = True          # not the executor's business
    found = worker.plain_config(config)
    expected = {"Execute": {"timeout": 7}, "NotebookClient": {"iopub_timeout": 9},
                "KernelManager": {"shutdown_wait_time": 2.5}, "Sandbox": {"extra_read_only": ["/srv/x"]},
                "TrustedExecute": {"sandbox": False}}
    assert found == expected, f"expected the workers' settings {expected}, found {found}"


def test_without_the_sandbox_kernels_still_use_ipc_and_leave_nothing(tmp_path):
    import trusted
    from jupyter_core.utils import run_sync
    from traitlets.config import Config

    executor = trusted.TrustedExecute(sandbox=False)
    assert executor.kernel_manager_class is sandbox.IpcKernelManager, \
        f"expected kernels over ipc without the sandbox, found {executor.kernel_manager_class}"
    km = sandbox.IpcKernelManager(kernel_name="python3", config=Config({"Sandbox": {"scratch_root": str(tmp_path)}}))
    run_sync(km.start_kernel)()
    try:
        info = km.get_connection_info()
        assert info["transport"] == "ipc" and info["ip"].startswith(str(tmp_path)), \
            f"expected ipc sockets under {tmp_path}, found {info['transport']} {info['ip']}"
    finally:
        run_sync(km.shutdown_kernel)(now=True)
    left = [p.name for p in tmp_path.iterdir()]
    assert left == [], f"expected no kernel folder after shutdown, found {left}"


def test_a_private_root_too_long_for_kernels_sockets_is_refused_in_one_line(course):
    long_root = "/tmp/" + "x" * 90
    with pytest.raises(grading.GradingError) as refused:
        grading.grade_class(course, STAGE, force=True, sandbox=True, workers=1, progress=False, echo=lambda line: None,
                            overrides={"Sandbox": {"scratch_root": long_root}})
    message = str(refused.value)
    assert long_root in message and "Unix socket" in message and "TMPDIR" in message, \
        f"expected one line naming the folder, the socket limit and TMPDIR, found {message!r}"
    assert not (course / "autograded").exists(), "expected no submission touched before the refusal"
