"""gc.nn.dropout: the kept fraction within binomial bounds, the exact scaling, the
gradient equal to the mask times the scale (and to finite differences with the mask
held), reproducible with a seed, new across calls and across draws in one call;
identity at inference; PyTorch's kept values where it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphcomp as gc

SIGMAS = 5.0


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_the_kept_fraction_is_within_binomial_bounds(rate):
    x = gc.Variable("x", (None, 500))
    y = gc.nn.dropout(x, rate, gc.random.Generator(1))
    v = gc.compile(y, [x])(np.ones((400, 500)))
    n, keep = v.size, 1 - rate
    kept = int(np.count_nonzero(v))
    assert abs(kept - n * keep) <= SIGMAS * math.sqrt(n * keep * (1 - keep))
    # and no row or column is special: each column's count within its own bounds
    per_col = np.count_nonzero(v, axis=0)
    assert np.all(np.abs(per_col - 400 * keep) <= SIGMAS * math.sqrt(400 * keep * (1 - keep)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kept_entries_are_scaled_exactly_and_the_dtype_stays(dtype):
    rate = 0.3
    x = gc.Variable("x", (None, 7), dtype)
    y = gc.nn.dropout(x, rate, gc.random.Generator(2))
    xv = np.random.default_rng(0).standard_normal((300, 7)).astype(dtype)
    v = gc.compile(y, [x])(xv)
    assert y.dtype == np.dtype(dtype) and v.dtype == np.dtype(dtype)
    kept = v != 0
    one, keep = np.ones((), dtype), np.asarray(1 - rate, dtype)
    np.testing.assert_array_equal(v[kept], xv[kept] * (one / keep))  # PyTorch's order: the mask divided first
    assert np.all(v[~kept] == 0)
    # the expectation is x: the inverted scaling's purpose (5 standard errors over the draws)
    rng = gc.random.Generator(3)
    ones = gc.Variable("ones", (20000,))
    mean = gc.evaluate(gc.nn.dropout(ones, rate, rng).mean(), {ones: np.ones(20000)})
    se = math.sqrt(rate / (1 - rate) / 20000)  # sd of one entry: sqrt(keep (1/keep - 1)^2 + rate) = sqrt(rate/keep)
    assert abs(float(mean) - 1.0) < SIGMAS * se


def test_the_gradient_is_the_mask_times_the_scale():
    rate = 0.4
    x = gc.Variable("x", (50, 8))
    y = gc.nn.dropout(x, rate, gc.random.Generator(4))
    R = np.random.default_rng(1).standard_normal((50, 8))
    cost = (y * R).sum()
    (g,) = gc.grad(cost, [x])
    xv = np.random.default_rng(2).uniform(0.5, 2.0, (50, 8))  # never zero: y == 0 marks a dropped entry
    yv, gv = gc.compile([y, g], [x])(xv)  # one call: the value and its gradient see the same mask
    mask = (yv != 0).astype(np.float64)
    np.testing.assert_array_equal(gv, R * (mask * (1.0 / (1 - rate))))
    # finite differences, the mask held fixed by freezing the generator
    d = np.random.default_rng(3).standard_normal((50, 8))
    f = gc.compile(cost, [x])
    with gc.random.frozen():
        g0 = gc.evaluate(g, {x: xv})
        h = 1e-6
        numeric = (f(xv + h * d) - f(xv - h * d)) / (2 * h)
    assert np.isclose(numeric, float(np.sum(g0 * d)), rtol=1e-7)


def test_reproducible_with_a_seed_and_new_across_calls_and_across_draws():
    def masks(seed):
        rng = gc.random.Generator(seed)
        x = gc.Variable("x", (None, 64))
        f = gc.compile([gc.nn.dropout(x, 0.5, rng), gc.nn.dropout(x, 0.5, rng)], [x])
        return [[a != 0 for a in f(np.ones((4, 64)))] for _ in range(3)]

    first, again, other = masks(10), masks(10), masks(11)
    for (a, b), (c, d) in zip(first, again):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    flat = [m.tobytes() for call in first for m in call]
    assert len(set(flat)) == len(flat)  # two draws in one call differ, and each call differs
    assert not any(np.array_equal(a, c) for (a, _), (c, _) in zip(first, other))


def test_identity_at_inference_or_rate_zero_and_zeros_at_rate_one():
    rng = gc.random.Generator(5)
    x = gc.Variable("x", (3,))
    assert gc.nn.dropout(x, 0.5, rng, training=False) is x
    assert gc.nn.dropout(x, 0.0, rng) is x
    assert gc.evaluate(gc.nn.dropout(x, 1.0, rng), {x: [1.0, -2.0, 3.0]}).tolist() == [0.0, 0.0, 0.0]
    assert int(rng.state.value) == 0  # none of these drew


def test_bad_arguments_are_refused():
    rng = gc.random.Generator(6)
    x = gc.Variable("x", (3,))
    for rate in (-0.1, 1.5, "0.5", True, None, float("nan")):
        with pytest.raises(gc.ArgumentError, match="rate"):
            gc.nn.dropout(x, rate, rng)
    with pytest.raises(gc.ArgumentError, match="gc.random.Generator"):
        gc.nn.dropout(x, 0.5, np.random.default_rng(0))
    with pytest.raises(gc.ArgumentError, match="training"):
        gc.nn.dropout(x, 0.5, rng, training="yes")
    with pytest.raises(gc.DTypeError, match="float"):
        gc.nn.dropout(gc.Variable("k", (3,), "int64"), 0.5, rng)


def test_unknown_dimensions_take_each_batch_size():
    rng = gc.random.Generator(7)
    x = gc.Variable("x", (None, None))
    f = gc.compile(gc.nn.dropout(x, 0.5, rng), [x])
    for shape in [(1, 3), (5, 2), (0, 4)]:
        assert f(np.ones(shape)).shape == shape


def test_kept_values_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    rate = 0.35
    xv = np.random.default_rng(8).standard_normal((200, 10)).astype(np.float32)
    ours = gc.compile(gc.nn.dropout(gc.Variable("x", (200, 10), "float32"), rate, gc.random.Generator(9)))(xv)
    torch.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.from_numpy(xv), p=rate, training=True).numpy()
    # different masks, the same arithmetic: each kept entry is the same float32 in both
    both = (ours != 0) & (theirs != 0)
    assert both.sum() > 700  # about 2000 * 0.65**2
    np.testing.assert_array_equal(ours[both], theirs[both])
