"""How fast feedback comes back: the grading service (autograder/serve.py) and Validate in the learners' lab.

Run from the repository root (a few minutes)::

    .venv/bin/python benchmarks/serve.py

It builds a course with an nbgrader exchange in a temporary folder, starts
``python -m classroom serve`` on it (sandbox on), and prints:

1. 20 submissions of 02-propagate one after the other (each waits for the
   previous one's feedback): seconds from nbgrader's submit returning to the
   feedback page being fetchable (released in the exchange under the
   submission's hash): median, p95 (target <= 10 s), max;
2. a burst of 60 submissions within 30 s: all graded and released? p95 and the
   total from the first submit to the last page (target <= 120 s);
3. Validate in the learners' lab on a correct 02-propagate: the route's work
   (``firstneuron_validate.self_check_answer``, what the lab's server runs for
   the request, warm after the first; each click 3 s after the previous answer,
   while the learner reads it) median over 5 (target <= 3 s), on a notebook with
   a mistake, and clicked again at once (the next kernel still booting).

Learners submit with nbgrader's own ``ExchangeSubmit`` in this process (a
``nbgrader submit`` command per learner would only add its start-up time to
the machine's load, not to the measured latency).  The machine's load is
printed with the figures.
"""
import argparse
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograder"))

import catalogue  # noqa: E402
import course  # noqa: E402
from course import REPO  # noqa: E402

course.use_grading_env()  # the service and the lab's route run as `make` runs them

STAGE = "02-propagate"
COURSE = "firstneuron"
MISTAKES = [(), ("dw_forgot_1_over_m",), ("cost_sign_error",), ()]


def load():
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def quantile(values, q):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Bench:
    def __init__(self, root):
        self.root = root
        self.exchange = root / "exchange"
        self.exchange.mkdir(mode=0o777)
        self.workspace = course.make_workspace(root / "instructor", only=[STAGE])
        with open(self.workspace / "nbgrader_config.py", "a") as f:
            f.write(f"c.CourseDirectory.course_id = {COURSE!r}\nc.Exchange.root = {str(self.exchange)!r}\n"
                    "c.ExchangeCollect.check_owner = False\nc.Serve.attempts_per_hour = 0\n"
                    "c.Serve.poll_interval = 1.0\n")
        course.generate_release(self.workspace, only=[STAGE])
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        config = course.load_course_config(self.workspace)
        assert NbGraderAPI(CourseDirectory(config=config), config=config).release_assignment(STAGE)["success"]
        self.notebooks = [catalogue.build_submission(STAGE, variants, release_dir=self.workspace / "notebooks")
                          for variants in MISTAKES]
        self.log = root / "serve.log"
        self.service = None

    def start(self):
        self.service = subprocess.Popen([sys.executable, "-m", "classroom", "serve", "--course", str(self.workspace)],
                                        cwd=self.workspace, env=course.grading_env(), stdout=open(self.log, "w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        if self.service is not None and self.service.poll() is None:
            os.killpg(self.service.pid, signal.SIGTERM)
            try:
                self.service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.service.pid, signal.SIGKILL)

    def submit(self, student, number):
        """`student` submits (nbgrader's ExchangeSubmit); returns (when submit returned, the page to wait for)."""
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange.default.submit import ExchangeSubmit
        from traitlets.config import Config

        home = self.root / "learners" / student
        course.write_notebook(self.notebooks[number % len(self.notebooks)], course.notebook_path(home, STAGE))
        config = Config()
        config.CourseDirectory.course_id = COURSE
        config.Exchange.assignment_dir = str(home)
        config.Exchange.root = str(self.exchange)
        config.Exchange.cache = str(home / "cache")
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id, coursedir.student_id = STAGE, student
        ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
        returned = time.monotonic()
        submission = max((home / "cache" / COURSE).glob(f"{student}+{STAGE}+*"))
        secret = (submission / "submission_secret.txt").read_text()
        page = self.exchange / COURSE / "feedback" / f"{hashlib.md5((secret + STAGE).encode()).hexdigest()}.html"
        return returned, page

    def wait(self, page, since, limit=300):
        while not (page.is_file() and "Score:" in page.read_text(errors="replace")):
            if time.monotonic() - since > limit:
                return None
            time.sleep(0.05)
        return time.monotonic() - since


def in_a_row(bench, count):
    seconds = []
    for i in range(count):
        returned, page = bench.submit(f"row-{i:02d}", i)
        seconds.append(bench.wait(page, returned))
    done = [s for s in seconds if s is not None]
    print(f"1. {count} submissions in a row: {len(done)} graded and released; from submit to fetchable feedback: "
          f"median {statistics.median(done):.1f} s, p95 {quantile(done, 95):.1f} s (target <= 10 s), "
          f"max {max(done):.1f} s  [{load()}]", flush=True)


def burst(bench, count, within):
    start = time.monotonic()
    pending = []
    for i in range(count):
        time.sleep(max(0.0, start + within * i / count - time.monotonic()))
        pending.append(bench.submit(f"burst-{i:02d}", i))
    with ThreadPoolExecutor(max_workers=16) as pool:
        seconds = list(pool.map(lambda item: bench.wait(item[1], item[0], limit=600), pending))
    done = [s for s in seconds if s is not None]
    total = max(returned + s for (returned, _), s in zip(pending, seconds) if s is not None) - start
    print(f"2. a burst of {count} submissions within {within} s: {len(done)}/{count} graded and released; "
          f"latency median {statistics.median(done):.1f} s, p95 {quantile(done, 95):.1f} s, max {max(done):.1f} s; "
          f"total from the first submit to the last page {total:.0f} s (target <= 120 s)  [{load()}]", flush=True)


#: Seconds between two Validate clicks: reading the answer, changing a line.
READING = 3


def validate(path):
    """The Validate route's work (learner-lab/firstneuron_validate.py), as the lab's server does it once warm."""
    sys.path.insert(0, str(REPO / "learner-lab"))
    import firstneuron_validate

    start = time.monotonic()
    answer = firstneuron_validate.self_check_answer(path, "/firstneuron/feedback")
    return time.monotonic() - start, answer


def validate_route(root, repeats):
    folder = root / "lab-course"
    for name, variants in (("correct", ()), ("mistaken", ("dw_forgot_1_over_m",))):
        target = folder / name / f"{STAGE}.ipynb"
        target.parent.mkdir(parents=True)
        course.write_notebook(catalogue.build_submission(STAGE, variants), target)
    first, _ = validate(folder / "correct" / f"{STAGE}.ipynb")  # the first also imports the grader
    seconds, back_to_back = [], []
    for _ in range(repeats):
        time.sleep(READING)  # the learner reads the answer: the next kernel boots meanwhile (warm_next)
        elapsed, answer = validate(folder / "correct" / f"{STAGE}.ipynb")
        seconds.append(elapsed)
    verdict = "Success" if answer.get("success") and not answer.get("value") else f"unexpected: {answer}"
    mistaken = []
    for _ in range(repeats):
        time.sleep(READING)
        mistaken.append(validate(folder / "mistaken" / f"{STAGE}.ipynb")[0])
    for _ in range(repeats):
        back_to_back.append(validate(folder / "correct" / f"{STAGE}.ipynb")[0])
    print(f"3. Validate (the route's handler work, in process as the lab's server runs it) on a correct {STAGE} "
          f"({verdict}), {READING:g} s after the previous answer: median {statistics.median(seconds):.1f} s over "
          f"{repeats} (target <= 3 s), first request {first:.1f} s; on a notebook with a mistake: median "
          f"{statistics.median(mistaken):.1f} s; clicked again at once (the next kernel still booting): median "
          f"{statistics.median(back_to_back):.1f} s  [{load()}]", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", type=int, default=20)
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--within", type=float, default=30)
    parser.add_argument("--validate", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"benchmarks/serve.py: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        root = Path(tmp)
        bench = Bench(root)
        bench.start()
        try:
            if args.row:
                in_a_row(bench, args.row)
            if args.burst:
                burst(bench, args.burst, args.within)
        finally:
            bench.stop()
        graded = sum(1 for line in bench.log.read_text().splitlines() if f"  {STAGE}  " in line and "/6" in line)
        print(f"   the service's log: {graded} lines of graded submissions", flush=True)
        if args.validate:
            validate_route(root, args.validate)


if __name__ == "__main__":
    main()
