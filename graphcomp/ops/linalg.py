"""Matrix products with NumPy's ``matmul`` semantics (1-D operands promoted,
leading axes broadcast as a stack). The gradients are the lectures'
dL/dx = (dL/dy) W^T and dL/dW = x^T (dL/dy): no Jacobian is ever built."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, fmt_shape, is_fully_known, result_dtype
from graphcomp.errors import ShapeError
from graphcomp.ops.base import Op, Operand, operands, size_of_shape
from graphcomp.ops.binary import multiply
from graphcomp.ops.shape import ExpandDims, Squeeze, Transpose, reshape, sum_to, transpose

__all__ = ["matmul", "dot"]


def _swap_last(v):
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return Transpose(axes)(v)


@dataclasses.dataclass(frozen=True)
class MatMul(Op):
    """``np.matmul``: a ufunc, so the generated code calls it directly."""

    name, fn, symbol = "matmul", np.matmul, "@"

    def infer(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: operands must have at least one dimension, got {fmt_shape(a.shape)} and {fmt_shape(b.shape)}"
            )
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka is not None and kb is not None and ka != kb:
            raise ShapeError(
                f"matmul: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned ({ka} != {kb})"
            )
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op=self.name)
        rows = a.shape[-2:-1] if a.ndim >= 2 else ()
        cols = b.shape[-1:] if b.ndim >= 2 else ()
        return batch + rows + cols, result_dtype(np.matmul, a.dtype, b.dtype)

    def bprop(self, inputs, output, G):
        a, b = inputs
        # Promote 1-D operands to matrices as NumPy does, then use the 2-D rules.
        a2 = ExpandDims((0,))(a) if a.ndim == 1 else a
        b2 = ExpandDims((1,))(b) if b.ndim == 1 else b
        G2 = G
        if a.ndim == 1:  # the row axis NumPy dropped sits before the column axis, if any
            G2 = ExpandDims((-2 if b.ndim >= 2 else -1,))(G2)
        if b.ndim == 1:
            G2 = ExpandDims((-1,))(G2)
        da = MatMul()(G2, _swap_last(b2))
        db = MatMul()(_swap_last(a2), G2)
        if max(a.ndim, b.ndim) > 2:  # batch axes may have been broadcast: sum them back
            da, db = sum_to(da, a2), sum_to(db, b2)
        # else da is (m, k) and db (k, n) already, even where m or n is unknown
        da = Squeeze((0,))(da) if a.ndim == 1 else da
        db = Squeeze((1,))(db) if b.ndim == 1 else db
        return [da, db]

    def expression(self, v, args):
        return f"{args[0]} @ {args[1]}"

    def flops(self, v, shape_of):
        k = shape_of(v.owner.inputs[0])[-1] or 1
        return 2 * k * size_of_shape(shape_of(v))


# -- builders ---------------------------------------------------------------------------


@user_errors
def matmul(a: Operand, b: Operand) -> Variable:
    """Matrix product with ``np.matmul``'s semantics (also ``a @ b``).

    Example:
        >>> import graphcomp as gc
        >>> (gc.Variable("a", (3, 4)) @ gc.Variable("b", (4, 5))).shape
        (3, 5)
    """
    a, b = operands(a, b)
    return MatMul()(a, b)


@user_errors
def dot(a: Operand, b: Operand) -> Variable:
    """``np.dot``: a scalar operand multiplies; otherwise the last axis of ``a`` is
    summed against the only axis of a 1-D ``b``, or against the second-to-last
    axis of ``b``, giving ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``.

    For stacks of matrices ``matmul`` is usually what is meant: ``dot`` pairs
    every leading index of ``a`` with every leading index of ``b``.

    Example:
        >>> import graphcomp as gc
        >>> gc.dot(gc.Variable("u", (3,)), gc.Variable("v", (3,))).shape
        ()
        >>> gc.dot(gc.Variable("a", (2, 3, 4)), gc.Variable("b", (5, 4, 6))).shape
        (2, 3, 5, 6)
    """
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2 or a.ndim == 1:
        return MatMul()(a, b)  # no stack in b, or a 1-D a: matmul pairs the indices as dot does
    return _dot_nd(a, b)


def _dot_nd(a: Variable, b: Variable) -> Variable:
    """np.dot of two operands of 2+ dimensions, one of them 3+: b's summed axis moved
    first, both flattened to matrices, one matmul, then the result's shape (so the
    gradient is matmul's, through a reshape and a transpose)."""
    n, m = b.shape[-2], b.shape[-1]
    if a.shape[-1] is not None and n is not None and a.shape[-1] != n:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned ({a.shape[-1]} != {n})"
        )
    lead_a, lead_b = a.shape[:-1], b.shape[:-2]
    n = a.shape[-1] if n is None else n
    if n is None or not is_fully_known(lead_b + (m,)) or lead_a.count(None) > 1:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)}: a stack in b needs b's shape and "
            "the summed axis known, and at most one unknown dimension in a; use gc.matmul or reshape first"
        )
    k = b.ndim
    moved = transpose(b, (k - 2, *range(k - 2), k - 1))  # (n, *lead_b, m)
    flat = MatMul()(reshape(a, (-1, n)), reshape(moved, (n, math.prod(lead_b) * m)))
    return reshape(flat, tuple(-1 if d is None else d for d in lead_a + lead_b + (m,)))
