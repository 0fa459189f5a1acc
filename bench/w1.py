"""W1 scalar: the lecture's example and its two derivatives, against the hand derivation."""

from __future__ import annotations

import math

import numpy as np
from common import JAX, JAX_ROW, peers, torch

import graphcomp as gc


def w1_hand(x, z):
    """The lecture's forward and backward pass, line by line."""
    a = x * z
    b = math.log(x)
    c = math.sin(b)
    d = math.exp(a)
    e = a / b
    f = c / a
    y = d + e + f
    dy_dc = 1 / a
    dy_db = -a / b**2 + dy_dc * math.cos(b)
    dy_da = -c / a**2 + 1 / b + d
    return y, dy_da * z + dy_db / x, dy_da * x


#: W1's arguments x = 2, z = 3 in each type a user may pass (the issue's generic-argument rows)
W1_ARGUMENTS = {
    "Python float": (2.0, 3.0),
    "np.float64": (np.float64(2.0), np.float64(3.0)),
    "np.float32": (np.float32(2.0), np.float32(3.0)),
    "0-d array": (np.array(2.0), np.array(3.0)),
}


def w1_systems(arguments: str = "Python float"):
    """W1's systems, each called with x and z of the type ``arguments`` names; the
    reference is the hand derivation on Python floats."""
    xa, za = W1_ARGUMENTS[arguments]
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    outs = [y, *gc.grad(y, [x, z])]
    f = gc.compile(outs, [x, z])
    fj = gc.compile(outs, [x, z], backend="jax") if JAX else None
    systems = {
        "hand (plain Python + math)": lambda: w1_hand(2.0, 3.0),
        "graphcomp compile": lambda: f(xa, za),
        "graphcomp evaluate": lambda: gc.evaluate(outs, {x: xa, z: za}),
        JAX_ROW: (lambda: fj(xa, za)) if fj else None,
    }
    if torch is not None:

        def torch_w1():
            xt = torch.tensor(xa, dtype=torch.float64, requires_grad=True)
            zt = torch.tensor(za, dtype=torch.float64, requires_grad=True)
            yt = torch.exp(xt * zt) + xt * zt / torch.log(xt) + torch.sin(torch.log(xt)) / (xt * zt)
            gx, gz = torch.autograd.grad(yt, [xt, zt])
            return yt.item(), gx.item(), gz.item()

        systems["PyTorch eager"] = torch_w1
    systems["JAX jit"] = peers.jax_w1(xa, za)
    systems["PyTensor (Numba)"] = peers.pytensor_w1(xa, za)
    return systems
