"""A value a loop body computed from its placeholders cannot escape the body
(JAX: UnexpectedTracerError): building an op on it afterwards is an
ArgumentError naming the value, the placeholder it reads, the loop's line and the
line using it. Values of the body that read no placeholder escape harmlessly."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import graphcomp as gc
from tests.loops.common import assert_close


def _line(offset: int = 0) -> str:
    return f"test_scope.py:{inspect.currentframe().f_back.f_lineno + offset}"


def test_a_leaked_slice_used_outside_the_loop_is_refused_where_it_is_used():
    X, x0, leak = gc.Variable("X", (None, 3)), gc.Variable("x0", (3,)), []
    gc.scan(lambda c, x: (leak.append(x) or c + x, None), x0, X)
    scan_line = _line(-1)
    with pytest.raises(gc.ArgumentError) as e:
        leak[0] * 2
    msg = str(e.value)
    assert msg.startswith("multiply: its input x was built inside the body of the scan built at " + scan_line)
    assert "is the slice x of xs at step t" in msg and msg.endswith("built at " + _line(-3))
    with pytest.raises(gc.ArgumentError, match="its input x was built inside the body"):
        gc.exp(leak[0])  # any op, not only operators
    with pytest.raises(gc.ArgumentError, match="inside the body"):
        gc.grad((leak[0] * X[0]).sum(), X)


def test_values_computed_from_placeholders_are_refused_naming_the_placeholder():
    W, h0, X = gc.Variable("W", (2, 2)), gc.Variable("h0", (2,)), gc.Variable("X", (None, 2))
    leak = {}

    def step(h, x):
        leak["pre"] = W @ h  # reads the carry
        leak["both"] = gc.tanh(leak["pre"] + x)
        return leak["both"], leak["pre"].sum()

    gc.scan(step, h0, X)
    with pytest.raises(gc.ArgumentError, match=r"its input matmul .* reads carry \(the carry entering step t\)"):
        leak["pre"] + 1.0
    with pytest.raises(gc.ArgumentError, match=r"its input tanh .* reads (carry|x) "):
        gc.concatenate([leak["both"], h0])
    # fori_loop's i is the step number (lower = 0) or computed from it
    seen = []
    gc.fori_loop(0, 3, lambda i, c: seen.append(i) or c + 1.0, 0.0)
    with pytest.raises(gc.ArgumentError, match=r"input t was built inside the body of the fori_loop .* step number t"):
        seen[0] + 1
    gc.fori_loop(2, 3, lambda i, c: seen.append(i) or c + 1.0, 0.0)
    with pytest.raises(gc.ArgumentError, match=r"reads t \(the step number t\)"):
        seen[1] + 1
    # gc.map's slice
    gc.map(lambda r: seen.append(r) or r * 2.0, X)
    with pytest.raises(gc.ArgumentError, match=r"the map built at .* is the slice x of xs at step t"):
        seen[2].sum()


def test_every_trace_of_a_body_is_sealed_also_the_retraces_of_a_weak_init():
    x32, leak = gc.Variable("x32", (None,), "float32"), []
    final, _ = gc.scan(lambda c, x: (leak.append(c) or c + x, None), 0.0, x32)
    assert final.dtype == np.float32 and len(leak) >= 2  # traced again for the weak 0.0
    for c in leak:
        with pytest.raises(gc.ArgumentError, match="entering step t"):
            c * 2.0


def test_a_value_leaked_from_an_inner_loop_into_the_outer_body_is_refused():
    X, leak = gc.Variable("X", (None, None, 2)), []

    def outer(c, xt):
        inner, _ = gc.scan(lambda d, r: (leak.append(r) or d + r, None), c, xt)
        return inner + leak[0], None  # the inner body's slice, outside the inner loop

    with pytest.raises(gc.ArgumentError) as e:
        gc.scan(outer, gc.constant(np.zeros(2)), X)
    assert "its input x was built inside the body of the scan" in str(e.value)
    # a value of the outer body read by an inner body is a capture, not a leak
    c, _ = gc.scan(lambda c, xt: (gc.scan(lambda d, r: (d + r * c, None), c, xt)[0], None), gc.constant(np.ones(2)), X)
    data = np.arange(12.0).reshape(2, 3, 2) / 10
    want = np.ones(2)
    for xt in data:
        d = want
        for r in xt:
            d = d + r * want
        want = d
    assert_close(gc.evaluate(c, {X: data}), want)


def test_what_reads_no_placeholder_escapes_harmlessly():
    # constants and values computed from outer Variables alone (hoisted out of the loop anyway)
    W, X, kept = gc.Variable("W", (2, 2)), gc.Variable("X", (None, 2)), {}

    def step(h, x):
        kept["WT"] = W.T * 2.0
        kept["k"] = gc.constant(np.array([1.0, -1.0]))
        return kept["WT"] @ h + x * kept["k"], None

    h, _ = gc.scan(step, gc.constant(np.zeros(2)), X)
    out = kept["WT"].sum() + kept["k"] @ h  # used outside the loop: accepted
    w, data = np.array([[0.5, -0.2], [0.1, 0.3]]), np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 1.0]])
    hv = np.zeros(2)
    for x in data:
        hv = (w.T * 2.0) @ hv + x * np.array([1.0, -1.0])
    assert_close(gc.evaluate(out, {W: w, X: data}), (w.T * 2.0).sum() + np.array([1.0, -1.0]) @ hv)


def test_the_loop_s_own_outputs_and_gradients_are_unaffected():
    # the body is a copy over fresh placeholders: the traced nodes the user held stay the user's
    X, x0, leak = gc.Variable("X", (None, 3)), gc.Variable("x0", (3,)), []
    cT, ys = gc.scan(lambda c, x: (leak.append(x) or gc.sin(c) * x, c.sum()), x0, X)
    body = cT.owner.inputs[0].op.body
    assert leak[0] not in body.inputs and leak[0] not in gc.Graph(list(body.outputs)).variables
    (g,) = gc.grad(cT.sum() + ys.sum(), [x0])
    data, c0 = np.random.default_rng(3).normal(size=(4, 3)), np.array([0.3, -0.5, 1.0])

    def f(c):
        total = 0.0
        for x in data:
            total += c.sum()
            c = np.sin(c) * x
        return c.sum() + total

    eps = 1e-6
    fd = [(f(c0 + eps * e) - f(c0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    assert_close(gc.evaluate(g, {X: data, x0: c0}), fd, rtol=1e-6, atol=1e-8)


def test_a_leaked_value_handed_straight_to_evaluate_or_compile_says_it_is_a_body_placeholder():
    """No op is built on the leaked value, so no input check sees it: evaluate finds its
    placeholder unfed, and compile would have made the placeholder an input of its own
    (a function of 'carry'); both say what it is (the carry of the scan at this line).
    An ordinary unfed input keeps the plain message."""
    leaked = []
    xs = gc.Variable("xs", (3,))
    line = inspect.currentframe().f_lineno + 1
    gc.scan(lambda c, x: (leaked.append(c * x) or c + x, None), gc.constant(0.0), xs)
    for run in (lambda: gc.evaluate(leaked[0], {}), lambda: gc.compile(leaked[0]), lambda: gc.compile(leaked[0], [xs])):
        with pytest.raises(ValueError) as e:
            run()
        text = str(e.value)
        assert "carry entering step t" in text and f"scan built at test_scope.py:{line}" in text
        assert "return it from the body" in text
    with pytest.raises(ValueError) as e:
        gc.evaluate(xs * 2.0, {})
    assert "placeholder" not in str(e.value) and "no value was fed for input 'xs'" in str(e.value)


def test_grad_and_jvp_refuse_a_leaked_value_instead_of_calling_it_disconnected():
    """A leaked body value handed to grad (as cost or wrt) or jvp (as y or x) is named as
    such: 'does not depend on' was true of the node but told the user nothing."""
    leaked = []
    X, h0 = gc.Variable("X", (None, 3)), gc.Variable("h0", (3,))

    def step(h, x):
        y = gc.tanh(h + x)
        leaked.append(y)
        return y, y * 2.0

    hT, ys = gc.scan(step, h0, X)
    calls = {
        "grad: wrt": lambda: gc.grad(hT.sum(), leaked[0]),
        "grad: the cost": lambda: gc.grad(leaked[0], h0),
        "jvp: y": lambda: gc.jvp(leaked[0], X, np.ones((2, 3))),
    }
    for said, call in calls.items():
        with pytest.raises(gc.ArgumentError) as e:
            call()
        text = str(e.value)
        assert text.startswith(f"{said} tanh was built inside the body of the scan built at test_scope.py:")
        assert "return it from the body" in text
    (g,) = gc.grad(ys.sum(), [h0])  # the loop's own outputs differentiate as before
    Xv, hv = np.linspace(-1, 1, 6).reshape(2, 3), np.zeros(3)
    h1 = np.tanh(hv + Xv[0])
    want = 2 * (1 - h1**2) * (1 + (1 - np.tanh(h1 + Xv[1]) ** 2))
    np.testing.assert_allclose(gc.evaluate(g, {X: Xv, h0: hv}), want, rtol=1e-12)
