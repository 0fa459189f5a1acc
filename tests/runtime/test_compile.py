"""compile's calling convention: positional, keyword, f.graph, unneeded inputs."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def _seed_example():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    return x, z, y, gc.grad(y, [x, z])


def test_positional_and_keyword_calls_agree_with_evaluate():
    x, z, y, (dx, dz) = _seed_example()
    f = gc.compile([y, dx, dz], [x, z])
    want = gc.evaluate([y, dx, dz], {x: 2.0, z: 3.0})
    for call in (f(2.0, 3.0), f(x=2.0, z=3.0), f(2.0, z=3.0), gc.compile([y, dx, dz], [x, z], passes=[])(2.0, 3.0)):
        assert [float(v) for v in call] == [float(v) for v in want]


def test_default_inputs_are_the_graph_inputs_in_creation_order():
    x, z, y, _ = _seed_example()
    f = gc.compile(y)
    assert f.inputs == [x, z]
    assert isinstance(f(2.0, 3.0), np.ndarray | np.floating)


def test_graph_is_the_optimised_graph_of_the_outputs():
    x, z, y, (dx, _) = _seed_example()
    f = gc.compile([y, dx])
    assert isinstance(f.graph, gc.Graph) and len(f.graph.outputs) == 2
    assert f.graph.input_variables == [x, z]
    unmerged = gc.compile([y, dx], passes=[])
    assert y in unmerged.graph and dx in unmerged.graph  # no pass: the user's own nodes
    assert len(f.graph.variables) < len(unmerged.graph.variables)
    # f.graph is built from the schedule's order: the same view a fresh Graph computes
    fresh = gc.Graph(f.graph.outputs)
    assert f.graph.variables == fresh.variables and f.graph.nodes == fresh.nodes
    assert {v: f.graph.consumers(v) for v in fresh.variables} == {v: fresh.consumers(v) for v in fresh.variables}


def test_listed_inputs_the_outputs_do_not_need_are_accepted_and_ignored():
    x, unused = gc.Variable("x"), gc.Variable("unused", (5,))
    f = gc.compile(x * 2.0, [x, unused])
    assert float(f(1.5, "anything")) == 3.0


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((1.0, 2.0, 3.0), {}, "takes 2 positional"),
        ((1.0,), {}, "no value was fed for input 'z'"),
        ((), {"q": 1.0}, "unexpected keyword argument 'q'"),
        ((1.0,), {"x": 1.0}, "given twice"),
    ],
    ids=["too-many", "missing", "unknown-keyword", "twice"],
)
def test_wrong_calls_raise_type_errors_that_say_what(args, kwargs, message):
    x, z = gc.Variable("x"), gc.Variable("z")
    f = gc.compile(x * z, [x, z])
    with pytest.raises(TypeError, match=message):
        f(*args, **kwargs)


def test_a_keyword_that_names_two_inputs_is_an_error():
    a, b = gc.Variable("w"), gc.Variable("w")
    f = gc.compile(a - b, [a, b])
    assert float(f(3.0, 1.0)) == 2.0
    with pytest.raises(TypeError, match="names 2 inputs"):
        f(w=1.0)


def test_a_wrongly_shaped_argument_names_the_variable_and_both_shapes():
    x = gc.Variable("x", (2, 3))
    f = gc.compile(x.sum())
    with pytest.raises(ValueError, match=r"'x'.*\(3, 2\).*\(2, 3\)"):
        f(np.ones((3, 2)))


def test_compile_refuses_inputs_that_leave_a_needed_one_out():
    x, z = gc.Variable("x"), gc.Variable("z")
    with pytest.raises(ValueError, match="need input.*'z'"):
        gc.compile(x * z, [x])


def test_compiling_does_not_change_the_user_graph():
    x, z, y, grads = _seed_example()
    before = [(v, v.owner) for v in gc.Graph([y, *grads]).variables]
    gc.compile([y, *grads])
    assert [(v, v.owner) for v in gc.Graph([y, *grads]).variables] == before


def test_the_generated_source_of_the_seed_example_computes_x_times_z_once():
    x, z, y, grads = _seed_example()
    f = gc.compile([y, *grads], [x, z])
    assert f.source.startswith("def compiled(x, z):")
    calls = [line for line in f.source.splitlines() if line.strip().startswith("# multiply(x, z)")]
    assert len(calls) == 1
    assert len(gc.compile([y, *grads], [x, z], passes=[]).source.split("# multiply(x, z)")) == 4  # 3 before merging
    code = [
        line
        for line in f.source.splitlines()
        if line.strip() and not line.strip().startswith(("#", "def", "del", "return"))
    ]
    comments = [line for line in f.source.splitlines() if line.strip().startswith("# ")]
    assert len(code) == len(comments)  # one line per node, the node as a comment above it


def test_golden_text_before_and_after_merging():
    x = gc.Variable("x")
    y = gc.sin(x) * gc.sin(x)
    before = gc.compile(y, passes=[]).graph
    after = gc.compile(y).graph
    from graphcomp.inspect.text import format_graph

    assert format_graph(before.outputs).splitlines() == [
        "multiply  #3  () float64",
        "  sin  #1  () float64",
        "    x (input)  #0  () float64",
        "  sin  #2  () float64",
        "    -> #0 x",
    ]
    assert format_graph(after.outputs).splitlines() == [
        "multiply  #2  () float64",
        "  sin  #1  () float64",
        "    x (input)  #0  () float64",
        "  -> #1 sin",
    ]


def test_an_error_inside_generated_code_names_the_node_and_its_inputs():
    x, i = gc.Variable("x", (3,)), gc.Variable("i", (None,), "int64")
    f = gc.compile(x[i].sum(), [x, i])
    with pytest.raises(
        gc.GraphError, match=r"getitem.*failed on inputs \(x: \(3,\) float64, i: \(1,\) int64\).*test_compile.py"
    ) as e:
        f(np.ones(3), np.array([5]))
    assert isinstance(e.value.__cause__, IndexError)


def test_called_again_with_other_sizes_where_dimensions_are_unknown():
    x = gc.Variable("x", (None, 3))
    J = gc.tanh(x).sum()
    f = gc.compile([J, gc.grad(J, x)])
    for n in (1, 4, 2):
        xv = np.random.default_rng(n).standard_normal((n, 3))
        J_v, g = f(xv)
        np.testing.assert_allclose(J_v, np.tanh(xv).sum())
        np.testing.assert_allclose(g, 1 - np.tanh(xv) ** 2)


def test_unknown_pass_names_are_refused():
    with pytest.raises(gc.GraphError, match="unknown pass"):
        gc.compile(gc.Variable("x") * 2.0, passes=["no-such-pass"])


def test_scalar_graphs_run_as_python_float_code_and_agree_with_evaluate():
    x, z, y, grads = _seed_example()
    f = gc.compile([y, *grads], [x, z])
    assert "_exp(" in f.source and "_f64(" in f.source  # the Python-float version
    for point in [(2.0, 3.0), (0.5, -1.0), (7.0, 0.1)]:
        got = f(*point)
        want = gc.evaluate([y, *grads], dict(zip([x, z], point)))
        assert all(type(g) is np.float64 for g in got)  # a NumPy scalar, as API.md says
        np.testing.assert_allclose([float(g) for g in got], [float(w) for w in want], rtol=1e-13)
    assert [float(v) for v in f(2, 3)] == [float(v) for v in f(2.0, 3.0)]  # ints take the NumPy path


def test_the_scalar_code_keeps_numpys_answers_where_math_would_raise():
    x = gc.Variable("x")
    f = gc.compile([gc.log(x), 1.0 / x, gc.sqrt(x), gc.exp(x)], [x])
    with np.errstate(all="ignore"):
        got = f(0.0)
        assert float(got[0]) == -np.inf and float(got[1]) == np.inf
        assert np.isnan(float(f(-1.0)[2])) and float(f(1000.0)[3]) == np.inf
    assert float(f(1.0)[0]) == 0.0


def test_random_scalar_expressions_compile_like_they_evaluate():
    from tests.autodiff.test_sympy_oracle import _build

    for seed in range(30):
        gvars, _, y, _ = _build(np.random.default_rng(seed), 8)
        outs = [y, *gc.grad(y, gvars, disconnected="zero")]
        point = [float(v) for v in np.random.default_rng(seed).uniform(-1.5, 1.5, len(gvars))]
        want = gc.evaluate(outs, dict(zip(gvars, point)))
        got = gc.compile(outs, gvars)(*point)
        np.testing.assert_allclose([float(g) for g in got], [float(w) for w in want], rtol=1e-12, atol=1e-14)


def test_dead_buffers_are_reused_but_never_the_callers_arrays_or_constants():
    x, W = gc.Variable("x", (4,)), gc.Variable("W", (4, 3))
    c = np.arange(3.0)
    h = gc.tanh(x @ W)
    y = (gc.exp(h) * c + h).sum()
    outs = [y, *gc.grad(y, [x, W])]
    f = gc.compile(outs)
    assert "out=" in f.source
    rng = np.random.default_rng(0)
    xv, Wv = rng.standard_normal(4), rng.standard_normal((4, 3))
    xc, Wc = xv.copy(), Wv.copy()
    for _ in range(2):  # twice: no state carried between calls
        got = f(xv, Wv)
        for a, b in zip(got, gc.evaluate(outs, {x: xv, W: Wv})):
            np.testing.assert_array_equal(a, b)
    assert np.array_equal(xv, xc) and np.array_equal(Wv, Wc) and np.array_equal(c, np.arange(3.0))


def test_a_buffer_still_read_through_a_view_is_not_overwritten():
    x = gc.Variable("x", (2, 3))
    a = gc.exp(x)
    view = a.T  # transpose is a view of a's buffer
    y = gc.sin(a) + view.T * 2.0
    f = gc.compile(y)
    xv = np.arange(6.0).reshape(2, 3) / 6
    np.testing.assert_array_equal(f(xv), gc.evaluate(y, {x: xv}))


@pytest.mark.parametrize("mode", ["numpy", "numba", "numba whole"])
def test_a_transpose_folds_into_its_matmul_without_a_copy(mode):
    """dJ/dW = X.T @ G: the transpose is a view that matmul hands to BLAS with its
    transpose flag, so a call allocates the (500, 10) result and never a copy of the
    16 MB X (peak traced memory). The value is the closed form X.T @ G."""
    import tracemalloc

    if mode != "numpy":
        pytest.importorskip("numba")
    X, W, G = gc.Variable("X", (4000, 500)), gc.Variable("W", (500, 10)), gc.Variable("G", (4000, 10))
    (dW,) = gc.grad(gc.sum((X @ W) * G), [W])
    backend = "numpy" if mode == "numpy" else "numba"
    f = gc.compile([dW], [X, W, G], backend=backend, **({"whole": True} if mode == "numba whole" else {}))
    rng = np.random.default_rng(0)
    Xv, Wv, Gv = rng.standard_normal((4000, 500)), rng.standard_normal((500, 10)), rng.standard_normal((4000, 10))
    f(Xv, Wv, Gv)  # compiled and warm
    tracemalloc.start()
    try:
        (got,) = f(Xv, Wv, Gv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * Wv.nbytes, peak  # the result and small change, not X's 16 MB
    np.testing.assert_allclose(got, Xv.T @ Gv, rtol=1e-12)


@pytest.mark.parametrize("mode", ["numpy", "numba", "numba whole"])
def test_writing_into_a_result_changes_no_input_and_no_other_result(mode):
    """``X * 1.0`` simplifies to X, the same exp asked twice is one node, ``X.T`` is a view:
    each such output is returned as a copy (PyTensor's DeepCopyOp), so the caller's X and
    the other results keep their values; a fresh result is returned as it is."""
    if mode != "numpy":
        pytest.importorskip("numba")
    X = gc.Variable("X", (2, 3))
    outs = [X * 1.0, gc.exp(X), gc.exp(X), X.T, gc.exp(X).T]
    kw = {"backend": "numba", "whole": mode == "numba whole"} if mode != "numpy" else {}
    f = gc.compile(outs, [X], **kw)
    x = np.arange(6.0).reshape(2, 3)
    got = f(x)
    for r in got:
        r[...] = -1.0
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    again = f(x)
    want = [x, np.exp(x), np.exp(x), x.T, np.exp(x).T]
    for g, w in zip(again, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
    got = f(x)
    got[1][0, 0] = 7.0
    assert got[2][0, 0] == 1.0 and got[4][0, 0] == 1.0 and x[0, 0] == 0.0


def test_an_input_listed_twice_is_named():
    x, y = gc.Variable("x"), gc.Variable("y")
    with pytest.raises(ValueError, match=r"the input 'y' \(built at test_compile.py:\d+\) is listed twice"):
        gc.compile(x + y, [x, y, y])
