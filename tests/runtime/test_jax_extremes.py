"""The JAX backend at the float range's edges: every op whose NumPy forward does
something for range or precision (norm and arctan2's gradient scaled, exclusive
products scaled, tanh/sigmoid/erf derivatives from x, log_sigmoid, softplus,
log_softmax and the cross-entropy ops shifted, float16 batches counted in
float64) run over a table of extreme inputs through both backends, and against
the closed form computed in 50-digit arithmetic (mpmath) where the value is a
float.

Tolerances: 1e-12 relative between the backends in float64 (1e-6 in float32,
1e-3 in float16), a few ulps against the closed form; below the smallest normal
number only absolutely. XLA on a CPU flushes subnormal numbers to 0 (inputs and
results, as CPUs do with FTZ/DAZ set) where NumPy keeps them: the table holds no
point whose value the NumPy backend computes through subnormal intermediates
(README, "The JAX backend")."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import graphcomp as gc

pytest.importorskip("jax")

mpmath.mp.dps = 50
INF = np.inf


def _compare(outs, inputs, values, closed=(), rtol=None):
    """``outs`` on both backends agree, and with ``closed`` (the closed forms of the first
    outputs, None for one without)."""
    want = gc.compile(outs, inputs)(*values)
    got = gc.compile(outs, inputs, backend="jax")(*values)
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, w.dtype, g.shape, w.shape)
        info = np.finfo(w.dtype) if w.dtype.kind == "f" else np.finfo(np.float64)
        tol = rtol or {8: 1e-12, 4: 1e-6, 2: 1e-3}.get(w.dtype.itemsize, 1e-12)
        np.testing.assert_allclose(g, w, rtol=tol, atol=float(info.tiny), err_msg=f"output {k}: jax vs numpy")
    for k, c in enumerate(closed):
        if c is None:
            continue
        w = np.asarray(want[k])
        info = np.finfo(w.dtype)
        exact = np.asarray(c, dtype=np.float64)
        ulps = 8 * float(info.eps)
        for name, v in (("numpy", w), ("jax", np.asarray(got[k]))):
            np.testing.assert_allclose(v, exact, rtol=ulps, atol=float(info.tiny), err_msg=f"output {k}: {name}")
    return got


def _mp(values, f):
    """``f`` (of mpf numbers) elementwise over ``values``, as float64."""
    flat = [float(f(mpmath.mpf(float(v)))) for v in np.ravel(values)]
    return np.array(flat).reshape(np.shape(values))


def _var(shape, dtype="float64", name="x"):
    return gc.Variable(name, shape, dtype)


# -- norm -----------------------------------------------------------------------------------------------------


def _norm_closed(v):
    n = mpmath.sqrt(mpmath.fsum(mpmath.mpf(float(a)) ** 2 for a in v))
    return float(n), [float(mpmath.mpf(float(a)) / n) if n else 0.0 for a in v]


@pytest.mark.parametrize(
    "v, dtype",
    [
        ([3e-200, 4e-200], "float64"),
        ([3e200, 4e200], "float64"),
        ([1e308, 1e308], "float64"),  # the norm 1.41e308 is a float; the squares are not
        ([0.0, 0.0], "float64"),
        ([3e-25, 4e-25], "float32"),
        ([3e30, 4e30], "float32"),
    ],
)
def test_norm_is_scaled_on_jax_as_on_numpy(v, dtype):
    x = _var((2,), dtype)
    n = gc.norm(x)
    value, grad = _norm_closed(v)
    _compare([n, gc.grad(n, x)], [x], [np.array(v, dtype)], closed=[value, grad])


def test_norm_of_an_inf_or_nan_entry():
    x = _var((2,))
    n = gc.norm(x)
    got = _compare([n, gc.grad(n, x)], [x], [np.array([INF, 1.0])])
    assert got[0] == INF
    got = _compare([n], [x], [np.array([np.nan, 1.0])])
    assert np.isnan(got[0])


def test_norm_over_axes_scales_each_slice_by_its_own_max():
    m = np.array([[3e-200, 4e-200, 0.0], [3e200, 0.0, 4e200]])
    X = _var((2, 3))
    rows, cols, whole = gc.norm(X, axis=1), gc.norm(X, axis=0, keepdims=True), gc.norm(X)
    closed_rows = [_norm_closed(r)[0] for r in m]
    closed_cols = [[_norm_closed(c)[0] for c in m.T]]
    _compare(
        [rows, cols, whole, gc.grad(rows.sum() + cols.sum(), X)],
        [X],
        [m],
        closed=[closed_rows, closed_cols, _norm_closed(m.ravel())[0]],
    )


@pytest.mark.parametrize("order", [None, 2, 1, INF, -INF, 0])
def test_every_vector_ord_at_tiny_and_huge_values(order):
    x = _var((3,))
    n = gc.norm(x, ord=order)
    for v in (np.array([3e-200, -4e-200, 0.0]), np.array([3e200, -4e200, 1.0])):
        if order in (None, 2):
            closed = _norm_closed(v)[0]
        else:
            closed = float(np.linalg.norm(v, ord=order))  # no squares: NumPy's own is exact here
        outs = [n] if order == 0 else [n, gc.grad(n, x)]
        _compare(outs, [x], [v], closed=[closed])


@pytest.mark.parametrize("order", [None, "fro", 1, -1, INF, -INF])
def test_every_matrix_ord_at_tiny_and_huge_values(order):
    X = _var((2, 2))
    n = gc.norm(X, ord=order)
    for scale in (1e-200, 1e200):
        m = np.array([[3.0, -4.0], [1.0, 2.0]]) * scale
        closed = _norm_closed(m.ravel())[0] if order in (None, "fro") else float(np.linalg.norm(m, ord=order))
        _compare([n, gc.grad(n, X)], [X], [m], closed=[closed])


# -- arctan2 and quotients ------------------------------------------------------------------------------------


def test_arctan2_gradients_are_scaled_on_jax_as_on_numpy():
    pts_y = np.array([1e-200, 1e200, 1e-200, 0.0, 1.0, INF, 3e-300, -2e-300, 1e300])
    pts_x = np.array([1e-200, 1e200, 2e-200, 0.0, INF, 1.0, 4e-300, 1e-300, -1e-300])
    y, x = _var((9,), name="y"), _var((9,), name="x")
    gy, gx = gc.grad(gc.arctan2(y, x).sum(), [y, x])
    second = gc.grad(gy.sum(), [y, x])

    def closed(f):
        out = []
        for a, b in zip(pts_y, pts_x):
            if (a == 0 and b == 0) or np.isinf(a) or np.isinf(b):
                out.append(0.0)  # the documented values: 0 at the origin and at infinity
            else:
                a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
                out.append(float(f(a, b, a * a + b * b)))
        return out

    closed_gy = closed(lambda a, b, r2: b / r2)
    closed_gx = closed(lambda a, b, r2: -a / r2)
    both = (pts_y, pts_x)
    _compare([gy, gx, *second], [y, x], both, closed=[closed_gy, closed_gx])


def test_chained_quotients_round_each_quotient_as_numpy_does():
    a, r, s = _var((), name="a"), _var((), name="r"), _var((), name="s")
    chained = ((a / s) / r) / s  # XLA would write a / (s * r * s): s * s underflows
    nested = a / (r / s)  # XLA would write (a * s) / r: a * s overflows
    by_exp = a / gc.exp(r)  # XLA would write a * exp(-r): not NumPy's 1e300 / inf = 0
    got = _compare([chained], [a, r, s], [1e-200, 2.0, 1e-200], closed=[5e199])
    assert got[0] == 5e199
    _compare([nested], [a, r, s], [1e200, 1e200, 1e200], closed=[1e200])
    got = _compare([by_exp], [a, r, s], [1e300, 710.0, 1.0])
    assert got[0] == 0.0


# -- products --------------------------------------------------------------------------------------------------


def _others(v):
    v = [mpmath.mpf(float(a)) for a in v]
    return [float(mpmath.fprod(v[:k] + v[k + 1 :])) for k in range(len(v))]


@pytest.mark.parametrize(
    "v, dtype",
    [
        ([1e200, 1e200, 1e-200, 1e-200], "float64"),
        ([2.0] * 600 + [0.5] * 600, "float64"),  # running products reach 2**600: past every float32, not float64
        ([2.0**100] * 20 + [2.0**-100] * 20, "float64"),  # running products reach 2**2000
        ([0.0, 1e300, 1e-300, 5.0], "float64"),
        ([0.0, 0.0, 3.0], "float64"),
        ([1e30, 1e30, 1e-30, 1e-30], "float32"),
    ],
)
def test_prods_gradient_is_scaled_on_jax_as_on_numpy(v, dtype):
    x = _var((len(v),), dtype)
    _compare([gc.grad(gc.prod(x), x)], [x], [np.array(v, dtype)], closed=[_others(v)])


def test_prods_gradient_over_several_axes_and_its_second_derivative():
    m = np.array([[1e200, 1e-200, 3.0], [1e150, 2.0, 1e-150]])
    X = _var((2, 3))
    g_rows = gc.grad(gc.prod(X, axis=1).sum(), X)
    g_all = gc.grad(gc.prod(X), X)
    u = np.array([[1.0, -1.0, 0.5], [2.0, 0.25, -3.0]])
    second = gc.grad((g_rows * gc.constant(u)).sum(), X)
    closed_rows = [_others(r) for r in m]
    closed_all = np.reshape(_others(m.ravel()), m.shape)
    _compare([g_rows, g_all, second], [X], [m], closed=[closed_rows, closed_all])


def test_prod_values_in_range():
    x = _var((3,))
    _compare([gc.prod(x)], [x], [np.array([1e-150, 1e-150, 3.0])], closed=[3e-300])


# -- moments ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("v", [[1e150, 3e150], [1e-150, 3e-150], [1e-200, 3e-200], [5.0, 5.0], [1e155, 3e155]])
def test_var_and_std_at_the_range_edges(v, ddof):
    x = _var((2,))
    var, std = gc.var(x, ddof=ddof), gc.std(x, ddof=ddof)
    vals = [mpmath.mpf(a) for a in v]
    mean = mpmath.fsum(vals) / 2
    exact = mpmath.fsum((a - mean) ** 2 for a in vals) / (2 - ddof)
    closed = [float(exact), float(mpmath.sqrt(exact))]
    info = np.finfo(np.float64)
    # where the squares leave the range NumPy's np.var (and so both backends) is 0 or inf: backends only
    closed = [c if info.tiny <= abs(c) <= info.max or c == 0 else None for c in closed]
    if v[0] in (1e-200, 1e155):
        closed = [None, None]
    _compare([var, std, gc.grad(std, x), gc.grad(var, x)], [x], [np.array(v)], closed=closed)


# -- derivatives from x ---------------------------------------------------------------------------------------

SECH2 = lambda t: 1 / mpmath.cosh(t) ** 2  # noqa: E731
SIG_GRAD = lambda t: mpmath.exp(-t) / (1 + mpmath.exp(-t)) ** 2  # noqa: E731
ERF_GRAD = lambda t: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(t**2))  # noqa: E731
SIG = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
LOG_SIG = lambda t: -mpmath.log1p(mpmath.exp(-t))  # noqa: E731
SOFTPLUS = lambda t: mpmath.log1p(mpmath.exp(t))  # noqa: E731


def _finite_closed(values, f, dtype):
    """f at the finite values, its limit 0 at the infinite ones, in ``dtype``'s range."""
    info = np.finfo(dtype)
    out = []
    for v in values:
        if np.isinf(v):
            out.append(0.0)
        else:
            c = float(f(mpmath.mpf(float(v))))
            out.append(c if abs(c) <= float(info.max) else np.sign(c) * INF)
    return out


UNARY_GRADS = [
    ("tanh", gc.tanh, SECH2, [0, 1e-300, 19, 20, 300, 354, 700, 709.5, 710, 1000, -1000, INF, -INF], "float64"),
    ("tanh", gc.tanh, SECH2, [0, 9, 40, 44, 87, 89, 100, -100, INF], "float32"),
    ("sigmoid", gc.sigmoid, SIG_GRAD, [0, 1e-300, 37, 40, 700, 708, 745, -745, 750, INF, -INF], "float64"),
    ("sigmoid", gc.sigmoid, SIG_GRAD, [0, 17, 40, 88, 104, -104, INF], "float32"),
    ("erf", gc.erf, ERF_GRAD, [0, 1e-300, 5, 25, 26.5, 27.2, 30, -25, INF, -INF], "float64"),
    ("erf", gc.erf, ERF_GRAD, [0, 3, 9, 9.3, 10, 12, -9.3], "float32"),
]


@pytest.mark.parametrize("name, f, derivative, v, dtype", UNARY_GRADS, ids=[f"{r[0]}-{r[4]}" for r in UNARY_GRADS])
def test_derivatives_from_x_in_the_tails(name, f, derivative, v, dtype):
    x = _var((len(v),), dtype)
    g = gc.grad(f(x).sum(), x)
    second = gc.grad(g.sum(), x)
    _compare([g, second], [x], [np.array(v, dtype)], closed=[_finite_closed(v, derivative, dtype)])


UNARY_VALUES = [
    ("sigmoid", gc.sigmoid, SIG, [-700, -740, -745, -750, 40, 1e-300, 0, 37], "float64"),
    ("sigmoid", gc.sigmoid, SIG, [-87, -100, -103, 17, 0], "float32"),
    ("log_sigmoid", gc.log_sigmoid, LOG_SIG, [-1e300, -800, -40, 0, 40, 700, 1e-300], "float64"),
    ("log_sigmoid", gc.log_sigmoid, LOG_SIG, [-1e30, -100, -17, 0, 17, 80], "float32"),
    ("softplus", gc.softplus, SOFTPLUS, [1e300, 800, 40, 0, -40, -700, -1e-300], "float64"),
    ("softplus", gc.softplus, SOFTPLUS, [1e30, 100, 17, 0, -17, -80], "float32"),
]


@pytest.mark.parametrize("name, f, closed, v, dtype", UNARY_VALUES, ids=[f"{r[0]}-{r[4]}" for r in UNARY_VALUES])
def test_values_and_gradients_in_the_tails(name, f, closed, v, dtype):
    x = _var((len(v),), dtype)
    y = f(x)
    _compare([y, gc.grad(y.sum(), x)], [x], [np.array(v, dtype)], closed=[_finite_closed(v, closed, dtype)])


# -- log_softmax and the cross-entropies --------------------------------------------------------------------------

LOGITS = np.array([[1000.0, 0.0, -1000.0], [1e300, 0.0, -1e300], [-745.0, 0.0, 745.0], [1e-300, 0.0, -1e-300]])


def _log_softmax_closed(z):
    out = []
    for row in z:
        r = [mpmath.mpf(float(a)) for a in row]
        m = max(r)
        lse = m + mpmath.log(mpmath.fsum(mpmath.exp(a - m) for a in r))
        out.append([float(a - lse) for a in r])
    return np.array(out)


def test_log_softmax_softmax_and_logsumexp_at_huge_logits():
    z = _var((None, 3))
    lsm, sm, lse = gc.log_softmax(z), gc.softmax(z), gc.logsumexp(z, axis=1)
    closed_lsm = _log_softmax_closed(LOGITS)
    closed_sm = np.exp(closed_lsm)  # exp of a float64 in (-inf, 0]: rounding, not range
    closed_sm = [None] * 0 + [closed_sm]
    u = np.array([[1.0, -2.0, 0.5]] * 4)
    grads = gc.grad((lsm * gc.constant(u)).sum() + (sm * gc.constant(u)).sum() + lse.sum(), z)
    _compare([lsm, sm, lse, grads], [z], [LOGITS], closed=[closed_lsm, None, LOGITS[:, 0] - closed_lsm[:, 0]])


def test_cross_entropy_and_its_gradient_at_huge_logits():
    z, labels = _var((None, 3)), gc.Variable("labels", (None,), "int64")
    loss = gc.nn.cross_entropy(z, labels)
    lab = np.array([1, 0, 2, 1])
    closed_lsm = _log_softmax_closed(LOGITS)
    closed_loss = -float(mpmath.fsum(closed_lsm[k, lab[k]] for k in range(4)) / 4)
    onehot = np.eye(3)[lab]
    closed_grad = (np.exp(closed_lsm) - onehot) / 4
    _compare([loss, gc.grad(loss, z)], [z, labels], [LOGITS, lab], closed=[closed_loss, closed_grad])


def test_soft_target_cross_entropy_gradient_at_huge_logits():
    z, Y = _var((None, 3)), _var((None, 3), name="Y")
    loss = -(Y * gc.log_softmax(z)).sum()
    y = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.5, 0.5, 1.0], [0.0, 0.0, 0.0]])
    closed_grad = np.exp(_log_softmax_closed(LOGITS)) * y.sum(1, keepdims=True) - y
    _compare([gc.grad(loss, z)], [z, Y], [LOGITS, y], closed=[closed_grad])


def test_float16_cross_entropy_over_a_batch_past_float16s_range():
    # the mean is summed and divided in float64 by NumPy's forward: 70000 * log(3) is not a float16
    B = 70000
    z, labels = _var((None, 3), "float16"), gc.Variable("labels", (None,), "int64")
    loss = gc.nn.cross_entropy(z, labels)
    values = [np.zeros((B, 3), np.float16), np.zeros(B, np.int64)]
    closed_grad = np.broadcast_to(np.array([-2 / 3, 1 / 3, 1 / 3]) / B, (B, 3))
    got = _compare([loss, gc.grad(loss, z)], [z, labels], values, closed=[float(np.log(3.0)), None])
    np.testing.assert_allclose(got[1].astype(np.float64), closed_grad, rtol=1e-3, atol=6e-8)


def test_binary_cross_entropy_with_logits_at_huge_logits():
    z, t = _var((6,)), _var((6,), name="t")
    loss = gc.nn.binary_cross_entropy_with_logits(z, t)
    zs = np.array([1000.0, -1000.0, 40.0, -40.0, 0.0, 745.0])
    ts = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3])
    terms = [
        (1 - mpmath.mpf(b)) * SOFTPLUS(mpmath.mpf(a)) + mpmath.mpf(b) * SOFTPLUS(-mpmath.mpf(a)) for a, b in zip(zs, ts)
    ]
    closed_grad = [float((SIG(mpmath.mpf(a)) - mpmath.mpf(b)) / 6) for a, b in zip(zs, ts)]
    _compare([loss, gc.grad(loss, z)], [z, t], [zs, ts], closed=[float(mpmath.fsum(terms) / 6), closed_grad])
