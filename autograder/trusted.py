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
import functools
import io
import json
import os
import re
import sys
import time
from queue import Empty

import nbformat
import zmq
import zmq.utils.monitor
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.blocking import BlockingKernelClient
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
#: Seconds a channel to the kernel may stay disconnected before it counts as cut (libzmq reconnects at once).
RECONNECT_GRACE = 3.0
#: Restarts of a dead or stuck kernel per submission.
MAX_RESTARTS = 3

TIMED_OUT = "CellTimeoutError"
KERNEL_DIED = "KernelDied"
TOO_LARGE = "MessageTooLarge"
SCRATCH_FULL = ("the kernel wrote more than {limit} bytes to its scratch folder (TrustedExecute.max_scratch_bytes); "
                "it was restarted with a fresh one")
OUTPUT_CUT = "\n[output cut: this cell printed more than {limit} characters (TrustedExecute.max_output)]\n"
NOTEBOOK_CUT = ("\n[output cut: the notebook printed more than {limit} characters in all "
                "(TrustedExecute.max_notebook_output)]\n")
ERROR_CUT = " [cut: more than {limit} characters (TrustedExecute.max_error_chars)]"
#: Characters of an exception's class name kept.
MAX_ENAME = 100


class GradingInterrupted(BaseException):
    """The learner's code ran past its time limit or its kernel died; not an exception a check may catch."""

    def __init__(self, ename, message):
        super().__init__(message)
        self.ename = ename


class LearnerException(Exception):
    """An exception of a class that is not a Python builtin, raised by the learner's code."""


def learner_exception(error):
    """The exception a check sees for `error` (the kernel's report): a builtin class where it was one."""
    name, message = str(error.get("type", "Exception")), str(error.get("message", ""))[:bridge.MAX_MESSAGE]
    name = name if name.isidentifier() and len(name) <= MAX_ENAME else "LearnerException"
    cls = getattr(builtins, name, None)
    if not (error.get("builtin") and isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (LearnerException,), {})
    try:
        exception = cls(message)
    except (TypeError, ValueError):  # builtins with other signatures (UnicodeDecodeError ...)
        exception = type(name, (LearnerException,), {})(message)
    frames = error.get("frames") if isinstance(error.get("frames"), list) else []
    exception.learner_frames = [tuple(str(part)[:bridge.MAX_FRAME_TEXT] if isinstance(part, str) else part
                                      for part in frame)
                                for frame in frames[-bridge.MAX_FRAMES:] if isinstance(frame, list) and len(frame) == 4]
    return exception


@functools.lru_cache(maxsize=None)
def bounded_client(base, limit):
    """`base` (a kernel client class) whose sockets drop any message over `limit` bytes, and say so.

    libzmq checks a message's declared size against ``ZMQ_MAXMSGSIZE`` before it
    reads the message, and cuts the connection to a peer that sends a larger
    one (it does not reconnect).  So the grader never reads, let alone parses,
    an oversized message; `connection_cut` tells it that one was sent.

    Parameters
    ----------
    base : type
        ``AsyncKernelClient`` (nbclient's) or ``BlockingKernelClient`` (the bridge's).
    limit : int
        Bytes of one message (of each of its parts), at most.

    Returns
    -------
    cls : type
        A subclass of `base`.
    """

    class Bounded(base):
        max_message_bytes = limit

        def _context_default(self):
            context = super()._context_default()
            context.setsockopt(zmq.MAXMSGSIZE, limit)
            return context

        def start_channels(self, *args, **kwargs):
            super().start_channels(*args, **kwargs)
            self._watchers = []
            for name in ("_shell_channel", "_iopub_channel", "_stdin_channel", "_control_channel"):
                sock = getattr(getattr(self, name, None), "socket", None)
                if sock is None:
                    continue
                address = f"inproc://firstneuron-monitor-{id(self)}-{name}"
                sock.monitor(address, zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
                watcher = zmq.Context.shadow(sock.context.underlying).socket(zmq.PAIR)
                watcher.linger = 0
                watcher.connect(address)
                self._watchers.append([watcher, None])  # the socket, and when it was disconnected

        def connection_cut(self, settle=False):
            """True once a channel to the kernel was cut for good (an oversized message, or its death).

            libzmq reconnects after a timeout or a dropped connection, never after
            an oversized message: a disconnection counts once `RECONNECT_GRACE`
            seconds passed without a new handshake.  With `settle`, a recent
            disconnection is waited out rather than left for later.
            """
            now = time.monotonic()
            pending = 0.0
            for state in getattr(self, "_watchers", []):
                while state[0].poll(0):
                    event = zmq.utils.monitor.recv_monitor_message(state[0])["event"]
                    state[1] = now if event == zmq.EVENT_DISCONNECTED else None
                if state[1] is not None:
                    if now - state[1] > RECONNECT_GRACE:
                        return True
                    pending = max(pending, RECONNECT_GRACE - (now - state[1]))
            if settle and pending:
                time.sleep(pending + 0.1)
                return self.connection_cut()
            return False

        def stop_channels(self):
            for name in ("_shell_channel", "_iopub_channel", "_stdin_channel", "_control_channel"):
                sock = getattr(getattr(self, name, None), "socket", None)
                if sock is not None and not sock.closed:
                    with contextlib.suppress(zmq.ZMQError):
                        sock.disable_monitor()
            for watcher, _ in getattr(self, "_watchers", []):
                watcher.close()
            self._watchers = []
            super().stop_channels()

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{base.__name__}"
    return Bounded


class KernelBridge:
    """The grader's end of `firstneuron.bridge`: requests to the learner's kernel, answers as plain data.

    Parameters
    ----------
    km : jupyter_client.KernelManager
        The kernel's manager (to interrupt it).
    deadline : float
        ``time.monotonic()`` after which requests stop with `GradingInterrupted`.
    max_answer_bytes : int
        Bytes of one message from the kernel, at most: a larger answer is never read
        (see `bounded_client`) and stops the request with `GradingInterrupted`.
    """

    def __init__(self, km, deadline, max_answer_bytes=64 * 1024**2, max_scratch_bytes=None):
        self.km = km
        self.deadline = deadline
        self.max_scratch_bytes, self._checked = max_scratch_bytes, time.monotonic()
        self.kc = bounded_client(BlockingKernelClient, max_answer_bytes)(parent=km)
        self.kc.load_connection_info(km.get_connection_info())
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
            if self.kc.connection_cut():
                raise self._cut()
            if self.max_scratch_bytes is not None and time.monotonic() > self._checked + 1:
                self._checked = time.monotonic()
                if (scratch_bytes(self.km) or 0) > self.max_scratch_bytes:
                    self._interrupt()
                    raise GradingInterrupted(KERNEL_DIED, SCRATCH_FULL.format(limit=self.max_scratch_bytes))
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.05 if substitutes else 0.5))
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

    def _cut(self):
        """The `GradingInterrupted` for a connection the kernel lost: an oversized answer, or its death."""
        if kernel_alive(self.km):
            return GradingInterrupted(TOO_LARGE, f"the kernel sent an answer larger than "
                                                 f"{self.kc.max_message_bytes} bytes (TrustedExecute.max_answer_bytes)")
        return GradingInterrupted(KERNEL_DIED, "the kernel died")

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


#: Files and folders of a scratch folder counted at most: more is treated as over its cap.
MAX_SCRATCH_ENTRIES = 100_000


def scratch_bytes(km):
    """Bytes of disk the files in the scratch folder of `km` use (None without a scratch folder).

    Counting stops past `MAX_SCRATCH_ENTRIES` files and folders, which counts as
    more than any cap.
    """
    scratch = getattr(km, "scratch", None)
    if scratch is None:
        return None
    total, entries, folders = 0, 0, [str(scratch)]
    while folders:
        with contextlib.suppress(OSError), os.scandir(folders.pop()) as found:
            for entry in found:
                entries += 1
                if entries > MAX_SCRATCH_ENTRIES:
                    return sys.maxsize
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


def kernel_alive(km, wait=1.0):
    """True when the kernel of `km` is still running `wait` seconds after its connection was cut."""
    time.sleep(wait)  # a kernel that died closes its sockets before its process is reaped
    with contextlib.suppress(Exception):  # a manager that cannot tell: the kernel is treated as dead
        alive = km.is_alive()
        return bool(asyncio.run(alive) if asyncio.iscoroutine(alive) else alive)
    return False


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
            message = str(error.get("message", "") if isinstance(error, dict) else "")[:bridge.MAX_MESSAGE]
            raise TypeError(f"{self.__name__}: its result cannot be graded: {message}")
        for index, value in answer.get("changed", []):
            _write_back(args, index, value)
        sys.stdout.write(str(answer.get("stdout", ""))[:bridge.MAX_PRINTED])
        sys.stderr.write(str(answer.get("stderr", ""))[:bridge.MAX_PRINTED])
        if "error" in answer:
            raise learner_exception(answer["error"] if isinstance(answer["error"], dict) else {})
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
    max_output = Integer(1_000_000, help="Characters of output kept per cell (every kind of output counted; "
                         "error outputs are always kept, cut to max_error_chars). Default: 1,000,000.").tag(config=True)
    max_notebook_output = Integer(5_000_000, help="Characters of output kept per notebook; past it, each later cell "
                                  "keeps only its errors and a line saying so. Default: 5,000,000.").tag(config=True)
    max_error_chars = Integer(20_000, help="Characters of one error output (its message and traceback) kept, "
                              "from the kernel or from a hidden check. Default: 20,000.").tag(config=True)
    max_message_bytes = Integer(64 * 1024**2, help="Bytes of one message the learner's kernel may send while a cell "
                                "runs (libzmq's MAXMSGSIZE: a larger one is never read). Sending one fails the cell "
                                "and restarts the kernel. Default: 64 MiB.").tag(config=True)
    max_answer_bytes = Integer(64 * 1024**2, help="Bytes of one answer of the learner's kernel to a hidden check "
                               "(firstneuron.bridge; a larger one is never read). Crossing it fails that test cell. "
                               "Default: 64 MiB.").tag(config=True)
    max_scratch_bytes = Integer(512 * 1024**2, help="Bytes a sandboxed kernel's scratch folder may hold (the "
                                "submission's copy included), checked each second: past it, the cell fails and the "
                                "kernel is restarted with a fresh scratch folder. Default: 512 MiB.").tag(config=True)
    max_notebook_bytes = Integer(32 * 1024**2, help="Bytes of a submitted notebook file, checked before it is read: "
                                 "a larger one is not graded. Default: 32 MiB.").tag(config=True)
    max_cells = Integer(300, help="Cells of a submitted notebook: one with more is not graded. "
                        "Default: 300.").tag(config=True)

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
        self._cut_cells.discard(cell_index)
        stuck = None  # why the kernel may no longer answer
        try:
            if hidden is not None:
                # In a thread of its own, outside this loop's context (the blocking client runs its own loop).
                failure, diagnosis = await asyncio.get_running_loop().run_in_executor(None, self._hidden, hidden)
                cell.metadata.pop("firstneuron", None)
                if diagnosis:
                    cell.metadata["firstneuron"] = {"diagnosis": diagnosis}
                cell.outputs = [failure] if failure is not None else []
            else:
                cell.outputs = []
            if visible.strip() and not cell.outputs:  # after hidden checks that passed
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
            if self._scratch_full:
                cell.outputs = [error_output(KERNEL_DIED, SCRATCH_FULL.format(limit=self.max_scratch_bytes))]
            elif self._cut_off and await self._still_alive():
                cell.outputs = [self._too_large()]
            await self._restart(cell_index, "the kernel died")
            stuck = None
        if self._connection_cut(settle=True) and await self._still_alive():
            cell.outputs = [self._too_large()]  # what it showed before is not trusted either
            await self._restart(cell_index, "the kernel sent an oversized message")
            stuck = None
        if stuck and not await self._responsive():
            await self._restart(cell_index, stuck)
        cell.outputs = [bounded_error(o, self.max_error_chars) for o in cell.outputs]
        if is_grade(cell):
            cell.outputs = [_grade_safe(o) for o in cell.outputs]
        return cell

    execute_cell = run_sync(async_execute_cell)

    def _hidden(self, source):
        channel = KernelBridge(self.km, min(self._deadline, time.monotonic() + (self.timeout or 30)),
                               self.max_answer_bytes, self.max_scratch_bytes)
        try:
            return run_hidden(source, channel)
        finally:
            channel.close()

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most `max_output` characters per cell and `max_notebook_output` per notebook, safe MIME types only.

        Every kind of output is counted.  A cell's first error output is always
        kept (it decides a test cell's grade); error outputs are cut to `max_error_chars`.
        """
        content = msg.get("content", {})
        first_error = False
        if msg["msg_type"] == "error":
            content = bounded_error(dict(content, output_type="error"), self.max_error_chars)
            msg = dict(msg, content=content)
            first_error = not any(o.get("output_type") == "error" for o in outs)
        text = content.get("text") if msg["msg_type"] == "stream" else None
        size = len(text) if isinstance(text, str) else len(json.dumps(content))
        printed = self._printed.get(cell_index, 0)
        self._printed[cell_index] = printed + size
        if printed + size > self.max_output:
            note = OUTPUT_CUT.format(limit=self.max_output)
        elif self._printed_total + size > self.max_notebook_output:
            note = NOTEBOOK_CUT.format(limit=self.max_notebook_output)
        else:
            self._printed_total += size
            note = None
        if note is not None and not first_error:  # a cell's first error is always kept: it decides the grade
            if cell_index not in self._cut_cells:  # one line per cell says what was cut
                self._cut_cells.add(cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
            return None
        out = super().output(outs, msg, display_id, cell_index)
        if (out is not None and out.get("output_type") == "stream" and len(outs) > 1 and outs[-1] is out
                and outs[-2].get("output_type") == "stream" and outs[-2].get("name") == out.get("name")):
            # One stream output however the kernel's flushes fell (they depend on the machine's load),
            # so a notebook graded in a busy class is the same file as graded alone.
            outs.pop()
            outs[-1]["text"] += out["text"]
            return outs[-1]
        if out is not None and "data" in out:
            data = {k: v for k, v in out["data"].items() if k in SAFE_MIME}
            out["data"] = data or {"text/plain": "[output of a kind the grader does not keep]"}
        return out

    # --- the kernel ---

    async def async_start_new_kernel_client(self):
        """nbclient's client, whose sockets never deliver a message over `max_message_bytes`."""
        self.km.client_factory = bounded_client(AsyncKernelClient, self.max_message_bytes)
        self._cut_off = self._scratch_full = False
        return await super().async_start_new_kernel_client()

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _async_check_alive(self):
        """nbclient's check that the kernel lives (each second while a cell runs), which also ends a cut connection."""
        if self._connection_cut():
            self._cut_off = True
            raise DeadKernelError("the kernel's connection was cut")
        if (scratch_bytes(self.km) or 0) > self.max_scratch_bytes:
            self._scratch_full = True
            raise DeadKernelError("the kernel's scratch folder is full")
        await super()._async_check_alive()

    def _connection_cut(self, settle=False):
        if not self._cut_off and self.kc is not None and hasattr(self.kc, "connection_cut"):
            self._cut_off = self.kc.connection_cut(settle)
        return self._cut_off

    async def _still_alive(self):
        """True when the kernel runs on after its connection was cut: it sent an oversized message."""
        await asyncio.sleep(1)  # a kernel that died closes its sockets before its process is reaped
        with contextlib.suppress(Exception):  # a manager that cannot tell: the kernel is treated as dead
            return bool(await self.km.is_alive())
        return False

    def _too_large(self):
        return error_output(TOO_LARGE, f"the kernel sent a message larger than {self.max_message_bytes} bytes "
                                       "(TrustedExecute.max_message_bytes); it was not read, and the kernel was "
                                       "restarted")

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
        self._printed, self._printed_total, self._cut_cells, self._restarts = {}, 0, set(), 0
        self._cut_off = self._scratch_full = False
        self._cwd = (resources or {}).get("metadata", {}).get("path")
        try:
            return super().preprocess(nb, resources, km)
        finally:
            # nbclient stops only a client and shuts down only a kernel it made itself.  The client is always
            # this executor's: stopped here, or its sockets (and their size watchers) stay open until garbage
            # collection, whose context.term() then waits for them forever.  A kernel started by `_restart`
            # in place of the caller's `km` is this executor's too (its scratch folder goes with it).
            if km is not None and getattr(self, "kc", None) is not None:
                with contextlib.suppress(Exception):
                    self.kc.stop_channels()
            if km is not None and self.km is not None and self.km is not km:
                with contextlib.suppress(Exception):
                    run_sync(self.km.shutdown_kernel)(now=True)




def bounded_error(output, limit):
    """`output`, or when it is an error output, a copy cut to `limit` characters (name, message, traceback)."""
    if output.get("output_type") != "error":
        return output
    ename, evalue = str(output.get("ename", ""))[:MAX_ENAME], str(output.get("evalue", ""))
    traceback = output.get("traceback")
    lines = [str(line) for line in traceback] if isinstance(traceback, list) else [f"{ename}: {evalue}"]
    if len(evalue) > limit:
        evalue = evalue[:limit] + ERROR_CUT.format(limit=limit)
    kept, room = [], limit
    for line in lines:
        if len(line) > room:
            kept.append(line[:room] + ERROR_CUT.format(limit=limit))
            break
        kept.append(line)
        room -= len(line)
    if isinstance(output, nbformat.NotebookNode) and (ename, evalue, kept) == (
            output.get("ename"), output.get("evalue"), output.get("traceback")):
        return output
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=kept)


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
