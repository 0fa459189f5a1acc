"""Bad carries, bad bodies and bad xs raise clear errors that name the entry,
both shapes or dtypes, and the user's line."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc

LINE = "test_errors.py:"


def test_new_carry_with_another_shape_names_the_entry_and_both_shapes():
    with pytest.raises(gc.ShapeError) as e:
        gc.scan(lambda c, x: ((c[0], gc.concatenate([c[1], x])), None), (1.0, gc.constant(np.zeros(2))),
                gc.Variable("xs", (4, 1)))  # fmt: skip
    msg = str(e.value)
    assert "new carry[1]" in msg and "(3,)" in msg and "init[1] (built at test_errors.py:" in msg and "(2,)" in msg
    assert msg.count(LINE) == 3  # where the new carry was built, init and the scan call (one line here)


def test_new_carry_with_another_dtype_names_the_entry_and_both_dtypes():
    with pytest.raises(gc.DTypeError) as e:
        gc.scan(lambda c, x: ((c[0], c[1].astype("float32")), None), (0, gc.Variable("h", (2,))), length=2)
    msg = str(e.value)
    assert "new carry[1] has dtype float32" in msg and "(2,)" in msg
    assert "init[1] (built at test_errors.py:" in msg and ") has dtype float64" in msg
    assert msg.count(LINE) == 3
    with pytest.raises(gc.DTypeError) as e:
        x = gc.Variable("x", (3,), "float32")
        gc.scan(lambda c, xt: (c + gc.cast(xt, "float64").sum(), None), x.sum(), x.reshape(3, 1))
    assert "new carry has dtype float64" in str(e.value) and ") has dtype float32" in str(e.value)


def _line(offset: int = 0) -> str:
    """``test_errors.py:<the caller's line + offset>``."""
    import inspect

    return f"test_errors.py:{inspect.currentframe().f_back.f_lineno + offset}"


def test_a_carry_mismatch_names_the_body_line_the_loop_line_and_the_init_line():
    h0 = gc.Variable("h0", (2,))
    init_line = _line(-1)
    xs = gc.Variable("xs", (3, 2), "float32")

    def body(c, x):
        return c.astype("float32") + x, None

    body_line = _line(-2)
    with pytest.raises(gc.DTypeError) as e:
        gc.scan(body, h0, xs)
    scan_line = _line(-1)
    msg = str(e.value)
    assert f"built at {body_line}" in msg and f"init (built at {init_line})" in msg and msg.endswith(scan_line)
    with pytest.raises(gc.ShapeError) as e:
        gc.fori_loop(0, 2, lambda i, c: gc.concatenate([c, c]), h0)
    line = _line(-1)
    msg = str(e.value)
    assert msg.count(line) == 2 and f"init (built at {init_line}) has shape (2,)" in msg
    with pytest.raises(gc.DTypeError, match=r"init \(a NumPy ndarray of dtype float64\) has dtype float64"):
        gc.scan(body, np.zeros(2), xs)


def test_new_carry_with_another_structure():
    with pytest.raises(gc.ArgumentError) as e:
        gc.scan(lambda c, x: ((c, c), None), 0.0, length=2)
    msg = str(e.value)
    assert "structure ((*, *), *)" not in msg and "(*, *)" in msg and "*" in msg and LINE in msg
    with pytest.raises(gc.ArgumentError, match=r"structure \[\*\].*structure \(\*,\)"):
        gc.scan(lambda c, x: ([c[0]], None), (0.0,), length=2)


def test_body_must_return_a_pair():
    with pytest.raises(gc.ArgumentError, match=r"f must return a pair \(new_carry, y\), got a single Variable"):
        gc.scan(lambda c, x: c + x, 0.0, gc.Variable("xs", (3,)))
    with pytest.raises(gc.ArgumentError, match="got a tuple of 3"):
        gc.scan(lambda c, x: (c, x, x), 0.0, gc.Variable("xs", (3,)))


def test_body_returning_something_that_is_not_a_variable():
    with pytest.raises(gc.ArgumentError, match=r"y\[1\] is a str"):
        gc.scan(lambda c, x: (c, (x, "hello")), 0.0, gc.Variable("xs", (3,)))
    with pytest.raises(gc.ArgumentError, match="the new carry is a str"):
        gc.fori_loop(0, 2, lambda i, c: "c", 0.0)


def test_fori_loop_body_changing_structure():
    with pytest.raises(gc.ArgumentError, match="structure"):
        gc.fori_loop(0, 2, lambda i, c: (c, c), 0.0)


def test_xs_with_different_leading_dimensions():
    a, b = gc.Variable("a", (4, 2)), gc.Variable("b", (5,))
    with pytest.raises(gc.ShapeError) as e:
        gc.scan(lambda c, x: (c, None), 0.0, (a, b))
    msg = str(e.value)
    assert "xs[1]" in msg and "(5,)" in msg and "xs[0]" in msg and "(4, 2)" in msg and LINE in msg
    with pytest.raises(gc.ShapeError, match="length gives 3"):
        gc.scan(lambda c, x: (c, None), 0.0, a, length=3)


def test_xs_without_a_leading_axis():
    with pytest.raises(gc.ShapeError, match=r"xs has shape \(\) and no leading axis"):
        gc.scan(lambda c, x: (c, None), 0.0, gc.Variable("s"))


def test_number_of_steps_must_be_known_somehow():
    with pytest.raises(gc.ArgumentError, match="give xs to scan over or the number of steps as length"):
        gc.scan(lambda c, x: (c, None), 0.0)
    for bad in (-1, 2.0, True, gc.constant(3)):
        with pytest.raises(gc.ArgumentError, match="length must be a non-negative int"):
            gc.scan(lambda c, x: (c, None), 0.0, length=bad)
    with pytest.raises(gc.ArgumentError, match="lower must be an int known when the graph is built"):
        gc.fori_loop(gc.constant(0), 3, lambda i, c: c, 0.0)
    with pytest.raises(gc.ArgumentError, match="nothing to map over"):
        gc.map(lambda x: x, None)


def test_errors_inside_the_body_point_at_the_body_line():
    with pytest.raises(gc.ShapeError) as e:
        gc.scan(lambda c, x: (c + gc.Variable("w", (2, 3)) @ x, None), gc.constant(np.zeros(2)),
                gc.Variable("xs", (4, 2)))  # fmt: skip
    assert "matmul" in str(e.value) and LINE in str(e.value)


def test_run_time_disagreement_of_xs_lengths():
    a, b = gc.Variable("a", (None,)), gc.Variable("b", (None,))
    c, _ = gc.scan(lambda c, x: (c + x[0] * x[1], None), 0.0, (a, b))
    with pytest.raises(gc.EvaluationError) as e:
        gc.evaluate(c, {a: np.ones(3), b: np.ones(4)})
    msg = str(e.value)
    assert "xs[1] has leading dimension 4" in msg and "xs[0] has 3" in msg and LINE in msg
    f = gc.compile(c, [a, b])
    with pytest.raises(gc.EvaluationError, match="xs\\[1\\] has leading dimension 4"):
        f(np.ones(3), np.ones(4))


def test_run_time_change_of_a_carry_shape_is_an_error():
    # statically (None,) -> (None,), but at run time the body grows the carry
    xs = gc.Variable("xs", (None, None))
    c, _ = gc.scan(lambda c, x: (c * 0.5 + x, None), xs[0], xs)
    assert gc.evaluate(c, {xs: np.ones((2, 3))}).tolist() == [1.75, 1.75, 1.75]  # 1 -> 1.5 -> 1.75
    c2, _ = gc.scan(lambda c, x: (gc.concatenate([c, x[:1]]), None), xs[0], xs)
    grew = r"new carry has shape \(4,\), but it entered the loop with shape \(3,\)"
    with pytest.raises(gc.EvaluationError, match=grew):
        gc.evaluate(c2, {xs: np.ones((2, 3))})


def test_an_op_failing_inside_the_body_names_the_step_and_the_body_line():
    xs = gc.Variable("xs", (None, None))
    c, _ = gc.scan(lambda c, x: (c + x.reshape(2, 2).sum(), None), 0.0, xs)
    with pytest.raises(gc.EvaluationError) as e:
        gc.evaluate(c, {xs: np.ones((3, 5))})
    msg = str(e.value)
    assert "step t=0" in msg and "reshape" in msg and msg.count(LINE) == 2


def test_length_and_xs_of_unknown_length_must_agree_at_run_time():
    xs = gc.Variable("xs", (None,))
    c, _ = gc.scan(lambda c, x: (c + x, None), 0.0, xs, length=3)
    assert float(gc.evaluate(c, {xs: np.ones(3)})) == 3.0
    with pytest.raises(gc.EvaluationError, match="xs\\[0\\] has leading dimension 4.*the loop's length is 3"):
        gc.evaluate(c, {xs: np.ones(4)})


def _message(run):
    with pytest.raises(gc.EvaluationError) as e:
        run()
    return e.value


@pytest.mark.parametrize("nested", [False, True])
def test_one_message_per_failure_the_same_from_evaluate_and_compile(nested):
    xs = gc.Variable("xs", (None, None))

    def body(c, x):
        return c + x.reshape(2, 2).sum(), None

    if nested:
        c, _ = gc.scan(lambda c, x: (c + gc.scan(body, 0.0, x.reshape(1, -1))[0], None), 0.0, xs)
    else:
        c, _ = gc.scan(body, 0.0, xs)
    data = np.ones((3, 5))
    by_evaluate = _message(lambda: gc.evaluate(c, {xs: data}))
    by_compile = _message(lambda: gc.compile(c, [xs])(data))
    assert str(by_evaluate) == str(by_compile)
    msg = str(by_evaluate)
    # the failing node, its input and NumPy's words once; each loop's step and line once
    assert msg.count("failed on inputs") == 1 and msg.count("cannot reshape") == 1
    assert msg.count("at step t=0") == (2 if nested else 1)
    assert msg.count("in the loop built at") == (2 if nested else 1)
    assert msg.startswith("scan: at step t=0, ") and msg.count(LINE) == (3 if nested else 2)  # both loops: one line
    for e in (by_evaluate, by_compile):  # NumPy's category is kept; the error names the outer loop node
        assert isinstance(e, ValueError) and isinstance(e.node.op, gc.ops.loops.op.Scan)
        assert e.node.owner.inputs[1] is xs


def test_a_carry_changing_shape_is_said_once_the_same_way_by_evaluate_and_compile():
    xs = gc.Variable("xs", (None, None))
    c, _ = gc.scan(lambda c, x: (gc.concatenate([c, x[:1]]), None), xs[0], xs)
    data = np.ones((2, 3))
    by_evaluate = _message(lambda: gc.evaluate(c, {xs: data}))
    by_compile = _message(lambda: gc.compile(c, [xs])(data))
    assert str(by_evaluate) == str(by_compile)
    assert str(by_evaluate).count("new carry has shape (4,)") == 1 and isinstance(by_evaluate, ValueError)


def _runners(outputs, inputs, feed):
    """Each way to run ``outputs``: evaluate, compile with NumPy, compile with Numba (if installed)."""
    runs = {
        "evaluate": lambda: gc.evaluate(outputs, feed),
        "numpy": lambda: gc.compile(outputs, inputs)(*feed.values()),
    }
    try:
        import numba  # noqa: F401
    except ImportError:
        return runs
    runs["numba"] = lambda: gc.compile(outputs, inputs, backend="numba")(*feed.values())
    return runs


def _index_out_of_range_loops():
    """(name, outputs, inputs, feed) whose body indexes out of range at step 0."""
    x, idx = gc.Variable("x", (3,)), gc.Variable("idx", (None,), "int64")
    _, ys = gc.scan(lambda c, i: (c, c[i]), x, idx)
    yield "scan", ys, [x, idx], {x: np.ones(3), idx: np.array([5])}
    k = gc.Variable("k", (), "int64")
    c = gc.fori_loop(0, 2, lambda i, c: c + c[k + i], x)
    yield "fori_loop", c, [x, k], {x: np.ones(3), k: np.array(7)}
    m = gc.map(lambda i: x[i] * 2.0, idx)
    yield "map", m, [x, idx], {x: np.ones(3), idx: np.array([5])}
    outer, _ = gc.scan(lambda c, i: (c + gc.scan(lambda d, j: (d + x[j], None), 0.0, i.reshape(1))[0], None), 0.0, idx)
    yield "nested", outer, [x, idx], {x: np.ones(3), idx: np.array([5])}


@pytest.mark.parametrize("case", range(4))
def test_an_index_out_of_range_in_a_body_is_an_index_error_said_once(case):
    # the op's built-in category is kept (IndexError, as NumPy's and as outside a loop), by
    # evaluate and by compiled code on every backend, and the message says it once
    name, outputs, inputs, feed = list(_index_out_of_range_loops())[case]
    messages = set()
    for how, run in _runners(outputs, inputs, feed).items():
        with pytest.raises(IndexError) as e:
            run()
        msg = str(e.value)
        assert isinstance(e.value, gc.EvaluationError), (name, how)
        assert msg.count("out of bounds") == 1 and msg.count("failed on inputs") == 1, (name, how, msg)
        assert "GraphError" not in msg and "EvaluationError" not in msg, (name, how, msg)
        assert msg.count("in the loop built at") == (2 if name == "nested" else 1), (name, how, msg)
        messages.add(msg)
    assert len(messages) == 1  # the same words whichever runs it


def test_a_shape_mismatch_in_a_body_is_a_value_error_said_once():
    # shapes unknown when built: at run time (3,) + (4,) cannot broadcast, as NumPy's ValueError
    xs, h0 = gc.Variable("xs", (None, None)), gc.Variable("h0", (None,))
    h, _ = gc.scan(lambda h, x: (h * x, None), h0, xs)
    messages = set()
    for how, run in _runners(h, [xs, h0], {xs: np.ones((2, 4)), h0: np.ones(3)}).items():
        with pytest.raises(ValueError) as e:
            run()
        msg = str(e.value)
        assert isinstance(e.value, gc.EvaluationError) and not isinstance(e.value, IndexError), how
        assert msg.startswith("scan: at step t=0, ") and msg.count("failed on inputs") == 1, (how, msg)
        assert "GraphError" not in msg and "EvaluationError" not in msg, (how, msg)
        messages.add(msg)
    assert len(messages) == 1
    # the same op outside a loop fails with the same category
    a, b = gc.Variable("a", (None,)), gc.Variable("b", (None,))
    with pytest.raises(ValueError):
        gc.evaluate(a * b, {a: np.ones(3), b: np.ones(4)})
