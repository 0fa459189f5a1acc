"""Convolution and max-pooling over NCHW images.

``conv2d`` is cross-correlation, as in every deep-learning framework: x of
shape (N, C, H, W), w of shape (O, C, kh, kw). The forward gathers the
windows with ``numpy.lib.stride_tricks.sliding_window_view`` into one
(N, C*kh*kw, Ho*Wo) array per call (im2col) and multiplies each image's by the
(O, C*kh*kw) weights in one batched ``matmul``, whose result is NCHW as it
stands (no transpose to copy); the gradients are ops of their own (the input
gradient is a transposed convolution: one batched matmul, then kh*kw strided
additions; the weight gradient a correlation of x with G: one batched matmul
on the same im2col array), each linear in its inputs and differentiable again.
Loops run over the kh*kw kernel offsets only, never over pixels or batch items.
The Numba backend overrides some of these per shape where its loops measured
faster (``graphcomp/runtime/backends/numba_conv.py``).

``max_pool2d`` drops a remainder that does not fill a window. Ties: when
several elements of a window share its maximum, they share its gradient
evenly (as ``gc.max`` does).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import fmt_shape, result_dtype
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.ops.arguments import int_tuple
from graphcomp.ops.base import Op, Operand, as_variable

__all__ = ["conv2d", "max_pool2d"]


def _out_size(n, k, stride, pad):
    if n is None:
        return None
    return (n + 2 * pad - k) // stride + 1


def _windows(x, kh, kw, stride):
    """(N, C, Ho, Wo, kh, kw) view of every window, no copy."""
    v = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def im2col(x, kh: int, kw: int, stride: int, padding: int, ho: int | None = None, wo: int | None = None):
    """The windows of ``x`` (N, C, H, W) as one (N, C*kh*kw, Ho*Wo) array (a copy), each
    column one output pixel's window in (c, i, j) order, and (Ho, Wo); ``ho``/``wo`` keep
    only the first rows and columns of windows (a strided gradient's size).

    Example:
        >>> cols, (ho, wo) = im2col(np.arange(16.0).reshape(1, 1, 4, 4), 3, 3, 1, 0)
        >>> cols.shape, (ho, wo), cols[0, :, 0].tolist()
        ((1, 9, 4), (2, 2), [0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0])
    """
    win = _windows(_pad(x, padding), kh, kw, stride)
    if ho is not None:
        win = win[:, :, :ho, :wo]
    n, c, ho, wo = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo), (ho, wo)


def _pad(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def _check_image(op, x):
    if x.ndim != 4:
        raise ShapeError(f"{op}: expects NCHW input of 4 dimensions, got shape {fmt_shape(x.shape)}")


@dataclasses.dataclass(frozen=True)
class Conv2D(Op):
    """Cross-correlation of x (N, C, H, W) with w (O, C, kh, kw)."""

    name = "conv2d"
    stride: int = 1
    padding: int = 0

    def infer(self, x, w):
        _check_image(self.name, x)
        if w.ndim != 4:
            raise ShapeError(f"conv2d: weights must be OIHW of 4 dimensions, got shape {fmt_shape(w.shape)}")
        if x.shape[1] is not None and w.shape[1] is not None and x.shape[1] != w.shape[1]:
            raise ShapeError(
                f"conv2d: input shape {fmt_shape(x.shape)} has {x.shape[1]} channels but weights "
                f"{fmt_shape(w.shape)} expect {w.shape[1]}"
            )
        kh, kw = w.shape[2], w.shape[3]
        if kh is None or kw is None:
            raise ShapeError(f"conv2d: the kernel size must be known, got weights {fmt_shape(w.shape)}")
        ho, wo = (_out_size(n, k, self.stride, self.padding) for n, k in ((x.shape[2], kh), (x.shape[3], kw)))
        if (ho is not None and ho < 1) or (wo is not None and wo < 1):
            raise ShapeError(
                f"conv2d: kernel {kh}x{kw} does not fit input {fmt_shape(x.shape)} with padding {self.padding}"
            )
        return (x.shape[0], w.shape[0], ho, wo), result_dtype(np.matmul, x.dtype, w.dtype)

    def forward(self, x, w):
        o, c, kh, kw = w.shape
        if x.ndim != 4 or x.shape[1] != c:
            raise ValueError(f"conv2d: input of shape {x.shape} does not have the {c} channels of weights {w.shape}")
        cols, (ho, wo) = im2col(x, kh, kw, self.stride, self.padding)
        # (O, C*kh*kw) @ (N, C*kh*kw, Ho*Wo): one product per image, already NCHW
        return np.matmul(w.reshape(o, c * kh * kw), cols).reshape(x.shape[0], o, ho, wo)

    def bprop(self, inputs, output, G):
        x, w = inputs
        dx = input_grad(self.stride, self.padding, G, w, x)
        dw = Conv2DWeightGrad(self.stride, self.padding, w.shape[2], w.shape[3])(x, G)
        return [dx, dw]


def input_grad(stride: int, padding: int, g, w, x):
    """conv2d's gradient with respect to ``x``: with x's height and width known
    statically, or read from ``x`` when the graph runs (with a stride, G's size
    does not say which of ``stride`` input sizes it came from).

    Example:
        >>> import graphcomp as gc
        >>> x, w = gc.Variable("x", (1, 2, None, None)), gc.Variable("w", (3, 2, 3, 3))
        >>> g = gc.Variable("g", (1, 3, None, None))
        >>> input_grad(2, 0, g, w, x).owner.op.name
        'conv2d_input_grad_like'
    """
    if x.shape[2] is None or x.shape[3] is None:
        return Conv2DInputGradLike(stride, padding)(g, w, x)
    return Conv2DInputGrad(stride, padding, x.shape[2], x.shape[3])(g, w)


def _transposed(g, w, stride: int, padding: int, height: int, width: int):
    """The transposed convolution of g with w, back to an image of height x width."""
    n, o, ho, wo = g.shape
    _, c, kh, kw = w.shape
    s, p = stride, padding
    if w.shape[0] != o:
        raise ValueError(f"conv2d_input_grad: gradient of shape {g.shape} does not match weights {w.shape}")
    # every window's share of each input pixel, (C*kh*kw, O) @ (N, O, Ho*Wo) in one product (col2im's input)
    cols = np.matmul(w.reshape(o, c * kh * kw).T, g.reshape(n, o, ho * wo)).reshape(n, c, kh, kw, ho, wo)
    out = np.zeros((n, c, height + 2 * p, width + 2 * p), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # every output pixel's contribution through kernel offset (i, j), at once
            out[:, :, i : i + s * ho : s, j : j + s * wo : s] += cols[:, :, i, j]
    return out[:, :, p : p + height, p : p + width]


@dataclasses.dataclass(frozen=True)
class Conv2DInputGrad(Op):
    """The gradient of conv2d with respect to its input: a transposed convolution
    of G (N, O, Ho, Wo) with w, back to an (N, C, height, width) image."""

    helper = True
    name = "conv2d_input_grad"
    stride: int
    padding: int
    height: int
    width: int

    def infer(self, g, w):
        return (g.shape[0], w.shape[1], self.height, self.width), result_dtype(np.matmul, g.dtype, w.dtype)

    def forward(self, g, w):
        return _transposed(g, w, self.stride, self.padding, self.height, self.width)

    def bprop(self, inputs, output, G):
        g, w = inputs
        dg = Conv2D(self.stride, self.padding)(G, w)
        dw = Conv2DWeightGrad(self.stride, self.padding, w.shape[2], w.shape[3])(G, g)
        return [dg, dw]


@dataclasses.dataclass(frozen=True)
class Conv2DInputGradLike(Op):
    """``Conv2DInputGrad`` for an input whose height or width is unknown until the
    graph runs: its third input is that input, read only for its shape."""

    helper = True
    name = "conv2d_input_grad_like"
    stride: int
    padding: int

    def infer(self, g, w, x):
        return (g.shape[0], w.shape[1], x.shape[2], x.shape[3]), result_dtype(np.matmul, g.dtype, w.dtype)

    def forward(self, g, w, x):
        return _transposed(g, w, self.stride, self.padding, np.shape(x)[2], np.shape(x)[3])

    def bprop(self, inputs, output, G):
        g, w, _ = inputs
        dg = Conv2D(self.stride, self.padding)(G, w)
        dw = Conv2DWeightGrad(self.stride, self.padding, w.shape[2], w.shape[3])(G, g)
        return [dg, dw, None]


@dataclasses.dataclass(frozen=True)
class Conv2DWeightGrad(Op):
    """The gradient of conv2d with respect to its weights: the windows of x
    correlated with G, giving (O, C, kh, kw)."""

    helper = True
    name = "conv2d_weight_grad"
    stride: int
    padding: int
    kh: int
    kw: int

    def infer(self, x, g):
        return (g.shape[1], x.shape[1], self.kh, self.kw), result_dtype(np.matmul, x.dtype, g.dtype)

    def forward(self, x, g):
        n, o, ho, wo = g.shape
        c = x.shape[1]
        if x.shape[0] != n:
            raise ValueError(f"conv2d_weight_grad: input of shape {x.shape} and gradient {g.shape} differ in batch")
        cols, _ = im2col(x, self.kh, self.kw, self.stride, self.padding, ho, wo)
        # per image (O, Ho*Wo) @ (Ho*Wo, C*kh*kw), summed over the batch
        per_image = np.matmul(g.reshape(n, o, ho * wo), cols.transpose(0, 2, 1))
        return np.add.reduce(per_image, axis=0).reshape(o, c, self.kh, self.kw)

    def bprop(self, inputs, output, G):
        x, g = inputs
        dx = input_grad(self.stride, self.padding, g, G, x)
        dg = Conv2D(self.stride, self.padding)(x, G)
        return [dx, dg]


def _pool_shape(op, x, size, stride):
    _check_image(op, x)
    if size < 1 or stride < 1:
        raise ShapeError(f"{op}: size and stride must be positive, got {size} and {stride}")
    ho, wo = ((None if n is None else (n - size) // stride + 1) for n in x.shape[2:])
    if (ho is not None and ho < 1) or (wo is not None and wo < 1):
        raise ShapeError(f"{op}: a {size}x{size} window does not fit input {fmt_shape(x.shape)}")
    return x.shape[:2] + (ho, wo)


def _window_hits(x, y, size, stride):
    """For each kernel offset, where the window's element equals its maximum;
    and the number of such elements per window (the tie count)."""
    ho, wo = y.shape[2], y.shape[3]
    hits = {}
    count = np.zeros(y.shape, dtype=np.intp)
    for i in range(size):
        for j in range(size):
            h = x[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] == y
            hits[i, j] = h
            count += h
    return hits, count


@dataclasses.dataclass(frozen=True)
class MaxPool2D(Op):
    """The maximum of each size x size window, windows ``stride`` apart."""

    name = "max_pool2d"
    size: int = 2
    stride: int = 2

    def infer(self, x):
        return _pool_shape(self.name, x, self.size, self.stride), x.dtype

    def forward(self, x):
        n, c, h, w = x.shape
        k, s = self.size, self.stride
        ho, wo = (h - k) // s + 1, (w - k) // s + 1
        # a running maximum over the k*k kernel offsets: each step one vectorised
        # pass over the image (far faster than reducing a strided window view)
        out = x[:, :, 0 : s * ho : s, 0 : s * wo : s].copy()
        for i in range(k):
            for j in range(k):
                if i or j:
                    np.maximum(out, x[:, :, i : i + s * ho : s, j : j + s * wo : s], out=out)
        return out

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [MaxPool2DGrad(self.size, self.stride)(x, output, G)]


@dataclasses.dataclass(frozen=True)
class MaxPool2DGrad(Op):
    """Route each window's gradient G to the elements holding its maximum
    (split evenly among ties), back to x's shape; a window whose maximum is NaN
    holds no element equal to it and routes nothing. Inputs: x, the pooled y, G."""

    helper = True
    name = "max_pool2d_grad"
    size: int
    stride: int

    def infer(self, x, y, g):
        return x.shape, g.dtype

    def forward(self, x, y, g):
        hits, count = _window_hits(x, y, self.size, self.stride)
        share = g
        if count.size and count.max() > 1:  # divide only where a window has ties (a NaN window has no hit)
            share = np.divide(g, count, out=np.array(g, dtype=np.result_type(g, np.float16)), where=count > 1)
        out = np.zeros(x.shape, dtype=np.result_type(g))
        ho, wo = y.shape[2], y.shape[3]
        s = self.stride
        tiled = s >= self.size  # windows do not overlap: each element is written at most once
        for (i, j), h in hits.items():
            target = out[:, :, i : i + s * ho : s, j : j + s * wo : s]
            if tiled:
                np.multiply(h, share, out=target)
            else:
                target += h * share
        return out

    def bprop(self, inputs, output, G):
        x, y, g = inputs
        # linear in g; the routing itself is piecewise constant in x (zero derivative)
        return [None, None, MaxPool2DRoute(self.size, self.stride)(x, y, G)]


@dataclasses.dataclass(frozen=True)
class MaxPool2DRoute(Op):
    """The adjoint of MaxPool2DGrad: gather u (x's shape) back to y's shape through
    the same routing. Inputs: x, the pooled y, u."""

    helper = True
    name = "max_pool2d_route"
    size: int
    stride: int

    def infer(self, x, y, u):
        return y.shape, u.dtype

    def forward(self, x, y, u):
        hits, count = _window_hits(x, y, self.size, self.stride)
        ho, wo = y.shape[2], y.shape[3]
        s = self.stride
        # float16 sums its ties' terms in float32 (as NumPy's mean does), and divides by
        # the exact count in float64: 2048 + 1 is 2048 in float16
        out = np.zeros(y.shape, dtype=np.promote_types(u.dtype, np.float32))
        for (i, j), h in hits.items():
            out += h * u[:, :, i : i + s * ho : s, j : j + s * wo : s]
        return (out / count).astype(u.dtype, copy=False)

    def bprop(self, inputs, output, G):
        x, y, u = inputs
        return [None, None, MaxPool2DGrad(self.size, self.stride)(x, y, G)]


# -- builders ---------------------------------------------------------------------------


@user_errors
def conv2d(x: Operand, w: Operand, stride: int = 1, padding: int = 0) -> Variable:
    """2-D cross-correlation of NCHW images with OIHW weights, as in every
    deep-learning framework; ``padding`` zeros on each side.

    Example:
        >>> import graphcomp as gc
        >>> gc.conv2d(gc.Variable("x", (None, 1, 28, 28)), gc.Variable("w", (8, 1, 3, 3)), padding=1).shape
        (None, 8, 28, 28)
    """
    stride, padding = int_tuple(stride, "conv2d: stride")[0], int_tuple(padding, "conv2d: padding")[0]
    if stride < 1 or padding < 0:
        raise ArgumentError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    return Conv2D(stride, padding)(as_variable(x), as_variable(w))


@user_errors
def max_pool2d(x: Operand, size: int = 2, stride: int | None = None) -> Variable:
    """The maximum of each ``size`` x ``size`` window of NCHW images, windows
    ``stride`` apart (default: ``size``); a remainder that does not fill a
    window is dropped. Tied maxima share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.max_pool2d(gc.Variable("x", (None, 8, 7, 7))).shape
        (None, 8, 3, 3)
    """
    size = int_tuple(size, "max_pool2d: size")[0]
    stride = size if stride is None else int_tuple(stride, "max_pool2d: stride")[0]
    return MaxPool2D(size, stride)(as_variable(x))
