"""The narrow channel between the grader and a learner's kernel: plain data only.

The autograder never runs its hidden checks in the learner's kernel.  It asks
the kernel, over Jupyter messages, to *call* one of the learner's functions
with arguments it sends, and reads back what the call gave: the return value,
what was printed, which array arguments were changed in place, and the
exception raised, if any.  Both sides encode values with `encode` and decode
them with `decode`, which accept plain data only:

- ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``;
- numpy scalars and ndarrays of booleans or numbers (dtype and shape kept);
- lists, tuples and dicts of these (dict keys: str, int, float or bool).

A subclass of one of these travels as its base type, as correct code meant
it: an OrderedDict as a dict, a namedtuple as a tuple, an ``np.matrix`` as a
2-D ndarray (what ``np.asarray`` gives), a ``np.longdouble`` as float64 (a
complex long double as complex128).  Nothing else crosses: no pickle, no
object with methods.  A value of any other type is sent as an *opaque*
description (its type's name), which the grader can only describe, never use:
`decode` makes plain types only, chosen by the form of the data, and never
lets the kernel's word for a type pass for a plain type's name.

The messages themselves are small typed records (`DescribeRequest`,
`CallRequest`, `Description`, `CallAnswer`, `BridgeFailure`, `SubstituteRequest`),
each with ``to_wire`` (JSON-ready plain data) and ``from_wire``; their wire
format is plain JSON, read only after the grader bounded its size.  The names
of the operations and of the answers' kinds are `Op` and `Kind`.

This module is learner-facing (it runs in the learner's kernel) and holds no
solution and no check: whatever a kernel answers is treated by the grader as
untrusted data, and `from_wire` keeps only what has the expected form.
``serve`` is the kernel's entry point; see ``autograder/learner.py`` for the
grader's side.
"""
import base64
import builtins
import contextlib
import io
import json
import math
import re
import sys
import traceback
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

#: The MIME type of the kernel's answers (published as display data).
MIME = "application/vnd.firstneuron.bridge+json"
#: Characters of printed output kept per call.
MAX_PRINTED = 200_000
#: How deeply lists, tuples and dicts may nest.
MAX_DEPTH = 20
#: Elements of one ndarray, at most.
MAX_ELEMENTS = 50_000_000
#: Characters of JSON in one answer, at most (the grader reads no message over its own cap either).
MAX_ANSWER = 64 * 1024**2
#: Characters of an exception's message, and of each text of one of its frames, kept.
MAX_MESSAGE = 2000
MAX_FRAME_TEXT = 300
#: Frames of a traceback kept (the innermost).
MAX_FRAMES = 20
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_. -]{0,99}$")


class BridgeError(ValueError):
    """A message that is not plain data as this module defines it."""


# --- Encoding: the same on both sides -------------------------------------------------------

def encode(value, depth=0):
    """`value` as JSON-ready plain data; other objects become ``{"opaque": type name}``.

    Parameters
    ----------
    value : object
    depth : int, default=0
        Nesting level (for the depth limit).

    Returns
    -------
    data : None, bool, int, float, str, list or dict
    """
    if depth > MAX_DEPTH:
        return {"opaque": "deeply nested value"}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):  # a subclass travels as its base type (np.str_ too)
        return str.__str__(value)
    if isinstance(value, (np.ndarray, np.generic)):
        return _encode_array(value)
    if isinstance(value, int):
        value = int.__index__(value)
        return value if abs(value) < 2**63 else {"opaque": "integer of more than 63 bits"}
    if isinstance(value, float):
        value = float.__float__(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, complex):
        value = complex.__complex__(value)
        return {"complex": [encode(value.real), encode(value.imag)]}
    if isinstance(value, (list, tuple)):  # a namedtuple as a tuple, a list subclass as a list
        kind, items = ("list", list.__iter__(value)) if isinstance(value, list) else ("tuple", tuple.__iter__(value))
        return {kind: [encode(item, depth + 1) for item in items]}
    if isinstance(value, dict):  # an OrderedDict, a defaultdict ... as a dict
        items = []
        for key, item in dict.items(value):
            key = _plain_key(key)
            if key is None:
                return {"opaque": "dict with keys that are not strings or numbers"}
            items.append([key, encode(item, depth + 1)])
        return {"dict": items}
    return {"opaque": _type_name(value)}


#: Numpy types wider than the bridge carries, and the plain type they travel as.
_WIDE = {"g": np.float64, "G": np.complex128}


def _encode_array(value):
    """An ndarray or numpy scalar (a subclass travels as its base: np.matrix as a 2-D ndarray)."""
    scalar = isinstance(value, np.generic)
    array = np.asarray(value)  # subok=False: a base-class ndarray
    if array.dtype.char in _WIDE:
        array = array.astype(_WIDE[array.dtype.char])
    if not _DTYPE.match(array.dtype.str):
        return {"opaque": f"array of dtype {array.dtype.name}"}
    return {"ndarray": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
            "dtype": array.dtype.str, "shape": list(array.shape), "scalar": scalar}


def _plain_key(key):
    """A dict key as a plain str, bool, int or float (a subclass as its base), or None for any other key."""
    if isinstance(key, (bool, np.bool_)):
        return bool(key)
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, (int, np.integer)):
        key = int(key)
        return key if abs(key) < 2**63 else None
    if isinstance(key, (float, np.floating)):
        key = float(key)
        return key if math.isfinite(key) else None
    return None


def _type_name(value):
    name = getattr(type(value), "__name__", "object")
    return name if isinstance(name, str) and _NAME.match(name) else "object"


class Opaque:
    """A value that is not plain data, known only by its type's name (see `opaque`)."""

    def __repr__(self):
        return f"<{type(self).__name__} from the learner's kernel>"


def opaque(type_name):
    """An `Opaque` whose class is named after `type_name`, so that messages describe it as that type.

    The name is the kernel's word, only ever used as text: no class is looked up by it.  A name
    that a plain type carries (``dict``, ``tuple``, ``float64`` ...) is marked as not plain data,
    so that a message never calls an unreadable value a dict.
    """
    name = type_name if isinstance(type_name, str) and _NAME.match(type_name) else "object"
    name = name.rsplit(".", 1)[-1]
    if name in _PLAIN_NAMES:
        name = f"{name}-like object that is not plain data"
    return type(name, (Opaque,), {})()


#: Names of the types `decode` makes, which an `Opaque` never takes.
_PLAIN_NAMES = frozenset({"NoneType", "bool", "int", "float", "complex", "str", "list", "tuple", "dict",
                          "ndarray", "generic", "number"} | {np.dtype(c).type.__name__ for c in "?bhilqBHILQefdFD"})


def decode(data, depth=0):
    """The value `data` (made by `encode`) stands for; raises BridgeError for anything else.

    Parameters
    ----------
    data : None, bool, int, float, str, list or dict
        Parsed JSON.
    depth : int, default=0

    Returns
    -------
    value : plain data, or an `Opaque`
    """
    if depth > MAX_DEPTH + 1:
        raise BridgeError("nested too deeply")
    if data is None or type(data) in (bool, str, float):
        return data
    if type(data) is int:
        return data
    if type(data) is not dict or len(data) == 0:
        raise BridgeError(f"not plain data: {type(data).__name__}")
    if set(data) == {"list"} or set(data) == {"tuple"}:
        (kind, items), = data.items()
        if type(items) is not list:
            raise BridgeError("a list that is not a list")
        values = [decode(item, depth + 1) for item in items]
        return values if kind == "list" else tuple(values)
    if set(data) == {"dict"}:
        result = {}
        for pair in data["dict"]:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int, float, bool):
                raise BridgeError("a dict entry that is not a (plain key, value) pair")
            result[pair[0]] = decode(pair[1], depth + 1)
        return result
    if set(data) == {"float"}:
        if data["float"] not in ("nan", "inf", "-inf"):
            raise BridgeError("a float that is not nan or ±inf")
        return float(data["float"])
    if set(data) == {"complex"}:
        real, imag = (decode(part, depth + 1) for part in data["complex"])
        if type(real) is not float or type(imag) is not float:
            raise BridgeError("a complex number with parts that are not floats")
        return complex(real, imag)
    if set(data) == {"opaque"}:
        return opaque(data["opaque"])
    if set(data) == {"ndarray", "dtype", "shape", "scalar"}:
        return _decode_array(data)
    raise BridgeError(f"unknown plain-data form with keys {sorted(data)[:5]}")


def _decode_array(data):
    dtype, shape = data["dtype"], data["shape"]
    if type(dtype) is not str or not _DTYPE.match(dtype):
        raise BridgeError(f"an array of a dtype that is not boolean or numeric: {str(dtype)[:20]}")
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
        raise BridgeError("an array with a shape that is not a list of sizes")
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise BridgeError(f"an array of {count} elements (more than {MAX_ELEMENTS})")
    raw = base64.b64decode(data["ndarray"], validate=True) if type(data["ndarray"]) is str else None
    if raw is None or len(raw) != count * dtype.itemsize:
        raise BridgeError("an array whose bytes do not match its shape and dtype")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if data["scalar"] is True:
        if array.ndim != 0:
            raise BridgeError("a scalar with a shape")
        return array[()]
    return array


def dumps(value):
    """`value` encoded as a JSON string."""
    return json.dumps(encode(value))


def loads(text):
    """The value a JSON string made by `dumps` stands for (BridgeError if it is not plain data)."""
    try:
        return decode(json.loads(text))
    except (json.JSONDecodeError, TypeError, RecursionError) as error:
        raise BridgeError(f"not JSON plain data: {error}") from error


# --- The messages: typed records, the same plain JSON on the wire ----------------------------------

class Op(StrEnum):
    """What the grader asks the kernel."""

    DESCRIBE = "describe"  # is a name defined: a function, a value, or missing?
    CALL = "call"          # call a function with plain-data arguments


class Kind(StrEnum):
    """What a name of the kernel is (`Description.kind`)."""

    MISSING = "missing"
    FUNCTION = "function"
    VALUE = "value"


def _frame_like(frame):
    """True for a traceback frame as the kernel sends one: ``[file, line number, function, source line]``."""
    return (isinstance(frame, list) and len(frame) == 4 and isinstance(frame[1], int)
            and not isinstance(frame[1], bool) and all(isinstance(frame[i], str) for i in (0, 2, 3)))


def _text(value, limit):
    """`value` as a str of at most `limit` characters (a non-str is made one)."""
    return str(value)[:limit]


@dataclass(frozen=True)
class LearnerError:
    """An exception raised in the kernel, as data: its class's name, whether that is a builtin, message, frames.

    `frames` are ``(file, line, function, source line)`` of the innermost `MAX_FRAMES`
    frames outside this module, outermost first.
    """

    type: str
    builtin: bool
    message: str
    frames: list = field(default_factory=list)

    @classmethod
    def of(cls, error):
        """The record of `error` (an exception caught in the kernel)."""
        return cls(type(error).__name__[:MAX_FRAME_TEXT], getattr(builtins, type(error).__name__, None) is type(error),
                   str(error)[:MAX_MESSAGE], _frames(error.__traceback__))

    def to_wire(self):
        return {"type": self.type, "builtin": self.builtin, "message": self.message, "frames": self.frames}

    @classmethod
    def from_wire(cls, data):
        """The record the kernel's `data` stands for, bounded; what is not of the expected form is left out."""
        data = data if isinstance(data, dict) else {}
        frames = data.get("frames") if isinstance(data.get("frames"), list) else []
        return cls(_text(data.get("type", "Exception"), MAX_FRAME_TEXT), bool(data.get("builtin")),
                   _text(data.get("message", ""), MAX_MESSAGE),
                   [(_text(frame[0], MAX_FRAME_TEXT), frame[1], _text(frame[2], MAX_FRAME_TEXT),
                     _text(frame[3], MAX_FRAME_TEXT)) for frame in frames[-MAX_FRAMES:] if _frame_like(frame)])


@dataclass(frozen=True)
class DescribeRequest:
    """Is `name` defined in the kernel, and is it a function (with its module) or a value?"""

    name: str

    def to_wire(self):
        return {"op": Op.DESCRIBE.value, "name": self.name}


@dataclass(frozen=True)
class CallRequest:
    """Call the kernel's function `name` with `args` and `kwargs` (plain data).

    `substitutes` are global names of the function that the grader computes
    while it runs (each call is relayed to the grader, see `SubstituteRequest`).
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    substitutes: tuple = ()

    def to_wire(self):
        return {"op": Op.CALL.value, "name": self.name, "args": encode(list(self.args)),
                "kwargs": encode(dict(self.kwargs)), "substitutes": sorted(self.substitutes)}


def request_from_wire(data):
    """The `DescribeRequest` or `CallRequest` that parsed JSON `data` stands for (its values decoded)."""
    op, name = data["op"], data["name"]
    if op == Op.DESCRIBE:
        return DescribeRequest(name)
    return CallRequest(name, tuple(decode(data["args"])), decode(data["kwargs"]), tuple(data.get("substitutes", [])))


@dataclass(frozen=True)
class Description:
    """The answer to a `DescribeRequest`: `kind`, the function's `module`, or the `value` (still encoded)."""

    kind: Kind
    module: str = None
    value: object = None

    def to_wire(self):
        if self.kind == Kind.FUNCTION:
            return {"kind": self.kind.value, "module": self.module}
        if self.kind == Kind.VALUE:
            return {"kind": self.kind.value, "value": self.value}
        return {"kind": self.kind.value}


@dataclass(frozen=True)
class CallAnswer:
    """The answer to a `CallRequest`.

    `result` is the encoded return value, `error` the exception raised instead
    (a `LearnerError`, or None), `stdout` / `stderr` what was printed, and
    `changed` the ``(index, encoded value)`` of each array argument changed in place.
    """

    result: object = None
    error: LearnerError = None
    stdout: str = ""
    stderr: str = ""
    changed: list = field(default_factory=list)

    def to_wire(self):
        answer = {"error": self.error.to_wire()} if self.error is not None else {"result": self.result}
        answer.update(stdout=self.stdout, stderr=self.stderr, changed=[[i, v] for i, v in self.changed])
        return answer


@dataclass(frozen=True)
class BridgeFailure:
    """The answer to a request the kernel could not serve (not plain data, or an answer too large)."""

    error: LearnerError

    def to_wire(self):
        return {"bridge_error": self.error.to_wire()}


def answer_from_wire(data, request):
    """The typed answer that `data` (parsed JSON from the kernel) stands for, as an answer to `request`.

    Nothing is decoded here (values stay encoded until they are used); what is
    not of the expected form is left out, as if the kernel had not sent it.

    Returns
    -------
    answer : Description, CallAnswer or BridgeFailure
    """
    data = data if isinstance(data, dict) else {}
    if "bridge_error" in data:
        return BridgeFailure(LearnerError.from_wire(data["bridge_error"]))
    if isinstance(request, DescribeRequest):
        kind = data.get("kind")
        kind = Kind(kind) if kind in tuple(Kind) else Kind.MISSING
        return Description(kind, str(data.get("module")) if kind == Kind.FUNCTION else None,
                           data.get("value") if kind == Kind.VALUE else None)
    changed = data.get("changed") if isinstance(data.get("changed"), list) else []
    return CallAnswer(data.get("result"), LearnerError.from_wire(data["error"]) if "error" in data else None,
                      _text(data.get("stdout", ""), MAX_PRINTED), _text(data.get("stderr", ""), MAX_PRINTED),
                      [tuple(pair) for pair in changed if isinstance(pair, list) and len(pair) == 2])


@dataclass(frozen=True)
class SubstituteRequest:
    """The kernel asks the grader for its `name` (a substitute, see `CallRequest`) on `args` (plain data)."""

    name: str
    args: tuple = ()

    def to_wire(self):
        return {"substitute": self.name, "args": encode(list(self.args))}

    @classmethod
    def from_wire(cls, data):
        """The request parsed JSON `data` stands for (KeyError, TypeError or BridgeError when it is not one)."""
        return cls(data["substitute"], tuple(decode(data["args"])))


#: What a substitute's reply holds when the grader could not compute it: ``{SUBSTITUTE_FAILED: error's class name}``.
SUBSTITUTE_FAILED = "error"


# --- The kernel's side --------------------------------------------------------------------------

class _Capped(io.StringIO):
    """A StringIO that keeps the first MAX_PRINTED characters written to it."""

    def write(self, text):
        room = MAX_PRINTED - self.tell()
        if room > 0:
            super().write(str(text)[:room])
        return len(text)


def _frames(tb):
    """(file, line, function, source line) of each frame of `tb` outside this module."""
    frames = []
    for frame in traceback.extract_tb(tb):
        if frame.filename != __file__:
            frames.append([str(frame.filename)[:MAX_FRAME_TEXT], int(frame.lineno or 0),
                           str(frame.name)[:MAX_FRAME_TEXT], str(frame.line or "")[:MAX_FRAME_TEXT]])
    return frames[-MAX_FRAMES:]


def _error(error):
    """The `LearnerError` record of `error`."""
    return LearnerError.of(error)


def _call(namespace, request, ask):
    """Run one `CallRequest` in `namespace`; the `CallAnswer`."""
    function = namespace.get(request.name)
    args, kwargs = list(request.args), request.kwargs
    before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    substitutes = {name: _relay(name, ask) for name in request.substitutes}
    globals_ = getattr(function, "__globals__", None)
    saved = {name: globals_.get(name, _MISSING) for name in substitutes} if isinstance(globals_, dict) else {}
    if saved:
        globals_.update(substitutes)
    out, err = _Capped(), _Capped()
    result = error = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), np.errstate(all="ignore"):
            result = encode(function(*args, **kwargs))
    except Exception as raised:  # the learner's error, reported to the grader as data
        error = _error(raised)
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                globals_.pop(name, None)
            else:
                globals_[name] = value
    changed = [(i, encode(a)) for i, (a, b) in enumerate(zip(args, before))
               if b is not None and not np.array_equal(a, b, equal_nan=True)]
    return CallAnswer(result, error, out.getvalue(), err.getvalue(), changed)


_MISSING = object()


def _relay(name, ask):
    """A stand-in for `name` that asks the grader to compute it: `ask` sends a JSON request, returns the reply."""

    def relay(*args):
        reply = loads((ask or builtins.input)(json.dumps(SubstituteRequest(name, args).to_wire())))
        if isinstance(reply, dict) and SUBSTITUTE_FAILED in reply:
            raise RuntimeError(f"the course's {name} could not run on these arguments: {reply[SUBSTITUTE_FAILED]}")
        return reply

    relay.__name__ = name
    return relay


def respond(request_json, namespace, ask=None):
    """The answer (plain data, at most `MAX_ANSWER` characters of JSON) to one request of the grader.

    Parameters
    ----------
    request_json : str
        A `DescribeRequest` or `CallRequest` as JSON.
    namespace : dict
        The names the request may use.
    ask : callable, optional
        How a substitute asks the grader (str -> str); Python's ``input`` by
        default, which the kernel relays over Jupyter's stdin channel.

    Returns
    -------
    answer : dict
        The wire form of a `Description`, `CallAnswer` or `BridgeFailure`.
    """
    try:
        request = request_from_wire(json.loads(request_json))
        if isinstance(request, DescribeRequest):
            if request.name not in namespace:
                answer = Description(Kind.MISSING)
            elif callable(namespace[request.name]):
                answer = Description(Kind.FUNCTION, str(getattr(namespace[request.name], "__module__", None)))
            else:
                answer = Description(Kind.VALUE, value=encode(namespace[request.name]))
        else:
            answer = _call(namespace, request, ask)
        answer = answer.to_wire()
    except Exception as error:  # a bad request or an unencodable answer: say so, as data
        answer = BridgeFailure(_error(error)).to_wire()
    size = len(json.dumps(answer))
    if size > MAX_ANSWER:
        answer = BridgeFailure(LearnerError("ValueError", True, f"the answer is {size} characters of JSON, more "
                                                                f"than {MAX_ANSWER}")).to_wire()
    return answer


def serve(request_json, namespace=None):
    """Answer one request of the grader (see `respond`), publishing the answer as display data of type `MIME`."""
    from IPython.display import publish_display_data

    namespace = sys.modules["__main__"].__dict__ if namespace is None else namespace
    publish_display_data({MIME: respond(request_json, namespace)})
