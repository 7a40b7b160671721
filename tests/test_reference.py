"""Tests of the instructor reference implementation ``autograder/reference.py``.

``autograder/`` is on ``sys.path`` (pyproject: ``pythonpath = ["autograder"]``),
so the module is imported flat as ``reference``.

Every assertion states what was expected and what was found; every numeric
comparison writes its tolerance down.
"""

import math
import re

import numpy as np
import pytest

import reference as R
from checks import relative_error

# --- the published example (row-vector w) ------------------------------------

W0 = np.array([[1.0, 2.0]])
B0 = 2.0
X0 = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y0 = np.array([[1, 0, 1]])


def _readonly(*arrays):
    """Copies of `arrays` that raise on any in-place write."""
    out = []
    for a in arrays:
        a = np.array(a, copy=True)
        a.flags.writeable = False
        out.append(a)
    return out


# --- published values -----------------------------------------------------------


def test_published_sigmoid():
    found = R.sigmoid(np.array([0, 2]))
    np.testing.assert_allclose(found, [0.5, 0.88079708], rtol=0, atol=5e-9,
                               err_msg="sigmoid([0, 2]): expected [0.5, 0.88079708]")


def test_published_propagate():
    grads, cost = R.propagate(W0, B0, X0, Y0)
    np.testing.assert_allclose(grads["dw"], [[0.99845601, 2.39507239]], rtol=0, atol=5e-9,
                               err_msg="propagate: expected dw = [[0.99845601, 2.39507239]]")
    np.testing.assert_allclose(grads["db"], 0.00145557813678, rtol=0, atol=5e-15,
                               err_msg="propagate: expected db = 0.00145557813678")
    # The published cost 5.801545319394553 comes from the naive log(A) formula;
    # the stable softplus form agrees to ~1e-14 relative (last-digit rounding).
    np.testing.assert_allclose(cost, 5.801545319394553, rtol=1e-12, atol=0,
                               err_msg="propagate: expected cost = 5.801545319394553")


def test_published_optimize():
    params, grads, costs = R.optimize(W0, B0, X0, Y0, num_iterations=100,
                                      learning_rate=0.009, print_cost=False)
    np.testing.assert_allclose(params["w"], [[0.19033591, 0.12259159]], rtol=0, atol=5e-9,
                               err_msg="optimize: expected w = [[0.19033591, 0.12259159]]")
    np.testing.assert_allclose(params["b"], 1.92535983008, rtol=0, atol=5e-12,
                               err_msg="optimize: expected b = 1.92535983008")
    np.testing.assert_allclose(costs, [5.80154532], rtol=0, atol=5e-9,
                               err_msg="optimize: expected costs = [5.80154532]")
    # Gradients of the last iteration (the well-known companion values).
    np.testing.assert_allclose(grads["dw"], [[0.67752042, 1.41625495]], rtol=0, atol=5e-9,
                               err_msg="optimize: expected last dw = [[0.67752042, 1.41625495]]")
    np.testing.assert_allclose(grads["db"], 0.219194504541, rtol=0, atol=5e-12,
                               err_msg="optimize: expected last db = 0.219194504541")


def test_published_predict():
    found = R.predict(np.array([[0.1124579, 0.23106775]]), -0.3,
                      np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]]))
    assert found.shape == (1, 3), f"expected shape (1, 3), found {found.shape}"
    assert found.dtype == np.float64, f"expected dtype float64, found {found.dtype}"
    np.testing.assert_array_equal(found, [[1.0, 1.0, 0.0]],
                                  err_msg="predict: expected [[1, 1, 0]]")


# --- sigmoid --------------------------------------------------------------------


def test_sigmoid_matches_expit_and_symmetry():
    special = pytest.importorskip("scipy.special")
    z = np.linspace(-40.0, 40.0, 801)
    np.testing.assert_allclose(R.sigmoid(z), special.expit(z), rtol=1e-14, atol=0,
                               err_msg="sigmoid vs scipy.special.expit")
    np.testing.assert_allclose(R.sigmoid(-z), 1.0 - R.sigmoid(z), rtol=0, atol=1e-15,
                               err_msg="expected sigmoid(-z) = 1 - sigmoid(z)")


@pytest.mark.parametrize("z", [0.0, 2, -3.5, np.float64(1.5), np.array(0.25)])
def test_sigmoid_scalar_returns_float(z):
    found = R.sigmoid(z)
    assert isinstance(found, float), f"expected a float for input {z!r}, found {type(found)}"
    expected = 1.0 / (1.0 + math.exp(-float(z)))
    assert abs(found - expected) <= 1e-15, f"expected {expected}, found {found}"


@pytest.mark.parametrize("shape", [(3,), (2, 5), (2, 3, 4), (1, 1)])
def test_sigmoid_keeps_shape_and_range(shape):
    z = np.random.default_rng(0).normal(scale=20.0, size=shape)
    found = R.sigmoid(z)
    assert found.shape == shape, f"expected shape {shape}, found {found.shape}"
    assert found.dtype == np.float64, f"expected float64, found {found.dtype}"
    assert np.all((found >= 0) & (found <= 1)), f"expected values in [0, 1], found {found}"


def test_sigmoid_stable_under_errstate_raise():
    with np.errstate(all="raise"):
        lo, hi, far = R.sigmoid(-500.0), R.sigmoid(500.0), R.sigmoid(-800.0)
        arr = R.sigmoid(np.array([-800.0, -500.0, 0.0, 500.0, 800.0, -np.inf, np.inf]))
    assert 0.0 <= lo <= 1e-200, f"expected sigmoid(-500) ~ 7.1e-218, found {lo}"
    assert hi == 1.0, f"expected sigmoid(500) == 1.0, found {hi}"
    assert far == 0.0, f"expected sigmoid(-800) == 0.0, found {far}"
    np.testing.assert_allclose(arr, [0.0, 7.124576406741286e-218, 0.5, 1.0, 1.0, 0.0, 1.0],
                               rtol=1e-12, atol=0, err_msg="sigmoid at extreme inputs")


def test_softplus_is_log_one_plus_exp_and_gives_the_logs_of_sigmoid():
    z = np.linspace(-30.0, 30.0, 61)
    np.testing.assert_allclose(R.softplus(z), np.log1p(np.exp(z)), rtol=1e-12, atol=0,
                               err_msg="softplus(z): expected log(1 + exp(z))")
    # The naive log(sigmoid(z)) near 0 (z >> 0) is what loses digits: an absolute tolerance of 1e-15.
    np.testing.assert_allclose(-R.softplus(-z), np.log(R.sigmoid(z)), rtol=1e-12, atol=1e-15,
                               err_msg="-softplus(-z): expected log(sigmoid(z))")
    with np.errstate(all="raise"):
        far = R.softplus(np.array([-800.0, 800.0]))
    np.testing.assert_array_equal(far, [0.0, 800.0], err_msg="softplus(±800): expected [0, 800] without overflow")


# --- flatten_and_standardize -----------------------------------------------------


def test_flatten_and_standardize():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 4, 3, 3), dtype=np.uint8)
    images[0, 0, 0, 0], images[1, 0, 0, 0] = 0, 255
    X = R.flatten_and_standardize(images)
    assert X.shape == (36, 5), f"expected shape (4*3*3, 5) = (36, 5), found {X.shape}"
    assert X.dtype == np.float64, f"expected dtype float64, found {X.dtype}"
    assert X.min() == 0.0 and X.max() == 1.0, \
        f"expected range [0, 1] with 0 and 255 mapped to 0.0 and 1.0, found [{X.min()}, {X.max()}]"
    for j in range(5):
        np.testing.assert_allclose(
            X[:, j], images[j].ravel(order="C") / 255.0, rtol=0, atol=0,
            err_msg=f"column {j} should be image {j} flattened in C order / 255")


def test_flatten_and_standardize_rejects_floats():
    with pytest.raises(TypeError):
        R.flatten_and_standardize(np.zeros((2, 3, 3, 3)))


# --- initialize_with_zeros --------------------------------------------------------


def test_initialize_with_zeros():
    w, b = R.initialize_with_zeros(7)
    assert w.shape == (1, 7), f"expected w shape (1, 7), found {w.shape}"
    assert w.dtype == np.float64, f"expected float64, found {w.dtype}"
    assert not np.any(w), f"expected all zeros, found {w}"
    assert type(b) is float and b == 0.0, f"expected b = 0.0 (a Python float), found {b!r}"
    w2, _ = R.initialize_with_zeros(np.int64(3))
    assert w2.shape == (1, 3), f"expected shape (1, 3) for numpy int dim, found {w2.shape}"


@pytest.mark.parametrize("dim", [0, -2, 2.5, True])
def test_initialize_with_zeros_rejects_bad_dim(dim):
    with pytest.raises(ValueError):
        R.initialize_with_zeros(dim)


# --- propagate ----------------------------------------------------------------------


@pytest.mark.parametrize("n_x, m, seed", [(5, 3, 10), (3, 7, 11), (4, 1, 12), (1, 6, 13)])
def test_gradients_match_centred_finite_differences(n_x, m, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(1, n_x))
    b = float(rng.normal())
    X = rng.normal(size=(n_x, m))
    Y = rng.integers(0, 2, size=(1, m)).astype(np.float64)
    grads, _ = R.propagate(w, b, X, Y)
    eps = 1e-6

    num_dw = np.zeros_like(w)
    for k in range(n_x):
        wp, wm = w.copy(), w.copy()
        wp[0, k] += eps
        wm[0, k] -= eps
        num_dw[0, k] = (R.propagate(wp, b, X, Y)[1] - R.propagate(wm, b, X, Y)[1]) / (2 * eps)
    num_db = (R.propagate(w, b + eps, X, Y)[1] - R.propagate(w, b - eps, X, Y)[1]) / (2 * eps)

    err_w = relative_error(grads["dw"], num_dw)
    err_b = relative_error(grads["db"], num_db)
    assert err_w < 1e-7, f"dw: expected relative error < 1e-7, found {err_w:.2e} " \
                         f"(analytic {grads['dw']}, numeric {num_dw})"
    assert err_b < 1e-7, f"db: expected relative error < 1e-7, found {err_b:.2e} " \
                         f"(analytic {grads['db']}, numeric {num_db})"


def test_propagate_types_and_shapes():
    grads, cost = R.propagate(W0, B0, X0, Y0)
    assert set(grads) == {"dw", "db"}, f"expected keys {{'dw', 'db'}}, found {set(grads)}"
    assert type(cost) is float, f"expected cost to be a Python float, found {type(cost)}"
    assert type(grads["db"]) is float, \
        f"expected db to be a Python float, found {type(grads['db'])}"
    assert isinstance(grads["dw"], np.ndarray) and grads["dw"].shape == (1, 2), \
        f"expected dw ndarray of shape (1, n_x) = (1, 2), found {np.shape(grads['dw'])}"


def test_propagate_saturated_cost_is_finite():
    # z = +-1000: A is exactly 0 or 1, so a naive log(A) would give log(0).
    w = np.array([[1000.0]])
    X = np.array([[1.0, -1.0, 1.0, -1.0]])
    Y = np.array([[0, 1, 1, 0]])  # two badly wrong, two right
    with np.errstate(all="raise"):
        grads, cost = R.propagate(w, 0.0, X, Y)
    assert math.isfinite(cost), f"expected a finite cost, found {cost}"
    np.testing.assert_allclose(cost, 500.0, rtol=1e-12, atol=0,
                               err_msg="expected cost = (1000 + 1000 + 0 + 0) / 4 = 500")
    assert np.all(np.isfinite(grads["dw"])) and math.isfinite(grads["db"]), \
        f"expected finite gradients, found {grads}"


def test_propagate_rejects_column_vector_w():
    with pytest.raises(ValueError):
        R.propagate(W0.T, B0, X0, Y0)


# --- optimize -----------------------------------------------------------------------


@pytest.mark.parametrize("num_iterations, expected_len", [(1, 1), (100, 1), (101, 2), (250, 3)])
def test_optimize_number_of_costs(num_iterations, expected_len):
    _, _, costs = R.optimize(W0, B0, X0, Y0, num_iterations=num_iterations, learning_rate=0.009)
    assert len(costs) == expected_len == math.ceil(num_iterations / 100), \
        f"expected {expected_len} costs for {num_iterations} iterations, found {len(costs)}"
    assert all(type(c) is float for c in costs), \
        f"expected Python floats, found {[type(c) for c in costs]}"


def test_optimize_print_cost(capsys):
    _, _, costs = R.optimize(W0, B0, X0, Y0, num_iterations=250, learning_rate=0.009,
                             print_cost=True)
    found = capsys.readouterr().out.splitlines()
    expected = ["Cost after iteration %i: %f" % (i, c) for i, c in zip((0, 100, 200), costs)]
    assert found == expected, f"expected printed lines {expected}, found {found}"
    assert found[0] == "Cost after iteration 0: 5.801545", \
        f"expected 'Cost after iteration 0: 5.801545', found {found[0]!r}"


def test_optimize_silent_by_default(capsys):
    R.optimize(W0, B0, X0, Y0, num_iterations=150)
    out = capsys.readouterr().out
    assert out == "", f"expected no output without print_cost, found {out!r}"


def test_optimize_does_not_mutate_w_and_cost_decreases():
    w = W0.copy()
    params, _, costs = R.optimize(w, B0, X0, Y0, num_iterations=500, learning_rate=0.001)
    np.testing.assert_array_equal(w, W0, err_msg="caller's w was modified by optimize")
    assert params["w"] is not w, "expected optimize to return a new w array, found the caller's"
    assert all(a > b for a, b in zip(costs, costs[1:])), \
        f"expected strictly decreasing costs at learning rate 0.001, found {costs}"
    final = R.propagate(params["w"], params["b"], X0, Y0)[1]
    assert final < costs[-1], f"expected final cost < {costs[-1]}, found {final}"
    assert type(params["b"]) is float, f"expected b to be a Python float, found {type(params['b'])}"


def test_optimize_rejects_zero_iterations():
    with pytest.raises(ValueError):
        R.optimize(W0, B0, X0, Y0, num_iterations=0)


# --- predict -------------------------------------------------------------------------


def test_predict_threshold_half_is_class_zero():
    X = np.random.default_rng(2).normal(size=(3, 6))
    found = R.predict(np.zeros((1, 3)), 0.0, X)  # A = 0.5 exactly everywhere
    np.testing.assert_array_equal(found, np.zeros((1, 6)),
                                  err_msg="expected A == 0.5 to be predicted as 0")
    above = R.predict(np.zeros((1, 3)), 1e-12, X)  # A = 0.5 + 2.5e-13
    np.testing.assert_array_equal(above, np.ones((1, 6)),
                                  err_msg="expected A just above 0.5 to be predicted as 1")


# --- model ---------------------------------------------------------------------------


def _separable_problem(seed=3, n_x=4, m_train=60, m_test=25, margin=0.3):
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=(1, n_x))
    X = rng.normal(size=(n_x, 4 * (m_train + m_test)))
    z = (w_true @ X)[0]
    X = X[:, np.abs(z) > margin][:, : m_train + m_test]
    Y = (w_true @ X > 0).astype(np.float64)
    return X[:, :m_train], Y[:, :m_train], X[:, m_train:], Y[:, m_train:]


def test_model(capsys):
    X_train, Y_train, X_test, Y_test = _separable_problem()
    d = R.model(X_train, Y_train, X_test, Y_test, num_iterations=1000, learning_rate=0.5)
    out = capsys.readouterr().out

    expected_keys = {"costs", "Y_prediction_test", "Y_prediction_train", "w", "b",
                     "learning_rate", "num_iterations"}
    assert set(d) == expected_keys, f"expected keys {expected_keys}, found {set(d)}"
    assert d["w"].shape == (1, 4), f"expected w shape (1, 4), found {d['w'].shape}"
    assert type(d["b"]) is float, f"expected b a Python float, found {type(d['b'])}"
    assert d["Y_prediction_train"].shape == (1, 60), \
        f"expected Y_prediction_train shape (1, 60), found {d['Y_prediction_train'].shape}"
    assert d["Y_prediction_test"].shape == (1, 25), \
        f"expected Y_prediction_test shape (1, 25), found {d['Y_prediction_test'].shape}"
    assert len(d["costs"]) == 10, f"expected 10 costs for 1000 iterations, found {len(d['costs'])}"
    assert d["learning_rate"] == 0.5 and d["num_iterations"] == 1000, \
        f"expected learning_rate 0.5, num_iterations 1000, found {d['learning_rate']}, " \
        f"{d['num_iterations']}"

    assert "np.float64" not in out, f"expected plain-float formatting, found {out!r}"
    lines = out.splitlines()
    assert len(lines) == 2, f"expected two accuracy lines, found {lines}"
    pattern = r"(train|test) accuracy: (-?\d+(?:\.\d+)?(?:e-?\d+)?) %"
    for kind, line, pred, Y in (("train", lines[0], d["Y_prediction_train"], Y_train),
                                ("test", lines[1], d["Y_prediction_test"], Y_test)):
        match = re.fullmatch(pattern, line)
        assert match and match.group(1) == kind, \
            f"expected a line like '{kind} accuracy: 99.0 %', found {line!r}"
        expected = 100 - np.mean(np.abs(pred - Y)) * 100
        assert float(match.group(2)) == pytest.approx(expected, abs=1e-9), \
            f"expected printed {kind} accuracy {expected}, found {match.group(2)}"
    assert lines[0] == "train accuracy: 100.0 %", \
        f"expected 'train accuracy: 100.0 %' on separable data, found {lines[0]!r}"


# --- montage -------------------------------------------------------------------------

H_IMG, W_IMG = 3, 4  # non-square, to catch h/w swaps


def _stack(k, colour):
    """k images; image i is constant i + 1 (grey) or 10 (i + 1) + channel (colour)."""
    if colour:
        values = 10.0 * (np.arange(k)[:, None] + 1) + np.arange(3)[None, :]  # (k, 3)
        return np.broadcast_to(values[:, None, None, :], (k, H_IMG, W_IMG, 3)).copy()
    return np.broadcast_to((np.arange(k) + 1.0)[:, None, None], (k, H_IMG, W_IMG)).copy()


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("k, n", [(1, 1), (2, 2), (4, 2), (5, 3), (9, 3)])
def test_montage_layout(k, n, colour):
    images = _stack(k, colour)
    out = R.montage(images)
    H, W = n * H_IMG + n + 1, n * W_IMG + n + 1
    expected_shape = (H, W, 3) if colour else (H, W)
    assert out.shape == expected_shape, \
        f"k={k}: expected shape (n*h+n+1, n*w+n+1{', 3' if colour else ''}) = " \
        f"{expected_shape}, found {out.shape}"
    assert out.dtype == np.float64, f"expected float64, found {out.dtype}"

    rows, cols = np.arange(H), np.arange(W)
    border = (rows[:, None] % (H_IMG + 1) == 0) | (cols[None, :] % (W_IMG + 1) == 0)
    assert np.all(out[border] == 0.5), \
        f"k={k}: expected every border pixel to be 0.5, found values {np.unique(out[border])}"

    for slot in range(n * n):
        r, c = slot // n, slot % n
        top, left = 1 + r * (H_IMG + 1), 1 + c * (W_IMG + 1)
        tile = out[top:top + H_IMG, left:left + W_IMG]
        expected = images[slot] if slot < k else np.full_like(images[0], 0.5)
        what = f"image {slot}" if slot < k else "empty slot (0.5)"
        np.testing.assert_array_equal(tile, expected,
                                      err_msg=f"k={k}: expected {what} at grid ({r}, {c})")


def test_montage_accepts_int_dtype_and_lists():
    images = np.arange(2 * 2 * 2, dtype=np.uint8).reshape(2, 2, 2)
    out = R.montage(images.tolist())
    assert out.dtype == np.float64, f"expected float64, found {out.dtype}"
    np.testing.assert_array_equal(out[1:3, 1:3], images[0], err_msg="image 0 at (1:3, 1:3)")
    np.testing.assert_array_equal(out[1:3, 4:6], images[1], err_msg="image 1 at (1:3, 4:6)")


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3, 3, 1), (0, 3, 3), (0, 3, 3, 3), (2, 3, 3, 4)])
def test_montage_rejects_bad_input(shape):
    with pytest.raises(ValueError):
        R.montage(np.zeros(shape))


# --- no mutation -----------------------------------------------------------------------


def test_no_function_mutates_its_inputs(capsys):
    """Read-only inputs make any in-place write raise; copies check equality too."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, 3))
    images = rng.integers(0, 256, size=(3, 2, 2, 3), dtype=np.uint8)
    grey = rng.random(size=(3, 2, 2))
    X_train, Y_train, X_test, Y_test = _separable_problem(seed=5, m_train=20, m_test=10)
    originals = [z, images, grey, W0, X0, Y0, X_train, Y_train, X_test, Y_test]
    copies = [a.copy() for a in originals]
    ro = _readonly(*originals)

    def call_every_function(z, images, grey, w, X, Y, X_train, Y_train, X_test, Y_test):
        R.sigmoid(z)
        R.flatten_and_standardize(images)
        R.montage(grey)
        R.propagate(w, B0, X, Y)
        R.optimize(w, B0, X, Y, num_iterations=5)
        R.predict(w, B0, X)
        R.model(X_train, Y_train, X_test, Y_test, num_iterations=5, learning_rate=0.1)
        capsys.readouterr()

    call_every_function(*ro)
    call_every_function(*originals)  # writable too (a function could copy-on-write only when it must)
    for i, (a, a_copy, a_ro) in enumerate(zip(originals, copies, ro)):
        np.testing.assert_array_equal(a, a_copy, err_msg=f"input #{i} was modified")
        np.testing.assert_array_equal(a_ro, a_copy, err_msg=f"read-only input #{i} changed")
