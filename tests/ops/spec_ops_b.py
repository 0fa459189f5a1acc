"""Spec rows for issue #16's statistics, products, running sums, arg-extrema, norm,
einsum and boolean masks (imported at the end of tests/ops/spec.py).

References are plain NumPy (loops where NumPy has no such function), never graphcomp.
"""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from graphcomp.ops.cumulative import AffineScan, ExclusiveCumprod
from graphcomp.ops.indexing import BooleanMaskGrad
from graphcomp.ops.reduce import ExclusiveProd
from tests.ops.spec import AXES, SPECS, ints, normal, spec

_FIRST = len(SPECS)  # the rows from here on are this file's (OURS, at the end)


def near_one(rng, shape):
    """Magnitudes in [0.7, 1.4] with random signs: a product of 24 of them stays moderate."""
    return rng.uniform(0.7, 1.4, shape) * rng.choice([-1.0, 1.0], shape)


def one_and_two_zeros(rng, shape):
    """Rows of a (3, n) array: no zero, one zero, two zeros (the traps of prod's gradient)."""
    x = near_one(rng, shape)
    x[1, 1] = 0.0
    x[2, 0] = x[2, -1] = 0.0
    return x


def one_zero(rng, shape):
    x = near_one(rng, shape)
    x.flat[len(x.flat) // 2] = 0.0
    return x


def two_zeros(rng, shape):
    x = near_one(rng, shape)
    x.flat[0] = x.flat[-1] = 0.0
    return x


# -- var, std, prod: every axis and keepdims ------------------------------------------------------------

for name, fn, ref, dom in [
    ("var", gc.var, np.var, normal),
    ("std", gc.std, np.std, normal),
    ("prod", gc.prod, np.prod, near_one),
]:
    for axis in AXES:
        for keepdims in (False, True):
            spec(
                f"{name}-axis{axis}-keep{keepdims}",
                lambda x, fn=fn, axis=axis, keepdims=keepdims: fn(x, axis=axis, keepdims=keepdims),
                lambda x, ref=ref, axis=axis, keepdims=keepdims: ref(x, axis=axis, keepdims=keepdims),
                [(2, 3, 4)],
                dom,
                second=True,
            )
for name, fn, ref in [("var", gc.var, np.var), ("std", gc.std, np.std)]:
    for ddof in (1, 2, 0.5):
        spec(f"{name}-ddof{ddof}", lambda x, fn=fn, d=ddof: fn(x, axis=1, ddof=d),
             lambda x, ref=ref, d=ddof: ref(x, axis=1, ddof=d), [(2, 4)], second=True)  # fmt: skip
    spec(f"{name}-int", lambda x, fn=fn: fn(x, axis=0), lambda x, ref=ref: ref(x, axis=0), [(4, 2)], ints(5),
         dtypes=["int64"], grad=False)  # fmt: skip
spec("prod-int", lambda x: gc.prod(x, axis=0), lambda x: np.prod(x, axis=0), [(4, 2)], ints(5), dtypes=["int32"],
     grad=False)  # fmt: skip
# the traps: zeros, where prod / x would divide by zero; a polynomial, so differences are exact
spec("prod-zeros-rows", lambda x: gc.prod(x, axis=1), lambda x: np.prod(x, axis=1), [(3, 4)], one_and_two_zeros,
     second=True)  # fmt: skip
spec("prod-one-zero-all", gc.prod, np.prod, [(2, 3)], one_zero, second=True)
spec("prod-two-zeros-all", gc.prod, np.prod, [(2, 3)], two_zeros, second=True)
spec("prod-size-one-axis", lambda x: gc.prod(x, axis=(0, 2)), lambda x: np.prod(x, axis=(0, 2)), [(1, 3, 2)],
     near_one, second=True)  # fmt: skip

# -- argmax, argmin (ties: NumPy's first) ----------------------------------------------------------------------

for name, fn, ref in [("argmax", gc.argmax, np.argmax), ("argmin", gc.argmin, np.argmin)]:
    for axis in (None, 0, 1, -1):
        for keepdims in (False, True):
            spec(f"{name}-axis{axis}-keep{keepdims}",
                 lambda x, fn=fn, axis=axis, keepdims=keepdims: fn(x, axis=axis, keepdims=keepdims),
                 lambda x, ref=ref, axis=axis, keepdims=keepdims: ref(x, axis=axis, keepdims=keepdims),
                 [(3, 4)], ints(3), grad=False)  # fmt: skip
    spec(f"{name}-int", fn, ref, [(5,)], ints(3), dtypes=["int64"], grad=False)
    spec(f"{name}-scalar", fn, ref, [()], grad=False)

# -- cumsum and the scans of prod's gradient -------------------------------------------------------------------


def _exclusive_cumprod_loop(x, axis, reverse):
    x = np.moveaxis(x, axis, -1)
    out = np.ones_like(x)
    n = x.shape[-1]
    for k in range(n):
        for j in range(k + 1, n) if reverse else range(k):
            out[..., k] *= x[..., j]
    return np.moveaxis(out, -1, axis)


def _affine_scan_loop(a, b, axis, reverse):
    a, b = (np.moveaxis(v, axis, -1) for v in np.broadcast_arrays(a, b))
    out = np.zeros(a.shape)
    n = out.shape[-1]
    steps = range(n - 2, -1, -1) if reverse else range(1, n)
    for k in steps:
        i = k + 1 if reverse else k - 1  # s_k = a_i s_i + b_i, i the neighbour already done
        out[..., k] = a[..., i] * out[..., i] + b[..., i]
    return np.moveaxis(out, -1, axis)


for axis in (None, 0, 1, -1):
    spec(f"cumsum-axis{axis}", lambda x, axis=axis: gc.cumsum(x, axis=axis), lambda x, axis=axis: np.cumsum(x, axis),
         [(2, 3, 4)], second=True)  # fmt: skip
spec("cumsum-1d", gc.cumsum, np.cumsum, [(5,)], second=True)
spec("cumsum-scalar", gc.cumsum, np.cumsum, [()], second=True)
spec("cumsum-int", lambda x: gc.cumsum(x, axis=0), lambda x: np.cumsum(x, 0), [(4,)], ints(5), dtypes=["int32"],
     grad=False)  # fmt: skip
for axis in (0, 1):
    for reverse in (False, True):
        spec(f"exclusive_cumprod-axis{axis}-rev{reverse}", lambda x, a=axis, r=reverse: ExclusiveCumprod(a, r)(x),
             lambda x, a=axis, r=reverse: _exclusive_cumprod_loop(x, a, r), [(3, 5)], near_one,
             second=True)  # fmt: skip
        spec(f"affine_scan-axis{axis}-rev{reverse}", lambda a, b, ax=axis, r=reverse: AffineScan(ax, r)(a, b),
             lambda a, b, ax=axis, r=reverse: _affine_scan_loop(a, b, ax, r), [(3, 5), (3, 5)], near_one,
             second=True)  # fmt: skip
spec("affine_scan-broadcast", lambda a, b: AffineScan(1)(a, b), lambda a, b: _affine_scan_loop(a, b, 1, False),
     [(3, 6), (6,)], near_one, second=True)  # fmt: skip
spec("exclusive_cumprod-zeros", lambda x: ExclusiveCumprod(1)(x), lambda x: _exclusive_cumprod_loop(x, 1, False),
     [(3, 4)], one_and_two_zeros, second=True)  # fmt: skip


def _others_loop(x, axes):
    """For each entry, the product of the other entries of its slice over axes: a Python loop."""
    moved = np.moveaxis(x, axes, range(-len(axes), 0))
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    out = np.ones_like(flat)
    for k in range(flat.shape[-1]):
        for j in range(flat.shape[-1]):
            if j != k:
                out[..., k] *= flat[..., j]
    return np.moveaxis(out.reshape(moved.shape), range(-len(axes), 0), axes)


for axes in ((1,), (0, 2), (0, 1, 2)):
    spec(f"exclusive_prod-axes{axes}", lambda x, a=axes: ExclusiveProd(a)(x), lambda x, a=axes: _others_loop(x, a),
         [(2, 3, 4)], near_one, second=True)  # fmt: skip
spec("exclusive_prod-zeros", lambda x: ExclusiveProd((1,))(x), lambda x: _others_loop(x, (1,)), [(3, 4)],
     one_and_two_zeros, second=True)  # fmt: skip

# -- norm ---------------------------------------------------------------------------------------------------


def _norm(x, axis, keepdims):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


for axis in (None, 0, -1, (0, 2), (0, 1, 2)):
    for keepdims in (False, True):
        spec(f"norm-axis{axis}-keep{keepdims}",
             lambda x, axis=axis, keepdims=keepdims: gc.norm(x, axis=axis, keepdims=keepdims),
             lambda x, axis=axis, keepdims=keepdims: _norm(x, axis, keepdims), [(2, 3, 4)], second=True)  # fmt: skip
for axis in (None, 1, (0, 1)):  # NumPy's own norm takes at most two axes
    spec(f"norm-numpy-axis{axis}", lambda x, axis=axis: gc.norm(x, axis=axis),
         lambda x, axis=axis: np.linalg.norm(x, axis=axis), [(3, 4)], second=True)  # fmt: skip
spec("norm-scalar", gc.norm, np.linalg.norm, [()], second=True)
spec("norm-int", gc.norm, np.linalg.norm, [(3,)], ints(4), dtypes=["int64"], grad=False)

# -- einsum ---------------------------------------------------------------------------------------------------

EINSUMS = [
    ("matmul", "ij,jk->ik", [(2, 3), (3, 4)]),
    ("implicit-matmul", "ij,jk", [(2, 3), (3, 4)]),
    ("diagonal", "ii->i", [(3, 3)]),
    ("trace", "ii", [(3, 3)]),
    ("sum-all", "ij->", [(2, 3)]),
    ("transpose", "ij->ji", [(2, 3)]),
    ("implicit-transpose", "ba", [(2, 3)]),
    ("implicit-case", "Ba", [(2, 3)]),
    ("dot", "i,i->", [(3,), (3,)]),
    ("outer", "i,j->ij", [(2,), (3,)]),
    ("batch-broadcast", "...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 4)]),
    ("batch-diagonal", "...ii->...i", [(2, 3, 3)]),
    ("ellipsis-middle", "i...i", [(3, 2, 3)]),
    ("ellipsis-only", "...", [(2, 3)]),
    ("ellipsis-implicit", "i...", [(2, 3)]),
    ("ellipsis-sum", "i...,...->...", [(2, 3), (4, 1)]),
    ("label-broadcast", "ij,ij->ij", [(1, 3), (2, 3)]),
    ("label-broadcast-summed", "ij,ij->i", [(2, 1), (2, 3)]),
    ("repeated-and-summed", "iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("repeated-apart", "iji->j", [(3, 2, 3)]),
    ("three-operands", "ijk,ikl,il->jl", [(2, 3, 4), (2, 4, 5), (2, 5)]),
    ("scalar-operand", ",i->i", [(), (3,)]),
    ("bilinear", "i,ij,j->", [(3,), (3, 4), (4,)]),
    ("spaces", " ij , jk -> ik ", [(2, 3), (3, 4)]),
]
for name, subscripts, shapes in EINSUMS:
    spec(f"einsum-{name}", lambda *xs, s=subscripts: gc.einsum(s, *xs), lambda *xs, s=subscripts: np.einsum(s, *xs),
         shapes, second=True)  # fmt: skip
spec("einsum-int", lambda a, b: gc.einsum("ij,j->i", a, b), lambda a, b: np.einsum("ij,j->i", a, b),
     [(2, 3), (3,)], ints(4), dtypes=["int64", "int64"], grad=False)  # fmt: skip
spec("einsum-mixed", lambda a, k: gc.einsum("ij,j->i", a, k), lambda a, k: np.einsum("ij,j->i", a, k),
     [(2, 3), (3,)], [normal, ints(4)], dtypes=["float64", "int64"], second=True)  # fmt: skip

# -- boolean masks ----------------------------------------------------------------------------------------------
# x[mask] has a length known only at run time; the rows follow it with sin(v) * v summed (a known
# shape, and a weight that differs per entry, so a gradient scattered to the wrong place shows)


def _select_cost(v):
    return gc.sum(gc.sin(v) * v)


def _select_cost_ref(v):
    return np.sum(np.sin(v) * v)


_MASK = np.array([[True, False, True, True], [False, False, False, True], [True, True, False, False]])
spec("boolean_mask", lambda x, m: _select_cost(x[m]), lambda x, m: _select_cost_ref(x[m]), [(3, 4), (3, 4)],
     [normal, ints(2)], dtypes=["float64", "bool"], second=True)  # fmt: skip
spec("boolean_mask-rows", lambda x, m: _select_cost(x[m]), lambda x, m: _select_cost_ref(x[m]), [(3, 4), (3,)],
     [normal, ints(2)], dtypes=["float64", "bool"], second=True)  # fmt: skip
spec("boolean_mask-array", lambda x: _select_cost(x[_MASK]), lambda x: _select_cost_ref(x[_MASK]), [(3, 4)],
     second=True)  # fmt: skip
spec("boolean_mask-all-false", lambda x: _select_cost(x[np.zeros((3, 4), bool)]), lambda x: np.float64(0.0),
     [(3, 4)], second=True)  # fmt: skip
spec("boolean_mask_grad", lambda g: BooleanMaskGrad((3, 4))(g, gc.constant(_MASK)),
     lambda g: _scatter_mask(g, _MASK), [(int(_MASK.sum()),)], second=True)  # fmt: skip


def _scatter_mask(g, mask):
    out = np.zeros(mask.shape)
    out[mask] = g
    return out


#: this file's rows
OURS = SPECS[_FIRST:]
