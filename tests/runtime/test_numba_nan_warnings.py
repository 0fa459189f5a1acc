"""The Numba backend's kernels raise NumPy's floating-point warnings, no more and
no fewer (underflow aside: ignored by default, see ``_warned``): for every op a
kernel can contain, at every special value (NaN, the
infinities, signed zeros, subnormals, the largest floats) and every pair of
them, the warnings of a kernel of that one op are the warnings of the op's own
NumPy forward (``np.maximum``, ``np.clip``, ``np.less``, ...) on the same
values. Each value fills a whole array, so the vectorised loop (whose
comparisons raise the invalid flag on NaN in machine code) is what runs."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.fused import Fused, can_fuse

pytest.importorskip("numba")

from graphcomp.runtime.backends.numba import kernel  # noqa: E402

FUSABLE = sorted(name for name, cls in REGISTRY.items() if can_fuse(cls))
SPECIAL = [np.nan, -np.inf, np.inf, -0.0, 0.0, 5e-324, -1e-310, 1.5, -2.5, 0.5, 1e308, -1e308]
LANES = 64  # a whole vector loop and its remainder


def _warned(fn, *args) -> set[str]:
    """The kinds of floating-point warning (invalid, overflow, ...) ``fn`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # underflow is NumPy's one flag ignored by default, and libm's tanh and erf raise it for a
        # subnormal result where NumPy's own loops (SIMD tanh, erf as a Python loop) do not
        with np.errstate(all="warn", under="ignore"):
            fn(*args)
    return {str(w.message).split(" encountered")[0] for w in caught if issubclass(w.category, RuntimeWarning)}


def _program(name: str) -> tuple[Fused, int]:
    arity = 3 if name == "add_n" else len(inspect.signature(REGISTRY[name].infer).parameters) - 1
    dtypes = ["bool" if (name == "where" and j == 0) else "float64" for j in range(arity)]
    return Fused(((name, *(f"a{j}" for j in range(arity))),), tuple(dtypes)), arity


def _points(arity: int):
    if arity == 1:
        return [(v,) for v in SPECIAL]
    if arity == 2:
        return [(a, b) for a in SPECIAL for b in SPECIAL]
    return [(a, b, c) for a in SPECIAL[:6] for b in SPECIAL[:6] for c in SPECIAL[:6]]


@pytest.mark.parametrize("name", FUSABLE)
def test_a_kernel_warns_where_numpy_warns_and_nowhere_else(name):
    op, arity = _program(name)
    k = kernel(op)
    mismatches = []
    for point in _points(arity):
        args = [np.full(LANES, v) for v in point]
        if name == "where":
            args[0] = args[0] > 0
        numpy_says, kernel_says = _warned(op.forward, *args), _warned(k, *args)
        if numpy_says != kernel_says:
            mismatches.append(f"{name}{point}: NumPy {sorted(numpy_says)}, kernel {sorted(kernel_says)}")
        with np.errstate(all="ignore"):
            want, got = np.asarray(op.forward(*args)), np.asarray(k(*args))
        assert np.allclose(got, want, rtol=1e-15, atol=0, equal_nan=True), (name, point, got[0], want[0])
        assert np.array_equal(np.isnan(got), np.isnan(want)), (name, point)
    assert not mismatches, mismatches


def test_the_reported_graphs_are_silent_on_nan_under_both_backends():
    """clip, maximum and relu of a NaN: np.clip and the NumPy backend are silent; so is Numba."""
    x = gc.Variable("x", (2 * LANES,))
    xv = np.tile([np.nan, 0.5], LANES)
    for y in (gc.clip(x, 0.0, 1.0), gc.maximum(x, 0.25), gc.relu(x), gc.where(x > 0.3, x, -x), gc.sigmoid(x) * 2.0):
        for backend in ("numpy", "numba"):
            f = gc.compile(y, [x], backend=backend)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # any NodeWarning fails the test
                out = f(xv)
            assert np.isnan(out[0]) and not np.isnan(out[1])
    assert _warned(np.clip, xv, 0.0, 1.0) == set() and _warned(np.maximum, xv, 0.0) == set()


def test_a_genuine_invalid_operation_still_warns_in_a_kernel():
    """Quiet comparisons keep NumPy's real warnings: log(-1), inf * 0, inf - inf, in one kernel
    with a maximum (z is an input, so no rewrite folds the product away)."""
    x, z = gc.Variable("x", (LANES,)), gc.Variable("z", (LANES,))
    y = gc.maximum(gc.log(x) * z - z, -1.0)
    f = gc.compile(y, [x, z], backend="numba")
    for xv, zv in ((-1.0, 1.0), (np.inf, 0.0), (np.inf, np.inf)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(all="ignore"):
                want = gc.compile(y, [x, z])(np.full(LANES, xv), np.full(LANES, zv))
            got = f(np.full(LANES, xv), np.full(LANES, zv))
        # NumPy's RuntimeWarning (gc.NodeWarning, a subclass, where the run names the node)
        assert any(issubclass(w.category, RuntimeWarning) and "invalid value" in str(w.message) for w in caught)
        np.testing.assert_array_equal(got, want)
