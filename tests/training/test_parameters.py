"""Parameters, compile's updates, optimisers, and the losses a training loop uses."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd


def test_updates_are_computed_from_old_values_then_assigned_together():
    a, b = gc.Parameter(1.0, "a"), gc.Parameter(10.0, "b")
    step = gc.compile([a + b], [], updates={a: b, b: a + b})  # each reads the other
    out = step()
    assert float(out[0]) == 11.0
    assert (float(a.value), float(b.value)) == (10.0, 11.0)  # not (10, 20)
    step()
    assert (float(a.value), float(b.value)) == (11.0, 21.0)


def test_a_wrongly_shaped_or_typed_update_is_refused_when_compiling():
    W = gc.Parameter(np.zeros((2, 3)), "W")
    with pytest.raises(gc.ShapeError, match=r"update of Parameter 'W' has shape \(3, 2\).*\(2, 3\)"):
        gc.compile([W.sum()], [], updates={W: W.T})
    with pytest.raises(gc.GraphError, match="only Parameters"):
        gc.compile([W.sum()], [], updates={gc.Variable("x"): 1.0})
    k = gc.Parameter(np.zeros(2, dtype=np.int64), "k")
    with pytest.raises(TypeError, match="float64.*int64"):
        gc.compile([k.sum()], [], updates={k: k * 0.5})


def test_parameters_are_read_not_fed_and_keep_their_value():
    W = gc.Parameter([[1.0, 2.0]], "W")
    x = gc.Variable("x", (2,))
    y = (W @ x).sum()
    assert float(gc.evaluate(y, {x: [1.0, 1.0]})) == 3.0
    with pytest.raises(gc.InputError, match="parameter"):
        gc.evaluate(y, {x: [1.0, 1.0], W: [[0.0, 0.0]]})
    W.set_value([[5.0, 5.0]])
    assert float(gc.evaluate(y, {x: [1.0, 1.0]})) == 10.0
    with pytest.raises(gc.InputError, match=r"shape \(2,\)"):
        W.set_value([1.0, 2.0])
    with pytest.raises(ValueError):
        W.value[0, 0] = 3.0  # read-only


def test_sgd_with_momentum_follows_the_closed_form_on_a_quadratic():
    """f(w) = w^2 / 2: v <- mu v - lr w, w <- w + v, written out by hand."""
    w = gc.Parameter(4.0, "w")
    cost = 0.5 * w * w
    step = gc.compile(cost, [], updates=gc.optim.sgd(cost, [w], lr=0.1, momentum=0.9))
    wv, vv = 4.0, 0.0
    for _ in range(20):
        step()
        vv = 0.9 * vv - 0.1 * wv
        wv = wv + vv
        assert float(w.value) == pytest.approx(wv, rel=1e-13)


def test_cross_entropy_and_one_hot_against_closed_forms():
    rng = np.random.default_rng(0)
    logits_v, labels_v = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, 5)
    logits, labels = gc.Variable("z", (None, 4)), gc.Variable("y", (None,), "int64")
    ce = gc.nn.cross_entropy(logits, labels)
    value, g = gc.evaluate([ce, gc.grad(ce, logits)], {logits: logits_v, labels: labels_v})
    p = np.exp(logits_v - logits_v.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(value, -np.mean(np.log(p[np.arange(5), labels_v])), rtol=1e-13)
    np.testing.assert_allclose(g, (p - np.eye(4)[labels_v]) / 5, atol=1e-15)
    np.testing.assert_array_equal(gc.evaluate(gc.nn.one_hot(labels, 4), {labels: labels_v}), np.eye(4)[labels_v])


def test_the_cross_entropy_gradient_is_one_closed_form_node():
    """The lectures' (softmax - one_hot) / batch: one cross_entropy_grad node, no scatter.
    build_grad writes log_softmax's gradient as one log_softmax_grad node; the simplify
    rewrite turns it into the closed form when compiling."""
    logits, labels = gc.Variable("z", (None, 4)), gc.Variable("y", (None,), "int64")
    (g,) = gc.grad(gc.nn.cross_entropy(logits, labels), [logits])
    ops = {v.owner.op.name for v in gc.Graph(g).variables if v.owner}
    compiled = {v.owner.op.name for v in gc.compile(g).graph.variables if v.owner}
    assert "cross_entropy_grad" in compiled and not (ops | compiled) & {"index_grad", "index_grad_like"}


def _ce_closed_forms(z, y):
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(z.shape[1])[y]
    return p, onehot


def test_cross_entropy_differentiates_by_its_log_softmax_and_by_the_logits_together():
    """The log_softmax inside cross_entropy is a node a user can target: its gradient is
    -one_hot / batch (the loss is linear in it), and asking for it next to the logits'
    or an ancestor's does not count the closed form twice."""
    rng = np.random.default_rng(1)
    xv, wv, yv = rng.standard_normal((6, 3)), rng.standard_normal((3, 4)), rng.integers(0, 4, 6)
    x, y, W = gc.Variable("x", (None, 3)), gc.Variable("y", (None,), "int64"), gc.Variable("W", (3, 4))
    z = x @ W
    ce = gc.nn.cross_entropy(z, y)
    lsm = ce.owner.inputs[1]
    assert lsm.owner.op.name == "log_softmax"
    feed = {x: xv, W: wv, y: yv}
    p, onehot = _ce_closed_forms(xv @ wv, yv)
    for wrt in ([lsm], [z, lsm], [lsm, W, z], [W]):
        grads = gc.grad(ce, wrt)
        want = {lsm: -onehot / 6, z: (p - onehot) / 6, W: xv.T @ (p - onehot) / 6}
        for got in (gc.evaluate(grads, feed), gc.compile(grads, [x, W, y])(xv, wv, yv)):
            for v, g in zip(wrt, got):
                np.testing.assert_allclose(g, want[v], atol=1e-15)


def test_cross_entropy_with_its_log_softmax_reused_matches_finite_differences():
    """A second reader of the log_softmax (its G is a sum, not cross_entropy's alone)
    takes log_softmax's general bprop; both readers' terms reach the logits."""
    rng = np.random.default_rng(2)
    z, y = gc.Variable("z", (5, 4)), gc.Variable("y", (5,), "int64")
    ce = gc.nn.cross_entropy(z, y)
    cost = ce + 0.3 * gc.sum(gc.square(ce.owner.inputs[1]))
    assert_grads_match_fd(cost, [z, y], [rng.standard_normal((5, 4)), rng.integers(0, 4, 5)], [0], rng)


@pytest.mark.parametrize("bad", [4, -1])
def test_a_label_out_of_range_names_the_node_and_the_label(bad):
    logits, labels = gc.Variable("z", (2, 4)), gc.Variable("y", (2,), "int64")
    ce = gc.nn.cross_entropy(logits, labels)
    for run in (lambda: gc.evaluate(ce, {logits: np.zeros((2, 4)), labels: [0, bad]}),
                lambda: gc.compile(ce)(np.zeros((2, 4)), np.array([0, bad]))):  # fmt: skip
        with pytest.raises(gc.EvaluationError, match=rf"cross_entropy.*label {bad} is out of range for 4 classes"):
            run()


def test_parameters_save_and_load_with_their_current_value(tmp_path):
    W = gc.Parameter(np.arange(6.0).reshape(2, 3), "W")
    x = gc.Variable("x", (3,))
    y = (W @ x).sum()
    y2 = gc.load(gc.save(y, tmp_path / "m.gcz"))
    W2 = next(v for v in gc.Graph(y2).variables if v.kind == "parameter")
    assert W2.name == "W" and np.array_equal(W2.value, W.value) and W2 is not W
    assert float(gc.evaluate(y2, {"x": np.ones(3)})) == 15.0


def test_cross_entropy_refuses_bad_logits_and_labels_naming_them_and_the_line():
    with pytest.raises(ValueError, match=r"logits must be .* got z of shape \(3,\).*built at test_parameters.py"):
        gc.nn.cross_entropy(gc.Variable("z", (3,)), gc.Variable("y", (3,), "int64"))
    with pytest.raises(TypeError, match=r"labels must be .* got y of shape \(2,\) and dtype float64.*built at"):
        gc.nn.cross_entropy(gc.Variable("z", (2, 3)), gc.Variable("y", (2,)))
