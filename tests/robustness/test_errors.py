"""Errors point at the user's line, name the op and the shapes, and belong to one hierarchy."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphcomp as gc


def test_op_errors_name_op_shapes_and_the_users_line():
    a, b = gc.Variable("a", (3, 4)), gc.Variable("b", (5, 6))
    where = f"test_errors.py:{sys._getframe().f_lineno + 2}"
    with pytest.raises(gc.ShapeError) as e:
        a @ b
    assert str(e.value) == f"matmul: shapes (3, 4) and (5, 6) are not aligned (4 != 5); built at {where}"
    assert str(e.value.site) == where


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: gc.sum(x, axis=5), "sum: axis 5 is out of bounds"),
        (lambda x: gc.reshape(x, "ab"), "reshape: shape must be an int or a sequence of ints"),
        (lambda x: gc.transpose(x, (0, 0)), r"transpose: axes \(0, 0\) do not match"),
        (lambda x: x[0, 0, 0], "too many indices"),
        (lambda x: x[1.5], "float64 indices are not supported"),
        (lambda x: gc.concatenate(x), "expects a list"),
        (lambda x: gc.constant(object()), "cannot embed"),
    ],
)
def test_argument_errors_also_name_the_users_line(build, message):
    x = gc.Variable("x", (2, 3))
    with pytest.raises(gc.GraphError, match=message) as e:
        build(x)
    assert "test_errors.py:" in str(e.value)


def test_runtime_errors_keep_numpys_message_as_the_cause():
    x, idx = gc.Variable("x", (3,)), gc.Variable("i", (None,), "int64")
    y = x[idx]
    with pytest.raises(gc.GraphError, match=r"getitem.*failed on inputs \(x: \(3,\) float64, i: \(1,\) int64\)") as e:
        gc.evaluate(y, {x: np.ones(3), idx: np.array([7])})
    assert isinstance(e.value.__cause__, IndexError) and "out of bounds" in str(e.value)
    assert "test_errors.py" in str(e.value)


def test_the_hierarchy_also_derives_from_the_builtins_users_catch():
    assert issubclass(gc.ShapeError, ValueError) and issubclass(gc.DTypeError, TypeError)
    assert issubclass(gc.InputError, ValueError) and issubclass(gc.SignatureError, TypeError)
    assert issubclass(gc.NonFiniteError, FloatingPointError) and issubclass(gc.ArgumentError, TypeError)
    for cls in (gc.ShapeError, gc.DTypeError, gc.InputError, gc.GradientError, gc.NonFiniteError, gc.LoadError,
                gc.ArgumentError, gc.EvaluationError, gc.NotInGraphError):  # fmt: skip
        assert issubclass(cls, gc.GraphError)
