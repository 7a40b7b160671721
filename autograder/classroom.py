"""Classroom workflows built on nbgrader: release, sample class, grading, validation.

Run as ``python autograder/classroom.py ...`` (the Makefile does) or, with ``autograder/`` on
``sys.path``, ``python -m classroom ...``; either runs in the grading environment
(`course.grading_env`: ``autograder/`` on ``PYTHONPATH``, no display)::

    python -m classroom release            # regenerate notebooks/ from solutions/
    python -m classroom demo               # release, grade a sample class, print grades
    python -m classroom validate NOTEBOOK  # nbgrader validate with a real exit code
    python -m classroom execute-solutions  # refresh the outputs stored for nbval
    python -m classroom grade STAGE [--course DIR]  # grade a class (grading.py: sandboxed, every core)
    python -m classroom copy-gradebook URL [--course DIR]  # the gradebook into an empty database
    python -m classroom serve [--course DIR]        # grade each submission in the exchange as it arrives (serve.py)
    python -m classroom run -- COMMAND ...          # run COMMAND in the grading environment (pytest, mutants)

The demo and the self-check work in a *grading workspace*: a folder whose
``nbgrader_config.py`` loads the course's, with a copy of ``solutions/``,
graded with the same driver as a class.
"""
import argparse
import csv
import os
import sys
from pathlib import Path

# jsonschema imports its optional IRI format checker, rfc3987_syntax, when nbformat loads it: 0.75 s
# of building a grammar at every start of this command, for a format no notebook schema uses.
sys.modules.setdefault("rfc3987_syntax", None)

import grading  # noqa: E402
import results  # noqa: E402
import sandbox  # noqa: E402
from catalogue import SAMPLE_CLASS, build_submission  # noqa: E402
from course import (GRADING, REPO, SOLUTIONS, CourseError, copy_gradebook, execute_notebook,  # noqa: E402
                    generate_release, grading_env, has_gradebook, load_course_config, locked, make_workspace,
                    notebook_path, release, stages, use_grading_env, validate)
from selfcheck import self_check  # noqa: E402
from staging import submit  # noqa: E402

#: The lock file a class grading run holds in the course folder, for the whole run (one grader per course).
GRADING_LOCK = ".grading.lock"
BUSY = ("{path}: another grader (process {pid}) is grading this course; one grader at a time "
        "writes its gradebook: wait for it to finish")
#: Seconds one cell may run while the demo grades (the course default is in nbgrader_config.py).
DEMO_CELL_TIMEOUT = 5
#: Command-line options and the setting each one sets (as nbgrader's apps' ``aliases``): the setting is the one home.
ALIASES = {"workers": ("Grading", "workers"), "scheduler": ("Grading", "scheduler")}
#: Command-line switches and the setting each one sets when given (as nbgrader's apps' ``flags``).
FLAGS = {"no_sandbox": ("TrustedExecute", "sandbox", False)}


def flag_settings(args):
    """The settings the command line's options and switches set, as overrides of ``nbgrader_config.py``."""
    overrides = {}
    for option, (section, name) in ALIASES.items():
        if getattr(args, option, None) is not None:
            overrides.setdefault(section, {})[name] = getattr(args, option)
    for switch, (section, name, value) in FLAGS.items():
        if getattr(args, switch, False):
            overrides.setdefault(section, {})[name] = value
    return overrides


def grade(workspace, submissions, cell_timeout=None, echo=print, executor=None):
    """Grade each ``(student, stage)`` of `workspace` with the class grading driver (grading.py).

    The sandbox is used where bubblewrap works, with a warning otherwise (the
    demo and the self-check grade trusted notebooks).  Feedback is generated
    for every graded submission.

    Returns
    -------
    outcomes : list of Outcome
    """
    stages_of = {}
    for student, stage in submissions:
        stages_of.setdefault(stage, []).append(student)
    overrides = {"Execute": {"timeout": cell_timeout}} if cell_timeout else None
    use_sandbox = sandbox.warn_if_unavailable(echo)
    outcomes = grading.grade_stages(workspace, stages_of, force=True, sandbox=use_sandbox, executor=executor,
                                    workers=min(len(submissions), os.cpu_count() or 1) or 1, overrides=overrides,
                                    progress=False, echo=lambda line: None)
    order = {key: i for i, key in enumerate(submissions)}
    outcomes.sort(key=lambda o: order.get((o.student, o.stage), 0))
    echo(results.grading_summary(outcomes))
    return outcomes


def export_grades(workspace):
    """nbgrader's export to grades.csv in `workspace`; returns its path."""
    return results.export_grades(workspace)


def grade_table(outcomes, profiles=None):
    """A plain-text table: one row per student, one column per stage, then the total."""
    profiles = profiles or {}
    students = list(dict.fromkeys(o.student for o in outcomes))
    stage_names = list(dict.fromkeys(o.stage for o in outcomes))
    cells = {(o.student, o.stage): o for o in outcomes}
    header = ["student", "profile", *stage_names, "total"]
    rows = []
    for student in students:
        row = [student, profiles.get(student, "")]
        total = maximum = 0.0
        for stage in stage_names:
            o = cells.get((student, stage))
            if o is None:
                row.append("-")
            elif not o.graded:
                row.append("not graded")
            else:
                row.append(f"{o.score:g}/{o.max_score:g}")
                total, maximum = total + o.score, maximum + o.max_score
        row.append(f"{total:g}/{maximum:g}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def demo(workspace=GRADING / "demo", students=SAMPLE_CLASS, echo=print):
    """The main job: release, grade the sample class with nbgrader, export and print the grades."""
    workspace = make_workspace(workspace)
    echo(f"Grading workspace: {workspace}")
    generated = generate_release(workspace)
    echo(f"Released {len(stages())} stage(s) with nbgrader generate_assignment: {', '.join(stages())}")
    submissions = []
    for student in students:
        for stage in stages():
            nb = build_submission(stage, student.variants, student.blank, release_dir=generated)
            submit(workspace, student.id, stage, nb)
            submissions.append((student.id, stage))
    echo(f"Sample class: {len(students)} students, {len(submissions)} submissions; autograding ...")
    outcomes = grade(workspace, submissions, cell_timeout=DEMO_CELL_TIMEOUT, echo=echo)
    csv_path = export_grades(workspace)
    echo("")
    echo(grade_table(outcomes, {s.id: s.profile for s in students}))
    echo("")
    echo("What the feedback tells each student where points were lost:")
    for o in outcomes:
        for cell in o.failed_cells:
            echo(f"  {o.student} {o.stage} {cell}: {o.messages.get(cell, '(no message)')}")
    echo("")
    from report import write_report

    echo(f"Grades (CSV):  {csv_path}")
    echo(f"Feedback HTML: {workspace / 'feedback'}/STUDENT/STAGE/STAGE.html")
    echo(f"Class report:  {write_report(workspace)}")
    return outcomes


def require_sandbox(no_sandbox, course):
    """Raise CourseError when learners' code would run unsandboxed and `no_sandbox` was not asked for.

    Only the command line's ``--no-sandbox`` runs it unprotected: a course whose configuration
    says ``c.TrustedExecute.sandbox = False`` is refused without that flag, in one line.
    """
    if no_sandbox:
        return
    reason = sandbox.available()
    if reason:
        raise CourseError(f"cannot sandbox learners' code: {reason}; install the Debian package "
                          "'bubblewrap', or pass --no-sandbox to run it unprotected")
    config_file = Path(course) / "nbgrader_config.py"
    if config_file.is_file() and load_course_config(course).TrustedExecute.get("sandbox", True) is False:
        raise CourseError(f"{config_file}: sets c.TrustedExecute.sandbox = False; learners' code runs "
                          "unprotected only with --no-sandbox on the command line")


def grade_command(args):
    """``python -m classroom grade``: a class, graded safely; exit 1 when a submission could not be graded."""
    require_sandbox(args.no_sandbox, args.course)
    if not (args.course / "nbgrader_config.py").is_file():
        raise CourseError(f"{args.course / 'nbgrader_config.py'}: not an nbgrader course folder")
    with locked(args.course / GRADING_LOCK, wait=False, busy=BUSY):
        try:
            outcomes = grading.grade_class(args.course, args.stage, args.student, force=args.force,
                                           overrides=flag_settings(args))
        except grading.GradingError as error:
            raise CourseError(str(error)) from error
        if not outcomes:
            raise CourseError(f"{args.course / 'submitted'}: no submission of {args.stage}")
        grades = export_grades(args.course)
    print(f"Grades (CSV): {grades}")
    print(f"Feedback:     {args.course / 'feedback'}/STUDENT/{args.stage}/")
    return 0 if all(o.graded for o in outcomes) else 1


def read_grades_csv(path):
    """The rows of nbgrader's grades.csv as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def add_grading_options(parser):
    """The options of a command that grades, each mapped onto its setting (`ALIASES`, `FLAGS`)."""
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run learners' code without bubblewrap (unsafe; c.TrustedExecute.sandbox = False)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: every core; c.Grading.workers)")
    parser.add_argument("--scheduler", help="a Dask scheduler's address: grade on that cluster (c.Grading.scheduler)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m classroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    sub.add_parser("demo", help="release, grade a sample class, print the grades")
    p = sub.add_parser("report", help="write the class report of a graded workspace")
    p.add_argument("workspace", type=Path, nargs="?", default=Path("."), help="an nbgrader course folder")
    p = sub.add_parser("copy-gradebook", help="copy a course's gradebook into an empty database (e.g. PostgreSQL)")
    p.add_argument("url", help="SQLAlchemy URL of the empty database, e.g. postgresql+psycopg://grader@host/gradebook")
    p.add_argument("--course", type=Path, default=REPO, help="the nbgrader course folder (default: this repository)")
    p = sub.add_parser("execute-solutions", help="re-run the solution notebooks, storing outputs")
    p.add_argument("stage", nargs="*", help="only these stages (default: every stage)")
    p = sub.add_parser("grade", help="grade every submission of a stage: sandboxed, every core, feedback, grades.csv")
    p.add_argument("stage", help="e.g. 02-propagate")
    p.add_argument("--course", type=Path, default=REPO, help="the nbgrader course folder (default: this repository)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    add_grading_options(p)
    p = sub.add_parser("serve", help="grade each submission in the exchange as it arrives, release its feedback")
    p.add_argument("--course", type=Path, default=REPO, help="the nbgrader course folder (default: this repository)")
    p.add_argument("--stage", action="append", help="serve only this stage (repeatable; default: c.Serve.stages, "
                                                   "else every released stage)")
    p.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    add_grading_options(p)
    p = sub.add_parser("check", help="grade your own notebook of a stage (exit 0 at full marks)")
    p.add_argument("stage", help="e.g. 02-propagate")
    p.add_argument("notebook", nargs="?", type=Path,
                   help="default: notebooks/STAGE/STAGE.ipynb; a relative path is looked for from the working "
                        "folder, then in notebooks/STAGE/")
    p = sub.add_parser("run", help="run a command in the grading environment (autograder/ on PYTHONPATH, no display)")
    p.add_argument("argv", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    p = sub.add_parser("validate", help="nbgrader validate with an exit code (0 = passes)")
    p.add_argument("notebook", type=Path)
    p.add_argument("--invert", action="store_true", help="succeed when no test passes")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            release()
        elif args.command == "demo":
            demo()
        elif args.command == "execute-solutions":
            unknown = sorted(set(args.stage) - set(stages()))
            if unknown:
                raise CourseError(f"{', '.join(unknown)}: no such stage in {SOLUTIONS.relative_to(REPO)}/ "
                                  f"(stages: {', '.join(stages())})")
            for stage in args.stage or stages():
                execute_notebook(notebook_path(SOLUTIONS, stage))
                print(f"executed {notebook_path(SOLUTIONS, stage).relative_to(REPO)}")
        elif args.command == "report":
            from report import write_report

            if not has_gradebook(args.workspace):
                raise CourseError(f"{args.workspace}: no gradebook (its CourseDirectory.db_url); grade the class first")
            print(f"Class report: {write_report(args.workspace)}")
        elif args.command == "grade":
            return grade_command(args)
        elif args.command == "copy-gradebook":
            with locked(args.course / GRADING_LOCK, wait=False, busy=BUSY):
                rows = copy_gradebook(args.course, args.url)
            print(f"Copied {rows} rows of {args.course}'s gradebook; now set c.CourseDirectory.db_url to that URL")
        elif args.command == "serve":
            from serve import serve

            require_sandbox(args.no_sandbox, args.course)
            try:
                serve(args.course, args.stage, once=args.once, overrides=flag_settings(args))
            except KeyboardInterrupt:
                print("stopped")
        elif args.command == "check":
            return 0 if self_check(args.stage, args.notebook) else 1
        elif args.command == "run":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise CourseError("run: no command given (python -m classroom run -- COMMAND ...)")
            os.execvpe(argv[0], argv, grading_env())
        elif args.command == "validate":
            if not args.notebook.is_file():
                raise CourseError(f"{args.notebook}: no such notebook")
            return 0 if validate(args.notebook, args.invert) else 1
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    use_grading_env()  # what this command starts (nbgrader, workers, kernels) inherits it
    sys.exit(main())
