"""The peers' versions of each workload: JAX (jit, CPU) and PyTensor (Numba backend).

Each builder returns a zero-argument callable giving the same outputs as the
hand-written reference, or None when the library is not installed. The
threads are pinned to one before the libraries are imported (bench/run.py).
"""

from __future__ import annotations

import numpy as np

try:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
except ImportError:
    jax = None

try:
    import pytensor
    import pytensor.tensor as pt
except ImportError:
    pytensor = None

MODE = "NUMBA"


def _jit(fn):
    compiled = jax.jit(fn)

    def call(*args):
        return [np.asarray(o) for o in jax.block_until_ready(compiled(*args))]

    return call


# -- W1 --------------------------------------------------------------------------------------------------------


def _w1_expr(lib, x, z):
    return lib.exp(x * z) + x * z / lib.log(x) + lib.sin(lib.log(x)) / (x * z)


def jax_w1(x=2.0, z=3.0):
    """W1 called with ``x`` and ``z`` as given (a Python float, a NumPy scalar, a 0-d
    array), computed in float64 as every other system computes it."""
    if jax is None:
        return None

    def both(x, z):
        x, z = jnp.asarray(x, jnp.float64), jnp.asarray(z, jnp.float64)
        return _w1_expr(jnp, x, z), *jax.grad(lambda a, b: _w1_expr(jnp, a, b), (0, 1))(x, z)

    f = _jit(both)
    return lambda: f(x, z)


def pytensor_w1(x=2.0, z=3.0):
    if pytensor is None:
        return None
    xs, zs = pt.dscalar("x"), pt.dscalar("z")
    y = _w1_expr(pt, xs, zs)
    f = pytensor.function([xs, zs], [y, *pytensor.grad(y, [xs, zs])], mode=MODE)
    return lambda: f(x, z)


# -- W2 --------------------------------------------------------------------------------------------------------


def _w2_loss(lib, logsumexp, X, y, W1, W2, lam):
    O = lib.maximum(X @ W1, 0) @ W2  # noqa: E741
    picked = O[lib.arange(X.shape[0]), y]
    return lib.mean(logsumexp(O) - picked) + lam / 2 * (lib.sum(W1 * W1) + lib.sum(W2 * W2))


def jax_w2(X, y, W1, W2, lam):
    if jax is None:
        return None

    def loss(W1, W2, X, y):
        return _w2_loss(jnp, lambda o: jax.nn.logsumexp(o, axis=1), X, y, W1, W2, lam)

    f = _jit(lambda W1, W2, X, y: (loss(W1, W2, X, y), *jax.grad(loss, (0, 1))(W1, W2, X, y)))
    return lambda: f(W1, W2, X, y)


def pytensor_w2(X, y, W1, W2, lam):
    if pytensor is None:
        return None
    Xs, ys, W1s, W2s = pt.dmatrix("X"), pt.lvector("y"), pt.dmatrix("W1"), pt.dmatrix("W2")
    J = _w2_loss(pt, lambda o: pt.logsumexp(o, axis=1), Xs, ys, W1s, W2s, lam)
    f = pytensor.function([Xs, ys, W1s, W2s], [J, *pytensor.grad(J, [W1s, W2s])], mode=MODE)
    return lambda: f(X, y, W1, W2)


def _w2_generic_loss(loss, lib, X, Y, W1, W2, lam):
    O = lib.maximum(X @ W1, 0) @ W2  # noqa: E741
    return loss(lib, O, Y) + lam / 2 * (lib.sum(W1 * W1) + lib.sum(W2 * W2))


class TorchNamespace:
    """PyTorch under the names the generic W2 losses use (``log_softmax(x, axis=)``)."""

    def __init__(self):
        import torch

        self.log, self.maximum, self.sum = torch.log, torch.maximum, torch.sum
        self.log_softmax = lambda x, axis: torch.log_softmax(x, dim=axis)
        self.softmax = lambda x, axis: torch.softmax(x, dim=axis)


def jax_w2_generic(loss, X, Y, W1, W2, lam):
    """W2 with one-hot labels and the loss ``loss(lib, O, Y)`` written with jax.nn's softmaxes."""
    if jax is None:
        return None
    lib = _Namespace(jnp, log_softmax=jax.nn.log_softmax, softmax=jax.nn.softmax)

    def cost(W1, W2, X, Y):
        return _w2_generic_loss(loss, lib, X, Y, W1, W2, lam)

    f = _jit(lambda W1, W2, X, Y: (cost(W1, W2, X, Y), *jax.grad(cost, (0, 1))(W1, W2, X, Y)))
    return lambda: f(W1, W2, X, Y)


def pytensor_w2_generic(loss, X, Y, W1, W2, lam):
    """W2 with one-hot labels and the loss ``loss(lib, O, Y)`` written with PyTensor's softmaxes."""
    if pytensor is None:
        return None
    from pytensor.tensor.special import log_softmax, softmax

    lib = _Namespace(pt, log_softmax=log_softmax, softmax=softmax, maximum=pt.maximum)
    Xs, Ys, W1s, W2s = pt.dmatrix("X"), pt.dmatrix("Y"), pt.dmatrix("W1"), pt.dmatrix("W2")
    J = _w2_generic_loss(loss, lib, Xs, Ys, W1s, W2s, lam)
    f = pytensor.function([Xs, Ys, W1s, W2s], [J, *pytensor.grad(J, [W1s, W2s])], mode=MODE)
    return lambda: f(X, Y, W1, W2)


class _Namespace:
    """A library's module with a few names replaced (its softmaxes live elsewhere)."""

    def __init__(self, module, **names):
        self._module = module
        self.__dict__.update(names)

    def __getattr__(self, name):
        return getattr(self._module, name)


# -- W3 --------------------------------------------------------------------------------------------------------


def jax_w3(x0, w, b):
    """JAX traces the Python loop into one straight-line XLA program, as graphcomp does."""
    if jax is None:
        return None
    n = len(w)

    def cost(w, b, x):
        for k in range(n):
            x = jnp.tanh(w[k] * x + b[k])
        return jnp.sum(x)

    f = _jit(lambda w, b, x: (cost(w, b, x), *jax.grad(cost, (0, 1))(w, b, x)))
    return lambda: f(w, b, x0)


def pytensor_w3(x0, w, b):
    if pytensor is None:
        return None
    xs, ws, bs = pt.dvector("x"), pt.dvector("w"), pt.dvector("b")
    x = xs
    for k in range(len(w)):
        x = pt.tanh(ws[k] * x + bs[k])
    cost = pt.sum(x)
    f = pytensor.function([xs, ws, bs], [cost, *pytensor.grad(cost, [ws, bs])], mode=MODE)
    return lambda: f(x0, w, b)


# -- W4 --------------------------------------------------------------------------------------------------------


def jax_w4(x, y, w, Wl):
    """The CNN written in JAX: conv, max-pool with reduce_window, relu, linear, cross-entropy; jax.grad."""
    if jax is None:
        return None
    from jax import lax

    n, flat = x.shape[0], Wl.shape[0]

    def loss(w, Wl, x, y):
        z1 = lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        z2 = lax.reduce_window(z1, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logits = jnp.maximum(z2, 0).reshape(n, flat) @ Wl
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - logits[jnp.arange(n), y])

    f = _jit(lambda w, Wl, x, y: (loss(w, Wl, x, y), *jax.grad(loss, (0, 1))(w, Wl, x, y)))
    return lambda: f(w, Wl, x, y)


# -- W5 --------------------------------------------------------------------------------------------------------


def _rosenbrock(lib, x):
    return lib.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def jax_w5(x, v):
    if jax is None:
        return None
    g = jax.grad(lambda x: _rosenbrock(jnp, x))
    f = _jit(lambda x, v: (jax.jvp(g, (x,), (v,))[1],))
    return lambda: f(x, v)


def pytensor_w5(x, v):
    if pytensor is None:
        return None
    xs, vs = pt.dvector("x"), pt.dvector("v")
    g = pytensor.grad(_rosenbrock(pt, xs), xs)
    f = pytensor.function([xs, vs], [pytensor.grad(pt.sum(g * vs), xs)], mode=MODE)
    return lambda: f(x, v)


def numba_w5(x, v):
    """The W5 closed form as one fused Numba loop: what an elementwise-fusion backend
    for graphcomp would reach, measured rather than guessed."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def hv(x, v):
        n = x.shape[0]
        out = np.empty(n)
        out[0] = 0.0
        for i in range(n - 1):
            out[i + 1] = 200 * v[i + 1] - 400 * x[i] * v[i]
            out[i] += (1200 * x[i] ** 2 - 400 * x[i + 1] + 2) * v[i] - 400 * x[i] * v[i + 1]
        return out

    return lambda: (hv(x, v),)


# -- W7 --------------------------------------------------------------------------------------------------------


def jax_w7(X, y, W1, W2, lam, lr, betas, eps):
    """One Adam step of W2's MLP in JAX, as a JAX user writes it: value_and_grad, torch.optim.Adam's
    rule, the state passed in and returned with its buffers donated; a call returns (J, W1, W2)."""
    if jax is None:
        return None
    import functools

    b1, b2 = betas

    def loss(W1, W2, X, y):
        return _w2_loss(jnp, lambda o: jax.nn.logsumexp(o, axis=1), X, y, W1, W2, lam)

    @functools.partial(jax.jit, donate_argnums=(0,))
    def step(state, X, y):
        params, ms, vs, t = state
        J, grads = jax.value_and_grad(loss, (0, 1))(*params, X, y)
        t = t + 1
        step_size = lr / (1 - b1**t)
        bc2_sqrt = jnp.sqrt(1 - b2**t)
        ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
        vs = [b2 * v + (1 - b2) * (g * g) for v, g in zip(vs, grads)]
        params = [p - step_size * m / (jnp.sqrt(v) / bc2_sqrt + eps) for p, m, v in zip(params, ms, vs)]
        return J, (params, ms, vs, t)

    zeros = [jnp.zeros_like(W1), jnp.zeros_like(W2)]
    state = [([jnp.asarray(W1), jnp.asarray(W2)], zeros, [jnp.zeros_like(W1), jnp.zeros_like(W2)], 0)]

    def call():
        J, state[0] = step(state[0], X, y)
        return np.asarray(J), *state[0][0]

    return call


def versions() -> str:
    """The peers' versions, for the table's header line."""
    return (
        f"JAX {jax.__version__ if jax else 'not installed'}, "
        f"PyTensor {pytensor.__version__ if pytensor else 'not installed'} ({MODE})"
    )
