"""Fair to unusual correct code: what crosses the bridge, and which copy of a cell is graded.

Unit tests without a kernel: `firstneuron.bridge` carries subclasses of the
plain types as their base type and never lets the kernel's word for a type pass
for a plain type's name; `staging.mend_cells` puts a deleted test cell back at
its place in the release and grades the cell at the release's place, never a
pasted copy.  The graded versions of these cases are in tests/hostile.toml.
"""
import contextlib
import copy
import io
import json
import warnings
from collections import OrderedDict, defaultdict, namedtuple

import nbformat
import numpy as np
import pytest

import course
import learner
import staging
from firstneuron import bridge
from firstneuron.testing import describe

STAGE = "02-propagate"
Pair = namedtuple("Pair", ["grads", "cost"])


class Floaty(float):
    pass


class Listy(list):
    pass


def round_trip(value):
    return bridge.loads(bridge.dumps(value))


@pytest.mark.parametrize("value, kind, plain", [
    (OrderedDict([("dw", 1.0), ("db", 2.0)]), dict, {"dw": 1.0, "db": 2.0}),
    (defaultdict(int, {"a": 1}), dict, {"a": 1}),
    (Pair({"db": 0.5}, 0.25), tuple, ({"db": 0.5}, 0.25)),
    (Listy([1, 2]), list, [1, 2]),
    (Floaty(0.5), float, 0.5),
])
def test_a_subclass_of_a_plain_type_travels_as_its_base_type(value, kind, plain):
    found = round_trip(value)
    assert type(found) is kind and found == plain, \
        f"expected {type(value).__name__} to arrive as the {kind.__name__} {plain!r}, found {type(found).__name__} {found!r}"


def test_a_matrix_travels_as_a_2d_ndarray():
    dw = np.asmatrix(np.array([[0.5, -1.5, 2.0]]))
    found = round_trip(dw)
    assert type(found) is np.ndarray and found.shape == (1, 3) and np.array_equal(found, np.asarray(dw)), \
        f"expected a plain ndarray of shape (1, 3) equal to np.asarray(dw), found {type(found).__name__} {found!r}"


@pytest.mark.parametrize("value, dtype", [(np.longdouble(0.1), np.float64), (np.clongdouble(1 + 2j), np.complex128),
                                          (np.array([[0.5, 2.0]], dtype=np.longdouble), np.float64)])
def test_long_double_travels_as_double(value, dtype):
    found = round_trip(value)
    assert np.asarray(found).dtype == dtype and np.allclose(found, value.astype(dtype)), \
        f"expected {type(value).__name__} {value!r} as {np.dtype(dtype)}, found {np.asarray(found).dtype} {found!r}"
    assert isinstance(found, np.generic) == isinstance(value, np.generic), \
        f"expected a scalar to stay a scalar and an array an array, found {type(found).__name__}"


def test_numpy_scalars_and_arrays_keep_their_dtype():
    for value in (np.float64(2.5), np.int32(3), np.bool_(True), np.arange(6, dtype=np.float32).reshape(2, 3)):
        found = round_trip(value)
        assert type(found) is type(value) and np.array_equal(found, value), \
            f"expected {type(value).__name__} {value!r} unchanged, found {type(found).__name__} {found!r}"


@pytest.mark.parametrize("name", ["dict", "tuple", "float", "ndarray", "float64", "collections.OrderedDict.dict"])
def test_an_opaque_value_never_takes_a_plain_types_name(name):
    found = bridge.decode({"opaque": name})
    assert isinstance(found, bridge.Opaque), f"expected an Opaque for {name!r}, found {type(found).__name__}"
    words = describe(found)
    assert "not plain data" in words, f"expected the description of an opaque {name!r} to say so, found {words!r}"


def test_an_opaque_value_keeps_the_name_of_its_own_type():
    class Grads:
        pass

    found = round_trip(Grads())
    assert isinstance(found, bridge.Opaque) and describe(found) == "a Grads", \
        f"expected an opaque value described as 'a Grads', found {describe(found)!r}"


@pytest.mark.parametrize("data", [{"OrderedDict": [["a", 1]]}, {"dict": [["a", 1]], "type": "OrderedDict"},
                                  {"tuple": [1], "class": "Pair"}])
def test_decode_chooses_among_plain_types_only(data):
    with pytest.raises(bridge.BridgeError):
        bridge.decode(data)


# --- which cell is graded -----------------------------------------------------------------------

def release():
    return course.read_notebook(course.notebook_path(course.RELEASE, STAGE))


def graded_positions(nb, grade_id):
    return [(i, c.get("id")) for i, c in enumerate(nb.cells) if course.cell_grade_id(c) == grade_id]


def test_a_deleted_test_cell_is_put_back_at_its_place():
    original = release()
    nb = copy.deepcopy(original)
    nb.cells = [c for c in nb.cells if course.cell_grade_id(c) != "propagate_cost_tests"]
    note = staging.mend_cells(nb, original)
    expected = [c.get("id") for c in original.cells]
    found = [c.get("id") for c in nb.cells]
    assert found == expected, f"expected the cells in the release's order {expected}, found {found}"
    assert "put back" in note, f"expected a note saying a cell was put back, found {note!r}"


@pytest.mark.parametrize("same_id", [False, True])
def test_a_pasted_copy_of_a_test_cell_never_takes_its_grade(same_id):
    original = release()
    nb = copy.deepcopy(original)
    at = next(i for i, c in enumerate(nb.cells) if course.cell_grade_id(c) == "propagate_cost_tests")
    pasted = copy.deepcopy(nb.cells[at])
    if not same_id:
        pasted["id"] = "pasted-copy"  # as Jupyter pastes
    nb.cells.insert(2, pasted)
    if same_id:  # read as the driver reads it: nbformat leaves the id to the copy above, renames the original
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(nb), as_version=4)
    note = staging.mend_cells(nb, original)
    found = graded_positions(nb, "propagate_cost_tests")
    assert [i for i, _ in found] == [at + 1], f"expected only the cell at the release's place ({at + 1}) graded, found {found}"
    assert "copy of a graded cell" in note and "propagate_cost_tests (cell 3)" in note, \
        f"expected a note naming the pasted copy (cell 3) for review, found {note!r}"


def test_without_cell_ids_the_copy_is_told_by_its_neighbours():
    original = release()
    nb = copy.deepcopy(original)
    at = next(i for i, c in enumerate(nb.cells) if course.cell_grade_id(c) == "propagate_cost_tests")
    nb.cells.insert(1, copy.deepcopy(nb.cells[at]))
    nb.cells.append(copy.deepcopy(nb.cells[at + 1]))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # ids lost (a notebook rebuilt by another tool)
    staging.mend_cells(nb, original)
    found = graded_positions(nb, "propagate_cost_tests")
    assert found == [(at + 1, f"cell-{at + 1}")], f"expected the copy between its release neighbours graded, found {found}"


def test_an_untouched_notebook_is_not_mended():
    original = release()
    nb = copy.deepcopy(original)
    assert staging.mend_cells(nb, original) == "" and nb == original, "expected nothing mended in the release itself"


# --- typed messages and the local channel: the same wire, the same view of the learner's code ---------------

def test_a_request_keeps_its_wire_format_and_comes_back_as_it_was():
    request = bridge.CallRequest("propagate", (np.ones((1, 2)), 0.5), {"print_cost": True}, ("predict",))
    wire = json.loads(json.dumps(request.to_wire()))
    assert set(wire) == {"op", "name", "args", "kwargs", "substitutes"} and wire["op"] == "call", \
        f"expected the call request's plain JSON fields, found {sorted(wire)}"
    found = bridge.request_from_wire(wire)
    assert found.name == "propagate" and found.substitutes == ("predict",) and found.kwargs == {"print_cost": True}, \
        f"expected the request back, found {found}"
    assert np.array_equal(found.args[0], np.ones((1, 2))) and found.args[1] == 0.5, f"expected the arguments back, found {found.args}"
    assert bridge.DescribeRequest("m_train").to_wire() == {"op": "describe", "name": "m_train"}, \
        "expected a describe request as {op, name}"


@pytest.mark.parametrize("data", [{"changed": "x", "stdout": 5}, {"changed": [[0], [1, 2, 3], "no"]}, "not a dict"])
def test_an_answer_of_the_wrong_form_is_read_as_what_it_holds(data):
    answer = bridge.answer_from_wire(data, bridge.CallRequest("f"))
    assert isinstance(answer, bridge.CallAnswer) and answer.changed == [] and answer.error is None, \
        f"expected a call answer with no changed argument and no error, found {answer}"
    assert isinstance(answer.stdout, str), f"expected the printed output as text, found {answer.stdout!r}"


def test_a_description_of_an_unknown_kind_is_a_missing_name():
    answer = bridge.answer_from_wire({"kind": "module", "value": 3}, bridge.DescribeRequest("np"))
    assert answer.kind == bridge.Kind.MISSING and answer.value is None, f"expected a missing name, found {answer}"


def local(function):
    """`function` as the hidden checks see it through the mutation test's channel."""
    return learner.LocalChannel({function.__name__: function}).function(function.__name__)


def test_the_local_channel_carries_plain_data_only():
    class Box:
        pass

    def propagate(w, b):
        print("printed by the learner")
        w += 1  # in place: the grader's copy changes too
        return OrderedDict([("dw", Floaty(0.5)), ("box", Box())]), np.longdouble(b)

    w = np.zeros((1, 2))
    with contextlib.redirect_stdout(io.StringIO()) as out:
        grads, cost = local(propagate)(w, 0.25)
    assert type(grads) is dict and type(grads["dw"]) is float and isinstance(grads["box"], bridge.Opaque), \
        f"expected a plain dict with a float and an opaque value, found {grads!r}"
    assert type(cost) is np.float64 and np.array_equal(w, np.ones((1, 2))), f"expected float64 and w changed, found {cost!r}, {w}"
    assert out.getvalue() == "printed by the learner\n", f"expected the learner's printing relayed, found {out.getvalue()!r}"


def test_the_local_channel_reports_exceptions_as_the_kernel_does():
    class ShapeTrouble(Exception):
        pass

    def predict(w, X):
        if X.ndim == 1:
            raise ShapeTrouble("X must be 2-D")
        return {"a": 1}["b"]

    with pytest.raises(Exception) as raised:
        local(predict)(np.ones((1, 2)), np.ones(2))
    assert isinstance(raised.value, learner.LearnerException) and type(raised.value).__name__ == "ShapeTrouble", \
        f"expected a stand-in named ShapeTrouble (never the learner's class), found {type(raised.value)}"
    frames = raised.value.learner_frames
    assert frames and frames[-1][2] == "predict" and "ShapeTrouble" in frames[-1][3], \
        f"expected the learner's line among the frames the channel sent, found {frames}"
    with pytest.raises(KeyError) as missing:
        local(predict)(np.ones((1, 2)), np.ones((2, 1)))
    assert type(missing.value) is KeyError, f"expected a builtin KeyError, found {type(missing.value)}"


def test_a_substitute_is_computed_by_the_grader_on_plain_data():
    seen = []

    def course_predict(w):
        seen.append(type(w))
        return w * 2

    namespace = {}
    exec("def model(w):\n    return predict(w) + 1\n\ndef predict(w):\n    return w", namespace)
    model = learner.LocalChannel(namespace).function("model")
    with model.substitute("predict", course_predict):
        found = model(np.ones(2))
    assert np.array_equal(found, np.full(2, 3.0)) and seen == [np.ndarray], \
        f"expected the grader's predict called with a plain array, found {found}, {seen}"
    assert namespace["predict"](np.ones(2)).tolist() == [1.0, 1.0], "expected the learner's own predict back afterwards"
