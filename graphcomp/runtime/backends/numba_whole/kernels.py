"""The BLAS matrix product the whole-function code writes into each function.

``gemm`` is a Numba intrinsic (``cache.py`` marks it by ``graphcomp_intrinsic``):
a call of BLAS's ``xgemm`` (Numba's own wrapper, ``numba_xxgemm``, which SciPy's
BLAS serves) written straight into the caller, the transposition of each operand
read from its layout (a ``.T`` view is an F-ordered array, multiplied without a
copy), so it is cached with the caller's machine code. ``np.dot`` of two
matrices makes the same call, but Numba compiles a function of its own for
every combination of the operands' layouts and read-only flags (five in W2's
gradient, about 0.5 s each the first time); the intrinsic is a few dozen LLVM
instructions per product.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gemm"]


def gemm(typingctx, a, b, out):
    """The typing of ``gemm(a, b, out)``, the matrix product ``a @ b`` written into ``out``,
    and its code: a Numba intrinsic (``numba.extending.intrinsic(gemm)``; ``cache.py``
    makes it one). ``a`` (m, k), ``b`` (k, n) and ``out`` (m, n, C-ordered) are float32
    or float64 arrays of one dtype; the caller checks that the inner sizes agree.
    Operands in C or F order go to BLAS as they are; others (strided views) are
    copied first, as ``np.dot`` does. An empty product (m, n or k zero) writes
    zeros without calling BLAS (which refuses a leading dimension of 0).

    Example:
        >>> import numba
        >>> product = numba.extending.intrinsic(gemm)
        >>> @numba.njit
        ... def f(a, b):
        ...     out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        ...     product(a, b.T, out)
        ...     return out
        >>> f(np.eye(2), np.arange(4.0).reshape(2, 2)).tolist()
        [[0.0, 2.0], [1.0, 3.0]]
    """
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.np import linalg

    arrays = (a, b, out)
    if not all(isinstance(x, types.Array) and x.ndim == 2 for x in arrays) or out.layout != "C":
        return None
    if not (a.dtype == b.dtype == out.dtype) or a.dtype not in (types.float32, types.float64):
        return None
    linalg.ensure_blas()

    def copied(context, builder, ty, value):
        """A C-ordered copy of a strided array (its type, its value)."""
        contiguous = ty.copy(layout="C")
        sig = contiguous(ty)
        return contiguous, context.compile_internal(builder, lambda x: np.ascontiguousarray(x), sig, (value,))

    def codegen(context, builder, sig, args):
        (ta, tb, to), (va, vb, vo) = sig.args, args
        copies = []
        if ta.layout not in "CF":
            ta, va = copied(context, builder, ta, va)
            copies.append((ta, va))
        if tb.layout not in "CF":
            tb, vb = copied(context, builder, tb, vb)
            copies.append((tb, vb))
        xa, xb, xo = (context.make_array(t)(context, builder, v) for t, v in ((ta, va), (tb, vb), (to, vo)))
        sa = cgutils.unpack_tuple(builder, xa.shape, 2)
        sb = cgutils.unpack_tuple(builder, xb.shape, 2)
        so = cgutils.unpack_tuple(builder, xo.shape, 2)
        zero = ir.Constant(sa[0].type, 0)
        sizes = (sa[0], sb[1], sa[1])  # m, n, k
        nonempty = cgutils.true_bit
        for s in sizes:
            nonempty = builder.and_(nonempty, builder.icmp_signed(">", s, zero))
        with builder.if_else(nonempty, likely=True) as (then, otherwise):
            with then:
                linalg.call_xxgemm(context, builder, ta, sa, xa.data, tb, sb, xb.data, to, so, xo.data)
            with otherwise:
                itemsize = ir.Constant(zero.type, context.get_abi_sizeof(context.get_data_type(to.dtype)))
                cgutils.memset(builder, xo.data, builder.mul(builder.mul(so[0], so[1]), itemsize), 0)
        for ty, value in copies:
            context.nrt.decref(builder, ty, value)
        return context.get_dummy_value()

    return types.none(a, b, out), codegen


gemm.graphcomp_intrinsic = True
