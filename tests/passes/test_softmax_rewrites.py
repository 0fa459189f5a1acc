"""The soft-max cross-entropy written by hand (one-hot labels times log_softmax, or the
log of a softmax, summed and averaged) compiles to the closed form (softmax(z) - Y)/B,
and rows of Y that do not sum to one still get their exact gradient.

Oracles: central finite differences of the loss computed in plain NumPy, the closed
form written in NumPy, ``gc.evaluate`` (which runs the graph as built, no rewrite),
and PyTorch's autograd where installed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphcomp as gc

CLOSED_FORM = "log_softmax_grad(lsm, s*Y) -> (-s)*softmax_cross_entropy_grad(lsm, Y)"
SOFTMAX_OF_LOG = "softmax_grad(s, N/s) -> log_softmax_grad(log_softmax x, N)"
SCALAR_BROADCAST = "broadcast(broadcasts of a 0-d s) -> broadcast(s)"

#: the soft-target losses as users write them: name -> (graphcomp loss, NumPy loss), both of (logits, Y)
LOSSES = {
    "-(Y*log_softmax).sum(1).mean()": (
        lambda L, Y: -(Y * gc.log_softmax(L, axis=1)).sum(axis=1).mean(),
        lambda L, Y: -(Y * _np_log_softmax(L)).sum(axis=1).mean(),
    ),
    "-(Y*log(softmax)).sum(1).mean()": (
        lambda L, Y: -(Y * gc.log(gc.softmax(L, axis=1))).sum(axis=1).mean(),
        lambda L, Y: -(Y * _np_log_softmax(L)).sum(axis=1).mean(),
    ),
    "-mean(sum(log_softmax*Y, -1))": (
        lambda L, Y: -gc.mean(gc.sum(gc.log_softmax(L) * Y, axis=-1)),
        lambda L, Y: -(Y * _np_log_softmax(L)).sum(axis=-1).mean(),
    ),
    "-(log(softmax)*Y).sum()/7": (
        lambda L, Y: -(gc.log(gc.softmax(L, axis=1)) * Y).sum() / 7.0,
        lambda L, Y: -(Y * _np_log_softmax(L)).sum() / 7.0,
    ),
    "(Y*log_softmax).mean()": (
        lambda L, Y: (Y * gc.log_softmax(L, axis=1)).mean(),
        lambda L, Y: (Y * _np_log_softmax(L)).mean(),
    ),
}


def _np_log_softmax(L):
    m = L.max(axis=-1, keepdims=True)
    return L - m - np.log(np.exp(L - m).sum(axis=-1, keepdims=True))


def _np_softmax(L):
    return np.exp(_np_log_softmax(L))


def _fd_grad(loss, L, Y, eps=1e-6):
    """Central differences of the NumPy loss, one logit at a time."""
    g = np.zeros_like(L)
    for idx in np.ndindex(L.shape):
        plus, minus = L.copy(), L.copy()
        plus[idx] += eps
        minus[idx] -= eps
        g[idx] = (loss(plus, Y) - loss(minus, Y)) / (2 * eps)
    return g


def _data(batch=5, classes=4, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((batch, classes)).astype(dtype)
    Y = np.eye(classes, dtype=dtype)[rng.integers(0, classes, batch)]
    return L, Y


def _compiled(name, batch, classes, dtype="float64", backend=None):
    L = gc.Variable("L", (batch, classes), dtype)
    Y = gc.Variable("Y", (batch, classes), dtype)
    J = LOSSES[name][0](L, Y)
    g = gc.grad(J, L)
    return gc.compile([J, g], [L, Y], backend=backend), (J, g, L, Y)


def _ops(f):
    return [v.owner.op.name for v in f.graph.variables if v.owner is not None]


@pytest.mark.parametrize("batch", [5, None], ids=["batch-known", "batch-unknown"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_the_hand_written_soft_max_cross_entropy_compiles_to_the_closed_form(name, batch):
    f, (J, g, L, Y) = _compiled(name, batch, 4)
    names = [r for r, *_ in f.rewrites]
    assert CLOSED_FORM in names
    assert ("log(softmax" in name) == (SOFTMAX_OF_LOG in names)
    ops = _ops(f)
    assert "softmax_cross_entropy_grad" in ops and "log_softmax_grad" not in ops and "softmax" not in ops
    Lv, Yv = _data()
    Jv, gv = f(Lv, Yv)
    loss = LOSSES[name][1]
    np.testing.assert_allclose(Jv, loss(Lv, Yv), rtol=1e-12)
    np.testing.assert_allclose(gv, _fd_grad(loss, Lv, Yv), rtol=1e-6, atol=1e-9)
    # the graph as built (no rewrite) agrees; for the mean of row sums, the lectures' closed form too
    np.testing.assert_allclose(gv, gc.evaluate(g, {L: Lv, Y: Yv}), rtol=1e-12, atol=1e-15)
    if name.endswith(".sum(1).mean()"):
        np.testing.assert_allclose(gv, (_np_softmax(Lv) - Yv) / len(Lv), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(LOSSES))
def test_rows_of_y_that_do_not_sum_to_one_get_their_exact_gradient_not_the_closed_form(name):
    f, (J, g, L, Y) = _compiled(name, None, 4)
    assert CLOSED_FORM in [r for r, *_ in f.rewrites]
    rng = np.random.default_rng(3)
    Lv = rng.standard_normal((5, 4))
    Yv = rng.uniform(-0.5, 1.5, (5, 4))  # row sums anywhere, negative entries too
    Yv[2] = 0.0  # a row summing to exactly zero
    assert not np.allclose(Yv.sum(axis=1), 1)
    loss = LOSSES[name][1]
    Jv, gv = f(Lv, Yv)
    np.testing.assert_allclose(Jv, loss(Lv, Yv), rtol=1e-12)
    np.testing.assert_allclose(gv, _fd_grad(loss, Lv, Yv), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gv, gc.evaluate(g, {L: Lv, Y: Yv}), rtol=1e-12, atol=1e-15)
    if name.endswith(".sum(1).mean()"):
        # the one-hot closed form would be wrong here; the rows' own sums make it right
        assert not np.allclose(gv, (_np_softmax(Lv) - Yv) / 5)
        np.testing.assert_allclose(gv, (_np_softmax(Lv) * Yv.sum(1, keepdims=True) - Yv) / 5, rtol=1e-12)


@pytest.mark.parametrize("y_rows, l_rows", [(1, 5), (5, 1)], ids=["targets-broadcast", "logits-broadcast"])
def test_targets_and_logits_that_broadcast_at_run_time_keep_their_gradient(y_rows, l_rows):
    """With unknown batch sizes, Y and the logits may broadcast against each other when
    the graph runs: the rewritten gradient is still the gradient of what was built."""
    name = "-(Y*log_softmax).sum(1).mean()"
    f, (J, g, L, Y) = _compiled(name, None, 4)
    rng = np.random.default_rng(4)
    Lv, Yv = rng.standard_normal((l_rows, 4)), rng.uniform(0, 1, (y_rows, 4))
    Jv, gv = f(Lv, Yv)
    loss = LOSSES[name][1]
    assert gv.shape == Lv.shape
    np.testing.assert_allclose(gv, _fd_grad(loss, Lv, Yv), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gv, gc.evaluate(g, {L: Lv, Y: Yv}), rtol=1e-12, atol=1e-15)


def test_float32_keeps_its_dtype_and_values():
    name = "-(Y*log(softmax)).sum(1).mean()"
    f, (J, g, L, Y) = _compiled(name, None, 4, "float32")
    Lv, Yv = _data(dtype="float32")
    Jv, gv = f(Lv, Yv)
    assert gv.dtype == np.float32 and CLOSED_FORM in [r for r, *_ in f.rewrites]
    np.testing.assert_allclose(gv, (_np_softmax(Lv.astype(float)) - Yv) / 5, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(gv, gc.evaluate(g, {L: Lv, Y: Yv}), rtol=1e-5, atol=1e-7)


def test_the_log_of_a_softmax_that_underflows_still_gets_a_finite_gradient():
    """As built, log's gradient divides by the softmax, 0 where it underflowed: 0/0.
    Compiled, the gradient goes through log_softmax and is the closed form."""
    name = "-(Y*log(softmax)).sum(1).mean()"
    f, (J, g, L, Y) = _compiled(name, None, 3)
    Lv = np.array([[0.0, 800.0, -800.0], [1.0, 2.0, 3.0]])
    Yv = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_built = gc.evaluate(g, {L: Lv, Y: Yv})
    assert np.isnan(as_built).any()
    _, gv = f(Lv, Yv)
    np.testing.assert_allclose(gv, (_np_softmax(Lv) - Yv) / 2, rtol=1e-12, atol=1e-300)


def test_a_gradient_that_is_not_a_uniform_scale_of_y_keeps_log_softmax_grad():
    """Each class weighted differently: G is not s * Y, so the rule must not fire."""
    L, Y, v = gc.Variable("L", (None, 4)), gc.Variable("Y", (None, 4)), gc.Variable("v", (4,))
    J = -((Y * gc.log_softmax(L, axis=1)) @ v).mean()
    f = gc.compile([J, gc.grad(J, L)], [L, Y, v])
    assert CLOSED_FORM not in [r for r, *_ in f.rewrites] and "log_softmax_grad" in _ops(f)
    Lv, Yv = _data()
    vv = np.array([1.0, 2.0, 0.5, -1.0])

    def loss(Lx, Yx):
        return -((Yx * _np_log_softmax(Lx)) @ vv).mean()

    np.testing.assert_allclose(f(Lv, Yv, vv)[1], _fd_grad(loss, Lv, Yv), rtol=1e-6, atol=1e-9)


def test_a_softmax_with_another_consumer_besides_the_log_cancels_only_the_log_part():
    L, Y = gc.Variable("L", (None, 4)), gc.Variable("Y", (None, 4))
    p = gc.softmax(L, axis=1)
    J = -(Y * gc.log(p)).sum(axis=1).mean() + (p * p).sum()
    f = gc.compile([J, gc.grad(J, L)], [L, Y])
    # the log's quotient N/s cancels; p*p's part stays a softmax_grad
    assert SOFTMAX_OF_LOG in [r for r, *_ in f.rewrites] and "softmax_grad" in _ops(f)
    Lv, Yv = _data()

    def loss(Lx, Yx):
        return -(Yx * _np_log_softmax(Lx)).sum(axis=1).mean() + (_np_softmax(Lx) ** 2).sum()

    np.testing.assert_allclose(f(Lv, Yv)[1], _fd_grad(loss, Lv, Yv), rtol=1e-6, atol=1e-9)


def test_the_softmax_pattern_written_by_hand_with_a_broadcasting_numerator_is_left_alone():
    """y * (A/y - sum(A/y * y)) with A of another shape than y is not a gradient of log y:
    the rule must neither fire nor fail."""
    x, a = gc.Variable("x", (3, 4)), gc.Variable("a", (4,))
    y = gc.softmax(x, axis=1)
    d = a / y
    out = y * (d - (d * y).sum(axis=1, keepdims=True))
    f = gc.compile(out, [x, a])
    assert SOFTMAX_OF_LOG not in [r for r, *_ in f.rewrites]
    xv, av = np.random.default_rng(7).standard_normal((3, 4)), np.array([1.0, -2.0, 0.5, 3.0])
    p = _np_softmax(xv)
    np.testing.assert_allclose(f(xv, av), p * (av / p - av.sum()), rtol=1e-12)


def test_broadcasts_of_a_scalar_collapse_into_one():
    """A mean's gradient over unknown dimensions is the scalar 1/n broadcast step by step
    back up (expand_dims, broadcast_like per reduction): one broadcast is left."""
    x = gc.Variable("x", (None, 3))
    J = (x * x).sum(axis=1).mean()
    g = gc.grad(J, x)
    f = gc.compile(g, [x])
    assert SCALAR_BROADCAST in [r for r, *_ in f.rewrites]
    ops = _ops(f)
    assert ops.count("broadcast_like") == 1 and "expand_dims" not in ops
    xv = np.random.default_rng(5).standard_normal((6, 3))
    np.testing.assert_allclose(f(xv), 2 * xv / 6, rtol=1e-14)
    np.testing.assert_allclose(f(xv), gc.evaluate(g, {x: xv}), rtol=1e-14)


def test_the_numba_backend_runs_the_rewritten_graph():
    pytest.importorskip("numba")
    name = "-(Y*log(softmax)).sum(1).mean()"
    f, (J, g, L, Y) = _compiled(name, None, 4, backend="numba")
    Lv, Yv = _data()
    np.testing.assert_allclose(f(Lv, Yv)[1], (_np_softmax(Lv) - Yv) / 5, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(LOSSES))
def test_against_pytorch(name):
    torch = pytest.importorskip("torch")
    f, _ = _compiled(name, None, 4)
    rng = np.random.default_rng(6)
    Lv, Yv = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 4))
    Lt = torch.tensor(Lv, requires_grad=True)
    lsm = torch.log_softmax(Lt, dim=1)
    Yt = torch.tensor(Yv)
    Jt = {
        "-(Y*log_softmax).sum(1).mean()": lambda: -(Yt * lsm).sum(1).mean(),
        "-(Y*log(softmax)).sum(1).mean()": lambda: -(Yt * torch.log(torch.softmax(Lt, dim=1))).sum(1).mean(),
        "-mean(sum(log_softmax*Y, -1))": lambda: -(lsm * Yt).sum(-1).mean(),
        "-(log(softmax)*Y).sum()/7": lambda: -(torch.log(torch.softmax(Lt, dim=1)) * Yt).sum() / 7.0,
        "(Y*log_softmax).mean()": lambda: (Yt * lsm).mean(),
    }[name]()
    (gt,) = torch.autograd.grad(Jt, [Lt])
    Jv, gv = f(Lv, Yv)
    np.testing.assert_allclose(Jv, Jt.item(), rtol=1e-12)
    np.testing.assert_allclose(gv, gt.numpy(), rtol=1e-10, atol=1e-15)
