"""grad, backprop, stop_gradient, consider_constant, disconnected targets, the
errors, and higher order (jacobian, hessian, hvp) against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def test_grad_returns_one_variable_or_a_list_in_wrt_order():
    x, y = gc.Variable("x", (2,)), gc.Variable("y")
    z = (x * y).sum()
    gx = gc.grad(z, x)
    gy, gx2 = gc.grad(z, [y, x])
    assert isinstance(gx, gc.Variable) and gx.shape == (2,) and gy.shape == ()
    vals = gc.evaluate([gx, gy, gx2], {x: [1.0, 2.0], y: 3.0})
    np.testing.assert_array_equal(vals[0], [3.0, 3.0])
    assert float(vals[1]) == 3.0
    np.testing.assert_array_equal(vals[2], vals[0])


def test_stop_gradient_is_identity_forward_and_blocks_backward():
    x = gc.Variable("x")
    z = x * gc.stop_gradient(x)
    assert float(gc.evaluate(z, {x: 3.0})) == 9.0
    assert float(gc.evaluate(gc.grad(z, x), {x: 3.0})) == 3.0  # only the unstopped factor


def test_consider_constant_treats_a_node_as_a_constant():
    x = gc.Variable("x")
    y = x * 2.0
    z = x * y
    assert float(gc.evaluate(gc.grad(z, x), {x: 3.0})) == 12.0  # d(2x^2)/dx = 4x
    assert float(gc.evaluate(gc.grad(z, x, consider_constant=[y]), {x: 3.0})) == 6.0  # y held fixed


def test_disconnected_raise_names_the_target():
    x, y = gc.Variable("x"), gc.Variable("lonely")
    with pytest.raises(ValueError, match="does not depend on lonely.*no path"):
        gc.grad(x * 2.0, y)


def test_disconnected_zero_gives_zeros_of_the_target_shape():
    x, y, b = gc.Variable("x"), gc.Variable("y", (2, 3)), gc.Variable("b", (None, 3))
    gy, gb = gc.grad(x * 2.0, [y, b], disconnected="zero")
    assert gy.shape == (2, 3) and gb.shape == (None, 3)
    # b's zeros take b's runtime shape, so b itself is needed to evaluate them
    vy, vb = gc.evaluate([gy, gb], {b: np.ones((4, 3))})
    np.testing.assert_array_equal(vy, np.zeros((2, 3)))
    np.testing.assert_array_equal(vb, np.zeros((4, 3)))


@pytest.mark.parametrize(
    "build, blocker",
    [
        (lambda x: gc.stop_gradient(x) * 3.0, "stop_gradient"),
        (lambda x: gc.where(x > 0, 1.0, 2.0), "non-differentiable op greater"),
        (lambda x: gc.cast(gc.cast(x, "int64"), "float64") * 2.0, "integer or boolean value"),
    ],
    ids=["stop_gradient", "comparison", "integer-hop"],
)
def test_disconnected_error_names_the_blocking_node(build, blocker):
    x = gc.Variable("x")
    cost = build(x)
    with pytest.raises(gc.GradientError, match=f"blocked by .*{blocker}.*test_backprop.py"):
        gc.grad(cost, x)
    # with "zero", the same request gives a zero gradient, never a wrong number
    assert float(gc.evaluate(gc.grad(cost, x, disconnected="zero"), {x: 1.5})) == 0.0


def test_a_consider_constant_block_is_named_as_such_even_given_as_a_generator():
    """It said "exp, which passes no gradient to that input", as if exp's bprop returned None."""
    x = gc.Variable("x")
    h = gc.exp(x)
    for constants in ([h], (v for v in [h])):
        with pytest.raises(gc.GradientError, match=r"blocked by a consider_constant node: exp built at test_backprop"):
            gc.grad(gc.sin(h), x, consider_constant=constants)
    # and cross_entropy's log_softmax held constant blocks the logits, as any consider_constant node does
    z = gc.Variable("z", (2, 3))
    J = gc.nn.cross_entropy(z, gc.constant(np.array([0, 2])))
    with pytest.raises(gc.GradientError, match="blocked by a consider_constant node: log_softmax"):
        gc.grad(J, z, consider_constant=[J.owner.inputs[1]])


def test_gradient_with_respect_to_an_integer_variable_is_refused():
    k = gc.Variable("k", dtype="int64")
    with pytest.raises(gc.NonDifferentiableError, match="k of dtype int64"):
        gc.grad(gc.cast(k, "float64") * 2.0, k)


def test_gradient_of_an_integer_or_boolean_cost_is_refused():
    x = gc.Variable("x")
    with pytest.raises(TypeError, match="bool"):
        gc.grad(x > 0, x)


def test_gradient_of_a_non_scalar_cost_is_refused():
    x = gc.Variable("x", (3,))
    with pytest.raises(ValueError, match=r"scalar.*shape \(3,\)"):
        gc.grad(x * 2.0, x)


def test_backprop_result_fields():
    x, w = gc.Variable("x", (2,)), gc.Variable("w", (2,))
    z = (x * w).sum()
    r = gc.backprop(z, [w])
    assert set(r.grads) == {w}
    assert z in r.grad_table and isinstance(r.pruned, gc.Graph) and isinstance(r.graph, gc.Graph)
    assert x not in r.pruned and w in r.pruned
    assert r.grads[w] in r.graph


def test_grad_of_grad_of_x_cubed_is_6x():
    x = gc.Variable("x")
    d1 = gc.grad(x**3, x)
    d2 = gc.grad(d1, x)
    d3 = gc.grad(d2, x)
    for v in (-2.0, 0.5, 3.0):
        a, b, c = gc.evaluate([d1, d2, d3], {x: v})
        assert (float(a), float(b), float(c)) == pytest.approx((3 * v**2, 6 * v, 6.0))


def _rosenbrock(x):
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def _rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def _rosenbrock_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    d = np.zeros(n)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    H[np.arange(n), np.arange(n)] = d
    off = -400 * x[:-1]
    H[np.arange(n - 1), np.arange(1, n)] = off
    H[np.arange(1, n), np.arange(n - 1)] = off
    return H


def test_rosenbrock_gradient_and_hessian_against_the_closed_form():
    n = 6
    x = gc.Variable("x", (n,))
    f = _rosenbrock(x)
    g = gc.grad(f, x)
    H = gc.hessian(f, x)
    assert H.shape == (n, n)
    x0 = np.random.default_rng(0).uniform(-1.5, 1.5, n)
    gv, Hv = gc.evaluate([g, H], {x: x0})
    np.testing.assert_allclose(gv, _rosenbrock_grad(x0), rtol=1e-12)
    np.testing.assert_allclose(Hv, _rosenbrock_hessian(x0), rtol=1e-12, atol=1e-12)


def test_hvp_against_the_closed_form_hessian():
    n = 50
    x = gc.Variable("x", (n,))
    rng = np.random.default_rng(1)
    x0, v0 = rng.uniform(-1, 1, n), rng.standard_normal(n)
    got_array = gc.evaluate(gc.hvp(_rosenbrock(x), x, v0), {x: x0})
    v = gc.Variable("v", (n,))
    got_var = gc.evaluate(gc.hvp(_rosenbrock(x), x, v), {x: x0, v: v0})
    np.testing.assert_allclose(got_array, _rosenbrock_hessian(x0) @ v0, rtol=1e-11)
    np.testing.assert_allclose(got_var, got_array, rtol=0)


def test_jacobian_of_a_matrix_product_is_the_matrix():
    W_ = np.arange(12.0).reshape(3, 4)
    x = gc.Variable("x", (4,))
    J = gc.jacobian(gc.constant(W_) @ x, x)
    assert J.shape == (3, 4)
    np.testing.assert_array_equal(gc.evaluate(J, {x: np.ones(4)}), W_)


def test_jacobian_shape_is_y_shape_plus_x_shape():
    x = gc.Variable("x", (2, 3))
    y = gc.sin(x).T  # (3, 2)
    J = gc.jacobian(y, x)
    assert J.shape == (3, 2, 2, 3)
    x0 = np.random.default_rng(2).standard_normal((2, 3))
    want = np.zeros((3, 2, 2, 3))
    for i in range(3):
        for j in range(2):
            want[i, j, j, i] = np.cos(x0[j, i])
    np.testing.assert_allclose(gc.evaluate(J, {x: x0}), want)


def test_hessian_of_a_linear_cost_is_zero():
    x = gc.Variable("x", (3,))
    H = gc.hessian((x * 2.0).sum(), x)
    np.testing.assert_array_equal(gc.evaluate(H, {x: np.ones(3)}), np.zeros((3, 3)))


def test_the_book_form_of_bprop_on_an_application():
    """op.bprop(get_inputs(C), V, D) as Algorithm 6.6 writes it."""
    x, w = gc.Variable("x"), gc.Variable("w")
    C = x * w
    G = gc.Graph(C)
    op = G.operation(C)
    term = op.bprop(G.inputs(C), x, gc.constant(2.0))
    assert float(gc.evaluate(term, {w: 5.0})) == 10.0
    assert op.bprop(G.inputs(C), gc.Variable("other"), gc.constant(1.0)) is None


def test_where_with_a_non_finite_untaken_branch():
    """The classic: the forward value is fine, but the untaken branch's own
    gradient is 0 * inf = nan. Guarding the branch's input fixes it."""
    x = gc.Variable("x")
    naive = gc.where(x > 0, gc.log(x), 0.0)
    safe = gc.where(x > 0, gc.log(gc.where(x > 0, x, 1.0)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert float(gc.evaluate(naive, {x: 0.0})) == 0.0
        assert np.isnan(gc.evaluate(gc.grad(naive, x), {x: 0.0}))
    assert float(gc.evaluate(gc.grad(safe, x), {x: 0.0})) == 0.0
    assert float(gc.evaluate(gc.grad(safe, x), {x: 2.0})) == 0.5
