"""The interpreter runs only what the outputs need, in topological order, and
frees every intermediate after its last use."""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.base import Op
from graphcomp.runtime.schedule import Plan


@dataclasses.dataclass(frozen=True)
class Explode(Op):
    """A test op whose forward must never run."""

    name = "test_explode"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        raise AssertionError("an unneeded node was evaluated")


class Tracked(np.ndarray):
    """An array subclass that can be weakly referenced, to watch it being freed."""


@dataclasses.dataclass(frozen=True)
class Watch(Op):
    """Identity op that records a weak reference to each value it makes."""

    name = "test_watch"
    log: list = dataclasses.field(default_factory=list, compare=False, hash=False)

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        out = np.array(x).view(Tracked)
        self.log.append(weakref.ref(out))
        return out


def test_only_needed_nodes_run():
    x = gc.Variable("x")
    wanted = gc.exp(x)
    Explode()(x)  # built, but not needed by `wanted`
    assert float(gc.evaluate(wanted, {x: 0.0})) == 1.0


def test_intermediates_are_freed_after_their_last_use():
    x = gc.Variable("x", (3,))
    w = Watch()
    a = w(x)  # read by b only
    b = gc.sin(a)
    c = gc.cos(b) * 2.0
    plan = Plan.build([c])
    # a dies right after b (its only reader), b after cos(b)
    deaths = {v: k for k, step in enumerate(plan.steps) for v in step[3]}
    order = [s[0] for s in plan.steps]
    assert deaths[a] == order.index(b)
    assert deaths[b] == order.index(c.owner.inputs[0])
    assert c not in deaths  # outputs are never freed
    out = gc.evaluate(c, {x: np.ones(3)})
    assert w.log[-1]() is None  # a's value is gone although c is alive
    np.testing.assert_allclose(out, np.cos(np.sin(np.ones(3))) * 2.0)


def test_feed_by_variable_or_by_name():
    x, z = gc.Variable("x"), gc.Variable("z")
    assert float(gc.evaluate(x * z, {x: 2.0, "z": 4.0})) == 8.0


def test_list_in_list_out_and_single_in_array_out():
    x = gc.Variable("x", (2,))
    single = gc.evaluate(x * 2.0, {x: [1.0, 2.0]})
    pair = gc.evaluate([x * 2.0, x.sum()], {x: [1.0, 2.0]})
    assert isinstance(single, np.ndarray) and isinstance(pair, list) and len(pair) == 2


def test_unneeded_input_variables_are_checked_and_ignored():
    x, other = gc.Variable("x"), gc.Variable("other", (2,))
    assert float(gc.evaluate(x + 1.0, {x: 1.0, other: [1.0, 2.0]})) == 2.0
    with pytest.raises(ValueError, match=r"other.*\(3,\).*\(2,\)"):
        gc.evaluate(x + 1.0, {x: 1.0, other: [1.0, 2.0, 3.0]})


@pytest.mark.parametrize(
    "feed, message",
    [
        ({}, r"no value was fed for input 'x'.*\(2, 3\)"),
        ({"nope": 1.0}, r"no input of the graph is named 'nope'"),
        ({"x": np.ones((3, 2))}, r"'x'.*shape \(3, 2\).*shape is \(2, 3\)"),
        ({"x": np.ones((2, 3, 1))}, r"'x'.*shape \(2, 3, 1\).*shape is \(2, 3\)"),
        ({"x": np.ones(3)}, r"'x'.*shape \(3,\)"),
    ],
    ids=["missing", "unknown-name", "transposed", "extra-dim", "broadcastable"],
)
def test_bad_feeds_are_refused_with_the_variable_and_both_shapes(feed, message):
    x = gc.Variable("x", (2, 3))
    with pytest.raises(ValueError, match=message):
        gc.evaluate(x * 2.0, feed)


def test_unknown_dimensions_accept_any_size():
    x = gc.Variable("x", (None, 3))
    assert gc.evaluate(x.sum(axis=1), {x: np.ones((5, 3))}).shape == (5,)


def test_dtype_that_would_lose_information_is_refused():
    k = gc.Variable("k", (2,), "int64")
    with pytest.raises(TypeError, match="float64.*int64"):
        gc.evaluate(k * 2, {k: np.array([1.5, 2.0])})
    with pytest.raises(ValueError, match="int64"):
        gc.evaluate(k * 2, {k: [1.5, 2.0]})
    f32 = gc.Variable("f", (), "float32")
    with pytest.raises(TypeError, match="float64.*float32"):
        gc.evaluate(f32 * 2, {f32: np.float64(1.0)})


def test_lossless_values_are_converted_to_the_variable_dtype():
    x = gc.Variable("x", (2,))
    out = gc.evaluate(x, {x: np.array([1, 2], dtype=np.int32)})
    assert out.dtype == np.float64
    f32 = gc.Variable("f", (), "float32")
    assert gc.evaluate(f32 * 2, {f32: 1.5}).dtype == np.float32  # a Python float is weak


def test_feeding_a_non_input_node_is_refused():
    x = gc.Variable("x")
    y = x * 2.0
    with pytest.raises(ValueError, match="not an input"):
        gc.evaluate(y + 1.0, {x: 1.0, y: 5.0})


def test_an_ambiguous_name_is_refused():
    a, b = gc.Variable("w"), gc.Variable("w")
    with pytest.raises(ValueError, match="names 2 inputs"):
        gc.evaluate(a + b, {"w": 1.0})
    assert float(gc.evaluate(a + b, {a: 1.0, b: 2.0})) == 3.0


def test_a_failing_op_names_the_node_its_inputs_and_where_it_was_built():
    x, y = gc.Variable("x", (None,)), gc.Variable("y", (None,))
    z = x + y
    with pytest.raises(gc.GraphError, match=r"add failed on inputs \(x: \(2,\).*y: \(3,\).*test_evaluate.py"):
        gc.evaluate(z, {x: np.ones(2), y: np.ones(3)})
