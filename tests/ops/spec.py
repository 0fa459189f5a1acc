"""The op spec table: every registered op has at least one row here.

A row builds an output from input Variables; the tests compare its forward
with a NumPy reference, its inferred shape and dtype with the real ones, and
its gradient (and, where ``second`` is set, its second derivative) with
central finite differences on a random projection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import sympy as sp

import graphcomp as gc
from graphcomp.ops.binary import add_n
from graphcomp.ops.conv import (
    Conv2DInputGrad,
    Conv2DInputGradLike,
    Conv2DWeightGrad,
    MaxPool2D,
    MaxPool2DGrad,
    MaxPool2DRoute,
)
from graphcomp.ops.creation import ArangeLike, NoGradient, NoGradientLike, OnesLike, SizeOf, ZerosLike
from graphcomp.ops.elementwise import ErfGrad, SigmoidGrad, TanhGrad
from graphcomp.ops.fused import fused
from graphcomp.ops.identity import MinCount
from graphcomp.ops.indexing import IndexGrad, IndexGradLike
from graphcomp.ops.shape import BroadcastLike, ReshapeLike, SplitPart, SumTo, SumToLike
from graphcomp.ops.softmax import (
    CrossEntropyGrad,
    CrossEntropyPickGrad,
    LogSoftmaxGrad,
    SoftmaxCrossEntropyGrad,
    SoftmaxGrad,
)


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def small(rng, shape):
    return rng.uniform(-0.9, 0.9, shape)


def above_minus_one(rng, shape):
    return rng.uniform(-0.5, 2.0, shape)


def ints(high):
    return lambda rng, shape: rng.integers(0, high, shape)


@dataclasses.dataclass
class OpSpec:
    id: str
    build: Callable  # (*Variables) -> Variable
    ref: Callable  # (*arrays) -> array, plain NumPy
    shapes: list  # one static shape per input
    domains: list | Callable = normal  # one per input, or one for all
    dtypes: list | None = None  # per input; default float64
    diff: list | None = None  # input positions to differentiate; default: float inputs
    grad: bool = True  # check first order
    second: bool = False  # check second order
    unknown: bool = True  # also build with every dimension None
    eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-7

    def domain(self, k):
        return self.domains[k] if isinstance(self.domains, list) else self.domains

    def dtype(self, k):
        return "float64" if self.dtypes is None else self.dtypes[k]

    def diff_positions(self):
        if self.diff is not None:
            return self.diff
        return [k for k in range(len(self.shapes)) if np.dtype(self.dtype(k)).kind == "f"]


SPECS: list[OpSpec] = []


def spec(*args, **kw):
    SPECS.append(OpSpec(*args, **kw))


# -- unary elementwise --------------------------------------------------------------------------

UNARY = [
    ("negative", gc.negative, np.negative, normal),
    ("exp", gc.exp, np.exp, normal),
    ("log", gc.log, np.log, positive),
    ("sin", gc.sin, np.sin, normal),
    ("cos", gc.cos, np.cos, normal),
    ("tan", gc.tan, np.tan, small),
    ("tanh", gc.tanh, np.tanh, normal),
    ("sqrt", gc.sqrt, np.sqrt, positive),
    ("abs", gc.abs, np.abs, away_from_zero),
    ("square", gc.square, np.square, normal),
    ("log1p", gc.log1p, np.log1p, above_minus_one),
    ("expm1", gc.expm1, np.expm1, normal),
    ("sigmoid", gc.sigmoid, lambda x: 1 / (1 + np.exp(-x)), normal),
    ("relu", gc.relu, lambda x: np.where(x > 0, x, 0.0), away_from_zero),
    ("softplus", gc.softplus, lambda x: np.log(1 + np.exp(x)), normal),
    ("sign", gc.sign, np.sign, away_from_zero),
]
for name, fn, ref, dom in UNARY:
    for shape in [(), (3,), (2, 3, 4)]:
        spec(f"{name}{shape}", fn, ref, [shape], dom, second=True)

# derivatives that are ops of (x, G): G * f'(x), differentiable again
for shapes in [[(), ()], [(3,), (3,)], [(2, 3), (2, 3)], [(2, 3), (3,)], [(3,), (2, 3)]]:
    spec(f"tanh_grad{shapes[0]}{shapes[1]}", lambda x, g: TanhGrad()(x, g), lambda x, g: g / np.cosh(x) ** 2, shapes,
         second=True)  # fmt: skip
    spec(f"sigmoid_grad{shapes[0]}{shapes[1]}", lambda x, g: SigmoidGrad()(x, g),
         lambda x, g: g * np.exp(-x) / (1 + np.exp(-x)) ** 2, shapes, second=True)  # fmt: skip
    spec(f"erf_grad{shapes[0]}{shapes[1]}", lambda x, g: ErfGrad()(x, g),
         lambda x, g: g * 2 / np.sqrt(np.pi) * np.exp(-x * x), shapes, second=True)  # fmt: skip

# -- binary elementwise with broadcasting ------------------------------------------------------------

BROADCASTS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((4, 1), ())]
BINARY = [
    ("add", lambda x, y: x + y, np.add, [normal, normal]),
    ("subtract", lambda x, y: x - y, np.subtract, [normal, normal]),
    ("multiply", lambda x, y: x * y, np.multiply, [normal, normal]),
    ("divide", lambda x, y: x / y, np.divide, [normal, away_from_zero]),
    ("power", lambda x, y: x**y, np.power, [positive, normal]),
    ("maximum", gc.maximum, np.maximum, [normal, normal]),
    ("minimum", gc.minimum, np.minimum, [normal, normal]),
]
for name, fn, ref, doms in BINARY:
    for a, b in BROADCASTS:
        spec(f"{name}{a}{b}", fn, ref, [a, b], doms, second=True)
spec("power-constant-exponent", lambda x: x**3, lambda x: x**3, [(3,)], normal, second=True)
spec("power-int-exponent", lambda x: x ** gc.constant(2), lambda x: x**2, [(3,)], normal, second=True)
spec("rpow", lambda x: 2.0**x, lambda x: 2.0**x, [(3,)], normal, second=True)

COMPARE = [
    ("less", lambda x, y: x < y, np.less),
    ("less_equal", lambda x, y: x <= y, np.less_equal),
    ("greater", lambda x, y: x > y, np.greater),
    ("greater_equal", lambda x, y: x >= y, np.greater_equal),
    ("equal", gc.equal, np.equal),
    ("not_equal", gc.not_equal, np.not_equal),
]
for name, fn, ref in COMPARE:
    spec(name, fn, ref, [(3, 4), (4,)], ints(3), dtypes=["int64", "int64"], grad=False)

spec(
    "where",
    lambda c, a, b: gc.where(c, a, b),
    np.where,
    [(3, 4), (3, 4), (4,)],
    [ints(2), normal, normal],
    dtypes=["bool", "float64", "float64"],
    second=True,
)
spec("where-scalar", lambda c, a: gc.where(c, a, 0.0), lambda c, a: np.where(c, a, 0.0), [(3,), ()],
     [ints(2), normal], dtypes=["bool", "float64"])  # fmt: skip
spec("add_n", lambda a, b, c: add_n(a, b, c), lambda a, b, c: a + b + c, [(2, 3)] * 3, second=True)

# -- reductions: every axis and keepdims combination ---------------------------------------------------

AXES = [None, 0, 1, 2, -1, (0, 2), (0, 1, 2)]
for name, fn, ref, dom in [
    ("sum", gc.sum, np.sum, normal),
    ("mean", gc.mean, np.mean, normal),
    ("max", gc.max, np.max, normal),
    ("min", gc.min, np.min, normal),
    ("logsumexp", gc.logsumexp, lambda x, axis, keepdims: _logsumexp(x, axis, keepdims), normal),
]:
    for axis in AXES:
        for keepdims in (False, True):
            spec(
                f"{name}-axis{axis}-keep{keepdims}",
                lambda x, fn=fn, axis=axis, keepdims=keepdims: fn(x, axis=axis, keepdims=keepdims),
                lambda x, ref=ref, axis=axis, keepdims=keepdims: ref(x, axis=axis, keepdims=keepdims),
                [(2, 3, 4)],
                dom,
                second=name != "max" and name != "min",
            )
spec(
    "max-ties", lambda x: gc.max(x * 0.0 + gc.constant([1.0, 3.0, 3.0])), lambda x: np.float64(3.0), [(3,)], grad=False
)
spec("methods", lambda x: x.sum(axis=0) + x.mean(axis=0) + x.max(axis=0) + x.min(axis=0),
     lambda x: x.sum(0) + x.mean(0) + x.max(0) + x.min(0), [(3, 4)])  # fmt: skip


def _logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


# -- linear algebra ------------------------------------------------------------------------------------------

for a, b in [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
             ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]:  # fmt: skip
    spec(f"matmul{a}{b}", lambda x, y: x @ y, np.matmul, [a, b], second=True)
spec("dot-2d", gc.dot, np.dot, [(3, 4), (4, 2)])
spec("dot-1d", gc.dot, np.dot, [(4,), (4,)])
spec("dot-scalar", gc.dot, np.dot, [(), (3,)])
spec("dot-3d-2d", gc.dot, np.dot, [(2, 3, 4), (4, 2)])
# a stack in b needs its shape known (tests/ops/test_linalg_dot.py has the unknown-size cases)
spec("dot-2d-3d", gc.dot, np.dot, [(3, 4), (2, 4, 5)], unknown=False)
spec("dot-3d-3d", gc.dot, np.dot, [(2, 3, 4), (3, 4, 2)], second=True, unknown=False)
spec("dot-1d-3d", gc.dot, np.dot, [(4,), (2, 4, 3)])
spec("dot-3d-1d", gc.dot, np.dot, [(2, 3, 4), (4,)])

# -- shape ---------------------------------------------------------------------------------------------------

spec("reshape", lambda x: gc.reshape(x, (4, -1)), lambda x: x.reshape(4, -1), [(2, 3, 4)], second=True)
spec("reshape-method", lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4), [(2, 3, 4)])
spec("transpose", lambda x: gc.transpose(x, (2, 0, 1)), lambda x: x.transpose(2, 0, 1), [(2, 3, 4)], second=True)
spec("transpose-default", lambda x: x.T, lambda x: x.T, [(2, 3, 4)])
spec("transpose-method", lambda x: x.transpose(1, 0, 2), lambda x: x.transpose(1, 0, 2), [(2, 3, 4)])
spec("broadcast_to", lambda x: gc.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)],
     second=True, unknown=False)  # fmt: skip
spec("expand_dims", lambda x: gc.expand_dims(x, (0, 2)), lambda x: np.expand_dims(x, (0, 2)), [(3, 4)])
spec("squeeze", lambda x: gc.squeeze(x, (0, 2)), lambda x: np.squeeze(x, (0, 2)), [(1, 3, 1, 4)], unknown=False)
spec("concatenate", lambda a, b: gc.concatenate([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1),
     [(2, 3), (2, 5)], second=True)  # fmt: skip
spec("concatenate-3", lambda a, b, c: gc.concatenate([a, b, c]), lambda a, b, c: np.concatenate([a, b, c]),
     [(2,), (3,), (1,)])  # fmt: skip
spec("stack", lambda a, b: gc.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1), [(2, 3), (2, 3)], second=True)
spec("stack-neg", lambda a, b: gc.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1), [(2, 3), (2, 3)])
spec("sum_to", lambda g: SumTo((3, 1))(g), lambda g: g.sum(0).sum(1, keepdims=True), [(2, 3, 4)], unknown=False)
spec("sum_to_like", lambda g, r: SumToLike()(g, r), lambda g, r: g.sum(0).sum(1, keepdims=True),
     [(2, 3, 4), (3, 1)], diff=[0])  # fmt: skip
spec("broadcast_like", lambda x, r: BroadcastLike()(x, r), lambda x, r: np.broadcast_to(x, r.shape),
     [(3, 1), (2, 3, 4)], diff=[0])  # fmt: skip
spec("reshape_like", lambda x, r: ReshapeLike()(x, r), lambda x, r: x.reshape(r.shape), [(6,), (2, 3)], diff=[0])
spec("split_part", lambda g, a, b: SplitPart(1, 1)(g, a, b), lambda g, a, b: g[:, 3:],
     [(2, 8), (2, 3), (2, 5)], diff=[0])  # fmt: skip

# -- indexing ---------------------------------------------------------------------------------------------------

INDICES = [
    ("int", 1),
    ("neg-int", -1),
    ("slice", slice(1, 3)),
    ("step", slice(None, None, -2)),
    ("col", (slice(None), 0)),
    ("newaxis", (None, 1, Ellipsis)),
    ("ellipsis", (Ellipsis, 2)),
    ("rows-cols", ([0, 2, 2], [1, 3, 1])),  # repeated pairs: the scatter must accumulate
    ("rows", ([2, 0, 2],)),
    ("adv-slice-adv", ([0, 1], slice(None), [3, 0])),  # separated: broadcast dims go first
    ("slice-adv", (slice(1, None), [[0, 1], [2, 2]])),
    ("int-and-array", (1, [0, 3, 3])),
]
for name, index in INDICES:
    spec(
        f"getitem-{name}",
        lambda x, index=index: x[index],
        lambda x, index=index: x[index],
        [(3, 4, 5)] if name in ("adv-slice-adv", "ellipsis", "newaxis") else [(3, 4)],
        second=True,
    )
spec("getitem-variable-index", lambda x, i: x[i], lambda x, i: x[i], [(5, 3), (4,)], [normal, ints(5)],
     dtypes=["float64", "int64"])  # fmt: skip
spec("getitem-scalar-index", lambda x, k: x[k], lambda x, k: x[k], [(5,), ()], [normal, ints(5)],
     dtypes=["float64", "int64"])  # fmt: skip
_ROWS_ALL = (("a",), ("s", None, None, None))  # the template of x[rows, :]
spec("index_grad", lambda g, i: IndexGrad(_ROWS_ALL, (4, 2))(g, i),
     lambda g, i: _scatter((4, 2), (i, slice(None)), g), [(3, 2), (3,)], [normal, ints(4)],
     dtypes=["float64", "int64"], unknown=False)  # fmt: skip
spec("index_grad_like", lambda g, r, i: IndexGradLike(_ROWS_ALL)(g, r, i),
     lambda g, r, i: _scatter(r.shape, (i, slice(None)), g), [(3, 2), (4, 2), (3,)], [normal, normal, ints(4)],
     dtypes=["float64", "float64", "int64"], diff=[0])  # fmt: skip


def _scatter(shape, index, g):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


# -- neural-network ops -------------------------------------------------------------------------------------------

for axis in (-1, 0, 1):
    spec(f"softmax-axis{axis}", lambda x, axis=axis: gc.softmax(x, axis=axis),
         lambda x, axis=axis: np.exp(x) / np.exp(x).sum(axis, keepdims=True), [(3, 4)], second=True)  # fmt: skip
    spec(f"log_softmax-axis{axis}", lambda x, axis=axis: gc.log_softmax(x, axis=axis),
         lambda x, axis=axis: x - np.log(np.exp(x).sum(axis, keepdims=True)), [(3, 4)], second=True)  # fmt: skip

# -- gradient control and helpers --------------------------------------------------------------------------------------

spec("stop_gradient", gc.stop_gradient, lambda x: x, [(3,)], grad=False)
spec("cast-float32", lambda x: gc.cast(x, "float32"), lambda x: x.astype("float32"), [(3,)],
     eps=1e-2, rtol=1e-3, atol=1e-4)  # fmt: skip
spec("cast-to-int", lambda x: gc.cast(x, "int64"), lambda x: x.astype("int64"), [(3,)], grad=False)
spec("zeros_like", lambda x: ZerosLike()(x), np.zeros_like, [(2, 3)], grad=False)
spec("ones_like", lambda x: OnesLike()(x), np.ones_like, [(2, 3)], grad=False)
spec("size_of", lambda x: SizeOf((0, 2), np.dtype("float64"))(x), lambda x: np.float64(x.shape[0] * x.shape[2]),
     [(2, 3, 4)], grad=False)  # fmt: skip
spec("arange_like", lambda x: ArangeLike(1)(x), lambda x: np.arange(x.shape[1]), [(2, 5)], grad=False)
spec("zeros_like-api", gc.zeros_like, np.zeros_like, [(2, 3)], grad=False)
# the zero gradient that means "no differentiable path": known shape (no input) and runtime shape
spec("no_gradient", lambda x: x + NoGradient((2, 3), np.dtype("float64"))(), lambda x: x, [(2, 3)], unknown=False,
     second=True)  # fmt: skip
spec("no_gradient_like", lambda x: NoGradientLike()(x), np.zeros_like, [(2, 3)], grad=False)
spec("ones_like-api", gc.ones_like, np.ones_like, [(2, 3)], grad=False)

# -- random draws: a fresh generator per build, so each row's first run reads state 0 ---------------------------------
# The reference is the stream's definition (graphcomp/ops/random.py) written with NumPy alone: Philox keyed by the
# seed's SeedSequence, counter [0, 0, draw, calls]. Gradients into mean/std/low/high: tests/random/ (draws held fixed).


def _stream(seed, draw=0, calls=0):
    key = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=np.array([0, 0, draw, calls], np.uint64)))


def probability(rng, shape):
    return rng.uniform(0.0, 1.0, shape)


spec("random_normal", lambda x: x + gc.random.Generator(5).normal((2, 3)),
     lambda x: x + _stream(5).standard_normal((2, 3)), [(2, 3)], grad=False)  # fmt: skip
spec("random_normal-mean-std", lambda m, s: gc.random.Generator(5).normal((2, 3), mean=m, std=s),
     lambda m, s: _stream(5).standard_normal((2, 3)) * s + m, [(3,), (2, 3)], [normal, positive],
     grad=False)  # fmt: skip
spec("random_normal_like", lambda x: gc.random.Generator(6).normal_like(x),
     lambda x: _stream(6).standard_normal(x.shape), [(4, 2)], grad=False)  # fmt: skip
spec("random_uniform-low-high", lambda x: gc.random.Generator(7).uniform((2, 3), -1.0, 3.0) + x,
     lambda x: _stream(7).uniform(-1.0, 3.0, (2, 3)) + x, [(2, 3)], grad=False)  # fmt: skip
spec("random_uniform_like", lambda x: gc.random.Generator(8).uniform_like(x), lambda x: _stream(8).random(x.shape),
     [(3, 2)], grad=False)  # fmt: skip
spec("random_bernoulli", lambda p: gc.random.Generator(9).bernoulli((2, 3), p),
     lambda p: (_stream(9).random((2, 3)) < p).astype("float64"), [(3,)], probability, grad=False)  # fmt: skip
spec("random_bernoulli_like", lambda x, p: gc.random.Generator(9).bernoulli_like(x, p),
     lambda x, p: (_stream(9).random(x.shape) < p).astype("float64"), [(2, 3), ()], [normal, probability],
     grad=False)  # fmt: skip

# -- ops defined by a SymPy expression -----------------------------------------------------------------------------

_t, _u = sp.symbols("t u")
_swish = gc.elementwise(_t / (1 + sp.exp(-_t)), [_t])
_mix = gc.elementwise(sp.sin(_t) * _u + _t**2 * sp.exp(-(_u**2)), [_t, _u])
spec("sympy-swish", _swish, lambda x: x / (1 + np.exp(-x)), [(2, 3)], second=True)
spec("sympy-two-args", _mix, lambda x, y: np.sin(x) * y + x**2 * np.exp(-(y**2)), [(3, 4), (4,)], second=True)
spec("sympy-int-input", _swish, lambda k: k / (1 + np.exp(-k)), [(3,)], ints(5), dtypes=["int64"], grad=False)

# -- convolution and pooling ----------------------------------------------------------------------------------------


def _conv_loop(x, w, stride, pad):
    """Cross-correlation written as plain loops: the independent reference."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for b in range(n):
        for f in range(o):
            for i in range(ho):
                for j in range(wo):
                    out[b, f, i, j] = np.sum(
                        xp[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw] * w[f]
                    )
    return out


def _pool_loop(x, size, stride):
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(2, 3))
    return out


def distinct(rng, shape):
    """Values far apart, so a finite-difference step never changes a window's maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


for stride, pad, xs, ws in [(1, 0, (2, 3, 5, 6), (4, 3, 3, 2)), (2, 1, (2, 2, 7, 5), (3, 2, 3, 3)),
                            (3, 2, (1, 1, 4, 4), (2, 1, 2, 2)), (1, 1, (2, 1, 3, 3), (1, 1, 3, 3))]:  # fmt: skip
    spec(f"conv2d-s{stride}-p{pad}-{xs}", lambda x, w, s=stride, p=pad: gc.conv2d(x, w, stride=s, padding=p),
         lambda x, w, s=stride, p=pad: _conv_loop(x, w, s, p), [xs, ws], second=True, unknown=False)  # fmt: skip
spec("conv2d-batch-unknown", lambda x, w: gc.conv2d(x, w, padding=1), lambda x, w: _conv_loop(x, w, 1, 1),
     [(2, 2, 4, 5), (3, 2, 3, 3)], unknown=False)  # fmt: skip
for size, stride, xs in [(2, 2, (2, 3, 5, 4)), (3, 1, (1, 2, 5, 6)), (2, 3, (2, 1, 7, 8)), (3, 2, (1, 2, 7, 7))]:
    spec(f"max_pool2d-{size}-{stride}-{xs}", lambda x, a=size, b=stride: gc.max_pool2d(x, a, b),
         lambda x, a=size, b=stride: _pool_loop(x, a, b), [xs], distinct, second=True, unknown=False)  # fmt: skip


def _conv_grads_loop(x, w, g, stride, pad):
    """dx and dw of sum(conv(x, w) * g), by the same plain loops."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, _, kh, kw = w.shape
    for b, f, i, j in np.ndindex(*g.shape):
        window = (b, slice(None), slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw))
        dxp[window] += g[b, f, i, j] * w[f]
        dw[f] += g[b, f, i, j] * xp[window]
    h, wd = x.shape[2], x.shape[3]
    return dxp[:, :, pad : pad + h, pad : pad + wd], dw


def _pool_route_loop(x, u, size, stride):
    """Each window's share of u through its maxima (ties split evenly)."""
    y = _pool_loop(x, size, stride)
    out = np.zeros_like(y)
    for b, c, i, j in np.ndindex(*y.shape):
        win = x[b, c, i * stride : i * stride + size, j * stride : j * stride + size]
        hit = win == y[b, c, i, j]
        out[b, c, i, j] = (
            np.sum(u[b, c, i * stride : i * stride + size, j * stride : j * stride + size] * hit) / hit.sum()
        )
    return out


def _pool_grad_loop(x, g, size, stride):
    y = _pool_loop(x, size, stride)
    out = np.zeros_like(x)
    for b, c, i, j in np.ndindex(*y.shape):
        sl = (b, c, slice(i * stride, i * stride + size), slice(j * stride, j * stride + size))
        hit = x[sl] == y[b, c, i, j]
        out[sl] += hit * g[b, c, i, j] / hit.sum()
    return out


_XS, _WS, _GS = (2, 2, 5, 4), (3, 2, 3, 2), (2, 3, 3, 3)  # stride 2, padding 1: 3x3 outputs
spec("conv2d_input_grad", lambda g, w: Conv2DInputGrad(2, 1, 5, 4)(g, w),
     lambda g, w: _conv_grads_loop(np.zeros(_XS), w, g, 2, 1)[0], [_GS, _WS], second=True, unknown=False)  # fmt: skip
spec("conv2d_input_grad_like", lambda g, w, x: Conv2DInputGradLike(2, 1)(g, w, x),
     lambda g, w, x: _conv_grads_loop(np.zeros(_XS), w, g, 2, 1)[0], [_GS, _WS, _XS],
     diff=[0, 1], second=True, unknown=False)  # fmt: skip
spec("conv2d_weight_grad", lambda x, g: Conv2DWeightGrad(2, 1, 3, 2)(x, g),
     lambda x, g: _conv_grads_loop(x, np.zeros(_WS), g, 2, 1)[1], [_XS, _GS], second=True, unknown=False)  # fmt: skip
spec("max_pool2d_grad", lambda x, g: MaxPool2DGrad(3, 2)(x, MaxPool2D(3, 2)(x), g),
     lambda x, g: _pool_grad_loop(x, g, 3, 2), [(2, 2, 7, 6), (2, 2, 3, 2)], [distinct, normal],
     diff=[1], second=True, unknown=False)  # fmt: skip
spec("max_pool2d_route", lambda x, u: MaxPool2DRoute(3, 2)(x, MaxPool2D(3, 2)(x), u),
     lambda x, u: _pool_route_loop(x, u, 3, 2), [(2, 2, 7, 6), (2, 2, 7, 6)], [distinct, normal],
     diff=[1], second=True, unknown=False)  # fmt: skip

# -- fused elementwise programs (the fuse pass's nodes) -------------------------------------------

spec(
    "fused-tanh-affine",
    lambda x, w, b: fused((("multiply", "a0", "a1"), ("add", "t0", "a2"), ("tanh", "t1")), x, w, b),
    lambda x, w, b: np.tanh(x * w + b),
    [(2, 3), (3,), ()],
    second=True,
)
spec(
    "fused-shared-step",
    lambda x, y: fused(
        (("constant", 2.0), ("subtract", "a0", "a1"), ("square", "t1"), ("multiply", "t0", "t1"), ("add", "t2", "t3")),
        x,
        y,
    ),
    lambda x, y: (x - y) ** 2 + 2.0 * (x - y),
    [(4,), (4,)],
    second=True,
)
spec(
    "fused-mask",
    lambda x, y: fused((("greater", "a0", "a1"), ("multiply", "a0", "t0"), ("exp", "t1")), x, y),
    lambda x, y: np.exp(x * (x > y)),
    [(3, 2), (2,)],
    away_from_zero,
    diff=[0],
    second=True,
)
spec(
    "fused-where-add_n",
    lambda c, a, b: fused(
        (("sigmoid", "a1"), ("softplus", "a2"), ("where", "a0", "t0", "t1"), ("add_n", "t2", "a1", "t0")), c, a, b
    ),
    lambda c, a, b: np.where(c, 1 / (1 + np.exp(-a)), np.log1p(np.exp(b))) + a + 1 / (1 + np.exp(-a)),
    [(3,), (3,), (3,)],
    dtypes=["bool", "float64", "float64"],
    second=True,
)

# -- cross-entropy and its closed-form gradient ---------------------------------------------------------


def _ce_ref(z, y):
    lsm = z - z.max(1, keepdims=True)
    lsm -= np.log(np.exp(lsm).sum(1, keepdims=True))
    return -lsm[np.arange(len(y)), y].mean()


def _ce_grad_ref(z, y):
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(z.shape[1])[y]) / len(y)


def _softmax_grad_ref(x, g, axis):
    s = np.exp(x - x.max(axis, keepdims=True))
    s /= s.sum(axis, keepdims=True)
    return s * g - s * (s * g).sum(axis, keepdims=True)  # (diag(s) - s s^T) g along the axis


def _lsm_ref(x):
    return x - np.log(np.exp(x).sum(1, keepdims=True))


for axis in (0, 1):
    spec(f"softmax_grad-axis{axis}", lambda x, g, axis=axis: SoftmaxGrad(axis)(gc.softmax(x, axis), g),
         lambda x, g, axis=axis: _softmax_grad_ref(x, g, axis), [(3, 4), (3, 4)], second=True)  # fmt: skip
spec("log_softmax_grad", lambda x, g: LogSoftmaxGrad(1)(gc.log_softmax(x), g),
     lambda x, g: g - np.exp(_lsm_ref(x)) * g.sum(1, keepdims=True), [(3, 4), (3, 4)], second=True)  # fmt: skip
spec("cross_entropy", lambda z, y: gc.nn.cross_entropy(z, y), _ce_ref, [(5, 4), (5,)], [normal, ints(4)],
     dtypes=["float64", "int64"], second=True)  # fmt: skip
spec("cross_entropy_grad", lambda z, y: CrossEntropyGrad()(gc.log_softmax(z), y), _ce_grad_ref, [(5, 4), (5,)],
     [normal, ints(4)], dtypes=["float64", "int64"], second=True)  # fmt: skip
# its value reads only lsm's shape; times z, so that there is a gradient to check
spec("cross_entropy_pick_grad", lambda z, y: CrossEntropyPickGrad()(gc.log_softmax(z), y) * z,
     lambda z, y: -np.eye(z.shape[1])[y] / len(y) * z, [(5, 4), (5,)], [normal, ints(4)],
     dtypes=["float64", "int64"], second=True)  # fmt: skip


def _soft_ce_grad_ref(z, y):
    """d/dz of -sum(y * log_softmax(z)) with y broadcast as the product broadcasts it,
    summed back to z's shape: softmax(z) * sum(y) - y, row by row."""
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.broadcast_to(y, np.broadcast_shapes(y.shape, z.shape))
    y = y.sum(0, keepdims=True) if z.shape[0] == 1 < y.shape[0] else y
    return p * y.sum(1, keepdims=True) - y


# targets whose rows do not sum to one; and targets broadcast over the batch either way
for _zs, _ys in [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((1, 4), (3, 4))]:
    spec(f"softmax_cross_entropy_grad-{_zs}-{_ys}", lambda z, y: SoftmaxCrossEntropyGrad(1)(gc.log_softmax(z), y),
         _soft_ce_grad_ref, [_zs, _ys], second=True)  # fmt: skip

# -- op_from_graph groups and the run-time shape check ------------------------------------------------------

# a group (its gradient is another group: both covered, first and second order)
_layer = gc.op_from_graph(lambda x, W: gc.tanh(x @ W) * gc.sigmoid(x @ W), name="layer")
spec("op_from_graph", _layer, lambda x, W: np.tanh(x @ W) / (1 + np.exp(-(x @ W))), [(2, 3), (3, 4)], second=True)
_outer = gc.op_from_graph(lambda x, W: gc.exp(-_layer(x, W)) + x.sum(), name="outer")
spec("op_from_graph-nested", _outer, lambda x, W: np.exp(-np.tanh(x @ W) / (1 + np.exp(-(x @ W)))) + x.sum(),
     [(2, 3), (3, 4)], second=True)  # fmt: skip
spec("match_shape", lambda v, x: gc.match_shape(v, x) * x, lambda v, x: v * x, [(2, 3), (2, 3)], second=True)
spec("min_count", lambda x: MinCount((0, 1), 2, "spec")(x) * x, lambda x: x * x, [(3, 2)], second=True)

# -- loops: one scan node, its projections, and its gradient (a scan over the reversed steps) ----------------


def _rnn_step(W):
    def step(h, x):
        new = gc.tanh(W @ h + x)
        return new, new * x

    return step


def _rnn_ref(h, xs, W, reverse=False):
    ys = [None] * len(xs)
    for t in reversed(range(len(xs))) if reverse else range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        ys[t] = h * xs[t]
    return h * np.sum(ys, axis=0)


def _scan_rnn(h, xs, W, reverse=False):
    hT, ys = gc.scan(_rnn_step(W), h, xs, reverse=reverse)
    return hT * ys.sum(axis=0)


def _fori_ref(x, w):
    for i in range(3):
        x = np.sin(x * w) + i
    return x


spec("scan", _scan_rnn, _rnn_ref, [(3,), (4, 3), (3, 3)], small, second=True)
spec("scan-reverse", lambda h, xs, W: _scan_rnn(h, xs, W, True), lambda h, xs, W: _rnn_ref(h, xs, W, True),
     [(3,), (4, 3), (3, 3)], small, second=True)  # fmt: skip
spec("fori_loop", lambda x, w: gc.fori_loop(0, 3, lambda i, c: gc.sin(c * w) + i.astype("float64"), x), _fori_ref,
     [(2,), (2,)], second=True)  # fmt: skip
spec("map", lambda xs, w: gc.map(lambda r: (r * w).sum(), xs), lambda xs, w: xs @ w, [(4, 3), (3,)], second=True)

# the other families' rows, in files of their own (they import spec from here)
from tests.ops import spec_ops_a, spec_ops_b  # noqa: E402,F401
