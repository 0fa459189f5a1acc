"""prune(z, T) is exactly ancestors(z) ∩ descendants(T), checked with networkx."""

from __future__ import annotations

import networkx as nx

import graphcomp as gc


def _expected(z, targets):
    full = gc.Graph(z).to_networkx()
    up = nx.ancestors(full, z) | {z}
    down = set().union(*[nx.descendants(full, t) | {t} for t in targets if t in full])
    return up & down


def _mlp():
    x, W1, W2, lam = gc.Variable("x", (3,)), gc.Variable("W1", (4, 3)), gc.Variable("W2", (2, 4)), gc.Variable("lam")
    o = W2 @ gc.relu(W1 @ x)
    J = gc.logsumexp(o) - o[0] + lam * ((W1 * W1).sum() + (W2 * W2).sum())
    return J, x, W1, W2, lam


def test_prune_matches_networkx_on_the_mlp():
    J, x, W1, W2, lam = _mlp()
    for targets in ([W1], [W2], [W1, W2], [x, lam], [J]):
        Gp = gc.prune(J, targets)
        assert set(Gp.nodes) == _expected(J, targets), targets


def test_pruned_graph_keeps_z_and_connected_targets_and_drops_others():
    x, y, unused = gc.Variable("x"), gc.Variable("y"), gc.Variable("unused")
    side = gc.exp(unused)  # noqa: F841 - built, but not an ancestor of z
    z = gc.sin(x) * y
    Gp = gc.prune(z, [x, unused])
    assert z in Gp and x in Gp
    assert unused not in Gp and y not in Gp  # y is an ancestor of z but no descendant of x
    assert Gp.consumers(x) == [z.owner.inputs[0]]
    assert set(Gp.nodes) == _expected(z, [x, unused])


def test_prune_nodes_follow_random_graphs(random_graph_factory):
    for seed in range(20):
        z, inputs = random_graph_factory(seed)
        targets = inputs[::2]
        assert set(gc.prune(z, targets).nodes) == _expected(z, targets)
