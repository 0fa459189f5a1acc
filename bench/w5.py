"""W5 hvp: the Rosenbrock Hessian-vector product, against its closed form."""

from __future__ import annotations

import numpy as np
from common import JAX, JAX_ROW, NUMBA, NUMBA_ROW, NUMBA_WHOLE_ROW, peers, torch

import graphcomp as gc


def w5_hand(x, v):
    """Hessian-vector product of the Rosenbrock function, in closed form."""
    Hv = np.zeros_like(x)
    Hv[:-1] = (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    Hv[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    return (Hv,)


def w5_systems(n=1000):
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    x, v = gc.Variable("x", (n,)), gc.Variable("v", (n,))
    f_ = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    f = gc.compile([gc.hvp(f_, x, v)], [x, v])
    fn = gc.compile([gc.hvp(f_, x, v)], [x, v], backend="numba") if NUMBA else None
    fw = gc.compile([gc.hvp(f_, x, v)], [x, v], backend="numba", whole=True) if NUMBA else None
    fj = gc.compile([gc.hvp(f_, x, v)], [x, v], backend="jax") if JAX else None
    systems = {
        "closed form (NumPy)": lambda: w5_hand(xv, vv),
        "graphcomp compile": lambda: f(xv, vv),
        NUMBA_ROW: (lambda: fn(xv, vv)) if fn else None,
        NUMBA_WHOLE_ROW: (lambda: fw(xv, vv)) if fw else None,
        JAX_ROW: (lambda: fj(xv, vv)) if fj else None,
    }
    if torch is not None:
        xt, vt = torch.from_numpy(xv).requires_grad_(), torch.from_numpy(vv)

        def torch_w5():
            ft = (100.0 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1.0 - xt[:-1]) ** 2).sum()
            (g,) = torch.autograd.grad(ft, [xt], create_graph=True)
            (hv,) = torch.autograd.grad((g * vt).sum(), [xt])
            return (hv.numpy(),)

        systems["PyTorch eager"] = torch_w5
    systems["JAX jit"] = peers.jax_w5(xv, vv)
    systems["PyTensor (Numba)"] = peers.pytensor_w5(xv, vv)
    systems["closed form fused (Numba)"] = peers.numba_w5(xv, vv)
    return systems
