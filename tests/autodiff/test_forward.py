"""Forward mode: ``gc.jvp`` and ``gc.jacobian(..., mode="forward")``.

Oracles: the reverse-mode Jacobian times v and central finite differences on
random graphs over the broad op set (known and unknown dimensions, compiled
too), closed forms, and JAX's ``jax.jvp``/``jax.jacfwd`` and PyTorch's
``torch.func.jvp`` in float64 where installed. The nodes jvp inserts are
tangent nodes: the printers, the code generator and save/load say so."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.inspect.dot import TANGENT
from tests.autodiff.test_random_mixed_graphs import BINARY, UNARY, _shaped

# -- random graphs -----------------------------------------------------------------------------------


def random_graph(seed: int):
    """A random graph over the broad op set, built twice by the same choices: over
    inputs of known shape and over the same inputs with some dimensions None.
    Returns (y, inputs) for each and the input values; y is the last node built."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (3, 1), ()]
    known = [shapes[int(rng.integers(len(shapes)))] for _ in range(int(rng.integers(1, 4)))]
    values = [rng.standard_normal(s) * 0.8 for s in known]
    unknown = [tuple(None if rng.random() < 0.6 else d for d in s) for s in known]
    pairs = [(gc.Variable(f"x{k}", s), gc.Variable(f"x{k}", u)) for k, (s, u) in enumerate(zip(known, unknown))]
    inputs = [list(p) for p in zip(*pairs)]
    for _ in range(int(rng.integers(2, 10))):
        r = rng.random()
        if r < 0.4:
            fn = UNARY[int(rng.integers(len(UNARY)))]
            a = pairs[int(rng.integers(len(pairs)))]
            pairs.append((fn(a[0]), fn(a[1])))
        elif r < 0.75:
            a, b = (pairs[int(i)] for i in rng.integers(len(pairs), size=2))
            try:
                np.broadcast_shapes(a[0].shape, b[0].shape)
            except ValueError:
                continue
            fn = BINARY[int(rng.integers(len(BINARY)))]
            pairs.append((fn(a[0], b[0]), fn(a[1], b[1])))
        else:
            a = pairs[int(rng.integers(len(pairs)))]
            ops = _shaped(rng, a[0].shape)
            if ops:
                fn = ops[int(rng.integers(len(ops)))]
                pairs.append((fn(a[0]), fn(a[1])))
    y = pairs[-1]
    if y[0].owner is None:
        y = (gc.sin(y[0]), gc.sin(y[1]))
    return (y[0], inputs[0]), (y[1], inputs[1]), values


def _directional(f, values, vs, h):
    """d/dh f(x + h v) at 0 by central differences at h and h/2, Richardson-combined;
    None where halving the step changes it beyond a smooth function's h^2 term (the
    step crossed a kink of maximum, minimum or where)."""

    def at(t):
        return np.asarray(f([x + t * v for x, v in zip(values, vs)]), dtype=float)

    a = (at(h) - at(-h)) / (2 * h)
    b = (at(h / 2) - at(-h / 2)) / h
    if np.any(np.abs(a - b) > 1e-4 * (1.0 + np.abs(b))):
        return None
    return (4 * b - a) / 3


def _reverse_jv(y, inputs, values, vs):
    """sum_k J_k v_k with each J_k from reverse mode (one gradient per entry of y)."""
    feed = dict(zip(inputs, values))
    total = np.zeros(y.shape)
    for x, v in zip(inputs, vs):
        J = np.asarray(gc.evaluate(gc.jacobian(y, x, disconnected="zero"), feed))
        total = total + np.tensordot(J, v, axes=np.ndim(v))
    return total


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_jvp_is_the_reverse_jacobian_times_v_and_matches_finite_differences(seed):
    (y, inputs), (y_u, inputs_u), values = random_graph(seed)
    rng = np.random.default_rng(seed + 7)
    vs = [rng.standard_normal(np.shape(v)) for v in values]
    t = gc.jvp(y, inputs, vs, disconnected="zero")
    assert t.shape == y.shape and t.dtype == y.dtype
    got = np.asarray(gc.evaluate(t, dict(zip(inputs, values))))

    np.testing.assert_allclose(got, _reverse_jv(y, inputs, values, vs), rtol=1e-9, atol=1e-11)

    numeric = _directional(lambda vals: gc.evaluate(y, dict(zip(inputs, vals))), values, vs, 1e-5)
    assume(numeric is not None)
    scale = 1.0 + float(np.max(np.abs(got), initial=0.0))
    assert np.max(np.abs(got - numeric), initial=0.0) <= 1e-6 * scale, (got, numeric)

    # the same graph with unknown dimensions, the tangents fed as Variables: evaluated and compiled
    v_vars = [gc.Variable(f"v{k}", x.shape) for k, x in enumerate(inputs_u)]
    t_u = gc.jvp(y_u, inputs_u, v_vars, disconnected="zero")
    feed = {**dict(zip(inputs_u, values)), **dict(zip(v_vars, vs))}
    feed = {k: a for k, a in feed.items() if k in ancestors([t_u])}
    np.testing.assert_allclose(np.asarray(gc.evaluate(t_u, feed)), got, rtol=1e-10, atol=1e-12)
    (compiled,) = gc.compile([t_u], list(feed), verify_passes=True)(*feed.values())
    np.testing.assert_allclose(np.asarray(compiled), got, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_forward_jacobian_is_the_reverse_jacobian_on_random_graphs(seed):
    (y, inputs), _, values = random_graph(seed)
    feed = dict(zip(inputs, values))
    for x in inputs:
        forward = gc.jacobian(y, x, mode="forward", disconnected="zero")
        reverse = gc.jacobian(y, x, disconnected="zero")
        assert forward.shape == reverse.shape == y.shape + x.shape
        a, b = gc.evaluate([forward, reverse], feed)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- closed forms, lists of x, v as array or Variable ------------------------------------------------


def test_jvp_of_an_elementwise_function_is_its_derivative_times_v():
    x = gc.Variable("x", (3,))
    xv, vv = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5])
    t = gc.jvp(gc.sin(x) * x, x, vv)
    np.testing.assert_allclose(gc.evaluate(t, {x: xv}), (np.cos(xv) * xv + np.sin(xv)) * vv, rtol=1e-14)


def test_jvp_of_a_matrix_product_is_the_matrix_times_v():
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = gc.Variable("x", (3,))
    v = np.array([0.5, -1.0, 2.0])
    assert gc.evaluate(gc.jvp(gc.constant(W) @ x, x, v), {x: np.zeros(3)}).tolist() == (W @ v).tolist()


def test_a_list_of_x_takes_a_list_of_v_and_sums_the_products():
    a, b = gc.Variable("a", (2,)), gc.Variable("b", (2,))
    y = a * b + gc.exp(a)
    av, bv = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    va, vb = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    want = (bv + np.exp(av)) * va + av * vb  # J_a va + J_b vb
    got = gc.evaluate(gc.jvp(y, [a, b], [va, vb]), {a: av, b: bv})
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # tangents as Variables, and a tuple of x
    ta, tb = gc.Variable("ta", (2,)), gc.Variable("tb", (2,))
    got = gc.evaluate(gc.jvp(y, (a, b), (ta, tb)), {a: av, b: bv, ta: va, tb: vb})
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_v_as_a_variable_equals_v_as_an_array():
    x = gc.Variable("x", (2, 2))
    y = gc.tanh(x @ x)
    xv, vv = np.array([[0.1, 0.2], [-0.3, 0.4]]), np.array([[1.0, 0.0], [2.0, -1.0]])
    v = gc.Variable("v", (2, 2))
    a = gc.evaluate(gc.jvp(y, x, v), {x: xv, v: vv})
    b = gc.evaluate(gc.jvp(y, x, vv), {x: xv})
    c = gc.evaluate(gc.jvp(y, x, vv.tolist()), {x: xv})
    s = 1 - np.tanh(xv @ xv) ** 2
    np.testing.assert_allclose(a, s * (vv @ xv + xv @ vv), rtol=1e-14)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)


def test_an_integer_array_v_is_taken_in_x_dtype():
    x = gc.Variable("x", (2,), "float32")
    t = gc.jvp(x * x, x, np.array([1, 2]))
    assert t.dtype == np.float32
    assert gc.evaluate(t, {x: np.array([3.0, 4.0], np.float32)}).tolist() == [6.0, 16.0]


def test_unknown_dimensions_are_checked_at_run_time():
    x, v = gc.Variable("x", (None, 3)), gc.Variable("v", (None, 3))
    t = gc.jvp(gc.sin(x).sum(axis=1), x, v)
    assert t.shape == (None,)
    xv, vv = np.ones((2, 3)), np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(gc.evaluate(t, {x: xv, v: vv}), (np.cos(xv) * vv).sum(1))
    np.testing.assert_allclose(gc.compile(t, [x, v])(xv, vv), (np.cos(xv) * vv).sum(1))
    # (1, 3) would broadcast against (2, 3) silently; the check refuses it, naming jvp and both shapes
    with pytest.raises(gc.EvaluationError, match=r"jvp: v for x: its value has shape \(1, 3\), which must be \(2, 3\)"):
        gc.evaluate(t, {x: xv, v: vv[:1]})
    with pytest.raises(gc.EvaluationError, match="jvp: v for x"):
        gc.compile(t, [x, v])(xv, vv[:1])


# -- second order ----------------------------------------------------------------------------------


def test_jvp_of_jvp_is_the_second_directional_derivative():
    x = gc.Variable("x", (3,))
    xv, v, w = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0])
    tt = gc.jvp(gc.jvp(gc.sin(x), x, v), x, w)
    np.testing.assert_allclose(gc.evaluate(tt, {x: xv}), -np.sin(xv) * v * w, rtol=1e-14)


def test_jvp_of_grad_is_the_hessian_vector_product():
    x = gc.Variable("x", (3,))
    cost = (gc.sin(x) * x).sum() + (x[0] * x[1] * x[2])
    xv, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5])
    hv = gc.evaluate(gc.jvp(gc.grad(cost, x), x, v), {x: xv})
    H = np.diag(2 * np.cos(xv) - xv * np.sin(xv))  # d2/dx2 of x sin x
    H += np.array([[0, xv[2], xv[1]], [xv[2], 0, xv[0]], [xv[1], xv[0], 0]])
    np.testing.assert_allclose(hv, H @ v, rtol=1e-13)
    np.testing.assert_allclose(hv, gc.evaluate(gc.hvp(cost, x, v), {x: xv}), rtol=1e-13)


def test_grad_of_jvp_matches_finite_differences():
    x = gc.Variable("x", (3,))
    v = np.array([1.0, -2.0, 0.5])
    s = gc.jvp(gc.tanh(x) * x.sum(), x, v).sum()
    xv = np.array([0.3, -1.2, 2.0])
    g = gc.evaluate(gc.grad(s, x), {x: xv})
    for k in range(3):
        e = np.eye(3)[k] * 1e-6
        numeric = (gc.evaluate(s, {x: xv + e}) - gc.evaluate(s, {x: xv - e})) / 2e-6
        assert np.isclose(g[k], numeric, rtol=1e-7, atol=1e-9)


# -- errors and disconnected x --------------------------------------------------------------------


def test_v_of_the_wrong_shape_is_refused_naming_both():
    x = gc.Variable("x", (3,))
    with pytest.raises(gc.ShapeError, match=r"jvp: v has shape \(2,\), but x .* has shape \(3,\)"):
        gc.jvp(gc.sin(x), x, [1.0, 2.0])
    with pytest.raises(gc.ShapeError, match=r"jvp: v\[1\] has shape \(\)"):
        gc.jvp(gc.sin(x), [x, gc.Variable("z", (2,))], [np.ones(3), 1.0])


def test_v_of_another_dtype_and_non_float_x_or_y_are_refused():
    x = gc.Variable("x", (2,))
    with pytest.raises(gc.DTypeError, match="has dtype float32, but x has dtype float64"):
        gc.jvp(gc.sin(x), x, gc.Variable("v", (2,), "float32"))
    i = gc.Variable("i", (2,), "int64")
    with pytest.raises(gc.NonDifferentiableError, match="with respect to i of dtype int64"):
        gc.jvp(gc.cast(i, "float64") * x, i, [1, 1])
    with pytest.raises(gc.NonDifferentiableError, match="has dtype bool"):
        gc.jvp(x > 0, x, [1.0, 1.0])


def test_a_list_of_x_needs_a_list_of_v_of_its_length():
    a, b = gc.Variable("a"), gc.Variable("b")
    with pytest.raises(gc.ArgumentError, match="a list of 2 x takes a list of 2 tangents v, got list of length 1"):
        gc.jvp(a * b, [a, b], [1.0])
    with pytest.raises(gc.ArgumentError, match="takes a list of 2 tangents"):
        gc.jvp(a * b, [a, b], gc.Variable("v"))
    with pytest.raises(gc.ArgumentError, match='disconnected must be "raise" or "zero"'):
        gc.jvp(a * b, a, 1.0, disconnected="ignore")


def test_a_disconnected_x_raises_like_grad_or_gives_zeros():
    """As gc.grad: an x that y does not depend on, or only through a blocked path,
    raises naming it and the blocking node; disconnected="zero" gives it zeros."""
    x, z = gc.Variable("x", (2,)), gc.Variable("z", (2,))
    y = gc.sin(x)
    with pytest.raises(gc.GradientError, match="sin does not depend on z .*there is no path from z"):
        gc.jvp(y, z, [1.0, 1.0])
    blocked = gc.sin(gc.stop_gradient(x))
    with pytest.raises(gc.GradientError, match="blocked by a stop_gradient"):
        gc.jvp(blocked, x, [1.0, 1.0])
    zero = gc.jvp(y, z, [1.0, 1.0], disconnected="zero")
    assert zero.shape == (2,) and gc.evaluate(zero, {x: [0.5, 1.0]}).tolist() == [0.0, 0.0]
    # in a list, only the connected x contribute
    both = gc.jvp(y, [x, z], [np.ones(2), np.ones(2)], disconnected="zero")
    np.testing.assert_allclose(gc.evaluate(both, {x: [0.5, 1.0]}), np.cos([0.5, 1.0]))
    with pytest.raises(gc.GradientError, match="does not depend on z"):
        gc.jvp(y, [x, z], [np.ones(2), np.ones(2)])


def test_forward_jacobian_shapes_and_errors():
    x = gc.Variable("x", (2, 3))
    y = gc.tanh(x).sum(axis=0) * gc.Variable("m", (None, 1))  # y's shape (None, 3): fine in forward mode
    xv, mv = np.arange(6.0).reshape(2, 3) / 6, np.array([[1.0], [2.0]])
    J = gc.jacobian(y, x, mode="forward")
    assert J.shape == (None, 3, 2, 3)
    Jv = gc.evaluate(J, {x: xv, "m": mv})
    want = mv[:, :, None, None] * (np.eye(3)[None, :, None, :] * (1 - np.tanh(xv) ** 2)[None, None, :, :])
    np.testing.assert_allclose(Jv, want, rtol=1e-14)
    with pytest.raises(gc.ShapeError, match=r'jacobian\(mode="forward"\): x\'s shape \(None,\) must be fully known'):
        gc.jacobian(gc.sin(gc.Variable("u", (None,))), gc.Variable("u", (None,)), mode="forward")
    with pytest.raises(gc.ArgumentError, match='mode must be "reverse" or "forward"'):
        gc.jacobian(y, x, mode="sideways")
    with pytest.raises(gc.GradientError, match="does not depend on"):
        gc.jacobian(gc.sin(x), gc.Variable("z", (2,)), mode="forward")
    z = gc.Variable("z", (2,))
    assert gc.evaluate(gc.jacobian(gc.sin(x), z, mode="forward", disconnected="zero"), {x: xv}).shape == (2, 3, 2)
    empty = gc.jacobian(gc.sin(x), gc.Variable("e", (0, 2)), mode="forward", disconnected="zero")
    assert gc.evaluate(empty, {x: xv}).shape == (2, 3, 0, 2)
    scalar = gc.Variable("s")
    np.testing.assert_allclose(gc.evaluate(gc.jacobian(gc.sin(x * scalar), scalar, mode="forward"),
                                           {x: xv, scalar: 2.0}), np.cos(2 * xv) * xv)  # fmt: skip


def test_forward_mode_is_right_where_reverse_mode_gives_nan():
    """The issue's report, of the kind JAX users meet (jnp.where over sqrt): at x < 0
    the untaken branch's derivative 0.5/sqrt(x) is NaN. Reverse mode multiplies it by
    the zero cotangent where selects (0 * nan = nan, in graphcomp as in jax.jacrev);
    forward mode computes the NaN tangent first and where then discards it, so the
    Jacobian is the right one (jax.jacfwd's, the closed form's, finite differences')."""
    x = gc.Variable("x", (3,))
    y = gc.where(x > 0, gc.sqrt(x), 0.0)
    xv = np.array([-1.0, -0.5, 4.0])
    want = np.diag([0.0, 0.0, 0.25])  # d sqrt(x)/dx = 0.5/sqrt(x) where x > 0, else 0
    with np.errstate(all="ignore"):
        forward = gc.evaluate(gc.jacobian(y, x, mode="forward"), {x: xv})
        reverse = gc.evaluate(gc.jacobian(y, x), {x: xv})
        np.testing.assert_array_equal(forward, want)
        assert np.isnan(reverse[:, :2]).all() and reverse[2, 2] == 0.25
        numeric = np.stack(
            [(gc.evaluate(y, {x: xv + h}) - gc.evaluate(y, {x: xv - h})) / 2e-6 for h in np.eye(3) * 1e-6], axis=1
        )
    np.testing.assert_allclose(forward, numeric, atol=1e-8)


# -- oracles: JAX and PyTorch ---------------------------------------------------------------------------

_XV = np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]])
_WV = np.array([[0.2, -0.5], [1.0, 0.3], [-0.4, 0.8]])
_VX = np.array([[1.0, 0.5, -2.0], [0.0, 1.5, 0.25]])
_VW = np.array([[0.3, 0.1], [-1.0, 2.0], [0.5, -0.5]])


def _model_gc():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    h = gc.tanh(x @ W)
    y = gc.softmax(h, axis=1) * gc.logsumexp(x, axis=1, keepdims=True) + gc.where(h > 0, h * h, gc.sigmoid(h))
    return y, x, W


def test_jvp_and_forward_jacobian_agree_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def f(x, W):
        h = jnp.tanh(x @ W)
        lse = jax.scipy.special.logsumexp(x, axis=1, keepdims=True)
        return jax.nn.softmax(h, axis=1) * lse + jnp.where(h > 0, h * h, jax.nn.sigmoid(h))

    y, x, W = _model_gc()
    feed = {x: _XV, W: _WV}
    _, want = jax.jvp(f, (jnp.asarray(_XV), jnp.asarray(_WV)), (jnp.asarray(_VX), jnp.asarray(_VW)))
    np.testing.assert_allclose(gc.evaluate(gc.jvp(y, [x, W], [_VX, _VW]), feed), np.asarray(want), rtol=1e-12)
    J = jax.jacfwd(f, argnums=1)(jnp.asarray(_XV), jnp.asarray(_WV))
    np.testing.assert_allclose(gc.evaluate(gc.jacobian(y, W, mode="forward"), feed), np.asarray(J), rtol=1e-12)


def test_jvp_agrees_with_pytorch():
    torch = pytest.importorskip("torch")

    def f(x, W):
        h = torch.tanh(x @ W)
        lse = torch.logsumexp(x, dim=1, keepdim=True)
        return torch.softmax(h, dim=1) * lse + torch.where(h > 0, h * h, torch.sigmoid(h))

    y, x, W = _model_gc()
    args = tuple(torch.tensor(a, dtype=torch.float64) for a in (_XV, _WV))
    tangents = tuple(torch.tensor(a, dtype=torch.float64) for a in (_VX, _VW))
    _, want = torch.func.jvp(f, args, tangents)
    got = gc.evaluate(gc.jvp(y, [x, W], [_VX, _VW]), {x: _XV, W: _WV})
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)


# -- tangent nodes: their role, shown and kept -------------------------------------------------------


def _tangent_example():
    x = gc.Variable("x", (3,))
    y = gc.sin(x) * x
    return x, y, gc.jvp(y, x, [1.0, 2.0, 3.0])


def test_the_nodes_jvp_inserts_are_tangent_nodes_and_the_forward_ones_stay_forward():
    x, y, t = _tangent_example()
    before = ancestors([y])
    assert all(v.role == "forward" for v in before)
    inserted = ancestors([t]) - before
    assert inserted and {v.role for v in inserted} == {"tangent"}
    assert t.role == "tangent"
    # a gradient taken of a tangent is a gradient
    g = gc.grad(t.sum(), x)
    assert {v.role for v in ancestors([g]) - ancestors([t])} == {"grad"}


def test_dprint_marks_tangent_nodes():
    _, _, t = _tangent_example()
    text = gc.inspect.text.format_graph(t)
    lines = text.splitlines()
    assert lines[0].endswith("[tangent]")
    assert any("[tangent via #" in line for line in lines)  # cos(x), built by sin's bprop
    assert not any("[grad" in line for line in lines)
    assert any(line.strip().startswith("sin ") and "[" not in line for line in lines)  # the forward node


def test_to_dot_draws_tangent_nodes_in_their_colour_with_a_legend_entry():
    _, y, t = _tangent_example()
    src = gc.to_dot(t)
    assert TANGENT["fill"] in src and "inserted by jvp (forward mode)" in src
    assert "inserted by build_grad" not in src  # only the roles drawn are in the legend
    assert TANGENT["fill"] not in gc.to_dot(y)


def test_generated_code_and_saved_files_keep_the_tangent_role(tmp_path):
    x, _, t = _tangent_example()
    assert "[tangent]" in gc.compile(t, [x], passes=[]).source
    loaded = gc.load(gc.save(t, os.path.join(tmp_path, "t.gcz")))
    assert [v.role for v in gc.Graph(loaded).variables] == [v.role for v in gc.Graph(t).variables]
    np.testing.assert_allclose(gc.evaluate(loaded, {"x": [0.1, 0.2, 0.3]}), gc.evaluate(t, {x: [0.1, 0.2, 0.3]}))


def test_the_role_block_is_general_and_checked():
    from graphcomp.core import provenance

    assert set(provenance.ROLES) == {"forward", "grad", "tangent"}
    with pytest.raises(gc.ArgumentError, match="unknown role 'adjoint'"):
        with provenance.building(role="adjoint"):
            pass


# -- cost ----------------------------------------------------------------------------------------------


def test_a_jvp_costs_about_one_forward_pass():
    """What the README says: the transpose trick's first pass (the gradient for the
    seed u) is dead once the second is built; what runs is about a forward pass more
    (the cost model's FLOPs, gc.cost_report), not 2-3 backward passes."""
    x = gc.Variable("x", (64,))
    W1, W2 = gc.Variable("W1", (64, 128)), gc.Variable("W2", (128, 32))
    y = gc.tanh(gc.tanh(x @ W1) @ W2)
    r = gc.cost_report(y, gc.jvp(y, x, np.ones(64)))
    assert r.ratio <= 1.5, str(r)
    r = gc.cost_report(y, gc.jvp(y, [W1, W2], [np.ones((64, 128)), np.ones((128, 32))]))
    assert r.ratio <= 3.0, str(r)
