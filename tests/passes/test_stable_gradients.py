"""Every stabilising rewrite makes the gradient as stable as the value (issue 14,
items 3 and 4): under ``gc.compile``, wherever the stabilised value is finite, its
gradient and second derivative are finite and right.

``gc.evaluate`` runs the graph as written, whose gradient passes through quotients
by the softmax, the sigmoid, ``1 - sigmoid`` or the sum of exps (the stabilize pass's
gradient rules cancel them under compile only): it may be inf or nan where those
underflow, and where it is finite it agrees with compile within the rounding of the
formula as written (``1 - sigmoid(19)`` keeps 8 of 16 digits, so its quotient does).

Oracles: closed forms written in stable NumPy (softmax's Jacobian diag(s) - s s^T,
sigmoid' = sigmoid(x) sigmoid(-x), ...), and JAX's own stable functions in float64
where JAX is installed.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.passes import stabilize


def _sig(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _lse(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


@dataclasses.dataclass
class Case:
    """cost(x) = sum(w * f(x)); its value, gradient and Hessian in closed form."""

    identity: str
    f: Callable  # graphcomp, as the textbook writes it
    value: Callable  # x -> cost
    grad: Callable  # x -> d cost / dx
    hess: Callable  # x -> d2 cost / dx2, (n, n)
    points: dict  # dtype -> list of x arrays
    #: x -> how many times eps the formula as written may be off in the first derivative
    #: (elementwise, or a number): what gc.evaluate's finite derivatives are held to
    kappa: Callable = lambda x: 1.0


def _elementwise(identity, f, y, dy, d2y, points, kappa=lambda x: 1.0):
    w = np.array([0.7, -1.3, 2.0, 0.5])
    return Case(identity, lambda x: gc.sum(f(x) * w), lambda x: np.sum(w * y(x)), lambda x: w * dy(x),
                lambda x: np.diag(w * d2y(x)), points, kappa)  # fmt: skip


def _one_minus_sigmoid(x):
    """1 - sigmoid(x) as written rounds sigmoid(x) first: relative error eps / sigmoid(-x)."""
    with np.errstate(divide="ignore", over="ignore"):  # sigmoid(-800) = 0: no digit is kept
        return 1 / _sig(-x)


SATURATED = {
    "float64": [np.array([-800.0, -40.0, 40.0, 800.0]), np.array([-37.5, 0.0, 19.0, 745.0])],
    "float32": [np.array([-80.0, -40.0, 40.0, 80.0]), np.array([-17.0, 0.0, 9.0, 88.0])],
}  # float32 stops at -80: sigmoid(-88) is a subnormal, whose log has lost digits as written
W = np.array([0.7, -1.3, 2.0, 0.5])
V = np.array([1.0, -2.0, 0.5, 3.0])

CASES = [
    Case(
        "log(softmax x) -> log_softmax x",
        lambda x: gc.sum(gc.log(gc.softmax(x)) * W),
        lambda x: np.sum(W * (x - _lse(x))),
        lambda x: W - _softmax(x) * W.sum(),
        lambda x: -W.sum() * (np.diag(_softmax(x)) - np.outer(_softmax(x), _softmax(x))),
        {
            "float64": [np.array([0.0, 800.0, -800.0, 3.0]), np.array([1e3, 0.0, 0.0, -1e3])],
            "float32": [np.array([0.0, 100.0, -100.0, 3.0]), np.array([60.0, 0.0, 0.0, -60.0])],
        },
    ),  # fmt: skip
    _elementwise(
        "log(sigmoid x) -> -softplus(-x)",
        lambda x: gc.log(gc.sigmoid(x)),
        lambda x: -np.logaddexp(0, -x),
        lambda x: _sig(-x),
        lambda x: -_sig(x) * _sig(-x),
        SATURATED,
    ),
    _elementwise(
        "log(1 - sigmoid x) -> -softplus(x)",
        lambda x: gc.log(1 - gc.sigmoid(x)),
        lambda x: -np.logaddexp(0, x),
        lambda x: -_sig(x),
        lambda x: -_sig(x) * _sig(-x),
        SATURATED,
        _one_minus_sigmoid,
    ),
    _elementwise(
        "log1p(-sigmoid x) -> -softplus(x)",
        lambda x: gc.log1p(-gc.sigmoid(x)),
        lambda x: -np.logaddexp(0, x),
        lambda x: -_sig(x),
        lambda x: -_sig(x) * _sig(-x),
        SATURATED,
        _one_minus_sigmoid,
    ),
    _elementwise(
        "log(1 + x) -> log1p x",
        lambda x: gc.log(1 + x),
        np.log1p,
        lambda x: 1 / (1 + x),
        lambda x: -1 / (1 + x) ** 2,
        {
            "float64": [np.array([-0.999999, 1e-20, 3.0, 1e300]), np.array([-0.5, -1e-300, 0.0, 1e10])],
            "float32": [np.array([-0.999, 1e-20, 3.0, 1e30]), np.array([-0.5, -1e-30, 0.0, 1e10])],
        },
    ),
    _elementwise(
        "exp(x) - 1 -> expm1 x",
        lambda x: gc.exp(x) - 1,
        np.expm1,
        np.exp,
        np.exp,
        {
            "float64": [np.array([-800.0, -40.0, 1e-20, 700.0]), np.array([-1e-300, 0.0, 1.0, -5.0])],
            "float32": [np.array([-100.0, -40.0, 1e-20, 80.0]), np.array([-1e-30, 0.0, 1.0, -5.0])],
        },
    ),
    Case(
        "log(sum(exp x)) -> logsumexp x",
        lambda x: gc.log(gc.sum(gc.exp(x))) * 1.5,
        lambda x: 1.5 * _lse(x),
        lambda x: 1.5 * _softmax(x),
        lambda x: 1.5 * (np.diag(_softmax(x)) - np.outer(_softmax(x), _softmax(x))),
        {
            "float64": [np.array([1000.0, 0.0, 0.0, 999.0]), np.array([-1000.0, -1000.0, -1000.0, -1001.0])],
            "float32": [np.array([100.0, 0.0, 0.0, 99.0]), np.array([-120.0, -120.0, -120.0, -121.0])],
        },
    ),  # fmt: skip
]

TOL = {"float64": dict(rtol=1e-12, atol=1e-300), "float32": dict(rtol=2e-5, atol=1e-37)}
# a Hessian-vector product sums terms of size ~|W| |V| ~ 1 that cancel to ~1e-26 at saturated
# logits (gc.grad built it from the graph as written: one term through the rewritten quotient,
# one through the op's own second derivative): it keeps its terms' precision, 8 eps of them
TOL2 = {"float64": dict(rtol=1e-12, atol=8 * np.finfo(np.float64).eps), "float32": dict(rtol=2e-5, atol=1e-6)}


def _problems(case: Case, dtype: str, shape) -> list[str]:
    x = gc.Variable("x", shape, dtype)
    cost = case.f(x)
    grad = gc.grad(cost, x)
    hess = gc.grad(gc.sum(grad * V.astype(dtype)), x)  # the Hessian times V: unknown shapes too
    f = gc.compile([cost, grad, hess], [x])
    fired = {r for r, *_ in f.rewrites}
    out = [] if case.identity in fired else [f"{case.identity}: the rule did not fire ({sorted(fired)})"]
    for xv in case.points[dtype]:
        xv = xv.astype(dtype)
        x64 = xv.astype(np.float64)
        with np.errstate(over="ignore"):  # (1 + 1e300)**2 = inf: the closed form's -1/inf = -0 is right
            want = [case.value(x64), case.grad(x64), case.hess(x64) @ V]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the graph as written overflows: that is the point
            got = f(xv)
            ev = gc.evaluate([cost, grad, hess], {x: xv})
        kappa = np.broadcast_to(np.asarray(case.kappa(x64), dtype=np.float64), xv.shape)
        for order, (what, g, w, e) in enumerate(zip(("value", "gradient", "second derivative"), got, want, ev)):
            g = np.asarray(g, dtype=np.float64)
            if not np.all(np.isfinite(g)):
                out.append(f"{case.identity} at {xv.tolist()}: the compiled {what} is not finite: {g.tolist()}")
                continue
            tol = TOL2[dtype] if what == "second derivative" else TOL[dtype]
            if not np.allclose(g, w, **tol):
                out.append(f"{case.identity} at {xv.tolist()}: compiled {what} {g.tolist()}, closed form {w.tolist()}")
            e = np.asarray(e, dtype=np.float64)
            finite = np.isfinite(e)
            # evaluate runs the formula as written: it keeps the digits that formula keeps
            loose = dict(tol, rtol=tol["rtol"] * (kappa**order if e.shape else np.max(kappa) ** order))
            loose["rtol"] = np.broadcast_to(loose["rtol"], e.shape)[finite] if e.shape else loose["rtol"]
            if np.any(finite) and not np.all(np.isclose(e[finite], g[finite], **loose)):
                out.append(f"{case.identity} at {xv.tolist()}: evaluate's finite {what} {e} differs from compile's")
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(4,), (None,)], ids=["known", "unknown"])
def test_every_stabilised_value_has_a_stable_first_and_second_derivative(dtype, shape):
    assert {c.identity for c in CASES} == set(stabilize.IDENTITIES), "a rewrite without a case here"
    problems = []
    for case in CASES:
        problems += _problems(case, dtype, shape)
    assert not problems, "\n".join(problems)


def test_the_handed_log_softmax_input():
    """loss = -log(softmax(x))[0] at x = (0, 800): loss 800, gradient (-1, 1)."""
    x = gc.Variable("x", (2,))
    loss = -gc.log(gc.softmax(x))[0]
    value, grad = gc.compile([loss, gc.grad(loss, x)], [x])(np.array([0.0, 800.0]))
    assert value == 800.0
    np.testing.assert_array_equal(grad, [-1.0, 1.0])
    # evaluate runs the gradient as written, through 1 / softmax(x)[0] = 1 / 0: where finite, the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_written = gc.evaluate(gc.grad(loss, x), {x: np.array([0.0, 800.0])})
    finite = np.isfinite(as_written)
    np.testing.assert_array_equal(as_written[finite], np.array([-1.0, 1.0])[finite])


@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, True), (None, False)])
def test_reductions_along_an_axis(axis, keepdims):
    """log(sum(exp x)) and log(softmax x) along an axis of a matrix, the sum kept or not:
    the gradients are softmax over that axis (broadcast back) and G - s * sum(G)."""
    x = gc.Variable("x", (2, 3))
    xv = np.array([[1000.0, 0.0, -5.0], [-1000.0, -999.0, -1000.0]])
    lse = gc.log(gc.sum(gc.exp(x), axis=axis, keepdims=keepdims))
    g = gc.compile(gc.grad(gc.sum(lse), x), [x])(xv)
    np.testing.assert_allclose(
        g, _softmax(xv.ravel()).reshape(2, 3) if axis is None else _softmax(xv, axis), rtol=1e-13
    )
    if axis is not None:
        lsm = gc.log(gc.softmax(x, axis=axis))
        g = gc.compile(gc.grad(gc.sum(lsm * xv), x), [x])(xv)  # weights = the values themselves
        np.testing.assert_allclose(g, xv - _softmax(xv, axis) * xv.sum(axis=axis, keepdims=True), rtol=1e-13)


def test_textbook_binary_cross_entropy_trains_at_saturated_logits():
    """-mean(y log p + (1 - y) log(1 - p)), p = sigmoid(z), trained by gradient descent from
    logits of +-40 that are confidently wrong: every loss and gradient finite, and the loss
    falls; the gradient is the closed form (p - y) / n."""
    z = gc.Variable("z", (None,))
    y = gc.Variable("y", (None,))
    p = gc.sigmoid(z)
    loss = -gc.mean(y * gc.log(p) + (1 - y) * gc.log(1 - p))
    step = gc.compile([loss, gc.grad(loss, z)], [z, y])
    zv, yv = np.array([40.0, -40.0, 40.0, -40.0]), np.array([0.0, 1.0, 1.0, 0.0])
    first, g = step(zv, yv)
    p_minus_y = np.where(yv == 1, -_sig(-zv), _sig(zv))  # sigmoid(z) - 1 = -sigmoid(-z), not rounded to 0
    np.testing.assert_allclose(g, p_minus_y / 4, rtol=1e-14, atol=1e-300)
    losses = [first]
    for _ in range(100):
        value, g = step(zv, yv)
        assert np.isfinite(value) and np.all(np.isfinite(g))
        zv = zv - 40.0 * g
        losses.append(value)
    assert losses[-1] < losses[0] / 4


def test_jax_agrees_with_every_stable_gradient():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    theirs = {
        "log(softmax x) -> log_softmax x": lambda x: jnp.sum(jax.nn.log_softmax(x) * W),
        "log(sigmoid x) -> -softplus(-x)": lambda x: jnp.sum(jax.nn.log_sigmoid(x) * W),
        "log(1 - sigmoid x) -> -softplus(x)": lambda x: jnp.sum(-jax.nn.softplus(x) * W),
        "log1p(-sigmoid x) -> -softplus(x)": lambda x: jnp.sum(-jax.nn.softplus(x) * W),
        "log(1 + x) -> log1p x": lambda x: jnp.sum(jnp.log1p(x) * W),
        "exp(x) - 1 -> expm1 x": lambda x: jnp.sum(jnp.exp(x) * W),  # expm1's own derivative
        "log(sum(exp x)) -> logsumexp x": lambda x: jax.nn.logsumexp(x) * 1.5,
    }
    for case in CASES:
        x = gc.Variable("x", (4,))
        cost = case.f(x)
        f = gc.compile([gc.grad(cost, x), gc.hessian(cost, x)], [x])
        for xv in case.points["float64"]:
            g, h = f(xv)
            # JAX's log_sigmoid rounds s(1 - s) to 0 in the tails: agreement to an absolute 1e-15
            np.testing.assert_allclose(g, jax.grad(theirs[case.identity])(xv), rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(h, jax.hessian(theirs[case.identity])(xv), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(4,), (None,)], ids=["known", "unknown"])
def test_every_gradient_rule_is_what_makes_some_case_stable(shape):
    """Each of the stabilize pass's gradient rules fires on the first or second derivative of
    some textbook formula above (none is dead), and every node each builds passes the
    verifier (``verify_passes=True``: shapes and dtypes as inferred)."""
    fired = set()
    for case in CASES:
        x = gc.Variable("x", shape)
        grad = gc.grad(case.f(x), x)
        f = gc.compile([grad, gc.grad(gc.sum(grad * V), x)], [x], verify_passes=True)
        fired |= {r for r, *_ in f.rewrites}
    missing = {rule.name for rule in stabilize.GRADIENT_RULES} - fired
    assert not missing, missing
