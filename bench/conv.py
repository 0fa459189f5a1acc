"""The convolution and pooling ops alone, per shape: each op's NumPy form against the
Numba backend's choice for it (its loop where it measured faster, else the same NumPy
form) and PyTorch's kernel; ``python bench/run.py conv``. This is the measurement
behind the per-shape choices of ``graphcomp/runtime/backends/numba_conv.py``."""

from __future__ import annotations

import numpy as np
from common import NUMBA, torch
from harness import run

from graphcomp.ops.conv import Conv2D, Conv2DInputGrad, Conv2DWeightGrad, MaxPool2D, MaxPool2DGrad

#: (x shape, w shape, stride, padding): W4's layer, a second layer, a wide one, a strided one
CONV_SHAPES = [
    ((32, 1, 28, 28), (8, 1, 3, 3), 1, 0),
    ((32, 8, 13, 13), (16, 8, 3, 3), 1, 1),
    ((8, 64, 16, 16), (64, 64, 3, 3), 1, 1),
    ((32, 3, 32, 32), (16, 3, 5, 5), 2, 2),
]
POOL_SHAPES = [(32, 8, 26, 26), (32, 64, 16, 16)]


def _numba_callee(op):
    from graphcomp.runtime.backends.numba import NumbaBackend

    return NumbaBackend().callee(op)


def _systems(op, args, torch_fn):
    systems = {"graphcomp NumPy form": lambda: (op.forward(*args),)}
    if NUMBA:
        callee = _numba_callee(op)
        systems["graphcomp Numba backend"] = lambda: (callee(*args),)
    if torch is not None and torch_fn is not None:
        targs = [torch.from_numpy(a) for a in args]
        systems["PyTorch"] = lambda: (torch_fn(*targs).numpy(),)
    return systems


def conv_kernels() -> bool:
    rng = np.random.default_rng(0)
    ok = True
    F = torch.nn.functional if torch is not None else None
    for xs, ws, s, p in CONV_SHAPES:
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        fwd = Conv2D(s, p)
        g = rng.standard_normal(fwd.forward(x, w).shape)
        shape = f"x {xs}, w {ws}, stride {s}, padding {p}"
        ok &= run(
            f"conv2d, {shape}",
            _systems(fwd, (x, w), F and (lambda a, b, s=s, p=p: F.conv2d(a, b, stride=s, padding=p))),
        )
        ig = Conv2DInputGrad(s, p, xs[2], xs[3])
        tg = torch and (lambda a, b, xs=xs, s=s, p=p: torch.nn.grad.conv2d_input(xs, b, a, stride=s, padding=p))
        ok &= run(f"conv2d_input_grad, {shape}", _systems(ig, (g, w), tg))
        wg = Conv2DWeightGrad(s, p, ws[2], ws[3])
        tw = torch and (lambda a, b, ws=ws, s=s, p=p: torch.nn.grad.conv2d_weight(a, ws, b, stride=s, padding=p))
        ok &= run(f"conv2d_weight_grad, {shape}", _systems(wg, (x, g), tw))
    for xs in POOL_SHAPES:
        x = rng.standard_normal(xs)
        pool, grad = MaxPool2D(2, 2), MaxPool2DGrad(2, 2)
        y = pool.forward(x)
        g = rng.standard_normal(y.shape)
        ok &= run(f"max_pool2d 2x2, x {xs}", _systems(pool, (x,), F and (lambda a: F.max_pool2d(a, 2))))

        def torch_grad(a, b, c):  # PyTorch routes through the indices its forward saved: both timed
            a = a.clone().requires_grad_()
            return torch.autograd.grad(F.max_pool2d(a, 2), a, c)[0]

        ok &= run(f"max_pool2d_grad 2x2, x {xs} (PyTorch: forward + backward)", _systems(grad, (x, y, g), torch_grad))
    return ok
