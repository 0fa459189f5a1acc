"""Unary elementwise ops. Each: its NumPy function, its scalar and SymPy forms,
and its derivative written with graph ops so it can be differentiated again.

Derivatives keep their digits: each is accurate to a few ulps (relative) wherever
it is a normal number of the dtype, tails included. Where the textbook form loses
them (``1 - tanh(x)**2`` is 0 from |x| ~ 19, ``s * (1 - s)`` once s rounds to 1),
the derivative is an op of its own computed from x (``tanh_grad``,
``sigmoid_grad``: one node each, differentiable again, which the stabilize pass
can also recognise).

Conventions at non-differentiable points: relu'(0) = 0, abs'(0) = sign(0) = 0.
``floor``, ``ceil``, ``round`` and ``sign`` are piecewise constant: their gradient
is 0 everywhere (at the jumps too), as in JAX and PyTorch, not "no gradient":
a cost that also depends on x through them differentiates as usual.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.errors import ArgumentError, DTypeError
from graphcomp.ops.base import Op, Operand
from graphcomp.ops.creation import zeros_like
from graphcomp.ops.identity import Cast
from graphcomp.ops.select import maximum_scalar, where
from graphcomp.ops.shape import sum_to

__all__ = [
    "negative", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "square", "log1p", "expm1",
    "sigmoid", "softplus", "abs", "relu", "sign", "erf", "log_sigmoid", "floor", "ceil", "round",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Unary(Op):
    """An elementwise op of one input: ``fn`` forward, ``grad`` its derivative."""

    elementwise = True

    def infer(self, x):
        return x.shape, result_dtype(type(self).fn, x.dtype)

    def forward(self, x):
        return type(self).fn(x)

    def bprop(self, inputs, output, G):
        return [self.grad(inputs[0], output, G)]

    def grad(self, x, y, G):
        """dcost/dx given y = f(x) and G = dcost/dy."""
        raise NotImplementedError


# -- numerics shared by the NumPy and scalar forms -----------------------------------------------------


def _exp_minus_abs(x):
    """exp(-|x|), in (0, 1]: never overflows; a fresh array when x is a float array."""
    e = np.abs(x)
    if type(e) is np.ndarray and e.dtype.kind == "f":  # abs's fresh array: the next steps write into it
        np.negative(e, out=e)
        return np.exp(e, out=e)
    return np.exp(-e)


def _sigmoid(x):
    # 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|) <= 1: never
    # overflows, and each step rounds once, so the result is within 2-3 ulps (relative)
    # down to the smallest normal numbers (exp(-log1p(exp(-x))) lost up to 31 ulps)
    e = _exp_minus_abs(x)
    return np.where(x >= 0, 1, e) / (1 + e)


def _sigmoid_grad(x, g):
    # sigmoid'(x) = sigmoid(x) sigmoid(-x) = e / (1 + e)**2 with e = exp(-|x|) (even in x):
    # four roundings, never 0 * inf, and no 1 - s that rounds to 0 once s rounds to 1
    e = _exp_minus_abs(x)
    d = 1 + e
    d *= d
    e /= d
    return _into(e, np.multiply, e, g)


#: per float dtype, an |x| beyond which cosh(x) would overflow (the log of its largest number)
_COSH_LIMIT: dict = {}


def _cosh_limit(dtype: np.dtype) -> float:
    limit = _COSH_LIMIT.get(dtype)
    if limit is None:
        # one below log(max): cosh stays a step away from overflow in every libm (Numba's
        # can flag it at log(max) itself), and (1/cosh)**2 is 0 there in every dtype anyway
        limit = _COSH_LIMIT[dtype] = float(np.log(np.finfo(dtype if dtype.kind == "f" else np.float64).max)) - 1.0
    return limit


def _tanh_grad(x, g):
    # g * (1 / cosh(x))**2 = g * (1 - tanh(x)**2), without the 1 - tanh**2 that is 0 once
    # tanh rounds to +-1 (|x| > 19 in float64). |x| is capped below cosh's overflow (the
    # result is no longer a normal number there): no warning, and (1/c)**2 underflows
    # quietly to 0. The steps and their order are TanhGrad.expression's, so compile and
    # evaluate agree to the bit.
    c = np.abs(x)
    limit = _cosh_limit(c.dtype)
    if type(c) is not np.ndarray or c.dtype.kind != "f":  # a 0-d value or an int: no buffer to reuse
        r = np.reciprocal(np.cosh(np.minimum(c, limit)))
        return np.multiply(g, np.square(r))
    np.minimum(c, limit, out=c)  # c is abs's fresh array: every step writes into it
    np.cosh(c, out=c)
    np.reciprocal(c, out=c)
    np.square(c, out=c)
    return _into(c, np.multiply, g, c)


def _into(fresh, ufunc, a, b):
    """``ufunc(a, b)``, written into ``fresh`` (a temporary array) when it can hold the result."""
    shape = fresh.shape if type(fresh) is np.ndarray else None
    if np.shape(a) == shape and np.shape(b) == shape and np.result_type(a, b) == fresh.dtype:
        return ufunc(a, b, out=fresh)
    return ufunc(a, b)


def _softplus(x):
    return _logaddexp0(x)


def _logaddexp0(x):
    # np.logaddexp raises the invalid flag for a NaN operand (it compares it), which no other
    # ufunc does for a NaN passing through: NaN in, NaN out, quietly, as in NumPy's exp or
    # maximum and the Numba kernels; for (0, x) with x not NaN it raises no invalid flag at all
    with np.errstate(invalid="ignore"):
        return np.logaddexp(0, x)


def _relu(x):
    return np.maximum(x, 0)


def sigmoid_scalar(x: float) -> float:
    """The logistic function of one float, without overflow for either sign.

    Example:
        >>> sigmoid_scalar(0.0), sigmoid_scalar(-1000.0)
        (0.5, 0.0)
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # never overflows for x < 0
    return e / (1.0 + e)


def sigmoid_grad_scalar(x: float, g: float) -> float:
    """g * sigmoid'(x) of floats, rounded as ``sigmoid_grad``'s NumPy form.

    Example:
        >>> sigmoid_grad_scalar(0.0, 1.0), sigmoid_grad_scalar(-1000.0, 1.0)
        (0.25, 0.0)
    """
    e = math.exp(-math.fabs(x))
    d = 1.0 + e
    return e / (d * d) * g


def tanh_grad_scalar(x: float, g: float) -> float:
    """g * (1 / cosh(x))**2 of floats, as ``tanh_grad``'s NumPy form (|x| capped below overflow).

    Example:
        >>> tanh_grad_scalar(0.0, 2.0), tanh_grad_scalar(1000.0, 1.0)
        (2.0, 0.0)
    """
    r = 1.0 / math.cosh(min(math.fabs(x), 708.782712893384))  # one below the log of float64's largest number
    return g * (r * r)


def softplus_scalar(x: float) -> float:
    """log(1 + exp(x)) of one float, without overflow.

    Example:
        >>> softplus_scalar(1000.0)
        1000.0
    """
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-math.fabs(x)))  # the module's abs is gc.abs


def sign_scalar(x: float) -> float:
    """-1, 0 or 1 for one float; sign(0) = 0 and sign(nan) = nan, as np.sign.

    Example:
        >>> sign_scalar(-3.0), sign_scalar(0.0)
        (-1.0, 0.0)
    """
    return 1.0 if x > 0 else (-1.0 if x < 0 else x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_EXACT = 4503599627370496.0  # 2**52: every float this large is an integer already


#: Veltkamp's splitter 2**ceil(p/2) + 1 per float dtype (p = 53, 24, 11 digits)
_SPLITTER = {np.dtype(np.float64): 134217729.0, np.dtype(np.float32): 4097.0, np.dtype(np.float16): 65.0}


def _exp_minus_square(x):
    """exp(-x**2) to a few ulps: x**2 = hi + lo exactly (Dekker's product by Veltkamp's
    split, Dekker 1971), then exp(-hi) * (1 - lo). Plain exp(-x*x) loses x**2 * 2**-53 of
    its relative accuracy (600 ulps at x = 25). |x| is capped where exp(-x**2) is 0
    anyway, so that the split cannot overflow."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    splitter = x.dtype.type(_SPLITTER.get(x.dtype, 134217729.0))
    a = np.minimum(np.abs(x), x.dtype.type(np.sqrt(-np.log(np.finfo(x.dtype).smallest_subnormal)) + 1))
    hi = a * a
    c = splitter * a
    ah = c - (c - a)
    al = a - ah
    lo = ((ah * ah - hi) + 2 * ah * al) + al * al
    return np.exp(-hi) * (1 - lo)


def _erf_grad(x, g):
    # in float64 for narrower floats, then cast once: exp(-x**2) is subnormal in float32
    # from |x| ~ 9.4 while g * exp(-x**2) (the derivative's own derivative) is still normal
    dtype = np.result_type(result_dtype(np.exp, np.asarray(x).dtype), g)
    wide = np.asarray(x, dtype=np.float64) if dtype.itemsize < 8 else x
    out = np.multiply(g, _TWO_OVER_SQRT_PI * _exp_minus_square(wide), dtype=np.float64 if dtype.itemsize < 8 else None)
    return out.astype(dtype, copy=False)


def erf_grad_scalar(x: float, g: float) -> float:
    """g * 2/sqrt(pi) * exp(-x**2) of floats, with x**2 split exactly as ``erf_grad``'s NumPy form.

    Example:
        >>> erf_grad_scalar(0.0, 1.0) == 2 / math.sqrt(math.pi), erf_grad_scalar(30.0, 1.0)
        (True, 0.0)
    """
    a = min(math.fabs(x), 28.0)  # exp(-28**2) is 0 in float64
    hi = a * a
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    lo = ((ah * ah - hi) + 2 * ah * al) + al * al
    return g * (_TWO_OVER_SQRT_PI * (math.exp(-hi) * (1 - lo)))


def _erf(x):
    # NumPy has no erf ufunc: C's erf (math.erf, within an ulp) on each element, in the
    # dtype a NumPy ufunc such as np.sin gives (float32 stays float32, integers give float64)
    x = np.asarray(x)
    values = np.fromiter(map(math.erf, x.ravel().tolist()), np.float64, count=x.size).reshape(x.shape)
    return values.astype(result_dtype(np.sin, x.dtype), copy=False)


def _log_sigmoid(x):
    # -softplus(-x): logaddexp never overflows, so the value is finite for every finite x
    return np.negative(_logaddexp0(np.negative(x)))


def floor_scalar(x: float) -> float:
    """``np.floor`` of one float: -0.0, inf and nan kept (``math.floor`` returns an int,
    which loses -0.0, raises on inf and overflows Numba's int64).

    Example:
        >>> floor_scalar(-0.5), floor_scalar(-0.0), floor_scalar(float("inf"))
        (-1.0, -0.0, inf)
    """
    if not math.fabs(x) < _EXACT:  # an integer already, or inf or nan
        return x
    return math.copysign(float(math.floor(x)), x)  # the result has x's sign, -0.0 included


def ceil_scalar(x: float) -> float:
    """``np.ceil`` of one float, as ``floor_scalar``.

    Example:
        >>> ceil_scalar(-0.5), ceil_scalar(0.5)
        (-0.0, 1.0)
    """
    if not math.fabs(x) < _EXACT:
        return x
    return math.copysign(float(math.ceil(x)), x)


def round_scalar(x: float) -> float:
    """``np.round`` of one float: to the nearest integer, halves to the even one (IEEE 754's
    roundTiesToEven, as ``np.rint``), -0.0, inf and nan kept.

    Example:
        >>> round_scalar(0.5), round_scalar(1.5), round_scalar(-2.5), round_scalar(-0.4)
        (0.0, 2.0, -2.0, -0.0)
    """
    if not math.fabs(x) < _EXACT:
        return x
    f = float(math.floor(x))
    d = x - f  # exact: a float below 2**52 minus its floor is a float
    if d > 0.5 or (d == 0.5 and 0.5 * f != float(math.floor(0.5 * f))):  # past half, or a half above an odd f
        f += 1.0
    return math.copysign(f, x)


@functools.cache
def sympy_round(sp):
    """SymPy's form of ``round``: SymPy has no round-half-to-even function, so this one
    is made on first use (graphcomp imports SymPy only for closed forms). It prints as
    ``round(x)``, rounds numbers as NumPy does, and its derivative is 0.

    Example:
        >>> import sympy
        >>> r = sympy_round(sympy)
        >>> r(sympy.Rational(5, 2)), r(sympy.Symbol("t")).diff(sympy.Symbol("t"))
        (2, 0)
    """

    def eval(cls, x):  # noqa: A001 - SymPy's name for a function's evaluation rule
        if x.is_Rational or x.is_Float:
            f = sp.floor(x)
            d = x - f
            return f + 1 if d > sp.S.Half or (d == sp.S.Half and f % 2 == 1) else f
        return None

    def fdiff(self, argindex=1):
        return sp.S.Zero

    return type("round", (sp.Function,), {"eval": classmethod(eval), "fdiff": fdiff})


# -- simple ----------------------------------------------------------------------------------------------


class Negative(Unary):
    linear = "all"
    name, fn, symbol = "negative", np.negative, "neg"
    scalar_form, infix = "-{0}", ("-", 6, "prefix")

    def grad(self, x, y, G):
        return -G

    def sympy(self, sp, v, args):
        return -args[0]


class Exp(Unary):
    name, fn, sympy_function = "exp", np.exp, "exp"
    scalar_form, transcendental = "_exp({0})", True
    scalar_helpers = {"_exp": math.exp}

    def grad(self, x, y, G):
        return G * y


class Log(Unary):
    name, fn, sympy_function = "log", np.log, "log"
    stable_hint = (
        "For the log of a probability p = sigmoid(z): log_sigmoid(z) = -softplus(-z), and log(1 - p) = -softplus(z); "
        "as a loss, gc.nn.binary_cross_entropy_with_logits(z, y); for log(softmax(z)), gc.log_softmax(z)."
    )
    scalar_form, transcendental = "_log({0})", True
    scalar_helpers = {"_log": math.log}

    def grad(self, x, y, G):
        return G / x


class Sin(Unary):
    name, fn, sympy_function = "sin", np.sin, "sin"
    scalar_form, transcendental = "_sin({0})", True
    scalar_helpers = {"_sin": math.sin}

    def grad(self, x, y, G):
        return G * cos(x)


class Cos(Unary):
    name, fn, sympy_function = "cos", np.cos, "cos"
    scalar_form, transcendental = "_cos({0})", True
    scalar_helpers = {"_cos": math.cos}

    def grad(self, x, y, G):
        return -(G * sin(x))


class Tan(Unary):
    name, fn, sympy_function = "tan", np.tan, "tan"
    scalar_form, transcendental = "_tan({0})", True
    scalar_helpers = {"_tan": math.tan}

    def grad(self, x, y, G):
        return G * (1 + square(y))


class Tanh(Unary):
    name, fn, sympy_function = "tanh", np.tanh, "tanh"
    scalar_form, transcendental = "_tanh({0})", True
    scalar_helpers = {"_tanh": math.tanh}

    def grad(self, x, y, G):
        # sech(x)**2 from x: 1 - y**2 loses every digit once y rounds to +-1 (|x| > 19 in
        # float64, 9 in float32) while the true derivative is a normal number to |x| ~ 355
        return TanhGrad()(x, G)


class Sqrt(Unary):
    name, fn, sympy_function = "sqrt", np.sqrt, "sqrt"
    stable_hint = "sqrt's derivative 1/(2 sqrt(x)) is infinite at 0: sqrt(x + eps), or gc.norm for a length."
    scalar_form, scalar_helpers = "_sqrt({0})", {"_sqrt": math.sqrt}

    def grad(self, x, y, G):
        return G / (2 * y)


class Square(Unary):
    name, fn = "square", np.square
    scalar_form = "{0} * {0}"

    def grad(self, x, y, G):
        return G * (2 * x)

    def sympy(self, sp, v, args):
        return args[0] ** 2


class Log1p(Unary):
    name, fn = "log1p", np.log1p
    scalar_form, transcendental = "_log1p({0})", True
    scalar_helpers = {"_log1p": math.log1p}

    def grad(self, x, y, G):
        return G / (1 + x)

    def sympy(self, sp, v, args):
        return sp.log(1 + args[0])


class Expm1(Unary):
    name, fn = "expm1", np.expm1
    scalar_form, transcendental = "_expm1({0})", True
    scalar_helpers = {"_expm1": math.expm1}

    def grad(self, x, y, G):
        # exp(x), not y + 1: expm1(-40) + 1 is -1 + 1 = 0, while exp(-40) = 4.2e-18
        return G * exp(x)

    def sympy(self, sp, v, args):
        return sp.exp(args[0]) - 1


class Sigmoid(Unary):
    name, fn = "sigmoid", staticmethod(_sigmoid)
    scalar_form, scalar_helpers = "sigmoid_scalar({0})", {"sigmoid_scalar": sigmoid_scalar}
    slow_in_numpy, flops_per_element = True, 4  # several NumPy passes: worth a kernel even alone

    def grad(self, x, y, G):
        # sigmoid(x) * sigmoid(-x) from x: y * (1 - y) is 0 once y rounds to 1 (x > 37 in
        # float64, 17 in float32), the true value is not
        return SigmoidGrad()(x, G)

    def sympy(self, sp, v, args):
        return 1 / (1 + sp.exp(-args[0]))


class Softplus(Unary):
    name, fn = "softplus", staticmethod(_softplus)
    scalar_form, scalar_helpers = "softplus_scalar({0})", {"softplus_scalar": softplus_scalar}
    slow_in_numpy, flops_per_element = True, 4

    def grad(self, x, y, G):
        return G * sigmoid(x)

    def sympy(self, sp, v, args):
        return sp.log(1 + sp.exp(args[0]))


class Erf(Unary):
    """erf(x) = 2/sqrt(pi) * integral of exp(-t**2) from 0 to x; its derivative is
    2/sqrt(pi) * exp(-x**2) (Abramowitz & Stegun 7.1.1, 7.1.19)."""

    name, fn, sympy_function = "erf", staticmethod(_erf), "erf"
    scalar_form, scalar_helpers = "_erf({0})", {"_erf": math.erf}
    # libm's erf per element either way, but NumPy's is a Python loop, not a SIMD ufunc: so,
    # not ``transcendental`` (which keeps an op out of kernels), and worth a kernel even alone
    slow_in_numpy, flops_per_element = True, 4

    def infer(self, x):
        if x.dtype.kind not in "biuf":
            raise DTypeError(f"erf: needs a real input, got {x.label()} of dtype {x.dtype}")
        return super().infer(x)

    def grad(self, x, y, G):
        # one op of (x, G): exp(-x*x) as graph ops loses x**2 ulps to the rounding of x*x
        return ErfGrad()(x, G)


class LogSigmoid(Unary):
    """log(sigmoid(x)) = -softplus(-x), finite for every finite x. Its derivative sigmoid(-x)
    is built as exp(log_sigmoid(-x)), not 1 - sigmoid(x) (0 for x > 37): its own derivative
    is then -sigmoid(x) sigmoid(-x), each factor accurate in both tails, where sigmoid's
    y (1 - y) would lose the small one."""

    name, fn = "log_sigmoid", staticmethod(_log_sigmoid)
    scalar_form, scalar_helpers = "-softplus_scalar(-({0}))", {"softplus_scalar": softplus_scalar}
    slow_in_numpy, flops_per_element = True, 4

    def grad(self, x, y, G):
        # sigmoid(-x) from x (accurate in both tails), not exp(log_sigmoid(-x)), whose exp
        # multiplies the rounding of its argument by |x| (6 ulps at x = 35)
        return G * sigmoid(-x)

    def sympy(self, sp, v, args):
        return -sp.log(1 + sp.exp(-args[0]))


# -- derivatives that keep their digits: one op each -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UnaryGrad(Op):
    """``G * f'(x)``, the gradient through a unary op f as one elementwise op of
    ``(x, G)``, computed from x where the textbook form from f's value loses digits."""

    elementwise, helper = True, True

    def infer(self, x, G):
        return broadcast_shapes(x.shape, G.shape, op=self.name), np.result_type(result_dtype(np.exp, x.dtype), G.dtype)

    def forward(self, x, G):
        return type(self).fn(x, G)


class TanhGrad(UnaryGrad):
    """G * sech(x)**2 = G * (1 / cosh(x))**2: tanh's derivative, accurate to a few ulps
    wherever it is a normal number (1 - tanh(x)**2 is 0 from |x| ~ 19 in float64). Six
    NumPy calls written inline (|x|, a cap below overflow, cosh, reciprocal, square,
    the product): no Python function between them. One kernel under Numba."""

    name, fn, flops_per_element = "tanh_grad", staticmethod(_tanh_grad), 5
    scalar_form, scalar_helpers = "tanh_grad_scalar({0}, {1})", {"tanh_grad_scalar": tanh_grad_scalar}
    # six NumPy passes: a kernel even alone, fused with its neighbours (W3's backward step
    # is one kernel call instead of seven ufunc calls)
    slow_in_numpy = True
    numpy_helpers = {
        "_abs": np.abs, "_minimum": np.minimum, "_cosh": np.cosh, "_reciprocal": np.reciprocal,
        "_square": np.square, "_multiply": np.multiply,
    }  # fmt: skip

    def expression(self, v, args):
        x = v.owner.inputs[0]
        if x.dtype.kind != "f":
            return None  # an integer x: the forward's own promotion
        cosh = f"_cosh(_minimum(_abs({args[0]}), {_cosh_limit(x.dtype)!r}))"
        return f"_multiply({args[1]}, _square(_reciprocal({cosh})))"

    def bprop(self, inputs, output, H):
        # d/dx G sech(x)**2 = -2 G sech(x)**2 tanh(x); tanh(x) is the forward's own node
        x, G = inputs
        return [sum_to((H * output) * (-2.0 * tanh(x)), x), sum_to(TanhGrad()(x, H), G)]

    def sympy(self, sp, v, args):
        return args[1] * (1 - sp.tanh(args[0]) ** 2)  # as SymPy writes tanh's derivative


class ErfGrad(UnaryGrad):
    """G * 2/sqrt(pi) * exp(-x**2): erf's derivative (Abramowitz & Stegun 7.1.19), accurate
    to a few ulps wherever it is a normal number (exp(-x*x) as two graph ops loses the
    rounding of x*x times x**2: 600 ulps at x = 25)."""

    name, fn, flops_per_element = "erf_grad", staticmethod(_erf_grad), 12
    scalar_form, scalar_helpers = "erf_grad_scalar({0}, {1})", {"erf_grad_scalar": erf_grad_scalar}
    slow_in_numpy = True  # a dozen NumPy passes: worth a kernel even alone

    def bprop(self, inputs, output, H):
        # d/dx G c exp(-x**2) = -2 x G c exp(-x**2); d/dG is erf_grad(x, H)
        x, G = inputs
        # the x term as erf_grad of a larger G: the product H * output can be subnormal
        # where the derivative itself is a normal number
        return [sum_to(ErfGrad()(x, (H * G) * (-2.0 * x)), x), sum_to(ErfGrad()(x, H), G)]

    def sympy(self, sp, v, args):
        return args[1] * 2 / sp.sqrt(sp.pi) * sp.exp(-(args[0] ** 2))


class SigmoidGrad(UnaryGrad):
    """G * sigmoid(x) * sigmoid(-x) = G * e / (1 + e)**2 with e = exp(-|x|): sigmoid's
    derivative, accurate to a few ulps wherever it is a normal number (s * (1 - s) is 0
    once s rounds to 1: x > 37 in float64, 17 in float32)."""

    name, fn, flops_per_element = "sigmoid_grad", staticmethod(_sigmoid_grad), 7
    scalar_form, scalar_helpers = "sigmoid_grad_scalar({0}, {1})", {"sigmoid_grad_scalar": sigmoid_grad_scalar}
    slow_in_numpy = True  # seven NumPy passes: worth a kernel even alone

    def bprop(self, inputs, output, H):
        # d/dx G s'(x) = G s'(x) (1 - 2 s(x)) = -G s'(x) tanh(x / 2), exact in the tails too
        x, G = inputs
        return [sum_to(-((H * output) * tanh(0.5 * x)), x), sum_to(SigmoidGrad()(x, H), G)]

    def sympy(self, sp, v, args):
        e = sp.exp(-args[0])
        return args[1] * e / (1 + e) ** 2  # as SymPy writes sigmoid's derivative


# -- non-differentiable points ---------------------------------------------------------------------------


class Abs(Unary):
    """|x|; the derivative at 0 is sign(0) = 0."""

    name, fn, sympy_function = "abs", np.abs, "Abs"
    scalar_form = "abs({0})"

    def grad(self, x, y, G):
        return G * sign(x)


class Relu(Unary):
    """max(x, 0); relu'(0) = 0, so the gradient flows only where x > 0."""

    name, fn = "relu", staticmethod(_relu)
    scalar_form, scalar_helpers = "maximum_scalar({0}, 0.0)", {"maximum_scalar": maximum_scalar}
    slow_in_numpy = True  # NumPy's NaN-aware maximum loop

    def grad(self, x, y, G):
        return where(x > 0, G, 0)

    def sympy(self, sp, v, args):
        return sp.Max(args[0], 0)


class Sign(Unary):
    """sign(x): its derivative is 0 everywhere it exists, so abs'' = 0."""

    name, fn, sympy_function = "sign", np.sign, "sign"
    scalar_form, scalar_helpers = "sign_scalar({0})", {"sign_scalar": sign_scalar}

    def grad(self, x, y, G):
        return zeros_like(G)


class Rounding(Unary):
    """A piecewise-constant op: its gradient is 0 everywhere, at its jumps too (as JAX
    and PyTorch give), so a cost that also reaches x another way still differentiates."""

    def grad(self, x, y, G):
        return zeros_like(G)


class Floor(Rounding):
    """The largest integer <= x (``np.floor``); integers keep their dtype."""

    name, fn, sympy_function = "floor", np.floor, "floor"
    scalar_form, scalar_helpers = "floor_scalar({0})", {"floor_scalar": floor_scalar}


class Ceil(Rounding):
    """The smallest integer >= x (``np.ceil``); integers keep their dtype."""

    name, fn, sympy_function = "ceil", np.ceil, "ceiling"
    scalar_form, scalar_helpers = "ceil_scalar({0})", {"ceil_scalar": ceil_scalar}


class Round(Rounding):
    """The nearest integer, halves to even (``np.round``: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2)."""

    name, fn = "round", np.round
    scalar_form, scalar_helpers = "round_scalar({0})", {"round_scalar": round_scalar}

    def sympy(self, sp, v, args):
        return sympy_round(sp)(args[0])


# -- builders: one per op, the same but for their docstrings --------------------------------------------------


def _public(op_class: type[Unary], summary: str, example: str, result: str):
    """The public function applying ``op_class`` elementwise, with ``summary`` and a
    runnable example: ``example`` evaluates to ``result``."""
    op = op_class()

    def build(x: Operand) -> Variable:
        return op(x)

    build.__name__ = build.__qualname__ = op_class.name
    build.__doc__ = (
        f"{summary}\n\n    Example:\n        >>> import graphcomp as gc\n"
        f"        >>> float(gc.evaluate(gc.{op_class.name}(gc.constant({example})), {{}}))\n"
        f"        {result}\n    "
    )
    return build


negative = _public(Negative, "-x elementwise (also the unary ``-`` operator).", "2.0", "-2.0")
exp = _public(Exp, "e**x elementwise, ``np.exp``.", "0.0", "1.0")
log = _public(Log, "Natural logarithm elementwise, ``np.log`` (-inf at 0, nan below).", "1.0", "0.0")
sin = _public(Sin, "Sine elementwise (radians).", "0.0", "0.0")
cos = _public(Cos, "Cosine elementwise (radians).", "0.0", "1.0")
tan = _public(Tan, "Tangent elementwise (radians).", "0.0", "0.0")
tanh = _public(Tanh, "Hyperbolic tangent elementwise.", "0.0", "0.0")
sqrt = _public(Sqrt, "Square root elementwise.", "9.0", "3.0")
square = _public(Square, "x**2 elementwise.", "-3.0", "9.0")
log1p = _public(Log1p, "log(1 + x), accurate for small x (``np.log1p``).", "0.0", "0.0")
expm1 = _public(Expm1, "exp(x) - 1, accurate for small x (``np.expm1``).", "0.0", "0.0")
sigmoid = _public(Sigmoid, "1 / (1 + exp(-x)), computed without overflow for large |x|.", "0.0", "0.5")
softplus = _public(Softplus, "log(1 + exp(x)), computed without overflow.", "0.0", "0.6931471805599453")
abs = _public(Abs, "|x| elementwise; its derivative at 0 is taken as 0.", "-2.0", "2.0")  # noqa: A001
relu = _public(Relu, "max(x, 0) elementwise; relu'(0) = 0.", "-1.0", "0.0")
sign = _public(Sign, "-1, 0 or 1 elementwise (``np.sign``); its derivative is 0.", "-3.0", "-1.0")


def erf(x: Operand) -> Variable:
    """The error function elementwise: erf(x) = 2/sqrt(pi) * integral of exp(-t**2) from 0 to x
    (Abramowitz & Stegun 7.1.1); its derivative is 2/sqrt(pi) * exp(-x**2).

    Takes any shape; returns that shape, a float dtype kept and integers giving float64
    (as ``np.sin``). A complex input raises ``gc.DTypeError``. NumPy has no erf: each
    element goes through C's ``erf`` (``math.erf``, within an ulp): a Python loop in the
    NumPy backend (about 0.2 µs an element), one compiled loop in the Numba backend.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> y = gc.erf(x)
        >>> y.shape, y.dtype, gc.evaluate(y, {x: [0.0, 1.0]}).round(6).tolist()
        ((2,), dtype('float64'), [0.0, 0.842701])
    """
    return Erf()(x)


def log_sigmoid(x: Operand) -> Variable:
    """log(sigmoid(x)) = -softplus(-x) elementwise (PyTorch's ``logsigmoid``, JAX's
    ``log_sigmoid``), computed as ``-np.logaddexp(0, -x)``: finite for every finite x, in
    float32 too; its derivative sigmoid(-x) is finite and keeps its relative accuracy in
    both tails.

    Takes any shape; returns that shape and dtype (integers give float64).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,), "float32")
        >>> y = gc.log_sigmoid(x)
        >>> y.dtype, gc.evaluate(y, {x: [-1000.0, 0.0, 1000.0]}).tolist()
        (dtype('float32'), [-1000.0, -0.6931471824645996, -0.0])
        >>> gc.evaluate(gc.grad(y.sum(), x), {x: [-1000.0, 0.0, 1000.0]}).tolist()
        [1.0, 0.5, 0.0]
    """
    return LogSigmoid()(x)


def floor(x: Operand) -> Variable:
    """The largest integer <= x elementwise (``np.floor``: float dtypes stay float, integers
    keep their dtype); its gradient is 0 everywhere, as ``sign``'s (JAX's and PyTorch's
    convention), at the jumps too.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> gc.evaluate(gc.floor(x), {x: [-1.5, 0.5, 2.0]}).tolist()
        [-2.0, 0.0, 2.0]
        >>> gc.evaluate(gc.grad(gc.floor(x).sum(), x), {x: [-1.5, 0.5, 2.0]}).tolist()
        [0.0, 0.0, 0.0]
    """
    return Floor()(x)


def ceil(x: Operand) -> Variable:
    """The smallest integer >= x elementwise (``np.ceil``, dtypes as ``floor``); its
    gradient is 0 everywhere.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> gc.evaluate(gc.ceil(x), {x: [-1.5, 0.5, 2.0]}).tolist()
        [-1.0, 1.0, 2.0]
    """
    return Ceil()(x)


@user_errors
def round(x: Operand, decimals: int = 0) -> Variable:  # noqa: A001 - NumPy's name
    """The nearest integer elementwise, halves to the even one (``np.round``, IEEE 754's
    roundTiesToEven: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2; dtypes as ``floor``); its gradient is
    0 everywhere.

    ``decimals`` rounds to that many decimal places (negative: to tens, hundreds, ...),
    as ``np.round(x, decimals)`` computes it: round(x * 10**decimals) / 10**decimals
    (x / 10**-decimals, rounded, times 10**-decimals for a negative one), so
    ``round(2.675, 2)`` is 2.68 or 2.67 exactly as NumPy's is. Integer x is returned as
    it is for ``decimals >= 0`` and rounded in float64 then cast back for a negative
    one, as NumPy. ``decimals`` must be an int with ``|decimals| <= 308`` (10**decimals
    a finite float64; NumPy gives NaN beyond), else ``gc.ArgumentError``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (4,))
        >>> gc.evaluate(gc.round(x), {x: [0.5, 1.5, -2.5, 2.6]}).tolist()
        [0.0, 2.0, -2.0, 3.0]
        >>> gc.evaluate(gc.round(x, 1), {x: [0.25, 1.04, -2.55, 1250.0]}).tolist()
        [0.2, 1.0, -2.6, 1250.0]
    """
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, (int, np.integer)):
        raise ArgumentError(f"round: decimals must be an int, got {decimals!r}")
    decimals = int(decimals)
    if not -308 <= decimals <= 308:
        raise ArgumentError(f"round: |decimals| must be at most 308 (10**decimals a finite float), got {decimals}")
    x = x if isinstance(x, Variable) else constant(x)
    if decimals == 0:
        return Round()(x)
    if x.dtype.kind == "b":
        raise ArgumentError(
            f"round: a boolean {x.label()} cannot be rounded to decimals={decimals} (NumPy refuses it too)"
        )
    scale = _power_of_ten(-decimals if decimals < 0 else decimals)
    if x.dtype.kind in "iu":
        if decimals > 0:
            return x
        # NumPy rounds an integer to tens, hundreds, ... in float64 and casts back
        return Cast(x.dtype)(Round()(Cast(np.dtype("float64"))(x) / scale) * scale)
    if decimals > 0:
        return Round()(x * scale) / scale
    return Round()(x / scale) * scale


def _power_of_ten(n: int) -> float:
    """10**n as NumPy's ``np.round`` computes it (a table to 1e8, then repeated
    multiplication by 10, not correctly rounded beyond 1e22), so the results agree."""
    if n < 9:
        return 10.0**n
    out = 1e9
    for _ in range(n - 9):
        out *= 10.0
    return out
