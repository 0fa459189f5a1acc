"""Fuzzing: random graphs with random (also invalid) shapes, dtypes and axes,
fed random (also wrong) values. Every failure must be a graphcomp error with a
message: no IndexError, KeyError, AttributeError or RecursionError escapes."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.cli.expr import ExpressionError, build_expression, expression_names

PACKAGE = os.path.dirname(gc.__file__)
DIMS = st.sampled_from([0, 1, 2, 3, None])
SHAPES = st.lists(DIMS, max_size=3).map(tuple)
DTYPES = st.sampled_from(["float64", "float32", "int64", "bool"])
AXES = st.one_of(st.none(), st.integers(-4, 4), st.tuples(st.integers(-4, 4), st.integers(-4, 4)))
INDEX = st.one_of(
    st.integers(-4, 4),
    st.slices(4),
    st.tuples(st.integers(-3, 3), st.slices(3)),
    st.lists(st.integers(-4, 4), min_size=1, max_size=3),
    st.just(Ellipsis),
    st.none(),
    st.text(max_size=2),
    st.floats(allow_nan=True),
)
ARGS = st.one_of(
    st.none(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
    st.lists(st.integers(-2, 4), max_size=3).map(tuple),
)  # fmt: skip

UNARY = [gc.exp, gc.log, gc.sin, gc.tanh, gc.sqrt, gc.abs, gc.sigmoid, gc.relu, gc.softplus, gc.negative]
BINARY = [gc.add, gc.subtract, gc.multiply, gc.divide, gc.power, gc.maximum, gc.minimum, gc.matmul, gc.dot,
          gc.less, gc.greater_equal]  # fmt: skip
AXIS_FNS = [gc.sum, gc.mean, gc.max, gc.min, gc.logsumexp]


def _apply(draw, pool):
    kind = draw(st.integers(0, 7))
    a = pool[draw(st.integers(0, len(pool) - 1))]
    b = pool[draw(st.integers(0, len(pool) - 1))]
    if kind == 0:
        return draw(st.sampled_from(UNARY))(a)
    if kind == 1:
        return draw(st.sampled_from(BINARY))(a, b)
    if kind == 2:
        return draw(st.sampled_from(AXIS_FNS))(a, axis=draw(AXES), keepdims=draw(st.booleans()))
    if kind == 3:
        return a[draw(INDEX)]
    if kind == 4:
        return gc.reshape(a, draw(ARGS))
    if kind == 5:
        return gc.transpose(a, draw(st.one_of(st.none(), st.lists(st.integers(-3, 3), max_size=3))))
    if kind == 6:
        return draw(st.sampled_from([gc.concatenate, gc.stack]))([a, b], axis=draw(st.integers(-3, 3)))
    return draw(st.sampled_from([gc.softmax, gc.log_softmax]))(a, axis=draw(st.integers(-3, 3)))


def _value(draw, v):
    shape = tuple(draw(st.integers(0, 3)) if d is None else d for d in v.shape)
    if draw(st.integers(0, 5)) == 0:  # sometimes the wrong shape or kind altogether
        return draw(st.one_of(st.text(max_size=2), st.lists(st.floats(), max_size=3), st.none()))
    data = draw(st.lists(st.floats(-5, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(data, dtype=float).reshape(shape).astype(draw(DTYPES))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_failure_is_a_graphcomp_error_with_a_message(data):
    draw = data.draw
    pool = [gc.Variable(f"x{k}", draw(SHAPES), draw(DTYPES)) for k in range(draw(st.integers(1, 3)))]
    with np.errstate(all="ignore"):
        try:
            for _ in range(draw(st.integers(1, 6))):
                pool.append(_apply(draw, pool))
            out = pool[-1]
            feed = {v: _value(draw, v) for v in gc.Graph(out).input_variables}
            gc.evaluate(out, feed)
            gc.compile(out)(*feed.values())
            if out.dtype.kind == "f":
                cost = out.sum()
                gc.evaluate(gc.grad(cost, pool[0], disconnected="zero"), feed)
        except gc.GraphError as e:
            assert str(e).strip(), f"{type(e).__name__} without a message"


CODE = st.sampled_from([
    "__import__('os').system('id')", "open('/etc/passwd').read()", "x.__class__", "(lambda: 1)()",
    "[c for c in 'ab']", "exec('1')", "eval('1')", "globals()", "x if x else y", "x[0]", "{'a': 1}",
    "x and y", "x; y", "import os", "x := 1", "f'{x}'", "b'x'", "x == y", "not x", "x.real", "*x",
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=40), CODE, st.builds(lambda a, b: a + b, CODE, st.text(max_size=8))))
def test_the_expression_parser_refuses_what_it_does_not_know_and_runs_nothing(text, monkeypatch_module):
    try:
        names = expression_names(text)
        build_expression(text, {n: gc.Variable(n) for n in names})
    except ExpressionError as e:
        assert str(e) and "\n" not in str(e)
    assert not monkeypatch_module.calls, f"something was run: {monkeypatch_module.calls}"


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Record any call to the usual ways of running code or reaching the system."""
    import builtins
    import os
    import subprocess

    class Calls:
        calls: list = []

    mp = pytest.MonkeyPatch()
    targets = [(os, "system"), (os, "popen"), (subprocess, "run"), (subprocess, "Popen")]
    targets += [(builtins, "eval"), (builtins, "exec"), (builtins, "compile")]
    for owner, name in targets:
        original = getattr(owner, name)

        def spy(*a, _name=name, _orig=original, **k):
            # only graphcomp's own calls count: pytest and hypothesis use these too
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(PACKAGE):
                Calls.calls.append(f"{_name} from {caller}")
            return _orig(*a, **k)

        mp.setattr(owner, name, spy)
    yield Calls
    mp.undo()
