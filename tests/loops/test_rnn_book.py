"""The book's recurrent network (Goodfellow et al. 2016, section 10.2, figure 10.3):

    a_t = b + W h_{t-1} + U x_t,   h_t = tanh(a_t),   o_t = c + V h_t,
    yhat_t = softmax(o_t),          L = sum_t -log yhat_t[y_t]

written as one gc.scan, its gradients (back-propagation through time, built by
Algorithm 6.6 on the loop body) checked against the book's closed forms of
section 10.2.2, computed here in NumPy, and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.loops.common import assert_close, central_fd

N_IN, N_H, N_OUT, T = 4, 5, 3, 6


def rnn_loss(h0, X, Y, b, c, W, U, V, **scan_kw):
    """The loss summed over time; X is (T, N_IN), Y one-hot (T, N_OUT)."""

    def step(h, xy):
        x, y = xy
        h_new = gc.tanh(b + W @ h + U @ x)
        o = c + V @ h_new
        return h_new, -(y * gc.log_softmax(o)).sum()

    _, losses = gc.scan(step, h0, (X, Y), **scan_kw)
    return losses.sum()


def book_gradients(h0, X, labels, b, c, W, U, V):
    """Forward pass, then section 10.2.2's equations, step by step."""
    hs, yhats = [h0], []
    for t in range(len(X)):
        hs.append(np.tanh(b + W @ hs[-1] + U @ X[t]))
        o = c + V @ hs[-1]
        e = np.exp(o - o.max())
        yhats.append(e / e.sum())
    loss = -sum(np.log(yhats[t][labels[t]]) for t in range(len(X)))
    n = len(X)
    # (grad_{o_t} L)_i = yhat_t,i - 1[i = y_t]  (dL/dL_t = 1)
    go = [yhats[t] - np.eye(N_OUT)[labels[t]] for t in range(n)]
    gh = [None] * (n + 1)  # gh[t] = grad_{h_t} L, h_t = hs[t]
    # the last step: grad_{h_tau} L = V^T grad_{o_tau} L
    gh[n] = V.T @ go[n - 1]
    # earlier steps: grad_{h_t} L = W^T diag(1 - h_{t+1}^2) grad_{h_{t+1}} L + V^T grad_{o_t} L
    for t in range(n - 1, 0, -1):
        gh[t] = W.T @ ((1 - hs[t + 1] ** 2) * gh[t + 1]) + V.T @ go[t - 1]
    da = [None] + [(1 - hs[t] ** 2) * gh[t] for t in range(1, n + 1)]  # diag(1 - h_t^2) grad_{h_t} L
    return {
        "loss": loss,
        "c": sum(go),  # grad_c L = sum_t grad_{o_t} L
        "b": sum(da[1:]),  # grad_b L = sum_t diag(1 - h_t^2) grad_{h_t} L
        "V": sum(np.outer(go[t - 1], hs[t]) for t in range(1, n + 1)),  # sum_t (grad_{o_t} L) h_t^T
        "W": sum(np.outer(da[t], hs[t - 1]) for t in range(1, n + 1)),  # sum_t diag(..) grad_{h_t} L h_{t-1}^T
        "U": sum(np.outer(da[t], X[t - 1]) for t in range(1, n + 1)),  # sum_t diag(..) grad_{h_t} L x_t^T
        "h0": W.T @ da[1],  # the initial state, one step further back
    }


def _values(seed=0, n=T):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_OUT, n)
    return {
        "h0": rng.standard_normal(N_H) * 0.5,
        "X": rng.standard_normal((n, N_IN)),
        "Y": np.eye(N_OUT)[labels],
        "b": rng.standard_normal(N_H) * 0.1,
        "c": rng.standard_normal(N_OUT) * 0.1,
        "W": rng.standard_normal((N_H, N_H)) * 0.4,
        "U": rng.standard_normal((N_H, N_IN)) * 0.4,
        "V": rng.standard_normal((N_OUT, N_H)) * 0.4,
    }, labels


def _variables(n=T):
    shapes = {"h0": (N_H,), "X": (n, N_IN), "Y": (n, N_OUT), "b": (N_H,), "c": (N_OUT,), "W": (N_H, N_H),
              "U": (N_H, N_IN), "V": (N_OUT, N_H)}  # fmt: skip
    return {k: gc.Variable(k, s) for k, s in shapes.items()}


PARAMS = ["b", "c", "W", "U", "V", "h0"]


@pytest.mark.parametrize("checkpoint", [False, True])
def test_bptt_gradients_are_the_books_closed_forms(checkpoint):
    vs = _variables()
    loss = rnn_loss(**vs, checkpoint=checkpoint)
    grads = gc.grad(loss, [vs[k] for k in PARAMS])
    values, labels = _values()
    feed = {vs[k]: values[k] for k in vs}
    book = book_gradients(values["h0"], values["X"], labels, *(values[k] for k in ["b", "c", "W", "U", "V"]))
    got = gc.evaluate([loss, *grads], feed)
    assert np.isclose(float(got[0]), book["loss"], rtol=1e-12)
    for k, g in zip(PARAMS, got[1:]):
        assert_close(g, book[k], rtol=1e-10, atol=1e-13, what=k)
    # compiled, both backends
    for backend in ["numpy", "numba"]:
        if backend == "numba":
            pytest.importorskip("numba")
        f = gc.compile([loss, *grads], list(vs.values()), backend=backend)
        for k, g, w in zip(["loss", *PARAMS], f(*values.values()), got):
            assert_close(g, w, rtol=1e-12, atol=1e-14, what=f"{backend} {k}")


def test_bptt_gradients_against_finite_differences():
    vs = _variables()
    loss = rnn_loss(**vs)
    values, _ = _values(seed=1)
    feed = {vs[k]: values[k] for k in vs}
    grads = gc.evaluate(gc.grad(loss, [vs[k] for k in PARAMS + ["X"]]), feed)
    rng = np.random.default_rng(2)
    for k, g in zip(PARAMS + ["X"], grads):
        d = rng.standard_normal(values[k].shape)

        def at(a, k=k):
            return float(gc.evaluate(loss, {**feed, vs[k]: a}))

        assert np.isclose(np.sum(g * d), central_fd(at, values[k], d), rtol=1e-7, atol=1e-9), k


def test_hessian_vector_product_of_the_rnn_loss_against_finite_differences_of_the_gradient():
    vs = _variables()
    loss = rnn_loss(**vs)
    values, _ = _values(seed=3)
    feed = {vs[k]: values[k] for k in vs}
    rng = np.random.default_rng(4)
    D = rng.standard_normal((N_H, N_H))
    hv = gc.evaluate(gc.hvp(loss, vs["W"], D), feed)
    dW = gc.grad(loss, vs["W"])
    eps = 1e-5
    plus, minus = ({**feed, vs["W"]: values["W"] + s * eps * D} for s in (1, -1))
    numeric = (gc.evaluate(dW, plus) - gc.evaluate(dW, minus)) / (2 * eps)
    assert_close(hv, numeric, rtol=1e-6, atol=1e-8)


def test_training_the_rnn_with_parameters_lowers_the_loss():
    values, labels = _values(seed=5, n=12)
    params = {k: gc.Parameter(values[k], k) for k in ["b", "c", "W", "U", "V"]}
    X, Y = gc.Variable("X", (None, N_IN)), gc.Variable("Y", (None, N_OUT))
    loss = rnn_loss(gc.constant(np.zeros(N_H)), X, Y, **params)
    step = gc.compile(loss, [X, Y], updates=gc.optim.sgd(loss, list(params.values()), lr=0.05))
    losses = [float(step(values["X"], values["Y"])) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    # the loss is the book's at the trained parameters
    now = {k: p.get_value() for k, p in params.items()}
    book = book_gradients(np.zeros(N_H), values["X"], labels, *(now[k] for k in ["b", "c", "W", "U", "V"]))
    assert np.isclose(float(gc.evaluate(loss, {X: values["X"], Y: values["Y"]})), book["loss"], rtol=1e-12)
