"""The losses of gc.nn compare their two arguments' shapes when the graph runs where
unknown dimensions left them open (user report 1, item 3): a (1, 2) target against a
(3, 2) prediction is an error naming the loss and both shapes, never a broadcast. And
Python lists next to a float32 prediction stay float32 (item 9). Oracles: PyTorch's
losses (which warn and broadcast, the behaviour refused here; and the values for equal
shapes), closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc

#: gc.nn's losses of two same-shaped arguments (cross_entropy pairs rows with labels:
#: tests/training/test_cross_entropy_rows.py)
LOSSES = {"mse": gc.nn.mse, "binary_cross_entropy_with_logits": gc.nn.binary_cross_entropy_with_logits}


def _bce(z, y):
    return np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))


CLOSED = {"mse": lambda p, q: np.mean((p - q) ** 2), "binary_cross_entropy_with_logits": _bce}


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize(
    "p_shape, q_shape",
    [((3, 2), (1, 2)), ((1, 2), (3, 2)), ((3, 2), (3, 1)), ((4,), (1,)), ((2, 3), (2, 1))],
)
def test_shapes_that_differ_at_run_time_are_an_error_naming_the_loss_and_both_shapes(name, p_shape, q_shape):
    loss = LOSSES[name]
    p = gc.Variable("p", (None,) * len(p_shape))
    q = gc.Variable("q", (None,) * len(q_shape))
    out = loss(p, q)
    pv, qv = np.zeros(p_shape), np.ones(q_shape)
    for how, run in {
        "evaluate": lambda: gc.evaluate(out, {p: pv, q: qv}),
        "compile": lambda: gc.compile(out, [p, q])(pv, qv),
        "gradient": lambda: gc.evaluate(gc.grad(out, p), {p: pv, q: qv}),
    }.items():
        with pytest.raises(ValueError) as caught:
            run()
        text = str(caught.value)
        assert isinstance(caught.value, gc.EvaluationError), how
        assert name in text and str(p_shape) in text and str(q_shape) in text, (how, text)
        assert "test_loss_shapes.py" in text, (how, text)


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy_with_logits"])
def test_equal_run_time_shapes_give_the_closed_form(name):
    rng = np.random.default_rng(0)
    p, q = gc.Variable("p", (None, 2)), gc.Variable("q", (None, 2))
    out = LOSSES[name](p, q)
    pv, qv = rng.standard_normal((3, 2)), rng.uniform(0, 1, (3, 2))
    want = CLOSED[name](pv, qv)
    assert np.isclose(float(gc.evaluate(out, {p: pv, q: qv})), want, rtol=1e-14)
    assert np.isclose(float(gc.compile(out, [p, q])(pv, qv)), want, rtol=1e-14)


def test_pytorch_would_broadcast_the_mismatch_that_graphcomp_refuses():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    with pytest.warns(UserWarning, match="broadcast"):
        got = F.mse_loss(torch.ones(3, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
    assert got.item() == 1.0  # the silently broadcast value the user report found


def test_an_array_target_against_unknown_rows_is_checked_at_run_time():
    p = gc.Variable("p", (None, 2))
    out = gc.nn.mse(p, [[0.0, 1.0]])
    assert float(gc.evaluate(out, {p: [[0.0, 3.0]]})) == 2.0
    with pytest.raises(ValueError, match=r"mse.*\(1, 2\).*\(3, 2\)"):
        gc.evaluate(out, {p: np.zeros((3, 2))})


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy_with_logits"])
def test_a_python_list_next_to_a_float32_prediction_keeps_it_float32(name):
    p = gc.Variable("p", (2,), "float32")
    out = LOSSES[name](p, [0.0, 1.0])
    assert out.dtype == np.float32
    pv = np.array([0.25, -0.5], np.float32)
    got = gc.evaluate(out, {p: pv})
    assert got.dtype == np.float32
    assert np.isclose(float(got), CLOSED[name](pv.astype(np.float64), np.array([0.0, 1.0])), rtol=1e-6)
    # a NumPy array keeps its dtype, as in NumPy: float64 promotes
    assert LOSSES[name](p, np.array([0.0, 1.0])).dtype == np.float64


def test_mse_takes_the_list_on_either_side():
    t = gc.Variable("t", (2,), "float32")
    assert gc.nn.mse([0.5, 1.0], t).dtype == np.float32
    assert float(gc.evaluate(gc.nn.mse([0.5, 1.0], t), {t: np.array([0.0, 0.0], np.float32)})) == 0.625
