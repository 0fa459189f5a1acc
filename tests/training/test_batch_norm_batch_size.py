"""Training-mode batch norm needs more than one value per feature (user report 1, item 2):
a batch known only at run time to hold one example (or none) is an error when the graph
runs, as PyTorch's "Expected more than 1 value per channel when training", and never
writes a NaN into RunningStats. Oracles: PyTorch's BatchNorm (where installed) for the
error and for the running statistics; the closed form of the running update always."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc

MOMENTUM = 0.1


def _training_step(features=4, axis=0, shape=None):
    x = gc.Variable("x", shape or (None, features))
    stats = gc.nn.RunningStats((features,))
    y = gc.nn.batch_norm(x, None, None, axis=axis, running=stats)
    return x, stats, y


def _runs(x, stats, y):
    step = gc.compile(y, [x], updates=stats.updates)
    return {"compile": step, "evaluate with updates": lambda v: _evaluate_and_update(x, stats, y, v)}


def _evaluate_and_update(x, stats, y, v):
    params = list(stats.updates)
    out = gc.evaluate([y, *stats.updates.values()], {x: v})
    for p, new in zip(params, out[1:]):
        p.set_value(new)
    return out[0]


@pytest.mark.parametrize("batch", [1, 0])
def test_a_run_time_batch_of_one_or_none_is_an_error_and_the_statistics_stay_as_they_were(batch):
    x, stats, y = _training_step()
    for how, run in _runs(x, stats, y).items():
        with pytest.raises(ValueError, match=r"batch_norm: training-mode statistics.*at least 2 values") as caught:
            run(np.arange(4.0 * batch).reshape(batch, 4))
        assert isinstance(caught.value, gc.EvaluationError), how
        assert "test_batch_norm_batch_size.py" in str(caught.value)  # the line that built the batch norm
        assert np.array_equal(stats.mean.value, np.zeros(4)) and np.array_equal(stats.var.value, np.ones(4)), how


def test_without_running_statistics_a_batch_of_one_is_refused_too_as_pytorch_does():
    x = gc.Variable("x", (None, 3))
    y = gc.nn.batch_norm(x, None, None)
    for run in (lambda v: gc.evaluate(y, {x: v}), gc.compile(y, [x])):
        with pytest.raises(ValueError, match="at least 2 values"):
            run(np.ones((1, 3)))
    with pytest.raises(gc.ArgumentError, match=r"1 value per feature .* \(1, 3\)"):
        gc.nn.batch_norm(gc.Variable("x1", (1, 3)), None, None)


def test_pytorch_refuses_the_same_batches():
    torch = pytest.importorskip("torch")
    bn = torch.nn.BatchNorm1d(4, momentum=MOMENTUM).double().train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn(torch.ones(1, 4, dtype=torch.float64))
    bn2d = torch.nn.BatchNorm2d(2).double().train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn2d(torch.ones(1, 2, 1, 1, dtype=torch.float64))
    bn2d(torch.randn(1, 2, 2, 2, dtype=torch.float64))  # one image of 4 pixels: 4 values per channel


def test_values_per_feature_count_every_reduced_axis_as_pytorch_batchnorm2d():
    """One NCHW image of 2x2 pixels has 4 values per channel: allowed (one 1x1 image is not)."""
    x, stats, y = _training_step(features=2, axis=(0, 2, 3), shape=(None, 2, None, None))
    step = gc.compile(y, [x], updates=stats.updates)
    with pytest.raises(ValueError, match=r"got 1 \(an input of shape \(1, 2, 1, 1\)\)"):
        step(np.ones((1, 2, 1, 1)))
    xv = np.random.default_rng(0).standard_normal((1, 2, 2, 2))
    step(xv)
    flat = xv.transpose(1, 0, 2, 3).reshape(2, -1)
    assert np.allclose(stats.mean.value, MOMENTUM * flat.mean(1), rtol=1e-14)
    assert np.allclose(stats.var.value, (1 - MOMENTUM) + MOMENTUM * flat.var(1, ddof=1), rtol=1e-14)


def test_a_good_batch_after_a_refused_one_updates_the_statistics_as_pytorch_does():
    x, stats, y = _training_step()
    step = gc.compile(y, [x], updates=stats.updates)
    rng = np.random.default_rng(1)
    good = [rng.standard_normal((5, 4)) * 3 + 1 for _ in range(3)]
    with pytest.raises(ValueError):
        step(np.ones((1, 4)))
    mean, var = np.zeros(4), np.ones(4)
    for b in good:
        step(b)
        mean = (1 - MOMENTUM) * mean + MOMENTUM * b.mean(0)
        var = (1 - MOMENTUM) * var + MOMENTUM * b.var(0, ddof=1)
    assert np.allclose(stats.mean.value, mean, rtol=1e-13) and np.allclose(stats.var.value, var, rtol=1e-13)
    torch = pytest.importorskip("torch")
    bn = torch.nn.BatchNorm1d(4, momentum=MOMENTUM, affine=False).double().train()
    for b in good:
        bn(torch.from_numpy(b))
    assert np.allclose(stats.mean.value, bn.running_mean.numpy(), rtol=1e-13)
    assert np.allclose(stats.var.value, bn.running_var.numpy(), rtol=1e-13)


def test_the_readme_recipe_with_drop_last_never_meets_a_batch_of_one():
    """1025 examples in batches of 64: the last batch holds one example. drop_last=True (the
    README's recipe with batch norm, as with PyTorch's DataLoader) skips it; without it, that
    step raises instead of leaving NaN in the inference model."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1025, 4))
    x, stats, y = _training_step()
    step = gc.compile(y, [x], updates=stats.updates)
    for (xb,) in gc.data.batches((X,), 64, seed=0, drop_last=True):
        step(xb)
    assert np.all(np.isfinite(stats.mean.value)) and np.all(np.isfinite(stats.var.value))
    predict = gc.compile(gc.nn.batch_norm(x, None, None, running=stats, training=False), [x])
    assert np.all(np.isfinite(predict(X)))
    last = list(gc.data.batches((X,), 64, shuffle=False))[-1][0]
    assert last.shape == (1, 4)
    kept = stats.var.value.copy()
    with pytest.raises(ValueError, match="at least 2 values"):
        step(last)
    assert np.array_equal(stats.var.value, kept)


def test_float32_running_statistics_of_a_float32_layer_stay_float32():
    x = gc.Variable("x", (None, 3), "float32")
    stats = gc.nn.RunningStats((3,), dtype="float32")
    y = gc.nn.batch_norm(x, [1.0, 2.0, 3.0], [0.0, 0.0, 1.0], running=stats)
    assert y.dtype == np.float32  # the lists of gamma and beta are literals of x's dtype
    step = gc.compile(y, [x], updates=stats.updates)
    xv = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    step(xv)
    assert stats.var.value.dtype == np.float32
    assert np.allclose(stats.var.value, 0.9 + 0.1 * xv.var(0, ddof=1), rtol=1e-6)
