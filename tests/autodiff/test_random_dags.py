"""Hypothesis-generated DAGs with shared subexpressions: gradients match finite
differences, every node of G' gets exactly one grad_table entry, and
evaluate agrees with compile (with either backend)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from tests.conftest import random_graph
from tests.helpers import assert_grads_match_fd


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(1, 25))
def test_random_dag_gradients_match_finite_differences(seed, n_nodes):
    z, inputs = random_graph(seed, n_nodes=n_nodes)
    values = [np.random.default_rng(seed).uniform(-1, 1, 3) for _ in inputs]
    r = gc.backprop(z, inputs)
    assert set(r.grad_table) == set(r.pruned.variables) | set(inputs)
    connected = [k for k, x in enumerate(inputs) if not r.disconnected(x)]
    if connected:
        assert_grads_match_fd(z, inputs, values, connected, np.random.default_rng(seed + 1))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_evaluate_agrees_with_compile(backend, seed):
    if backend == "numba":
        pytest.importorskip("numba")  # a dev dependency; skipped only where someone uninstalled it
    z, inputs = random_graph(seed, n_nodes=15)
    grads = gc.grad(z, inputs, disconnected="zero")
    values = [np.random.default_rng(seed).uniform(-1, 1, 3) for _ in inputs]
    want = gc.evaluate([z, *grads], dict(zip(inputs, values)))
    got = gc.compile([z, *grads], inputs, verify_passes=True, backend=backend)(*values)
    for a, b in zip(got, want):
        # the passes may reassociate (2*b for b + b, (c*d)*x for c*(d*x)): the last bit may differ
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
