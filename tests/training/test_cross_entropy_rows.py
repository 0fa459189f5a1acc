"""cross_entropy pairs each row of logits with one label: a label count that differs
from the row count is an error, at build time when both are known and at run time
otherwise, in every op of the family (the loss, its gradient with respect to the
log_softmax node, and the closed form the compiled gradient uses), so evaluate and
compile agree (user report 1, item 1). Oracles: PyTorch's F.cross_entropy where
installed (it raises ValueError for the mismatch, and gives the values for matching
counts), the closed form (softmax - one_hot) / batch always."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.softmax import CrossEntropyGrad, CrossEntropyPickGrad, LogSoftmaxGrad

LOGITS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0], [4.0, 0.0, 0.0]])


def _model():
    L, y = gc.Variable("L", (None, 3)), gc.Variable("y", (None,), "int64")
    ce = gc.nn.cross_entropy(L, y)  # the line the errors must name
    return L, y, ce, gc.grad(ce, L)


def _runs(L, y, outputs):
    """The ways to run ``outputs``: interpreted and compiled, the loss with its gradient or alone."""
    outs = outputs if isinstance(outputs, list) else [outputs]
    return {
        "evaluate": lambda lv, yv: gc.evaluate(outs, {L: lv, y: yv}),
        "compile": lambda lv, yv: gc.compile(outs, [L, y])(lv, yv),
        "compile, no passes": lambda lv, yv: gc.compile(outs, [L, y], passes=[])(lv, yv),
    }


@pytest.mark.parametrize("labels", [[0, 1], [0, 1, 2, 1], [2], []], ids=["fewer", "more", "one", "none"])
@pytest.mark.parametrize("which", ["loss and gradient", "gradient", "loss"])
def test_a_label_count_other_than_the_row_count_is_a_value_error_naming_both_shapes(labels, which):
    L, y, ce, g = _model()
    outputs = {"loss and gradient": [ce, g], "gradient": g, "loss": ce}[which]
    yv = np.array(labels, dtype=np.int64)
    for how, run in _runs(L, y, outputs).items():
        with pytest.raises(ValueError) as caught:
            run(LOGITS, yv)
        text = str(caught.value)
        assert isinstance(caught.value, gc.EvaluationError), how
        assert "cross_entropy" in text and "(3, 3)" in text and f"({len(labels)},)" in text, (how, text)
        assert "test_cross_entropy_rows.py" in text, (how, text)  # the line that built the loss


def test_pytorch_refuses_the_same_mismatch_and_agrees_where_the_counts_match():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(torch.tensor(LOGITS), torch.tensor([0, 1]))
    L, y, ce, g = _model()
    yv = np.array([0, 2, 1])
    t = torch.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(t, torch.tensor(yv))
    loss.backward()
    for run in _runs(L, y, [ce, g]).values():
        value, grad = run(LOGITS, yv)
        assert np.isclose(float(value), loss.item(), rtol=1e-14)
        assert np.allclose(grad, t.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_matching_counts_give_the_closed_form_in_every_run():
    L, y, ce, g = _model()
    yv = np.array([0, 2, 1])
    e = np.exp(LOGITS - LOGITS.max(1, keepdims=True))
    softmax = e / e.sum(1, keepdims=True)
    want_loss = -np.mean(np.log(softmax[np.arange(3), yv]))
    want_grad = (softmax - np.eye(3)[yv]) / 3
    for run in _runs(L, y, [ce, g]).values():
        value, grad = run(LOGITS, yv)
        assert np.isclose(float(value), want_loss, rtol=1e-14) and np.allclose(grad, want_grad, rtol=1e-13)


def test_the_mismatch_is_refused_when_built_if_both_counts_are_known():
    with pytest.raises(gc.ShapeError, match=r"\(3, 3\) logits need one label per row.*\(2,\).*test_cross_entropy_rows"):
        gc.nn.cross_entropy(gc.Variable("L", (3, 3)), gc.Variable("y", (2,), "int64"))


@pytest.mark.parametrize(
    "build",
    [
        lambda lsm, y: CrossEntropyPickGrad()(lsm, y),
        lambda lsm, y: CrossEntropyGrad()(lsm, y),
    ],
    ids=["cross_entropy_pick_grad", "cross_entropy_grad"],
)
def test_each_op_of_the_family_checks_the_pairing_itself(build):
    z, y = gc.Variable("z", (None, 3)), gc.Variable("y", (None,), "int64")
    out = build(gc.log_softmax(z), y)
    with pytest.raises(ValueError, match=r"3 row\(s\) of logits .* 2 label\(s\)"):
        gc.evaluate(out, {z: LOGITS, y: np.array([0, 1])})


def test_log_softmax_grad_refuses_a_gradient_of_another_batch_instead_of_broadcasting_it():
    z, G = gc.Variable("z", (None, 3)), gc.Variable("G", (None, 3))
    out = LogSoftmaxGrad(1)(gc.log_softmax(z), G)
    with pytest.raises(ValueError, match=r"log_softmax_grad: the gradient has shape \(1, 3\).*\(3, 3\)"):
        gc.evaluate(out, {z: LOGITS, G: np.ones((1, 3))})
    Gv = np.arange(9.0).reshape(3, 3)
    s = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
    assert np.allclose(gc.evaluate(out, {z: LOGITS, G: Gv}), Gv - s * Gv.sum(1, keepdims=True))
