"""Whole-function Numba compilation (``gc.compile(..., backend="numba", whole=None)``, the
default where a graph qualifies): the compiled graph is one native function.

Oracles: the NumPy backend's results (the op spec table and random graphs,
float64 and float32, known and unknown dimensions, values and gradients), the
lectures' closed forms (W2 in both forms, W5's Hessian-vector product), and
NumPy's own errors; the disk cache is checked from a second Python process.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.base import REGISTRY
from tests.helpers import feed_for, rosenbrock_grad_and_hvp
from tests.ops.spec import SPECS
from tests.ops.test_spec import _inputs, _values

pytest.importorskip("numba")  # a dev dependency; skipped only where someone uninstalled it

from graphcomp.runtime.backends.numba_whole import MAX_LINES, MAX_LINES_REQUIRED, whole_source  # noqa: E402
from graphcomp.runtime.backends.numba_whole.code import Unsupported  # noqa: E402
from graphcomp.runtime.backends.numba_whole.forms import NO_FORM, form_of  # noqa: E402
from graphcomp.runtime.backends.numba_whole.groups import LOOPED, is_elementwise  # noqa: E402
from graphcomp.runtime.schedule import Plan  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- the lectures' workloads against their closed forms ----------------------------------------------------


def _mlp(form: str, batch):
    d, h, q, lam = 5, 7, 3, 1e-2
    X, W1, W2 = gc.Variable("X", (batch, d)), gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    L = gc.relu(X @ W1) @ W2
    reg = lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    if form == "one-hot":
        Y = gc.Variable("Y", (batch, q))
        J = -(Y * gc.log_softmax(L, axis=1)).sum(axis=1).mean() + reg
    else:
        Y = gc.Variable("y", (batch,), "int64")
        J = gc.nn.cross_entropy(L, Y) + reg
    return [J, *gc.grad(J, [W1, W2])], [X, Y, W1, W2], lam


@pytest.mark.parametrize("batch", [8, None], ids=["known", "unknown-batch"])
@pytest.mark.parametrize("form", ["one-hot", "cross_entropy"])
def test_the_mlp_gradient_is_one_native_function_matching_the_closed_form(form, batch):
    outs, ins, lam = _mlp(form, batch)
    f = gc.compile(outs, ins, backend="numba", whole=None)
    assert f.whole and f.whole_reason is None
    assert "def compiled(" in f.source and f.source.count("_gemm(") == 5  # BLAS for the products
    rng = np.random.default_rng(0)
    B, q = 8, 3
    Xv, yv = rng.standard_normal((B, 5)), rng.integers(0, q, B)
    W1v, W2v = rng.standard_normal((5, 7)), rng.standard_normal((7, q))
    labels = np.eye(q)[yv] if form == "one-hot" else yv
    Z = Xv @ W1v
    H = np.maximum(Z, 0)
    O = H @ W2v  # noqa: E741
    P = np.exp(O - O.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    J = -np.mean(np.log(P[np.arange(B), yv])) + lam / 2 * ((W1v**2).sum() + (W2v**2).sum())
    G = P.copy()
    G[np.arange(B), yv] -= 1
    G /= B
    want = (J, Xv.T @ ((G @ W2v.T) * (Z > 0)) + lam * W1v, H.T @ G + lam * W2v)
    got = f(Xv, labels, W1v, W2v)
    assert isinstance(got[0], np.float64)  # a 0-d result has NumPy's scalar type, as under NumPy
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_the_rosenbrock_hessian_vector_product_matches_its_closed_form():
    n = 50
    x, v = gc.Variable("x", (n,)), gc.Variable("v", (n,))
    f_ = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    f = gc.compile(gc.hvp(f_, x, v), backend="numba", whole=None)
    assert f.whole
    rng = np.random.default_rng(1)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    _, want = rosenbrock_grad_and_hvp(xv, vv)
    np.testing.assert_allclose(f(xv, vv), want, rtol=1e-12, atol=1e-12)


# -- matrix products: BLAS called from inside the one function ---------------------------------------------------

#: operand shapes of np.matmul: matrices, vectors (a row on the left, a column on the right), batches
#: that broadcast, a transposed (F-ordered) and a strided operand ("T" and "::2" build them from a view)
MATMUL_SHAPES = [
    ((4, 3), (3, 5)),
    ((3,), (3, 5)),
    ((4, 3), (3,)),
    ((3,), (3,)),
    ((2, 4, 3), (3, 5)),
    ((4, 3), (2, 3, 5)),
    ((2, 1, 4, 3), (3, 3, 5)),
    ((2, 4, 3), (3,)),
    ((3,), (2, 3, 5)),
    (("T", 3, 4), (3, 5)),
    ((4, 3), ("::2", 3, 10)),
]


def _matmul_cases(unknown: bool, dtype: str):
    """Every MATMUL_SHAPES product and its gradients (on a random projection, which makes the
    transposed products of the backward pass), as one graph: outputs, inputs, values."""
    rng = np.random.default_rng(7)
    outs, ins, vals = [], [], []
    views = {None: lambda x: x, "T": lambda x: x.T, "::2": lambda x: x[:, ::2]}
    for k, shapes in enumerate(MATMUL_SHAPES):
        operands, values = [], []
        for j, shape in enumerate(shapes):
            view, dims = (shape[0], shape[1:]) if isinstance(shape[0], str) else (None, shape)
            v = gc.Variable(f"m{k}_{j}", (None,) * len(dims) if unknown else dims, dtype)
            ins.append(v)
            vals.append(rng.standard_normal(dims).astype(dtype))
            operands.append(gc.transpose(v) if view == "T" else views[view](v))
            values.append(views[view](vals[-1]))
        product = operands[0] @ operands[1]
        weights = gc.constant(rng.standard_normal(np.matmul(*values).shape).astype(dtype))
        outs += [product, *gc.grad((product * weights).sum(), ins[-2:])]
    return outs, ins, vals


@pytest.mark.parametrize("unknown, dtype", [(False, "float64"), (True, "float32")], ids=["known-f64", "unknown-f32"])
def test_matrix_products_of_every_rank_and_layout_equal_the_numpy_backend(unknown, dtype):
    """Matrices, vectors and broadcast batches (with 2-D operands too, once written as ``b[]``,
    which Numba refused), transposed and strided operands, and their gradients: one native
    function, each result NumPy's (NumPy's matmul through the NumPy backend)."""
    outs, ins, vals = _matmul_cases(unknown, dtype)
    f = gc.compile(outs, ins, backend="numba", whole=True)
    assert f.whole, f.whole_reason
    assert "_dot(" not in f.source and "np.dot(" not in f.source
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for k, (g, w) in enumerate(zip(f(*vals), gc.compile(outs, ins)(*vals))):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (k, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=f"output {k}")


def test_empty_matrix_products_are_zeros_and_misaligned_ones_name_the_node():
    """m, n or k zero: NumPy's result (zeros where k is 0) without calling BLAS, which refuses
    a leading dimension of 0; inner sizes that differ at run time: NumPy's error, naming the node."""
    a, b = gc.Variable("a", (None, None)), gc.Variable("b", (None, None))
    f = gc.compile(a @ b, backend="numba", whole=True)
    assert f.whole
    for m, k, n in [(0, 3, 5), (4, 0, 5), (4, 3, 0), (0, 0, 0)]:
        got = f(np.ones((m, k)), np.ones((k, n)))
        assert got.shape == (m, n) and not got.any()
    with pytest.raises(gc.EvaluationError, match=r"matmul") as e:
        f(np.ones((4, 3)), np.ones((2, 5)))
    assert isinstance(e.value, ValueError)


def test_products_compile_no_function_of_their_own(tmp_path, monkeypatch):
    """The W2 gradient's five products, with operands of four layouts (C, transposed, read-only
    or not), are BLAS calls inside the one native function: Numba compiles no graphcomp function
    but the generated one (np.dot would compile one per layout combination)."""
    from numba.core import event

    monkeypatch.setenv("GRAPHCOMP_CACHE_DIR", str(tmp_path))
    outs, ins, _ = _mlp("cross_entropy", None)
    outs = [o * 1.25 for o in outs]  # a graph no other test compiles, so this process compiles it now
    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func)

        def on_end(self, ev):
            pass

    with event.install_listener("numba:compile", Listener()):
        f = gc.compile(outs, ins, backend="numba", whole=True)
    assert f.whole and not f.whole_info.cached
    ours = [fn for fn in compiled if fn.__module__.startswith("graphcomp")]
    assert [fn.__name__ for fn in ours] == ["compiled"], ours
    assert f.source.count("_gemm(") == 5


# -- the op spec table and random graphs against the NumPy backend ------------------------------------------


def _spec_case(s, unknown: bool, dtype: str):
    """A spec row's output and first gradients (on a random projection), inputs and values,
    with float64 inputs made ``dtype``."""
    inputs, values = _inputs(s, unknown), _values(s)
    if dtype == "float32":
        inputs = [gc.Variable(v.name, v.shape, "float32") if v.dtype == np.float64 else v for v in inputs]
        values = [a.astype("float32") if a.dtype == np.float64 else a for a in values]
    out = s.build(*inputs)
    outs = [out]
    if s.grad and s.diff_positions() and out.dtype.kind == "f":
        rng = np.random.default_rng(4)
        shape = np.shape(s.ref(*_values(s)))
        cost = (out * gc.constant(rng.standard_normal(shape).astype(out.dtype))).sum()
        outs += gc.grad(cost, [inputs[k] for k in s.diff_positions()])
    feed = feed_for(outs, inputs, values)
    return outs, list(feed), list(feed.values())


def _why_not(outs, ins) -> str | None:
    """Why the optimised graph of ``outs`` cannot be one native function (writing its text,
    without compiling it), or None."""
    graph_outputs = list(gc.compile(outs, ins, backend="numba", whole=False).graph.outputs)
    plan = Plan.build(graph_outputs)
    try:
        whole_source(graph_outputs, plan.inputs, plan)
    except Unsupported as e:
        return str(e)
    return None


def _check_whole(cases, dtype: str) -> None:
    """Compile every case's outputs as ONE native function and compare each output with
    the NumPy backend's, value, shape and dtype."""
    outs = [o for c in cases for o in c[1]]
    ins = [i for c in cases for i in c[2]]
    vals = [v for c in cases for v in c[3]]
    f = gc.compile(outs, ins, backend="numba", whole=True)
    assert f.whole, f.whole_reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's, from rows that divide by random values
        want = gc.compile(outs, ins)(*vals)
        got = f(*vals)
    rtol, atol = (2e-4, 2e-5) if dtype == "float32" else (1e-10, 1e-12)
    k = 0
    for sid, o, _, _ in cases:
        for j in range(len(o)):
            g, w = np.asarray(got[k]), np.asarray(want[k])
            k += 1
            assert g.shape == w.shape and g.dtype == w.dtype, (sid, j, g.shape, w.shape, g.dtype, w.dtype)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{sid}, output {j}")


CHUNK = 5
REASONS = set(NO_FORM.values())


@functools.cache
def _covering_rows(unknown: bool, dtype: str) -> tuple:
    """The spec rows, in order, that each bring an op class (in the optimised graph of the
    row's value and gradients) not met in an earlier one: every Numba form of the table is
    run, in about a sixth of the rows (Numba takes a second or more per function).
    Rows without a whole-function form must say why, naming an op of NO_FORM."""
    seen, picked = set(), []
    for s in SPECS:
        if unknown and not s.unknown:
            continue
        try:
            case = _spec_case(s, unknown, dtype)
        except gc.GraphError:  # a row whose op takes float64 only (its dtype rule refuses float32)
            assert dtype == "float32", s.id
            continue
        why = _why_not(case[0], case[1])
        if why is not None:
            assert any(why.endswith(r) for r in REASONS) or " int" in why, (s.id, why)
            continue
        f = gc.compile(case[0], case[1], whole=False)
        classes = {type(v.owner.op) for v in f.graph.variables if v.owner is not None}
        if classes - seen:
            seen |= classes
            picked.append((s.id, *case))
    return tuple(picked)


@pytest.mark.parametrize("chunk", range(0, 75, CHUNK), ids=lambda k: f"rows{k}")
def test_spec_rows_compiled_whole_equal_the_numpy_backend(chunk):
    """The spec rows covering every op class with a Numba form, values and gradients, a
    few rows per native function (Numba's compile time grows faster than the function)."""
    rows = _covering_rows(False, "float64")
    assert len(rows) <= 75  # the parametrisation's range covers them all
    if rows[chunk : chunk + CHUNK]:
        _check_whole(list(rows[chunk : chunk + CHUNK]), "float64")


@pytest.mark.parametrize("part", range(3))
def test_spec_rows_with_unknown_sizes_in_float32_compiled_whole_equal_the_numpy_backend(part):
    """Every twelfth covering row (three parts) with every dimension unknown (sizes read and broadcasts
    checked at run time) and float32 inputs: Numba compiles these slowest, so a sample."""
    rows = _covering_rows(True, "float32")[part::12]
    assert rows
    _check_whole(list(rows), "float32")


def test_most_spec_rows_have_a_whole_function_form():
    """The rows without one are those of NO_FORM's ops (convolutions, loops, random
    draws, einsum): the mode covers the rest of the op library."""
    missing = []
    for s in SPECS:
        outs, ins, _ = _spec_case(s, False, "float64")
        if _why_not(outs, ins) is not None:
            missing.append(s.id)
    assert len(missing) < 0.2 * len(SPECS), missing


@pytest.mark.parametrize(
    "seeds, unknown, dtype",
    [(range(0, 4), False, "float64"), (range(4, 7), True, "float64"), (range(7, 10), False, "float32")],
    ids=["known-f64", "unknown-f64", "known-f32"],
)
def test_random_mixed_graphs_compiled_whole_equal_the_numpy_backend(seeds, unknown, dtype, monkeypatch):
    """The random graphs of test_random_mixed_graphs (broadcasts, reductions with axis and
    keepdims, softmax, slices, fancy indices, stack, transposes, matmul, where, maximum),
    their values and gradients (and Hessian-vector products with known sizes), two per
    native function. For float32 the same graphs are built over float32 inputs (their
    float64 constants promote where NumPy would)."""
    from tests.autodiff.test_random_mixed_graphs import mixed_graph

    if dtype == "float32":
        variable = gc.Variable
        monkeypatch.setattr(gc, "Variable", lambda name, shape=(), dtype="float64": variable(name, shape, "float32"))
    cases = []
    for seed in seeds:
        known, unknown_graph, values = mixed_graph(seed)
        cost, inputs = unknown_graph if unknown else known
        values = [np.asarray(a, dtype) for a in values]
        outs = [cost, *gc.grad(cost, inputs, disconnected="zero")]
        direction = np.random.default_rng(seed).standard_normal(np.shape(values[0])).astype(dtype)
        try:
            if not unknown:
                outs.append(gc.hvp(cost, inputs[0], direction))
        except gc.GradientError:  # the cost does not depend on the first input
            pass
        cases.append((f"seed{seed}", outs, inputs, values))
    for k in range(0, len(cases), 2):
        _check_whole(cases[k : k + 2], dtype)


# -- fallback, options, errors --------------------------------------------------------------------------------


def test_a_graph_without_numba_forms_runs_op_by_op_and_says_why():
    x = gc.Variable("x", (3,))
    y = gc.einsum("i,i->", x, gc.sin(x))
    f = gc.compile(y, backend="numba", whole=None)
    assert not f.whole
    assert f.whole_reason == "einsum[i,i->]: einsum has no loop form yet"
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), np.dot([1.0, 2.0, 3.0], np.sin([1.0, 2.0, 3.0])))
    with pytest.warns(RuntimeWarning, match=r"runs op by op.*einsum\[i,i->\]: einsum has no loop form"):
        gc.compile(y, backend="numba", whole=True)
    assert not gc.compile(gc.exp(x), backend="numba", whole=False).whole
    assert gc.compile(gc.exp(x)).whole is False and gc.compile(gc.exp(x)).whole_reason is None  # NumPy backend
    with pytest.raises(ValueError, match="whole=True needs a backend with a whole-function mode"):
        gc.compile(gc.exp(x), whole=True)
    with pytest.raises(ValueError, match="whole must be True, False or None"):
        gc.compile(gc.exp(x), backend="numba", whole="yes")


def test_check_finite_runs_node_by_node():
    x = gc.Variable("x", (2,))
    f = gc.compile(gc.log(x), backend="numba", whole=None, check_finite=True)
    assert not f.whole and f.whole_reason == "check_finite runs the graph node by node"


def test_a_function_too_long_for_numba_runs_op_by_op_unless_asked(monkeypatch):
    import graphcomp.runtime.backends.numba_whole as whole

    monkeypatch.setattr(whole, "MAX_LINES", 3)
    x = gc.Variable("x", (3,))
    f = gc.compile(gc.tanh(x).sum() + x.max(), backend="numba", whole=None)
    assert not f.whole and f.whole_reason.startswith("the whole function would be ")
    assert 300 <= MAX_LINES <= MAX_LINES_REQUIRED  # W2's gradient (about 130 lines) is taken


def test_a_function_far_too_long_is_refused_even_when_asked(monkeypatch):
    """Past MAX_LINES_REQUIRED Numba takes many minutes (a chain of 300 tanh layers' gradient,
    8700 lines: 7 minutes, then a RecursionError): whole=True warns and runs op by op."""
    import graphcomp.runtime.backends.numba_whole as whole

    monkeypatch.setattr(whole, "MAX_LINES_REQUIRED", 3)
    x = gc.Variable("x", (3,))
    with pytest.warns(RuntimeWarning, match="many minutes") as record:
        f = gc.compile(gc.tanh(x).sum() + x.max(), backend="numba", whole=True)
    assert not f.whole
    assert os.path.basename(record[0].filename) == "test_numba_whole.py"  # the user's line, not graphcomp's
    np.testing.assert_allclose(f(np.array([0.5, -1.0, 2.0])), np.tanh([0.5, -1.0, 2.0]).sum() + 2.0, rtol=1e-15)


def test_an_error_in_the_native_function_names_the_node_as_numpy_does():
    z, y = gc.Variable("z", (None, 3)), gc.Variable("y", (None,), "int64")
    f = gc.compile(gc.nn.cross_entropy(z, y), backend="numba", whole=None)
    g = gc.compile(gc.nn.cross_entropy(z, y))
    assert f.whole
    zv = np.zeros((2, 3))
    assert np.isclose(f(zv, np.array([0, 2])), np.log(3.0))
    for fn in (f, g):
        with pytest.raises(gc.EvaluationError, match=r"cross_entropy.*label 3 is out of range for 3 classes") as e:
            fn(zv, np.array([0, 3]))
        assert isinstance(e.value, IndexError)
    a, b = gc.Variable("a", (None,)), gc.Variable("b", (None,))
    h = gc.compile(gc.exp(a) * b, backend="numba", whole=None)
    assert h.whole
    with pytest.raises(gc.EvaluationError, match=r"multiply") as e:
        h(np.ones(3), np.ones(4))
    assert isinstance(e.value, ValueError)
    np.testing.assert_allclose(h(np.ones(3), np.ones(1)), np.exp(np.ones(3)))  # NumPy's broadcasting


def test_inputs_of_any_layout_and_parameters_with_updates():
    x = gc.Variable("x", (None, 3))
    W = gc.Parameter(np.arange(6.0).reshape(3, 2), name="W")
    cost = (gc.tanh(x @ W) ** 2).sum()
    step = gc.compile(cost, [x], updates={W: W - 0.1 * gc.grad(cost, W)}, backend="numba", whole=None)
    ref = gc.compile(cost, [x], updates={W: W - 0.1 * gc.grad(cost, W)})
    assert step.whole
    xv = np.asfortranarray(np.linspace(-1, 1, 12).reshape(4, 3))
    W0 = W.get_value()
    got = [step(xv), step(xv[::2])]  # F-ordered, then strided
    W1 = W.get_value()
    W.set_value(W0)
    want = [ref(xv), ref(xv[::2])]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(W1, W.get_value(), rtol=1e-12)


def test_zero_dimensional_inputs_and_outputs_keep_numpy_types():
    x, s = gc.Variable("x", (3,), "float32"), gc.Variable("s", (), "float32")
    f = gc.compile([(x * s).sum(), x * s], backend="numba", whole=None)
    assert f.whole
    total, scaled = f(np.ones(3, np.float32), np.array(2.0, np.float32))
    assert type(total) is np.float32 and scaled.dtype == np.float32
    assert float(total) == 6.0


# -- the registry and the disk cache ----------------------------------------------------------------------------


def test_every_registered_op_has_a_numba_form_or_a_reason():
    """A Numba form (forms.py, by class), a scalar form for the elementwise loops, or a
    line in NO_FORM: adding an op without one fails here, naming it."""
    missing = []
    for name, cls in REGISTRY.items():
        if any(c in NO_FORM for c in cls.__mro__) or form_of(cls.__new__(cls)) is not None:
            continue
        if cls.elementwise or issubclass(cls, LOOPED):
            continue  # is_elementwise decides per node (a scalar form, a cast, a fused program)
        missing.append(name)
    assert not missing, missing
    x = gc.Variable("x", (2,))
    assert is_elementwise(gc.exp(x)) and not is_elementwise(x.sum())


_CHILD = textwrap.dedent(
    """
    import numpy as np, graphcomp as gc
    x = gc.Variable("x", (None, 4))
    scale = {scale}
    outs = [(gc.tanh(x) * scale).sum(axis=1), gc.grad(gc.softmax(x, axis=1)[:, 0].sum(), x)]
    f = gc.compile(outs, backend="numba", whole=None)
    out = f(np.linspace(-1, 1, 8).reshape(2, 4))
    print(f.whole, f.whole_info.cached, round(float(out[0][0]), 6))
    """
)


def _child(cache: str, scale: float) -> list[str]:
    env = dict(os.environ, GRAPHCOMP_CACHE_DIR=cache, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", _CHILD.format(scale=scale)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_second_process_loads_the_compiled_function_from_the_disk_cache(tmp_path):
    cache = str(tmp_path / "cache")
    first = _child(cache, 2.0)
    assert first[:2] == ["True", "False"]  # compiled
    assert _child(cache, 2.0) == ["True", "True", first[2]]  # loaded, same numbers
    changed = _child(cache, 3.0)  # another graph (a constant changed): compiled afresh
    assert changed[:2] == ["True", "False"] and changed[2] != first[2]
    assert len([p for p in os.listdir(cache) if p.endswith(".py")]) == 2


def test_a_cached_module_edited_or_cut_short_is_written_anew(tmp_path):
    """Numba checks a cached module only by its time stamp and size: an edited module
    ran as edited (wrong numbers), one cut short (a full disk) failed to load in every
    later process. The module's name is the hash of its text, so a file that no longer
    hashes to its name is rewritten and compiled afresh, with the right numbers."""
    cache = str(tmp_path / "cache")
    first = _child(cache, 2.0)
    (path,) = [os.path.join(cache, p) for p in os.listdir(cache) if p.endswith(".py")]
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("np.tanh(", "2.0 * np.tanh(").replace("_tanh(", "2.0 * _tanh("))
    # whole, with the true numbers (whether Numba's own cache then serves the restored text
    # depends on the file system's time stamps: not what is tested)
    assert _child(cache, 2.0)[::2] == ["True", first[2]]
    with open(path) as f:
        assert f.read() == text
    with open(path, "w") as f:
        f.write(text[:200])
    assert _child(cache, 2.0)[::2] == ["True", first[2]]  # whole again, not op by op for good
    with open(path) as f:
        assert f.read() == text


def test_an_error_names_a_0d_input_with_the_shape_it_was_fed():
    """The rerun after a native error copies only what is not C-contiguous: a 0-d index
    stays 0-d, so the message shows ``k: ()`` as the NumPy backend's does (it showed
    ``(1,)``: np.ascontiguousarray makes a 0-d value 1-d)."""
    X, k = gc.Variable("X", (None, 3)), gc.Variable("k", (), "int64")
    f = gc.compile(X[k], [X, k], backend="numba", whole=True)
    assert f.whole
    with pytest.raises(IndexError, match=r"k: \(\) int64") as e:
        f(np.ones((4, 3)), 7)
    assert "out of bounds" in str(e.value)
    np.testing.assert_array_equal(f(np.arange(12.0).reshape(4, 3), 2), [6.0, 7.0, 8.0])
