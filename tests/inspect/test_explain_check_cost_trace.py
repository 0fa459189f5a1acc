"""explain_grad, check_grad, cost_report and the build_grad trace."""

from __future__ import annotations

import dataclasses

import numpy as np

import graphcomp as gc
from graphcomp.ops.base import Op


def test_explain_no_path_and_blocked_paths():
    x, q = gc.Variable("x"), gc.Variable("q")
    assert gc.explain_grad(gc.sin(x), q).status == "no path"
    s = gc.stop_gradient(x)
    e = gc.explain_grad(s * 2.0, x)
    assert e.status == "blocked" and e.node is s and "stop_gradient" in str(e)
    c = x > 0
    e = gc.explain_grad(gc.where(c, 1.0, 2.0), x)
    assert e.node is c and "comparison greater" in str(e)
    k = gc.cast(x, "int64")
    e = gc.explain_grad(gc.cast(k, "float64") * 1.0, x)
    assert e.node is k and "integer" in str(e)
    y = x * 3.0
    e = gc.explain_grad(y * 2.0, x, consider_constant=[y])
    assert e.status == "blocked" and e.node is y and "consider_constant" in str(e)
    e = gc.explain_grad(y * x, x, consider_constant=[y])
    assert e.status == "ok"  # x still reaches the cost through the other factor


def test_explain_names_the_untaken_where_branch():
    x = gc.Variable("x")
    lg = gc.log(x)
    e = gc.explain_grad(gc.where(x > 0, lg, 0.0), x, {x: 0.0})
    assert e.status == "non-finite" and e.node is lg and "untaken branch of a where" in str(e)


def test_explain_names_where_a_gradient_vanishes():
    x = gc.Variable("x", (3,))
    r = gc.relu(x)
    e = gc.explain_grad((r * 2.0).sum(), x, {x: [-1.0, -2.0, -0.5]})
    assert e.status == "zero" and e.node is r
    assert gc.explain_grad((r * 2.0).sum(), x, {x: [1.0, -2.0, 0.5]}).status == "ok"


@dataclasses.dataclass(frozen=True)
class WrongCube(Op):
    """x**3 with a wrong derivative (2x**2 instead of 3x**2)."""

    name = "wrong_cube"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return x**3

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [G * 2.0 * x * x]


def test_check_grad_names_the_first_wrong_bprop_inside_a_graph():
    x = gc.Variable("x", (4,))
    h = gc.tanh(x) * 1.5
    bad = WrongCube()(h)
    cost = gc.sin(bad).sum() + (x * x).sum()
    report = gc.check_grad(cost, x, {x: np.array([0.3, -0.2, 0.8, 0.1])})
    assert not report.ok
    assert report.first_failure.node is bad
    assert "first wrong bprop: wrong_cube" in str(report)
    good = gc.check_grad(gc.sin(gc.tanh(x) * 1.5).sum(), x, {x: np.array([0.3, -0.2, 0.8, 0.1])})
    assert good.ok and len(good.nodes) == 4  # tanh, multiply (not its constant 1.5), sin, sum


def test_cost_report_shows_backprop_costs_about_the_forward_pass():
    """The book's claim: for an MLP the gradient costs a small multiple of the forward pass."""
    X, W1, W2 = gc.Variable("X", (64, 100)), gc.Variable("W1", (100, 200)), gc.Variable("W2", (200, 10))
    J = gc.logsumexp(gc.relu(X @ W1) @ W2, axis=1).sum()
    r = gc.cost_report(J, gc.grad(J, [W1, W2]))
    assert r.forward_flops == 2 * 64 * 100 * 200 + 2 * 64 * 200 * 10 + 64 * 200 + 4 * 64 * 10 + 64
    assert 1.0 < r.ratio < 3.0
    assert "gradient / forward FLOPs" in str(r)


def test_trace_replays_algorithm_6_6():
    x = gc.Variable("x")
    y = gc.exp(x)
    z = y * y
    r = gc.backprop(z, [x], trace=True)
    kinds = [s.kind for s in r.trace]
    assert kinds == ["visit", "contribution", "contribution", "sum", "visit", "contribution", "sum"]
    text = gc.format_trace(r.trace)
    assert "build_grad(x): its consumers in G′ are [exp#" in text
    assert [k for k, *_ in gc.replay(r.trace)] == list(range(len(r.trace)))


def test_the_trace_replays_to_exactly_the_grad_table(random_graph_factory):
    for seed in range(10):
        z, inputs = random_graph_factory(seed)
        r = gc.backprop(z, inputs, trace=True)
        replayed = {z: r.grad_table[z]}
        for step in r.trace:
            if step.kind == "sum":
                assert step.variable not in replayed  # each entry is built once
                replayed[step.variable] = step.term
        assert replayed == dict(r.grad_table)


def test_check_grad_takes_any_target_a_parameter_a_constant_or_an_inner_node():
    """Finite differences move the target itself, everything it is computed from held fixed
    (the derivative grad_table holds); it used to need the target fed by the caller."""
    rng = np.random.default_rng(3)
    x, y = gc.Variable("x", (5, 4)), gc.Variable("y", (5,), "int64")
    W = gc.Parameter(rng.standard_normal((4, 3)), "W")
    scale = gc.constant(np.full(3, 0.5))
    logits = gc.tanh(x @ W) * scale
    cost = gc.nn.cross_entropy(logits, y)
    lsm = cost.owner.inputs[1]
    feed = {"x": rng.standard_normal((5, 4)), y: rng.integers(0, 3, 5)}
    report = gc.check_grad(cost, [W, scale, logits, lsm], feed)
    assert report.ok, str(report)
    assert [c.node for c in report.whole] == [W, scale, logits, lsm]
    assert all(abs(c.numeric) > 1e-3 for c in report.whole)  # each moved the cost: a real comparison
    # the check still catches a wrong gradient for an inner target
    bad = WrongCube()(gc.tanh(x @ W))
    wrong = gc.check_grad(gc.sin(bad).sum(), [bad.owner.inputs[0]], {x: feed["x"]})
    assert not wrong.ok and wrong.first_failure.node is bad


def test_check_grad_of_a_target_the_cost_does_not_read_is_zero_on_both_sides():
    x, unused = gc.Variable("x", (3,)), gc.Variable("u", (2,))
    report = gc.check_grad(gc.sin(x).sum(), [x, unused], {x: np.ones(3), unused: np.ones(2)})
    assert report.ok and (report.whole[1].analytic, report.whole[1].numeric) == (0.0, 0.0)


def test_check_grad_of_a_float32_target_steps_in_float32():
    """It fed float64 points to a float32 input, which the feed check refuses."""
    rng = np.random.default_rng(4)
    x = gc.Variable("x", (None, 3), "float32")
    cost = (gc.tanh(x) * gc.exp(x * 0.5)).sum()
    report = gc.check_grad(cost, x, {x: rng.standard_normal((2, 3)).astype(np.float32)}, eps=1e-2, rtol=1e-3)
    assert report.ok, str(report)
    assert abs(report.whole[0].numeric) > 0.1
    bad = WrongCube()(x)
    wrong = gc.check_grad(bad.sum(), x, {x: np.full((2, 3), 0.7, np.float32)}, eps=1e-2, rtol=1e-3)
    assert not wrong.ok and not wrong.whole[0].ok


def test_the_trace_says_how_many_terms_remain_after_scatters_combine():
    """Rows w[0], w[2] and entries w[1, 2], w[0, 1] are two groups of scatters, one each
    after combining, plus sin's term: 3 to add (it used to say "3 scatters summed as one")."""
    w = gc.Variable("w", (3, 3))
    r = gc.backprop(w[0].sum() + w[2].sum() + w[1, 2] * w[0, 1] + gc.sin(w).sum(), [w], trace=True)
    last = gc.format_trace(r.trace).splitlines()[-1]
    assert last.endswith("(5 term(s); scatters combined, 3 to add)")
    assert len(r.grads[w].owner.inputs) == 3
