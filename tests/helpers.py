"""Independent oracles for the tests: central finite differences on a random projection."""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from graphcomp.core.traverse import ancestors


def feed_for(outputs, inputs, values) -> dict:
    """The feed restricted to the inputs the outputs' graph holds (evaluate refuses others)."""
    held = ancestors(outputs if isinstance(outputs, list) else [outputs])
    return {v: a for v, a in zip(inputs, values) if v in held}


def directional_fd(f, values: list[np.ndarray], k: int, direction: np.ndarray, eps: float) -> float:
    """(f(x + eps v) - f(x - eps v)) / (2 eps), moving only input k along v."""
    plus = list(values)
    minus = list(values)
    plus[k] = values[k] + eps * direction
    minus[k] = values[k] - eps * direction
    return (f(plus) - f(minus)) / (2 * eps)


def assert_grads_match_fd(cost, inputs, values, wrt_positions, rng, eps=1e-6, rtol=1e-5, atol=1e-7):
    """The gradients graphcomp builds for ``cost`` agree with central differences
    along a random direction, for each input position in ``wrt_positions``."""
    grads = gc.grad(cost, [inputs[k] for k in wrt_positions])
    got = gc.evaluate(grads, feed_for(grads, inputs, values))

    def f(vals):
        return float(gc.evaluate(cost, feed_for(cost, inputs, vals)))

    for k, g in zip(wrt_positions, got):
        assert np.shape(g) == np.shape(values[k]), f"gradient of input {k} has shape {np.shape(g)}"
        v = rng.standard_normal(np.shape(values[k]))
        numeric = directional_fd(f, values, k, v, eps)
        analytic = float(np.sum(np.asarray(g) * v))
        assert np.isclose(analytic, numeric, rtol=rtol, atol=atol), (
            f"input {k}: bprop says {analytic!r}, finite differences say {numeric!r}"
        )


def rosenbrock_grad_and_hvp(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The closed forms of the gradient of sum(100 (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)
    and of its Hessian times v (W5's workload), written out by hand."""
    grad = np.zeros_like(x)
    grad[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    grad[1:] += 200 * (x[1:] - x[:-1] ** 2)
    hv = np.zeros_like(x)
    hv[:-1] = (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    hv[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    return grad, hv
