"""Variables and op applications: immutable, typed at build time, with the
place the user built them; NumPy operands mix in on either side."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphcomp as gc


def test_a_variable_knows_its_op_inputs_shape_dtype_name_and_site():
    x = gc.Variable("x", (None, 3))
    W = gc.Variable("W", (3, 4), "float32")
    y, line = x @ W, sys._getframe().f_lineno
    assert y.op.name == "matmul" and y.inputs == (x, W)
    assert y.shape == (None, 4) and y.dtype == np.float64  # float64 @ float32 -> float64, as NumPy
    assert x.name == "x" and x.op is None and x.is_input
    assert str(y.site) == f"test_node.py:{line}"
    assert y.ndim == 2 and x.T.shape == (3, None)


def test_nodes_are_immutable():
    x = gc.Variable("x")
    y = x * 2.0
    for node, attr in ((x, "name"), (y, "shape"), (y.owner, "inputs")):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(node, attr, None)
    c = gc.constant([1.0, 2.0])
    with pytest.raises(ValueError):
        c.value[0] = 5.0


def test_constant_copies_the_callers_array():
    a = np.array([1.0, 2.0])
    c = gc.constant(a)
    a[0] = 99.0
    assert c.value[0] == 1.0


def test_numpy_arrays_and_numbers_mix_in_on_either_side():
    x = gc.Variable("x", (3,))
    for y in (np.ones(3) + x, x + np.ones(3), 2.0 * x, x / 2, 1 - x, 2**x, np.ones((2, 3)) * x):
        assert isinstance(y, gc.Variable)
    assert (np.ones((2, 3)) * x).shape == (2, 3)


def test_python_scalars_are_weak_like_numpy():
    x32 = gc.Variable("x", (3,), "float32")
    assert (x32 * 2.0).dtype == np.float32 and (x32 + 1).dtype == np.float32
    k = gc.Variable("k", (3,), "int64")
    assert (k + 1).dtype == np.int64 and (k * 1.5).dtype == np.float64 and (k / 2).dtype == np.float64
    assert (x32 * np.float64(2.0)).dtype == np.float64  # a NumPy scalar is strong


def test_comparisons_are_boolean_and_equality_stays_identity():
    x = gc.Variable("x", (2,))
    for c in (x < 0, x <= 0, x > 0, x >= 0):
        assert c.dtype == np.bool_
    assert (x == x) is True and {x: 1}[x] == 1


def test_truth_value_and_iteration_are_refused_clearly():
    x = gc.Variable("x", (3,))
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)
    assert len(x) == 3


def test_impossible_shapes_fail_at_build_time_naming_the_op_both_shapes_and_the_site():
    a, b = gc.Variable("a", (3, 4)), gc.Variable("b", (5, 6))
    with pytest.raises(
        ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) are not aligned \(4 != 5\); built at test_node.py:\d+"
    ):
        a @ b
    with pytest.raises(gc.ShapeError, match=r"add: shapes \(3, 4\) and \(5, 6\) cannot be broadcast.*test_node.py"):
        a + b
    with pytest.raises(gc.ShapeError, match=r"reshape: cannot reshape \(3, 4\) into \(5,\)"):
        a.reshape(5)
    with pytest.raises(gc.ShapeError, match="axis 2 is out of bounds"):
        a.sum(axis=2)
    with pytest.raises(gc.ShapeError, match="index 3 is out of bounds for axis 0 with size 3"):
        a[3]


def test_unsupported_indices_are_refused_clearly():
    x = gc.Variable("x", (3,))
    with pytest.raises(TypeError, match="boolean mask must be the whole index"):
        x[np.array([True, False, True]), None]
    with pytest.raises(TypeError, match="integer dtype"):
        x[gc.Variable("f", (2,))]


def test_repr_shows_name_op_shape_and_dtype():
    x = gc.Variable("x", (2,))
    assert repr(x) == "<Variable x input shape=(2,) dtype=float64>"
    assert "sum" in repr(x.sum())


# -- what a node costs: shared Sites and parameterless ops -----------------------------------------------------


def test_nodes_built_on_one_line_share_one_site_object():
    x = gc.Variable("x", (3,))
    ys = [gc.tanh(x) for _ in range(3)]  # one line
    z = gc.exp(x)
    assert ys[0].site is ys[1].site is ys[2].site
    assert z.site is not ys[0].site and z.site.line == ys[0].site.line + 1


def test_parameterless_ops_are_one_instance_and_parameterised_ones_are_not():
    from graphcomp.ops.elementwise import Tanh
    from graphcomp.ops.reduce import Sum

    x = gc.Variable("x", (3,))
    assert gc.tanh(x).owner.op is gc.tanh(x * 2.0).owner.op is Tanh()
    a, b = Sum(axes=(0,), keepdims=False), Sum(axes=(0,), keepdims=True)
    assert a is not b and a != b and Sum(axes=(0,), keepdims=False) == a


@pytest.mark.parametrize("shape", [(5,), (5, 2), (None,), (None, 3), (1,)])
@pytest.mark.parametrize("k", [0, 1, 4, -1, -5, 5, -6])
def test_the_integer_index_shortcut_gives_numpys_general_rule(shape, k):
    from graphcomp.ops.indexing import index_shape

    x = gc.Variable("x", shape)
    try:
        want = index_shape(shape, (("i", k),), [])
    except gc.ShapeError as e:
        with pytest.raises(gc.ShapeError, match=str(e).split(";")[0][:40]):
            x[k]
        return
    assert x[k].shape == want == np.empty([7 if d is None else d for d in shape])[k].shape
