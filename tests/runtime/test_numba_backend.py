"""``compile(..., backend="numba")``: fused kernels compute what NumPy computes,
special values included; the workloads' gradients match their closed forms."""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.fused import Fused, can_fuse
from tests.helpers import rosenbrock_grad_and_hvp

pytest.importorskip("numba")  # a dev dependency; skipped only where someone uninstalled it

from graphcomp.runtime.backends.numba import kernel  # noqa: E402

#: every op a kernel can contain: its scalar form is the kernel's text
FUSABLE = sorted(name for name, cls in REGISTRY.items() if can_fuse(cls))

SPECIAL = np.array([-np.inf, -800.0, -1.5, -0.0, 0.0, 1e-300, 0.5, 2.0, 800.0, np.inf, np.nan])


@pytest.mark.parametrize("name", FUSABLE)
def test_each_kernel_form_computes_what_numpy_does_at_special_values(name):
    """Every op a kernel can contain, on infinities, NaN, signed zeros and huge
    arguments, against the op's own NumPy forward (NaN where NumPy has NaN)."""
    arity = 3 if name == "add_n" else len(inspect.signature(REGISTRY[name].infer).parameters) - 1
    a = np.repeat(SPECIAL, SPECIAL.size)  # every pair of special values
    b = np.tile(SPECIAL, SPECIAL.size)
    args = [a, b, np.roll(a, 3)][:arity]
    dtypes = ["float64"] * arity
    if name == "where":
        args[0], dtypes[0] = args[0] > 0, "bool"
    op = Fused(((name, *(f"a{j}" for j in range(arity))),), tuple(dtypes))
    with np.errstate(all="ignore"):
        want = op.forward(*args)
        got = kernel(op)(*args)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=4e-16 if name in ("add", "multiply") else 1e-14, atol=0)


def test_a_compiled_mlp_gradient_matches_the_lectures_closed_form():
    rng = np.random.default_rng(0)
    B, d, h, q, lam = 8, 5, 7, 3, 1e-2
    X, y = gc.Variable("X", (B, d)), gc.Variable("y", (B,), "int64")
    W1, W2 = gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    f = gc.compile([J, *gc.grad(J, [W1, W2])], [X, y, W1, W2], backend="numba", verify_passes=True)
    assert "fused" in {v.owner.op.name for v in f.graph.variables if v.owner}
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1v, W2v = rng.standard_normal((d, h)), rng.standard_normal((h, q))
    Z = Xv @ W1v
    H = np.maximum(Z, 0)
    O = H @ W2v  # noqa: E741
    E = np.exp(O - O.max(1, keepdims=True))
    P = E / E.sum(1, keepdims=True)
    J_want = -np.mean(np.log(P[np.arange(B), yv])) + lam / 2 * ((W1v**2).sum() + (W2v**2).sum())
    G = P.copy()
    G[np.arange(B), yv] -= 1
    G /= B
    dW2 = H.T @ G + lam * W2v
    dW1 = Xv.T @ ((G @ W2v.T) * (Z > 0)) + lam * W1v
    for got, want in zip(f(Xv, yv, W1v, W2v), (J_want, dW1, dW2)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_a_rosenbrock_hessian_vector_product_matches_its_closed_form():
    n = 50
    x, v = gc.Variable("x", (n,)), gc.Variable("v", (n,))
    f_ = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    f = gc.compile(gc.hvp(f_, x, v), backend="numba")
    rng = np.random.default_rng(1)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    _, want = rosenbrock_grad_and_hvp(xv, vv)
    np.testing.assert_allclose(f(xv, vv), want, rtol=1e-12, atol=1e-12)


def test_fused_results_reuse_a_dying_buffer_and_never_the_callers():
    x, w = gc.Variable("x", (4, 3)), gc.Variable("w", (3, 2))
    f = gc.compile(gc.tanh((x @ w) * 2.0 + x.sum()), backend="numba", whole=False)  # the per-op mode's kernels
    assert "out=" in f.source  # the fused scale-and-shift writes into the matmul's dying result
    rng = np.random.default_rng(2)
    xv, wv = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    before = xv.copy(), wv.copy()
    np.testing.assert_allclose(f(xv, wv), np.tanh(xv @ wv * 2.0 + xv.sum()), rtol=1e-14)
    np.testing.assert_array_equal(xv, before[0])
    np.testing.assert_array_equal(wv, before[1])


def test_the_source_shows_each_fused_program():
    x = gc.Variable("x", (3,))
    f = gc.compile(gc.relu(x * 2.0 + 1.0), backend="numba")
    assert "# fused[relu(a0 * 2.0 + 1.0)](x) -> (3,) float64" in f.source


def test_check_finite_runs_the_users_nodes_unfused():
    x = gc.Variable("x", (2,))
    f = gc.compile(gc.log(x) * 2.0 + 1.0, backend="numba", check_finite=True)
    assert "fused" not in {v.owner.op.name for v in f.graph.variables if v.owner}
    with pytest.raises(FloatingPointError, match="log"):
        f(np.array([1.0, 0.0]))


def test_the_fuse_pass_can_be_switched_off_by_name():
    x = gc.Variable("x", (3,))
    all_on = gc.compile(gc.sqrt(x) * 2.0, backend="numba")
    off = gc.compile(gc.sqrt(x) * 2.0, backend="numba", passes=["merge", "simplify"])
    assert [v.owner.op.name for v in all_on.graph.variables if v.owner] == ["fused"]
    assert [v.owner.op.name for v in off.graph.variables if v.owner] == ["sqrt", "multiply"]
    np.testing.assert_allclose(all_on([1.0, 2.0, 3.0]), off([1.0, 2.0, 3.0]), rtol=1e-15)


def test_an_unknown_backend_and_a_missing_numba_are_clear_errors(monkeypatch):
    x = gc.Variable("x", (3,))
    with pytest.raises(ValueError, match=r"unknown backend 'cupy'; the backends are 'numpy', 'numba' and 'jax'"):
        gc.compile(gc.exp(x), backend="cupy")
    with pytest.raises(ValueError, match="has no callee or passes"):
        gc.compile(gc.exp(x), backend=object())
    monkeypatch.setitem(sys.modules, "numba", None)  # what `import numba` sees when it is not installed
    with pytest.raises(ValueError, match=r"backend 'numba' needs Numba.*pip install 'graphcomp\[numba\]'"):
        gc.compile(gc.exp(x), backend="numba")
