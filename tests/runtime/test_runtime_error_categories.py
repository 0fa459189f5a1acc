"""Errors at run time keep the built-in category of what went wrong (issue 14,
item 14): the oracle is the exception NumPy itself raises on the same values,
which the graphcomp error must also be, in evaluate and in compiled code
(straight-line and rolled into loops), while naming the node and the user's line."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import graphcomp as gc
import graphcomp.errors


def _numpy_raises(fn) -> type:
    with pytest.raises(Exception) as e:
        fn()
    return type(e.value)


def _runs(outputs, inputs, values):
    """evaluate, compile (passes on and off) and compile rolled into loops."""
    feed = dict(zip(inputs, values))
    yield "evaluate", lambda: gc.evaluate(outputs, feed)
    yield "compile", lambda: gc.compile(outputs, inputs)(*values)
    yield "compile, no passes", lambda: gc.compile(outputs, inputs, passes=[])(*values)


def _check(error, kind, op, node=None):
    assert isinstance(error, kind), type(error).__mro__
    assert isinstance(error, gc.EvaluationError) and isinstance(error, gc.GraphError)
    assert f"{op}" in str(error) and "test_runtime_error_categories.py" in str(error)
    assert error.site is not None and error.node is not None and error.node.owner.op.name == op
    if node is not None:
        assert error.node is node


def test_a_matmul_shape_mismatch_is_a_value_error_as_in_numpy():
    a, b = gc.Variable("a", (None, 4)), gc.Variable("b", (None, 3))
    y = gc.matmul(a, b)
    A, B = np.ones((2, 4)), np.ones((5, 3))
    kind = _numpy_raises(lambda: np.matmul(A, B))
    assert issubclass(kind, ValueError)
    for how, run in _runs(y, [a, b], [A, B]):
        with pytest.raises(kind) as e:
            run()
        _check(e.value, ValueError, "matmul", y)
        assert not isinstance(e.value, RuntimeError), how  # it was a RuntimeError
        assert isinstance(e.value.__cause__, kind)


def test_a_broadcast_mismatch_is_a_value_error():
    a, b = gc.Variable("a", (None,)), gc.Variable("b", (None,))
    y = gc.sin(a) + gc.cos(b)
    A, B = np.ones(2), np.ones(3)
    kind = _numpy_raises(lambda: np.sin(A) + np.cos(B))
    for _, run in _runs(y, [a, b], [A, B]):
        with pytest.raises(kind) as e:
            run()
        _check(e.value, ValueError, "add", y)


def test_an_index_out_of_range_is_an_index_error():
    x, i = gc.Variable("x", (3,)), gc.Variable("i", (None,), "int64")
    y = x[i] * 2.0
    X, idx = np.ones(3), np.array([7])
    kind = _numpy_raises(lambda: X[idx])
    assert issubclass(kind, IndexError)
    for _, run in _runs(y, [x, i], [X, idx]):
        with pytest.raises(IndexError) as e:
            run()
        _check(e.value, kind, "getitem")


def test_an_index_out_of_range_inside_a_rolled_loop_is_an_index_error():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (None,))
    y = x
    for k in range(20):
        y = gc.tanh(w[k] * y)
    f = gc.compile(y.sum(), [x, w], loops=True)
    assert "for _t" in f.source
    with pytest.raises(IndexError, match=r"getitem\[11\] failed") as e:
        f(np.ones(3), np.full(11, 0.5))
    assert isinstance(e.value, gc.EvaluationError)


@pytest.mark.parametrize("bad", [4, -1])
def test_a_label_out_of_range_in_cross_entropy_is_an_index_error(bad):
    logits, labels = gc.Variable("z", (2, 4)), gc.Variable("y", (2,), "int64")
    ce = gc.nn.cross_entropy(logits, labels)
    # NumPy's take_along_axis / fancy indexing says the same kind for the same labels
    kind = _numpy_raises(lambda: np.zeros((2, 4))[np.arange(2), np.array([0, 4])])
    assert issubclass(kind, IndexError)
    for _, run in _runs(ce, [logits, labels], [np.zeros((2, 4)), np.array([0, bad])]):
        with pytest.raises(IndexError, match=rf"label {bad} is out of range for 4 classes") as e:
            run()
        assert isinstance(e.value, gc.EvaluationError) and e.value.node is ce


def test_errors_with_numpys_errstate_raise_are_floating_point_errors():
    x = gc.Variable("x", (2,))
    y = gc.log(x)
    with np.errstate(all="raise"):
        kind = _numpy_raises(lambda: np.log(np.array([1.0, -1.0])))
        assert issubclass(kind, FloatingPointError)
        for _, run in _runs(y, [x], [np.array([1.0, -1.0])]):
            with pytest.raises(FloatingPointError) as e:
                run()
            _check(e.value, kind, "log", y)


def test_evaluation_error_is_in_graphcomp_errors_and_still_gc_evaluation_error():
    assert gc.EvaluationError is graphcomp.errors.EvaluationError
    from graphcomp.runtime.evaluate import EvaluationError

    assert EvaluationError is gc.EvaluationError
    assert issubclass(gc.EvaluationError, gc.GraphError)
    # an exception of no more specific built-in category is a RuntimeError, as before
    assert issubclass(gc.EvaluationError.of(Exception("x")), RuntimeError)
    # one that is several (NumPy's AxisError is a ValueError and an IndexError) keeps both
    cls = gc.EvaluationError.of(np.exceptions.AxisError(3, 1))
    assert issubclass(cls, ValueError) and issubclass(cls, IndexError)
    # a built-in with its own instance layout keeps its category too
    assert issubclass(gc.EvaluationError.of(FileNotFoundError("f")), FileNotFoundError)


def test_a_runtime_error_survives_pickling_with_its_category():
    a, b = gc.Variable("a", (None, 4)), gc.Variable("b", (None, 3))
    with pytest.raises(ValueError) as e:
        gc.evaluate(a @ b, {a: np.ones((2, 4)), b: np.ones((5, 3))})
    again = pickle.loads(pickle.dumps(e.value))
    assert isinstance(again, ValueError) and isinstance(again, gc.EvaluationError)
    assert str(again) == str(e.value)
