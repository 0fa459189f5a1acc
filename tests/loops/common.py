"""Shared helpers for the loop tests: the same body run as one loop node and
unrolled by a Python loop (the unrolled graph is differentiated by build_grad
on ordinary nodes, an oracle that shares no code with the loop's gradient)."""

from __future__ import annotations

import numpy as np

import graphcomp as gc


def unrolled(f, init, xs_list, reverse=False):
    """``(final_carry, [y_0, ..., y_{T-1}])`` of ``f`` run by a Python loop over the
    slices in ``xs_list`` (already indexed: one entry per step)."""
    carry = init
    ys = [None] * len(xs_list)
    order = reversed(range(len(xs_list))) if reverse else range(len(xs_list))
    for t in order:
        carry, ys[t] = f(carry, xs_list[t])
    return carry, ys


def assert_close(got, want, rtol=1e-10, atol=1e-12, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def central_fd(f, x: np.ndarray, direction: np.ndarray, eps: float = 1e-6) -> float:
    """(f(x + eps v) - f(x - eps v)) / (2 eps)."""
    return (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)


def count_nodes(outputs) -> int:
    return len(gc.Graph(outputs).variables)
