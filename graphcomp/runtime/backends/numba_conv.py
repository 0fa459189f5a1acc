"""The Numba backend's convolution and pooling kernels, each chosen per shape where
it measured faster than the op's NumPy form (``graphcomp/ops/conv.py``); every
other shape runs that NumPy form. Single-threaded loops (``numba.njit``, no
``parallel``), compiled on first use and cached on disk.

What was measured (``bench/``, W4 and the shapes in the README's conv table): the
NumPy forms' im2col + batched ``matmul`` beat a direct Numba loop for the forward
pass and the weight gradient at every shape tried (BLAS does the multiply-adds), so
those two have no kernel here. A direct loop wins:

- 2x2 max-pooling with stride 2 (the common layer), forward and gradient, by 4-6x:
  one pass over the image instead of one per window offset;
- the input gradient (a transposed convolution) at stride 1 where C*O < 128 channel
  pairs, by 1.4-2x; with more channel pairs the batched matmul wins, and with a
  stride the loop's scattered writes make it 3x slower.

Every kernel computes what the op's forward computes (the tie rule of max-pooling,
NaN propagating as ``np.maximum`` does), up to the rounding of a different order of
additions; the tests hold each to the NumPy form and to PyTorch.
"""

from __future__ import annotations

import functools

import numpy as np

from graphcomp.ops.conv import Conv2DInputGrad, Conv2DInputGradLike, MaxPool2D, MaxPool2DGrad

__all__ = ["OVERRIDES", "INPUT_GRAD_MAX_CHANNEL_PAIRS", "uses_kernel"]

#: the input gradient runs as a loop below this many (input, output) channel pairs
INPUT_GRAD_MAX_CHANNEL_PAIRS = 128

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# -- the kernels: plain Python, compiled by Numba on first use -----------------------------------


def _max_pool_2x2(x, out):
    """out[n, c, h, q] = max of x's 2x2 window at (2h, 2q); NaN wins, as in np.maximum."""
    n_, c_, ho, wo = out.shape
    for n in range(n_):
        for c in range(c_):
            X, Y = x[n, c], out[n, c]
            for h in range(ho):
                r0, r1, y = X[2 * h], X[2 * h + 1], Y[h]
                for q in range(wo):
                    # the first of equal maxima stays, as np.maximum keeps it; a NaN wins
                    m = r0[2 * q]
                    v = r0[2 * q + 1]
                    if v > m or v != v:
                        m = v
                    v = r1[2 * q]
                    if v > m or v != v:
                        m = v
                    v = r1[2 * q + 1]
                    if v > m or v != v:
                        m = v
                    y[q] = m
    return out


def _max_pool_2x2_grad(x, y, g, out):
    """Each window's g to the elements equal to its maximum, split evenly among ties
    (none to a window whose maximum is NaN). Writes every element of the windows,
    without a branch (selects only: 5x faster than skipping the non-maxima)."""
    n_, c_, ho, wo = y.shape
    for n in range(n_):
        for c in range(c_):
            X, D, Y, G = x[n, c], out[n, c], y[n, c], g[n, c]
            for h in range(ho):
                r0, r1, o0, o1, yr, gr = X[2 * h], X[2 * h + 1], D[2 * h], D[2 * h + 1], Y[h], G[h]
                for q in range(wo):
                    m = yr[q]
                    a, b, d, e = r0[2 * q] == m, r0[2 * q + 1] == m, r1[2 * q] == m, r1[2 * q + 1] == m
                    ties = int(a) + int(b) + int(d) + int(e)
                    share = gr[q] if ties == 1 else (gr[q] / ties if ties else 0.0)
                    o0[2 * q] = share if a else 0.0
                    o0[2 * q + 1] = share if b else 0.0
                    o1[2 * q] = share if d else 0.0
                    o1[2 * q + 1] = share if e else 0.0
    return out


def _conv_input_grad(g, w, out):
    """The transposed convolution at stride 1: out[n, c, h+i, q+j] += w[o, c, i, j] g[n, o, h, q],
    into ``out`` (zeroed, padded), one row of g at a time: a contiguous loop LLVM vectorises."""
    n_, o_, ho, wo = g.shape
    c_, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    for n in range(n_):
        for c in range(c_):
            D = out[n, c]
            for o in range(o_):
                G = g[n, o]
                for i in range(kh):
                    for j in range(kw):
                        wv = w[o, c, i, j]
                        for h in range(ho):
                            dr, gr = D[h + i], G[h]
                            for q in range(wo):
                                dr[q + j] += wv * gr[q]
    return out


@functools.cache
def _jitted(kernel):
    import numba  # the backend's own import says when Numba is missing

    return numba.njit(cache=True)(kernel)


# -- per shape: the kernel where it measured faster, else the op's NumPy form ------------------------


def _floats(*arrays) -> bool:
    return all(isinstance(a, np.ndarray) and a.dtype in _FLOATS and a.ndim == 4 for a in arrays)


def _pool_2x2(x) -> bool:
    return _floats(x) and x.shape[2] >= 2 and x.shape[3] >= 2


def _max_pool_callee(op: MaxPool2D):
    if (op.size, op.stride) != (2, 2):
        return op.forward

    def max_pool2d(x):
        if not _pool_2x2(x):
            return op.forward(x)
        n, c, h, w = x.shape
        return _jitted(_max_pool_2x2)(np.ascontiguousarray(x), np.empty((n, c, h // 2, w // 2), x.dtype))

    return max_pool2d


def _max_pool_grad_callee(op: MaxPool2DGrad):
    if (op.size, op.stride) != (2, 2):
        return op.forward

    def max_pool2d_grad(x, y, g):
        pooled = x.shape[:2] + (x.shape[2] // 2, x.shape[3] // 2) if np.ndim(x) == 4 else None
        if not (_pool_2x2(x) and _floats(y, g) and y.dtype == x.dtype and y.shape == g.shape == pooled):
            return op.forward(x, y, g)
        out = np.empty(x.shape, g.dtype)
        out[:, :, 2 * pooled[2] :] = 0  # an odd last row or column is in no window
        out[:, :, :, 2 * pooled[3] :] = 0
        as_c = np.ascontiguousarray
        return _jitted(_max_pool_2x2_grad)(as_c(x), as_c(y), as_c(g), out)

    return max_pool2d_grad


def uses_kernel(op, *arrays) -> bool:
    """Whether the backend runs ``op`` on these arrays as its Numba loop (else its NumPy form).

    Example:
        >>> from graphcomp.ops.conv import MaxPool2D
        >>> uses_kernel(MaxPool2D(2, 2), np.zeros((1, 1, 4, 4))), uses_kernel(MaxPool2D(3, 2), np.zeros((1, 1, 4, 4)))
        (True, False)
    """
    if isinstance(op, MaxPool2D):
        return (op.size, op.stride) == (2, 2) and _pool_2x2(arrays[0])
    if isinstance(op, MaxPool2DGrad):
        return (op.size, op.stride) == (2, 2) and _pool_2x2(arrays[0])
    if isinstance(op, (Conv2DInputGrad, Conv2DInputGradLike)):
        return _small_transposed(op, *arrays[:2])
    return False


def _small_transposed(op, g, w) -> bool:
    return (
        op.stride == 1
        and _floats(g, w)
        and g.dtype == w.dtype
        and g.shape[1] == w.shape[0]
        and w.shape[0] * w.shape[1] < INPUT_GRAD_MAX_CHANNEL_PAIRS
    )


def _transposed(g, w, padding: int, height: int, width: int):
    n, c = g.shape[0], w.shape[1]
    out = np.zeros((n, c, height + 2 * padding, width + 2 * padding), g.dtype)
    # the loop writes rows and columns up to the last window's end: it must be inside the image
    if g.shape[2] - 1 + w.shape[2] > out.shape[2] or g.shape[3] - 1 + w.shape[3] > out.shape[3]:
        raise ValueError(f"conv2d_input_grad: gradient of shape {g.shape} does not fit an image of {height}x{width}")
    as_c = np.ascontiguousarray
    _jitted(_conv_input_grad)(as_c(g), as_c(w), out)
    return out[:, :, padding : padding + height, padding : padding + width]


def _input_grad_callee(op: Conv2DInputGrad):
    def conv2d_input_grad(g, w):
        if not _small_transposed(op, g, w):
            return op.forward(g, w)
        return _transposed(g, w, op.padding, op.height, op.width)

    return conv2d_input_grad


def _input_grad_like_callee(op: Conv2DInputGradLike):
    def conv2d_input_grad_like(g, w, x):
        if not _small_transposed(op, g, w):
            return op.forward(g, w, x)
        return _transposed(g, w, op.padding, np.shape(x)[2], np.shape(x)[3])

    return conv2d_input_grad_like


#: the NumbaBackend's overrides for these op classes: each op -> its callee
OVERRIDES = {
    MaxPool2D: _max_pool_callee,
    MaxPool2DGrad: _max_pool_grad_callee,
    Conv2DInputGrad: _input_grad_callee,
    Conv2DInputGradLike: _input_grad_like_callee,
}
