"""Grading across a trust boundary: hidden checks in the grader, learner code in its kernel.

`TrustedExecute` replaces nbgrader's ``Execute`` preprocessor (see
``nbgrader_config.py``).  It runs every cell of a submission in the
learner's kernel (sandboxed by `sandbox.SandboxedKernelManager`) except the
hidden part of each test cell (between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``).  That part runs here, in the grader's process:
names it uses that the grader does not define (``propagate``, ``m_train``)
come from the kernel through `learner.KernelChannel` (`firstneuron.bridge`), a
channel that carries plain data only.  A learner's function becomes a
`learner.LearnerFunction` whose calls send the arguments to the kernel and bring
back the result, printed output, arguments changed in place and exceptions.
So the checks, the reference and
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
import contextlib
import json
import time
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

import checks  # noqa: F401  (the grader's own, from autograder/, loaded before any submission's file exists)
import sandbox
import sanitize
from cells import ErrorKind, is_graded, is_test_cell, set_diagnosis, split_hidden
from learner import (
    MAX_ENAME, GradingInterrupted, KernelChannel, bounded_client, run_hidden, scratch_full,
)


OUTPUT_CUT = "\n[output cut: this cell printed more than {limit} characters (TrustedExecute.max_output)]\n"
NOTEBOOK_CUT = ("\n[output cut: the notebook printed more than {limit} characters in all "
                "(TrustedExecute.max_notebook_output)]\n")
ERROR_CUT = " [cut: more than {limit} characters (TrustedExecute.max_error_chars)]"


def error_output(ename, evalue):
    """An nbformat error output that shows one line, ``ename: evalue``."""
    ename = str(ename)  # a cells.ErrorKind is written as its plain name
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"{ename}: {evalue}" if evalue else ename])


class TrustedExecute(Execute):
    """nbgrader's Execute with the trust boundary, the sandbox and fair handling of machinery.

    Configured in ``nbgrader_config.py`` as the first of
    ``Autograde.autograde_preprocessors``.
    """

    # The kernel.
    sandbox = Bool(True, help="Run the learner's kernel in a bubblewrap sandbox (see sandbox.py).").tag(config=True)

    # Time: a notebook's whole run, and a stuck or dead kernel.
    submission_timeout = Integer(300, help="Seconds one notebook may run in all, hidden checks included.").tag(
        config=True)
    interrupt_grace = Float(3.0, help="Seconds a kernel gets to stop after an interrupt (a cell past its time limit) "
                            "before it is restarted. Default: 3.").tag(config=True)
    max_restarts = Integer(3, help="Restarts of a dead or stuck kernel per submission; past them, the rest of the "
                           "notebook is not run. Default: 3.").tag(config=True)

    # What a submission may be, checked before it runs.
    max_notebook_bytes = Integer(32 * 1024**2, help="Bytes of a submitted notebook file, checked before it is read: "
                                 "a larger one is not graded. Default: 32 MiB.").tag(config=True)
    max_cells = Integer(300, help="Cells of a submitted notebook: one with more is not graded. "
                        "Default: 300.").tag(config=True)

    # What the kernel sends, bounded before it is read.
    max_message_bytes = Integer(64 * 1024**2, help="Bytes of one message the learner's kernel may send while a cell "
                                "runs (libzmq's MAXMSGSIZE: a larger one is never read). Sending one fails the cell "
                                "and restarts the kernel. Default: 64 MiB.").tag(config=True)
    max_answer_bytes = Integer(64 * 1024**2, help="Bytes of one answer of the learner's kernel to a hidden check "
                               "(firstneuron.bridge; a larger one is never read). Crossing it fails that test cell. "
                               "Default: 64 MiB.").tag(config=True)

    # What is kept of the outputs.
    max_output = Integer(1_000_000, help="Characters of output kept per cell (every kind of output counted; "
                         "error outputs are always kept, cut to max_error_chars). Default: 1,000,000.").tag(config=True)
    max_notebook_output = Integer(5_000_000, help="Characters of output kept per notebook; past it, each later cell "
                                  "keeps only its errors and a line saying so. Default: 5,000,000.").tag(config=True)
    max_error_chars = Integer(20_000, help="Characters of one error output (its message and traceback) kept, "
                              "from the kernel or from a hidden check. Default: 20,000.").tag(config=True)

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
            cell.outputs = [error_output(ErrorKind.TIMED_OUT, "not run: the notebook used up its time limit")]
            return cell
        hidden, visible = split_hidden(cell.source) if is_graded(cell) else (None, cell.source)
        self._printed[cell_index] = 0
        self._cut_cells.discard(cell_index)
        stuck = None  # why the kernel may no longer answer
        try:
            if hidden is not None:
                # In a thread of its own, outside this loop's context (the blocking client runs its own loop).
                outcome = await asyncio.get_running_loop().run_in_executor(None, self._hidden, hidden)
                set_diagnosis(cell, outcome.diagnosis)
                cell.outputs = [] if outcome.passed else [error_output(outcome.ename, str(outcome.error))]
            else:
                cell.outputs = []
            if visible.strip() and not cell.outputs:  # after hidden checks that passed
                original, cell.source = cell.source, visible
                try:
                    await super().async_execute_cell(cell, cell_index, execution_count, store_history)
                finally:
                    cell.source = original
            if any(o.get("ename") == ErrorKind.TIMED_OUT for o in cell.outputs):
                stuck = "the cell ran past its time limit and ignored the interrupt"
        except GradingInterrupted as stop:
            cell.outputs = [error_output(stop.ename, str(stop))]
            stuck = str(stop)
            if stop.ename == ErrorKind.KERNEL_DIED:
                await self._restart(cell_index, stuck)
                stuck = None
        except CellTimeoutError:
            cell.outputs = [error_output(ErrorKind.TIMED_OUT, "this cell ran past its time limit")]
            stuck = "the cell ran past its time limit and ignored the interrupt"
        except DeadKernelError:
            cell.outputs = [error_output(ErrorKind.KERNEL_DIED, "the kernel died while this cell ran (the process "
                                         "exited, crashed or ran out of memory)")]
            full = scratch_full(self.km)  # its guard ended it: the folder says so, not the kernel
            if full:
                cell.outputs = [error_output(ErrorKind.KERNEL_DIED, full)]
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
        if is_graded(cell):
            cell.outputs = [_grade_safe(o) for o in cell.outputs]
        return cell

    execute_cell = run_sync(async_execute_cell)

    def _hidden(self, source):
        channel = KernelChannel(self.km, min(self._deadline, time.monotonic() + (self.timeout or 30)),
                                self.max_answer_bytes, self.interrupt_grace)
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
            data = {k: v for k, v in out["data"].items() if k in sanitize.INERT_MIMETYPES}
            out["data"] = data or {"text/plain": "[output of a kind the grader does not keep]"}
        return out

    # --- the kernel ---

    async def async_start_new_kernel_client(self):
        """nbclient's client, whose sockets never deliver a message over `max_message_bytes`."""
        self.km.client_factory = bounded_client(AsyncKernelClient, self.max_message_bytes)
        self._cut_off = False
        return await super().async_start_new_kernel_client()

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _async_check_alive(self):
        """nbclient's check that the kernel lives (each second while a cell runs), which also ends a cut connection."""
        if self._connection_cut():
            self._cut_off = True
            raise DeadKernelError("the kernel's connection was cut")
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
        return error_output(ErrorKind.TOO_LARGE, f"the kernel sent a message larger than {self.max_message_bytes} bytes "
                                       "(TrustedExecute.max_message_bytes); it was not read, and the kernel was "
                                       "restarted")

    async def _responsive(self):
        """True when the kernel answers a kernel_info request within the grace period."""
        try:
            msg_id = self.kc.kernel_info()
            end = time.monotonic() + self.interrupt_grace
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
        if self._restarts > self.max_restarts:
            self._deadline = 0  # the rest of the notebook is not run
            return
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel(cwd=self._cwd)
        await self.async_start_new_kernel_client()
        for cell in self.nb.cells[:cell_index]:
            if cell.cell_type != "code" or is_test_cell(cell):
                continue
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                continue
            msg_id = self.kc.execute(cell.source, store_history=False)
            with contextlib.suppress(Exception):
                await self.async_wait_for_reply(msg_id, cell)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.submission_timeout
        self._printed, self._printed_total, self._cut_cells, self._restarts = {}, 0, set(), 0
        self._cut_off = False
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
