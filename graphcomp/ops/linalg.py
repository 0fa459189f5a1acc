"""Matrix products with NumPy's ``matmul`` semantics (1-D operands promoted,
leading axes broadcast as a stack). The gradients are the lectures'
dL/dx = (dL/dy) W^T and dL/dW = x^T (dL/dy): no Jacobian is ever built."""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.types import broadcast_shapes, fmt_shape, result_dtype
from graphcomp.errors import ShapeError
from graphcomp.ops.base import Op
from graphcomp.ops.shape import ExpandDims, Squeeze, Transpose, sum_to


def _swap_last(v):
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return Transpose(axes)(v)


@dataclasses.dataclass(frozen=True)
class MatMul(Op):
    name = "matmul"

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

    def forward(self, a, b):
        return np.matmul(a, b)

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
