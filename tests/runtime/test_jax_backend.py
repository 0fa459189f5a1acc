"""``compile(..., backend="jax")``: generated code, float64 without a process-wide
switch, Parameters kept on the device and updated functionally, errors that name
the node, ops without a JAX form, and data parallelism over four host devices.

Values are checked against closed forms and against the NumPy backend (itself
checked against finite differences in tests/ops/test_spec.py); the update rules
against the NumPy backend running the same gc.optim graph (checked against
torch.optim and hand-written rules in tests/training/test_optim.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.errors import ArgumentError, EvaluationError, InputError, ShapeError
from graphcomp.passes.pipeline import pass_names

jax = pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[2]


def _in_fresh_python(code: str, devices: int = 1) -> str:
    """Run ``code`` in a new interpreter (JAX's process-wide state untouched by this one)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _mlp(B=8, d=5, h=7, q=3, seed=0, params=True):
    """The lectures' one-hidden-layer MLP with mean softmax cross-entropy and an L2 term."""
    rng = np.random.default_rng(seed)
    X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
    W1v, W2v = rng.standard_normal((d, h)) * 0.5, rng.standard_normal((h, q)) * 0.5
    if params:
        W1, W2 = gc.Parameter(W1v, "W1"), gc.Parameter(W2v, "W2")
    else:
        W1, W2 = gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + 1e-2 / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    data = rng.standard_normal((B, d)), rng.integers(0, q, B)
    return J, X, y, W1, W2, data, (W1v, W2v)


# -- the generated code --------------------------------------------------------------------------------------


def test_source_is_one_jax_line_per_node_with_the_node_as_a_comment():
    x = gc.Variable("x", (3,))
    f = gc.compile(gc.sigmoid(x)[1:].sum(), backend="jax")
    lines = f.source.splitlines()
    assert lines[0] == "def compiled(x):"
    assert any(line.strip().startswith("# sigmoid(x) -> (3,) float64, built at") for line in lines)
    assert any(line.strip().endswith("= x[1:]") or "[1:]" in line for line in lines)
    # the callees are the backend's JAX forms
    assert f._generated.fn.__globals__["_sigmoid"].__module__ == "graphcomp.runtime.backends.jax"


def test_the_mlp_gradient_matches_the_lectures_closed_form():
    J, X, y, W1, W2, (Xv, yv), (W1v, W2v) = _mlp(params=False)
    f = gc.compile([J, *gc.grad(J, [W1, W2])], [X, y, W1, W2], backend="jax")
    got = f(Xv, yv, W1v, W2v)
    B = len(yv)
    Z = Xv @ W1v
    H = np.maximum(Z, 0)
    O = H @ W2v  # noqa: E741
    P = np.exp(O - O.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    J_want = -np.mean(np.log(P[np.arange(B), yv])) + 1e-2 / 2 * ((W1v**2).sum() + (W2v**2).sum())
    G = (P - np.eye(3)[yv]) / B
    np.testing.assert_allclose(got[0], J_want, rtol=1e-12)
    np.testing.assert_allclose(got[2], H.T @ G + 1e-2 * W2v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], Xv.T @ ((G @ W2v.T) * (Z > 0)) + 1e-2 * W1v, rtol=1e-12, atol=1e-15)


def test_an_all_scalar_graph_takes_python_numbers_and_checks_the_rest():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x)
    f = gc.compile([y, *gc.grad(y, [x, z])], [x, z], backend="jax")
    want = [np.exp(6.0) + 6.0 / np.log(2.0), 3 * np.exp(6.0) + 3 / np.log(2.0) - 3 / np.log(2.0) ** 2]
    for args in [(2.0, 3.0), (2, np.float32(3.0)), (np.array(2.0), 3.0)]:
        got = f(*args)
        np.testing.assert_allclose(got[:2], want, rtol=1e-14)
    with pytest.raises(gc.GraphError):
        f(2.0, "three")


def test_float32_graphs_stay_float32_and_outputs_are_numpy_arrays():
    x = gc.Variable("x", (3,), "float32")
    f = gc.compile([gc.exp(x) * 2.0, gc.grad(gc.exp(x).sum(), x)], backend="jax")
    a, g = f(np.array([0.0, 1.0, 2.0], np.float32))
    assert type(a) is np.ndarray and a.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(a, 2 * np.exp([0.0, 1.0, 2.0]), rtol=1e-6)


def test_float64_computes_in_float64_without_turning_x64_on_for_the_process():
    out = _in_fresh_python(
        """
        import numpy as np, jax, jax.numpy as jnp, graphcomp as gc
        x = gc.Variable("x", (2,))
        f = gc.compile((x + 1e-12) - x, backend="jax")   # 1e-12 survives float64, not float32
        print(repr(f(np.array([1.0, 3.0])).tolist()), jax.config.jax_enable_x64, jnp.ones(1).dtype)
        """
    )
    values, x64, dtype = out.split("]")[0] + "]", *out.split("]")[1].split()
    assert np.allclose(eval(values), 1e-12, rtol=1e-3), values
    assert x64 == "False" and dtype == "float32"


# -- ops without a JAX form ----------------------------------------------------------------------------------


class Cube(gc.Op):
    """x**3 as a NumPy lambda: no JAX form until a backend gives it one."""

    name, elementwise, fn = "cube", True, staticmethod(lambda x: x * x * x)

    def infer(self, x):
        return x.shape, x.dtype


def test_an_op_without_a_jax_form_is_refused_when_compiling_listing_it():
    x = gc.Variable("x", (3,))
    with pytest.raises(ArgumentError, match=r"no JAX form for the op\(s\) \['cube'\]"):
        gc.compile(Cube()(gc.exp(x)), backend="jax")


def test_a_backend_subclass_gives_an_op_its_jax_form():
    from graphcomp.runtime.backends.jax import JaxBackend

    class WithCube(JaxBackend):
        overrides = {**JaxBackend.overrides, Cube: lambda op: lambda x: x * x * x}

    x = gc.Variable("x", (3,))
    f = gc.compile(Cube()(x), backend=WithCube())
    np.testing.assert_allclose(f(np.array([1.0, 2.0, -3.0])), [1.0, 8.0, -27.0])


def test_a_subclass_that_replaces_forward_does_not_inherit_its_parents_jax_form():
    from graphcomp.ops.reduce import Sum
    from graphcomp.runtime.backends.jax import JaxBackend

    class SumOfSquares(Sum):
        def forward(self, x):
            return np.sum(x * x, axis=self.axes, keepdims=self.keepdims)

    assert JaxBackend.has_form(Sum) and not JaxBackend.has_form(SumOfSquares)


@pytest.mark.parametrize(
    "shape, index",
    [((5,), np.s_[1:]), ((5,), np.s_[::-2]), ((3, 4), np.s_[:, 0]), ((3, 4, 5), np.s_[None, 1, ...]),
     ((3, 4, 5), np.s_[..., 2]), ((3, 4), -1), ((6, 5), np.s_[4:0:-3, 1:4:2]), ((3, 4), np.s_[2:2]),
     ((2, 3, 4), np.s_[1, None, :, None, -2]), ((5,), np.s_[10:20]), ((3, 4), np.s_[()])],
)  # fmt: skip
def test_the_gradient_of_a_basic_index_is_g_in_zeros_where_the_index_reads(shape, index):
    """Written as a pad of g (as JAX transposes a slice), checked against NumPy's assignment."""
    x = gc.Variable("x", shape)
    y = x[index]
    g = np.random.default_rng(0).standard_normal(y.shape)
    want = np.zeros(shape)
    want[index] = g
    got = gc.compile(gc.grad((y * gc.constant(g)).sum(), x), [x], backend="jax")(np.ones(shape))
    np.testing.assert_array_equal(got, want)


def test_an_op_from_graph_left_whole_runs_its_inner_graph_as_jax_code():
    """Without the inline pass the group reaches the backend as one node: its inner graph is
    generated by the same backend (the hook a loop's body will use)."""
    layer = gc.op_from_graph(lambda x, W: gc.tanh(x @ W), name="layer")
    x, W = gc.Variable("x", (None, 3)), gc.Variable("W", (3, 2))
    y = layer(x, W).sum()
    outs = [y, *gc.grad(y, [x, W])]
    passes = [p for p in pass_names() if p != "inline"]
    f = gc.compile(outs, [x, W], passes=passes, backend="jax")
    assert "op_from_graph" in {v.owner.op.name for v in f.graph.variables if v.owner}
    rng = np.random.default_rng(0)
    xv, Wv = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    G = 1 - np.tanh(xv @ Wv) ** 2  # the closed form of the gradient of sum(tanh(x W))
    got = f(xv, Wv)
    np.testing.assert_allclose(got[0], np.tanh(xv @ Wv).sum(), rtol=1e-14)
    np.testing.assert_allclose(got[1], G @ Wv.T, rtol=1e-13)
    np.testing.assert_allclose(got[2], xv.T @ G, rtol=1e-13)


def test_a_boolean_mask_is_refused_saying_why():
    x = gc.Variable("x", (5,))
    with pytest.raises(ArgumentError, match=r"cannot run the op\(s\) \['boolean_mask'\].*XLA needs every shape"):
        gc.compile(x[x > 0].sum(), backend="jax")


# -- Parameters and updates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_training_loop_gives_the_numpy_backends_parameters_after_ten_steps(optimizer):
    runs = {}
    for backend in ("numpy", "jax"):
        J, X, y, W1, W2, (Xv, yv), _ = _mlp(B=16)
        if optimizer == "sgd":
            updates = gc.optim.sgd(J, [W1, W2], lr=0.1, momentum=0.9)
        else:
            updates = gc.optim.adam(J, [W1, W2], lr=0.01)
        step = gc.compile(J, [X, y], updates=updates, backend=backend)
        losses = [float(step(Xv, yv)) for _ in range(10)]
        runs[backend] = losses, W1.get_value(), W2.get_value()
    (l_np, a_np, b_np), (l_jx, a_jx, b_jx) = runs["numpy"], runs["jax"]
    assert type(a_jx) is np.ndarray and a_jx.flags.writeable
    np.testing.assert_allclose(l_jx, l_np, rtol=1e-12)
    np.testing.assert_allclose(a_jx, a_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b_jx, b_np, rtol=1e-12, atol=1e-14)
    assert l_np[-1] < l_np[0]  # it trained


def test_parameters_stay_on_the_device_between_calls(monkeypatch):
    J, X, y, W1, W2, (Xv, yv), (W1v, _) = _mlp()
    step = gc.compile(J, [X, y], updates=gc.optim.sgd(J, [W1, W2], lr=0.1), backend="jax")
    step(Xv, yv)
    puts = []
    real = jax.device_put
    monkeypatch.setattr(jax, "device_put", lambda *a, **k: puts.append(a) or real(*a, **k))
    before = W1.device_value()
    step(Xv, yv)
    step(Xv, yv)
    assert puts == []  # no Parameter went back through the host
    assert isinstance(W1.device_value(), jax.Array) and W1.device_value() is not before
    assert before.is_deleted()  # its buffer was donated to the update


def test_a_function_that_only_reads_a_parameter_does_not_donate_it():
    J, X, y, W1, W2, (Xv, yv), _ = _mlp()
    step = gc.compile(J, [X, y], updates=gc.optim.sgd(J, [W1], lr=0.1), backend="jax")
    step(Xv, yv)
    w2 = W2.device_value()
    step(Xv, yv)
    assert w2 is not None and not w2.is_deleted() and W2.device_value() is w2


def test_set_value_between_calls_is_what_the_next_call_reads():
    w = gc.Parameter(np.array([1.0, 2.0]), "w")
    step = gc.compile(w.sum(), [], updates={w: w * 2.0}, backend="jax")
    assert float(step()) == 3.0 and w.get_value().tolist() == [2.0, 4.0]
    held = w.value  # a NumPy copy the user keeps
    w.set_value([10.0, 20.0])
    assert float(step()) == 30.0 and w.get_value().tolist() == [20.0, 40.0]
    assert float(step()) == 60.0
    assert held.tolist() == [2.0, 4.0]  # donation never wrote into a NumPy array


def test_donation_never_writes_into_the_numpy_value_a_user_holds():
    w = gc.Parameter(np.arange(4096.0), "w")  # large enough for JAX to consider sharing host memory
    step = gc.compile(w.sum(), [], updates={w: w + 1.0}, backend="jax")
    for _ in range(2):
        held = w.value  # the NumPy value the next step starts from
        before = held.copy()
        step()
        np.testing.assert_array_equal(held, before)
        np.testing.assert_array_equal(w.get_value(), before + 1.0)
        w.set_value(w.get_value())  # back to a NumPy value: the next step places it again


def test_numpy_and_jax_functions_share_parameters():
    w = gc.Parameter(np.array([1.0, 2.0]), "w")
    jx = gc.compile(w.sum(), [], updates={w: w + 1.0}, backend="jax")
    npy = gc.compile(w.sum(), [], updates={w: w * 10.0})
    assert float(jx()) == 3.0  # w = [2, 3] on the device
    assert float(npy()) == 5.0  # read back from the device; w = [20, 30] in NumPy
    assert float(jx()) == 50.0 and w.get_value().tolist() == [21.0, 31.0]


def test_the_update_of_an_int_step_counter_keeps_its_dtype():
    k = gc.Parameter(np.int64(0), "k")
    w = gc.Parameter(np.array([1.0]), "w")
    step = gc.compile(w.sum(), [], updates={k: k + 1, w: w * 0.5}, backend="jax")
    for _ in range(3):
        step()
    assert k.get_value().dtype == np.int64 and int(k.get_value()) == 3 and w.get_value().tolist() == [0.125]


# -- inputs and errors -------------------------------------------------------------------------------------------


def test_input_checks_run_before_jax_sees_the_values():
    J, X, y, W1, W2, (Xv, yv), _ = _mlp()
    f = gc.compile(J, [X, y], backend="jax")
    g = gc.compile(J, [X, y])
    for bad in [(Xv[:, :3], yv), (Xv, yv.astype(np.float64))]:
        with pytest.raises(Exception) as numpy_error:
            g(*bad)
        with pytest.raises(type(numpy_error.value)) as jax_error:
            f(*bad)
        assert str(jax_error.value) == str(numpy_error.value)


def test_an_out_of_range_label_is_graphcomps_error_and_changes_no_parameter():
    J, X, y, W1, W2, (Xv, yv), (W1v, W2v) = _mlp()
    step = gc.compile(J, [X, y], updates=gc.optim.sgd(J, [W1, W2], lr=0.1), backend="jax")
    reference = gc.compile(J, [X, y])
    step(Xv, yv)
    w1, w2 = W1.get_value(), W2.get_value()
    bad = yv.copy()
    bad[2] = 3  # 3 classes: labels are 0 .. 2
    with pytest.raises(EvaluationError) as numpy_error:
        reference(Xv, bad)
    with pytest.raises(EvaluationError) as jax_error:
        step(Xv, bad)
    assert str(jax_error.value) == str(numpy_error.value)
    assert "cross_entropy" in str(jax_error.value) and "label 3 is out of range for 3 classes" in str(jax_error.value)
    np.testing.assert_array_equal(W1.get_value(), w1)
    np.testing.assert_array_equal(W2.get_value(), w2)
    bad[2] = -1  # NumPy would wrap it, JAX clamp it: graphcomp refuses it
    with pytest.raises(EvaluationError, match="label -1 is out of range"):
        step(Xv, bad)
    step(Xv, yv)  # a good batch still steps
    assert not np.array_equal(W1.get_value(), w1)


def test_an_out_of_range_fancy_index_names_the_node():
    x, i = gc.Variable("x", (5, 3)), gc.Variable("i", (None,), "int64")
    out = x[i].sum()
    f = gc.compile([out, gc.grad(out, x)], backend="jax")
    xv = np.arange(15.0).reshape(5, 3)
    got = f(xv, np.array([4, -5, 0]))
    np.testing.assert_allclose(got[0], xv[[4, -5, 0]].sum())
    with pytest.raises(EvaluationError, match=r"getitem\[\[\]\] failed .*index 5 is out of bounds"):
        f(xv, np.array([1, 5]))


def test_an_int_index_out_of_range_for_an_unknown_size_names_the_node():
    x = gc.Variable("x", (None,))
    f = gc.compile(x[3] * 2.0, backend="jax")
    assert float(f(np.arange(5.0))) == 6.0
    with pytest.raises(EvaluationError, match=r"getitem\[3\] failed .*index 3 is out of bounds.*built at"):
        f(np.arange(2.0))


def test_a_failure_while_tracing_names_the_node():
    x = gc.Variable("x", (None, 3))
    f = gc.compile(gc.squeeze(gc.exp(x), 0), backend="jax")
    assert f(np.zeros((1, 3))).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(EvaluationError, match=r"squeeze\[axes=\(0,\)\] failed on inputs .*\(2, 3\).*built at"):
        f(np.zeros((2, 3)))


def test_device_arrays_are_taken_as_they_are():
    x = gc.Variable("x", (None,))
    f = gc.compile(gc.sin(x).sum(), backend="jax")
    with jax.enable_x64(True):
        xd = jax.device_put(np.array([0.5, 1.5]))
    assert np.isclose(float(f(xd)), np.sin([0.5, 1.5]).sum(), rtol=1e-15)
    assert np.isclose(float(f(jax.numpy.ones(2, np.float32))), 2 * np.sin(1.0))  # cast as any float32 value
    with pytest.raises(InputError, match="shape"):
        f(jax.numpy.ones((2, 2), np.float32))  # checked as any value


def test_check_finite_names_the_first_non_finite_node():
    x = gc.Variable("x", (2,))
    f = gc.compile(gc.log(x) * 2.0, backend="jax", check_finite=True)
    np.testing.assert_allclose(f(np.array([1.0, np.e])), [0.0, 2.0])
    with pytest.raises(gc.NonFiniteError, match="log"):
        f(np.array([1.0, -1.0]))


def test_shard_needs_the_jax_backend_and_inputs_with_a_batch_axis():
    x, s = gc.Variable("x", (None, 2)), gc.Variable("s")
    with pytest.raises(ArgumentError, match="backend 'numpy' does not run on"):
        gc.compile(x.sum(), shard={x: "batch"})
    with pytest.raises(ArgumentError, match="not an input"):
        gc.compile(x.sum(), backend="jax", shard={gc.Variable("z", (2,)): "batch"})
    with pytest.raises(ArgumentError, match='"batch"'):
        gc.compile(x.sum(), backend="jax", shard={x: "model"})
    with pytest.raises(ShapeError, match="0-d"):
        gc.compile(x.sum() * s, backend="jax", shard={s: "batch"})
    assert issubclass(InputError, ValueError)


# -- data parallelism --------------------------------------------------------------------------------------------

_DATA_PARALLEL = """
import jax, numpy as np, graphcomp as gc
from graphcomp.errors import ShapeError
assert len(jax.devices()) == 4, jax.devices()
rng = np.random.default_rng(0)
B, d, h, q = 16, 6, 8, 3
Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
W1v, W2v = rng.standard_normal((d, h)) * 0.5, rng.standard_normal((h, q)) * 0.5
results = {}
for name, backend, shard in [("numpy", "numpy", False), ("one", "jax", False), ("four", "jax", True)]:
    X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
    W1, W2 = gc.Parameter(W1v, "W1"), gc.Parameter(W2v, "W2")
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + 1e-2 / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    kw = {"shard": {X: "batch", y: "batch"}} if shard else {}
    step = gc.compile(J, [X, y], updates=gc.optim.adam(J, [W1, W2], lr=0.05), backend=backend, **kw)
    losses = [float(step(Xv, yv)) for _ in range(5)]
    results[name] = losses, W1.get_value(), W2.get_value()
    if shard:
        assert len(W1.device_value().sharding.device_set) == 4  # replicated over the four devices
        with jax.enable_x64(True):
            params = [p.device_value() for p in step._device.params]
            text = step._device.jitted.lower(Xv, yv, *params).compile().as_text()
        assert "all-reduce" in text  # XLA combines the four devices' gradients
        try:
            step(Xv[:10], yv[:10])
        except ShapeError as e:
            print("ERROR", e)
for name in ("one", "four"):
    for got, want in zip(results[name], results["numpy"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
# an input already on one of the devices is moved where the function needs it
cost = gc.compile(J, [X, y], backend="jax", shard={X: "batch", y: "batch"})
with jax.enable_x64(True):
    on_device_3 = jax.device_put(Xv, jax.devices()[3])
np.testing.assert_allclose(cost(on_device_3, yv), cost(Xv, yv), rtol=1e-15)
print("OK")
"""


def test_data_parallel_steps_over_four_devices_give_the_single_device_result():
    out = _in_fresh_python(_DATA_PARALLEL, devices=4)
    assert out.strip().endswith("OK"), out
    (error,) = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert "'X'" in error and "batch size 10" in error and "4 devices" in error


# -- loops and random draws ---------------------------------------------------------------------------------------


def _rnn(T=None):
    W, h0, xs = gc.Variable("W", (3, 3)), gc.Variable("h0", (3,)), gc.Variable("xs", (T, 3))
    hT, ys = gc.scan(lambda h, x: (gc.tanh(W @ h + x), gc.sin(h).sum()), h0, xs)
    return (hT * hT).sum() + ys.sum(), [h0, xs, W]


@pytest.mark.parametrize("T", [None, 4])
def test_a_loop_runs_as_lax_scan_with_the_numpy_backends_values_and_gradients(T):
    cost, ins = _rnn(T)
    outs = [cost, *gc.grad(cost, ins)]
    f = gc.compile(outs, ins, backend="jax")
    assert "the function it runs" in f.source and "for _step" not in f.source  # the body's JAX code, no for
    rng = np.random.default_rng(0)
    for steps in (0, 1, 5) if T is None else (4,):
        feed = [rng.standard_normal(3), rng.standard_normal((steps, 3)), rng.standard_normal((3, 3)) * 0.5]
        for got, want in zip(f(*feed), gc.compile(outs, ins)(*feed)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_nested_loops_reversed_loops_and_the_step_number():
    xs, w = gc.Variable("xs", (None, 3)), gc.Variable("w", (3,))

    def row(c, x):
        inner, ys = gc.scan(lambda a, xi: (a * 0.5 + xi * w.sum(), a), c, x, reverse=True)
        return inner, ys

    c, ys = gc.scan(row, 1.0, xs)
    d = gc.fori_loop(0, 4, lambda i, acc: acc * gc.sin(w).sum() + i.astype("float64"), c)
    outs = [c, ys, d, *gc.grad(d + ys.sum(), [xs, w])]
    feed = [np.random.default_rng(1).standard_normal((3, 3)), np.array([0.3, -0.2, 0.5])]
    got = gc.compile(outs, [xs, w], backend="jax")(*feed)
    for g, want in zip(got, gc.evaluate(outs, dict(zip([xs, w], feed)))):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-13)


def test_an_index_out_of_range_inside_a_loop_body_names_the_step_and_the_node():
    xs, w = gc.Variable("xs", (None,), "int64"), gc.Variable("w", (3,))
    c, _ = gc.scan(lambda c, i: (c + w[i] * 2.0, None), 0.0, xs)
    f = gc.compile(c, [xs, w], backend="jax")
    assert float(f(np.array([0, 2]), np.ones(3))) == 4.0
    with pytest.raises(EvaluationError, match=r"at step t=2.*getitem.*index 5 is out of bounds"):
        f(np.array([0, 1, 5, 0]), np.ones(3))


def test_dropout_training_draws_the_numpy_backends_numbers_step_after_step():
    runs = {}
    for backend in ("numpy", "jax"):
        J, X, y, W1, W2, (Xv, yv), _ = _mlp(B=16)
        gen = gc.random.Generator(3)
        X2, y2 = gc.Variable("X", (None, 5)), gc.Variable("y", (None,), "int64")
        h = gc.nn.dropout(gc.relu(X2 @ W1), 0.5, gen)
        J = gc.nn.cross_entropy(h @ W2, y2)
        step = gc.compile(J, [X2, y2], updates=gc.optim.sgd(J, [W1, W2], lr=0.1), backend=backend)
        losses = [float(step(Xv, yv)) for _ in range(4)]
        runs[backend] = losses, W1.get_value(), W2.get_value()
    for got, want in zip(runs["jax"], runs["numpy"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert len(set(runs["jax"][0])) == 4  # each step its own mask
