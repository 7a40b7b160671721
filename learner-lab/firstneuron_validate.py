"""nbgrader's Validate route, answered by the course's self-check: the learners' lab's toolbar button tells the truth.

A Jupyter server extension, enabled by ``learner-lab/jupyter_server_config.py``
in place of nbgrader's ``validate_assignment`` extension.  It serves the same
routes (``/assignments/validate``, ``/nbgrader_version``), so nbgrader's own
Validate button and dialog are used unchanged; only the answer differs:

- Where the course's autograder is next to this folder (``make lab`` in the
  course repository), Validate runs the self-check (``make check``: hidden
  tests included, in the sandbox where bubblewrap works) in this process and
  answers in the format the dialog shows: full marks as nbgrader's own
  "Success", otherwise each exercise's points with "passed", "not attempted
  yet" or the named mistake, and a link to the feedback page.
- Where it is not (``FirstNeuronValidate.hidden_tests = False``, or only the
  release is here), it runs nbgrader's validator (the visible tests) and says
  so: it never answers "passes all the tests" from the visible tests alone.

The dialog puts each failed entry's ``error`` into the page as HTML: every
text that comes from the notebook or the grader is escaped here.
"""
import asyncio
import html
import json
import re
import sys
import threading
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.validate_assignment.handlers import NbGraderVersionHandler, ValidateAssignmentHandler
from tornado import web
from traitlets import Bool
from traitlets.config import Configurable

#: The course repository this lab configuration belongs to.
REPO = Path(__file__).resolve().parent.parent
AUTOGRADER = REPO / "autograder"
#: What Validate says when it ran the visible tests only.
VISIBLE_ONLY = ("Validate ran the visible tests only: the hidden tests, which decide the grade, are not "
                "available here. Submit the assignment to get the graded feedback (hidden tests included).")
#: The route of the self-check's feedback pages.
FEEDBACK_ROUTE = "firstneuron/feedback"


class FirstNeuronValidate(Configurable):
    """The learners' lab's Validate (``c.FirstNeuronValidate.*`` in learner-lab's server configuration)."""

    hidden_tests = Bool(True, help=(
        "Validate runs the course's self-check, hidden tests included, when the course's autograder/ "
        "is next to learner-lab/ (default True). False: nbgrader's validator, visible tests only "
        "(as on a hub where learners have the release alone), and Validate says so.")).tag(config=True)


def hidden_tests_here(settings):
    """True when Validate can run the hidden tests: asked for, and the course's autograder is present."""
    return settings.hidden_tests and (AUTOGRADER / "selfcheck.py").is_file() and (REPO / "solutions").is_dir()


_CHECK = threading.Lock()  # one self-check at a time (they share the warm kernel)


def _selfcheck():
    if str(AUTOGRADER) not in sys.path:
        sys.path.insert(0, str(AUTOGRADER))
    import selfcheck

    return selfcheck


def stage_of(path):
    """The stage whose graded exercises the notebook at `path` holds (its folder's name first), or None."""
    from course import GRADED_FUNCTIONS, cell_grade_id, read_notebook

    for name in (path.parent.name, path.stem):
        if name in GRADED_FUNCTIONS:
            return name
    ids = {cell_grade_id(c) for c in read_notebook(path).cells}
    found = [stage for stage, names in GRADED_FUNCTIONS.items() if names and set(names) <= ids]
    return found[0] if len(found) == 1 else None


def self_check_answer(path, feedback_url):
    """The dialog's answer (nbgrader's validate format) from the self-check of the notebook at `path`."""
    selfcheck = _selfcheck()
    from course import CourseError

    try:
        stage = stage_of(path)
        if stage is None:
            return {"success": False, "value": f"{path.name}: this notebook holds no stage's exercises, "
                                                "so there is nothing to validate"}
        with _CHECK:
            _, outcome, page = selfcheck.grade_own(stage, path, echo=lambda line: None)
            warm_next(selfcheck)
    except CourseError as error:
        return {"success": False, "value": str(error)}
    if outcome.max_score > 0 and outcome.score >= outcome.max_score:
        return {"success": True, "value": {}}  # nbgrader's "Success! ... passes all the tests": hidden ones included
    rows = "".join(
        f"<tr><td>{html.escape(cell)}</td><td>&nbsp;{score:g}/{maximum:g}&nbsp;</td>"
        f"<td>{html.escape(selfcheck.verdict(outcome, cell).split(':')[0])}</td></tr>"
        for cell, (score, maximum) in outcome.cells.items())
    link = f"{feedback_url}/{page.name}"
    summary = (f"<div style=\"white-space: normal\"><p><b>Score: {outcome.score:g}/{outcome.max_score:g}</b> (the autograder's hidden tests included, "
               f"as your grade is computed)</p><table>{rows}</table>"
               f"<p><a href=\"{html.escape(link)}\" target=\"_blank\" rel=\"noopener\">Open the feedback page</a></p></div>")
    failed = []
    for cell, (score, maximum) in outcome.cells.items():
        if score < maximum:
            failed.append({"source": f"{cell}: {score:g}/{maximum:g} points",
                           "error": f"<div style=\"white-space: pre-wrap\">{html.escape(selfcheck.verdict(outcome, cell))}</div>"})
    failed[-1]["error"] += "<hr>" + summary
    return {"success": True, "value": {"failed": failed}}


def warm_next(selfcheck):
    """Boot the sandboxed kernel of the next Validate now, while the learner reads this one's answer."""
    selfcheck.prestart_kernel()


def visible_only(answer):
    """nbgrader's validator's `answer`, saying that it ran the visible tests only."""
    value = answer.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return answer
    if not answer.get("success") or not isinstance(value, dict):
        return answer
    if value.get("failed"):
        value["failed"][-1]["error"] += f"<hr><p>{html.escape(VISIBLE_ONLY)}</p>"
        return {"success": True, "value": value}
    if value.get("changed") or value.get("type_changed"):
        return {"success": True, "value": value}
    # Every visible test passed: not a grade.  The dialog's error form is the one that shows our words.
    return {"success": False, "value": "Every visible test passed. " + VISIBLE_ONLY}


class ValidateHandler(ValidateAssignmentHandler):
    """nbgrader's validate route: the self-check where the hidden tests are here, else the visible tests, said so."""

    @web.authenticated
    async def post(self):
        try:
            path = self.get_argument("path")
        except web.MissingArgumentError:
            path = self.get_json_body()["path"]
        root = Path(self.root_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        settings = FirstNeuronValidate(config=self.config)
        loop = asyncio.get_running_loop()
        if hidden_tests_here(settings):
            feedback_url = url_path_join(self.base_url, FEEDBACK_ROUTE)
            answer = await loop.run_in_executor(None, self_check_answer, target, feedback_url)
        else:
            answer = visible_only(await loop.run_in_executor(None, self.validate_notebook, str(target)))
        self.finish(json.dumps(answer))


class FeedbackHandler(JupyterHandler):
    """A feedback page of the self-check (``.grading/check/STAGE/feedback/``), inert: no script may run in it."""

    @web.authenticated
    def get(self, name):
        match = re.fullmatch(r"(\d\d-[a-z]+)-[0-9-]+\.html", name)
        if not match:
            raise web.HTTPError(404)
        page = _selfcheck().GRADING / "check" / match.group(1) / "feedback" / name
        if not page.is_file():
            raise web.HTTPError(404, f"{name}: no such feedback page (the last few are kept)")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
        self.finish(page.read_bytes())


def _jupyter_server_extension_points():
    return [{"module": "firstneuron_validate"}]


def _load_jupyter_server_extension(serverapp):
    web_app = serverapp.web_app
    web_app.settings["root_dir"] = serverapp.root_dir
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [
        (url_path_join(base_url, "assignments/validate"), ValidateHandler),
        (url_path_join(base_url, "nbgrader_version"), NbGraderVersionHandler),
        (url_path_join(base_url, FEEDBACK_ROUTE, r"([^/]+)"), FeedbackHandler),
    ])
    where = "the self-check, hidden tests included" if hidden_tests_here(FirstNeuronValidate(config=serverapp.config)) \
        else "nbgrader's validator, visible tests only"
    serverapp.log.info(f"First Neuron: Validate runs {where}")
