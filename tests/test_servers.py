"""Grading on the real servers, started here as a user would: a Dask cluster and a PostgreSQL gradebook.

The Dask test starts ``dask scheduler`` and two ``dask worker`` processes
(with ``PYTHONPATH=autograder``, as docs/instructor.md §8 says) and grades a
class with ``python -m classroom grade --scheduler``, killing a worker while
it grades.  The PostgreSQL test makes a throwaway cluster with
Debian's ``initdb`` and ``pg_ctl`` as an unprivileged user, and grades,
regrades, reports and exports a class whose gradebook lives there.  The
class graded by the local pool is the session's `sigmoid_class` (tests/conftest.py):
the Dask run is compared with it cell by cell, its folder is copied to PostgreSQL,
and a second grader started while it was graded must have been refused.  Each
test is skipped, with the reason, only where the programs are missing.
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import classroom
import course
import report
import results
from conftest import (SIGMOID, SIGMOID_CLASS, SIGMOID_SCORES, free_port, grade_command, grading_environment,
                      make_sigmoid_course as make_course, stop_group)
from course import grading_env, open_gradebook

STAGE = SIGMOID
CLASS, SCORES = SIGMOID_CLASS, SIGMOID_SCORES
BIN = Path(sys.executable).parent


def gradebook_scores(workspace):
    """student -> score, and student -> {test cell: score}, of every submission in the course's gradebook."""
    with open_gradebook(workspace) as gb:
        submissions = gb.find_assignment(STAGE).submissions
        scores = {s.student.id: s.score for s in submissions}
        cells = {s.student.id: {g.name: g.score for n in s.notebooks for g in n.grades} for s in submissions}
    return scores, cells


def summary_line(stdout):
    return next((line for line in stdout.splitlines() if line.startswith("Summary:")), f"(no summary in {stdout!r})")


# --- Dask ---------------------------------------------------------------------------------------

@pytest.fixture()
def dask_cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker ADDRESS --nworkers 1 --nthreads 1``, as a user starts them."""
    if not (BIN / "dask").is_file():
        pytest.skip(f"{BIN / 'dask'}: no dask command in this environment (distributed is in requirements.txt)")
    env = grading_env()  # PYTHONPATH=autograder: the workers import worker.py by name
    env.pop("FIRSTNEURON_SEED", None)  # the driver sends the seed with each task
    scheduler_file = tmp_path / "scheduler.json"
    servers = []
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    try:
        servers.append(subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], env=env, cwd=tmp_path, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w")))
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scheduler_file.is_file(), \
            f"expected the scheduler to start, found:\n{(logs / 'scheduler.log').read_text()}"
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(2):
            servers.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--local-directory", str(tmp_path / f"worker-{n}")], env=env, cwd=tmp_path,
                start_new_session=True, stdout=subprocess.DEVNULL, stderr=open(logs / f"worker-{n}.log", "w")))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            yield address, client
    finally:
        for server in reversed(servers):
            stop_group(server)


def test_a_class_graded_on_a_dask_cluster_started_from_its_command_line(tmp_path, dask_cluster, sigmoid_class,
                                                                       monkeypatch):
    """The class graded with ``--scheduler``, one worker killed midway (SIGKILL, as the OOM killer does): its
    nanny restarts it, the scheduler runs its task again elsewhere, and every submission is graded and recorded
    once, each test cell with the score the local pool gave it."""
    address, client = dask_cluster
    monkeypatch.setenv("FIRSTNEURON_SEED", "7")
    workspace = make_course(tmp_path / "course")
    _, local_cells = gradebook_scores(sigmoid_class["workspace"])  # the same class, graded by the local pool
    driver = subprocess.Popen(grade_command(workspace, "--scheduler", address), env=grading_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed, deadline = None, time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and driver.poll() is None:
        busy = [worker for worker, keys in client.processing().items() if keys]
        if busy:
            time.sleep(1.0)  # it runs its submission's notebook now
            pids = client.run(os.getpid)
            if busy[0] in pids and client.processing().get(busy[0]):
                killed = pids[busy[0]]
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.1)
    stdout, stderr = driver.communicate(timeout=300)
    assert killed is not None, f"expected to kill a worker while it graded, found the run over first:\n{stdout}"
    assert driver.returncode == 0, \
        f"expected exit 0 after a worker was killed mid-class, found {driver.returncode}:\n{stderr[-3000:]}"
    assert summary_line(stdout).startswith(f"Summary: {len(CLASS)} graded (0 already done), 0 failed to grade"), \
        f"expected each submission graded once despite the killed worker (process {killed}), found:\n{stdout}"
    scores, cells = gradebook_scores(workspace)
    assert scores == SCORES, f"expected the class's scores (seed 7) from the cluster, found {scores}"
    assert cells == local_cells, \
        f"expected the same score in every test cell on the cluster as on the local pool, found {cells} vs {local_cells}"
    rows = classroom.read_grades_csv(workspace / "grades.csv")
    assert sorted((r["student_id"], float(r["score"])) for r in rows) == sorted(SCORES.items()), \
        f"expected grades.csv to hold the cluster's scores, one row per student, found {rows}"
    client.wait_for_workers(2, timeout=60)
    pids = sorted(client.run(os.getpid).values())
    assert killed not in pids, f"expected the killed worker {killed} replaced by its nanny, found workers {pids}"


def test_a_second_grader_on_the_same_course_is_refused_in_one_line(sigmoid_class):
    workspace, first, second, third = (sigmoid_class[k] for k in ("workspace", "first", "second", "third"))
    error = second.stderr.strip()
    assert second.returncode == 2 and len(error.splitlines()) == 1, \
        f"expected the second grader refused (exit 2) in one line, found exit {second.returncode}:\n{error}"
    assert f"another grader (process {first.pid})" in error and str(workspace) in error, \
        f"expected the refusal to name the course and the grader's process {first.pid}, found {error!r}"
    assert first.returncode == 0 and summary_line(first.stdout).startswith(f"Summary: {len(CLASS)} graded"), \
        f"expected the first grader to finish undisturbed, found {first.returncode}:\n{first.stdout}\n{first.stderr[-2000:]}"
    assert third.returncode == 0 and f"({len(CLASS)} already done)" in third.stdout, \
        f"expected a grader after the first one to run (the lock released), found {third.returncode}:\n" \
        f"{third.stdout}{third.stderr[-2000:]}"
    assert gradebook_scores(workspace)[0] == SCORES, \
        f"expected the class's scores (seed 7) from the command line, found {gradebook_scores(workspace)[0]}"


# --- PostgreSQL --------------------------------------------------------------------------------

def postgres_bin():
    """The folder of PostgreSQL's server programs (Debian's /usr/lib/postgresql/N/bin), or None."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "createdb").is_file():
        return Path(found).resolve().parent  # Debian links some of them into /usr/local/bin or /usr/bin
    folders = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                     if p.parent.name.isdigit() else 0)
    return next((f for f in reversed(folders) if (f / "initdb").is_file() and (f / "pg_ctl").is_file()), None)


@pytest.fixture()
def postgres():
    """A throwaway PostgreSQL cluster (initdb, pg_ctl start on a free port), run by an unprivileged user.

    Yields the SQLAlchemy URL of an empty database ``gradebook`` owned by ``grader``.
    """
    folder = postgres_bin()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("expected PostgreSQL's initdb and pg_ctl on CI (.ci/run installs postgresql), found none")
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is in requirements.txt: run make venv")
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        user = next((name for name in ("postgres", "nobody") if _has_user(name)), None)
        if user is None:
            pytest.skip("running as root and neither the user postgres nor nobody exists to run PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="firstneuron-pg-"))
    password = "grader-secret"
    (root / "password").write_text(password + "\n")
    if user:
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
        os.chown(root / "password", account.pw_uid, account.pw_gid)
    port = free_port()
    data, log = root / "data", root / "server.log"

    def run(*command):
        done = subprocess.run([str(folder / command[0]), *command[1:]], user=user, cwd=root, capture_output=True,
                              text=True, timeout=120, env={"PATH": os.environ["PATH"], "LC_ALL": "C"})
        assert done.returncode == 0, f"expected {command[0]} to succeed, found {done.returncode}:\n{done.stderr}" \
            + (log.read_text() if log.is_file() else "")
        return done

    started = False
    try:
        run("initdb", "-D", str(data), "-U", "grader", f"--pwfile={root / 'password'}", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        started = True
        run("createdb", "-h", str(root), "-p", str(port), "-U", "grader", "gradebook")
        yield f"postgresql+psycopg://grader:{password}@127.0.0.1:{port}/gradebook"
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_a_class_whose_gradebook_is_on_postgresql(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("FIRSTNEURON_SEED", "7")
    workspace = make_course(tmp_path / "course", f"c.CourseDirectory.db_url = {postgres!r}\n")
    assert course.gradebook_url(workspace) == postgres, "expected the course's db_url to be the PostgreSQL URL"
    with open_gradebook(workspace) as gb:
        assert [a.name for a in gb.assignments] == [STAGE], \
            f"expected generate_assignment to record {STAGE} in PostgreSQL, found {[a.name for a in gb.assignments]}"

    run = subprocess.run(grade_command(workspace, "--workers", "2"), env=grading_env(), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"expected exit 0, found {run.returncode}:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert summary_line(run.stdout).startswith(f"Summary: {len(CLASS)} graded (0 already done), 0 failed to grade"), \
        f"expected the driver to read every grade back from PostgreSQL, found:\n{run.stdout}"
    assert gradebook_scores(workspace)[0] == SCORES, \
        f"expected the scores in PostgreSQL, found (per test cell too) {gradebook_scores(workspace)}"
    assert not (workspace / "gradebook.db").exists(), "expected no sqlite gradebook beside a PostgreSQL one"

    again = subprocess.run(grade_command(workspace), env=grading_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and summary_line(again.stdout).startswith(
        f"Summary: {len(CLASS)} graded ({len(CLASS)} already done)"), \
        f"expected a second run to skip what is done, found {again.returncode}:\n{again.stdout}{again.stderr[-2000:]}"

    with open_gradebook(workspace) as gb:  # forge ada's grades in the database: --force must write them again
        for notebook in gb.find_submission(STAGE, "ada").notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
        gb.db.commit()
    assert gradebook_scores(workspace)[0]["ada"] == 0, "expected the forged score stored in PostgreSQL"
    forced = subprocess.run(grade_command(workspace, "--force", "--student", "ada"), env=grading_env(),
                            capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0 and summary_line(forced.stdout).startswith("Summary: 1 graded (0 already done)"), \
        f"expected --force to grade ada again, found {forced.returncode}:\n{forced.stdout}{forced.stderr[-2000:]}"
    assert gradebook_scores(workspace)[0] == SCORES, \
        f"expected --force to write ada's grades back to PostgreSQL, found {gradebook_scores(workspace)[0]}"

    (workspace / "grades.csv").unlink()
    exported = results.export_grades(workspace)
    rows = classroom.read_grades_csv(exported)
    assert sorted((r["student_id"], float(r["score"])) for r in rows) == sorted(SCORES.items()), \
        f"expected the export to read PostgreSQL's grades, found {rows}"
    scores, _, ungraded = report.collect(workspace)
    assert scores[STAGE] == {s: (v, 5.0) for s, v in SCORES.items()} and not ungraded, \
        f"expected the report to read PostgreSQL's grades, found {dict(scores)} and not graded {ungraded}"
    assert classroom.main(["report", str(workspace)]) == 0, "expected the class report of a PostgreSQL gradebook"
    assert "ben" in (workspace / "report" / "index.html").read_text(), "expected ben (0/5) listed for attention"
    assert not (workspace / "gradebook.db").exists(), "expected nothing written to a sqlite gradebook"


def test_a_sqlite_gradebook_copied_to_postgresql(tmp_path, postgres, sigmoid_class, capsys):
    workspace = shutil.copytree(sigmoid_class["workspace"], tmp_path / "course")  # graded on its sqlite file
    graded = SCORES
    students = [arg for student in graded for arg in ("--student", student)]
    assert course.gradebook_url(workspace).startswith("sqlite:"), "expected the course to start on its sqlite file"

    assert classroom.main(["copy-gradebook", postgres, "--course", str(workspace)]) == 0, \
        f"expected the copy to succeed, found:\n{capsys.readouterr().err}"
    assert classroom.main(["copy-gradebook", postgres, "--course", str(workspace)]) == 2, \
        "expected a second copy into the same (no longer empty) database refused"
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "not an empty database" in error and "grader-secret" not in error, \
        f"expected one line saying the database is not empty, without its password, found {error!r}"
    with open(workspace / "nbgrader_config.py", "a") as f:
        f.write(f"c.CourseDirectory.db_url = {postgres!r}\n")
    (workspace / "gradebook.db").rename(workspace / "gradebook.db.old")  # from now on only PostgreSQL is read
    assert gradebook_scores(workspace)[0] == graded, \
        f"expected the copied scores in PostgreSQL, found {gradebook_scores(workspace)[0]}"
    again = subprocess.run(grade_command(workspace, *students), env=grading_environment(), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0 and summary_line(again.stdout).startswith(
        f"Summary: {len(graded)} graded ({len(graded)} already done), 0 failed to grade"), \
        f"expected the copied course to skip what was graded, reading its scores from PostgreSQL, found:\n" \
        f"{again.stdout}{again.stderr[-2000:]}"
    rows = classroom.read_grades_csv(workspace / "grades.csv")
    assert sorted((r["student_id"], float(r["score"])) for r in rows) == sorted(graded.items()), \
        f"expected the export of the copied gradebook, found {rows}"
