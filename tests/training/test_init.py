"""gc.nn.init: the draws are exactly NumPy's with the closed-form bound / std, the fans and
gains are PyTorch's, and PyTorch's own draws have the same spread."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphcomp as gc

I = gc.nn.init  # noqa: E741

# (function, kwargs, shape, the closed-form scale, "uniform" bound or "normal" std)
CASES = [
    (I.xavier_uniform, {}, (30, 50), math.sqrt(6 / 80), "uniform"),
    (I.xavier_uniform, {"gain": 5 / 3}, (8, 3, 5, 5), 5 / 3 * math.sqrt(6 / (75 + 200)), "uniform"),
    (I.xavier_normal, {}, (30, 50), math.sqrt(2 / 80), "normal"),
    (I.kaiming_uniform, {}, (30, 50), math.sqrt(2) * math.sqrt(3 / 30), "uniform"),
    (
        I.kaiming_uniform,
        {"a": 0.2, "mode": "fan_out"},
        (8, 3, 5, 5),
        math.sqrt(2 / 1.04) * math.sqrt(3 / 200),
        "uniform",
    ),
    (I.kaiming_normal, {}, (8, 3, 5, 5), math.sqrt(2 / 75), "normal"),
    (I.kaiming_normal, {"nonlinearity": "tanh", "mode": "fan_out"}, (30, 50), 5 / 3 / math.sqrt(50), "normal"),
    (I.kaiming_uniform, {"in_axis": 1, "out_axis": 0}, (50, 30), math.sqrt(2) * math.sqrt(3 / 30), "uniform"),
]


@pytest.mark.parametrize("fn,kw,shape,scale,kind", CASES)
def test_each_draw_is_numpys_with_the_closed_form_scale(fn, kw, shape, scale, kind):
    got = fn(shape, **kw, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    want = rng.uniform(-scale, scale, shape) if kind == "uniform" else rng.normal(0.0, scale, shape)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)  # the scale's last bit, near 0
    assert got.shape == shape and got.dtype == np.float64
    np.testing.assert_array_equal(fn(shape, **kw, rng=11), fn(shape, **kw, rng=np.random.default_rng(11)))
    small = fn(shape, **kw, rng=3, dtype="float32")
    assert small.dtype == np.float32 and np.allclose(small, want, rtol=1e-6)


@pytest.mark.parametrize("fn,kw,shape,scale,kind", CASES[:3])
def test_a_graphcomp_generator_draws_its_documented_stream_and_advances(fn, kw, shape, scale, kind):
    rng = gc.random.Generator(21)
    first, second = fn(shape, **kw, rng=rng), fn(shape, **kw, rng=rng, dtype="float32")
    key = np.random.SeedSequence(21).generate_state(2, np.uint64)
    for k, got in enumerate((first, second)):
        # draw k of the generator, at state k: Philox keyed by the seed, counter [0, 0, k, k]
        np_rng = np.random.Generator(np.random.Philox(key=key, counter=np.array([0, 0, k, k], np.uint64)))
        want = np_rng.uniform(-scale, scale, shape) if kind == "uniform" else np_rng.normal(0.0, scale, shape)
        np.testing.assert_allclose(got, want, rtol=1e-6 if k else 1e-14, atol=1e-15)
    assert first.dtype == np.float64 and second.dtype == np.float32 and int(rng.state.value) == 2


def test_fans_and_gains_are_pytorchs():
    torch = pytest.importorskip("torch")
    fans = torch.nn.init._calculate_fan_in_and_fan_out
    # a (in, out) matrix for x @ W is torch's (out, in) Linear weight transposed
    assert I.fan_in_and_fan_out((784, 512)) == fans(torch.empty(512, 784))
    assert I.fan_in_and_fan_out((512, 784), in_axis=1, out_axis=0) == fans(torch.empty(512, 784))
    for shape in [(8, 3, 5, 5), (4, 2, 7), (6, 2, 3, 3, 3)]:
        assert I.fan_in_and_fan_out(shape) == fans(torch.empty(shape))
    for name, param in [
        ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("selu", None),
        ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0),
    ]:  # fmt: skip
        assert I.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)


@pytest.mark.parametrize("fn,kw,shape,scale,kind", CASES[:7])
def test_pytorchs_draws_have_the_same_spread(fn, kw, shape, scale, kind):
    """torch's initialiser on the same weight (transposed for a matrix): a uniform's max
    reaches the bound, a normal's std is ours within sampling error."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = {
        I.xavier_uniform: torch.nn.init.xavier_uniform_,
        I.xavier_normal: torch.nn.init.xavier_normal_,
        I.kaiming_uniform: torch.nn.init.kaiming_uniform_,
        I.kaiming_normal: torch.nn.init.kaiming_normal_,
    }[fn]
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    draws = np.concatenate(
        [theirs(torch.empty(torch_shape, dtype=torch.float64), **kw).numpy().ravel() for _ in range(40)]
    )
    if kind == "uniform":
        assert scale * 0.999 < np.abs(draws).max() <= scale
    else:
        assert abs(draws.std() / scale - 1) < 5 / math.sqrt(draws.size)


def test_bad_arguments_are_refused():
    with pytest.raises(gc.ShapeError, match="at least 2 dimensions"):
        I.xavier_uniform((5,))
    with pytest.raises(gc.ArgumentError, match="mode must be 'fan_in' or 'fan_out'"):
        I.kaiming_normal((3, 4), mode="fan_avg")
    with pytest.raises(gc.ArgumentError, match="unknown nonlinearity 'swish'"):
        I.kaiming_normal((3, 4), nonlinearity="swish")
    with pytest.raises(gc.ArgumentError, match="negative_slope"):
        I.calculate_gain("leaky_relu", "steep")
    with pytest.raises(gc.ArgumentError, match="rng must be a numpy Generator"):
        I.xavier_normal((3, 4), rng=np.random.RandomState(0))
    with pytest.raises(gc.ArgumentError, match="dtype must be a float dtype"):
        I.xavier_normal((3, 4), dtype="int64")
    with pytest.raises(gc.ArgumentError, match="in_axis and out_axis are the same"):
        I.fan_in_and_fan_out((3, 4), in_axis=0, out_axis=-2)
    with pytest.raises(gc.ArgumentError, match="out_axis 5 is not an axis"):
        I.fan_in_and_fan_out((3, 4), out_axis=5)
    assert I.glorot_uniform is I.xavier_uniform and I.he_normal is I.kaiming_normal
