"""Comparisons for the Numba backend's kernels that raise no floating-point flag on
NaN, so a kernel warns exactly where NumPy does.

An ordered comparison (``<``, ``>=``) of a NaN raises the IEEE invalid flag in
machine code: LLVM vectorises a kernel's loop with signalling compares
(``cmppd`` with ``LT_OS``) and evaluates both sides of a branch, and NumPy then
reports the flag as "invalid value encountered in kernel". NumPy's own
``maximum``, ``clip``, ``less`` and ``sign`` raise nothing for a NaN (they
test for it, or compare quietly), so the same graph warned under
``backend="numba"`` and not under NumPy. Sanitising the operand first (NaN ->
0) does not help: LLVM folds the comparison back through the select onto the
NaN.

So the kernels compare floats as integers: a float64's bits, ordered so that
integer order is float order (-0.0 equal to 0.0), with NaN tested on the bits
too. Integer instructions raise no floating-point flag, and LLVM does not turn
them back into float compares (they differ on NaN). Integers are compared as
integers, as NumPy does; a float against an integer in float64, as NumPy does.

``QUIET_FORMS`` gives the compare ops' kernel forms, ``QUIET_HELPERS`` the
scalar helpers of the ops whose forms compare (``maximum_scalar``,
``sign_scalar``, ``sigmoid_scalar``, ...), rewritten with these comparisons
and otherwise the same (sigmoid's exponent is -|x|, the same value, so the
branch not taken cannot overflow either; floor, ceil and round are NumPy's own
instructions, where the helpers convert to an int, which raises the invalid
flag for inf and NaN): the Python fast path keeps the
originals, where Python's float comparisons raise no flag. Built when the
Numba backend first compiles a kernel (Numba is optional).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from graphcomp.ops.compare import Greater, GreaterEqual, Less, LessEqual
from graphcomp.ops.elementwise import (
    ceil_scalar,
    erf_grad_scalar,
    floor_scalar,
    round_scalar,
    sigmoid_scalar,
    sign_scalar,
    softplus_scalar,
    tanh_grad_scalar,
)
from graphcomp.ops.select import maximum_scalar, minimum_scalar

__all__ = ["QUIET_FORMS", "quiet_helpers"]

#: the kernel forms of the compare ops: ``_lt`` and ``_le`` raise no flag on NaN
QUIET_FORMS = {
    Less: "_lt({0}, {1})",
    LessEqual: "_le({0}, {1})",
    Greater: "_lt({1}, {0})",
    GreaterEqual: "_le({1}, {0})",
}

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)  # as erf_grad_scalar's constant, bit for bit
_SIGN = -9223372036854775808  # -2**63: the bits of -0.0 as an int64


@functools.cache
def quiet_helpers() -> dict:
    """The names the quiet forms call (``_lt``, ``_le``), and each scalar helper whose
    code compares mapped to its quiet rewrite, all compiled by Numba (imports it).

    Example:
        >>> import pytest; _ = pytest.importorskip("numba")
        >>> import numpy as np, numba
        >>> helpers = quiet_helpers()
        >>> lt = helpers["_lt"]
        >>> k = numba.vectorize(["boolean(float64, float64)"])(lambda a, b: lt(a, b))
        >>> k(np.array([np.nan, 1.0, -0.0]), np.array([1.0, 2.0, 0.0])).tolist()
        [False, True, False]
    """
    import numba
    from numba.core import types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _bits(typingctx, x):
        # a float64's bits as an int64: an LLVM bitcast, no arithmetic, no flag
        if not (isinstance(x, types.Float) and x.bitwidth == 64):
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int64))

        return types.int64(x), codegen

    @numba.njit
    def _float_key(x):
        # integer order of the keys is float order, -0.0 and 0.0 one key, for non-NaN x
        b = _bits(np.float64(x))
        return b if b >= 0 else _SIGN - b

    @numba.njit
    def _float_nan(x):
        return (_bits(np.float64(x)) & 0x7FFFFFFFFFFFFFFF) > 0x7FF0000000000000

    def _is_number(t) -> bool:
        return isinstance(t, (types.Integer, types.Boolean))

    def _isnan(x):
        return x != x

    def _lt(a, b):
        return a < b

    def _le(a, b):
        return a <= b

    @overload(_isnan)
    def _isnan_typed(x):
        if _is_number(x):
            return lambda x: False
        return lambda x: _float_nan(x)

    @overload(_lt)
    def _lt_typed(a, b):
        if _is_number(a) and _is_number(b):
            return lambda a, b: a < b
        return lambda a, b: (not _float_nan(a)) and (not _float_nan(b)) and _float_key(a) < _float_key(b)

    @overload(_le)
    def _le_typed(a, b):
        if _is_number(a) and _is_number(b):
            return lambda a, b: a <= b
        return lambda a, b: (not _float_nan(a)) and (not _float_nan(b)) and _float_key(a) <= _float_key(b)

    # The helpers, as in graphcomp/ops/select.py and graphcomp/ops/elementwise.py, with their
    # comparisons written _lt/_le/_isnan
    def maximum_quiet(a, b):
        return a if (_le(b, a) or _isnan(a)) else b

    def minimum_quiet(a, b):
        return a if (_le(a, b) or _isnan(a)) else b

    def sign_quiet(x):
        return 1.0 if _lt(0.0, x) else (-1.0 if _lt(x, 0.0) else x)

    def sigmoid_quiet(x):
        # exp(-|x|) is exp(-x) where x >= 0 and exp(x) below: the original's two values, but
        # never overflowing in the branch not taken, which vector code computes too
        e = math.exp(-math.fabs(x))
        return 1.0 / (1.0 + e) if _le(0.0, x) else e / (1.0 + e)

    def softplus_quiet(x):
        return (x if _lt(0.0, x) else 0.0) + math.log1p(math.exp(-math.fabs(x)))

    # erf_grad caps |x| with Python's min(a, limit), which is a unless limit < a (so NaN
    # passes through): the same with _lt
    def tanh_grad_quiet(x, g):
        # sech(x) = 2e / (1 + e**2) with e = exp(-|x|): no cosh to cap, so no branch whose
        # untaken side overflows (Numba 0.68 computes cosh(|x|) for both sides of a cap)
        e = math.exp(-math.fabs(x))
        r = 2.0 * e / (1.0 + e * e)
        return g * (r * r)

    def erf_grad_quiet(x, g):
        a = math.fabs(x)
        a = 28.0 if _lt(28.0, a) else a
        hi = a * a
        c = 134217729.0 * a
        ah = c - (c - a)
        al = a - ah
        lo = ((ah * ah - hi) + 2 * ah * al) + al * al
        return g * (_TWO_OVER_SQRT_PI * (math.exp(-hi) * (1 - lo)))

    # floor, ceil and round as the float instructions NumPy's ufuncs use: the helpers' int
    # conversion (math.floor) raises the invalid flag for inf, NaN and |x| >= 2**63 where vector
    # code computes it for the branch not taken
    def floor_quiet(x):
        return np.floor(x)

    def ceil_quiet(x):
        return np.ceil(x)

    def round_quiet(x):
        return np.rint(x)

    jit = functools.partial(numba.njit, inline="always")
    return {
        "_lt": _lt,
        "_le": _le,
        maximum_scalar: jit(maximum_quiet),
        minimum_scalar: jit(minimum_quiet),
        sign_scalar: jit(sign_quiet),
        sigmoid_scalar: jit(sigmoid_quiet),
        softplus_scalar: jit(softplus_quiet),
        floor_scalar: jit(floor_quiet),
        ceil_scalar: jit(ceil_quiet),
        round_scalar: jit(round_quiet),
        tanh_grad_scalar: jit(tanh_grad_quiet),
        erf_grad_scalar: jit(erf_grad_quiet),
    }
