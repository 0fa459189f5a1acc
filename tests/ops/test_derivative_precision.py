"""Every elementwise op's derivative is accurate to a few ulps (relative) wherever the
true derivative is a normal number of the dtype, float64 and float32 (issue 14, item 5),
over ranges that include the tails: saturated sigmoid and tanh, expm1 far below 0,
arguments near the overflow and underflow limits.

Oracle: each derivative's closed form evaluated by mpmath at 60 digits at the very
float the op was given. The bound is 4 ulps in float64 and 6 in float32, whose NumPy
SIMD loops (exp, log) are themselves documented at up to ~4 ulps.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops import binary, elementwise
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.elementwise import ErfGrad, SigmoidGrad, TanhGrad

mp.mp.dps = 60
BOUND = {np.float64: 4.0, np.float32: 6.0}


def _lin(lo, hi):
    """Evenly spaced points from lo to hi, each a ``(float64 value, float32 value)`` pair."""
    return lambda d: np.unique(np.linspace(lo[d is np.float32], hi[d is np.float32], 301).astype(d))


def _sym(f64, f32):
    return _lin((-f64, -f32), (f64, f32))


def _geo(lo, hi):
    return lambda d: np.unique(np.geomspace(lo(d), hi(d), 301).astype(d))


def _tiny(d):
    return np.finfo(d).tiny


def _huge(d):
    return np.finfo(d).max / 4


C = float(np.float32(-7.4666667))  # the same number as a float32 and as a float64
WIDE = (745.0, 104.0)  # past where exp and the saturating ops underflow (float64, float32)
TOP = (709.0, 88.0)  # below where exp overflows


@dataclasses.dataclass
class Row:
    build: Callable  # (*Variables) -> Variable
    derivs: tuple  # per input: mpmath closed form of d out / d input, from the inputs
    domain: Callable  # dtype -> 1-D array of points (unary) or tuple of arrays (binary)


def _both(d, xs, ys):
    xx, yy = np.meshgrid(xs(d), ys(d))
    return xx.ravel(), yy.ravel()


def _log1p_points(d):
    near_minus_one = np.linspace(-0.999, 10, 301)
    return np.concatenate([near_minus_one, np.geomspace(1e-30, 1e30, 301), -np.geomspace(1e-30, 0.9999, 301)]).astype(d)


def _sigmoid_deriv(x):
    return mp.exp(-x) / (1 + mp.exp(-x)) ** 2


UNARY = {
    "negative": Row(gc.negative, (lambda x: -1,), _sym(1e300, 1e30)),
    "exp": Row(gc.exp, (mp.exp,), _lin((-WIDE[0], -WIDE[1]), TOP)),
    "log": Row(gc.log, (lambda x: 1 / x,), _geo(_tiny, _huge)),
    "sin": Row(gc.sin, (mp.cos,), _sym(100.0, 100.0)),
    "cos": Row(gc.cos, (lambda x: -mp.sin(x),), _sym(100.0, 100.0)),
    "tan": Row(gc.tan, (lambda x: mp.sec(x) ** 2,), _sym(1.5707, 1.5707)),
    "tanh": Row(gc.tanh, (lambda x: mp.sech(x) ** 2,), _sym(400.0, 60.0)),
    "sqrt": Row(gc.sqrt, (lambda x: 1 / (2 * mp.sqrt(x)),), _geo(_tiny, _huge)),
    "square": Row(gc.square, (lambda x: 2 * x,), _sym(1e150, 1e18)),
    "log1p": Row(gc.log1p, (lambda x: 1 / (1 + x),), _log1p_points),
    "expm1": Row(gc.expm1, (mp.exp,), _lin((-WIDE[0], -WIDE[1]), TOP)),
    "sigmoid": Row(gc.sigmoid, (_sigmoid_deriv,), _sym(*WIDE)),
    "softplus": Row(gc.softplus, (lambda x: 1 / (1 + mp.exp(-x)),), _sym(*WIDE)),
    "abs": Row(gc.abs, (mp.sign,), _sym(1e300, 1e30)),
    "relu": Row(gc.relu, (lambda x: 1 if x > 0 else 0,), _sym(1e300, 1e30)),
    "sign": Row(gc.sign, (lambda x: 0,), _sym(10.0, 10.0)),
    "floor": Row(gc.floor, (lambda x: 0,), _sym(10.0, 10.0)),
    "ceil": Row(gc.ceil, (lambda x: 0,), _sym(10.0, 10.0)),
    "round": Row(gc.round, (lambda x: 0,), _sym(10.0, 10.0)),
    # past |x| ~ 27 (float64) and ~ 9.5 (float32) the derivative is no longer a normal number
    "erf": Row(gc.erf, (lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-(x**2)),), _sym(27.0, 10.0)),
    "log_sigmoid": Row(gc.log_sigmoid, (lambda x: 1 / (1 + mp.exp(x)),), _sym(*WIDE)),
    # a constant exponent whose c - 1 rounds in float32 (not a registry name: power's second row)
    "power, constant exponent": Row(lambda x: x**C, (lambda x: C * x ** (C - 1),), _geo(lambda d: 1e-3, lambda d: 1e3)),
}

_POS = _geo(lambda d: np.finfo(d).tiny ** 0.25, lambda d: np.finfo(d).max ** 0.25)


def _signed(d):
    return np.concatenate([-_POS(d)[::10], _POS(d)[::10]])


def _pairs(d):
    return _both(d, _signed, _signed)


def _powers(d):
    return _both(d, _geo(lambda d: 1e-3, lambda d: 1e3), lambda d: np.linspace(-8, 8, 31).astype(d))


def _tie(x, y, wins):
    return 1 if wins else 0.5 if x == y else 0


BINARY = {
    "add": Row(lambda x, y: x + y, (lambda x, y: 1, lambda x, y: 1), _pairs),
    "subtract": Row(lambda x, y: x - y, (lambda x, y: 1, lambda x, y: -1), _pairs),
    "multiply": Row(lambda x, y: x * y, (lambda x, y: y, lambda x, y: x), _pairs),
    "divide": Row(lambda x, y: x / y, (lambda x, y: 1 / y, lambda x, y: -x / y**2), _pairs),
    "power": Row(lambda x, y: x**y, (lambda x, y: y * x ** (y - 1), lambda x, y: x**y * mp.log(x)), _powers),
    "maximum": Row(gc.maximum, (lambda x, y: _tie(x, y, x > y), lambda x, y: _tie(x, y, y > x)), _pairs),
    "arctan2": Row(gc.arctan2, (lambda y, x: x / (x**2 + y**2), lambda y, x: -y / (x**2 + y**2)), _pairs),
    "minimum": Row(gc.minimum, (lambda x, y: _tie(x, y, x < y), lambda x, y: _tie(x, y, y < x)), _pairs),
}
# the derivatives as ops of (x, G): their own derivatives, over the same tails, for a few G
_G = _lin((-2.5, -2.5), (1.75, 1.75))


def _grad_points(x_points):
    return lambda d: _both(d, x_points, lambda d: _G(d)[::60])


BINARY["tanh_grad"] = Row(
    lambda x, g: TanhGrad()(x, g),
    (lambda x, g: -2 * g * mp.sech(x) ** 2 * mp.tanh(x), lambda x, g: mp.sech(x) ** 2),
    _grad_points(_sym(400.0, 60.0)),
)
BINARY["erf_grad"] = Row(
    lambda x, g: ErfGrad()(x, g),
    (
        lambda x, g: -4 * x * g / mp.sqrt(mp.pi) * mp.exp(-(x**2)),
        lambda x, g: 2 / mp.sqrt(mp.pi) * mp.exp(-(x**2)),
    ),
    _grad_points(_sym(27.0, 10.0)),
)
BINARY["sigmoid_grad"] = Row(
    lambda x, g: SigmoidGrad()(x, g),
    (lambda x, g: -g * _sigmoid_deriv(x) * mp.tanh(x / 2), lambda x, g: _sigmoid_deriv(x)),
    _grad_points(_sym(*WIDE)),
)
# not elementwise functions of float inputs with a derivative of their own: comparisons carry
# no gradient, where and add_n pass G on unchanged (tests/ops/spec.py checks them)
NO_DERIVATIVE = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "where", "add_n"}


def _ulps(got: np.ndarray, want: list, dtype) -> np.ndarray:
    """|got - want| in units of the dtype's spacing at want, where want is a normal number."""
    info = np.finfo(dtype)
    out = np.zeros(len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        if not info.tiny <= abs(w) <= info.max:
            continue  # zero, subnormal or beyond the range: no relative accuracy is owed
        spacing = mp.mpf(float(np.spacing(dtype(abs(float(w))))))
        out[k] = float(abs(mp.mpf(float(g)) - w) / spacing)
    return out


def _worst(name: str, row: Row, dtype) -> list[str]:
    points = row.domain(dtype)
    points = points if isinstance(points, tuple) else (points,)
    inputs = [gc.Variable(f"x{k}", (None,), np.dtype(dtype).name) for k in range(len(points))]
    grads = gc.grad(gc.sum(row.build(*inputs)), inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in the forward values (x * y near the top) is meant
        runs = [
            ("evaluate", gc.evaluate(grads, dict(zip(inputs, points)))),
            ("compile", gc.compile(grads, inputs)(*points)),
        ]
    problems = []
    for k, deriv in enumerate(row.derivs):
        want = [deriv(*(mp.mpf(float(p[j])) for p in points)) for j in range(len(points[0]))]
        for how, got in runs:
            u = _ulps(np.asarray(got[k], dtype=np.float64), want, dtype)
            if u.max() > BOUND[dtype]:
                at = tuple(float(p[int(u.argmax())]) for p in points)
                problems.append(f"{name} d/dx{k} ({how}): {u.max():.1f} ulps at {at}")
    return problems


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_every_elementwise_derivative_is_accurate_to_a_few_ulps(dtype):
    ops = {n for n, cls in REGISTRY.items() if cls.__module__ in (elementwise.__name__, binary.__name__)}
    missing = ops - set(UNARY) - set(BINARY) - NO_DERIVATIVE
    assert not missing, f"elementwise ops without a precision row here: {sorted(missing)}"
    problems = []
    for name, row in {**UNARY, **BINARY}.items():
        problems += _worst(name, row, dtype)
    assert not problems, "\n".join(problems)


def test_the_saturated_tails_that_lost_every_digit():
    """The handed inputs: expm1'(-40) = exp(-40) (was 0, computed as expm1 + 1);
    sigmoid'(20) in float32 = e**-20 / (1 + e**-20)**2 (was 0, from s * (1 - s) with s
    rounded to 1); tanh'(20) = sech(20)**2 (was 0, from 1 - tanh**2)."""
    x = gc.Variable("x")
    assert float(gc.evaluate(gc.grad(gc.expm1(x), x), {x: -40.0})) == pytest.approx(4.248354255291589e-18, rel=1e-15)
    assert float(gc.evaluate(gc.grad(gc.tanh(x), x), {x: 20.0})) == pytest.approx(float(mp.sech(20) ** 2), rel=1e-15)
    x32 = gc.Variable("x", (), "float32")
    got = gc.evaluate(gc.grad(gc.sigmoid(x32), x32), {x32: np.float32(20.0)})
    assert got.dtype == np.float32
    assert float(got) == pytest.approx(float(mp.exp(-20) / (1 + mp.exp(-20)) ** 2), rel=1e-6)


def test_sigmoid_and_softplus_values_are_accurate_in_the_tails():
    """softplus' derivative is sigmoid's value, so sigmoid's forward owes the same few ulps
    (exp(-log1p(exp(-x))) was 31 ulps off near x = -33)."""
    xs = np.linspace(-745, 40, 2001)
    got = gc.evaluate(gc.sigmoid(gc.constant(xs)), {})
    want = [1 / (1 + mp.exp(-mp.mpf(float(v)))) for v in xs]
    assert _ulps(got, want, np.float64).max() <= BOUND[np.float64]
