"""Long sums compile (issue 14, item 7): N indexed reads combine as one scatter for
known and unknown lengths, and an add_n, stack or concatenate of thousands of terms
compiles and runs, with a graph and a generated source that grow linearly in the
number of terms and no generated line that grows with it.

Oracles: closed forms of the gradients (d/dw sum(sin w[i]) = cos w, ...). Sizes are
measured structurally (edges of the graph, characters of the source), never timed.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import rosenbrock_grad_and_hvp

LONGEST = 1000  # characters: a generated line of 64 short names, its comment, never the graph


def _edges(outputs) -> int:
    return sum(len(v.owner.inputs) for v in gc.Graph(outputs).variables if v.owner is not None)


def _ops(outputs, name: str) -> int:
    return sum(1 for v in gc.Graph(outputs).variables if v.owner is not None and v.owner.op.name == name)


def _longest_line(f) -> int:
    return max(len(line) for line in f.source.splitlines())


@pytest.mark.parametrize("n", [3000])
def test_indexed_reads_combine_as_one_scatter_for_unknown_and_known_lengths(n):
    """The handed input: c = sin(w[0]) + ... + sin(w[n-1]); its gradient is cos(w), one
    scatter of the n stacked terms (index_grad_like for w of shape (None,))."""
    wv = np.linspace(-2, 2, n)
    for shape, scatter in (((None,), "index_grad_like"), ((n,), "index_grad")):
        w = gc.Variable("w", shape)
        c = gc.sin(w[0])
        for i in range(1, n):
            c = c + gc.sin(w[i])
        g = gc.grad(c, w)
        assert _ops(g, scatter) == 1
        f = gc.compile(g, [w])
        np.testing.assert_allclose(f(wv), np.cos(wv), rtol=1e-15)
        np.testing.assert_allclose(gc.evaluate(g, {w: wv}), np.cos(wv), rtol=1e-15)
        assert _longest_line(f) < LONGEST


def test_reads_along_a_later_axis_and_repeated_reads_combine():
    """w[:, k] for k < 300, some k read twice: one scatter, repeated indices accumulating."""
    w = gc.Variable("w", (None, 300))
    ks = list(range(300)) + [5, 5, 17]
    cost = gc.sum(gc.stack([gc.sin(w[:, k]) for k in ks]))
    g = gc.grad(cost, w)
    assert _ops(g, "index_grad_like") == 1
    wv = np.linspace(-1, 1, 600).reshape(2, 300)
    want = np.cos(wv) * np.bincount(ks, minlength=300)
    np.testing.assert_allclose(gc.compile(g, [w])(wv), want, rtol=1e-15)


@pytest.mark.parametrize("shape", [(3,), ()], ids=["array", "scalar"])
def test_an_add_n_of_thousands_of_terms_compiles_and_runs(shape):
    """d/dx sum_k sin(k x) = sum_k k cos(k x): 5000 terms that no scatter combines, one
    add_n in the gradient, written as chunks of 64 (the array code and the Python-float code)."""
    n = 5000
    x = gc.Variable("x", shape)
    c = gc.sin(x)
    for k in range(2, n + 1):
        c = c + gc.sin(x * float(k))
    cost = gc.sum(c)
    f = gc.compile([cost, gc.grad(cost, x)], [x])
    xv = np.full(shape, 0.3) if shape else 0.3
    k = np.arange(1, n + 1).reshape((-1,) + (1,) * len(shape))
    value, grad = f(xv)
    np.testing.assert_allclose(value, np.sum(np.sin(k * xv)), rtol=1e-10)
    np.testing.assert_allclose(grad, np.sum(k * np.cos(k * xv), axis=0), rtol=1e-10)
    assert _longest_line(f) < LONGEST


def test_a_stack_of_thousands_of_terms_and_its_gradient():
    n = 4000
    x = gc.Variable("x", (n,))
    s = gc.stack([x[i] * float(i % 5) for i in range(n)])
    f = gc.compile([s, gc.grad(gc.sum(s * s), x)], [x])
    xv = np.linspace(0, 1, n)
    k = np.arange(n) % 5
    value, grad = f(xv)
    np.testing.assert_array_equal(value, xv * k)
    np.testing.assert_allclose(grad, 2 * k * k * xv, rtol=1e-15)
    assert _longest_line(f) < LONGEST


@pytest.mark.parametrize("shape", ["known", "unknown"])
def test_the_gradient_of_a_concatenate_of_slices_grows_linearly(shape):
    """y = concatenate(x[i:i+2] * c_i): the gradient 2 c_i**2 x; its graph (edges) and its
    generated source (characters) at 2n pieces are at most about twice those at n (today:
    each of the n pieces' split_part read all n pieces, n**2 edges)."""
    sizes = {}
    for n in (500, 1000):
        x = gc.Variable("x", (2 * n,) if shape == "known" else (None,))
        cost = gc.sum(gc.concatenate([x[i : i + 2] * float(i % 7) for i in range(0, 2 * n, 2)]) ** 2)
        g = gc.grad(cost, x)
        f = gc.compile(g, [x])
        xv = np.linspace(-1, 1, 2 * n)
        c = (2 * (np.arange(2 * n) // 2) % 7).astype(float)
        np.testing.assert_allclose(f(xv), 2 * c * c * xv, rtol=1e-14)
        assert _longest_line(f) < LONGEST
        sizes[n] = (_edges(g), len(f.source))
    for a, b in zip(sizes[500], sizes[1000]):
        assert b <= 2.2 * a, sizes
    if shape == "known":  # the slices' gradients are one scatter, not n arrays the size of x
        x = gc.Variable("x", (2000,))
        g = gc.grad(gc.sum(gc.concatenate([x[i : i + 2] for i in range(0, 2000, 2)]) ** 2), x)
        assert _ops(g, "index_grad") == 1


def test_a_few_long_slices_keep_their_own_scatters():
    """Rosenbrock reads x[1:] and x[:-1]: summing their three pads costs about three passes
    over x, less than a scatter-add of the 2997 positions they cover (4x slower under XLA
    on CPU). The gradient and the Hessian-vector product still equal the closed forms."""
    n = 1000
    x, v = gc.Variable("x", (n,)), gc.Variable("v", (n,))
    f = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    g, hv = gc.grad(f, x), gc.hvp(f, x, v)
    scatters = [w for w in gc.Graph([g, hv]).variables if w.owner is not None and w.owner.op.name == "index_grad"]
    assert scatters and all(len(w.owner.inputs) == 1 for w in scatters)  # pads of one slice each, no index array
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    grad, Hv = rosenbrock_grad_and_hvp(xv, vv)
    got_g, got_hv = gc.compile([g, hv], [x, v])(xv, vv)
    np.testing.assert_allclose(got_g, grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_hv, Hv, rtol=1e-12, atol=1e-11)
