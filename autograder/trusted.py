"""Grading across a trust boundary: hidden checks in the grader, learner code in its kernel.

`TrustedExecute` replaces nbgrader's ``Execute`` preprocessor (see
``nbgrader_config.py``).  It runs every cell of a submission in the
learner's kernel (sandboxed by `sandbox.SandboxedKernelManager`) except the
hidden part of each test cell (between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``).  That part runs here, in the grader's process:
names it uses that the grader does not define (``propagate``, ``m_train``)
come from the kernel through `firstneuron.bridge`, a channel that carries
plain data only.  A learner's function becomes a `LearnerFunction` whose calls
send the arguments to the kernel and bring back the result, printed output,
arguments changed in place and exceptions.  So the checks, the reference and
the expected values never enter the learner's interpreter, and nothing the
kernel does (patching numpy, inspecting frames, rewriting input) can reach
them.

A test cell's outcome is the hidden checks' verdict, then the visible tests'
(run in the kernel).  Honest machinery never costs points: standard error in a
test cell does not fail it, a cell over its time limit or a kernel that dies
costs that cell only (the kernel is restarted and the earlier cells replayed),
and learner-made HTML or JavaScript is never kept in the notebook.
"""
import asyncio
import builtins
import contextlib
import io
import json
import re
import sys
import time
from queue import Empty

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Integer

import checks  # noqa: F401  (the grader's own, from autograder/, loaded before any submission's file exists)
import sandbox
from firstneuron import bridge

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
#: Output MIME types kept from a learner's kernel: nothing that a browser would run.
SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
#: Seconds the kernel gets to stop after an interrupt before it is restarted.
INTERRUPT_GRACE = 3
#: Restarts of a dead or stuck kernel per submission.
MAX_RESTARTS = 3

TIMED_OUT = "CellTimeoutError"
KERNEL_DIED = "KernelDied"
OUTPUT_CUT = "\n[output cut: this cell printed more than {limit} characters]\n"


class GradingInterrupted(BaseException):
    """The learner's code ran past its time limit or its kernel died; not an exception a check may catch."""

    def __init__(self, ename, message):
        super().__init__(message)
        self.ename = ename


class LearnerException(Exception):
    """An exception of a class that is not a Python builtin, raised by the learner's code."""


def learner_exception(error):
    """The exception a check sees for `error` (the kernel's report): a builtin class where it was one."""
    name, message = str(error.get("type", "Exception")), str(error.get("message", ""))
    name = name if name.isidentifier() else "LearnerException"
    cls = getattr(builtins, name, None)
    if not (error.get("builtin") and isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (LearnerException,), {})
    try:
        exception = cls(message)
    except (TypeError, ValueError):  # builtins with other signatures (UnicodeDecodeError ...)
        exception = type(name, (LearnerException,), {})(message)
    frames = error.get("frames") or []
    exception.learner_frames = [tuple(f) for f in frames if isinstance(f, list) and len(f) == 4]
    return exception


class KernelBridge:
    """The grader's end of `firstneuron.bridge`: requests to the learner's kernel, answers as plain data.

    Parameters
    ----------
    km : jupyter_client.KernelManager
        The kernel's manager (to interrupt it).
    deadline : float
        ``time.monotonic()`` after which requests stop with `GradingInterrupted`.
    """

    def __init__(self, km, deadline):
        self.km = km
        self.deadline = deadline
        self.kc = km.blocking_client()
        self.kc.start_channels()

    def close(self):
        self.kc.stop_channels()

    def request(self, payload, substitutes=None):
        """Send one request; return the kernel's answer (a dict) once the kernel is idle again."""
        code = f"__import__('firstneuron.bridge', fromlist=['serve']).serve({json.dumps(payload)!r})"
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=bool(substitutes),
                                 stop_on_error=False)
        answer = None
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self._interrupt()
                raise GradingInterrupted(TIMED_OUT, "time limit")
            if substitutes:
                self._answer_stdin(substitutes)
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.05 if substitutes else 1.0))
            except Empty:
                if not self.kc.is_alive():
                    raise GradingInterrupted(KERNEL_DIED, "the kernel died") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data" and bridge.MIME in content.get("data", {}):
                answer = content["data"][bridge.MIME]
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        if not isinstance(answer, dict):
            raise GradingInterrupted(KERNEL_DIED, "the kernel gave no answer (it may have exited)")
        return answer

    def _answer_stdin(self, substitutes):
        try:
            msg = self.kc.get_stdin_msg(timeout=0)
        except Empty:
            return
        if msg["msg_type"] != "input_request":
            return
        try:
            request = json.loads(msg["content"]["prompt"])
            function = substitutes[request["substitute"]]
            reply = bridge.dumps(function(*bridge.decode(request["args"])))
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            reply = bridge.dumps({"error": type(error).__name__})
        self.kc.input(reply)

    def _interrupt(self):
        """Interrupt the kernel and wait for it to be idle; GradingInterrupted says whether it came back."""
        with contextlib.suppress(Exception):  # a kernel that is gone cannot be interrupted
            result = self.km.interrupt_kernel()
            if asyncio.iscoroutine(result):  # an AsyncKernelManager's; this thread has no loop running
                asyncio.run(result)
        end = time.monotonic() + INTERRUPT_GRACE
        while time.monotonic() < end:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Empty:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return

    def describe(self, name):
        return self.request({"op": "describe", "name": name})

    def call(self, name, args, kwargs, substitutes=None):
        payload = {"op": "call", "name": name, "args": bridge.encode(list(args)),
                   "kwargs": bridge.encode(dict(kwargs)), "substitutes": sorted(substitutes or {})}
        return self.request(payload, substitutes)


class LearnerFunction:
    """A learner's function, called in the learner's kernel with plain data (see `KernelBridge`)."""

    def __init__(self, channel, name, module):
        self._channel, self.__name__, self.__qualname__ = channel, name, name
        self.__module__ = module
        self._substitutes = {}

    def __repr__(self):
        return f"<the learner's function {self.__name__}>"

    @contextlib.contextmanager
    def substitute(self, name, replacement):
        """While the block runs, the learner's function finds the grader's `replacement` under `name`."""
        self._substitutes[name] = replacement
        try:
            yield
        finally:
            del self._substitutes[name]

    def __call__(self, *args, **kwargs):
        answer = self._channel.call(self.__name__, args, kwargs, dict(self._substitutes))
        if "bridge_error" in answer:
            error = answer["bridge_error"]
            raise TypeError(f"{self.__name__}: its result cannot be graded: {error.get('message', '')}")
        for index, value in answer.get("changed", []):
            _write_back(args, index, value)
        sys.stdout.write(str(answer.get("stdout", "")))
        sys.stderr.write(str(answer.get("stderr", "")))
        if "error" in answer:
            raise learner_exception(answer["error"])
        return bridge.decode(answer.get("result"))


def _write_back(args, index, value):
    """Change the grader's copy of argument `index` as the learner's function changed its own."""
    import numpy as np

    if not (isinstance(index, int) and 0 <= index < len(args) and isinstance(args[index], np.ndarray)):
        return
    target = args[index]
    try:
        target[...] = bridge.decode(value)
    except (ValueError, TypeError, bridge.BridgeError):
        target[...] = np.logical_not(target) if target.dtype == bool else target + 1  # changed, somehow


class KernelNamespace(dict):
    """The names hidden tests use: their own (imports, assignments), else the learner's kernel's."""

    def __init__(self, channel):
        super().__init__()
        self._channel = channel

    def __getitem__(self, name):
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        if hasattr(builtins, name):
            raise KeyError(name)
        answer = self._channel.describe(name)
        kind = answer.get("kind")
        if kind == "function":
            value = LearnerFunction(self._channel, name, str(answer.get("module")))
        elif kind == "value":
            value = bridge.decode(answer.get("value"))
        else:
            raise KeyError(name)
        dict.__setitem__(self, name, value)
        return value


def split_hidden(source):
    """``(hidden, visible)``: a test cell's hidden tests and the rest, or ``(None, source)``."""
    hidden = HIDDEN.findall(source)
    if not hidden:
        return None, source
    return "\n".join(hidden), HIDDEN.sub("", source)


def error_output(ename, evalue):
    """An nbformat error output that shows one line, ``ename: evalue``."""
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"{ename}: {evalue}" if evalue else ename])


def run_hidden(source, channel):
    """Run hidden tests here, against the learner's kernel.

    Returns
    -------
    failure : nbformat output or None
        The error output a failed check leaves in the test cell (None when they pass).
    diagnosis : dict or None
        ``{"name": ..., "hint": ...}`` when a check named the learner's mistake: data for the
        gradebook's readers (kept in the cell's metadata under ``firstneuron``), never parsed
        back out of the message.
    """
    namespace = KernelNamespace(channel)
    context = {"__builtins__": builtins, "__name__": "__hidden_tests__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(source, "<hidden tests>", "exec"), context, namespace)
        except Exception as error:  # the verdict of a check, or the learner's exception it let through
            name = getattr(error, "mistake", None)
            diagnosis = {"name": name, "hint": getattr(error, "hint", None)} if isinstance(name, str) else None
            return error_output(type(error).__name__, str(error)), diagnosis
    return None, None


class TrustedExecute(Execute):
    """nbgrader's Execute with the trust boundary, the sandbox and fair handling of machinery.

    Configured in ``nbgrader_config.py`` as the first of
    ``Autograde.autograde_preprocessors``.
    """

    sandbox = Bool(True, help="Run the learner's kernel in a bubblewrap sandbox (see sandbox.py).").tag(config=True)
    submission_timeout = Integer(300, help="Seconds one notebook may run in all, hidden checks included.").tag(
        config=True)
    max_output = Integer(1_000_000, help="Characters of output kept per cell.").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Without the sandbox the kernel still talks over ipc sockets (no TCP port, no warning about one).
        self.kernel_manager_class = sandbox.SandboxedKernelManager if self.sandbox else sandbox.IpcKernelManager
        self.extra_arguments = ["--HistoryManager.hist_file=:memory:"]

    # --- one cell ---

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        if time.monotonic() > self._deadline:
            cell.outputs = [error_output(TIMED_OUT, "not run: the notebook used up its time limit")]
            return cell
        hidden, visible = split_hidden(cell.source) if is_grade(cell) else (None, cell.source)
        self._printed[cell_index] = 0
        stuck = None  # why the kernel may no longer answer
        try:
            if hidden is not None:
                # In a thread of its own, outside this loop's context (the blocking client runs its own loop).
                failure, diagnosis = await asyncio.get_running_loop().run_in_executor(None, self._hidden, hidden)
                cell.metadata.pop("firstneuron", None)
                if diagnosis:
                    cell.metadata["firstneuron"] = {"diagnosis": diagnosis}
                if failure is not None:
                    cell.outputs = [failure]
                    return cell
            cell.outputs = []
            if visible.strip():
                original, cell.source = cell.source, visible
                try:
                    await super().async_execute_cell(cell, cell_index, execution_count, store_history)
                finally:
                    cell.source = original
            if any(o.get("ename") == TIMED_OUT for o in cell.outputs):
                stuck = "the cell ran past its time limit and ignored the interrupt"
        except GradingInterrupted as stop:
            cell.outputs = [error_output(stop.ename, str(stop))]
            stuck = str(stop)
            if stop.ename == KERNEL_DIED:
                await self._restart(cell_index, stuck)
                stuck = None
        except CellTimeoutError:
            cell.outputs = [error_output(TIMED_OUT, "this cell ran past its time limit")]
            stuck = "the cell ran past its time limit and ignored the interrupt"
        except DeadKernelError:
            cell.outputs = [error_output(KERNEL_DIED, "the kernel died while this cell ran (the process "
                                         "exited, crashed, ran out of memory or wrote more files than its "
                                         "folder may hold)")]
            await self._restart(cell_index, "the kernel died")
        if stuck and not await self._responsive():
            await self._restart(cell_index, stuck)
        if is_grade(cell):
            cell.outputs = [_grade_safe(o) for o in cell.outputs]
        return cell

    execute_cell = run_sync(async_execute_cell)

    def _hidden(self, source):
        channel = KernelBridge(self.km, min(self._deadline, time.monotonic() + (self.timeout or 30)))
        try:
            return run_hidden(source, channel)
        finally:
            channel.close()

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most `max_output` characters per cell, and only safe MIME types."""
        content = msg.get("content", {})
        size = len(json.dumps(content)) if msg["msg_type"] != "stream" else len(content.get("text", ""))
        printed = self._printed.get(cell_index, 0)
        self._printed[cell_index] = printed + size
        if printed > self.max_output:
            return None
        if printed + size > self.max_output:
            outs.append(nbformat.v4.new_output("stream", name="stdout",
                                               text=OUTPUT_CUT.format(limit=self.max_output)))
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and "data" in out:
            data = {k: v for k, v in out["data"].items() if k in SAFE_MIME}
            out["data"] = data or {"text/plain": "[output of a kind the grader does not keep]"}
        return out

    # --- the kernel ---

    async def _responsive(self):
        """True when the kernel answers a kernel_info request within the grace period."""
        try:
            msg_id = self.kc.kernel_info()
            end = time.monotonic() + INTERRUPT_GRACE
            while time.monotonic() < end:
                try:
                    reply = await self.kc.get_shell_msg(timeout=max(0.05, end - time.monotonic()))
                except Empty:
                    break
                if reply["parent_header"].get("msg_id") == msg_id:
                    return True
        except (RuntimeError, OSError):
            pass
        return False

    async def _restart(self, cell_index, reason):
        """A fresh kernel, with the cells before `cell_index` run again (their outputs kept)."""
        self._restarts += 1
        self.log.warning("Restarting the kernel before cell %d: %s", cell_index + 1, reason)
        with contextlib.suppress(Exception):
            await self.km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.kc.stop_channels()
        if self._restarts > MAX_RESTARTS:
            self._deadline = 0  # the rest of the notebook is not run
            return
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel(cwd=self._cwd)
        await self.async_start_new_kernel_client()
        for cell in self.nb.cells[:cell_index]:
            if cell.cell_type != "code" or is_grade(cell) and not is_solution(cell):
                continue
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                continue
            msg_id = self.kc.execute(cell.source, store_history=False)
            with contextlib.suppress(Exception):
                await self.async_wait_for_reply(msg_id, cell)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.submission_timeout
        self._printed, self._restarts = {}, 0
        self._cwd = (resources or {}).get("metadata", {}).get("path")
        try:
            return super().preprocess(nb, resources, km)
        finally:
            # nbclient shuts down only a kernel it made itself: one started by `_restart` in place of the
            # caller's `km` is this executor's to shut down (its scratch folder goes with it).
            if km is not None and self.km is not None and self.km is not km:
                with contextlib.suppress(Exception):
                    self.kc.stop_channels()
                with contextlib.suppress(Exception):
                    run_sync(self.km.shutdown_kernel)(now=True)




def _grade_safe(output):
    """An output of a test cell that cannot change its grade: errors stay errors, nothing else fails it.

    nbgrader gives 0 to a test cell with any standard-error output (a warning
    from correct code) and reads a number shown as the cell's result as
    partial credit; here standard error is kept as plain text and results as
    display data, so only an error decides.
    """
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return nbformat.v4.new_output("stream", name="stdout", text=output.get("text", ""))
    if output.get("output_type") == "execute_result":
        return nbformat.v4.new_output("display_data", data=output.get("data", {}), metadata=output.get("metadata", {}))
    return output
