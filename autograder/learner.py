"""The learner's code, seen from the grader: names and functions reached through a channel of plain data.

A hidden test runs in the grader's process (`run_hidden`).  The names it uses
that it does not define (``propagate``, ``m_train``) are looked up through a
`Channel`: a function becomes a `LearnerFunction`, whose calls send the
arguments through the channel and bring back the result, printed output,
arguments changed in place and the exception raised, all as plain data
(`firstneuron.bridge`).  So the checks, the reference and the expected values
never enter the learner's interpreter.

Two channels, one protocol, the same messages:

- `KernelChannel`, the grader's end of the bridge to a learner's (sandboxed)
  kernel: every graded submission goes through it;
- `LocalChannel`, for the mutation test only (the reference and its known
  mistakes are the course's own, trusted code): it calls functions of an
  in-process namespace, with every request and answer through the bridge's
  codec and JSON exactly as the kernel's, so the checks see what grading sees.
"""
import asyncio
import builtins
import contextlib
import functools
import io
import json
import sys
import time
import warnings
from dataclasses import dataclass
from queue import Empty
from typing import Protocol

import zmq
import zmq.utils.monitor
from jupyter_client.blocking import BlockingKernelClient

import cells
import course
import guard
from firstneuron import bridge

#: Seconds a channel to the kernel may stay disconnected before it counts as cut (libzmq reconnects at once).
RECONNECT_GRACE = 3.0
#: Characters of an exception's class name kept.
MAX_ENAME = 100
SCRATCH_FULL = ("the kernel's folder grew past {limit} bytes or {entries} files (Sandbox.scratch_limit), and the "
                "sandbox was ended; the kernel was restarted with a fresh folder")


def death_of(km):
    """Why the kernel of `km` died, in a sentence: its folder past its cap (see `scratch_full`), or no more known."""
    return scratch_full(km) or "the kernel died"


def scratch_full(km):
    """`SCRATCH_FULL` for a sandboxed kernel whose folder holds more than its cap (its guard ended it), else None."""
    overflowed = getattr(km, "overflowed", None)
    limit = overflowed() if overflowed is not None else None
    return SCRATCH_FULL.format(limit=limit, entries=f"{guard.MAX_ENTRIES:,}") if limit is not None else None


class GradingInterrupted(BaseException):
    """The learner's code ran past its time limit or its kernel died; not an exception a check may catch.

    `ename` is a `cells.ErrorKind`.
    """

    def __init__(self, ename, message):
        super().__init__(message)
        self.ename = ename


class LearnerException(Exception):
    """An exception of a class that is not a Python builtin, raised by the learner's code."""


def learner_exception(error):
    """The exception a check sees for `error` (a `bridge.LearnerError`, or its wire form): a builtin class where it was one.

    Its ``learner_frames`` are the frames the kernel reported (see `checks.learner_frames`).
    """
    if not isinstance(error, bridge.LearnerError):
        error = bridge.LearnerError.from_wire(error)
    name, message = error.type, error.message
    name = name if name.isidentifier() and len(name) <= MAX_ENAME else "LearnerException"
    cls = getattr(builtins, name, None)
    if not (error.builtin and isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name, (LearnerException,), {})
    try:
        exception = cls(message)
    except (TypeError, ValueError):  # builtins with other signatures (UnicodeDecodeError ...)
        exception = type(name, (LearnerException,), {})(message)
    exception.learner_frames = list(error.frames)
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




class Channel(Protocol):
    """What `run_hidden` needs of the learner's side: two requests, typed answers (`firstneuron.bridge`)."""

    def describe(self, name):
        """A `bridge.Description` of `name` (or a `bridge.BridgeFailure`)."""

    def call(self, name, args, kwargs, substitutes=None):
        """A `bridge.CallAnswer` of ``name(*args, **kwargs)`` (or a `bridge.BridgeFailure`).

        `substitutes` maps global names of the function to the grader's own
        functions, which compute them while it runs.
        """


def answer_substitute(prompt, substitutes):
    """The grader's reply (JSON) to a kernel's `bridge.SubstituteRequest` `prompt`: the substitute's result.

    A request for a name that is not a substitute, or arguments it cannot take,
    gets ``{bridge.SUBSTITUTE_FAILED: error's class name}``.
    """
    try:
        request = bridge.SubstituteRequest.from_wire(json.loads(prompt))
        return bridge.dumps(substitutes[request.name](*request.args))
    except Exception as error:  # arguments the kernel chose: whatever the substitute makes of them, one answer
        return bridge.dumps({bridge.SUBSTITUTE_FAILED: type(error).__name__})


class KernelChannel:
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
    interrupt_grace : float
        Seconds the kernel gets to stop after an interrupt (``TrustedExecute.interrupt_grace``).
    """

    def __init__(self, km, deadline, max_answer_bytes=64 * 1024**2, interrupt_grace=3):
        self.km = km
        self.deadline, self.interrupt_grace = deadline, interrupt_grace
        self.kc = bounded_client(BlockingKernelClient, max_answer_bytes)(parent=km)
        self.kc.load_connection_info(km.get_connection_info())
        self.kc.start_channels()
        self._subscribed()

    def _subscribed(self):
        """Return once this client's IOPub subscription has reached the kernel (or at the deadline).

        A new ZeroMQ subscriber misses what the kernel publishes before its
        subscription reaches it (the "slow joiner"): on a busy machine the bridge
        missed an answer, and an honest learner's test cell failed as if the kernel
        had died.  The status messages of a kernel_info request, back on IOPub, prove
        the subscription (as jupyter_client's ``wait_for_ready`` checks); the request
        is sent again until they come.
        """
        while time.monotonic() < self.deadline:
            msg_id = self.kc.kernel_info()
            end = min(self.deadline, time.monotonic() + 0.5)
            while time.monotonic() < end:
                try:
                    msg = self.kc.get_iopub_msg(timeout=max(0.01, end - time.monotonic()))
                except Empty:
                    break
                if msg["parent_header"].get("msg_id") == msg_id:
                    return
            if not self.kc.is_alive():
                return  # `request` says that the kernel died

    def close(self):
        self.kc.stop_channels()

    def describe(self, name):
        return self.request(bridge.DescribeRequest(name))

    def call(self, name, args, kwargs, substitutes=None):
        return self.request(bridge.CallRequest(name, tuple(args), dict(kwargs), tuple(substitutes or {})), substitutes)

    def request(self, request, substitutes=None):
        """Send one request; its typed answer once the kernel is idle again."""
        code = f"__import__('firstneuron.bridge', fromlist=['serve']).serve({json.dumps(request.to_wire())!r})"
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=bool(substitutes),
                                 stop_on_error=False)
        answer = None
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self._interrupt()
                raise GradingInterrupted(cells.ErrorKind.TIMED_OUT, "time limit")
            if substitutes:
                self._answer_stdin(substitutes)
            if self.kc.connection_cut():
                raise self._cut()
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.05 if substitutes else 0.5))
            except Empty:
                if not self.kc.is_alive():
                    raise GradingInterrupted(cells.ErrorKind.KERNEL_DIED, death_of(self.km)) from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data" and bridge.MIME in content.get("data", {}):
                answer = content["data"][bridge.MIME]
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        if not isinstance(answer, dict):
            raise GradingInterrupted(cells.ErrorKind.KERNEL_DIED, "the kernel gave no answer (it may have exited)")
        return bridge.answer_from_wire(answer, request)

    def _cut(self):
        """The `GradingInterrupted` for a connection the kernel lost: an oversized answer, or its death."""
        if kernel_alive(self.km):
            return GradingInterrupted(cells.ErrorKind.TOO_LARGE,
                                      f"the kernel sent an answer larger than {self.kc.max_message_bytes} bytes "
                                      "(TrustedExecute.max_answer_bytes)")
        return GradingInterrupted(cells.ErrorKind.KERNEL_DIED, death_of(self.km))

    def _answer_stdin(self, substitutes):
        try:
            msg = self.kc.get_stdin_msg(timeout=0)
        except Empty:
            return
        if msg["msg_type"] != "input_request":
            return
        self.kc.input(answer_substitute(msg["content"]["prompt"], substitutes))

    def _interrupt(self):
        """Interrupt the kernel and wait for it to be idle; GradingInterrupted says whether it came back."""
        with contextlib.suppress(Exception):  # a kernel that is gone cannot be interrupted
            result = self.km.interrupt_kernel()
            if asyncio.iscoroutine(result):  # an AsyncKernelManager's; this thread has no loop running
                asyncio.run(result)
        end = time.monotonic() + self.interrupt_grace
        while time.monotonic() < end:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Empty:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return


class LocalChannel:
    """A channel to functions of an in-process `namespace`, for the mutation test only (trusted code).

    Each request and answer goes through `firstneuron.bridge` as the kernel's
    do: the request as JSON, answered by the kernel's own `bridge.respond`
    (arguments decoded, the function called with its printing captured and its
    exceptions reported as data, the result encoded), the answer as JSON again,
    parsed by `bridge.answer_from_wire`.  A substitute's calls come back to the
    grader as JSON too.  Warnings never raise, as in a kernel (which prints
    them on its standard error, which no check reads): here they are dropped.
    """

    def __init__(self, namespace):
        self.namespace = namespace

    def describe(self, name):
        return self.request(bridge.DescribeRequest(name))

    def call(self, name, args, kwargs, substitutes=None):
        return self.request(bridge.CallRequest(name, tuple(args), dict(kwargs), tuple(substitutes or {})), substitutes)

    def request(self, request, substitutes=None):
        """The typed answer to `request`, through the same codec and JSON as the kernel's."""
        ask = functools.partial(answer_substitute, substitutes=substitutes or {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = bridge.respond(json.dumps(request.to_wire()), self.namespace, ask)
        return bridge.answer_from_wire(json.loads(json.dumps(answer)), request)

    def function(self, name):
        """The `LearnerFunction` of the namespace's `name` (as `run_hidden` would find it)."""
        return KernelNamespace(self)[name]


def as_learner_function(function):
    """`function` as hidden checks see a learner's: a `LearnerFunction` as it is, a plain function behind a `LocalChannel`.

    Graded, a check gets `LearnerFunction` proxies (`run_hidden`).  The solution
    notebooks run their hidden tests in their own kernel (nbval, ``make solutions``),
    where a check gets the plain function: it is put behind a `LocalChannel` over
    the namespace it was defined in, so that it is called through the same codec,
    and `LearnerFunction.substitute` works the same way.
    """
    if isinstance(function, LearnerFunction) or not callable(function) or not hasattr(function, "__globals__"):
        return function
    return LocalChannel(function.__globals__).function(function.__name__)


def kernel_alive(km, wait=1.0):
    """True when the kernel of `km` is still running `wait` seconds after its connection was cut."""
    time.sleep(wait)  # a kernel that died closes its sockets before its process is reaped
    with contextlib.suppress(Exception):  # a manager that cannot tell: the kernel is treated as dead
        alive = km.is_alive()
        return bool(asyncio.run(alive) if asyncio.iscoroutine(alive) else alive)
    return False


class LearnerFunction:
    """A learner's function, called through a `Channel` with plain data (see `firstneuron.bridge`)."""

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
        if isinstance(answer, bridge.BridgeFailure):
            raise TypeError(f"{self.__name__}: its result cannot be graded: {answer.error.message}")
        for index, value in answer.changed:
            _write_back(args, index, value)
        sys.stdout.write(answer.stdout)
        sys.stderr.write(answer.stderr)
        if answer.error is not None:
            raise learner_exception(answer.error)
        return bridge.decode(answer.result)


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
    """The names hidden tests use: their own (imports, assignments), else the learner's, through `channel`."""

    def __init__(self, channel):
        super().__init__()
        self._channel = channel

    def __getitem__(self, name):
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        if hasattr(builtins, name):
            raise KeyError(name)
        answer = self._channel.describe(name)
        kind = answer.kind if isinstance(answer, bridge.Description) else bridge.Kind.MISSING
        if kind == bridge.Kind.FUNCTION:
            value = LearnerFunction(self._channel, name, answer.module)
        elif kind == bridge.Kind.VALUE:
            value = bridge.decode(answer.value)
        else:
            raise KeyError(name)
        dict.__setitem__(self, name, value)
        return value


@dataclass(frozen=True)
class HiddenOutcome:
    """What a test cell's hidden tests said: `error` is the exception that stopped them (None: they passed)."""

    error: Exception = None

    @property
    def passed(self):
        return self.error is None

    @property
    def ename(self):
        """The class name of the error (the error output's ``ename``)."""
        return type(self.error).__name__

    @property
    def diagnosis(self):
        """The `cells.Diagnosis` a check named, or None: data for the gradebook, never parsed from the message."""
        return cells.Diagnosis.of(self.error)


def run_hidden(source, channel, seed=None):
    """Run a test cell's hidden tests here, in the grader, against the learner's side through `channel`.

    Parameters
    ----------
    source : str
        The hidden part of the test cell (`cells.split_hidden`).
    channel : Channel
        `KernelChannel` (grading) or `LocalChannel` (the mutation test).
    seed : int, optional
        The checks' seed (``$FIRSTNEURON_SEED`` while they run); by default, the environment's.

    Returns
    -------
    outcome : HiddenOutcome
        What they printed is dropped: a failure's message is all a learner sees.
    """
    namespace = KernelNamespace(channel)
    context = {"__builtins__": builtins, "__name__": "__hidden_tests__"}
    seeded = course.environment({"FIRSTNEURON_SEED": str(seed)}) if seed is not None else contextlib.nullcontext()
    with seeded, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(source, "<hidden tests>", "exec"), context, namespace)
        except Exception as error:  # the verdict of a check, or the learner's exception it let through
            return HiddenOutcome(error)
    return HiddenOutcome()
