"""Shared fixtures: random graphs with shared subexpressions; hypothesis derandomized."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

import graphcomp as gc
from graphcomp.ops.binary import add_n

# ops that are smooth and finite for every real input, so random graphs can be
# checked with finite differences anywhere
UNARY = [gc.sin, gc.cos, gc.tanh, gc.sigmoid, gc.softplus, lambda v: v * 0.7, lambda v: gc.exp(gc.tanh(v))]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (1.5 + gc.sin(b))]

# the same examples on every run, so that `make test` and CI cannot fail by chance; each test's own
# @settings (max_examples, deadline) still apply. HYPOTHESIS_PROFILE=explore draws new examples.
settings.register_profile("derandomized", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "derandomized"))


def random_graph(seed: int, n_inputs: int = 3, n_nodes: int = 12, shape=(3,)):
    """A random DAG over ``n_inputs`` Variables in which nodes are reused (shared)."""
    rng = np.random.default_rng(seed)
    inputs = [gc.Variable(f"x{k}", shape) for k in range(n_inputs)]
    nodes = list(inputs)
    for _ in range(n_nodes):
        if rng.random() < 0.5:
            a = nodes[rng.integers(len(nodes))]
            nodes.append(UNARY[rng.integers(len(UNARY))](a))
        else:
            a, b = (nodes[i] for i in rng.integers(len(nodes), size=2))
            nodes.append(BINARY[rng.integers(len(BINARY))](a, b))
    # the cost reads the last few nodes, so several paths reach it
    z = add_n(*[(n * float(k + 1)).sum() for k, n in enumerate(nodes[-3:])])
    return z, inputs


@pytest.fixture
def random_graph_factory():
    return random_graph
