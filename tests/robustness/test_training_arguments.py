"""Every function of the training toolkit (gc.nn, gc.nn.init, gc.optim and its schedules,
gc.data, gc.random) validates its plain arguments: a wrong one raises a graphcomp error
naming the function, never a bare NumPy or Python error, never a silent truncation
(user report 1, item 8: ``xavier_uniform(gain=-1)`` gave NumPy's "high - low < 0",
``xavier_uniform((2.5, 5))`` truncated to (2, 5), ``RunningStats(dtype="int64")`` was
taken, ``clip_grad_norm([])`` named ``stack``). Oracle: the rule itself; what a valid
argument computes is tested against PyTorch and closed forms in tests/training."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import graphcomp as gc

S = gc.optim.schedules
w = gc.Parameter(np.ones(3), "w")
cost = (w * w).sum()
x = gc.Variable("x", (None, 3))
rng = gc.random.Generator(0)

#: name -> (function, {required argument: a valid value}); every other parameter gets the junk in turn
FUNCTIONS = {
    "one_hot": (gc.nn.one_hot, {"labels": gc.Variable("y", (4,), "int64"), "num_classes": 3}),
    "mse": (gc.nn.mse, {"pred": x, "target": x}),
    "binary_cross_entropy_with_logits": (gc.nn.binary_cross_entropy_with_logits, {"logits": x, "target": x}),
    "batch_norm": (gc.nn.batch_norm, {"x": x, "gamma": None, "beta": None}),
    "layer_norm": (gc.nn.layer_norm, {"x": x, "gamma": None, "beta": None}),
    "RunningStats": (gc.nn.RunningStats, {"shape": (3,)}),
    "dropout": (gc.nn.dropout, {"x": x, "rate": 0.5, "rng": rng}),
    "calculate_gain": (gc.nn.init.calculate_gain, {"nonlinearity": "leaky_relu"}),
    "fan_in_and_fan_out": (gc.nn.init.fan_in_and_fan_out, {"shape": (3, 4)}),
    "xavier_uniform": (gc.nn.init.xavier_uniform, {"shape": (3, 4)}),
    "xavier_normal": (gc.nn.init.xavier_normal, {"shape": (3, 4)}),
    "kaiming_uniform": (gc.nn.init.kaiming_uniform, {"shape": (3, 4)}),
    "kaiming_normal": (gc.nn.init.kaiming_normal, {"shape": (3, 4)}),
    "sgd": (gc.optim.sgd, {"cost": cost, "params": [w], "lr": 0.1}),
    "adam": (gc.optim.adam, {"cost": cost, "params": [w]}),
    "adamw": (gc.optim.adamw, {"cost": cost, "params": [w]}),
    "rmsprop": (gc.optim.rmsprop, {"cost": cost, "params": [w]}),
    "step_counter": (gc.optim.step_counter, {}),
    "clip_grad_norm": (gc.optim.clip_grad_norm, {"grads": [w], "max_norm": 1.0}),
    "step_decay": (S.step_decay, {"step": 3, "base_lr": 0.1, "step_size": 2}),
    "cosine": (S.cosine, {"step": 3, "base_lr": 0.1, "total_steps": 10}),
    "linear_warmup": (S.linear_warmup, {"step": 3, "base_lr": 0.1, "warmup_steps": 10}),
    "join": (S.join, {"step": 3, "schedules": [lambda s: s * 0.0 + 1.0, lambda s: s * 0.0], "boundaries": [2]}),
    "batches": (gc.data.batches, {"arrays": (np.ones((4, 2)),), "batch_size": 2}),
    "Generator": (gc.random.Generator, {}),
    "Generator.normal": (rng.normal, {"shape": (2,)}),
    "Generator.uniform": (rng.uniform, {"shape": (2,)}),
    "Generator.bernoulli": (rng.bernoulli, {"shape": (2,), "p": 0.5}),
    "Generator.normal_like": (rng.normal_like, {"x": x}),
    "Generator.uniform_like": (rng.uniform_like, {"x": x}),
    "Generator.bernoulli_like": (rng.bernoulli_like, {"x": x, "p": 0.5}),
}

#: array arguments: a junk value there is refused by the conversion every op shares (gc.constant
#: names itself); a graphcomp error is enough
OPERANDS = {"x", "pred", "target", "logits", "labels", "gamma", "beta", "mean", "std", "low", "high", "p", "pos_weight"}

JUNK = [2.5, "ab", -3, [1.5], {}, object(), (0, 0, 0, 0, 0, 0), (0, 1), True, None, math.nan, math.inf, (2.5, 5)]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_wrong_plain_argument_is_a_graphcomp_error_naming_the_function(name):
    fn, valid = FUNCTIONS[name]
    fn(**valid)  # the valid call works
    who = name.split(".")[-1]
    params = inspect.signature(fn).parameters
    for arg in params:
        for junk in JUNK:
            kwargs = dict(valid)
            kwargs[arg] = junk
            try:
                fn(**kwargs)
            except gc.GraphError as e:
                assert who in str(e) or arg in OPERANDS, f"{name}({arg}={junk!r}): the message does not name {who}: {e}"
            except Exception as e:  # noqa: BLE001 - what this test looks for
                pytest.fail(f"{name}({arg}={junk!r}) raised a bare {type(e).__name__}: {e}")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: gc.nn.init.xavier_uniform((2, 5), gain=-1.0, rng=0),
            gc.ArgumentError,
            "xavier_uniform: gain must be >= 0",
        ),
        (lambda: gc.nn.init.xavier_uniform((2, 5), gain=math.nan, rng=0), gc.ArgumentError, "gain must be finite"),
        (lambda: gc.nn.init.xavier_uniform((2.5, 5), rng=0), gc.ArgumentError, r"shape must be a tuple of non-neg"),
        (lambda: gc.nn.init.xavier_normal((2, 5), rng=-1), gc.ArgumentError, "xavier_normal: rng as a seed"),
        (lambda: gc.nn.init.kaiming_normal((2, 5), in_axis=5, rng=0), gc.ArgumentError, "kaiming_normal: in_axis 5"),
        (lambda: gc.nn.RunningStats((4,), dtype="int64"), gc.DTypeError, "RunningStats: dtype must be a float dtype"),
        (lambda: gc.optim.clip_grad_norm([], 1.0), gc.ArgumentError, "clip_grad_norm: grads is empty"),
    ],
)
def test_the_reports_examples(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_gain_of_zero_and_a_valid_shape_give_what_pytorch_gives():
    assert np.array_equal(gc.nn.init.xavier_uniform((2, 5), gain=0.0, rng=0), np.zeros((2, 5)))
    torch = pytest.importorskip("torch")
    t = torch.empty(2, 5)
    torch.nn.init.xavier_uniform_(t, gain=0.0)
    assert bool((t == 0).all())
    with pytest.raises(RuntimeError):  # PyTorch refuses a negative gain as a bad range
        torch.nn.init.xavier_uniform_(torch.empty(2, 5), gain=-1.0)
